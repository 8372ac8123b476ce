// SPDX-License-Identifier: Apache-2.0

package lookalike

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{
		{"kube-proxy", "kube-proxy", 0}, {"kube-prxoy", "kube-proxy", 1}, {"cordns", "coredns", 1}, {"", "abc", 3},
		{"abc", "", 3}, {"kube-pr0xy", "kube-proxy", 1}, {"ab", "ba", 1}, {"ca", "abc", 3}, {"kitten", "sitting", 3},
		{"kubе-proxy", "kube-proxy", 1}, // Cyrillic е: one rune
		{strings.Repeat("a", 70), strings.Repeat("a", 69) + "b", 1},
	} {
		if got := Distance(tt.a, tt.b); got != tt.d {
			t.Errorf("Distance(%s,%s) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
		for k := 0; k <= 4; k++ {
			if got := WithinDistance(tt.a, tt.b, k); got != (tt.d <= k) {
				t.Errorf("withinDistance(%s,%s,%d) = %v, distance %d", tt.a, tt.b, k, got, tt.d)
			}
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	// values from Winkler (1990) and the usual references
	for _, tt := range []struct {
		a, b string
		jw   float64
	}{
		{"martha", "marhta", 0.9611}, {"dwayne", "duane", 0.84}, {"dixon", "dicksonx", 0.8133}, {"abc", "abc", 1},
		{"abc", "xyz", 0}, {"", "abc", 0}, {"kube-proxy", "kube-prxoy", 0.98}, {"kube-proxyy-agent", "kube-proxy", 0.9176},
		{"mаrtha", "mаrhta", 0.9611}, // Cyrillic а in both: runes
	} {
		if got := JaroWinkler(tt.a, tt.b); math.Abs(got-tt.jw) > 0.0001 {
			t.Errorf("JaroWinkler(%s,%s) = %.4f, want %.4f", tt.a, tt.b, got, tt.jw)
		}
		if bound := MaxJaroWinkler(utf8.RuneCountInString(tt.a), utf8.RuneCountInString(tt.b)); tt.jw > bound+1e-9 && tt.a != tt.b {
			t.Errorf("bound %.4f below %.4f for %s,%s", bound, tt.jw, tt.a, tt.b)
		}
	}
}

func TestSkeleton(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"kube-proxy", "kube-proxy"},
		{"kube-pr0xy", "kube-proxy"},
		{"kube-prоxy", "kube-proxy"}, // Cyrillic о
		{"kube-ргоху", "kube-proxy"}, // Cyrillic р, г, о, х, у
		{"ｋｕｂｅ-ｐｒｏｘｙ", "kube-proxy"}, // fullwidth
		{"𝐤𝐮𝐛𝐞", "kube"},             // mathematical bold
		{"kubé", "kube"},             // combining mark dropped
		{"KUBE-PROXY", "kube-proxy"},
		{"coredns", "coreclns"}, // d → cl, as confusables.txt
		{"metrics", "rnetrics"}, // m → rn
		{"1ocal", "local"},      // 1 → l
		{"Ιstio", "lstio"},      // Greek capital iota → l
		{"vvatch", "vvatch"},
		{"watch", "vvatch"},
		{"日本", "日本"}, // outside the table: kept
	} {
		if got := Skeleton(tt.in); got != tt.want {
			t.Errorf("Skeleton(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"kube-pr0xy", "kube-proxy", true}, {"rnetrics-server", "metrics-server", true}, {"c0redns", "coredns", true},
		{"kube-proxy", "kube-proxy", false}, {"kube-proxy", "kube-proxi", false}, {"аdmin", "admin", true}, {"clns", "dns", true},
	} {
		if got := Confusable(tt.a, tt.b); got != tt.want {
			t.Errorf("Confusable(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"kube-proxy", false}, {"kube-prоxy", true}, {"аdmin@example.com", true}, {"αβγ", false}, {"ｋube", false},
		{"δοκιμή-test", true}, {"日本語テスト", true}, {"kube-1.2_3", false},
	} {
		if got := MixedScript(tt.in); got != tt.want {
			t.Errorf("MixedScript(%q) = %v", tt.in, got)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ in, base string }{
		{"kube-proxy-x7b2q", "kube-proxy"},
		{"web-796cf5c97c-kx68n", "web"},
		{"report-nightly-29411040-8dk2x", "report-nightly"},
		{"kube-proxy-", "kube-proxy"},
		{"mysql-0", "mysql"},
		{"kube-proxy-debug", "kube-proxy-debug"},
		{"kube-proxy", "kube-proxy"},
	} {
		if got := BaseName(tt.in); got != tt.base {
			t.Errorf("BaseName(%s) = %s, want %s", tt.in, got, tt.base)
		}
	}
	if !IsControllerSuffix("x7b2q") || IsControllerSuffix("abcde") || IsControllerSuffix("") || IsControllerSuffix("x1b2q") {
		t.Error("IsControllerSuffix")
	}
	for _, tt := range []struct {
		s, kind string
		want    bool
	}{
		{"x7b2q", "random", true}, {"x7b2q", "DaemonSet", true}, {"x7b2", "pod", false}, {"x7b2qq", "Job", false}, {"a7b2q", "random", false},
		{"668d6bf9bc", "ReplicaSet", true}, {"7c9d8f6b5", "hash", true}, {"5d8f7c", "Deployment", true}, {"5d8f7", "hash", false},
		{"668d6bf9bc4", "hash", false}, {"x7b2qx7b2q", "hash", false}, // x, q, 2 are never in a hash
		{"0", "StatefulSet", true}, {"12", "ordinal", true}, {"01", "ordinal", false}, {"a", "ordinal", false},
		{"29919435", "CronJob", true}, {"2991943", "schedule", false}, {"x7b2q", "Pod", false},
	} {
		if got := ControllerSuffix(tt.s, tt.kind); got != tt.want {
			t.Errorf("ControllerSuffix(%s, %s) = %v", tt.s, tt.kind, got)
		}
	}
	for _, tt := range []struct {
		in   string
		want bool
	}{{"kube-proxy-x7b2q", true}, {"web-796cf5c97c-kx68n", true}, {"tf-smoke", false}, {"x7b2q", false}, {"node-exporter-debug", false}} {
		if got := HasGeneratedSuffix(tt.in); got != tt.want {
			t.Errorf("HasGeneratedSuffix(%s) = %v", tt.in, got)
		}
	}
}
