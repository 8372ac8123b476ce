// SPDX-License-Identifier: Apache-2.0

package lookalike

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSkeleton: the skeleton is a fixed point of itself, and Confusable's
// streaming comparison of ASCII strings agrees with comparing skeletons.
func FuzzSkeleton(f *testing.F) {
	for _, s := range []string{"kube-proxy", "kube-prоxy", "ｋｕｂｅ", "𝐤𝐮𝐛𝐞", "rnetrics", "metrics", "c0redns", "coredns", "Ιstio", "é"} {
		f.Add(s, "kube-proxy")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		sa := Skeleton(a)
		if isASCII(a) && Skeleton(sa) != sa {
			t.Fatalf("Skeleton(%q) = %q, whose skeleton is %q", a, sa, Skeleton(sa))
		}
		want := a != b && sa == Skeleton(b)
		if got := Confusable(a, b); got != want {
			t.Fatalf("Confusable(%q, %q) = %v, skeletons %q %q", a, b, got, sa, Skeleton(b))
		}
		_ = MixedScript(a)
	})
}

// FuzzDistance: the banded check agrees with the full distance; the
// distance is symmetric; Jaro-Winkler stays within [0, 1] and its bound.
func FuzzDistance(f *testing.F) {
	for _, s := range [][2]string{{"kube-proxy", "kube-prxoy"}, {"ab", "ba"}, {"ca", "abc"}, {"", "x"}, {"martha", "marhta"}, {"kubе", "kube"}} {
		f.Add(s[0], s[1], 2)
	}
	f.Fuzz(func(t *testing.T, a, b string, k int) {
		if len(a) > 40 || len(b) > 40 || k < 0 || k > 8 {
			return
		}
		d := Distance(a, b)
		if d != Distance(b, a) {
			t.Fatalf("Distance(%q, %q) = %d, reversed %d", a, b, d, Distance(b, a))
		}
		if got := WithinDistance(a, b, k); got != (d <= k) {
			t.Fatalf("withinDistance(%q, %q, %d) = %v, distance %d", a, b, k, got, d)
		}
		j := JaroWinkler(a, b)
		if j < 0 || j > 1+1e-9 || a != b && j > MaxJaroWinkler(utf8.RuneCountInString(a), utf8.RuneCountInString(b))+1e-9 {
			t.Fatalf("JaroWinkler(%q, %q) = %v", a, b, j)
		}
		// Past MaxCompare runes: still symmetric, at least the difference
		// in length, at most the longer length, and the same for the banded
		// check and the similarity's bounds.
		if a == "" || b == "" {
			return
		}
		la, lb := strings.Repeat(a, MaxCompare/len(a)+2)+b, strings.Repeat(b, MaxCompare/len(b)+2)+a
		na, nb := utf8.RuneCountInString(la), utf8.RuneCountInString(lb)
		d = Distance(la, lb)
		if d != Distance(lb, la) || d < max(na-nb, nb-na) || d > max(na, nb) {
			t.Fatalf("Distance of long %q, %q = %d (reversed %d), lengths %d, %d", a, b, d, Distance(lb, la), na, nb)
		}
		if got := WithinDistance(la, lb, k); got != (d <= k) {
			t.Fatalf("withinDistance of long %q, %q, %d = %v, distance %d", a, b, k, got, d)
		}
		if j := JaroWinkler(la, lb); j < 0 || j > 1+1e-9 || la != lb && j > MaxJaroWinkler(na, nb)+1e-9 {
			t.Fatalf("JaroWinkler of long %q, %q = %v", a, b, j)
		}
	})
}

// FuzzNearMissKnown: the character and length filters never rule out a
// near miss nearMiss finds.
func FuzzNearMissKnown(f *testing.F) {
	for _, s := range [][2]string{{"kube-proxy", "kube-prxoy"}, {"coredns", "cordns"}, {"aws-node", "aws-n0de"}, {"ab", "ba"}, {"kubе", "kube"}, {"", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := NearMissKnown(a, KeyOf(a), b, KeyOf(b)), NearMiss(a, b); got != want {
			t.Fatalf("nearMissKnown(%q, %q) = %v, nearMiss %v", a, b, got, want)
		}
	})
}
