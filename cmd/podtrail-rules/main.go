// SPDX-License-Identifier: Apache-2.0

// Command podtrail-rules checks, tests and measures podtrail detection rules
// without a collector:
//
//	podtrail-rules check --rules rules.yaml --inventory inventory.yaml
//	podtrail-rules test  --rules rules.yaml --inventory inventory.yaml [--coverage] FIXTURE|DIR...
//	podtrail-rules bench --rules rules.yaml --inventory inventory.yaml FIXTURE|DIR...
//	podtrail-rules baseline --rules rules.yaml --inventory inventory.yaml [--out FILE] [--hold SEVERITY] [--pin] RECORDS.json...
//
// --rules and --inventory may be given several times, each a file or a
// directory: rules files are layered in order (a later one overrides,
// appends to or disables what an earlier one defines), inventories merged;
// --strict sets the inventory's strict mode.
//
// check compiles the rules and lists them, and fails on rules without a
// title or with malformed MITRE ids. test runs fixtures (records in,
// expected rule ids out; see internal/rules/ruletest) and prints pass or fail
// per rule; --coverage also fails when an enabled rule has no fixture that
// fires it or none that does not. bench evaluates the fixtures' records and
// prints the pack's time per record and each rule's cost on its own.
// baseline proposes a site inventory from exported pod-creation records
// (OTLP JSON), less what the inventory already approves, holding back the
// records that raise findings of --hold severity (high) or above.
//
// Exit status: 0 success, 1 failed tests, 2 unusable input (rules that do not
// compile, unreadable fixtures, bad flags).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/internal/rules/ruletest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  podtrail-rules check --rules FILE|DIR... --inventory FILE|DIR... [--strict]
  podtrail-rules test  --rules FILE|DIR... --inventory FILE|DIR... [--strict] [--coverage] FIXTURE|DIR...
  podtrail-rules bench --rules FILE|DIR... --inventory FILE|DIR... [--strict] [--n N] FIXTURE|DIR...
  podtrail-rules baseline --rules FILE|DIR... --inventory FILE|DIR... [--out FILE] [--hold SEVERITY] [--pin] RECORDS.json...
--rules and --inventory may be repeated: rules files are layered in order, inventories merged.
`

// paths is a repeatable flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet("podtrail-rules "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rulesFiles, invFiles paths
	fs.Var(&rulesFiles, "rules", "rules file or directory (repeat to layer)")
	fs.Var(&invFiles, "inventory", "inventory file or directory (repeat to merge)")
	strict := fs.Bool("strict", false, "the inventory's strict mode: what it does not approve is unapproved")
	coverage := fs.Bool("coverage", false, "test: fail when an enabled rule lacks a firing or a non-firing fixture")
	n := fs.Int("n", 20000, "bench: evaluations per record")
	out := fs.String("out", "", "baseline: write the proposal here (default: stdout, the review on stderr)")
	hold := fs.String("hold", "high", "baseline: records with a finding of this severity or above are held back, not learned from")
	pin := fs.Bool("pin", false, "baseline: propose images with the tags and digests seen (default: any tag)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if len(rulesFiles) == 0 || len(invFiles) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	src := rules.Sources{Rules: rulesFiles, Inventory: invFiles}
	if *strict {
		src.Strict = strict
	}
	e, err := rules.LoadSources(src)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	switch cmd {
	case "check":
		return check(e, stdout, stderr)
	case "test":
		return test(e, fs.Args(), *coverage, stdout, stderr)
	case "bench":
		return bench(e, fs.Args(), *n, stdout, stderr)
	case "baseline":
		return baseline(e, fs, *out, *hold, *pin, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return 2
}

// check lists the rules, and fails (exit 2) on rules without a title or
// with malformed MITRE ids (Engine.Lint), which compile but do not belong
// in a pack.
func check(e *rules.Engine, w, stderr io.Writer) int {
	all := e.Rules()
	for _, r := range all {
		state := "enabled"
		if !r.IsEnabled() {
			state = "disabled"
		}
		changed := ""
		if c := r.Changes(); len(c) > 0 {
			changed = " (changed at " + strings.Join(c, ", ") + ")"
		}
		fmt.Fprintf(w, "%-8s %-8s %-8s %s%s\n", r.ID, r.Severity, state, r.Title, changed)
	}
	fmt.Fprintf(w, "%d rules, %d enabled, set %s\n", len(all), e.Len(), e.Hash())
	if errs := e.Lint(); len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	return 0
}

func test(e *rules.Engine, paths []string, coverage bool, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "test: no fixtures given")
		return 2
	}
	cases, err := ruletest.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	rep := ruletest.Run(e, cases)
	rep.Write(stdout, coverage)
	if !rep.OK(coverage) {
		return 1
	}
	return 0
}

// bench prints, over the fixtures' records: the pack's time per record (p50,
// p99, from timing each evaluation of conditions and outputs) and
// allocations per record; then each enabled rule's condition on its own
// (record functions recomputed for it), ns and allocations per evaluation.
func bench(e *rules.Engine, paths []string, n int, stdout, stderr io.Writer) int {
	cases, err := ruletest.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	recs := ruletest.Records(cases)
	if len(recs) == 0 || n < 1 {
		fmt.Fprintln(stderr, "bench: no records")
		return 2
	}
	for _, r := range recs { // warm up: VMs, image cache
		_, _ = e.Evaluate(r)
	}
	times := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		r := recs[i%len(recs)]
		t0 := time.Now()
		_, _ = e.Evaluate(r)
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	var allocs float64
	for _, r := range recs {
		allocs += testing.AllocsPerRun(100, func() { _, _ = e.Evaluate(r) })
	}
	var match float64
	dst := make([]int, 0, e.Len())
	for _, r := range recs {
		match += testing.AllocsPerRun(100, func() { dst, _ = e.Match(r, dst[:0]) })
	}
	fmt.Fprintf(stdout, "pack: %d enabled rules, %d records: p50 %v p99 %v per record (%.0f ns/rule), %.1f allocs/record (%.1f conditions only)\n",
		e.Len(), len(recs), times[len(times)/2], times[len(times)*99/100], float64(times[len(times)/2].Nanoseconds())/float64(e.Len()),
		allocs/float64(len(recs)), match/float64(len(recs)))
	fmt.Fprintf(stdout, "%-8s %10s %10s  %s\n", "rule", "ns/eval", "allocs", "title")
	per := max(n/len(recs)/10, 10)
	for i, rule := range e.EnabledRules() {
		var ns, al float64
		for _, r := range recs {
			s := e.NewSession(r)
			one := func() {
				s.Forget()
				_, _ = s.Match(i)
			}
			one()
			t0 := time.Now()
			for j := 0; j < per; j++ {
				one()
			}
			ns += float64(time.Since(t0).Nanoseconds()) / float64(per)
			al += testing.AllocsPerRun(50, one)
			s.Close()
		}
		fmt.Fprintf(stdout, "%-8s %10.0f %10.1f  %s\n", rule.ID, ns/float64(len(recs)), al/float64(len(recs)), rule.Title)
	}
	return 0
}
