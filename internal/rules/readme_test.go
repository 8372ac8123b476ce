// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/podrecord"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestREADMEExamples evaluates every line of the README's expr blocks on
// testdata/readme-record.yaml with the default pack's inventory: each must
// be true, with and without the fast path.
func TestREADMEExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "readme-record.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(m)
	r := new(podrecord.Record)
	if err := json.Unmarshal(js, r); err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```expr\n(.*?)```").FindAllStringSubmatch(readme(t), -1)
	n := 0
	inv := packInventory(t)
	for _, b := range blocks {
		for _, line := range strings.Split(b[1], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			n++
			src := "rules:\n  - id: X\n    condition: '" + strings.ReplaceAll(line, "'", "''") + "'\n"
			for _, fast := range []bool{true, false} {
				e, err := compile("README.md", []byte(src), inv, fast)
				if err != nil {
					t.Errorf("%s: %v", line, err)
					continue
				}
				fs, errs := e.Evaluate(r)
				if len(errs) > 0 || len(fs) != 1 {
					t.Errorf("%s: false (fast path %v) %v", line, fast, errs)
				}
			}
		}
	}
	if n < 60 {
		t.Fatalf("only %d examples", n)
	}
	t.Logf("%d examples", n)
}

// TestREADMEPackTable checks the README's table of the default pack against
// the rules file.
func TestREADMEPackTable(t *testing.T) {
	rows := regexp.MustCompile(`(?m)^\| (PT-\d{4}) \| (\w+) \| (.+) \|$`).FindAllStringSubmatch(readme(t), -1)
	e := loadPack(t)
	all := e.Rules()
	if len(rows) != len(all) {
		t.Fatalf("%d rows, %d rules", len(rows), len(all))
	}
	for i, r := range all {
		if rows[i][1] != r.ID || rows[i][2] != r.Severity || rows[i][3] != r.Title {
			t.Errorf("row %v, rule %s %s %s", rows[i][1:], r.ID, r.Severity, r.Title)
		}
	}
	// the demo table: every demo pod with findings, with TestDemo's rules
	demo := regexp.MustCompile("(?m)^\\| (\\d+) [^|]*\\| ((?:PT-\\d{4}(?: \\(info\\))?(?:, )?)+) \\|$").FindAllStringSubmatch(readme(t), -1)
	withFindings := 0
	for _, w := range demoWant {
		if len(w) > 0 {
			withFindings++
		}
	}
	if len(demo) != withFindings {
		t.Fatalf("%d demo rows, %d demo pods with findings", len(demo), withFindings)
	}
	for _, row := range demo {
		got := strings.Split(strings.ReplaceAll(row[2], " (info)", ""), ", ")
		found := false
		for _, w := range demoWant {
			if strings.Join(w, ",") == strings.Join(got, ",") {
				found = true
			}
		}
		if !found {
			t.Errorf("demo row %s: %v is no demo pod's findings", row[1], got)
		}
	}
}
