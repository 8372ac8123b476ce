// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
)

// backpressureConfig: the audit webhook at WEBHOOK or the audit log file at
// AUDIT_LOG (INPUT selects the receiver's section), records complete on
// the audit event alone, and an otlp_http exporter without a queue or
// retries: a refusal by the SIEM goes straight back to pod_creation.
const backpressureConfig = `
receivers:
  k8s_audit/webhook:
    webhook:
      endpoint: ${env:WEBHOOK}
  k8s_audit/file:
    file:
      include:
        - ${env:AUDIT_LOG}
      start_at: beginning
      poll_interval: 50ms
processors:
` + podCreation + `    correlation:
      expect: [audit]
exporters:
  otlp_http:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers:
        - k8s_audit/${env:INPUT}
      processors: [pod_creation]
      exporters: [otlp_http]
`

// TestSIEMRefuses: the built collector, a SIEM (OTLP/HTTP) that answers
// 503 to its first 3 requests, no queue in between. Through the webhook
// (the client posts a refused batch again, as the apiserver does) and
// through the audit log file (the file input reads on; pod_creation keeps
// the refused records and delivers them again), every pod of the demo
// arrives once: none lost, none twice.
func TestSIEMRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	data, err := os.ReadFile(distPath(t, "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSpace(data), []byte("\n"))
	want := createsIn(lines)
	bin := Collector(t)
	for _, input := range []string{"webhook", "file"} {
		t.Run(input, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "config.yaml", backpressureConfig)
			auditLog := filepath.Join(dir, "audit.log")
			if input == "file" {
				if err := os.WriteFile(auditLog, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sink := NewSink(t)
			sink.Refuse(3)
			webhook := freePort(t)
			p := StartReady(t, bin, cfg, "INPUT="+input, "WEBHOOK="+webhook, "AUDIT_LOG="+auditLog, "SINK="+sink.URL,
				"RULES="+distPath(t, "rules"))
			answered503 := 0
			if input == "webhook" {
				for i := 0; i < len(lines); i += 4 {
					body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` +
						string(bytes.Join(lines[i:min(i+4, len(lines))], []byte(","))) + `]}`)
					for tries := 0; ; tries++ {
						if tries > 20 {
							t.Fatal("batch refused 20 times")
						}
						resp, err := http.Post("http://"+webhook+"/audit", "application/json", bytes.NewReader(body))
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
						if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
							t.Fatalf("answered %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
						}
						answered503++
					}
				}
			}
			WaitFor(t, 60*time.Second, fmt.Sprintf("%d records", want), func() bool {
				return len(sink.Records(attr.EventPodCreation)) >= want
			})
			time.Sleep(2 * time.Second) // a duplicate would come now
			p.Stop(t)

			seen := map[string]int{}
			for _, lr := range sink.Records(attr.EventPodCreation) {
				id, _ := lr.Attributes().Get(attr.AuditID)
				seen[id.Str()]++
			}
			var dups []string
			for id, n := range seen {
				if n > 1 {
					dups = append(dups, id)
				}
			}
			sort.Strings(dups)
			t.Logf("%s: SIEM refused %d requests, the webhook answered 503 %d times; %d records of %d pods, twice: %v",
				input, sink.Refused(), answered503, len(sink.Records(attr.EventPodCreation)), len(seen), dups)
			if sink.Refused() != 3 || len(seen) != want || len(dups) > 0 {
				t.Errorf("refused %d, %d pods with records (want %d), twice: %v", sink.Refused(), len(seen), want, dups)
			}
			if input == "webhook" && answered503 != 3 {
				t.Errorf("the webhook answered 503 %d times, want 3", answered503)
			}
		})
	}
}
