// SPDX-License-Identifier: Apache-2.0

package lookalike

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// long inputs: names in Kubernetes are at most 253 bytes and label values
// 63, but a record's strings come from what a client or a node sent.
var (
	longASCII    = strings.Repeat("kube-proxy-", 7300)[:80_000]
	longASCII2   = strings.Repeat("kube-prxoy-", 7300)[:80_000]
	longCyrillic = strings.Repeat("кубе-ргоху-", 7300)[:80_000] // 2 bytes a letter
)

// within fails t when f takes longer than limit (it keeps running in its
// goroutine: a test of the unbounded code fails instead of hanging).
func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); f() }()
	select {
	case <-done:
		t.Logf("%s: %v", what, time.Since(start))
	case <-time.After(limit):
		t.Fatalf("%s: not done within %v", what, limit)
	}
}

// TestLongInputsBounded: each similarity function on 80 000-character
// strings returns within a bound (before: 30–45 s for two long strings), and
// the results keep their meaning: a long string is far from and not similar
// to a short name, and strings up to MaxCompare runes are compared exactly.
func TestLongInputsBounded(t *testing.T) {
	limit := 200 * time.Millisecond
	if raceEnabled {
		limit = 2 * time.Second
	}
	before := LongInputs()
	pairs := [][2]string{
		{longASCII, longASCII2}, {longASCII, longCyrillic}, {longCyrillic, longCyrillic + "x"},
		{longASCII, "kube-proxy"}, {"kube-proxy", longCyrillic},
	}
	for _, p := range pairs {
		a, b := p[0], p[1]
		name := func(s string) string { return s[:min(len(s), 12)] + "…" + string(rune('0'+len(s)%10)) }
		within(t, limit, "Distance "+name(a)+" "+name(b), func() {
			d := Distance(a, b)
			la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
			if d < max(la-lb, lb-la) || d > max(la, lb) || d != Distance(b, a) {
				t.Errorf("Distance = %d for lengths %d, %d", d, la, lb)
			}
		})
		within(t, limit, "withinDistance", func() {
			near := Distance(a, b) <= 2 // long+x: one edit
			if WithinDistance(a, b, 2) != near || NearMiss(a, b) != near {
				t.Errorf("withinDistance, nearMiss: want %v", near)
			}
		})
		within(t, limit, "JaroWinkler", func() {
			j := JaroWinkler(a, b)
			if j < 0 || j > MaxJaroWinkler(utf8.RuneCountInString(a), utf8.RuneCountInString(b))+1e-9 {
				t.Errorf("JaroWinkler = %v", j)
			}
		})
		within(t, limit, "Confusable", func() {
			if Confusable(a, b) {
				t.Error("long strings confusable")
			}
		})
	}
	if LongInputs() == before {
		t.Error("long inputs not counted")
	}
	// Up to MaxCompare runes nothing changes.
	a := strings.Repeat("ab", MaxCompare/2)
	if d := Distance(a, "b"+a[1:]); d != 1 {
		t.Errorf("Distance at MaxCompare runes = %d", d)
	}
	if d := Distance(a+"x", a+"y"); d != 1 {
		t.Errorf("past MaxCompare: Distance of strings that differ in their last rune = %d, want 1", d)
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{longASCII, longASCII + "z", 1}, {longCyrillic + "x", longCyrillic, 1}, {longCyrillic, longCyrillic[:40_000] + "-" + longCyrillic[40_002:], 1},
	} {
		if d := Distance(c.a, c.b); d != c.d {
			t.Errorf("Distance of long strings %d runes apart: %d", c.d, d)
		}
	}
}

// BenchmarkLongInputs: the cost of one call stops growing past MaxCompare
// runes (a 253-character name and an 80 000-character string cost about
// the same), and allocations stay bounded.
func BenchmarkLongInputs(b *testing.B) {
	for _, bc := range []struct {
		name string
		a, b string
	}{
		{"name10", "kube-proxy", "kube-prxoy"},
		{"name253", strings.Repeat("kube-proxy-", 23)[:253], strings.Repeat("kube-prxoy-", 23)[:253]},
		{"ascii80k", longASCII, longASCII2},
		{"cyrillic80k", longCyrillic, longCyrillic + "x"},
	} {
		b.Run("Distance/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Distance(bc.a, bc.b)
			}
		})
		b.Run("JaroWinkler/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				JaroWinkler(bc.a, bc.b)
			}
		})
		b.Run("Confusable/"+bc.name, func(b *testing.B) {
			other := bc.b + "q"
			b.ReportAllocs()
			for b.Loop() {
				Confusable(bc.a, other)
			}
		})
	}
}
