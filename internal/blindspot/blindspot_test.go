// SPDX-License-Identifier: Apache-2.0

package blindspot

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// step is one thing that happens at a second after t0; want is what the
// Tick after it returns (kind and recovered flag, subject).
type step struct {
	sec  int
	do   func(*Tracker, time.Time)
	want []string
}

func label(a Alert) string {
	s := string(a.Kind) + ":" + a.Subject()
	if a.Recovered {
		s += ":recovered"
	}
	return s
}

func TestTracker(t *testing.T) {
	cfg := Config{AuditSilence: 60 * time.Second, NodeSilence: 30 * time.Second, EvictionClear: 120 * time.Second, Rules: true}
	audit := func(tr *Tracker, now time.Time) { tr.Audit("prod", now) }
	node := func(n string) func(*Tracker, time.Time) {
		return func(tr *Tracker, now time.Time) { tr.Node(n, now) }
	}
	missing := func(n string) func(*Tracker, time.Time) {
		return func(tr *Tracker, now time.Time) { tr.MissingNode(n, "default/web", now) }
	}
	idle := func(*Tracker, time.Time) {}
	tests := []struct {
		name  string
		steps []step
	}{
		{"audit stream quiet, then back", []step{
			{1, audit, nil},
			{60, idle, nil},
			{61, idle, []string{"audit_silence:prod"}},
			{200, idle, nil}, // one alert, not one per tick
			{201, audit, []string{"audit_silence:prod:recovered"}},
			{230, audit, nil},
		}},
		{"audit never heard: the clock runs from the start", []step{
			{59, idle, nil},
			{60, idle, []string{"audit_silence:prod"}},
		}},
		{"idle node with no pods: no alert", []step{
			{1, node("node-a"), nil},
			{3600, audit, nil},
		}},
		{"node speaks, one pod's lines missing: no alert", []step{
			{1, node("node-a"), nil},
			{20, missing("node-a"), nil},
		}},
		{"node silent with a pod scheduled to it", []step{
			{1, node("node-a"), nil},
			{40, missing("node-a"), []string{"node_silence:node-a"}},
			{50, missing("node-a"), nil}, // one alert per silence
			{51, node("node-b"), nil},
			{90, node("node-a"), []string{"node_silence:node-a:recovered"}},
			{95, node("node-a"), nil},
		}},
		{"evictions: one alert, cleared after a quiet period", []step{
			{10, func(tr *Tracker, now time.Time) { tr.Evicted(3, now) }, []string{"evicted:correlation"}},
			{20, func(tr *Tracker, now time.Time) { tr.Evicted(2, now) }, nil},
			{139, idle, nil},
			{140, idle, []string{"evicted:correlation:recovered"}},
		}},
		{"rules unreadable, then fixed", []step{
			{5, func(tr *Tracker, now time.Time) { tr.RulesLoaded(errors.New("rules.yaml: line 3"), now) }, []string{"rules_unreadable:rules"}},
			{7, func(tr *Tracker, now time.Time) { tr.RulesLoaded(errors.New("rules.yaml: line 3"), now) }, nil},
			{9, func(tr *Tracker, now time.Time) { tr.RulesLoaded(nil, now) }, []string{"rules_unreadable:rules:recovered"}},
			{11, func(tr *Tracker, now time.Time) { tr.RulesLoaded(nil, now) }, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(cfg, t0)
			if tt.name[:5] == "audit" {
				tr.WatchCluster("prod")
			} else {
				tr.cfg.AuditSilence = 0
			}
			for _, s := range tt.steps {
				s.do(tr, at(s.sec))
				var got []string
				for _, a := range tr.Tick(at(s.sec)) {
					got = append(got, label(a))
				}
				if len(got) != len(s.want) {
					t.Fatalf("at %ds: got %v, want %v", s.sec, got, s.want)
				}
				for i := range got {
					if got[i] != s.want[i] {
						t.Fatalf("at %ds: got %v, want %v", s.sec, got, s.want)
					}
				}
			}
		})
	}
}

func TestAlertFields(t *testing.T) {
	tr := New(Config{NodeSilence: 30 * time.Second, EvictionClear: time.Minute}, t0)
	tr.Node("node-a", at(1))
	tr.MissingNode("node-a", "shop/cart", at(60))
	tr.MissingNode("node-a", "shop/web", at(61))
	a := tr.Tick(at(61))
	if len(a) != 1 || a[0].Since != at(1) || a[0].At != at(60) || a[0].Detail != "shop/cart" || a[0].Source() != "node_runtime" {
		t.Fatalf("blind: %+v", a)
	}
	if tr.Active() != 1 || len(tr.Open()) != 1 || tr.Open()[0].Count != 2 {
		t.Fatalf("open: %+v", tr.Open())
	}
	tr.Node("node-a", at(70))
	a = tr.Tick(at(70))
	if len(a) != 1 || !a[0].Recovered || a[0].Since != at(1) || a[0].Count != 2 {
		t.Fatalf("recovered: %+v", a)
	}
	// off: no state, no alerts
	off := New(Config{}, t0)
	off.Audit("x", at(1))
	off.Node("n", at(1))
	off.MissingNode("n", "p", at(999))
	off.Evicted(5, at(2))
	off.RulesLoaded(errors.New("x"), at(3))
	if a := off.Tick(at(9999)); len(a) != 0 {
		t.Fatalf("off: %+v", a)
	}
}

func TestRequeue(t *testing.T) {
	tr := New(Config{EvictionClear: time.Minute, Rules: true}, t0)
	tr.Evicted(1, at(1))
	a := tr.Tick(at(1))
	tr.RulesLoaded(errors.New("bad"), at(2))
	tr.Requeue(a)
	b := tr.Tick(at(2))
	if len(b) != 2 || b[0].Kind != Evicted || b[1].Kind != RulesUnreadable {
		t.Fatalf("requeued: %+v", b)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{AuditSilence: -1}).Validate(); err == nil {
		t.Fatal("negative accepted")
	}
	if err := (Config{AuditSilence: time.Minute}).Validate(); err != nil {
		t.Fatal(err)
	}
}
