// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// exceptionRecord is alice's pod in kube-system through kubectl.
func exceptionRecord() *podrecord.Record {
	return &podrecord.Record{Namespace: "kube-system", Name: "debug", Allowed: true, Code: 201, Channel: "kubectl",
		UserAgent: "kubectl/v1.33.0 (linux/amd64)",
		Actor:     podrecord.Actor{Username: "alice@example.com", Kind: podrecord.ActorUser, Groups: []string{"sre", "system:authenticated"}},
		Labels:    map[string]string{"app": "debug"}, Containers: ctr("busybox:1.36")}
}

// TestExceptions: each form and comparison of Falco's exceptions, on the
// record above; the rule fires unless an exception holds.
func TestExceptions(t *testing.T) {
	for _, tt := range []struct {
		name, exceptions string
		fires            bool
	}{
		{"no exceptions", ``, true},
		{"fields tuple, = by default, matching", `
      - name: who_where
        fields: [pod.actor.username, pod.namespace]
        values: [[bob, kube-system], [alice@example.com, kube-system]]`, false},
		{"fields tuple, = by default, not matching", `
      - name: who_where
        fields: [pod.actor.username, pod.namespace]
        values: [[alice@example.com, default]]`, true},
		{"one field, in by default", `
      - name: namespaces
        fields: pod.namespace
        values: [kube-system, debug]`, false},
		{"one field, = given", `
      - name: namespaces
        fields: pod.namespace
        comps: "="
        values: [default, kube-system]`, false},
		{"in, with a list per tuple", `
      - name: channels
        fields: [pod.channel, pod.namespace]
        comps: [in, "="]
        values: [[[helm, kubectl], kube-system]]`, false},
		{"intersects on a list field", `
      - name: break_glass
        fields: [pod.actor.groups]
        comps: [intersects]
        values: [[[platform-admins, sre]]]`, false},
		{"intersects, no common element", `
      - name: break_glass
        fields: [pod.actor.groups]
        comps: [intersects]
        values: [[[platform-admins]]]`, true},
		{"contains on a list field", `
      - name: group
        fields: [pod.actor.groups]
        comps: [contains]
        values: [[sre]]`, false},
		{"contains on a string field", `
      - name: agent
        fields: [pod.user_agent]
        comps: [contains]
        values: [[linux/amd64]]`, false},
		{"startswith and endswith", `
      - name: names
        fields: [pod.actor.username, pod.actor.username]
        comps: [startswith, endswith]
        values: [[alice, "@example.com"]]`, false},
		{"glob", `
      - name: glob
        fields: [pod.actor.username]
        comps: [glob]
        values: [["*@example.com"]]`, false},
		{"!= and a number", `
      - name: created
        fields: [pod.code, pod.namespace]
        comps: ["=", "!="]
        values: [[201, default]]`, false},
		{"a map field", `
      - name: label
        fields: ['pod.labels["app"]']
        values: [[debug]]`, false},
		{"a macro as field", `
      - name: by_person
        fields: [person]
        values: [[true]]`, false},
		{"without values: a place for a later file", `
      - name: break_glass
        fields: [pod.actor.groups]
        comps: [intersects]`, true},
		{"two exceptions, the second holds", `
      - name: a
        fields: pod.namespace
        values: [default]
      - name: b
        fields: pod.actor.username
        values: [alice@example.com]`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "macros: {person: 'pod.actor.kind == \"user\"'}\nrules:\n  - id: X\n    condition: pod.allowed\n"
			if tt.exceptions != "" {
				src += "    exceptions:" + tt.exceptions + "\n"
			}
			e := compileWith(t, src, "")
			fs, errs := e.Evaluate(exceptionRecord())
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := len(fs) == 1; got != tt.fires {
				t.Errorf("fires %v, want %v", got, tt.fires)
			}
			if raceEnabled {
				return
			}
			s := e.NewSession(exceptionRecord())
			defer s.Close()
			if n := testing.AllocsPerRun(20, func() { s.Forget(); _, _ = s.Match(0) }); n != 0 {
				t.Errorf("the rule with its exceptions allocates %v times", n)
			}
		})
	}
}

func TestExceptionErrors(t *testing.T) {
	for _, tt := range []struct{ exceptions, want string }{
		{"- {fields: [pod.namespace], values: [[a]]}", "exceptions[0]: no name"},
		{"- {name: a, fields: pod.namespace, values: [x]}\n      - {name: a, fields: pod.name, values: [y]}", `exception "a": defined twice`},
		{"- {name: a, values: [[x]]}", `exception "a": no fields`},
		{"- {name: a, fields: [pod.namespace], comps: [like], values: [[x]]}", `unknown comp "like"`},
		{"- {name: a, fields: [pod.namespace, pod.name], comps: [\"=\"], values: [[x, y]]}", "2 fields, 1 comps"},
		{"- {name: a, fields: [pod.namespace, pod.name], values: [[x]]}", "values[0]: a list of 2 values"},
		{"- {name: a, fields: [pod.nmespace], values: [[x]]}", "field pod.nmespace"},
		{"- {name: a, fields: [pod.nmespace]}", "field pod.nmespace"},
		{"- {name: a, fields: [pod.namespace], values: [[[x, y]]]}", "a list where one value is wanted"},
		{"- {name: a, fields: [pod.code], values: [[x]]}", `exception "a"`},
		{"- {name: a, fields: [pod.namespace], values: [[null]]}", "empty (null)"},
		{"- {name: a, fields: [pod.namespace], valeus: [[x]]}", "valeus"},
	} {
		src := "rules:\n  - id: X\n    condition: pod.allowed\n    exceptions:\n      " + tt.exceptions + "\n"
		inv, _ := inventory.Parse("inv.yaml", nil)
		_, err := Compile("rules.yaml", []byte(src), inv)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `rules.yaml:2: rule "X"`) && !strings.Contains(err.Error(), "line 5: field") {
			t.Errorf("%s: %v, want an error naming the rule and saying %q", tt.exceptions, err, tt.want)
		}
	}
}

const baseRules = `lists:
  namespaces: [kube-system]
macros:
  person: pod.actor.kind == "user"
rules:
  - id: A
    title: Person in a system namespace
    severity: high
    tags: [a]
    mitre: [DC0019]
    condition: person && pod.namespace in namespaces
    exceptions:
      - name: break_glass
        fields: [pod.actor.groups]
        comps: [intersects]
    output:
      actor: pod.actor.username
  - id: B
    title: Any pod
    condition: pod.allowed
  - id: C
    title: Kubectl
    condition: pod.channel == "kubectl"
`

// TestLayering: a later file appends to or replaces lists, macros and
// rules of an earlier one, by name and id, as Falco's rules files do.
func TestLayering(t *testing.T) {
	for _, tt := range []struct {
		name, local string
		r           func(*podrecord.Record)
		want        []string
		check       func(t *testing.T, e *Engine)
	}{
		{name: "nothing", local: "", want: []string{"A", "B", "C"}},
		{name: "list append", local: "lists:\n  namespaces: {items: [debug], append: true}\n",
			r: func(r *podrecord.Record) { r.Namespace = "debug" }, want: []string{"A", "B", "C"}},
		{name: "list append, override form", local: "lists:\n  namespaces: {items: [debug], override: {items: append}}\n",
			r: func(r *podrecord.Record) { r.Namespace = "debug" }, want: []string{"A", "B", "C"}},
		{name: "list replaced", local: "lists:\n  namespaces: [debug]\n", want: []string{"B", "C"}},
		{name: "macro append", local: "macros:\n  person: {condition: and pod.channel != \"kubectl\", append: true}\n", want: []string{"B", "C"}},
		{name: "macro replaced", local: "macros:\n  person: pod.actor.kind == \"service_account\"\n", want: []string{"B", "C"}},
		{name: "condition appended", local: "rules:\n  - id: A\n    condition: and pod.channel != \"kubectl\"\n    override: {condition: append}\n",
			want: []string{"B", "C"}},
		{name: "condition replaced", local: "rules:\n  - id: C\n    condition: pod.channel == \"helm\"\n    override: {condition: replace}\n",
			want: []string{"A", "B"}},
		{name: "values appended to a named exception", local: `rules:
  - id: A
    exceptions:
      - name: break_glass
        values: [[[sre]]]
    override: {exceptions: append}
`, want: []string{"B", "C"}},
		{name: "a new exception appended, Falco's append: true", local: `rules:
  - id: A
    append: true
    exceptions:
      - name: alice
        fields: pod.actor.username
        values: [alice@example.com]
`, want: []string{"B", "C"}},
		{name: "exceptions replaced", local: `rules:
  - id: B
    exceptions:
      - {name: ks, fields: pod.namespace, values: [kube-system]}
    override: {exceptions: replace}
`, want: []string{"A", "C"}},
		{name: "disabled", local: "rules:\n  - id: B\n    enabled: false\n", want: []string{"A", "C"},
			check: func(t *testing.T, e *Engine) {
				if e.Len() != 2 || len(e.Rules()) != 3 {
					t.Errorf("%d enabled of %d", e.Len(), len(e.Rules()))
				}
			}},
		{name: "disabled, override form", local: "rules:\n  - id: B\n    enabled: false\n    override: {enabled: replace}\n", want: []string{"A", "C"}},
		{name: "severity, tags, output and description", local: `rules:
  - id: A
    severity: critical
    tags: [b]
    mitre: [AN0986]
    description: Tuned.
    output: {groups: 'join(pod.actor.groups, ",")'}
    override: {severity: replace, tags: append, mitre: replace, output: append, description: append}
`, want: []string{"A", "B", "C"}, check: func(t *testing.T, e *Engine) {
			fs, _ := e.Evaluate(exceptionRecord())
			a := fs[0]
			if a.Severity != "critical" || !slices.Equal(a.Tags, []string{"a", "b"}) || !slices.Equal(a.MITRE, []string{"AN0986"}) ||
				a.Value("actor") != "alice@example.com" || a.Value("groups") != "sre,system:authenticated" || a.Description != "Tuned." {
				t.Errorf("%+v", a)
			}
			r := e.Rules()[0]
			if r.File() != "rules.yaml" || r.Line() != 6 {
				t.Errorf("rule A defined at %s:%d", r.File(), r.Line())
			}
		}},
		{name: "redefined whole, in its place", local: "rules:\n  - id: A\n    title: Anything\n    condition: pod.allowed\n",
			want: []string{"A", "B", "C"}, check: func(t *testing.T, e *Engine) {
				if r := e.Rules()[0]; r.ID != "A" || r.Title != "Anything" || r.File() != "local.yaml" {
					t.Errorf("%+v", r)
				}
			}},
		{name: "a new rule", local: "rules:\n  - id: D\n    title: D\n    condition: pod.allowed\n", want: []string{"A", "B", "C", "D"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, _ := inventory.Parse("inv.yaml", nil)
			srcs := []Source{{"rules.yaml", []byte(baseRules)}}
			if tt.local != "" {
				srcs = append(srcs, Source{"local.yaml", []byte(tt.local)})
			}
			e, err := compileSources(srcs, inv, true)
			if err != nil {
				t.Fatal(err)
			}
			r := exceptionRecord()
			if tt.r != nil {
				tt.r(r)
			}
			fs, errs := e.Evaluate(r)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := ids(fs); !equalIDs(got, tt.want) {
				t.Errorf("fired %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestLayeringErrors(t *testing.T) {
	for _, tt := range []struct{ local, want string }{
		{"rules:\n  - id: Z\n    condition: and false\n    override: {condition: append}\n", `local.yaml:2: rule "Z": overrides or appends to a rule no earlier file defines`},
		{"rules:\n  - id: A\n    condition: and false\n", "local.yaml:2: rule \"A\": "}, // a whole definition needs a title? no: replaced, then fine
		{"rules:\n  - id: A\n    condition: and false\n    severity: low\n    override: {condition: append}\n", "severity given without override"},
		{"rules:\n  - id: A\n    override: {condition: append}\n", "override: condition, which the entry does not give"},
		{"rules:\n  - id: A\n    condition: x\n    override: {condition: merge}\n", `override: condition: "merge" is not append or replace`},
		{"rules:\n  - id: A\n    id2: x\n", "id2"},
		{"rules:\n  - id: A\n    title: x\n    override: {title: append}\n", `override: title: "append" is not replace`},
		{"rules:\n  - id: A\n    severity: low\n    append: true\n", "severity cannot be appended"},
		{"rules:\n  - id: A\n    condition: pod.allowed\n    override: {condition: append}\n", "an appended condition begins with and, or"},
		{"rules:\n  - id: A\n    exceptions: [{name: break_glass, fields: [pod.namespace], values: [[x]]}]\n    override: {exceptions: append}\n", "cannot change its fields or comps"},
		{"rules:\n  - id: D\n    condition: x\n  - id: D\n    condition: y\n", `local.yaml:4: rule "D": duplicate id`},
		{"lists:\n  other: {items: [x], append: true}\n", `local.yaml:2: list "other": appends to a list no earlier file defines`},
		{"lists:\n  namespaces: {items: [x], apend: true}\n", "apend"},
		{"macros:\n  person: {condition: pod.allowed, append: true}\n", "an appended condition begins with and, or"},
		{"macros:\n  person: {condition: and x, override: {items: append}}\n", "override: items is not condition"},
	} {
		inv, _ := inventory.Parse("inv.yaml", nil)
		_, err := compileSources([]Source{{"rules.yaml", []byte(baseRules)}, {"local.yaml", []byte(tt.local)}}, inv, true)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error saying %q", tt.local, err, tt.want)
		}
	}
}

// TestLayeredErrorsNameTheLayers: an error in a rule a later file changed
// names the file that defines it and the one that changed it.
func TestLayeredErrorsNameTheLayers(t *testing.T) {
	inv, _ := inventory.Parse("inv.yaml", nil)
	_, err := compileSources([]Source{{"rules.yaml", []byte(baseRules)},
		{"local.yaml", []byte("\nrules:\n  - id: B\n    condition: and pod.nmae == \"x\"\n    override: {condition: append}\n")}}, inv, true)
	if err == nil || !strings.Contains(err.Error(), `rules.yaml:18: rule "B" (changed at local.yaml:3): condition: type podrecord.Record has no field nmae`) {
		t.Errorf("%v", err)
	}
}

// TestSourcesDirectories: directories are read in name order without
// hidden files; inventories merge; Strict overrides theirs.
func TestSourcesDirectories(t *testing.T) {
	dir := t.TempDir()
	rulesDir, invDir := filepath.Join(dir, "rules.d"), filepath.Join(dir, "inventory.d")
	for _, d := range []string{rulesDir, invDir, filepath.Join(rulesDir, "..data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "rules.yaml"), baseRules)
	write(t, filepath.Join(rulesDir, "20-disable.yaml"), "rules:\n  - id: C\n    enabled: false\n")
	write(t, filepath.Join(rulesDir, "10-enable.yaml"), "rules:\n  - id: C\n    enabled: true\n    override: {enabled: replace}\n")
	write(t, filepath.Join(rulesDir, ".hidden.yaml"), "rules: [{id: X, condition: nonsense(}]\n")
	write(t, filepath.Join(rulesDir, "notes.txt"), "not rules")
	write(t, filepath.Join(invDir, "10-site.yaml"), "namespaces:\n  - {name: shop, creators: [ci]}\ntrusted_identities: [ci]\n")
	write(t, filepath.Join(invDir, "20-more.yaml"), "strict: true\nnamespaces:\n  - {name: shop, creators: [cd], images: [nginx]}\ntrusted_identities: [ci, cd]\n")
	e, err := LoadSources(Sources{Rules: []string{filepath.Join(dir, "rules.yaml"), rulesDir}, Inventory: []string{invDir}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 2 {
		t.Errorf("%d rules enabled, want 2 (C disabled by the last file)", e.Len())
	}
	inv := e.Inventory()
	if !inv.Strict || len(inv.Namespaces) != 1 || !slices.Equal(inv.Namespaces[0].Creators, []string{"ci", "cd"}) ||
		!slices.Equal(inv.Namespaces[0].Images, []string{"docker.io/library/nginx"}) || !slices.Equal(inv.TrustedIdentities, []string{"ci", "cd"}) ||
		len(inv.SystemNamespaces) != 3 {
		t.Errorf("merged inventory %+v", inv)
	}
	off := false
	e2, err := LoadSources(Sources{Rules: []string{filepath.Join(dir, "rules.yaml")}, Inventory: []string{invDir}, Strict: &off})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Inventory().Strict || e2.Hash() == e.Hash() {
		t.Errorf("strict %v, hash %s %s", e2.Inventory().Strict, e2.Hash(), e.Hash())
	}
	if _, err := LoadSources(Sources{Rules: []string{filepath.Join(dir, "nope")}, Inventory: []string{invDir}}); err == nil {
		t.Error("a missing rules path loaded")
	}
}

// TestWatcherLayers: a watcher over a rules directory takes a file added
// there; a broken override file keeps the whole last good set running (the
// rule it changes included), reports the file, and is forgotten when
// removed.
func TestWatcherLayers(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules.d")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "rules.yaml"), baseRules)
	write(t, filepath.Join(dir, "inventory.yaml"), "")
	w, err := NewSourcesWatcher(Sources{Rules: []string{filepath.Join(dir, "rules.yaml"), rulesDir},
		Inventory: []string{filepath.Join(dir, "inventory.yaml")}}, WatcherOptions{Settle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fired := func() []string {
		fs, _ := w.Evaluate(exceptionRecord())
		return ids(fs)
	}
	if got := fired(); !equalIDs(got, []string{"A", "B", "C"}) {
		t.Fatalf("%v", got)
	}
	local := filepath.Join(rulesDir, "local.yaml")
	write(t, local, "rules:\n  - id: A\n    exceptions: [{name: break_glass, values: [[[sre]]]}]\n    override: {exceptions: append}\n")
	if ok, err := w.Poll(); !ok || err != nil {
		t.Fatalf("poll: %v %v", ok, err)
	}
	if got := fired(); !equalIDs(got, []string{"B", "C"}) {
		t.Errorf("with the exception: %v", got)
	}
	write(t, local, "rules:\n  - id: A\n    exceptions: [{name: break_glass, values: [[[sre]]]}]\n    override: {exceptions: append}\n  - id: B\n    condition: and pod.nmae == \"\"\n    override: {condition: append}\n")
	if ok, err := w.Poll(); ok || err == nil || !strings.Contains(err.Error(), "local.yaml:5") {
		t.Fatalf("broken layer: %v %v", ok, err)
	}
	if got := fired(); !equalIDs(got, []string{"B", "C"}) {
		t.Errorf("after a broken layer, the last good set: %v", got)
	}
	if st := w.Stats(); st.Rules != 3 || st.LastError == "" {
		t.Errorf("%+v", st)
	}
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	if ok, err := w.Poll(); !ok || err != nil {
		t.Fatalf("poll: %v %v", ok, err)
	}
	if got := fired(); !equalIDs(got, []string{"A", "B", "C"}) || w.Stats().LastError != "" {
		t.Errorf("without the layer: %v %+v", got, w.Stats())
	}
}
