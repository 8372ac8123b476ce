// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// bigPodCreate is a v1.33 apiserver's RequestResponse pod create (key order
// as it writes it) whose request and response objects carry pad bytes of
// env values, and whose labels and annotations hold keys named like the
// event's own trailing members, to pose as them.
func bigPodCreate(pad int) []byte {
	obj := `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"big","namespace":"default",` +
		`"labels":{"stageTimestamp":"1999-01-01T00:00:00Z"},` +
		`"annotations":{"requestReceivedTimestamp":"1999-01-01T00:00:00Z","stageTimestamp":"1999-01-01T00:00:00Z","annotations":"x"}},` +
		`"spec":{"containers":[{"name":"c","image":"alpine","env":[{"name":"E","value":"` + strings.Repeat("a", pad) + `"}]}]}}`
	return []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"5d3b4a40-7b5c-4a53-9d8f-2f0c6e0d1a11",` +
		`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply","verb":"create",` +
		`"user":{"username":"alice@example.com","groups":["devs","system:authenticated"]},` +
		`"impersonatedUser":{"username":"system:serviceaccount:default:deployer"},"sourceIPs":["10.0.0.7","192.168.1.2"],` +
		`"userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"pods","namespace":"default","name":"big","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":201},"requestObject":` + obj + `,"responseObject":` + obj + `,` +
		`"requestReceivedTimestamp":"2026-11-22T21:11:11.505085Z","stageTimestamp":"2026-11-22T21:11:11.516622Z",` +
		`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed"}}`)
}

func members(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	return m
}

func TestSalvage(t *testing.T) {
	ev := bigPodCreate(4096)
	at := func(sub string) int { return bytes.Index(ev, []byte(sub)) }
	whole := members(t, ev)
	tests := []struct {
		name     string
		head     []byte
		tail     []byte
		want     []string // members equal to the event's
		absent   []string
		cut      string
		fromTail bool
		err      error
	}{
		{
			name:   "cut in requestObject, no tail",
			head:   ev[:at(`"env"`)],
			want:   []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus"},
			absent: []string{"requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp", "annotations"},
			cut:    "requestObject",
		},
		{
			name:     "cut in responseObject, tail of the last 300 bytes",
			head:     ev[:at(`"responseObject"`)+100],
			tail:     ev[len(ev)-300:],
			want:     []string{"auditID", "stage", "verb", "user", "objectRef", "responseStatus", "requestReceivedTimestamp", "stageTimestamp", "annotations"},
			absent:   []string{"requestObject", "responseObject"},
			cut:      "responseObject",
			fromTail: true,
		},
		{
			name:     "tail starting inside the response's annotations posing as members",
			head:     ev[:at(`"requestObject"`)+30],
			tail:     ev[bytes.LastIndex(ev, []byte(`"annotations":{"requestReceivedTimestamp"`)):],
			want:     []string{"auditID", "requestReceivedTimestamp", "stageTimestamp", "annotations"},
			cut:      "requestObject",
			fromTail: true,
		},
		{
			name:   "tail that does not reach the trailing members",
			head:   ev[:at(`"requestObject"`)+30],
			tail:   ev[at(`"env"`) : at(`"env"`)+100],
			want:   []string{"auditID", "verb"},
			absent: []string{"stageTimestamp", "annotations"},
			cut:    "requestObject",
		},
		{
			name:   "cut in user",
			head:   ev[:at(`"groups"`)+5],
			want:   []string{"auditID", "stage", "requestURI", "verb"},
			absent: []string{"user", "sourceIPs"},
			cut:    "user",
		},
		{
			name:   "cut in a number",
			head:   ev[:at(`"code":201`)+len(`"code":20`)],
			want:   []string{"auditID", "objectRef"},
			absent: []string{"responseStatus"},
			cut:    "responseStatus",
		},
		{
			name:   "whole event",
			head:   ev,
			want:   []string{"auditID", "user", "responseStatus", "stageTimestamp", "annotations"},
			absent: []string{"requestObject", "responseObject"},
		},
		{name: "cut in the first key", head: ev[:4], err: ErrNothingSalvaged},
		{name: "not an object", head: []byte(`["x"]`), err: ErrNothingSalvaged},
		{name: "empty", head: nil, err: ErrNothingSalvaged},
		{
			name: "a member twice keeps the first",
			head: []byte(`{"auditID":"first","stage":"ResponseComplete","verb":"create","auditID":"second","requestObject":{"x":`),
			want: []string{"stage"},
			cut:  "requestObject",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Salvage(tt.head, tt.tail)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := members(t, s.Raw)
			for _, k := range tt.want {
				if string(got[k]) != string(whole[k]) && !(tt.name == "a member twice keeps the first") {
					t.Errorf("%s = %s, want %s", k, got[k], whole[k])
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s is in the salvage: %s", k, got[k])
				}
			}
			if s.Cut != tt.cut {
				t.Errorf("Cut = %q, want %q", s.Cut, tt.cut)
			}
			if s.FromTail != tt.fromTail {
				t.Errorf("FromTail = %v, want %v", s.FromTail, tt.fromTail)
			}
			if tt.name == "a member twice keeps the first" && string(got["auditID"]) != `"first"` {
				t.Errorf("auditID = %s", got["auditID"])
			}
			if _, ok := got["auditID"]; ok {
				if _, err := Decode(s.Raw); err != nil {
					t.Errorf("Decode of the salvage: %v\n%s", err, s.Raw)
				}
			}
		})
	}
}

// TestSalvageEveryCut cuts every sample event (and a large pod create) at
// many places: each salvage is valid JSON whose members are the event's
// own, and once the head reaches past verb it decodes.
func TestSalvageEveryCut(t *testing.T) {
	events, _ := sampleEvents(t)
	events = append(events, bigPodCreate(300))
	for _, ev := range events {
		whole := members(t, ev)
		step := len(ev)/11 + 1
		for n := 0; n <= len(ev); n += step {
			for _, tail := range [][]byte{nil, ev[n:], ev[len(ev)-len(ev)/3:]} {
				checkSalvage(t, ev[:n], tail, whole)
			}
		}
	}
}

// checkSalvage is what a salvage must keep: valid JSON, only the kept
// members, each as the event has it (when the event is known).
func checkSalvage(t *testing.T, head, tail []byte, whole map[string]json.RawMessage) {
	t.Helper()
	s, err := Salvage(head, tail)
	if err != nil {
		if !errors.Is(err, ErrNothingSalvaged) {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !json.Valid(s.Raw) {
		t.Fatalf("salvage is not valid JSON: %q (head %q, tail %q)", s.Raw, head, tail)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(s.Raw, &m); err != nil {
		t.Fatalf("salvage is not an object: %v", err)
	}
	for k, v := range m {
		if !salvageKeys[k] {
			t.Fatalf("salvage keeps %q", k)
		}
		if whole != nil && string(whole[k]) != string(v) {
			t.Fatalf("%s = %s, the event has %s", k, v, whole[k])
		}
	}
}

func FuzzSalvage(f *testing.F) {
	ev := bigPodCreate(64)
	for _, n := range []int{0, 1, 10, 100, 300, 600, len(ev) - 100, len(ev)} {
		f.Add(ev[:n], ev[len(ev)-n:])
	}
	f.Add([]byte(`{"auditID":"a","auditID":"b"}`), []byte(`,"stageTimestamp":"x"}`))
	f.Add([]byte(`{"a\u0041":1,`), []byte(`,"annotations":{}}  `))
	f.Fuzz(func(t *testing.T, head, tail []byte) {
		checkSalvage(t, head, tail, nil)
		// A cut of a real event keeps the event's members.
		if len(head) > 0 {
			n := int(head[0]) * len(ev) / 256
			checkSalvage(t, ev[:n], ev[len(ev)-len(tail)%len(ev):], members(t, ev))
		}
	})
}
