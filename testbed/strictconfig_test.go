// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// strictConfig is a gateway's k8s_audit webhook with TLS; {{TLS}} is the
// key the TLS section goes under, {{CERT}} its certificate key.
const strictConfig = `receivers:
  k8s_audit:
    webhook:
      endpoint: 127.0.0.1:0
      {{TLS}}:
        {{CERT}}: /etc/podtrail/tls/tls.crt
        key_file: /etc/podtrail/tls/tls.key
exporters:
  debug:
service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      exporters: [debug]
`

// TestValidateRefusesTypos: `otelcol-podtrail validate` fails on a typo'd
// key of the k8s_audit webhook (a `tlss:` that would otherwise serve plain
// HTTP in silence) and names it; the same configuration spelled right passes.
func TestValidateRefusesTypos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the collector")
	}
	bin := Collector(t)
	run := func(tls, cert string) (string, error) {
		cfg := strings.NewReplacer("{{TLS}}", tls, "{{CERT}}", cert).Replace(strictConfig)
		p := writeConfig(t, t.TempDir(), "config.yaml", cfg)
		out, err := exec.Command(bin, "validate", "--config", "file:"+filepath.Clean(p)).CombinedOutput()
		return string(out), err
	}
	if out, err := run("tls", "cert_file"); err != nil {
		t.Fatalf("the correct configuration failed validate: %v\n%s", err, out)
	}
	for _, tt := range []struct{ tls, cert, key string }{
		{"tlss", "cert_file", "tlss"},
		{"tls", "cert_fil", "cert_fil"},
	} {
		out, err := run(tt.tls, tt.cert)
		if err == nil {
			t.Errorf("validate passed with the unknown key %q:\n%s", tt.key, out)
			continue
		}
		if !strings.Contains(out, tt.key) || !strings.Contains(out, "webhook") {
			t.Errorf("validate's error does not name webhook and %q:\n%s", tt.key, out)
		}
	}
}
