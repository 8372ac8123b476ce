// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/podtrail/podtrail/internal/inventory"
	"go.yaml.in/yaml/v3"
)

// Source is the content of one rules or inventory file.
type Source struct {
	Name string // the path, as errors name it
	Data []byte
}

// Sources names what a rule set is compiled from: rules files and
// inventory files, each a file or a directory.
type Sources struct {
	// Rules are rules files or directories (their *.yaml and *.yml files,
	// by name, not hidden ones, not recursively), in order: a later file
	// may override, append to or disable what an earlier one defines
	// (layering).
	Rules []string
	// Inventory are inventory files or directories, merged in order.
	Inventory []string
	// Strict, when set, overrides the inventories' strict.
	Strict *bool
}

// expand lists the files of paths: a file as it is, a directory's *.yaml
// and *.yml files sorted by name, without hidden ones (a ConfigMap
// volume's ..data).
func expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var files []string
		for _, e := range entries {
			n := e.Name()
			if strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				continue
			}
			full := filepath.Join(p, n)
			if st, err := os.Stat(full); err != nil || st.IsDir() {
				continue
			}
			files = append(files, full)
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, nil
}

func readAll(paths []string) ([]Source, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Source{Name: f, Data: data})
	}
	return out, nil
}

// Read reads every rules and inventory file, directories expanded.
func (s Sources) Read() (rules, inventory []Source, err error) {
	if rules, err = readAll(s.Rules); err != nil {
		return nil, nil, err
	}
	if inventory, err = readAll(s.Inventory); err != nil {
		return nil, nil, err
	}
	return rules, inventory, nil
}

// LoadSources reads and compiles the rules files against the merged
// inventory files.
func LoadSources(s Sources) (*Engine, error) {
	rules, inv, err := s.Read()
	if err != nil {
		return nil, err
	}
	return CompileSources(rules, inv, s.Strict)
}

// CompileSources compiles rules files, layered in order, against the
// inventory files, merged in order (strict, when set, overriding theirs).
func CompileSources(rules, inventory []Source, strict *bool) (*Engine, error) {
	inv, err := ParseInventories(inventory, strict)
	if err != nil {
		return nil, err
	}
	e, err := compileSources(rules, inv, true)
	if err != nil {
		return nil, err
	}
	e.hash = hashSources(rules, inventory, strict)
	return e, nil
}

// hashSources identifies a rule set by the contents of its files, in
// order (renaming a file that keeps its place changes nothing). One rules
// file and one inventory file hash as LoadBytes does.
func hashSources(rules, inventory []Source, strict *bool) string {
	if len(rules) == 1 && len(inventory) == 1 && strict == nil {
		return contentHash(rules[0].Data, inventory[0].Data)
	}
	h := sha256.New()
	var n [8]byte
	for _, group := range [][]Source{rules, inventory} {
		binary.BigEndian.PutUint64(n[:], uint64(len(group)))
		h.Write(n[:])
		for _, s := range group {
			sum := sha256.Sum256(s.Data)
			h.Write(sum[:])
		}
	}
	if strict != nil {
		h.Write([]byte{'s', map[bool]byte{false: 0, true: 1}[*strict]})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ParseInventories parses inventory files and merges them in order:
// lists are concatenated (system namespaces and trusted identities without
// repeats), namespaces entries of one name become one entry (creators,
// channels and images joined, require_digest if any says so), strict if
// any is strict, or as strict says when set.
func ParseInventories(srcs []Source, strict *bool) (*inventory.Inventory, error) {
	out := &inventory.Inventory{}
	for _, s := range srcs {
		inv, err := inventory.Decode(s.Name, s.Data)
		if err != nil {
			return nil, err
		}
		out.Merge(inv)
	}
	if strict != nil {
		out.Strict = *strict
	}
	out.Finish()
	return out, nil
}

func appendNew(dst []string, items ...string) []string {
	for _, s := range items {
		if !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

// List is a list in a rules file: a sequence of strings, or, to change a
// list an earlier file defines, {items: [...], append: true} (or
// override: {items: append}); a sequence, or override: {items: replace},
// replaces it.
type List struct {
	Items    []string
	Append   bool
	Override map[string]string
}

func (l *List) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode || n.Tag == "!!null" {
		l.Items = []string{}
		return n.Decode(&l.Items)
	}
	var m struct {
		Items    []string          `yaml:"items"`
		Append   bool              `yaml:"append"`
		Override map[string]string `yaml:"override"`
	}
	if err := decodeKnown(n, &m, "items", "append", "override"); err != nil {
		return err
	}
	l.Items, l.Append, l.Override = m.Items, m.Append, m.Override
	if l.Items == nil {
		l.Items = []string{}
	}
	return nil
}

// Macro is a macro in a rules file: an expression, or, to change a macro an
// earlier file defines, {condition: "or ...", append: true} (or override:
// {condition: append}).
type Macro struct {
	Condition string
	Append    bool
	Override  map[string]string
}

func (m *Macro) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		m.Condition = n.Value
		return nil
	}
	var v struct {
		Condition string            `yaml:"condition"`
		Append    bool              `yaml:"append"`
		Override  map[string]string `yaml:"override"`
	}
	if err := decodeKnown(n, &v, "condition", "append", "override"); err != nil {
		return err
	}
	m.Condition, m.Append, m.Override = v.Condition, v.Append, v.Override
	return nil
}

// decodeKnown decodes a mapping node into v, refusing keys not in known
// (a custom unmarshaller does not inherit the decoder's KnownFields).
func decodeKnown(n *yaml.Node, v any, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a list, a string or a mapping of %s", n.Line, strings.Join(known, ", "))
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(known, k) {
			return fmt.Errorf("line %d: field %s not found (one of %s)", n.Content[i].Line, k, strings.Join(known, ", "))
		}
	}
	return n.Decode(v)
}

// layered is a rules file set merged in order.
type layered struct {
	lists  map[string]*listEntry
	macros map[string]*macroEntry
	rules  []*ruleEntry
	byID   map[string]*ruleEntry
	errs   []error
}

type listEntry struct {
	items []string
	where string
}

type macroEntry struct {
	cond  string
	where string
}

type ruleEntry struct {
	Rule
	// layers are the places (file:line) of the entries of later files that
	// changed the rule
	layers []string
}

// where names the rule for errors: the file and line that define it, and
// those that changed it.
func (r *ruleEntry) where() string {
	w := fmt.Sprintf("%s:%d: rule %q", r.file, r.line, r.ID)
	if len(r.layers) > 0 {
		w += " (changed at " + strings.Join(r.layers, ", ") + ")"
	}
	return w
}

// mergeFiles decodes the rules files and layers them in order.
func mergeFiles(srcs []Source) *layered {
	s := &layered{lists: map[string]*listEntry{}, macros: map[string]*macroEntry{}, byID: map[string]*ruleEntry{}}
	for _, src := range srcs {
		var f File
		doc, err := DecodeStrict(src.Name, src.Data, &f)
		if err != nil {
			s.errs = append(s.errs, err)
			continue
		}
		lines := itemLines(doc)
		for _, name := range sortedKeys(f.Lists) {
			s.addList(name, f.Lists[name], fmt.Sprintf("%s:%d: list %q", src.Name, lines["lists/"+name], name))
		}
		for _, name := range sortedKeys(f.Macros) {
			s.addMacro(name, f.Macros[name], fmt.Sprintf("%s:%d: macro %q", src.Name, lines["macros/"+name], name))
		}
		for i, r := range f.Rules {
			r.file, r.line = src.Name, lines[fmt.Sprintf("rules/%d", i)]
			s.addRule(r)
		}
	}
	return s
}

func overrideMode(o map[string]string, append bool, key, where string) (string, error) {
	for k, v := range o {
		if k != key {
			return "", fmt.Errorf("%s: override: %s is not %s", where, k, key)
		}
		if v != "append" && v != "replace" {
			return "", fmt.Errorf("%s: override: %s: %q is not append or replace", where, k, v)
		}
	}
	switch {
	case o[key] != "":
		return o[key], nil
	case append:
		return "append", nil
	}
	return "", nil
}

func (s *layered) addList(name string, l List, where string) {
	mode, err := overrideMode(l.Override, l.Append, "items", where)
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	ex := s.lists[name]
	switch {
	case ex == nil && mode == "append":
		s.errs = append(s.errs, fmt.Errorf("%s: appends to a list no earlier file defines", where))
	case ex == nil || mode != "append":
		s.lists[name] = &listEntry{items: slices.Clone(l.Items), where: where}
	default:
		ex.items = append(ex.items, l.Items...)
	}
}

func (s *layered) addMacro(name string, m Macro, where string) {
	mode, err := overrideMode(m.Override, m.Append, "condition", where)
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	ex := s.macros[name]
	switch {
	case ex == nil && mode == "append":
		s.errs = append(s.errs, fmt.Errorf("%s: appends to a macro no earlier file defines", where))
	case ex == nil || mode != "append":
		s.macros[name] = &macroEntry{cond: m.Condition, where: where}
	default:
		c, err := appendCondition(ex.cond, m.Condition)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s: %w", where, err))
			return
		}
		ex.cond = c
	}
}

// appendCondition appends a condition the way Falco does, its text after
// the earlier one: it must begin with and, or, && or ||.
func appendCondition(old, more string) (string, error) {
	m := strings.TrimSpace(more)
	lower := strings.ToLower(m)
	for _, op := range []string{"and ", "or ", "and(", "or(", "&&", "||"} {
		if strings.HasPrefix(lower, op) {
			return "(" + old + ") " + m, nil
		}
	}
	return "", fmt.Errorf("an appended condition begins with and, or, && or || (%q)", m)
}

// overridable are the keys of a rule a later file may change, and how.
var overridable = map[string][]string{
	"condition":   {"append", "replace"},
	"exceptions":  {"append", "replace"},
	"output":      {"append", "replace"},
	"tags":        {"append", "replace"},
	"mitre":       {"append", "replace"},
	"description": {"append", "replace"},
	"title":       {"replace"},
	"severity":    {"replace"},
	"enabled":     {"replace"},
}

// given lists the keys a rule entry sets, but id and enabled.
func (r *Rule) given() []string {
	var out []string
	add := func(ok bool, k string) {
		if ok {
			out = append(out, k)
		}
	}
	add(r.Condition != "", "condition")
	add(r.Exceptions != nil, "exceptions")
	add(r.Output != nil, "output")
	add(r.Tags != nil, "tags")
	add(r.MITRE != nil, "mitre")
	add(r.Description != "", "description")
	add(r.Title != "", "title")
	add(r.Severity != "", "severity")
	return out
}

func (s *layered) addRule(r Rule) {
	where := fmt.Sprintf("%s:%d: rule %q", r.file, r.line, r.ID)
	if r.ID == "" {
		s.errs = append(s.errs, fmt.Errorf("%s: no id", where))
		return
	}
	ex := s.byID[r.ID]
	changes := r.Append || len(r.Override) > 0
	switch {
	case ex == nil && changes:
		s.errs = append(s.errs, fmt.Errorf("%s: overrides or appends to a rule no earlier file defines", where))
	case ex == nil:
		e := &ruleEntry{Rule: r}
		s.rules = append(s.rules, e)
		s.byID[r.ID] = e
	case ex.file == r.file && !changes:
		s.errs = append(s.errs, fmt.Errorf("%s: duplicate id", where))
	case changes:
		if err := ex.apply(r, where); err != nil {
			s.errs = append(s.errs, err)
			return
		}
		ex.layers = append(ex.layers, fmt.Sprintf("%s:%d", r.file, r.line))
	case len(r.given()) == 0 && r.Enabled != nil:
		// enabled: false (or true) alone, as Falco takes it
		ex.Enabled = r.Enabled
		ex.layers = append(ex.layers, fmt.Sprintf("%s:%d", r.file, r.line))
	default:
		// a whole new definition in a later file replaces the rule, in its place
		ex.Rule, ex.layers = r, nil
	}
}

// apply applies an override or append entry r to the rule.
func (ex *ruleEntry) apply(r Rule, where string) error {
	modes := map[string]string{}
	if r.Append {
		for _, k := range r.given() {
			if !slices.Contains(overridable[k], "append") {
				return fmt.Errorf("%s: %s cannot be appended (override: {%s: replace})", where, k, k)
			}
			modes[k] = "append"
		}
	}
	for k, m := range r.Override {
		allowed, ok := overridable[k]
		switch {
		case !ok:
			return fmt.Errorf("%s: override: %s cannot be overridden (one of %s)", where, k, strings.Join(sortedKeys(overridable), ", "))
		case !slices.Contains(allowed, m):
			return fmt.Errorf("%s: override: %s: %q is not %s", where, k, m, strings.Join(allowed, " or "))
		}
		modes[k] = m
	}
	given := r.given()
	for _, k := range given {
		if modes[k] == "" {
			return fmt.Errorf("%s: %s given without override (override: {%s: append} or {%s: replace})", where, k, k, k)
		}
	}
	for k := range modes {
		if k == "enabled" && r.Enabled == nil || k != "enabled" && !slices.Contains(given, k) {
			return fmt.Errorf("%s: override: %s, which the entry does not give", where, k)
		}
	}
	if r.Enabled != nil {
		ex.Enabled = r.Enabled
	}
	for _, k := range sortedKeys(modes) {
		app := modes[k] == "append"
		switch k {
		case "condition":
			if app {
				c, err := appendCondition(ex.Condition, r.Condition)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				ex.Condition = c
			} else {
				ex.Condition = r.Condition
			}
		case "exceptions":
			if !app {
				ex.Exceptions = r.Exceptions
				continue
			}
			if err := ex.appendExceptions(r.Exceptions, where); err != nil {
				return err
			}
		case "output":
			if !app || ex.Output == nil {
				ex.Output = map[string]string{}
			}
			out := make(map[string]string, len(ex.Output)+len(r.Output))
			for k, v := range ex.Output {
				out[k] = v
			}
			for k, v := range r.Output {
				out[k] = v
			}
			ex.Output = out
		case "tags":
			if app {
				ex.Tags = appendNew(slices.Clone(ex.Tags), r.Tags...)
			} else {
				ex.Tags = r.Tags
			}
		case "mitre":
			if app {
				ex.MITRE = appendNew(slices.Clone(ex.MITRE), r.MITRE...)
			} else {
				ex.MITRE = r.MITRE
			}
		case "description":
			if app {
				ex.Description = strings.TrimSpace(strings.TrimSpace(ex.Description) + " " + strings.TrimSpace(r.Description))
			} else {
				ex.Description = r.Description
			}
		case "title":
			ex.Title = r.Title
		case "severity":
			ex.Severity = r.Severity
		}
	}
	return nil
}

// appendExceptions adds exceptions to the rule's: values to an exception
// of the same name (whose fields and comps, if given again, must be the
// same), or a new exception.
func (ex *ruleEntry) appendExceptions(more []Exception, where string) error {
	list := slices.Clone(ex.Exceptions)
	for _, x := range more {
		i := slices.IndexFunc(list, func(e Exception) bool { return e.Name == x.Name })
		if i < 0 {
			list = append(list, x)
			continue
		}
		e := list[i]
		if len(x.Fields.Items) > 0 && !x.Fields.equal(e.Fields) || len(x.Comps.Items) > 0 && !x.Comps.equal(e.Comps) {
			return fmt.Errorf("%s: exception %q: appended values cannot change its fields or comps", where, x.Name)
		}
		e.Values = append(slices.Clone(e.Values), x.Values...)
		list[i] = e
	}
	ex.Exceptions = list
	return nil
}

// lists and macros as compile takes them, with where each is defined.
func (s *layered) flat() (lists map[string][]string, listWhere map[string]string, macros map[string]string, macroWhere map[string]string) {
	lists, listWhere = map[string][]string{}, map[string]string{}
	for n, l := range s.lists {
		lists[n], listWhere[n] = l.items, l.where
	}
	macros, macroWhere = map[string]string{}, map[string]string{}
	for n, m := range s.macros {
		macros[n], macroWhere[n] = m.cond, m.where
	}
	return
}
