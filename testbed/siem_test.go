// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
)

// demoConfigOTLP is the demo through pod_creation to a SIEM over OTLP/gRPC
// with the sending queue on file_storage.
const demoConfigOTLP = `
extensions:
  file_storage:
    directory: ${env:STATE}
receivers:
  k8s_audit:
    file:
      include:
        - ${env:DEMO}/audit.log
      start_at: beginning
      storage: file_storage
  node_runtime:
    file:
      include:
        - ${env:DEMO}/nodes/*.log
      start_at: beginning
      storage: file_storage
    year: 2026
processors:
` + podCreation + demoInventory + `    correlation:
      expect: [audit, scheduler, node]
      window: 2s
      storage: file_storage
exporters:
  otlp:
    endpoint: ${env:SIEM}
    tls: {insecure: true}
    timeout: 2s
    retry_on_failure:
      enabled: true
      initial_interval: 200ms
      max_interval: 1s
      max_elapsed_time: 0
    sending_queue:
      enabled: true
      storage: file_storage
service:
  extensions: [file_storage]
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation]
      exporters: [otlp]
`

// siemConfig stands in for a SIEM's OTLP intake: a collector receiving
// OTLP/gRPC and handing it to the test's endpoint.
const siemConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:SIEM}
exporters:
  otlp_http:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlp_http]
`

// TestSIEMOutage: the SIEM is down while podtrail reads the demo; podtrail
// keeps its records and findings in the persistent sending queue, is
// stopped and started again (the queue is on file_storage), and once the
// SIEM is up everything arrives: 12 records and 24 findings, none lost.
func TestSIEMOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := Collector(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	pcfg, scfg := writeConfig(t, dir, "podtrail.yaml", demoConfigOTLP), writeConfig(t, dir, "siem.yaml", siemConfig)
	siem := freePort(t)
	env := []string{"STATE=" + state, "SIEM=" + siem, "DEMO=" + distPath(t, "demo"), "RULES=" + distPath(t, "rules")}

	p := Start(t, bin, pcfg, env...)
	// The window (2 s) passes and every record is handed to the exporter,
	// which cannot reach the SIEM and keeps retrying.
	WaitFor(t, 60*time.Second, "podtrail to try the SIEM", func() bool {
		log, _ := os.ReadFile(p.LogPath)
		return bytes.Contains(log, []byte("Exporting failed")) || bytes.Contains(log, []byte("connection refused"))
	})
	time.Sleep(5 * time.Second)
	p.Stop(t) // the queue stays on file_storage

	sink := NewSink(t)
	Start(t, bin, scfg, "SIEM="+siem, "SINK="+sink.URL)
	p = Start(t, bin, pcfg, env...)
	WaitFor(t, 60*time.Second, "12 records and 24 findings at the SIEM", func() bool {
		return len(sink.Records(attr.EventPodCreation)) >= 12 && len(sink.Records(attr.EventFinding)) >= 24
	})
	time.Sleep(2 * time.Second)
	p.Stop(t)
	recs, finds := sink.Records(attr.EventPodCreation), sink.Records(attr.EventFinding)
	seen := map[string]int{}
	for _, lr := range recs {
		id, _ := lr.Attributes().Get(attr.AuditID)
		name, _ := lr.Attributes().Get(attr.K8sPodName)
		seen[id.Str()+"/"+name.Str()]++
	}
	var dup []string
	for k, n := range seen {
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", k, n))
		}
	}
	t.Logf("at the SIEM: %d records (%d pods), %d findings; delivered twice: %v", len(recs), len(seen), len(finds), dup)
	if len(seen) != 12 || len(finds) < 24 {
		t.Errorf("%d pods and %d findings at the SIEM, want 12 and 24", len(seen), len(finds))
	}
	if len(dup) > 0 {
		t.Logf("at-least-once delivery: %s", strings.Join(dup, ", "))
	}
}
