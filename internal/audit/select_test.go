// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"errors"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/samples"
)

// TestSelection: a selecting Decoder returns ErrNotSelected exactly for the
// events outside Selected, and the same event as a plain decode for those
// inside, on every event of the live audit log (three audit levels) and on
// hand-made cases whose fields come in another order.
func TestSelection(t *testing.T) {
	lines := records(samples.Read(t, "k8s-audit-live", "levels", "audit.log"))
	lines = append(lines,
		// stage after verb and objectRef; objectRef last
		[]byte(`{"auditID":"a","verb":"create","objectRef":{"resource":"pods","namespace":"n","name":"p"},"stage":"ResponseComplete"}`),
		[]byte(`{"auditID":"b","objectRef":{"resource":"deployments","apiGroup":"apps"},"verb":"patch","stage":"ResponseComplete"}`),
		[]byte(`{"auditID":"c","stage":"Panic","verb":"delete","objectRef":{"resource":"pods","subresource":"binding"}}`),
		[]byte(`{"auditID":"d","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"pods"}}`),
		[]byte(`{"auditID":"e","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"secrets"}}`),
		[]byte(`{"auditID":"f","stage":"ResponseComplete","verb":"create"}`), // no objectRef
		// RequestReceived: only of a pod create, its fields in any order
		[]byte(`{"auditID":"g","stage":"RequestReceived","verb":"create","objectRef":{"resource":"pods"}}`),
		[]byte(`{"auditID":"h","objectRef":{"resource":"pods","namespace":"n"},"verb":"create","stage":"RequestReceived"}`),
		[]byte(`{"auditID":"i","verb":"create","stage":"RequestReceived","objectRef":{"resource":"pods","subresource":"binding","name":"p"}}`),
		[]byte(`{"auditID":"j","stage":"RequestReceived","objectRef":{"resource":"pods"},"verb":"delete"}`),
		[]byte(`{"auditID":"k","objectRef":{"resource":"deployments","apiGroup":"apps"},"stage":"RequestReceived","verb":"create"}`),
		[]byte(`{"auditID":"l","verb":"get","stage":"RequestReceived","objectRef":{"resource":"pods"}}`),
		[]byte(`{"auditID":"m","stage":"ResponseStarted","verb":"create","objectRef":{"resource":"pods"}}`),
		[]byte(`{"auditID":"o","stage":"RequestReceived","requestURI":"/api/v1/namespaces/n/pods?fieldManager=kubectl-run","verb":"create","objectRef":{"resource":"pods"}}`),
		[]byte(`{"auditID":"p","stage":"RequestReceived","requestURI":"/api/v1/namespaces/n/pods/p/binding","verb":"create","objectRef":{"resource":"pods","subresource":"binding"}}`),
		[]byte(`{"auditID":"q","stage":"RequestReceived","requestURI":"/api/v1/namespaces/n/serviceaccounts","verb":"create","objectRef":{"resource":"serviceaccounts"}}`),
		[]byte(`{"auditID":"n","stage":"Panic","verb":"create","objectRef":{"resource":"pods","namespace":"n"}}`),
	)
	var in, out, received int
	sel := &Decoder{SelectPodCreation: true}
	for _, l := range lines {
		want, err := Decode(l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		got, err := sel.Decode(l)
		switch {
		case Selected(want):
			in++
			if want.Stage == StageRequestReceived {
				received++
			}
			if err != nil || got.AuditID != want.AuditID || got.Verb != want.Verb || got.Stage != want.Stage {
				t.Errorf("selected event %s: got %v, %v", want.AuditID, got, err)
			}
		default:
			out++
			if !errors.Is(err, ErrNotSelected) || got != nil {
				t.Errorf("event %s outside the selection: got %v, %v; want ErrNotSelected", want.AuditID, got, err)
			}
		}
	}
	t.Logf("%d events: %d selected (%d RequestReceived of pod creates), %d not", len(lines), in, received, out)
	// the live log's six pod creates (three levels) and g, h, o above
	if received != 9 {
		t.Errorf("%d RequestReceived stages of pod creates selected, want 9", received)
	}
	if in == 0 || out == 0 {
		t.Fatalf("the sample must hold events of both kinds: %d in, %d out", in, out)
	}
	// A broken event outside the selection is not read past its verb; a
	// broken selected one is an error, not ErrNotSelected.
	if _, err := sel.Decode([]byte(`{"auditID":"x","stage":"ResponseComplete","verb":"get","user":{`)); !errors.Is(err, ErrNotSelected) {
		t.Errorf("broken unselected event: %v, want ErrNotSelected", err)
	}
	if _, err := sel.Decode([]byte(`{"auditID":"x","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods"},"user":{`)); err == nil || errors.Is(err, ErrNotSelected) {
		t.Errorf("broken selected event: %v, want a decode error", err)
	}
}

// BenchmarkDecodeLiveAuditLogSelected is BenchmarkDecodeLiveAuditLog with a
// selecting Decoder, as the k8s_audit receiver reads by default.
func BenchmarkDecodeLiveAuditLogSelected(b *testing.B) {
	data := samples.Read(b, "k8s-audit-live", "levels", "audit.log")
	lines := records(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	d := &Decoder{SelectPodCreation: true}
	var n int
	for b.Loop() {
		n = 0
		for _, l := range lines {
			if _, err := d.Decode(l); err == nil {
				n++
			} else if !errors.Is(err, ErrNotSelected) {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
	b.Logf("%d of %d events selected", n, len(lines))
}

// TestSelectedStages: which stages of which requests the selection takes.
func TestSelectedStages(t *testing.T) {
	pods := &ObjectReference{Resource: "pods", Namespace: "n"}
	tests := []struct {
		stage, verb string
		ref         *ObjectReference
		want        bool
	}{
		{StageRequestReceived, "create", pods, true}, // paired with its final stage (audit_stage_gap)
		{StageResponseComplete, "create", pods, true},
		{StagePanic, "create", pods, true},
		{StageResponseStarted, "create", pods, false},
		{StageRequestReceived, "delete", pods, false},
		{StageRequestReceived, "create", &ObjectReference{Resource: "pods", Subresource: "binding"}, false},
		{StageRequestReceived, "create", &ObjectReference{Resource: "pods", Subresource: "eviction"}, false},
		{StageRequestReceived, "create", &ObjectReference{Resource: "deployments", APIGroup: "apps"}, false},
		{StageRequestReceived, "create", &ObjectReference{Resource: "pods", APIGroup: "metrics.k8s.io"}, false},
		{StageRequestReceived, "create", nil, false},
		{StageResponseComplete, "patch", &ObjectReference{Resource: "pods", Subresource: "status"}, true},
		{StageResponseComplete, "get", pods, false},
	}
	for _, tt := range tests {
		ev := &Event{Stage: tt.stage, Verb: tt.verb, ObjectRef: tt.ref}
		if got := Selected(ev); got != tt.want {
			t.Errorf("%s %s %+v: Selected %v, want %v", tt.stage, tt.verb, tt.ref, got, tt.want)
		}
	}
}

// FuzzSelect: on any input a selecting Decoder agrees with a plain decode
// and Selected: a selected event comes out the same (its stage, verb,
// requestURI, objectRef), any other event a plain decode reads is
// ErrNotSelected.
func FuzzSelect(f *testing.F) {
	for i, l := range records(samples.Read(f, "k8s-audit-live", "levels", "audit.log")) {
		if i%40 == 0 || strings.Contains(string(l), `"stage":"RequestReceived","requestURI":"/api/v1/namespaces/lvl-`) {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"auditID":"o","stage":"RequestReceived","requestURI":"/api/v1/namespaces/n/pods?a=1\u0026b=2","verb":"create","objectRef":{"resource":"pods"}}`))
	f.Add([]byte(`{"auditID":"p","stage":"RequestReceived","requestURI":"/api/v1/namespaces/n/configmaps?a=1\u0026b=2","verb":"create","objectRef":{"resource":"configmaps"}}`))
	f.Add([]byte(`{"auditID":"q","stage":"RequestReceived","requestURI":"\/api\/v1\/namespaces\/n\/pods","verb":"create","objectRef":{"resource":"pods"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := Decode(data)
		got, err := (&Decoder{SelectPodCreation: true}).Decode(data)
		switch {
		case werr != nil:
			if err == nil {
				t.Fatalf("plain decode fails (%v), selecting decode returns %+v", werr, got)
			}
		case Selected(want):
			if err != nil {
				t.Fatalf("selected event: %v", err)
			}
			if got.Stage != want.Stage || got.Verb != want.Verb || got.RequestURI != want.RequestURI || got.AuditID != want.AuditID ||
				(got.ObjectRef == nil) != (want.ObjectRef == nil) || got.ObjectRef != nil && *got.ObjectRef != *want.ObjectRef {
				t.Fatalf("selected event differs:\n%+v\n%+v", got, want)
			}
		default:
			if !errors.Is(err, ErrNotSelected) {
				t.Fatalf("event outside the selection: %v, %+v", err, got)
			}
		}
	})
}
