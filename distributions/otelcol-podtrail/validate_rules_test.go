// SPDX-License-Identifier: Apache-2.0

package otelcolpodtrail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/testbed"
)

// TestValidateRules: `otelcol-podtrail validate` loads the pod_creation
// processor's rules and inventory files (its Validate does): the demo's
// configuration passes; the same with a rules layer that does not compile,
// or an inventory that does not load, fails, naming the file and line.
func TestValidateRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole collector")
	}
	bin := testbed.Collector(t)
	env := configEnv(t)
	demo, _ := filepath.Abs("config/demo.yaml")
	if err := validate(t, bin, demo, env); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	layer := filepath.Join(dir, "local.yaml")
	if err := os.WriteFile(layer, []byte("rules:\n  - id: PT-0001\n    condition: and pod.nmae == \"x\"\n    override: {condition: append}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(inv, []byte("images:\n  - repository: nginx:1.27\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := string(mustRead(t, demo))
	for _, tt := range []struct{ name, config, want string }{
		{"broken layer", strings.Replace(base, "    rules:\n", "    rules:\n      files: ["+layer+"]\n", 1), "local.yaml:2): condition: type podrecord.Record has no field nmae"},
		{"broken inventory", strings.Replace(base, "      inventory_files:\n", "      inventory_files:\n        - "+inv+"\n", 1), `site.yaml: images[0]: bad repository pattern "nginx:1.27"`},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(tt.config), 0o600); err != nil {
			t.Fatal(err)
		}
		err := validate(t, bin, p, env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: validate: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
