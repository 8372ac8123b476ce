// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"math"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/podtrail/podtrail/internal/podrecord"
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
			if got := withinDistance(tt.a, tt.b, k); got != (tt.d <= k) {
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
		if bound := maxJaroWinkler(utf8.RuneCountInString(tt.a), utf8.RuneCountInString(tt.b)); tt.jw > bound+1e-9 && tt.a != tt.b {
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

func TestNameFitsOwner(t *testing.T) {
	long := strings.Repeat("a", 60)
	for _, tt := range []struct {
		name string
		r    podrecord.Record
		want bool
	}{
		{"no owner", podrecord.Record{Name: "x"}, true},
		{"name unknown", podrecord.Record{Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"}}, true},
		{"replicaset", podrecord.Record{Name: "web-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"},
			Labels: map[string]string{"pod-template-hash": "796cf5c97c"}}, true},
		{"hash label not the owner's", podrecord.Record{Name: "web-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"},
			Labels: map[string]string{"pod-template-hash": "5d8f7c9b6d"}}, false},
		{"another replicaset's name", podrecord.Record{Name: "api-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"}}, false},
		{"generateName cut to 58", podrecord.Record{Name: (long + "-")[:58] + "kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: long}}, true},
		{"daemonset revision hash", podrecord.Record{Name: "ds-kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: "ds"},
			Labels: map[string]string{"controller-revision-hash": "7b9f8c5d64"}}, true},
		{"daemonset revision hash forged", podrecord.Record{Name: "ds-kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: "ds"},
			Labels: map[string]string{"controller-revision-hash": "latest"}}, false},
		{"job", podrecord.Record{Name: "report-29919435-8dk2x", Owner: podrecord.Owner{Kind: "Job", Name: "report-29919435"}}, true},
		{"indexed job", podrecord.Record{Name: "shard-12-8dk2x", Owner: podrecord.Owner{Kind: "Job", Name: "shard"}}, true},
		{"statefulset", podrecord.Record{Name: "db-2", Owner: podrecord.Owner{Kind: "StatefulSet", Name: "db"}}, true},
		{"statefulset leading zero", podrecord.Record{Name: "db-02", Owner: podrecord.Owner{Kind: "StatefulSet", Name: "db"}}, false},
		{"mirror pod", podrecord.Record{Name: "etcd-node-a", Node: "node-a", Owner: podrecord.Owner{Kind: "Node", Name: "node-a"}}, true},
		{"mirror pod of another node", podrecord.Record{Name: "etcd-node-b", Node: "node-a", Owner: podrecord.Owner{Kind: "Node", Name: "node-a"}}, false},
		{"custom kind", podrecord.Record{Name: "anything", Owner: podrecord.Owner{Kind: "Workflow", Name: "w"}}, true},
	} {
		if got := nameFitsOwner(&tt.r); got != tt.want {
			t.Errorf("%s: nameFitsOwner = %v", tt.name, got)
		}
	}
}

func TestRepoLookalike(t *testing.T) {
	for _, tt := range []struct {
		image, ref string
		want       bool
	}{
		{"docker.io/kube-proxy-mirror/kube-proxy:v1.33.13", "registry.k8s.io/kube-proxy", true}, // same name elsewhere
		{"registry-k8s.io/kube-proxy:v1", "registry.k8s.io/kube-proxy", true},                   // host near miss
		{"registry.k8s.io.example.net/kube-proxy", "registry.k8s.io/kube-proxy", true},          // host extended
		{"regіstry.k8s.io/pause", "registry.k8s.io/kube-proxy", true},                           // host homoglyph (Cyrillic і)
		{"ghcr.io/acme-corp/cart:1.2.0", "ghcr.io/acme/*", true},                                // decorated organisation
		{"ghcr.io/acme2/cart", "ghcr.io/acme/*", true},
		{"ghcr.io/acrne/cart", "ghcr.io/acme/*", true}, // rn for m
		{"ghcr.io/acm/cart", "ghcr.io/acme/*", true},   // near miss
		{"docker.io/library/nginx", "docker.io/library/nginx", false},
		{"nginx:1.27", "docker.io/library/nginx", false},
		{"docker.io/evil/nginx", "docker.io/library/nginx", true},
		{"ghcr.io/acme/cart:1.2.0", "ghcr.io/acme/*", false},
		{"ghcr.io/other/cart", "ghcr.io/acme/*", false},
		{"gcr.io/x/kube-proxy", "ghcr.io/acme/*", false},     // two known registries
		{"us.gcr.io/project/app", "gcr.io/project/*", false}, // a subdomain
		{"quay.io/prometheus/node-exporter", "registry.k8s.io/kube-proxy", false},
		{"docker.io/alpine:3.20", "docker.io/library/nginx", false},
	} {
		if got := RepoLookalike(tt.image, tt.ref); got != tt.want {
			t.Errorf("RepoLookalike(%s, %s) = %v", tt.image, tt.ref, got)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, p := range []string{"kube-*", "ghcr.io/acme/*", "system:serviceaccount:ci:*", "exact", "a?c", "[ab]*", "*", "", `a\*`} {
		g := compileGlob(p)
		for _, s := range []string{"kube-proxy", "kube-", "ghcr.io/acme/x", "ghcr.io/acme/x/y", "system:serviceaccount:ci:runner",
			"system:serviceaccount:ci:a/b", "exact", "abc", "bcd", "", "a*", "x"} {
			want, _ := path.Match(p, s)
			if got := g.match(s); got != want {
				t.Errorf("glob %q on %q: %v, path.Match %v", p, s, got, want)
			}
		}
	}
}

func TestCIDR(t *testing.T) {
	e, err := Compile("r.yaml", []byte(`
rules:
  - id: in
    condition: cidrMatch(pod.source_ips, ["10.0.0.0/8", "fc00::/7"])
  - id: first
    condition: len(pod.source_ips) > 0 && cidrMatch(pod.source_ips[0], "192.168.1.0/24")
`), &Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ips  []string
		want []string
	}{
		{[]string{"10.1.2.3"}, []string{"in"}},
		{[]string{"::ffff:10.1.2.3"}, []string{"in"}},
		{[]string{"fd00::1"}, []string{"in"}},
		{[]string{"192.168.1.7", "10.0.0.1"}, []string{"in", "first"}},
		{[]string{"192.168.1.7"}, []string{"first"}},
		{[]string{"203.0.113.1", "not-an-ip"}, nil},
		{nil, nil},
	} {
		fs, errs := e.Evaluate(&podrecord.Record{SourceIPs: tt.ips})
		if len(errs) > 0 || strings.Join(ids(fs), ",") != strings.Join(tt.want, ",") {
			t.Errorf("%v: fired %v %v, want %v", tt.ips, ids(fs), errs, tt.want)
		}
	}
}
