// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// bigCreate is the create event of p with an env value of n bytes: over the
// audit inputs' limits when n is large. Its members are in the apiserver's
// order (audit.Event's): the objects after responseStatus.
func bigCreate(p pod, id string, n int, code int) string {
	ev, err := audit.Decode([]byte(p.create(id, person("mallory"), t0)))
	if err != nil {
		panic(err)
	}
	big := strings.Repeat("A", n)
	for _, raw := range []*json.RawMessage{&ev.RequestObject, &ev.ResponseObject} {
		var obj map[string]any
		if err := json.Unmarshal(*raw, &obj); err != nil {
			panic(err)
		}
		for _, c := range obj["spec"].(map[string]any)["containers"].([]any) {
			c.(map[string]any)["env"] = []any{map[string]any{"name": "PAYLOAD", "value": big}}
		}
		*raw = json.RawMessage(js(obj))
	}
	ev.ResponseStatus = &audit.Status{Code: int32(code)}
	if code >= 300 {
		ev.Annotations["authorization.k8s.io/decision"] = "forbid"
		ev.ResponseObject = nil
	}
	ev.CloudPrincipal = nil
	return js(ev)
}

// salvage is what the k8s_audit receiver emits for an event too large to
// take whole: audit.Salvage of its first MiB (and last 64 KiB when
// withTail).
func salvage(t *testing.T, event string, withTail bool) string {
	t.Helper()
	head := []byte(event[:1<<20])
	var tail []byte
	if withTail {
		tail = []byte(event[len(event)-64<<10:])
	}
	sv, err := audit.Salvage(head, tail)
	if err != nil {
		t.Fatal(err)
	}
	return string(sv.Raw)
}

// TestOversize: a pod create whose audit event was too large to read, as
// the receiver salvages it (podtrail.audit.partial=oversize), gives a
// record marked partial=oversize from what was salvaged (actor, namespace,
// name, the answer when it came before the objects) that joins the node's
// sandbox by namespace and name.
func TestOversize(t *testing.T) {
	named := pod{ns: "apps", name: "big-env", uid: "c0ffee00-0000-4000-8000-000000000001", ctrs: []ctr{{"app", "registry.local/sleeper:1"}}}
	gen := pod{ns: "apps", name: "big-x7b2q", uid: "c0ffee00-0000-4000-8000-000000000002", ctrs: []ctr{{"app", "registry.local/sleeper:1"}}}
	sb := sandboxID('9')
	noStatus := func(ev string) string { // the answer lost too
		var m map[string]any
		_ = json.Unmarshal([]byte(ev), &m)
		delete(m, "responseStatus")
		delete(m, "annotations")
		return js(m)
	}
	generated := func(ev string) string { // a generateName create: objectRef has no name
		var m map[string]any
		_ = json.Unmarshal([]byte(ev), &m)
		delete(m["objectRef"].(map[string]any), "name")
		return js(m)
	}
	tests := []struct {
		name     string
		event    string // the salvaged event
		node     *pod   // the pod the node runs, if any
		allowed  bool
		code     int
		join     string
		missing  string
		sandbox  bool
		emitLate bool // emitted at the window, not at once
	}{
		{name: "created, answer salvaged, the node runs it", event: salvage(t, bigCreate(named, "o1", 2<<20, 201), true), node: &named,
			allowed: true, code: 201, join: "uid", missing: "digest,pod_spec", sandbox: true},
		{name: "answer lost, the node runs it: created", event: noStatus(salvage(t, bigCreate(named, "o2", 2<<20, 201), false)), node: &named,
			allowed: true, code: 0, join: "uid", missing: "digest,pod_spec", sandbox: true},
		{name: "answer lost, nothing else: outcome unknown", event: noStatus(salvage(t, bigCreate(named, "o3", 2<<20, 201), false)),
			allowed: false, code: 0, join: "uid", missing: "pod_spec,uid", emitLate: true},
		{name: "refused, answer salvaged: at once", event: salvage(t, bigCreate(named, "o4", 2<<20, 403), true),
			allowed: false, code: 403, join: "", missing: ""}, // joins nothing
		{name: "generateName: joined by namespace and order", event: generated(salvage(t, bigCreate(gen, "o5", 2<<20, 201), true)), node: &gen,
			allowed: true, code: 201, join: "namespace_time", missing: "digest,pod_spec", sandbox: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			ev, err := audit.Decode([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.RequestObject) != 0 || len(ev.ResponseObject) != 0 {
				t.Fatal("the salvaged event has its objects")
			}
			s.keep(s.c.AddAuditPartial(ev, PartialOversize, s.now))
			if tt.node != nil {
				s.audit(tt.node.binding("b-"+tt.node.name, "node-a", t0))
				s.node(tt.node.runs("node-a", tt.node.uid, sb, t0.Add(time.Second))...)
			}
			created := s.now
			s.wait(40 * time.Second)
			if len(s.out) != 1 {
				t.Fatalf("%d records:\n%s", len(s.out), dump(s.out))
			}
			e := s.out[0]
			r := e.rec
			want := named.name
			if tt.node == &gen {
				want = gen.name
			}
			if r.Partial != PartialOversize || r.Name != want || r.Namespace != "apps" || r.Actor.Username != "mallory" ||
				r.Actor.Kind != podrecord.ActorUser || r.Channel != podrecord.ChannelKubectl || r.AuditID == "" {
				t.Errorf("record %s", dump(s.out))
			}
			if r.Allowed != tt.allowed || r.Code != tt.code || r.Join != tt.join || strings.Join(r.Missing, ",") != tt.missing {
				t.Errorf("allowed %v code %d join %s missing %v, want %v %d %s %s", r.Allowed, r.Code, r.Join, r.Missing,
					tt.allowed, tt.code, tt.join, tt.missing)
			}
			if got := r.Sandbox.ID == sb && len(r.Containers) == 1 && r.Containers[0].ID != ""; got != tt.sandbox {
				t.Errorf("sandbox %q containers %+v", r.Sandbox.ID, r.Containers)
			}
			if late := e.at.Sub(created) >= 30*time.Second; late != tt.emitLate {
				t.Errorf("emitted %v after the create", e.at.Sub(created))
			}
		})
	}
}

// TestOversizeThenWhole: the same create, salvaged through one input and
// whole through another, gives one record: whole when the whole event
// comes while the record waits, else the first one's.
func TestOversizeThenWhole(t *testing.T) {
	p := pod{ns: "apps", name: "big-env", uid: "c0ffee00-0000-4000-8000-000000000003", ctrs: []ctr{{"app", "registry.local/sleeper@" + sha('3')}}}
	whole := bigCreate(p, "o6", 4096, 201)
	part := salvage(t, bigCreate(p, "o6", 2<<20, 201), true)
	decode := func(s string) *audit.Event {
		ev, err := audit.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	for _, tt := range []struct {
		name    string
		first   string
		partial string
		want    string
	}{
		{"salvaged, then whole", part, PartialOversize, ""},
		{"whole, then salvaged", whole, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			s.keep(s.c.AddAuditPartial(decode(tt.first), tt.partial, s.now))
			second, partial := whole, ""
			if tt.partial == "" {
				second, partial = part, PartialOversize
			}
			s.keep(s.c.AddAuditPartial(decode(second), partial, s.now))
			s.audit(p.binding("ob", "node-a", t0))
			s.node(p.runs("node-a", p.uid, sandboxID('e'), t0.Add(time.Second))...)
			s.wait(40 * time.Second)
			r := s.one("apps", "big-env").rec
			if r.Partial != tt.want || r.UID != p.uid || len(r.Containers) != 1 || r.Containers[0].Image == "" || r.Containers[0].DigestSource != "spec" {
				t.Errorf("record %s", dump(s.out))
			}
			dups := 1 // the second copy of the create
			if tt.partial != "" {
				dups = 0 // it completes the first
			}
			if len(s.out) != 1 || s.c.Stats().Duplicates != uint64(dups) {
				t.Errorf("%d records, %d duplicates", len(s.out), s.c.Stats().Duplicates)
			}
		})
	}
}
