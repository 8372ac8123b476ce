// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Lists and macros are expanded in the parsed expression, not in its text:
// an identifier that names a list becomes the list literal ["a", "b"], one
// that names a macro becomes the macro's parsed expression. Field names
// (pod.namespace), strings ("kube-system") and map keys are not identifiers,
// so a list named namespace or a string containing a macro's name are left
// alone, and a macro needs no parentheses to keep its precedence.

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keywords of the expr language that cannot name a list or macro.
var keywords = []string{"true", "false", "nil", "in", "not", "and", "or", "let", "if", "else", "matches",
	"contains", "startsWith", "endsWith", "$env"}

// checkName reports why name cannot name a list or macro, or nil.
func checkName(name string, fns map[string]*function) error {
	switch {
	case !identRE.MatchString(name):
		return fmt.Errorf("not an identifier (letters, digits and _, not starting with a digit)")
	case reserved(name):
		return fmt.Errorf("names starting with %s are reserved", reservedPrefix)
	case name == "pod" || name == "inventory" || name == "image" || fns[name] != nil:
		return fmt.Errorf("already names a field or function")
	case slices.Contains(keywords, name):
		return fmt.Errorf("is a keyword")
	}
	for _, b := range builtin.Builtins {
		if b.Name == name {
			return fmt.Errorf("is an expr built-in function")
		}
	}
	return nil
}

// expander is the expr patcher that expands lists and macros.
type expander struct {
	lists  map[string][]string
	macros map[string]string
	stack  []string // macros being expanded, for cycles
	made   map[ast.Node]string
	errs   []error
}

func newExpander(lists map[string][]string, macros map[string]string) *expander {
	return &expander{lists: lists, macros: macros, made: map[ast.Node]string{}}
}

func (x *expander) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch {
		case reserved(n.Value):
			x.fail(n, "%s is reserved", n.Value)
		case x.lists[n.Value] != nil:
			items := x.lists[n.Value]
			arr := &ast.ArrayNode{Nodes: make([]ast.Node, len(items))}
			for i, s := range items {
				sn := &ast.StringNode{Value: s}
				sn.SetLocation(n.Location())
				arr.Nodes[i] = sn
			}
			x.made[arr] = "list " + n.Value
			ast.Patch(node, arr)
		case x.macros[n.Value] != "":
			m := x.expand(n.Value, n.Location())
			if m == nil {
				return
			}
			x.made[m] = "macro " + n.Value
			ast.Patch(node, m)
		}
	case *ast.CallNode:
		if what, ok := x.made[n.Callee]; ok {
			x.fail(n, "%s is not a function", what)
		}
	case *ast.VariableDeclaratorNode:
		if x.lists[n.Name] != nil || x.macros[n.Name] != "" {
			x.fail(n, "let %s shadows the list or macro %s", n.Name, n.Name)
		}
	}
}

// expand parses macro name and expands it, with every node placed where the
// macro is used so that errors point there.
func (x *expander) expand(name string, loc file.Location) ast.Node {
	for _, s := range x.stack {
		if s == name {
			x.errs = append(x.errs, fmt.Errorf("macro %s uses itself: %s -> %s", name, strings.Join(x.stack, " -> "), name))
			return nil
		}
	}
	tree, err := parser.Parse(x.macros[name])
	if err != nil {
		x.errs = append(x.errs, fmt.Errorf("macro %s: %w", name, err))
		return nil
	}
	x.stack = append(x.stack, name)
	ast.Walk(&tree.Node, x)
	x.stack = x.stack[:len(x.stack)-1]
	ast.Walk(&tree.Node, relocate{loc})
	return tree.Node
}

func (x *expander) fail(n ast.Node, format string, args ...any) {
	x.errs = append(x.errs, &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)})
}

type relocate struct{ loc file.Location }

func (r relocate) Visit(node *ast.Node) { (*node).SetLocation(r.loc) }
