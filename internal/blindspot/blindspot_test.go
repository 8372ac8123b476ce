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
	cfg := Config{AuditSilence: 60 * time.Second, NodeSilence: 30 * time.Second, EvictionClear: 120 * time.Second, Rules: true, StageGap: 30 * time.Second}
	recv := func(id string) func(*Tracker, time.Time) {
		return func(tr *Tracker, now time.Time) { tr.Received("prod", Request{AuditID: id, Namespace: "shop"}, now) }
	}
	final := func(id string) func(*Tracker, time.Time) {
		return func(tr *Tracker, now time.Time) { tr.Final("prod", Request{AuditID: id}, false, now) }
	}
	panicked := func(id string) func(*Tracker, time.Time) {
		return func(tr *Tracker, now time.Time) { tr.Final("prod", Request{AuditID: id, Namespace: "shop"}, true, now) }
	}
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
		{"stages complete: no gap", []step{
			{1, recv("r1"), nil},
			{2, final("r1"), nil},
			{3, final("r2"), nil}, // final before its RequestReceived (another batch)
			{4, recv("r2"), nil},
			{4, recv("r1"), nil}, // a webhook's retry of a completed request: no longer followed
			{5, recv("r3"), nil}, // policy keeps RequestReceived, request takes 20 s
			{25, final("r3"), nil},
			{300, idle, nil},
		}},
		{"stage gap: one finding for many, recovered when final stages flow", []step{
			{1, recv("r1"), nil},
			{2, recv("r2"), nil},
			{2, recv("r2"), nil}, // retry
			{30, idle, nil},
			{31, idle, []string{"audit_stage_gap:prod"}},
			{32, idle, nil}, // r2: counted, not another finding
			{40, recv("r3"), nil},
			{41, final("r3"), nil}, // complete, but the last gap is 9 s old
			{61, idle, nil},
			{62, idle, []string{"audit_stage_gap:prod:recovered"}},
			{200, idle, nil},
		}},
		{"stage gap: no final stage since, stays open", []step{
			{1, recv("r1"), nil},
			{31, idle, []string{"audit_stage_gap:prod"}},
			{500, idle, nil},
			{501, final("x"), []string{"audit_stage_gap:prod:recovered"}},
			{502, idle, nil},
		}},
		{"stage gap: a Panic stage is one at once", []step{
			{1, recv("r1"), nil},
			{2, panicked("r1"), []string{"audit_stage_gap:prod"}},
			{3, panicked("r9"), nil}, // no RequestReceived seen: counted
			{20, recv("r4"), nil},
			{20, final("r4"), nil}, // the last gap is 17 s old
			{32, idle, nil},
			{33, idle, []string{"audit_stage_gap:prod:recovered"}},
			{120, idle, nil},
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

func TestStageGapFields(t *testing.T) {
	tr := New(Config{StageGap: 30 * time.Second}, t0)
	tr.Received("prod", Request{AuditID: "a1", Namespace: "shop", GenerateName: "web-", User: "alice", Received: at(0)}, at(1))
	tr.Received("prod", Request{AuditID: "a2", Namespace: "shop", Name: "cart"}, at(2))
	if s := tr.StageStats(); s.Pending != 2 {
		t.Fatalf("stats: %+v", s)
	}
	a := tr.Tick(at(40))
	if len(a) != 1 || a[0].Since != at(1) || a[0].At != at(40) || a[0].Count != 1 || a[0].Source() != "audit" || a[0].Subject() != "prod" {
		t.Fatalf("gap: %+v", a)
	}
	if want := "auditID=a1 pod=shop/web-* user=alice received=2026-12-06T12:00:00Z"; a[0].Detail != want || a[0].Request.AuditID != "a1" {
		t.Fatalf("detail %q, want %q", a[0].Detail, want)
	}
	if open := tr.Open(); len(open) != 1 || open[0].Count != 2 || tr.Active() != 1 {
		t.Fatalf("open: %+v", open)
	}
	tr.Final("prod", Request{AuditID: "a3"}, false, at(41))
	a = tr.Tick(at(71))
	if len(a) != 1 || !a[0].Recovered || a[0].Count != 2 || a[0].Since != at(1) || tr.Active() != 0 {
		t.Fatalf("recovered: %+v", a)
	}
	if s := tr.StageStats(); s.Pending != 0 || len(tr.done) != 0 {
		t.Fatalf("left: %+v, done %d", s, len(tr.done))
	}
	// bounded: past MaxStagePending a request is not followed
	for i := 0; i < MaxStagePending+5; i++ {
		tr.Received("prod", Request{AuditID: string(rune('a'+i%26)) + time.Duration(i).String()}, at(100))
	}
	if s := tr.StageStats(); s.Pending != MaxStagePending || s.Untracked != 5 {
		t.Fatalf("bound: %+v", s)
	}
	if n, again := tr.TakeUntracked(), tr.TakeUntracked(); n != 5 || again != 0 {
		t.Fatalf("TakeUntracked: %d, then %d", n, again)
	}
	// off: nothing kept
	off := New(Config{}, t0)
	off.Received("prod", Request{AuditID: "x"}, at(1))
	off.Final("prod", Request{AuditID: "x"}, true, at(1))
	if len(off.Tick(at(999))) != 0 || off.StageStats().Pending != 0 || off.StageGaps() {
		t.Fatal("off keeps state")
	}
}

// BenchmarkStageGap: one pod create's RequestReceived and ResponseComplete
// paired, with 1,000 others pending.
func BenchmarkStageGap(b *testing.B) {
	tr := New(Config{StageGap: time.Minute}, t0)
	for i := 0; i < 1000; i++ {
		tr.Received("prod", Request{AuditID: "pending-" + time.Duration(i).String()}, at(0))
	}
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = "req-" + time.Duration(i).String()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		i++
		tr.Received("prod", Request{AuditID: id, Namespace: "shop", User: "alice"}, at(1))
		tr.Final("prod", Request{AuditID: id}, false, at(1))
		if i%len(ids) == 0 {
			tr.Tick(at(1000)) // forget the finals, keep the loop's maps small
			for j := 0; j < 1000; j++ {
				tr.Received("prod", Request{AuditID: "pending-" + time.Duration(j).String()}, at(1000))
			}
		}
	}
}
