// SPDX-License-Identifier: Apache-2.0

// Package ruletest runs rule fixtures: pod-creation records in, the rule ids
// expected to fire (or not) out. podtrail-rules test is its command line.
//
// A fixture file is YAML:
//
//	defaults:              # merged under every case's record (maps deeply)
//	  allowed: true
//	  actor: {kind: user}
//	cases:
//	  - name: person's kube-proxy lookalike
//	    record:            # the record's JSON fields (podrecord.Record)
//	      namespace: kube-system
//	      name: kube-proxy-x7b2q
//	      actor: {username: alice@example.com}
//	      containers: [{name: c, image: docker.io/alpine:3.20, type: container}]
//	    fires: [PT-0002]   # these rules must fire
//	    quiet: [PT-0005]   # these must not
//	  - name: exactly these
//	    record: {...}
//	    expect: [PT-0001, PT-0002]   # these fire and no other enabled rule does
//
// Unknown record fields and unknown rule ids are errors.
package ruletest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
)

// File is a fixture file.
type File struct {
	Defaults map[string]any `yaml:"defaults"`
	Cases    []Case         `yaml:"cases"`
}

// Case is one record and what the rules must do with it.
type Case struct {
	Name   string         `yaml:"name"`
	Record map[string]any `yaml:"record"`
	// Expect, when present, is the exact set of enabled rules that fire.
	Expect *[]string `yaml:"expect"`
	Fires  []string  `yaml:"fires"`
	Quiet  []string  `yaml:"quiet"`

	// Where names the case: file:line "name".
	Where string `yaml:"-"`
	rec   *podrecord.Record
}

// Parse reads the fixture file data (file names it in errors).
func Parse(file string, data []byte) ([]Case, error) {
	var f File
	doc, err := rules.DecodeStrict(file, data, &f)
	if err != nil {
		return nil, err
	}
	lines := caseLines(doc)
	var errs []error
	for i := range f.Cases {
		c := &f.Cases[i]
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		c.Where = fmt.Sprintf("%s:%d %q", file, line, c.Name)
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("%s: case without a name", c.Where))
			continue
		}
		if c.Expect == nil && len(c.Fires) == 0 && len(c.Quiet) == 0 {
			errs = append(errs, fmt.Errorf("%s: expects nothing (expect, fires or quiet)", c.Where))
			continue
		}
		r, err := DecodeRecord(merge(f.Defaults, c.Record))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: record: %w", c.Where, err))
			continue
		}
		c.rec = r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Cases, nil
}

// DecodeRecord turns a record written as YAML (the JSON field names of
// podrecord.Record) into a Record. Unknown fields are errors. A container
// may hold image_metadata (the JSON field names of podrecord.ImageMeta):
// what the processor's registry lookup attaches to it.
func DecodeRecord(m map[string]any) (*podrecord.Record, error) {
	metas := map[int]any{}
	if ctrs, ok := m["containers"].([]any); ok {
		out := make([]any, len(ctrs))
		for i, c := range ctrs {
			cm, ok := c.(map[string]any)
			if meta, has := cm["image_metadata"]; ok && has {
				metas[i] = meta
				cm = maps.Clone(cm)
				delete(cm, "image_metadata")
				c = cm
			}
			out[i] = c
		}
		m = maps.Clone(m)
		m["containers"] = out
	}
	r := new(podrecord.Record)
	if err := decodeStrict(m, r); err != nil {
		return nil, err
	}
	for i, meta := range metas {
		im := new(podrecord.ImageMeta)
		if err := decodeStrict(meta, im); err != nil {
			return nil, fmt.Errorf("containers[%d].image_metadata: %w", i, err)
		}
		r.Containers[i].SetMeta(im)
	}
	return r, nil
}

// decodeStrict decodes v (from YAML) into dst by its JSON field names,
// refusing unknown fields.
func decodeStrict(v, dst any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// merge returns over deep-merged onto base (maps merge, anything else in
// over replaces).
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func caseLines(doc *yaml.Node) []int {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "cases" {
			var out []int
			for _, n := range root.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

// Load reads fixture files and directories (their *.yaml and *.yml files,
// not recursively), in the order given and, in a directory, by name.
func Load(paths ...string) ([]Case, error) {
	var cases []Case
	var errs []error
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			files = nil
			for _, pat := range []string{"*.yaml", "*.yml"} {
				m, _ := filepath.Glob(filepath.Join(p, pat))
				files = append(files, m...)
			}
			sort.Strings(files)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			cs, err := Parse(f, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			cases = append(cases, cs...)
		}
	}
	return cases, errors.Join(errs...)
}

// Records returns the cases' records.
func Records(cases []Case) []*podrecord.Record {
	out := make([]*podrecord.Record, 0, len(cases))
	for _, c := range cases {
		out = append(out, c.rec)
	}
	return out
}

// RuleResult is what the fixtures showed of one rule.
type RuleResult struct {
	ID, Title string
	Enabled   bool
	// Fired and Quiet count the passed assertions that the rule fires and
	// that it does not; Failures the failed ones, each "where: what".
	Fired, Quiet int
	Failures     []string
}

// Report is the outcome of a run.
type Report struct {
	Rules      []RuleResult
	Cases      int
	Assertions int
	Failed     int
	// Errors are problems outside any rule: unknown rule ids.
	Errors []string
}

// Run evaluates every case with e and checks its assertions.
func Run(e *rules.Engine, cases []Case) *Report {
	rep := &Report{Cases: len(cases)}
	byID := map[string]*RuleResult{}
	for _, r := range e.Rules() {
		rep.Rules = append(rep.Rules, RuleResult{ID: r.ID, Title: r.Title, Enabled: r.IsEnabled()})
	}
	for i := range rep.Rules {
		byID[rep.Rules[i].ID] = &rep.Rules[i]
	}
	for _, c := range cases {
		findings, errs := e.Evaluate(c.rec)
		fired := map[string]bool{}
		for _, f := range findings {
			fired[f.RuleID] = true
		}
		for _, err := range errs {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", c.Where, err))
			rep.Failed++
		}
		check := func(id string, want bool) {
			rr := byID[id]
			if rr == nil {
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s: no rule %s", c.Where, id))
				rep.Failed++
				return
			}
			rep.Assertions++
			got := fired[id]
			switch {
			case !rr.Enabled && want:
				rr.Failures = append(rr.Failures, c.Where+": expected to fire, but the rule is disabled")
				rep.Failed++
			case !rr.Enabled:
				// a disabled rule is quiet; nothing learnt
			case got == want && want:
				rr.Fired++
			case got == want:
				rr.Quiet++
			case want:
				rr.Failures = append(rr.Failures, c.Where+": did not fire")
				rep.Failed++
			default:
				rr.Failures = append(rr.Failures, c.Where+": fired")
				rep.Failed++
			}
		}
		for _, id := range c.Fires {
			check(id, true)
		}
		for _, id := range c.Quiet {
			check(id, false)
		}
		if c.Expect != nil {
			want := map[string]bool{}
			for _, id := range *c.Expect {
				want[id] = true
				if byID[id] == nil {
					check(id, true) // reports the unknown id
				}
			}
			for _, rr := range rep.Rules {
				if rr.Enabled {
					check(rr.ID, want[rr.ID])
				} else if want[rr.ID] {
					check(rr.ID, true)
				}
			}
		}
	}
	return rep
}

// Uncovered lists the enabled rules without a passed assertion that they
// fire, or without one that they do not.
func (rep *Report) Uncovered() []string {
	var out []string
	for _, r := range rep.Rules {
		if r.Enabled && (r.Fired == 0 || r.Quiet == 0) {
			out = append(out, r.ID)
		}
	}
	return out
}

// OK: nothing failed and, with coverage, every enabled rule was seen firing
// and not firing.
func (rep *Report) OK(coverage bool) bool {
	return rep.Failed == 0 && (!coverage || len(rep.Uncovered()) == 0)
}

// Write prints one line per rule (ok, FAIL, skip for disabled, and with
// coverage "uncovered"), the failures under their rule, and a summary.
func (rep *Report) Write(w io.Writer, coverage bool) {
	width := 8
	for _, r := range rep.Rules {
		width = max(width, len(r.ID))
	}
	for _, r := range rep.Rules {
		status := "ok"
		switch {
		case !r.Enabled:
			status = "skip"
		case len(r.Failures) > 0:
			status = "FAIL"
		case coverage && (r.Fired == 0 || r.Quiet == 0):
			status = "uncovered"
		}
		detail := fmt.Sprintf("fires %d, quiet %d", r.Fired, r.Quiet)
		if !r.Enabled {
			detail = "disabled"
		}
		fmt.Fprintf(w, "%-9s %-*s %s (%s)\n", status, width, r.ID, r.Title, detail)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "          %s\n", f)
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "error     %s\n", e)
	}
	enabled := 0
	for _, r := range rep.Rules {
		if r.Enabled {
			enabled++
		}
	}
	verdict := "PASS"
	if !rep.OK(coverage) {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d rules (%d enabled), %d cases, %d assertions, %d failed", verdict, len(rep.Rules), enabled,
		rep.Cases, rep.Assertions, rep.Failed)
	if coverage {
		if u := rep.Uncovered(); len(u) > 0 {
			fmt.Fprintf(w, ", uncovered: %s", strings.Join(u, " "))
		}
	}
	fmt.Fprintln(w)
}
