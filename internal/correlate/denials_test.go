// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// TestDeniedThenRetried: in the demo, mallory's pod create in kube-system
// is forbidden (403). Made the actor of eve's later kube-proxy-4wz9n create,
// mallory retried and succeeded: that record lists the denial; others do
// not; with the window off, none does.
func TestDeniedThenRetried(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(demoDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(`"username":"eve"`), []byte(`"username":"mallory"`))
	var evs []*audit.Event
	for _, l := range bytes.Split(data, []byte("\n")) {
		if ev, err := audit.Decode(l); err == nil {
			evs = append(evs, ev)
		}
	}
	for _, tt := range []struct {
		window time.Duration
		want   int
	}{{10 * time.Minute, 1}, {0, 0}, {time.Millisecond, 0}} {
		t.Run(fmt.Sprint(tt.window), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Expect, cfg.DenialWindow = []string{SourceAudit}, tt.window
			c := New(cfg)
			var recs []*podrecord.Record
			for _, ev := range evs {
				recs = append(recs, c.AddAudit(ev, ev.StageTimestamp)...)
			}
			for _, r := range recs {
				if r.Namespace+"/"+r.Name != "kube-system/kube-proxy-4wz9n" {
					if len(r.DeniedBefore) != 0 {
						t.Errorf("%s/%s lists denials %+v", r.Namespace, r.Name, r.DeniedBefore)
					}
					continue
				}
				if len(r.DeniedBefore) != tt.want {
					t.Fatalf("kube-proxy-4wz9n lists %d denials, want %d", len(r.DeniedBefore), tt.want)
				}
				if tt.want > 0 {
					d := r.DeniedBefore[0]
					if d.Namespace != "kube-system" || d.Code != 403 || d.AuditID == "" || !d.At.Before(r.RequestedAt) {
						t.Errorf("denial %+v", d)
					}
				}
			}
		})
	}
}

// TestDenialsBound: at most max actors (the least recently denied go
// first) and perActor denials each; order stays bounded when one actor is
// denied again and again.
func TestDenialsBound(t *testing.T) {
	d := newDenials(3, time.Hour)
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	deny := func(actor string, i int) {
		d.add(&podrecord.Record{Actor: podrecord.Actor{Username: actor}, Namespace: "ns", Name: fmt.Sprint(i), RequestedAt: t0.Add(time.Duration(i) * time.Second), Code: 403})
	}
	deny("a", 0)
	deny("b", 1)
	deny("c", 2)
	deny("a", 3) // a is now the most recent
	deny("d", 4) // b goes
	if len(d.byActor) != 3 || d.byActor["b"] != nil || d.byActor["a"] == nil {
		t.Fatalf("actors %v", d.byActor)
	}
	for i := 5; i < 1000; i++ {
		deny("a", i)
	}
	if n := len(d.byActor["a"]); n != d.perActor {
		t.Errorf("a keeps %d denials, want %d", n, d.perActor)
	}
	if len(d.order) > 2*d.max+16 {
		t.Errorf("order grew to %d", len(d.order))
	}
	if got := d.before("a", t0.Add(2000*time.Second)); len(got) != d.perActor {
		t.Errorf("before: %d", len(got))
	}
	if got := d.before("a", t0.Add(-time.Second)); len(got) != 0 {
		t.Errorf("denials after the create count: %+v", got)
	}
}
