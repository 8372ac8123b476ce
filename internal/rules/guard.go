// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Guards. Most rules of a pack start with the same macro: `created && ...`
// (35 of the default pack's). Evaluated as written, every one of them reads
// pod.allowed again. A condition whose top-level && chain starts with a
// macro is compiled twice: whole (cond), and without that macro (rest); the
// macro is compiled once for the rule set (Engine.guards) and evaluated at
// most once per record. A record on which the guard is false skips the
// rule; one on which it is true runs rest. `m && x` is false when m is, and
// x otherwise, so the results are those of the whole condition
// (TestGuardSameResults).

// splitGuard returns the macro a condition starts with and the source of
// the condition without it; ok is false when the condition is not of the
// form `macro && ...` (at the top level, left-most).
func splitGuard(cond string, macros map[string]string) (guard, rest string, ok bool) {
	tree, err := parser.Parse(cond)
	if err != nil {
		return "", "", false
	}
	// the && chain from the root down its left operands
	var chain []*ast.BinaryNode
	n := tree.Node
	for {
		b, isAnd := n.(*ast.BinaryNode)
		if !isAnd || (b.Operator != "&&" && b.Operator != "and") {
			break
		}
		chain = append(chain, b)
		n = b.Left
	}
	id, isIdent := n.(*ast.IdentifierNode)
	if len(chain) == 0 || !isIdent || macros[id.Value] == "" {
		return "", "", false
	}
	last := chain[len(chain)-1] // guard && right
	if len(chain) == 1 {
		return id.Value, last.Right.String(), true
	}
	chain[len(chain)-2].Left = last.Right
	return id.Value, tree.Node.String(), true
}

// guardOf compiles cond's guard and rest (see splitGuard) and returns the
// guard's index in e.guards (added when new), -1 and no rest when the
// condition has no guard or either part does not compile as a boolean.
func (c *compiler) guardOf(e *Engine, cond string) (int, *vm.Program) {
	name, rest, ok := splitGuard(cond, c.macros)
	if !ok {
		return -1, nil
	}
	restProg, err := c.compile(rest, true)
	if err != nil {
		return -1, nil
	}
	for i, g := range e.guardNames {
		if g == name {
			return i, restProg
		}
	}
	g, err := c.compile(name, true)
	if err != nil {
		return -1, nil
	}
	e.guardNames = append(e.guardNames, name)
	e.guards = append(e.guards, g)
	return len(e.guards) - 1, restProg
}

// match evaluates the i-th enabled rule's condition on the record ev
// holds: through its guard, computed once per record, when it has one.
func (ev *evaluator) match(c *compiled, env any) (bool, error) {
	prog := c.cond
	if c.guard >= 0 {
		g := c.guard
		if ev.guardGen[g] != ev.gen {
			out, err := ev.vm.Run(ev.e.guards[g], env)
			ev.guardVal[g], ev.guardErr[g], ev.guardGen[g] = out == true, err, ev.gen
		}
		if ev.guardErr[g] != nil {
			return false, ev.guardErr[g]
		}
		if !ev.guardVal[g] {
			return false, nil
		}
		prog = c.rest
	}
	out, err := ev.vm.Run(prog, env)
	if err != nil {
		return false, err
	}
	fired, _ := out.(bool)
	return fired, nil
}
