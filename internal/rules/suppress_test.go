// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func dsPod(i int) *podrecord.Record {
	return &podrecord.Record{Namespace: "kube-system", Name: fmt.Sprintf("agent-%05d", i), Allowed: true,
		Owner: podrecord.Owner{Kind: "DaemonSet", Name: "agent"},
		Actor: podrecord.Actor{Username: "system:serviceaccount:kube-system:daemon-set-controller", Kind: podrecord.ActorController}}
}

func finding(id string) []Finding {
	return []Finding{{RuleID: id, Severity: "high", Output: []Field{{Key: "x", Value: id}}}}
}

// TestSuppressionCrashLoop: a DaemonSet whose pods are recreated every 10
// seconds for an hour, with a 10-minute window: one finding at once and one
// summary per window, with the count of the rest; the summary carries the
// last pod.
func TestSuppressionCrashLoop(t *testing.T) {
	s := NewSuppressor(SuppressionConfig{Window: 10 * time.Minute})
	var out []Finding
	var sums []Summary
	for i := 0; i < 360; i++ {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		sums = append(sums, s.Due(now)...)
		out = append(out, s.Filter(dsPod(i), finding("PT-0003"), now)...)
	}
	sums = append(sums, s.Due(t0.Add(2*time.Hour))...)
	if len(out) != 6 {
		t.Errorf("%d findings went out at once, want 6 (one per 10-minute window)", len(out))
	}
	if len(sums) != 6 {
		t.Fatalf("%d summaries, want 6", len(sums))
	}
	total := len(out)
	for i, sm := range sums {
		total += sm.Finding.Count
		if sm.Finding.Count != 59 || sm.Finding.RuleID != "PT-0003" || sm.Finding.Value("x") != "PT-0003" {
			t.Errorf("summary %d: %+v", i, sm.Finding)
		}
		if want := t0.Add(time.Duration(i)*10*time.Minute + 590*time.Second); !sm.Finding.Until.Equal(want) {
			t.Errorf("summary %d: until %v, want %v", i, sm.Finding.Until, want)
		}
		if sm.Record.Name != fmt.Sprintf("agent-%05d", i*60+59) {
			t.Errorf("summary %d: record %s, want the last pod of the window", i, sm.Record.Name)
		}
	}
	if total != 360 {
		t.Errorf("%d findings accounted for, want 360", total)
	}
	if st := s.Stats(); st.Suppressed != 354 || st.Summaries != 6 || st.Keys != 0 {
		t.Errorf("%+v", st)
	}
}

// TestSuppressionKeys: the key is rule, actor, namespace and owner (the
// top of the chain, or the owner without the controller's suffix); people
// are reported every time by default; records without an actor never
// collapse; a window with nothing kept back ends without a summary.
func TestSuppressionKeys(t *testing.T) {
	rs := func(owner string, chain ...string) *podrecord.Record {
		return &podrecord.Record{Namespace: "shop", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: owner}, Chain: chain,
			Actor: podrecord.Actor{Username: "system:serviceaccount:kube-system:replicaset-controller", Kind: podrecord.ActorController}}
	}
	ci := func(ns string) *podrecord.Record {
		return &podrecord.Record{Namespace: ns, Actor: podrecord.Actor{Username: "system:serviceaccount:ci:runner", Kind: podrecord.ActorServiceAccount}}
	}
	person := &podrecord.Record{Namespace: "shop", Actor: podrecord.Actor{Username: "alice", Kind: podrecord.ActorUser}}
	nodeOnly := &podrecord.Record{Namespace: "kube-system", Origin: podrecord.OriginNodeOnly}
	for _, tt := range []struct {
		name string
		a, b *podrecord.Record
		idB  string
		same bool
	}{
		{"two rollouts of one Deployment", rs("cart-6f7d9c8b4"), rs("cart-7d4cf56db6"), "R", true},
		{"the chain's top decides", rs("x-6f7d9c8b4", "ReplicaSet/x-6f7d9c8b4", "Deployment/cart"), rs("y-7d4cf56db6", "ReplicaSet/y-7d4cf56db6", "Deployment/cart"), "R", true},
		{"two Deployments", rs("cart-6f7d9c8b4"), rs("payments-6f7d9c8b4"), "R", false},
		{"another rule", rs("cart-6f7d9c8b4"), rs("cart-6f7d9c8b4"), "S", false},
		{"bare pods of one CI identity in one namespace", ci("build"), ci("build"), "R", true},
		{"in two namespaces", ci("build"), ci("test"), "R", false},
		{"a person", person, person, "R", false},
		{"no actor", nodeOnly, nodeOnly, "R", false},
	} {
		s := NewSuppressor(SuppressionConfig{Window: time.Minute})
		first := s.Filter(tt.a, finding("R"), t0)
		second := s.Filter(tt.b, finding(tt.idB), t0.Add(time.Second))
		if len(first) != 1 || (len(second) == 0) != tt.same {
			t.Errorf("%s: %d then %d findings went out", tt.name, len(first), len(second))
		}
		sums := s.Due(t0.Add(time.Hour))
		if tt.same && (len(sums) != 1 || sums[0].Finding.Count != 1) || !tt.same && len(sums) != 0 {
			t.Errorf("%s: summaries %+v", tt.name, sums)
		}
	}
	// people too, when asked
	s := NewSuppressor(SuppressionConfig{Window: time.Minute, ActorKinds: []string{podrecord.ActorUser}})
	if a, b := s.Filter(person, finding("R"), t0), s.Filter(person, finding("R"), t0); len(a) != 1 || len(b) != 0 {
		t.Errorf("actor_kinds [user]: %v %v", a, b)
	}
	// off
	s = NewSuppressor(SuppressionConfig{})
	for i := 0; i < 3; i++ {
		if got := s.Filter(ci("build"), finding("R"), t0); len(got) != 1 {
			t.Errorf("window 0: %v", got)
		}
	}
}

// TestSuppressionBounded: at most MaxKeys keys are held; the oldest window
// ends early, its summary still goes out; Flush ends every window.
func TestSuppressionBounded(t *testing.T) {
	s := NewSuppressor(SuppressionConfig{Window: time.Hour, MaxKeys: 100})
	pod := func(i int) *podrecord.Record {
		r := dsPod(i)
		r.Owner.Name = fmt.Sprintf("agent-%d", i)
		return r
	}
	for i := 0; i < 1000; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		s.Filter(pod(i), finding("R"), now)
		s.Filter(pod(i), finding("R"), now) // kept back: each key has a summary
		if st := s.Stats(); st.Keys > 100 {
			t.Fatalf("%d keys held", st.Keys)
		}
	}
	early := s.Due(t0.Add(1000 * time.Second))
	rest := s.Flush()
	if len(early) != 900 || len(rest) != 100 {
		t.Errorf("%d summaries of evicted keys, %d flushed; want 900 and 100", len(early), len(rest))
	}
	if st := s.Stats(); st.Evicted != 900 || st.Keys != 0 || st.Summaries != 1000 {
		t.Errorf("%+v", st)
	}
	if len(s.queue)-s.head != 0 || cap(s.queue) > 4096 {
		t.Errorf("queue %d/%d", len(s.queue)-s.head, cap(s.queue))
	}
}

// TestSuppressionConcurrent: findings from several goroutines are each
// sent or counted once (-race).
func TestSuppressionConcurrent(t *testing.T) {
	s := NewSuppressor(SuppressionConfig{Window: time.Hour})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				n := len(s.Filter(dsPod(i), finding(fmt.Sprint("R", i%5)), t0))
				s.Due(t0)
				mu.Lock()
				sent += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	counted := 0
	for _, sm := range s.Flush() {
		counted += sm.Finding.Count
	}
	if sent != 5 || sent+counted != 2000 {
		t.Errorf("sent %d, counted %d", sent, counted)
	}
}

func TestSuppressionConfigValidate(t *testing.T) {
	if err := (SuppressionConfig{Window: -time.Second, MaxKeys: -1, ActorKinds: []string{"robot"}}).Validate(); err == nil {
		t.Error("a bad configuration passed")
	}
	if err := (SuppressionConfig{Window: time.Minute, ActorKinds: []string{"user", "controller"}}).Validate(); err != nil {
		t.Error(err)
	}
}
