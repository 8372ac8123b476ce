// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"testing"
	"time"
)

// A StatefulSet's pod replaced under the same name: the old pod's delete
// (Metadata level: objectRef without uid) reaches the correlator after the
// new pod's create (a webhook batch retried, or the agent's queue, after the
// gateway itself was replaced).
func TestSameNameDeleteAfterNewCreate(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 55, 0, 0, time.UTC)
	old := pod{ns: "podtrail", name: "podtrail-gateway-0", uid: "37481840-b9d7-440d-9628-31620c3805a6", ctrs: []ctr{{"c", "docker.io/library/nginx:1.27"}}}
	nw := old
	nw.uid = "47a9abd3-d67e-4fde-9bba-83430fc648c2"
	admin := person("kubernetes-admin")
	in := decodeAll(t,
		nw.create("c2", admin, at.Add(2*time.Second)),
		nw.binding("b2", "n1", at.Add(2*time.Second+10*time.Millisecond)),
		old.deleteEv("d1", admin, at), // the old pod's delete, 2 s before the new create
	)
	c := New(DefaultConfig())
	now := at.Add(3 * time.Second)
	var recs []any
	for _, i := range in {
		now = now.Add(time.Millisecond)
		for _, r := range c.AddAudit(i.audit, now) {
			recs = append(recs, r)
			if r.UID == nw.uid && !r.DeletedAt.IsZero() && r.DeletedAt.Before(r.RequestedAt) {
				t.Errorf("the new pod's record carries the old pod's delete: deleted %s, requested %s: %s", r.DeletedAt, r.RequestedAt, js(r))
			}
		}
	}
	for _, r := range c.Expire(now.Add(time.Minute)) {
		recs = append(recs, r)
		if r.UID == nw.uid && !r.DeletedAt.IsZero() && r.DeletedAt.Before(r.RequestedAt) {
			t.Errorf("the new pod's record carries the old pod's delete: deleted %s, requested %s", r.DeletedAt, r.RequestedAt)
		}
		t.Logf("record %s deleted %s requested %s missing %v", r.UID, r.DeletedAt, r.RequestedAt, r.Missing)
	}
	t.Logf("%d records", len(recs))
}

// TestSameNameDeleteBeforeNodeRan: the old pod's uid-less delete reaches a
// replacement podtrail knows only from its node (its create lost while the
// gateway itself was replaced): the node ran it seconds after that delete,
// so the delete is not its own; a delete after it ran is.
func TestSameNameDeleteBeforeNodeRan(t *testing.T) {
	at := time.Date(2026, 12, 6, 23, 50, 3, 0, time.UTC)
	nw := pod{ns: "podtrail", name: "podtrail-gateway-0", uid: "9a1a2e24-838f-4f61-917a-0b7189bb2dd8", ctrs: []ctr{{"c", "docker.io/library/nginx:1.27"}}}
	admin := person("system:serviceaccount:kube-system:statefulset-controller")
	for _, tt := range []struct {
		name    string
		del     time.Time
		deleted bool
	}{
		{"the old pod's delete, 2 s before the node ran the new one", at, false},
		{"its own delete, after it ran", at.Add(10 * time.Second), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			s.now = at.Add(3 * time.Second)
			s.node(nw.runs("n1", nw.uid, sandboxID('9'), at.Add(2*time.Second))...)
			s.now = tt.del.Add(time.Second)
			s.audit(nw.deleteEv("d1", admin, tt.del))
			s.wait(4 * time.Minute)
			for _, o := range s.out {
				if o.rec.UID == nw.uid && o.rec.DeletedAt.IsZero() == tt.deleted {
					t.Errorf("deleted_at %v, want deleted %v: %s", o.rec.DeletedAt, tt.deleted, js(o.rec))
				}
			}
			if len(s.out) == 0 {
				t.Fatal("no record")
			}
		})
	}
}
