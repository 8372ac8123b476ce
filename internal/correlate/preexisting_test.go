// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/noderuntime"
)

// TestPreexisting: a pod the API server knows but whose create podtrail
// never saw (it was made before podtrail started) is reported as
// preexisting, never as created without the API; a sandbox that no audit
// event names stays node_only, the bypass PT-0035 is for.
func TestPreexisting(t *testing.T) {
	old := pod{ns: "shop", name: "cart-6f7d9c8b4-abcde", uid: "a1b2c3d4-0000-4000-8000-00000000beef", ctrs: []ctr{{"cart", "ghcr.io/acme/cart:1.2.0"}}}
	// A sandbox run by hand on node-b, named after the API pod on node-a.
	fake := old
	fake.uid = "f00df00d-0000-4000-8000-000000000bad"
	sbOld, sbFake := sandboxID('6'), sandboxID('8')
	restart := func(s *sim) { // the container restarts: new container lines, no create
		evs := old.runs("node-a", old.uid, sbOld, t0)
		s.node(evs[2:]...)
	}
	newSandbox := func(s *sim) { s.node(old.runs("node-a", old.uid, sbOld, t0)...) }
	status := func(level string) func(*sim) {
		return func(s *sim) {
			s.audit(old.statusPatch("st-"+level, level, "node-a", t0.Add(time.Second),
				status{"cart", "ghcr.io/acme/cart:1.2.0", "ghcr.io/acme/cart@" + sha('c'), ctrID(sbOld, 0), t0}))
		}
	}
	del := func(s *sim) { s.audit(old.deleteEv("d1", person("alice"), t0.Add(2*time.Second))) }
	bind := func(s *sim) { s.audit(old.binding("b1", "node-a", t0)) }
	bypass := func(s *sim) { s.node(fake.runs("node-b", fake.uid, sbFake, t0)...) }
	kubeletOnly := func(s *sim) {
		s.node(noderuntime.Event{Kind: noderuntime.KindPodAdmitted, Source: noderuntime.SourceKubelet, Node: "node-a", Time: t0,
			PodNamespace: old.ns, PodName: old.name, PodSource: "api"})
	}

	type want struct{ origin, missing, node, sandbox string }
	tests := []struct {
		name  string
		steps []func(*sim)
		want  []want // by origin, in order of emission
	}{
		{"a status patch alone", []func(*sim){status("Request")},
			[]want{{"preexisting", "audit", "node-a", ""}}},
		{"container restart lines, then its status (Request level)", []func(*sim){restart, status("Request")},
			[]want{{"preexisting", "audit", "node-a", ""}}},
		{"a new sandbox, then its status (RequestResponse)", []func(*sim){newSandbox, status("RequestResponse")},
			[]want{{"preexisting", "audit", "node-a", sbOld}}},
		{"its status, then a new sandbox", []func(*sim){status("Request"), newSandbox},
			[]want{{"preexisting", "audit", "node-a", sbOld}}},
		{"a new sandbox, then a binding (Metadata-level events: by name)", []func(*sim){newSandbox, bind},
			[]want{{"preexisting", "audit,digest", "node-a", sbOld}}},
		{"kubelet admitted it, then it was deleted", []func(*sim){kubeletOnly, del},
			[]want{{"preexisting", "audit", "node-a", ""}}},
		{"a sandbox no audit event names: a bypass", []func(*sim){newSandbox},
			[]want{{"node_only", "audit,digest,scheduler", "node-a", sbOld}}},
		{"a sandbox named after an API pod on another node stays a bypass", []func(*sim){bypass, status("Request")},
			[]want{{"node_only", "audit,digest,scheduler", "node-b", sbFake}, {"preexisting", "audit", "node-a", ""}}},
		{"same, status first (the pre-existing record waits for a late create: CreateWait)", []func(*sim){status("Request"), bypass},
			[]want{{"node_only", "audit,digest,scheduler", "node-b", sbFake}, {"preexisting", "audit", "node-a", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			for _, step := range tt.steps {
				step(s)
				s.wait(100 * time.Millisecond)
			}
			s.wait(4 * time.Minute) // past CreateWait
			if len(s.out) != len(tt.want) {
				t.Fatalf("%d records, want %d:\n%s", len(s.out), len(tt.want), dump(s.out))
			}
			for i, w := range tt.want {
				r := s.out[i].rec
				got := want{r.Origin, strings.Join(r.Missing, ","), r.Node, r.Sandbox.ID}
				if got != w {
					t.Errorf("record %d: %+v, want %+v\n%s", i, got, w, dump(s.out[i:i+1]))
				}
				if r.Actor.Username != "" || r.Allowed || r.Name != old.name {
					t.Errorf("record %d: actor %q allowed %v name %q", i, r.Actor.Username, r.Allowed, r.Name)
				}
			}
			if st := s.c.Stats(); int(st.Preexisting) != strings.Count(dump(s.out), `"origin":"preexisting"`) {
				t.Errorf("Preexisting %d", st.Preexisting)
			}
		})
	}
}

// TestDeleteOfUnknownPod: a delete of a pod podtrail never saw makes no
// record.
func TestDeleteOfUnknownPod(t *testing.T) {
	s := newSim(t, DefaultConfig())
	p := pod{ns: "shop", name: "gone", uid: "a1b2c3d4-0000-4000-8000-00000000dead"}
	s.audit(p.deleteEv("d9", person("alice"), t0))
	s.wait(40 * time.Second)
	if len(s.out) != 0 || s.c.Stats().Ignored != 1 {
		t.Fatalf("%d records, %d ignored:\n%s", len(s.out), s.c.Stats().Ignored, dump(s.out))
	}
}

// TestCreateUnseen: a pod the scheduler binds while podtrail watches, whose
// create never arrives (the audit pipeline lost it), is create_unseen, not
// preexisting: it did not exist before podtrail started. A binding within
// the correlation window of podtrail's start may be of a pod created just
// before: preexisting. The fact survives a restart from the persisted state.
func TestCreateUnseen(t *testing.T) {
	p := pod{ns: "shop", name: "cart-6f7d9c8b4-fghij", uid: "a1b2c3d4-0000-4000-8000-00000000cafe", ctrs: []ctr{{"cart", "ghcr.io/acme/cart:1.2.0"}}}
	sb := sandboxID('7')
	tests := []struct {
		name          string
		before        time.Duration // podtrail running before the binding
		restart       bool
		origin, miss  string
		unseen, preex uint64
	}{
		{"bound a minute after podtrail started", time.Minute, false, "create_unseen", "audit", 1, 0},
		{"bound in podtrail's first seconds", 5 * time.Second, false, "preexisting", "audit", 0, 1},
		{"bound a minute after start, podtrail restarted from its state", time.Minute, true, "create_unseen", "audit", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Persistent = true
			s := newSim(t, cfg)
			s.wait(tt.before)
			s.audit(p.binding("b1", "node-a", s.now))
			s.node(p.runs("node-a", p.uid, sb, s.now)...)
			s.audit(p.statusPatch("st", "Request", "node-a", s.now.Add(time.Second),
				status{"cart", "ghcr.io/acme/cart:1.2.0", "ghcr.io/acme/cart@" + sha('c'), ctrID(sb, 0), s.now}))
			if tt.restart {
				s.restart()
			}
			s.wait(4 * time.Minute) // past CreateWait
			if len(s.out) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(s.out), dump(s.out))
			}
			r := s.out[0].rec
			if r.Origin != tt.origin || strings.Join(r.Missing, ",") != tt.miss || r.Allowed || r.Outcome() != "" {
				t.Errorf("origin %s missing %v allowed %v outcome %q, want %s %s\n%s", r.Origin, r.Missing, r.Allowed, r.Outcome(), tt.origin, tt.miss, dump(s.out))
			}
			if st := s.c.Stats(); st.CreateUnseen != tt.unseen || st.Preexisting != tt.preex {
				t.Errorf("CreateUnseen %d Preexisting %d", st.CreateUnseen, st.Preexisting)
			}
		})
	}
}

// restart persists the correlator's state and goes on with a new one
// restored from it, as the processor does across a collector restart.
func (s *sim) restart() {
	s.t.Helper()
	st := store{}
	if err := s.c.Persist(st.put); err != nil {
		s.t.Fatal(err)
	}
	c := New(s.c.cfg)
	if err := c.Restore(st.get); err != nil {
		s.t.Fatal(err)
	}
	s.c = c
}

// TestLateCreate: while podtrail's gateway restarts, the apiserver's batch
// webhook retries the batch that holds a pod's create for up to about two
// minutes and delivers later batches first: the pod's binding and kubelet
// status come before its create. The pod waits for it (CreateWait) and has
// one record of its create, with its creator, not a pre-existing one; also
// across a restart of podtrail from its state. A create later than
// CreateWait is late: the record went out without it.
func TestLateCreate(t *testing.T) {
	p := pod{ns: "shop", name: "cart-6f7d9c8b4-lmnop", uid: "a1b2c3d4-0000-4000-8000-00000000f00d", ctrs: []ctr{{"cart", "ghcr.io/acme/cart:1.2.0"}}}
	sb := sandboxID('5')
	tests := []struct {
		name    string
		delay   time.Duration // of the create after its binding and status
		restart bool
		origin  string
		actor   string
		late    uint64
	}{
		{"create 90 s late", 90 * time.Second, false, "api", "mallory", 0},
		{"create 90 s late, podtrail restarted meanwhile", 90 * time.Second, true, "api", "mallory", 0},
		{"create 5 min late", 5 * time.Minute, false, "create_unseen", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Persistent = true
			s := newSim(t, cfg)
			s.wait(time.Minute) // podtrail has been watching a while
			created := s.now
			s.audit(p.binding("b1", "node-a", created.Add(10*time.Millisecond)))
			s.audit(p.statusPatch("st", "Request", "node-a", created.Add(time.Second),
				status{"cart", "ghcr.io/acme/cart:1.2.0", "ghcr.io/acme/cart@" + sha('c'), ctrID(sb, 0), created.Add(time.Second)}))
			if tt.restart {
				s.wait(40 * time.Second)
				s.restart()
			}
			s.wait(tt.delay - (s.now.Sub(created)))
			s.audit(p.create("c1", person("mallory"), created))
			s.wait(4 * time.Minute)
			if len(s.out) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(s.out), dump(s.out))
			}
			r := s.out[0].rec
			if r.Origin != tt.origin || r.Actor.Username != tt.actor || r.Node != "node-a" {
				t.Errorf("origin %s actor %q node %q, want %s %q\n%s", r.Origin, r.Actor.Username, r.Node, tt.origin, tt.actor, dump(s.out))
			}
			st := s.c.Stats()
			if st.Late != tt.late || tt.late == 0 && !tt.restart && (st.CreateWaits != 1 || st.CreateLate != 1) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
