// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Severities, lowest first.
var severities = []string{"info", "low", "medium", "high", "critical"}

// Rule is one detection rule as written in a rules file.
type Rule struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Severity    string   `yaml:"severity"`
	Enabled     *bool    `yaml:"enabled"`
	Tags        []string `yaml:"tags"`
	// MITRE lists ATT&CK references: DC0019, AN0986, T1036.005, ...
	MITRE     []string `yaml:"mitre"`
	Condition string   `yaml:"condition"`
	// Exceptions are records the rule does not fire on (Falco's
	// exceptions: fields, comps, values tuples).
	Exceptions []Exception `yaml:"exceptions"`
	// Output names expressions whose values the finding carries.
	Output map[string]string `yaml:"output"`

	// Override, in a later file, changes the rule an earlier file defines:
	// key → append or replace (condition, exceptions, output, tags, mitre,
	// description: either; title, severity, enabled: replace).
	Override map[string]string `yaml:"override"`
	// Append, in a later file, appends the condition, exceptions, output,
	// tags, mitre and description given to the earlier rule's (Falco's
	// append: true).
	Append bool `yaml:"append"`

	file    string
	line    int
	changes []string
}

// IsEnabled: the rule has no enabled key or enabled: true.
func (r *Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// Line is the line of the rule in its file (the file that defines it, when
// later files change it).
func (r *Rule) Line() int { return r.line }

// File is the rules file that defines the rule.
func (r *Rule) File() string { return r.file }

// Changes are the places (file:line) of the later files' entries that
// changed the rule: overrides, appends, enabled.
func (r *Rule) Changes() []string { return r.changes }

// File is a rules file.
type File struct {
	// Lists are named lists of strings; a list's name in an expression is
	// the list literal. A later file may append to or replace a list.
	Lists map[string]List `yaml:"lists"`
	// Macros are named expressions; a macro's name in an expression is the
	// macro's expression. Macros may use lists and other macros. A later
	// file may append to or replace a macro.
	Macros map[string]Macro `yaml:"macros"`
	Rules  []Rule           `yaml:"rules"`
}

// Finding is a rule that fired on a record.
type Finding struct {
	RuleID      string
	Title       string
	Description string
	Severity    string
	MITRE       []string
	Tags        []string
	// Output holds the rule's output fields, evaluated on the record,
	// sorted by key.
	Output []Field
	// Count, on a summary (Suppressor), is how many findings of the same
	// rule, actor and owner it stands for, kept back between Since and
	// Until; 0 on a finding that went out on its own.
	Count        int
	Since, Until time.Time
}

// Field is one output field of a finding.
type Field struct{ Key, Value string }

// Value returns the finding's output field key, "" when it has none.
func (f *Finding) Value(key string) string {
	for _, o := range f.Output {
		if o.Key == key {
			return o.Value
		}
	}
	return ""
}

type compiled struct {
	rule Rule
	cond *vm.Program
	// guard indexes Engine.guards, -1 for none; rest is cond without it
	// (guard.go).
	guard   int
	rest    *vm.Program
	outKeys []string
	outputs []*vm.Program
}

// Engine is a compiled rule set and its inventory. It is immutable once
// compiled and safe for concurrent use: Evaluate takes a VM from a pool.
type Engine struct {
	rules     []compiled
	all       []Rule
	inventory *inventory.Inventory
	index     *index
	calls     []callSite
	// guards are the macros conditions start with (guard.go)
	guards     []*vm.Program
	guardNames []string
	pool       sync.Pool
	hash       string
	lists      int
	macros     int
	sources    []Source // the rules files compiled, for Baseline
}

// Load reads and compiles a rules file against an inventory file. Every
// problem of every rule is reported, each with the file, the rule id and its
// line, and the expr error.
// Either may be a directory (LoadSources).
func Load(rulesFile, inventoryFile string) (*Engine, error) {
	return LoadSources(Sources{Rules: []string{rulesFile}, Inventory: []string{inventoryFile}})
}

// LoadBytes compiles rules (the content of rulesFile) against the inventory
// inv (the content of inventoryFile); the files only name the sources in
// errors.
func LoadBytes(rulesFile string, rules []byte, inventoryFile string, inv []byte) (*Engine, error) {
	i, err := inventory.Parse(inventoryFile, inv)
	if err != nil {
		return nil, err
	}
	e, err := Compile(rulesFile, rules, i)
	if err != nil {
		return nil, err
	}
	e.hash = contentHash(rules, inv)
	return e, nil
}

// contentHash identifies a rules file and inventory by content.
func contentHash(rules, inv []byte) string {
	h := sha256.New()
	a, b := sha256.Sum256(rules), sha256.Sum256(inv)
	h.Write(a[:])
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Compile compiles rules (the content of file, which names it in errors).
func Compile(file string, data []byte, inv *inventory.Inventory) (*Engine, error) {
	return compile(file, data, inv, true)
}

// DecodeStrict decodes the YAML data of file into v, refusing keys v does not
// have, and returns the document node too (for the lines of items). Errors
// name the file.
func DecodeStrict(file string, data []byte, v any) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &doc, nil
}

// compile compiles with the fast path (fastpath.go) or, for tests that
// compare the two, without.
func compile(file string, data []byte, inv *inventory.Inventory, fast bool) (*Engine, error) {
	e, err := compileSources([]Source{{Name: file, Data: data}}, inv, fast)
	if err != nil {
		return nil, err
	}
	e.hash = contentHash(data, nil)
	return e, nil
}

// compileSources layers the rules files (layer.go) and compiles the
// result. Every problem of every rule is reported.
func compileSources(srcs []Source, inv *inventory.Inventory, fast bool) (*Engine, error) {
	set := mergeFiles(srcs)
	errs := set.errs
	fileLists, listWhere, fileMacros, macroWhere := set.flat()
	e := &Engine{inventory: inv, index: newIndex(inv), lists: len(fileLists), macros: len(fileMacros), sources: srcs}
	e.pool.New = func() any { return newEvaluator(e) }

	fns := newFunctions()
	byName := make(map[string]*function, len(fns))
	for _, fn := range fns {
		byName[fn.name] = fn
	}
	lists := map[string][]string{}
	for _, name := range sortedKeys(fileLists) {
		if err := checkName(name, byName); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", listWhere[name], err))
			continue
		}
		items := fileLists[name]
		if items == nil {
			items = []string{}
		}
		lists[name] = items
	}
	macros := map[string]string{}
	for _, name := range sortedKeys(fileMacros) {
		where := macroWhere[name]
		switch {
		case lists[name] != nil:
			errs = append(errs, fmt.Errorf("%s: a list has the same name", where))
		case strings.TrimSpace(fileMacros[name]) == "":
			errs = append(errs, fmt.Errorf("%s: empty", where))
		default:
			if err := checkName(name, byName); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			macros[name] = fileMacros[name]
		}
	}

	c := compiler{e: e, fns: fns, byName: byName, lists: lists, macros: macros}
	if fast {
		c.fast = &fastPath{e: e, fns: byName, keys: map[string]int{}}
	}
	c.fnOpts = exprFunctions(e.index, fns)
	// A macro is checked on its own first, so that its errors name it.
	for _, name := range sortedKeys(macros) {
		if _, err := c.check(macros[name], false); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", macroWhere[name], err))
		}
	}

	for _, entry := range set.rules {
		r := entry.Rule
		r.changes = entry.layers
		where := entry.where()
		switch {
		case r.Condition == "":
			errs = append(errs, fmt.Errorf("%s: no condition", where))
			continue
		}
		if r.Severity == "" {
			r.Severity = "medium"
		}
		if !slices.Contains(severities, r.Severity) {
			errs = append(errs, fmt.Errorf("%s: severity %q is not one of %s", where, r.Severity, strings.Join(severities, ", ")))
			continue
		}
		e.all = append(e.all, r)
		if !r.IsEnabled() {
			continue
		}
		cond, err := c.withExceptions(r.Condition, r.Exceptions)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		cr := compiled{rule: r}
		cr.cond, err = c.compile(cond, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: condition: %w", where, err))
			continue
		}
		cr.guard, cr.rest = c.guardOf(e, cond)
		cr.outKeys = sortedKeys(r.Output)
		ok := true
		for _, k := range cr.outKeys {
			p, err := c.compile(r.Output[k], false)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: output %s: %w", where, k, err))
				ok = false
				continue
			}
			cr.outputs = append(cr.outputs, p)
		}
		if ok {
			e.rules = append(e.rules, cr)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// withExceptions returns the condition with the rule's exceptions: (cond)
// and not (exception or ...). Each exception is checked on its own first,
// so that its errors name it; an exception without values adds nothing.
func (c *compiler) withExceptions(cond string, xs []Exception) (string, error) {
	var terms []string
	seen := map[string]bool{}
	var errs []error
	fieldType := func(f string) (reflect.Type, error) {
		p, err := c.check(f, false)
		if err != nil {
			return nil, err
		}
		return p.Node().Type(), nil
	}
	for i, x := range xs {
		switch {
		case x.Name == "":
			errs = append(errs, fmt.Errorf("exceptions[%d]: no name", i))
			continue
		case seen[x.Name]:
			errs = append(errs, fmt.Errorf("exception %q: defined twice", x.Name))
			continue
		}
		seen[x.Name] = true
		text, err := x.exprText(fieldType)
		if err == nil {
			for _, f := range x.Fields.Items {
				if _, ferr := c.check(f, false); ferr != nil {
					err = fmt.Errorf("field %s: %w", f, ferr)
					break
				}
			}
		}
		if err == nil && text != "" {
			_, err = c.check(text, true)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("exception %q: %w", x.Name, err))
			continue
		}
		if text != "" {
			terms = append(terms, "("+text+")")
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	if len(terms) == 0 {
		return cond, nil
	}
	return "(" + cond + ") && !(" + strings.Join(terms, " || ") + ")", nil
}

// compiler compiles one rule set's expressions twice: once with the
// functions' real signatures, which checks types and reports errors as the
// rule author wrote the expression, then with the fast path, for running.
type compiler struct {
	e      *Engine
	fns    []*function
	byName map[string]*function
	fnOpts []expr.Option
	lists  map[string][]string
	macros map[string]string
	fast   *fastPath
}

func (c *compiler) options(x *expander, asBool bool) []expr.Option {
	opts := append([]expr.Option{expr.Env(Env{})}, c.fnOpts...)
	opts = append(opts, expr.Patch(x))
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	return opts
}

func (c *compiler) check(src string, asBool bool) (*vm.Program, error) {
	x := newExpander(c.lists, c.macros)
	p, err := expr.Compile(src, c.options(x, asBool)...)
	if len(x.errs) > 0 {
		return nil, bind(src, errors.Join(x.errs...))
	}
	return p, err
}

func (c *compiler) compile(src string, asBool bool) (*vm.Program, error) {
	p, err := c.check(src, asBool)
	if err != nil || c.fast == nil {
		return p, err
	}
	x := newExpander(c.lists, c.macros)
	c.fast.errs = nil
	p, err = expr.Compile(src, append(c.options(x, asBool), expr.Patch(c.fast))...)
	if len(c.fast.errs) > 0 {
		return nil, bind(src, errors.Join(c.fast.errs...))
	}
	if err != nil {
		return nil, fmt.Errorf("fast path: %w", err)
	}
	return p, nil
}

// bind adds the source snippet to the expr file errors in err.
func bind(src string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		var fe *file.Error
		if errors.As(e, &fe) {
			e = fe.Bind(file.NewSource(src))
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// itemLines returns the line of each rule ("rules/<i>"), list
// ("lists/<name>") and macro ("macros/<name>").
func itemLines(doc *yaml.Node) map[string]int {
	out := map[string]int{}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return out
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		switch key {
		case "rules":
			for j, n := range val.Content {
				out[fmt.Sprintf("rules/%d", j)] = n.Line
			}
		case "lists", "macros":
			for j := 0; j+1 < len(val.Content); j += 2 {
				out[key+"/"+val.Content[j].Value] = val.Content[j].Line
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Len is the number of enabled rules.
func (e *Engine) Len() int { return len(e.rules) }

// Rules returns every rule of the file, enabled or not, in file order.
func (e *Engine) Rules() []Rule { return append([]Rule(nil), e.all...) }

// Hash identifies the rules file and inventory the engine was compiled from
// (16 hex digits of SHA-256 over both contents).
func (e *Engine) Hash() string { return e.hash }

// Inventory is the inventory the rules were compiled against.
func (e *Engine) Inventory() *inventory.Inventory { return e.inventory }

// Evaluate runs every enabled rule on r and returns the findings, in rule
// order. A rule whose evaluation fails is reported in errs and skipped; the
// others still run. Evaluate is safe for concurrent use. Outputs are
// evaluated only for rules that fire.
func (e *Engine) Evaluate(r *podrecord.Record) (findings []Finding, errs []error) {
	ev := e.pool.Get().(*evaluator)
	env := ev.begin(r)
	fired := ev.fired[:0]
	for i := range e.rules {
		c := &e.rules[i]
		ok, err := ev.match(c, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", c.rule.ID, err))
			continue
		}
		if ok {
			fired = append(fired, i)
		}
	}
	ev.fired = fired
	if len(fired) == 0 {
		e.release(ev)
		return nil, errs
	}
	findings = make([]Finding, 0, len(fired))
	n := 0
	for _, i := range fired {
		n += len(e.rules[i].outputs)
	}
	// one array holds the output fields of all the findings
	fields := make([]Field, n)
	for _, i := range fired {
		c := &e.rules[i]
		f := Finding{
			RuleID: c.rule.ID, Title: c.rule.Title, Description: c.rule.Description,
			Severity: c.rule.Severity, MITRE: c.rule.MITRE, Tags: c.rule.Tags,
		}
		if len(c.outputs) > 0 {
			out := fields[:0:len(c.outputs)]
			fields = fields[len(c.outputs):]
			for j, p := range c.outputs {
				v, err := ev.vm.Run(p, env)
				if err != nil {
					errs = append(errs, fmt.Errorf("rule %s: output %s: %w", c.rule.ID, c.outKeys[j], err))
					continue
				}
				out = append(out, Field{Key: c.outKeys[j], Value: sprint(v)})
			}
			f.Output = out
		}
		findings = append(findings, f)
	}
	e.release(ev)
	return findings, errs
}

// Match evaluates the conditions of the enabled rules on r, without outputs,
// and appends the indexes (in Rules order of the enabled rules) of those that
// fire to dst. The first error stops it. It is Evaluate without the findings:
// for benchmarks and tests of the conditions' cost.
func (e *Engine) Match(r *podrecord.Record, dst []int) ([]int, error) {
	ev := e.pool.Get().(*evaluator)
	defer e.release(ev)
	env := ev.begin(r)
	for i := range e.rules {
		fired, err := ev.match(&e.rules[i], env)
		if err != nil {
			return dst, fmt.Errorf("rule %s: %w", e.rules[i].rule.ID, err)
		}
		if fired {
			dst = append(dst, i)
		}
	}
	return dst, nil
}

// begin prepares ev for r and returns the environment to run programs on.
func (ev *evaluator) begin(r *podrecord.Record) any {
	ev.rec = r
	ev.gen++
	ev.seq++
	ev.env.Pod = *r
	return ev.envValue()
}

// envType is the type word of an interface holding an Env.
var envType = func() unsafe.Pointer {
	var e any = Env{}
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&e))[0]
}()

// envValue returns an interface holding ev.env by value, as `any(ev.env)`
// would, without copying the Env (1.4 kB) to a new heap object: its data
// word points at ev.env. expr reads a value's fields through a
// non-addressable reflect.Value, which hands out strings, slices and
// structs without copying them (through a pointer every field read would
// allocate, see Env); boxing ev.env for every record was the evaluation's
// one allocation and its largest copy. The interface must not outlive the
// record's evaluation, since ev.env changes with the next record: it is
// only given to the evaluator's own VM and is gone at release.
func (ev *evaluator) envValue() any {
	var e any
	w := (*[2]unsafe.Pointer)(unsafe.Pointer(&e))
	w[0], w[1] = envType, unsafe.Pointer(&ev.env)
	return e
}

// release forgets the record (so the pool does not keep it alive) and puts
// ev back.
func (e *Engine) release(ev *evaluator) {
	ev.rec = nil
	ev.env.Pod = podrecord.Record{}
	clear(ev.memoS)
	clear(ev.memoX)
	clear(ev.boxStr)
	clear(ev.boxAny)
	e.pool.Put(ev)
}

// EnabledRules returns the enabled rules, in the order Match indexes them.
func (e *Engine) EnabledRules() []Rule {
	out := make([]Rule, len(e.rules))
	for i := range e.rules {
		out[i] = e.rules[i].rule
	}
	return out
}

// sprint is fmt.Sprint without fmt for the usual output values.
func sprint(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(v)
}

// Session holds one record ready for evaluation, to run the enabled rules'
// conditions one at a time: for tests and per-rule benchmarks. It is not
// safe for concurrent use; Close it to give its VM back.
type Session struct {
	e   *Engine
	ev  *evaluator
	env any
}

// NewSession prepares r for evaluation (the one allocation per record).
func (e *Engine) NewSession(r *podrecord.Record) *Session {
	ev := e.pool.Get().(*evaluator)
	return &Session{e: e, ev: ev, env: ev.begin(r)}
}

// Match evaluates the condition of the i-th enabled rule (EnabledRules).
// Record functions computed for an earlier Match are reused until Forget.
func (s *Session) Match(i int) (bool, error) {
	fired, err := s.ev.match(&s.e.rules[i], s.env)
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", s.e.rules[i].rule.ID, err)
	}
	return fired, nil
}

// Forget drops what record functions computed, so that the next Match
// computes them again: the cost of a rule on its own.
func (s *Session) Forget() { s.ev.gen++ }

// Close ends the session.
func (s *Session) Close() {
	if s.ev != nil {
		s.e.release(s.ev)
		s.ev = nil
	}
}
