// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// TestAllocations: evaluating the pack's conditions on a record does not
// allocate (the environment is not boxed anew, see envValue), except when
// rules of allocWhenFiring fire: once for the image reference PT-0020,
// PT-0021 or PT-0024 returns, twice for the message PT-0052 builds ("repo:tag
// resolves to sha256:..."); each other rule's condition on its own
// allocates nothing, its record functions recomputed (Forget) or not.
// Findings allocate (their output fields and strings).
// allocWhenFiring: the allocations of the rules whose conditions allocate
// when they fire (their functions' results are built from the record).
var allocWhenFiring = map[string]float64{"PT-0020": 1, "PT-0021": 1, "PT-0024": 1, "PT-0052": 2}

func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	e := loadPack(t)
	records := append(demoRecords(t), fixtureRecords(t)...)
	dst := make([]int, 0, e.Len())
	for _, r := range records {
		fs, _ := e.Evaluate(r) // warm up: VMs, image cache
		want := 0.0
		fired := map[string]bool{}
		for _, id := range ids(fs) {
			want += allocWhenFiring[id]
			fired[id] = true
		}
		if n := testing.AllocsPerRun(20, func() { dst, _ = e.Match(r, dst[:0]) }); n > want || len(fs) == 0 && n != 0 {
			t.Errorf("%s: %v allocations for the conditions, want %v", r.DisplayName(), n, want)
		}
		s := e.NewSession(r)
		for i, rule := range e.EnabledRules() {
			n := testing.AllocsPerRun(5, func() {
				s.Forget()
				_, _ = s.Match(i)
			})
			if n != 0 && !(fired[rule.ID] && n <= allocWhenFiring[rule.ID]) {
				t.Errorf("%s: %s allocates %v", r.DisplayName(), rule.ID, n)
			}
		}
		s.Close()
	}
	quiet := demoRecords(t)[0] // kube-proxy's own pod: no finding
	if n := testing.AllocsPerRun(20, func() { _, _ = e.Evaluate(quiet) }); n != 0 {
		t.Errorf("Evaluate on a quiet record: %v allocations, want 0", n)
	}
}

// BenchmarkDefaultPack evaluates the whole default pack (conditions, and
// outputs of the rules that fire) on one record: quiet is kube-proxy's own
// pod (no finding), lookalike alice's kube-proxy-x7b2q (6 findings),
// conditions the same without building findings; new-image is the
// lookalike record with an image reference never seen before on every
// evaluation (a miss of the parsed-reference and image-verdict caches: the
// first pod of a new image). It reports the mean, the median of single
// evaluations (p50-ns), ns per rule and allocations.
func BenchmarkDefaultPack(b *testing.B) {
	e := loadPack(b)
	demo := demoRecords(b)
	for _, bc := range []struct {
		name       string
		r          *podrecord.Record
		conditions bool
		newImage   bool
	}{
		{"quiet", demo[0], false, false},
		{"lookalike", demo[2], false, false},
		{"lookalike/conditions", demo[2], true, false},
		{"lookalike/new-image", demo[2], false, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]int, 0, e.Len())
			recs := []*podrecord.Record{bc.r}
			if bc.newImage {
				recs = make([]*podrecord.Record, b.N+1)
				for i := range recs {
					r := *bc.r
					r.Containers = append([]podrecord.Container(nil), bc.r.Containers...)
					r.Containers[0].Image = fmt.Sprintf("%s-%d", bc.r.Containers[0].Image, i)
					recs[i] = &r
				}
			}
			run := func(i int) {
				r := recs[i%len(recs)]
				if bc.conditions {
					dst, _ = e.Match(r, dst[:0])
				} else {
					_, _ = e.Evaluate(r)
				}
			}
			run(b.N)
			times := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				run(i)
				times[i] = time.Since(t0)
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*e.Len()), "ns/rule")
		})
	}
}

// BenchmarkRule measures each enabled rule's condition on its own on the
// lookalike record, its record functions recomputed every time (Forget):
// the cost a rule adds to the pack at most.
func BenchmarkRule(b *testing.B) {
	e := loadPack(b)
	r := demoRecords(b)[2]
	for i, rule := range e.EnabledRules() {
		b.Run(rule.ID, func(b *testing.B) {
			s := e.NewSession(r)
			defer s.Close()
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				s.Forget()
				_, _ = s.Match(i)
			}
		})
	}
}

// TestIterationAllocates shows what the README's walkthrough says of its
// rule: iterating pod.containers in expr copies each container.
func TestIterationAllocates(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	e, err := Load(filepath.Join("testdata", "walkthrough", "rules.yaml"), filepath.Join("testdata", "walkthrough", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		r := &podrecord.Record{Allowed: true, Containers: ctr(make([]string, n)...)}
		for i := range r.Containers {
			r.Containers[i].Image = "ghcr.io/acme/app:1"
		}
		s := e.NewSession(r)
		got := testing.AllocsPerRun(10, func() { _, _ = s.Match(0) })
		s.Close()
		if got < float64(n) {
			t.Errorf("%d containers: %v allocations", n, got)
		}
	}
}
