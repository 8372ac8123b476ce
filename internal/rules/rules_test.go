// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

var (
	packDir = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")
	// packSources are the default pack with the shipped generic inventory
	// and the demo cluster's merged after it, as the demo runs them.
	packSources = Sources{Rules: []string{filepath.Join(packDir, "rules.yaml")},
		Inventory: []string{filepath.Join(packDir, "inventory.yaml"), demoInventory}}
	demoInventory = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo", "inventory.yaml")
)

func loadPack(t testing.TB) *Engine {
	t.Helper()
	e, err := LoadSources(packSources)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func packInventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	_, srcs, err := packSources.Read()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ParseInventories(srcs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func ctr(images ...string) []podrecord.Container {
	var cs []podrecord.Container
	for _, im := range images {
		cs = append(cs, podrecord.Container{Name: "c", Image: im, Type: "container"})
	}
	return cs
}

var (
	person = podrecord.Actor{Username: "alice@example.com", Kind: podrecord.ActorUser}
)

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID)
	}
	return out
}

func byRule(fs []Finding) map[string]Finding {
	out := map[string]Finding{}
	for _, f := range fs {
		out[f.RuleID] = f
	}
	return out
}

// TestPack checks the pack compiles to 37 enabled rules with ids in file
// order, each with a title, a description with false-positive guidance, a
// severity and MITRE references.
func TestPack(t *testing.T) {
	e := loadPack(t)
	all := e.Rules()
	if len(all) < 30 || e.Len() != len(all) {
		t.Fatalf("%d rules, %d enabled", len(all), e.Len())
	}
	var idsInOrder []string
	for _, r := range all {
		idsInOrder = append(idsInOrder, r.ID)
		if r.Title == "" || !strings.Contains(r.Description, "False positives") || r.Severity == "" || len(r.MITRE) == 0 ||
			!slices.Contains(r.MITRE, "DC0019") {
			t.Errorf("%s: title, description with false positives, severity and MITRE DC0019 are required", r.ID)
		}
	}
	if !sort.StringsAreSorted(idsInOrder) {
		t.Errorf("ids not in file order: %v", idsInOrder)
	}
}

// TestFindingOutput checks the outputs of the original rules, which the
// collector's demo test reads in its finding lines.
func TestFindingOutput(t *testing.T) {
	e := loadPack(t)
	r := podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-x7b2q", Actor: person, Allowed: true, Channel: "kubectl",
		Containers: ctr("docker.io/alpine:3.20", "registry.k8s.io/kube-proxy:v1.33.13")}
	fs, errs := e.Evaluate(&r)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := byRule(fs)
	want := map[string]map[string]string{
		"PT-0001": {"actor": "alice@example.com", "channel": "kubectl", "namespace": "kube-system"},
		"PT-0002": {"imitates": "kube-system/kube-proxy", "owner": "none", "actor": "alice@example.com"},
		"PT-0003": {"images": "docker.io/alpine:3.20"},
		"PT-0023": {"images": "docker.io/alpine:3.20,registry.k8s.io/kube-proxy:v1.33.13"},
	}
	for id, out := range want {
		if !reflect.DeepEqual(outputMap(got[id]), out) {
			t.Errorf("%s output %v, want %v", id, got[id].Output, out)
		}
	}
	if f := got["PT-0002"]; f.Severity != "critical" || f.MITRE[2] != "T1036.005" || f.Title != "Pod name imitates a system or approved workload" {
		t.Errorf("PT-0002: %+v", f)
	}
	forbidden := podrecord.Record{Namespace: "kube-system", Actor: podrecord.Actor{Username: "mallory", Kind: "user"}, Decision: "forbid", Code: 403, Reason: "no"}
	fs, _ = e.Evaluate(&forbidden)
	if len(fs) != 1 || !reflect.DeepEqual(outputMap(fs[0]), map[string]string{"actor": "mallory", "reason": "no"}) {
		t.Errorf("forbidden: %+v", fs)
	}
}

func TestCompileErrors(t *testing.T) {
	inv := &inventory.Inventory{}
	tests := []struct {
		name, rules string
		want        []string
	}{
		{"misspelt field", "rules:\n  - id: R1\n    condition: pod.namespce == \"x\"\n", []string{"r.yaml:2", `rule "R1"`, "namespce"}},
		{"not bool", "rules:\n  - id: R1\n    condition: pod.name\n", []string{`rule "R1"`, "bool"}},
		{"no id", "rules:\n  - condition: \"true\"\n", []string{"no id"}},
		{"duplicate", "rules:\n  - id: A\n    condition: \"true\"\n  - id: A\n    condition: \"true\"\n", []string{"r.yaml:4", "duplicate"}},
		{"bad severity", "rules:\n  - id: A\n    severity: urgent\n    condition: \"true\"\n", []string{"severity"}},
		{"bad output", "rules:\n  - id: A\n    condition: \"true\"\n    output: {x: \"pod.nope\"}\n", []string{"output x"}},
		{"every error reported", "rules:\n  - id: A\n    condition: \"x(\"\n  - id: B\n    condition: \"y(\"\n", []string{`rule "A"`, `rule "B"`}},
		{"bad yaml", "rules: [", []string{"r.yaml"}},
		{"misspelt key", "rules:\n  - id: A\n    conditon: \"true\"\n", []string{"r.yaml", "line 3", "conditon"}},
		{"unknown top-level key", "macro: {}\nrules: []\n", []string{"line 1", "macro"}},
		{"misspelt field in a macro", "macros:\n  m: pod.nmae == \"x\"\nrules:\n  - id: A\n    condition: m\n", []string{"r.yaml:2", `macro "m"`, "nmae"}},
		{"macro cycle", "macros:\n  a: b\n  b: a\nrules:\n  - id: A\n    condition: a\n", []string{"uses itself", "a -> b -> a"}},
		{"list named like a function", "lists:\n  glob: [x]\nrules: []\n", []string{"r.yaml:2", `list "glob"`, "already names"}},
		{"list named like a builtin", "lists:\n  len: [x]\nrules: []\n", []string{`list "len"`, "built-in"}},
		{"list named like a keyword", "lists:\n  in: [x]\nrules: []\n", []string{`list "in"`}},
		{"macro and list share a name", "lists:\n  x: [a]\nmacros:\n  x: \"true\"\nrules: []\n", []string{`macro "x"`, "same name"}},
		{"macro not an identifier", "macros:\n  a-b: \"true\"\nrules: []\n", []string{`macro "a-b"`, "identifier"}},
		{"list called", "lists:\n  ns: [a]\nrules:\n  - id: A\n    condition: ns(1)\n", []string{`rule "A"`, "list ns is not a function"}},
		{"let shadows a list", "lists:\n  ns: [a]\nrules:\n  - id: A\n    condition: let ns = 1; ns == 1\n", []string{"shadows"}},
		{"reserved identifier", "rules:\n  - id: A\n    condition: __callb(1, pod)\n", []string{"__callb is reserved"}},
		{"bad CIDR constant", "rules:\n  - id: A\n    condition: cidrMatch(pod.source_ips, \"10.0.0.0/33\")\n", []string{`rule "A"`, "cidrMatch", `bad CIDR "10.0.0.0/33"`}},
		{"bad CIDR in a list", "lists:\n  nets: [\"10.0.0.0/8\", \"nope\"]\nrules:\n  - id: A\n    condition: cidrMatch(pod.source_ips, nets)\n", []string{`bad CIDR "nope"`}},
		{"bad glob constant", "rules:\n  - id: A\n    condition: glob(pod.name, \"[a\")\n", []string{"glob", `bad pattern "[a"`}},
		{"unknown suffix kind", "rules:\n  - id: A\n    condition: controllerSuffix(pod.name, \"Pod\")\n", []string{"unknown kind"}},
		{"list items must be strings for the function", "rules:\n  - id: A\n    condition: nearAny(pod.name, [\"a\", 1], 1)\n", []string{"names must be strings"}},
		{"wrong argument type", "rules:\n  - id: A\n    condition: imitates(pod.name) != \"\"\n", []string{"imitates", "string"}},
		{"empty macro", "macros:\n  m: \" \"\nrules: []\n", []string{`macro "m"`, "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile("r.yaml", []byte(tt.rules), inv)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	disabled := "rules:\n  - id: A\n    enabled: false\n    condition: \"pod.not_yet\"\n"
	if e, err := Compile("r.yaml", []byte(disabled), inv); err != nil || e.Len() != 0 || len(e.Rules()) != 1 {
		t.Fatalf("a disabled rule is not compiled: %v %v", e, err)
	}
}

// TestListsAndMacros checks the expansion: lists become literals, macros
// their expressions with their precedence, in conditions and outputs, and
// only where an identifier names them.
func TestListsAndMacros(t *testing.T) {
	file := `
lists:
  namespace: [kube-system, kube-public]   # named like a field: pod.namespace stays a field
  names: [kube-proxy, coredns]
macros:
  sys: pod.namespace in namespace
  person_or_ci: pod.actor.kind == "user" || pod.channel == "ci"
  lookalike_sys: sys && nearAny(baseName(pod.name), names, 1)
rules:
  - id: precedence
    condition: pod.allowed && person_or_ci
  - id: nested
    condition: lookalike_sys
    output:
      names: join(names, "+")
      sys: '"sys"' 
  - id: in-string
    condition: pod.name == "names"
`
	e, err := Compile("r.yaml", []byte(file), &inventory.Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    podrecord.Record
		want []string
	}{
		// without the macro's own precedence, "allowed && user || ci" would fire
		{"ci but not allowed", podrecord.Record{Channel: "ci", Allowed: false}, nil},
		{"ci and allowed", podrecord.Record{Channel: "ci", Allowed: true}, []string{"precedence"}},
		{"lookalike in kube-system", podrecord.Record{Namespace: "kube-system", Name: "kube-prxy-x7b2q"}, []string{"nested"}},
		{"lookalike elsewhere", podrecord.Record{Namespace: "default", Name: "kube-prxy-x7b2q"}, nil},
		{"the string names", podrecord.Record{Name: "names"}, []string{"in-string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, errs := e.Evaluate(&tt.r)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := ids(fs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fired %v, want %v", got, tt.want)
			}
			if f, ok := byRule(fs)["nested"]; ok && !reflect.DeepEqual(outputMap(f), map[string]string{"names": "kube-proxy+coredns", "sys": "sys"}) {
				t.Errorf("outputs %v", f.Output)
			}
		})
	}
}

// TestFastPathSameResults evaluates every condition and output of the pack
// with and without the fast path on every fixture record and the demo's:
// the rewriting must not change a result.
func TestFastPathSameResults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(packDir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	inv := packInventory(t)
	fast, err := compile("rules.yaml", data, inv, true)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := compile("rules.yaml", data, inv, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(fast.calls) == 0 || len(slow.calls) != 0 {
		t.Fatalf("%d fast call sites, %d slow", len(fast.calls), len(slow.calls))
	}
	records := append(demoRecords(t), fixtureRecords(t)...)
	for _, r := range records {
		f1, e1 := fast.Evaluate(r)
		f2, e2 := slow.Evaluate(r)
		if !reflect.DeepEqual(f1, f2) || len(e1) != len(e2) {
			t.Errorf("%s: fast %v %v, slow %v %v", r.DisplayName(), ids(f1), e1, ids(f2), e2)
		}
	}
	t.Logf("%d records, %d call sites bound at load", len(records), len(fast.calls))
}

// TestFastPathForms checks the rewritten forms against expr's own
// evaluation on records that have and lack what they look at.
func TestFastPathForms(t *testing.T) {
	exprs := []string{
		`pod.labels["k8s-app"] == "kube-proxy"`, `pod.labels["k8s-app"] != "kube-proxy"`, `"kube-proxy" == pod.labels["k8s-app"]`,
		`pod.labels["k8s-app"] in ["kube-proxy", "kube-dns"]`, `pod.labels["missing"] == ""`, `pod.labels["k8s-app"] in [""]`,
		`"kubectl-run" in pod.managers`, `pod.namespace in inventory.system_namespaces`, `"k8s-app" in pod.labels`,
		`pod.namespace not in inventory.system_namespaces`, `"system:authenticated" in pod.actor.groups`,
		`distance(pod.name, "kube-proxy") <= 2`, `jaroWinkler(pod.name, "kube-proxy") > 0.8`, `glob(pod.name, ["kube-*", "x"])`,
		`cidrMatch(pod.source_ips, "10.0.0.0/8")`, `imitates(pod) != ""`, `len(baseName(pod.name)) > 3`,
		`imageLookalike(pod) == "" && all(pod.containers, {imageLookalike(.image) == ""})`,
		`any(pod.containers, {imageFrom(.image, ["registry.k8s.io"])})`, `nearest(pod.name, ["a", "kube-proxy"]) == "kube-proxy"`,
		`distance(pod.name, pod.namespace) > 3`, // two dynamic arguments: the generic call
	}
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i, x := range exprs {
		sb.WriteString("  - id: R" + string(rune('a'+i)) + "\n    condition: '" + strings.ReplaceAll(x, "'", "''") + "'\n")
	}
	inv := packInventory(t)
	fast, err := compile("r.yaml", []byte(sb.String()), inv, true)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := compile("r.yaml", []byte(sb.String()), inv, false)
	if err != nil {
		t.Fatal(err)
	}
	records := append(demoRecords(t), &podrecord.Record{}, &podrecord.Record{Labels: map[string]string{"k8s-app": ""}})
	for _, r := range records {
		for i, x := range exprs {
			s1, s2 := fast.NewSession(r), slow.NewSession(r)
			a, errA := s1.Match(i)
			b, errB := s2.Match(i)
			s1.Close()
			s2.Close()
			if a != b || (errA == nil) != (errB == nil) {
				t.Errorf("%s: %s: fast %v %v, slow %v %v", r.DisplayName(), x, a, errA, b, errB)
			}
		}
	}
}

// TestParseImage: the rules read image references through imageref (its
// own tests have every normalisation case): here, what rules see.
func TestParseImage(t *testing.T) {
	const d = "sha256:dbeb97c24f107f57a887833791df5761c5c671279fcffcfa4d562189f90edc6a"
	tests := []struct {
		in                string
		repo, tag, digest string
		valid             bool
	}{
		{"nginx", "docker.io/library/nginx", "latest", "", true},
		{"nginx:1.27", "docker.io/library/nginx", "1.27", "", true},
		{"alpine/git:2.45", "docker.io/alpine/git", "2.45", "", true},
		{"docker.io/alpine:3.20", "docker.io/library/alpine", "3.20", "", true},
		{"index.docker.io/library/busybox:1.36", "docker.io/library/busybox", "1.36", "", true},
		{"registry.k8s.io/kube-proxy:v1.33.13", "registry.k8s.io/kube-proxy", "v1.33.13", "", true},
		{"localhost:5000/team/app:2", "localhost:5000/team/app", "2", "", true},
		{"localhost:5000/team/app", "localhost:5000/team/app", "latest", "", true},
		{"ghcr.io/acme/payments@" + d, "ghcr.io/acme/payments", "", d, true},
		{"ghcr.io/acme/payments:1.4@" + d, "ghcr.io/acme/payments", "1.4", d, true},
		{"ghcr.io/acme/payments@sha256:abc", "ghcr.io/acme/payments", "", "sha256:abc", false},
		{"GHCR.io/Acme/App:1", "ghcr.io/acme/app", "1", "", false},
	}
	for _, tt := range tests {
		for _, got := range []ImageRef{ParseImage(tt.in), parseImage(tt.in), parseImage(tt.in)} {
			if got.Repository != tt.repo || got.Tag != tt.tag || got.Digest != tt.digest || got.Valid() != tt.valid {
				t.Errorf("%s: %+v, want %s %s %s valid=%v", tt.in, got, tt.repo, tt.tag, tt.digest, tt.valid)
			}
		}
	}
}

// TestInventoryAdditions: name_pattern, labels and service_account of
// workloads, trusted identities and require_digest, through the functions
// that read them.
func TestInventoryAdditions(t *testing.T) {
	inv, err := inventory.Parse("inventory.yaml", []byte(`
workloads:
  - namespace: pay
    name: payments
    kind: Deployment
    name_pattern: "pay-*-worker-*"
    labels: {app: payments}
    service_account: payments
namespaces:
  - {name: prod, require_digest: true}
trusted_identities: ["system:serviceaccount:ci:*", deployer]
images:
  - repository: ghcr.io/acme/*
`))
	if err != nil {
		t.Fatal(err)
	}
	ix := newIndex(inv)
	owned := podrecord.Owner{Kind: "ReplicaSet", Name: "payments-5d8f7c9b6d"}
	tests := []struct {
		name string
		r    podrecord.Record
		fn   func(ev *evaluator) any
		want any
	}{
		{"name_pattern match imitates", podrecord.Record{Namespace: "pay", Name: "pay-eu-worker-1"},
			func(ev *evaluator) any { return ix.imitates(ev.names(ix)) }, "pay/payments"},
		{"outside the pattern", podrecord.Record{Namespace: "pay", Name: "pay-eu-1"},
			func(ev *evaluator) any { return ix.imitates(ev.names(ix)) }, ""},
		{"labels claimed", podrecord.Record{Namespace: "pay", Name: "x", Labels: map[string]string{"app": "payments"}},
			func(ev *evaluator) any { return ix.labelMimicry(ev.rec) }, "pay/payments"},
		{"labels of its own pod", podrecord.Record{Namespace: "pay", Name: "payments-5d8f7c9b6d-q9wzt", Owner: owned, Labels: map[string]string{"app": "payments"}},
			func(ev *evaluator) any { return ix.labelMimicry(ev.rec) }, ""},
		{"service account borrowed", podrecord.Record{Namespace: "pay", Name: "x", ServiceAccount: "payments"},
			func(ev *evaluator) any { return ix.serviceAccountBorrowed(ev.rec) }, "pay/payments"},
		{"own pod with another service account", podrecord.Record{Namespace: "pay", Name: "payments-5d8f7c9b6d-q9wzt", Owner: owned, ServiceAccount: "default", Labels: map[string]string{"app": "payments"}},
			func(ev *evaluator) any { return ix.workloadMismatch(ev.rec, ev.names(ix)) }, "pay/payments: service account is not payments"},
		{"trusted by glob", podrecord.Record{Actor: podrecord.Actor{Username: "system:serviceaccount:ci:runner"}},
			func(ev *evaluator) any { return ix.trustedIdentity(ev.rec) }, true},
		{"glob * does not cross /", podrecord.Record{Actor: podrecord.Actor{Username: "system:serviceaccount:ci:a/b"}},
			func(ev *evaluator) any { return ix.trustedIdentity(ev.rec) }, false},
		{"lookalike of a literal trusted identity", podrecord.Record{Actor: podrecord.Actor{Username: "dep1oyer"}},
			func(ev *evaluator) any { return ix.identityLookalike(ev.rec) }, "deployer"},
		{"require_digest namespace", podrecord.Record{Namespace: "prod", Containers: ctr("ghcr.io/acme/app:1")},
			func(ev *evaluator) any { return ix.digestMissing(ev.rec) }, "ghcr.io/acme/app:1"},
		{"digest given", podrecord.Record{Namespace: "prod", Containers: ctr("ghcr.io/acme/app@sha256:00")},
			func(ev *evaluator) any { return ix.digestMissing(ev.rec) }, ""},
		{"known namespaces", podrecord.Record{Namespace: "prod"},
			func(ev *evaluator) any { return ix.knownNamespace(ev.rec) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			ev := &evaluator{gen: 1, rec: &r}
			if got := tt.fn(ev); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// outputMap is f's output fields as a map, nil for none.
func outputMap(f Finding) map[string]string {
	if len(f.Output) == 0 {
		return nil
	}
	m := make(map[string]string, len(f.Output))
	for _, o := range f.Output {
		m[o.Key] = o.Value
	}
	return m
}
