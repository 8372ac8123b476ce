// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
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
	inv := &inventory.Inventory{Workloads: []inventory.Workload{{Namespace: "ns", Name: "web", Kind: "Deployment", Labels: map[string]string{"app": "web"}}}}
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
		inv, err := inventory.Parse("inventory.yaml", []byte(data))
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
