package rules

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

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
	// Output names expressions whose values the finding carries.
	Output map[string]string `yaml:"output"`

	line int
}

// File is a rules file.
type File struct {
	Rules []Rule `yaml:"rules"`
}

// Env is what a rule's expressions see: the record as pod and the inventory.
type Env struct {
	Pod       *podrecord.Record `expr:"pod"`
	Inventory *Inventory        `expr:"inventory"`
}

// Finding is a rule that fired on a record.
type Finding struct {
	RuleID      string
	Title       string
	Description string
	Severity    string
	MITRE       []string
	Tags        []string
	// Output holds the rule's output fields, evaluated on the record.
	Output map[string]string
}

type compiled struct {
	rule    Rule
	cond    *vm.Program
	outKeys []string
	outputs []*vm.Program
}

// Engine holds a compiled rule set and its inventory. Evaluate is not safe
// for concurrent use: it reuses one VM.
type Engine struct {
	rules     []compiled
	inventory *Inventory
	vm        vm.VM
}

// Load reads and compiles a rules file against an inventory file. Every
// problem of every rule is reported, each with the file, the rule id and its
// line, and the expr error.
func Load(rulesFile, inventoryFile string) (*Engine, error) {
	inv, err := LoadInventory(inventoryFile)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		return nil, err
	}
	return Compile(rulesFile, data, inv)
}

// Compile compiles rules (the content of file, which names it in errors).
func Compile(file string, data []byte, inv *Inventory) (*Engine, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var f File
	if err := doc.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	lines := ruleLines(&doc)
	e := &Engine{inventory: inv}
	var errs []error
	ids := map[string]bool{}
	for i, r := range f.Rules {
		if i < len(lines) {
			r.line = lines[i]
		}
		where := fmt.Sprintf("%s:%d: rule %q", file, r.line, r.ID)
		switch {
		case r.ID == "":
			errs = append(errs, fmt.Errorf("%s: no id", where))
			continue
		case ids[r.ID]:
			errs = append(errs, fmt.Errorf("%s: duplicate id", where))
			continue
		case r.Condition == "":
			errs = append(errs, fmt.Errorf("%s: no condition", where))
			continue
		}
		ids[r.ID] = true
		if r.Severity == "" {
			r.Severity = "medium"
		}
		if !contains(severities, r.Severity) {
			errs = append(errs, fmt.Errorf("%s: severity %q is not one of %s", where, r.Severity, strings.Join(severities, ", ")))
			continue
		}
		if r.Enabled != nil && !*r.Enabled {
			continue
		}
		c := compiled{rule: r}
		opts := append(envOptions(inv), expr.AsBool())
		var err error
		c.cond, err = expr.Compile(r.Condition, opts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: condition: %w", where, err))
			continue
		}
		for k := range r.Output {
			c.outKeys = append(c.outKeys, k)
		}
		sort.Strings(c.outKeys)
		for _, k := range c.outKeys {
			p, err := expr.Compile(r.Output[k], envOptions(inv)...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: output %s: %w", where, k, err))
				continue
			}
			c.outputs = append(c.outputs, p)
		}
		e.rules = append(e.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// ruleLines returns the line of each item of the top-level rules sequence.
func ruleLines(doc *yaml.Node) []int {
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "rules" {
			var out []int
			for _, n := range root.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

func envOptions(inv *Inventory) []expr.Option {
	return []expr.Option{
		expr.Env(Env{}),
		expr.Function("imitates",
			func(params ...any) (any, error) { return inv.Imitates(params[0].(*podrecord.Record)), nil },
			new(func(*podrecord.Record) string)),
		expr.Function("creatorAllowed",
			func(params ...any) (any, error) { return inv.CreatorAllowed(params[0].(*podrecord.Record)), nil },
			new(func(*podrecord.Record) bool)),
		expr.Function("imageApproved",
			func(params ...any) (any, error) { return inv.ImageApproved(params[0].(string)), nil },
			new(func(string) bool)),
		expr.Function("image",
			func(params ...any) (any, error) { return ParseImage(params[0].(string)), nil },
			new(func(string) ImageRef)),
		expr.Function("isControllerSuffix",
			func(params ...any) (any, error) { return IsControllerSuffix(params[0].(string)), nil },
			new(func(string) bool)),
		expr.Function("distance",
			func(params ...any) (any, error) { return Distance(params[0].(string), params[1].(string)), nil },
			new(func(string, string) int)),
	}
}

// Len is the number of enabled rules.
func (e *Engine) Len() int { return len(e.rules) }

// Evaluate runs every enabled rule on r and returns the findings, in rule
// order. A rule whose evaluation fails is reported in errs and skipped; the
// others still run.
func (e *Engine) Evaluate(r *podrecord.Record) (findings []Finding, errs []error) {
	env := Env{Pod: r, Inventory: e.inventory}
	for i := range e.rules {
		c := &e.rules[i]
		out, err := e.vm.Run(c.cond, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", c.rule.ID, err))
			continue
		}
		if fired, _ := out.(bool); !fired {
			continue
		}
		f := Finding{
			RuleID: c.rule.ID, Title: c.rule.Title, Description: c.rule.Description,
			Severity: c.rule.Severity, MITRE: c.rule.MITRE, Tags: c.rule.Tags,
		}
		if len(c.outputs) > 0 {
			f.Output = make(map[string]string, len(c.outputs))
			for j, p := range c.outputs {
				v, err := e.vm.Run(p, env)
				if err != nil {
					errs = append(errs, fmt.Errorf("rule %s: output %s: %w", c.rule.ID, c.outKeys[j], err))
					continue
				}
				f.Output[c.outKeys[j]] = fmt.Sprint(v)
			}
		}
		findings = append(findings, f)
	}
	return findings, errs
}
