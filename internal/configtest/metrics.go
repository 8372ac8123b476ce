// SPDX-License-Identifier: Apache-2.0

package configtest

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// MetricsDocumented fails t unless the component's README.md (in the test's
// working directory, the component's folder) names every metric its
// metadata.yaml declares, as otelcol_<name>: the README's telemetry table
// and the generated builder cannot drift apart.
func MetricsDocumented(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile("metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Telemetry struct {
			Metrics map[string]any `yaml:"metrics"`
		} `yaml:"telemetry"`
	}
	if err := yaml.Unmarshal(b, &md); err != nil {
		t.Fatalf("metadata.yaml: %v", err)
	}
	if len(md.Telemetry.Metrics) == 0 {
		t.Fatal("metadata.yaml declares no metrics")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range md.Telemetry.Metrics {
		full := "otelcol_" + name
		if !strings.Contains(string(readme), "`"+full+"`") && !strings.Contains(string(readme), "`"+full+"{") {
			t.Errorf("README.md does not name %s, which metadata.yaml declares", full)
		}
	}
}
