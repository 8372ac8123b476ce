// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/expr-lang/expr/vm"
)

func TestSplitGuard(t *testing.T) {
	macros := map[string]string{"created": "pod.allowed", "by_node": `pod.actor.kind == "node"`}
	tests := []struct {
		cond, guard, rest string
	}{
		{`created && pod.namespace == "x"`, "created", `pod.namespace == "x"`},
		{`created && a(pod) != "" && b(pod)`, "created", `a(pod) != "" && b(pod)`},
		{`created and by_node and x`, "created", `by_node and x`},
		{`(created && x) && y`, "created", `x && y`},
		{`created && (x || y)`, "created", `x || y`},
		{`created && x || y`, "", ""}, // || at the top: created does not guard y
		{`x && created`, "", ""},
		{`created`, "", ""},
		{`!created && x`, "", ""},
		{`unknown_macro && x`, "", ""},
		{`created && any(pod.containers, {.image startsWith "x"})`, "created", `any(pod.containers, .image startsWith "x")`},
		{`(created && x) || (created && y)`, "", ""},
	}
	for _, tt := range tests {
		g, rest, ok := splitGuard(tt.cond, macros)
		if g != tt.guard || rest != tt.rest || ok != (tt.guard != "") {
			t.Errorf("%s: %q %q %v, want %q %q", tt.cond, g, rest, ok, tt.guard, tt.rest)
		}
	}
}

// TestGuardSameResults: every enabled rule of the pack gives, through its
// guard, what its whole condition gives, on every demo and fixture record;
// and the pack's conditions share few guards.
func TestGuardSameResults(t *testing.T) {
	e := loadPack(t)
	guarded := 0
	for i := range e.rules {
		if e.rules[i].guard >= 0 {
			guarded++
		}
	}
	if guarded < len(e.rules)/2 || len(e.guards) > 5 {
		t.Errorf("%d of %d rules guarded by %d guards %v", guarded, len(e.rules), len(e.guards), e.guardNames)
	}
	t.Logf("%d of %d rules guarded by %v", guarded, len(e.rules), e.guardNames)
	for _, r := range append(demoRecords(t), fixtureRecords(t)...) {
		s := e.NewSession(r)
		var m vm.VM
		for i := range e.rules {
			c := &e.rules[i]
			whole, err1 := m.Run(c.cond, s.env)
			got, err2 := s.Match(i)
			if whole != got || (err1 == nil) != (err2 == nil) {
				t.Errorf("%s %s: whole %v %v, guarded %v %v", r.DisplayName(), c.rule.ID, whole, err1, got, err2)
			}
		}
		s.Close()
	}
}
