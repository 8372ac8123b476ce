// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/samples"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSplitBody(t *testing.T) {
	ev := `{"level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get","user":{"username":"u"}}`
	tests := []struct {
		name    string
		body    string
		items   int
		wantErr error
		anyErr  bool
	}{
		{name: "single event", body: `{"kind":"Event","apiVersion":"audit.k8s.io/v1",` + ev[1:], items: 1},
		{name: "event without kind", body: ev, items: 1},
		{name: "event list", body: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + ev + `,` + ev + `]}`, items: 2},
		{name: "items before kind", body: `{"items":[` + ev + `],"kind":"EventList"}`, items: 1},
		{name: "empty list", body: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[]}`, items: 0},
		{name: "null items", body: `{"kind":"EventList","items":null}`, items: 0},
		{name: "truncated list", body: `{"kind":"EventList","items":[` + ev + `,` + ev[:40], items: 1, wantErr: ErrTruncated},
		{name: "truncated after items", body: `{"kind":"EventList","items":[` + ev + `]`, items: 1, wantErr: ErrTruncated},
		{name: "not json", body: `hello`, wantErr: ErrNotAuditEvent},
		{name: "array", body: `[1,2]`, wantErr: ErrNotAuditEvent},
		{name: "empty", body: ``, anyErr: true},
		{name: "garbage after", body: ev + `x`, anyErr: true},
		{name: "items not array", body: `{"kind":"EventList","items":{}}`, wantErr: ErrNotAuditEvent},
		{name: "wrong list kind", body: `{"kind":"PodList","items":[]}`, wantErr: ErrNotAuditEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := SplitBody([]byte(tt.body))
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.anyErr && err == nil {
				t.Fatal("want an error")
			}
			if tt.wantErr == nil && !tt.anyErr && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(items) != tt.items {
				t.Fatalf("items = %d, want %d", len(items), tt.items)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		check   func(*testing.T, *Event)
	}{
		{name: "v1beta1 timestamp", in: `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","timestamp":"2018-10-25T14:09:12Z","auditID":"x","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"default"}}`,
			check: func(t *testing.T, e *Event) {
				if e.StageTimestamp.IsZero() || !e.IsPodCreate() || !e.IsFinal() {
					t.Fatalf("bad decode %+v", e)
				}
			}},
		{name: "pods/exec is not a pod create", in: `{"auditID":"x","stage":"ResponseStarted","verb":"create","objectRef":{"resource":"pods","subresource":"exec"}}`,
			check: func(t *testing.T, e *Event) {
				if e.IsPodCreate() {
					t.Fatal("pods/exec counted as pod create")
				}
			}},
		{name: "forbidden", in: `{"auditID":"x","stage":"ResponseComplete","verb":"create","responseStatus":{"code":403,"reason":"Forbidden"},"annotations":{"authorization.k8s.io/decision":"forbid"}}`,
			check: func(t *testing.T, e *Event) {
				if e.Code() != 403 || e.Decision() != "forbid" {
					t.Fatalf("code %d decision %q", e.Code(), e.Decision())
				}
			}},
		{name: "other kind", in: `{"kind":"Pod","apiVersion":"v1","auditID":"x","stage":"a","verb":"b"}`, wantErr: true},
		{name: "other apiVersion", in: `{"apiVersion":"v1","auditID":"x","stage":"a","verb":"b"}`, wantErr: true},
		{name: "no auditID", in: `{"stage":"ResponseComplete","verb":"get"}`, wantErr: true},
		{name: "no stage", in: `{"auditID":"x","verb":"get"}`, wantErr: true},
		{name: "no verb", in: `{"auditID":"x","stage":"ResponseComplete"}`, wantErr: true},
		{name: "bad timestamp", in: `{"auditID":"x","stage":"ResponseComplete","verb":"get","stageTimestamp":"yesterday"}`, wantErr: true},
		{name: "not json", in: `{"auditID":`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.check != nil && ev != nil {
				tt.check(t, ev)
			}
		})
	}
}

// TestSamplesGolden decodes every audit sample in ../shared/samples and
// compares a one-line summary per event with a reviewed golden file.
func TestSamplesGolden(t *testing.T) {
	for _, sub := range []string{"k8s-audit", filepath.Join("k8s-audit-live", "levels")} {
		dir := samples.Dir(t, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if name == "actions.log" || !strings.HasSuffix(name, ".log") && !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".jsonl") {
				continue
			}
			t.Run(name, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				for _, rec := range records(data) {
					items, err := SplitBody(rec)
					if err != nil {
						fmt.Fprintf(&out, "ERROR %v\n", err)
					}
					for _, it := range items {
						ev, err := Decode(it)
						if err != nil {
							fmt.Fprintf(&out, "ERROR %v\n", err)
							continue
						}
						out.WriteString(summary(ev))
					}
				}
				golden(t, filepath.Join("testdata", "golden", name+".golden"), out.Bytes())
			})
		}
	}
}

// records splits a sample into records: one JSON value per line, except a
// pretty-printed file, which is one record.
func records(data []byte) [][]byte {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{\n")) {
		return [][]byte{trimmed}
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out
}

func summary(ev *Event) string {
	res, sub, ns, name := ev.Resource()
	if sub != "" {
		res += "/" + sub
	}
	var podName string
	if ev.IsPodCreate() {
		if p, err := DecodePod(ev.ResponseObject); err == nil && p != nil {
			podName = " created=" + p.Metadata.Name + " uid=" + p.Metadata.UID
		}
	}
	return fmt.Sprintf("%s %s %s %s %s ns=%q name=%q user=%q code=%d decision=%q at=%s%s\n",
		ev.AuditID, ev.Stage, ev.Level, ev.Verb, res, ns, name, ev.User.Username, ev.Code(), ev.Decision(),
		ev.StageTimestamp.UTC().Format("2006-01-02T15:04:05.000000Z"), podName)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from output; run go test -update and review the diff", path)
	}
}

func TestLiveCaptureBothBackendsAgree(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	count := func(file string) map[string]bool {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, rec := range records(data) {
			items, err := SplitBody(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				ev, err := Decode(it)
				if err != nil {
					t.Fatal(err)
				}
				seen[ev.AuditID+"/"+ev.Stage] = true
			}
		}
		return seen
	}
	a, b := count("audit.log"), count("webhook-bodies.jsonl")
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("audit.log has %d events, webhook bodies %d", len(a), len(b))
	}
	for k := range a {
		if !b[k] {
			t.Fatalf("%s missing from webhook bodies", k)
		}
	}
}

func FuzzSplitBody(f *testing.F) {
	f.Add([]byte(`{"kind":"EventList","items":[{"auditID":"a","stage":"ResponseComplete","verb":"get"}]}`))
	f.Add([]byte(`{"auditID":"a","stage":"ResponseComplete","verb":"get"}`))
	f.Add([]byte(`{"kind":"EventList","items":[{"auditID":"a"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := SplitBody(body)
		for _, it := range items {
			if !json.Valid(it) {
				t.Fatalf("invalid item returned (err=%v): %q", err, it)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"},"responseObject":{"kind":"Pod","metadata":{"name":"x"}}}`))
	f.Add([]byte(`{"auditID":"a","stage":"RequestReceived","verb":"create","timestamp":"2018-10-25T14:09:12Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			return
		}
		if ev.AuditID == "" || ev.Stage == "" || ev.Verb == "" {
			t.Fatalf("accepted event without identity: %+v", ev)
		}
		_, _ = DecodePod(ev.ResponseObject)
		_, _ = DecodePod(ev.RequestObject)
	})
}

func BenchmarkDecodeLiveAuditLog(b *testing.B) {
	data := samples.Read(b, "k8s-audit-live", "levels", "audit.log")
	lines := records(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			if _, err := Decode(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

func TestDecodePodStatus(t *testing.T) {
	p, err := DecodePod([]byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden","reason":"Forbidden","details":{"kind":"pods"},"code":403}`))
	if p != nil || err != nil {
		t.Fatalf("a Status is neither a pod nor an error: %v %v", p, err)
	}
	if _, err := DecodePod([]byte(`{"kind":"Pod","spec":{"containers":"x"}}`)); err == nil {
		t.Fatal("a broken pod is an error")
	}
}
