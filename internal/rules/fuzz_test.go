// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/podtrail/podtrail/internal/podrecord"
)

func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c@sha256:d", "localhost:5000/x", ":", "@", "/:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref := ParseImage(s)
		if ref.Valid() && ref.Tag == "" && ref.Digest == "" {
			t.Fatalf("%q: neither tag nor digest", s)
		}
	})
}

// FuzzCompile compiles rule files with lists and macros and evaluates what
// compiles on a record: no panic, and the fast path agrees with expr.
func FuzzCompile(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(packDir, "rules.yaml")); err == nil {
		f.Add(string(data))
	}
	f.Add("rules:\n  - id: A\n    condition: pod.name == \"x\"\n")
	f.Add("rules: [{id: B, condition: 'imitates(pod) != \"\"', output: {a: pod.uid}}]")
	f.Add("lists: {l: [a, b]}\nmacros: {m: 'pod.name in l', n: 'm || false'}\nrules: [{id: C, condition: n}]\n")
	f.Add("macros: {a: b, b: a}\nrules: [{id: D, condition: a}]\n")
	f.Add("lists: {nets: ['10.0.0.0/8']}\nrules: [{id: E, condition: 'cidrMatch(pod.source_ips, nets) && glob(pod.name, [\"a*\"])'}]\n")
	inv := &Inventory{Workloads: []Workload{{Namespace: "ns", Name: "web", Kind: "Deployment", Labels: map[string]string{"app": "web"}}}}
	r := &podrecord.Record{Namespace: "ns", Name: "web-x7b2q", Labels: map[string]string{"app": "web"}, SourceIPs: []string{"10.0.0.1"},
		Containers: ctr("nginx")}
	f.Fuzz(func(t *testing.T, rules string) {
		e, err := compile("f.yaml", []byte(rules), inv, true)
		if err != nil {
			return
		}
		slow, err := compile("f.yaml", []byte(rules), inv, false)
		if err != nil {
			t.Fatalf("compiles with the fast path only: %v", err)
		}
		f1, e1 := e.Evaluate(r)
		f2, e2 := slow.Evaluate(r)
		if len(e1) == 0 && len(e2) == 0 && len(f1) != len(f2) {
			t.Fatalf("fast %v, slow %v", ids(f1), ids(f2))
		}
	})
}

func FuzzParseInventory(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(packDir, "inventory.yaml")); err == nil {
		f.Add(string(data))
	}
	f.Add("namespaces: [{name: shop, creators: [\"system:serviceaccount:ci:*\"], channels: [helm], require_digest: true}]\n")
	f.Add("images: [{repository: \"ghcr.io/acme/*\", digests: [\"sha256:00\"]}]\n")
	f.Add("workloads: [{namespace: a, name: b, name_pattern: 'b-*', labels: {x: y}, service_account: s}]\ntrusted_identities: [ci]\n")
	f.Fuzz(func(t *testing.T, data string) {
		inv, err := ParseInventory("inventory.yaml", []byte(data))
		if err != nil {
			return
		}
		r := &podrecord.Record{Namespace: "shop", Name: "kube-proxy-x7b2q", ServiceAccount: "s", Labels: map[string]string{"x": "y"},
			Containers: ctr("nginx", "ghcr.io/acme-corp/x@sha256:1")}
		_ = inv.Imitates(r)
		_ = inv.CreatorAllowed(r)
		_ = inv.ImageApproved(r.Containers[0].Image)
		e, err := Compile("r.yaml", []byte("rules: []"), inv)
		if err != nil {
			t.Fatal(err)
		}
		ix := e.index
		ev := &evaluator{gen: 1, rec: r}
		ni := ev.names(ix)
		_, _, _ = ix.imitates(ni), ix.homoglyphOf(r, ni, &ev.scratch), ix.similarWorkload(r, ni, 0.9)
		_, _, _ = ix.labelMimicry(r), ix.labelValueLookalike(r, ni, &ev.scratch), ix.workloadMismatch(r, ni)
		_, _, _ = ix.serviceAccountBorrowed(r), ix.serviceAccountLookalike(r), ix.identityLookalike(r)
		_, _, _ = ix.digestMismatch(r), ix.digestMissing(r), ix.podImageLookalike(r)
		if ix.creatorAllowed(r) != inv.CreatorAllowed(r) || ix.approved(ParseImage(r.Containers[1].Image)) != inv.ImageApproved(r.Containers[1].Image) {
			t.Fatal("compiled globs disagree with path.Match")
		}
	})
}

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

// FuzzRepoLookalike: no image imitates its own repository or a glob that
// approves it.
func FuzzRepoLookalike(f *testing.F) {
	for _, s := range [][2]string{
		{"docker.io/kube-proxy-mirror/kube-proxy:v1", "registry.k8s.io/kube-proxy"}, {"ghcr.io/acme-corp/cart", "ghcr.io/acme/*"},
		{"registry-k8s.io/x", "registry.k8s.io/x"}, {"nginx", "docker.io/library/nginx"}, {"", ""}, {"a/b/c/d", "a/*"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, image, ref string) {
		_ = RepoLookalike(image, ref)
		repo := ParseImage(image).Repository
		if strings.ContainsAny(repo, `*?[\`) {
			return // a glob, not a repository
		}
		if RepoLookalike(image, repo) {
			t.Fatalf("%q imitates its own repository %q", image, repo)
		}
		if validGlob(repo+"/*") && RepoLookalike(repo+"/x", repo+"/*") {
			t.Fatalf("%q/x imitates %q/*", repo, repo)
		}
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
		if got := withinDistance(a, b, k); got != (d <= k) {
			t.Fatalf("withinDistance(%q, %q, %d) = %v, distance %d", a, b, k, got, d)
		}
		j := JaroWinkler(a, b)
		if j < 0 || j > 1+1e-9 || a != b && j > maxJaroWinkler(utf8.RuneCountInString(a), utf8.RuneCountInString(b))+1e-9 {
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
		if got := withinDistance(la, lb, k); got != (d <= k) {
			t.Fatalf("withinDistance of long %q, %q, %d = %v, distance %d", a, b, k, got, d)
		}
		if j := JaroWinkler(la, lb); j < 0 || j > 1+1e-9 || la != lb && j > maxJaroWinkler(na, nb)+1e-9 {
			t.Fatalf("JaroWinkler of long %q, %q = %v", a, b, j)
		}
	})
}

// FuzzGlob: the compiled glob agrees with path.Match.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"kube-*", "kube-proxy"}, {"a/*", "a/b/c"}, {"[ab]*", "bc"}, {`a\*`, "a*"}, {"*", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		want, err := path.Match(p, s)
		if err != nil || !validGlob(p) {
			return
		}
		g := compileGlob(p)
		if got := g.match(s); got != want {
			t.Fatalf("glob %q on %q: %v, path.Match %v", p, s, got, want)
		}
	})
}
