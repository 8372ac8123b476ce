// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalRulesExample runs the pack's layering example: a site's rules
// file after the pack (exceptions appended by name, Falco's append: true, a
// list appended, a severity replaced, a condition appended, a rule
// disabled) and its fixtures.
func TestLocalRulesExample(t *testing.T) {
	local := filepath.Join(pack, "examples", "local-rules.yaml")
	code, out, errOut := runCmd("test", "--rules", rulesFile, "--rules", local, "--inventory", invFile, filepath.Join(pack, "examples", "tests"))
	if code != 0 || !strings.Contains(out, "PASS: ") || !strings.Contains(out, "skip      PT-0016") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd("check", "--rules", rulesFile, "--rules", local, "--inventory", invFile)
	if code != 0 || !strings.Contains(out, "PT-0024  high     enabled  Unversioned image in a sensitive namespace (changed at "+local+":") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestLayersFromDirectory: --rules takes a directory (its *.yaml by name);
// a broken layer fails the check naming its file and line, and the rule it
// changes.
func TestLayersFromDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("10-quiet.yaml", "rules:\n  - id: PT-0030\n    enabled: false\n")
	code, out, errOut := runCmd("check", "--rules", rulesFile, "--rules", dir, "--inventory", invFile)
	if code != 0 || !strings.Contains(out, "PT-0030  info     disabled") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	write("20-broken.yaml", "rules:\n  - id: PT-0001\n    condition: and pod.nmae == \"x\"\n    override: {condition: append}\n")
	code, out, errOut = runCmd("check", "--rules", rulesFile, "--rules", dir, "--inventory", invFile)
	if code != 2 || !strings.Contains(errOut, `rule "PT-0001" (changed at `+filepath.Join(dir, "20-broken.yaml")+`:2): condition: type podrecord.Record has no field nmae`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestCheckLint: check refuses rules without a title and malformed MITRE
// ids (exit 2), naming file, line and rule; test still runs them.
func TestCheckLint(t *testing.T) {
	f := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(f, []byte("rules:\n  - id: X-1\n    mitre: [T1036.5]\n    condition: pod.allowed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd("check", "--rules", f, "--inventory", invFile)
	if code != 2 || !strings.Contains(errOut, f+`:2: rule "X-1": no title`) || !strings.Contains(errOut, f+`:2: rule "X-1": mitre "T1036.5" is not an ATT&CK id`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestGenericInventory: the shipped generic inventory, alone, leaves the
// system pods of kubeadm, EKS, GKE, AKS, k3s and the common add-ons without
// a finding, and the masquerades still fire (inventory-tests/); merged
// under the demo cluster's inventory, the pack's fixtures pass as they do
// on the demo inventory alone.
func TestGenericInventory(t *testing.T) {
	code, out, errOut := runCmd("test", "--rules", rulesFile, "--inventory", generic, filepath.Join(pack, "inventory-tests"))
	if code != 0 || !strings.Contains(out, "PASS: ") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	t.Log(lastLine(out))
	code, out, errOut = runCmd("test", "--coverage", "--rules", rulesFile, "--inventory", generic, "--inventory", invFile, filepath.Join(pack, "tests"))
	if code != 0 || !strings.Contains(out, "PASS: ") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
