// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
)

var update = flag.Bool("update", false, "rewrite tests/demo.yaml from the demo audit log")

// demoRecords builds the records of the demo audit log's pod creates, the way
// the processor does: audit.Decode, then podrecord.FromAudit.
func demoRecords(t testing.TB) []*podrecord.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*podrecord.Record
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		ev, err := audit.Decode([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		r, err := podrecord.FromAudit(ev)
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// demoWant is the rules each demo pod fires (TestDemo, tests/demo.yaml).
var demoWant = map[string][]string{
	"kube-system/kube-proxy-7mzqv":         nil, // DaemonSet's own pod
	"kube-system/coredns-668d6bf9bc-2xkfw": nil,
	"kube-system/kube-proxy-x7b2q":         {"PT-0001", "PT-0002", "PT-0003", "PT-0011", "PT-0012", "PT-0023"},
	"kube-system/?":                        {"PT-0004"}, // mallory, forbidden
	"shop/payments-5d8f7c9b6d-q9wzt":       nil,
	"web/frontend-7c9d8f6b5-lz8kp":         nil, // tag, not digest: allowed for ghcr.io/acme/*
	"batch/report-nightly-29919435-8dk2x":  nil,
	"default/tf-smoke":                     {"PT-0030"}, // IaC bare pod in a namespace the inventory lacks: info
	"monitoring/node-exporter-debug":       {"PT-0006", "PT-0036"},
	"kube-system/kube-proxy-4wz9n":         {"PT-0001", "PT-0002", "PT-0003", "PT-0005", "PT-0010", "PT-0011", "PT-0022", "PT-0023", "PT-0036"},
	"shop/cart-6f7d9c8b4-ttp4z":            {"PT-0003", "PT-0022"},
}

// TestDemo checks which rules of the default pack fire on each pod of the
// demo (distributions/otelcol-podtrail/demo/README.md): none on the approved
// pods their controllers made, the masquerades on the rest.
func TestDemo(t *testing.T) {
	e := loadPack(t)
	want := demoWant
	records := demoRecords(t)
	if len(records) != len(want) {
		t.Fatalf("%d pod creates in the demo, want %d", len(records), len(want))
	}
	total := 0
	for _, r := range records {
		fs, errs := e.Evaluate(r)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", r.DisplayName(), errs)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.RuleID)
		}
		total += len(got)
		w, ok := want[r.DisplayName()]
		if !ok {
			t.Errorf("unexpected pod %s", r.DisplayName())
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: fired %v, want %v", r.DisplayName(), got, w)
		}
	}
	if total != 21 {
		t.Errorf("%d findings, want 21", total)
	}
}

// fixtureRecords reads the records of the pack's fixture files (the format
// of package ruletest, which imports this package and so cannot be used
// here).
func fixtureRecords(t testing.TB) []*podrecord.Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(packDir, "tests", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	var out []*podrecord.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Defaults map[string]any `yaml:"defaults"`
			Cases    []struct {
				Record map[string]any `yaml:"record"`
			} `yaml:"cases"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for _, c := range doc.Cases {
			m := map[string]any{}
			for k, v := range doc.Defaults {
				m[k] = v
			}
			for k, v := range c.Record {
				m[k] = v
			}
			js, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			r := new(podrecord.Record)
			if err := json.Unmarshal(js, r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// TestDemoFixture checks that the records of the fixture file demo.yaml are
// those the demo audit log gives, so that podtrail-rules tests the demo as
// the collector sees it. Regenerate demo.yaml with -update.
func TestDemoFixture(t *testing.T) {
	file := filepath.Join(packDir, "tests", "demo.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name   string         `yaml:"name"`
			Record map[string]any `yaml:"record"`
			Expect []string       `yaml:"expect"`
		} `yaml:"cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	records := demoRecords(t)
	if *update {
		var sb strings.Builder
		sb.WriteString("# The 11 pod creates of the demo (distributions/otelcol-podtrail/demo/audit.log), as\n" +
			"# podrecord.FromAudit builds them, with the exact set of rules each must fire.\n" +
			"# internal/rules TestDemo checks the same from the audit log itself; regenerate with\n" +
			"# go test ./internal/rules/ -run TestDemoFixture -update\ncases:\n")
		for i, r := range records {
			js, _ := json.Marshal(r)
			var m map[string]any
			_ = json.Unmarshal(js, &m)
			name := fmt.Sprintf("%d %s", i+1, r.DisplayName())
			if i < len(doc.Cases) {
				name = doc.Cases[i].Name
			}
			type fixture struct {
				Name   string         `yaml:"name"`
				Record map[string]any `yaml:"record"`
				Expect []string       `yaml:"expect,flow"`
			}
			out, err := yaml.Marshal([]fixture{{name, m, append([]string{}, demoWant[r.DisplayName()]...)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				sb.WriteString("  " + l + "\n")
			}
		}
		if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(doc.Cases) != len(records) {
		t.Fatalf("%d cases, %d pod creates", len(doc.Cases), len(records))
	}
	for i, r := range records {
		js, _ := json.Marshal(r)
		var want map[string]any
		_ = json.Unmarshal(js, &want)
		gotJS, _ := json.Marshal(doc.Cases[i].Record)
		var got map[string]any
		_ = json.Unmarshal(gotJS, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the fixture's record is not the audit log's (go test -run TestDemoFixture -update)", doc.Cases[i].Name)
		}
	}
}
