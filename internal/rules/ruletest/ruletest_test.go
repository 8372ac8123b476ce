// SPDX-License-Identifier: Apache-2.0

package ruletest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/rules"
)

const testRules = `
rules:
  - id: SYS
    title: pod in kube-system
    condition: pod.namespace == "kube-system"
  - id: USER
    title: made by a person
    condition: pod.actor.kind == "user"
  - id: OFF
    title: disabled
    enabled: false
    condition: "true"
`

func engine(t testing.TB) *rules.Engine {
	t.Helper()
	e, err := rules.Compile("rules.yaml", []byte(testRules), &inventory.Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown record field", "cases:\n  - name: a\n    record: {namespce: x}\n    fires: [SYS]\n", `f.yaml:2 "a": record: json: unknown field "namespce"`},
		{"unknown case key", "cases:\n  - name: a\n    record: {}\n    fire: [SYS]\n", "field fire not found"},
		{"no name", "cases:\n  - record: {}\n    fires: [SYS]\n", "case without a name"},
		{"expects nothing", "cases:\n  - name: a\n    record: {}\n", "expects nothing"},
		{"wrong type", "cases:\n  - name: a\n    record: {allowed: yes please}\n    fires: [SYS]\n", "record"},
		{"bad yaml", "cases: [", "f.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	cases, err := Parse("f.yaml", []byte(`
defaults:
  actor: {kind: user, username: alice}
  namespace: default
cases:
  - name: person in kube-system
    record: {namespace: kube-system}
    expect: [SYS, USER]
  - name: controller in kube-system
    record: {namespace: kube-system, actor: {kind: controller}}
    fires: [SYS]
    quiet: [USER]
  - name: wrong on purpose
    record: {}
    fires: [SYS]
  - name: unknown and disabled rules
    record: {}
    fires: [NOPE, OFF]
    quiet: [OFF]
`))
	if err != nil {
		t.Fatal(err)
	}
	if cases[1].rec.Actor.Username != "alice" || cases[1].rec.Actor.Kind != "controller" {
		t.Fatalf("defaults merge deeply: %+v", cases[1].rec.Actor)
	}
	rep := Run(engine(t), cases)
	var out bytes.Buffer
	rep.Write(&out, true)
	for _, want := range []string{
		"FAIL      SYS      pod in kube-system (fires 2, quiet 0)",
		`          f.yaml:13 "wrong on purpose": did not fire`,
		"ok        USER     made by a person (fires 1, quiet 1)",
		"skip      OFF      disabled (disabled)",
		`f.yaml:16 "unknown and disabled rules": expected to fire, but the rule is disabled`,
		`error     f.yaml:16 "unknown and disabled rules": no rule NOPE`,
		"FAIL: 3 rules (2 enabled), 4 cases, 7 assertions, 3 failed, uncovered: SYS",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if rep.OK(false) {
		t.Error("failures are not OK")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("cases:\n  - name: a\n    record: {namespace: kube-system}\n    fires: [SYS]\n")
	f.Add("defaults: {actor: {kind: user}}\ncases:\n  - name: b\n    record: {actor: {username: x}}\n    expect: []\n")
	f.Add("cases:\n  - name: c\n    record: &r {name: x}\n    quiet: [USER]\n  - name: d\n    record: {<<: *r, namespace: y}\n    fires: [SYS]\n")
	e := engine(f)
	f.Fuzz(func(t *testing.T, data string) {
		cases, err := Parse("f.yaml", []byte(data))
		if err != nil {
			return
		}
		rep := Run(e, cases)
		rep.Write(&bytes.Buffer{}, true)
	})
}
