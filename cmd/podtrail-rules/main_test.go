// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	pack        = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")
	rulesFile   = filepath.Join(pack, "rules.yaml")
	// invFile is the demo cluster's inventory, which the pack's fixtures
	// (tests/) are written for; generic is the shipped generic inventory.
	invFile     = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo", "inventory.yaml")
	generic     = filepath.Join(pack, "inventory.yaml")
	walkthrough = filepath.Join("..", "..", "internal", "rules", "testdata", "walkthrough")
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// TestDefaultPackFixtures runs every fixture of the default pack, requiring
// each enabled rule to have a firing and a non-firing one: `make test` runs
// the pack's tests through this.
func TestDefaultPackFixtures(t *testing.T) {
	code, out, errOut := runCmd("test", "--coverage", "--rules", rulesFile, "--inventory", invFile, filepath.Join(pack, "tests"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "PASS: 44 rules (44 enabled)") || strings.Contains(out, "FAIL") || strings.Contains(out, "uncovered") {
		t.Fatalf("%s", out)
	}
	t.Log(last)
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.yaml")
	if err := os.WriteFile(wrong, []byte("cases:\n  - name: controller pod expected to fire\n    record: {namespace: kube-system, allowed: true, actor: {kind: controller}}\n    fires: [PT-0001]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"failing fixture", []string{"test", "--rules", rulesFile, "--inventory", invFile, wrong}, 1,
			`FAIL      PT-0001  Person created a pod in a system namespace (fires 0, quiet 0)` + "\n" +
				`          ` + wrong + `:2 "controller pod expected to fire": did not fire`},
		{"rules that do not compile", []string{"check", "--rules", filepath.Join(walkthrough, "broken-rules.yaml"), "--inventory", invFile}, 2,
			`broken-rules.yaml:8: rule "ACME-0001": output actor: type podrecord.Actor has no field usernme`},
		{"no fixtures", []string{"test", "--rules", rulesFile, "--inventory", invFile}, 2, "no fixtures"},
		{"missing fixture", []string{"test", "--rules", rulesFile, "--inventory", invFile, filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml"},
		{"no flags", []string{"test"}, 2, "usage"},
		{"unknown command", []string{"lint", "--rules", rulesFile, "--inventory", invFile}, 2, "usage"},
		{"check", []string{"check", "--rules", rulesFile, "--inventory", invFile}, 0, "44 rules, 44 enabled, set "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s%s", code, tt.code, tt.want, out, errOut)
			}
		})
	}
}

// TestWalkthrough runs the README walkthrough and checks its output against
// the golden files, which the README quotes.
func TestWalkthrough(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "internal", "rules", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		golden string
		args   []string
		code   int
	}{
		{"test.golden", []string{"test", "--coverage", "--rules", "rules.yaml", "--inventory", "inventory.yaml", "tests.yaml"}, 0},
		{"check.golden", []string{"check", "--rules", "broken-rules.yaml", "--inventory", "inventory.yaml"}, 2},
	} {
		t.Run(step.golden, func(t *testing.T) {
			t.Chdir(walkthrough) // as the README runs it
			code, out, errOut := runCmd(step.args...)
			got := out + errOut
			if code != step.code {
				t.Fatalf("exit %d:\n%s", code, got)
			}
			if *update {
				if err := os.WriteFile(step.golden, []byte(got), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(step.golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("output:\n%s\nwant:\n%s", got, want)
			}
			if !bytes.Contains(readme, want) {
				t.Errorf("README.md does not quote %s:\n%s", step.golden, want)
			}
		})
	}
	for _, f := range []string{"rules.yaml", "tests.yaml"} {
		data, err := os.ReadFile(filepath.Join(walkthrough, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, data) {
			t.Errorf("README.md does not quote the walkthrough's %s", f)
		}
	}
}

func TestBench(t *testing.T) {
	code, out, errOut := runCmd("bench", "--n", "200", "--rules", rulesFile, "--inventory", invFile, filepath.Join(pack, "tests", "demo.yaml"))
	if code != 0 || !strings.Contains(out, "pack: 44 enabled rules, 11 records: p50 ") || !strings.Contains(out, "\nPT-0038 ") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
