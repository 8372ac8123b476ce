// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Env is what a rule's expressions see: the record as pod and the
// inventory. The fields named __* are the fast-path entry points that
// compiled rules call (see design.md); rules cannot name them.
//
// A record is evaluated on a copy of Env boxed by value: expr then reads its
// fields through a non-addressable reflect.Value, which hands out strings,
// slices and structs without copying them to the heap (through a pointer
// every field read would allocate).
type Env struct {
	Pod       podrecord.Record    `expr:"pod"`
	Inventory inventory.Inventory `expr:"inventory"`

	CallBool   func(any, any) bool   `expr:"__callb"`
	CallString func(any, any) string `expr:"__calls"`
	CallAny    func(any, any) any    `expr:"__callx"`
	In         func(any, any) bool   `expr:"__in"`
}

const reservedPrefix = "__"

// callSite is a function bound to the constant arguments of one (or several
// identical) call sites. Record functions are memoized per record.
type callSite struct {
	impl
	memo bool
	// boxed: a record function returning a string from the record, called
	// through __callx: its result is boxed once per record (the box is kept
	// while the string stays the same, across Session.Forget).
	boxed bool
}

// evaluator evaluates records on one compiled Engine; it is not safe for
// concurrent use, and the Engine keeps a pool of them.
type evaluator struct {
	e   *Engine
	vm  vm.VM
	rec *podrecord.Record
	env Env
	// guard values (guard.go), valid when guardGen[k] == gen
	guardGen []uint64
	guardVal []bool
	guardErr []error
	// memo of record functions, valid when memoGen[k] == gen
	gen     uint64
	memoGen []uint64
	memoB   []bool
	memoS   []string
	memoX   []any
	// boxes of record strings (callSite.boxed), valid when boxSeq[k] == seq:
	// seq counts records, Session.Forget does not change it.
	seq       uint64
	boxSeq    []uint64
	boxStr    []string
	boxAny    []any
	scratch   []byte
	nameCache nameInfo
	fired     []int
}

func newEvaluator(e *Engine) *evaluator {
	n := len(e.calls)
	g := len(e.guards)
	ev := &evaluator{e: e, guardGen: make([]uint64, g), guardVal: make([]bool, g), guardErr: make([]error, g),
		memoGen: make([]uint64, n), memoB: make([]bool, n), memoS: make([]string, n),
		memoX: make([]any, n), boxSeq: make([]uint64, n), boxStr: make([]string, n), boxAny: make([]any, n),
		scratch: make([]byte, 0, 256)}
	ev.env = Env{Inventory: *e.inventory, CallBool: ev.callBool, CallString: ev.callString, CallAny: ev.callAny, In: fastIn}
	return ev
}

func (ev *evaluator) callBool(k, a any) bool {
	i := k.(int)
	c := &ev.e.calls[i]
	if !c.memo {
		return c.b(ev, a)
	}
	if ev.memoGen[i] != ev.gen {
		ev.memoB[i], ev.memoGen[i] = c.b(ev, a), ev.gen
	}
	return ev.memoB[i]
}

func (ev *evaluator) callString(k, a any) string {
	i := k.(int)
	c := &ev.e.calls[i]
	if !c.memo {
		return c.s(ev, a)
	}
	if ev.memoGen[i] != ev.gen {
		ev.memoS[i], ev.memoGen[i] = c.s(ev, a), ev.gen
	}
	return ev.memoS[i]
}

func (ev *evaluator) callAny(k, a any) any {
	i := k.(int)
	c := &ev.e.calls[i]
	if c.boxed {
		if ev.memoGen[i] != ev.gen {
			s := c.s(ev, a)
			if ev.boxSeq[i] != ev.seq || ev.boxStr[i] != s {
				ev.boxStr[i], ev.boxAny[i], ev.boxSeq[i] = s, s, ev.seq
			}
			ev.memoX[i], ev.memoGen[i] = ev.boxAny[i], ev.gen
		}
		return ev.memoX[i]
	}
	if !c.memo {
		return c.x(ev, a)
	}
	if ev.memoGen[i] != ev.gen {
		ev.memoX[i], ev.memoGen[i] = c.x(ev, a), ev.gen
	}
	return ev.memoX[i]
}

// fastIn is `needle in haystack` for a string in a []string or a map with
// string keys, without expr's reflection (which copies every element).
func fastIn(needle, haystack any) bool {
	s, ok := needle.(string)
	if ok {
		switch h := haystack.(type) {
		case []string:
			for _, x := range h {
				if x == s {
					return true
				}
			}
			return false
		case map[string]string:
			_, found := h[s]
			return found
		}
	}
	return runtime.In(needle, haystack)
}

// fastPath is the expr patcher that rewrites, in a type-checked tree:
//
//   - f(x, c1, ...) where f is one of functions and c1... are constants (or
//     f(pod, c1, ...)) into __callb/__calls/__callx(k, x), k indexing the
//     call site bound to the constants;
//   - s in list, s in map (string in []string or map[string]string, not a
//     literal list, which expr already turns into a set) into __in(s, list);
//   - m["k"] == "v", m["k"] != "v", m["k"] in ["v", ...] on a
//     map[string]string into __callb(k, m).
//
// Calls it cannot rewrite stay generic expr calls.
type fastPath struct {
	e    *Engine
	fns  map[string]*function
	keys map[string]int
	errs []error
}

func (p *fastPath) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		p.call(node, n)
	case *ast.BinaryNode:
		p.binary(node, n)
	}
}

func (p *fastPath) call(node *ast.Node, n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || len(n.Arguments) == 0 {
		return
	}
	f := p.fns[id.Value]
	if f == nil || f.ret == retOther {
		return
	}
	c := make([]any, len(n.Arguments)-1)
	for i, a := range n.Arguments[1:] {
		v, ok := constant(a)
		if !ok {
			return
		}
		c[i] = v
	}
	pod := n.Arguments[0].Type() == recordType
	key := fmt.Sprintf("%s\x00%v\x00%#v", f.name, pod, c)
	k, ok := p.keys[key]
	if !ok {
		im, err := f.bind(p.e.index, c, pod)
		if err != nil {
			p.errs = append(p.errs, &file.Error{Location: n.Location(), Message: fmt.Sprintf("%s: %v", f.name, err)})
			return
		}
		k = len(p.e.calls)
		p.e.calls = append(p.e.calls, callSite{impl: im, memo: pod, boxed: pod && im.s != nil})
		p.keys[key] = k
	}
	var arg ast.Node = n.Arguments[0]
	if pod {
		arg = &ast.NilNode{}
	}
	target := "__callx"
	switch c := &p.e.calls[k]; {
	case c.b != nil:
		target = "__callb"
	case c.s != nil && !c.boxed:
		target = "__calls"
	}
	p.patch(node, target, &ast.IntegerNode{Value: k}, arg)
}

func (p *fastPath) patch(node *ast.Node, target string, args ...ast.Node) {
	loc := (*node).Location()
	for _, a := range args {
		if a.Location() == (file.Location{}) {
			a.SetLocation(loc)
		}
	}
	callee := &ast.IdentifierNode{Value: target}
	callee.SetLocation(loc)
	ast.Patch(node, &ast.CallNode{Callee: callee, Arguments: args})
}

var (
	stringType    = reflect.TypeOf("")
	stringsType   = reflect.TypeOf([]string(nil))
	stringMapType = reflect.TypeOf(map[string]string(nil))
)

func (p *fastPath) binary(node *ast.Node, n *ast.BinaryNode) {
	switch n.Operator {
	case "in":
		if m, key, ok := mapIndex(n.Left); ok {
			if set, ok := constStrings(n.Right); ok {
				p.mapOp(node, m, key, func(v string) bool { return slices.Contains(set, v) }, "in", set)
			}
			return
		}
		if _, isArray := n.Right.(*ast.ArrayNode); isArray || n.Left.Type() != stringType {
			return
		}
		if t := n.Right.Type(); t == stringsType || t == stringMapType {
			p.patch(node, "__in", n.Left, n.Right)
		}
	case "==", "!=":
		m, key, ok := mapIndex(n.Left)
		other := n.Right
		if !ok {
			m, key, ok = mapIndex(n.Right)
			other = n.Left
		}
		s, isStr := other.(*ast.StringNode)
		if !ok || !isStr {
			return
		}
		want := s.Value
		if n.Operator == "==" {
			p.mapOp(node, m, key, func(v string) bool { return v == want }, "==", want)
		} else {
			p.mapOp(node, m, key, func(v string) bool { return v != want }, "!=", want)
		}
	}
}

// mapOp rewrites node into __callb(k, m) with k bound to test(m[key]).
func (p *fastPath) mapOp(node *ast.Node, m ast.Node, key string, test func(string) bool, op string, operand any) {
	ck := fmt.Sprintf("map\x00%s\x00%s\x00%#v", key, op, operand)
	k, ok := p.keys[ck]
	if !ok {
		k = len(p.e.calls)
		p.e.calls = append(p.e.calls, callSite{impl: impl{b: func(_ *evaluator, a any) bool {
			mm, _ := a.(map[string]string)
			return test(mm[key])
		}}})
		p.keys[ck] = k
	}
	p.patch(node, "__callb", &ast.IntegerNode{Value: k}, m)
}

// mapIndex: n is m["key"] on a map[string]string m.
func mapIndex(n ast.Node) (m ast.Node, key string, ok bool) {
	mn, isMember := n.(*ast.MemberNode)
	if !isMember || mn.Optional || mn.Node.Type() != stringMapType {
		return nil, "", false
	}
	s, isStr := mn.Property.(*ast.StringNode)
	if !isStr {
		return nil, "", false
	}
	return mn.Node, s.Value, true
}

func constStrings(n ast.Node) ([]string, bool) {
	v, ok := constant(n)
	if !ok {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, x := range list {
		if out[i], ok = x.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// constant is the value of a literal: string, number, bool, nil, or a list
// of them.
func constant(n ast.Node) (any, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.BoolNode:
		return n.Value, true
	case *ast.NilNode:
		return nil, true
	case *ast.ConstantNode:
		return n.Value, true
	case *ast.UnaryNode:
		if n.Operator == "-" {
			switch v := n.Node.(type) {
			case *ast.IntegerNode:
				return -v.Value, true
			case *ast.FloatNode:
				return -v.Value, true
			}
		}
	case *ast.ArrayNode:
		out := make([]any, len(n.Nodes))
		for i, x := range n.Nodes {
			v, ok := constant(x)
			if !ok {
				return nil, false
			}
			if _, nested := v.([]any); nested {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}
	return nil, false
}

// reserved reports identifiers rules may not use.
func reserved(name string) bool { return strings.HasPrefix(name, reservedPrefix) }
