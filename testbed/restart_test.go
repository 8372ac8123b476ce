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
	"github.com/podtrail/podtrail/internal/audit"
)

const restartConfig = `
extensions:
  file_storage:
    directory: ${env:STATE}
receivers:
  k8s_audit:
    file:
      include:
        - ${env:AUDIT_LOG}
      start_at: beginning
      poll_interval: 50ms
      storage: file_storage
processors:
` + podCreation + `    correlation:
      expect: [audit, scheduler]
      window: 5s
      storage: file_storage
exporters:
  otlphttp:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
service:
  extensions: [file_storage]
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [otlphttp]
`

// TestKillAndRestart is the correlation restart bar: the collector tails a
// growing audit log, is killed with SIGKILL in the middle of the stream
// (pods created, not yet bound: their records are pending), restarts on the
// same file_storage directory, and reads the rest. Every pod of the demo
// has exactly one record at the OTLP endpoint: none lost, none twice.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	data, err := os.ReadFile(distPath(t, "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	// Cut points: right after a pod create whose binding is still to come.
	var cuts []int
	for i, l := range lines {
		ev, err := audit.Decode(bytes.TrimSpace(l))
		if err == nil && ev.IsPodCreate() && ev.IsFinal() && ev.Code() == 201 {
			cuts = append(cuts, i+1)
		}
	}
	want := len(cuts) + 1 // the forbidden create has a record too
	bin := Collector(t)
	for _, cut := range []int{cuts[1], cuts[len(cuts)/2], cuts[len(cuts)-1]} {
		t.Run(fmt.Sprintf("kill after line %d", cut), func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "config.yaml", restartConfig)
			auditLog := filepath.Join(dir, "audit.log")
			state := filepath.Join(dir, "state")
			for _, err := range []error{os.Mkdir(state, 0o700), os.WriteFile(auditLog, nil, 0o600)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			sink := NewSink(t)
			env := []string{"STATE=" + state, "AUDIT_LOG=" + auditLog, "SINK=" + sink.URL,
				"RULES=" + distPath(t, "rules")}
			appendLines := func(ls [][]byte) {
				f, err := os.OpenFile(auditLog, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range ls {
					if _, err := f.Write(l); err != nil {
						t.Fatal(err)
					}
				}
				f.Close()
			}

			p := Start(t, bin, cfg, env...)
			appendLines(lines[:cut])
			before := createsIn(lines[:cut]) - 1 // the last create waits for its binding
			WaitFor(t, 60*time.Second, fmt.Sprintf("%d records before the kill", before), func() bool {
				return len(sink.Records(attr.EventPodCreation)) >= before
			})
			time.Sleep(300 * time.Millisecond) // let the receiver checkpoint
			p.Kill()

			p = Start(t, bin, cfg, env...)
			// The pod created just before the kill is pending in the state.
			WaitFor(t, 30*time.Second, "the state restored with a pending pod", func() bool {
				log, _ := os.ReadFile(p.LogPath)
				return bytes.Contains(log, []byte("correlation state restored")) && !bytes.Contains(log, []byte(`"pending": 0`))
			})
			appendLines(lines[cut:])
			WaitFor(t, 60*time.Second, fmt.Sprintf("%d records", want), func() bool {
				return len(sink.Records(attr.EventPodCreation)) >= want
			})
			time.Sleep(time.Second) // a duplicate would arrive now
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
			if len(seen) != want || len(dups) > 0 {
				t.Fatalf("%d pods with records, want %d; duplicated: %v", len(seen), want, strings.Join(dups, ","))
			}
		})
	}
}

func createsIn(lines [][]byte) int {
	n := 0
	for _, l := range lines {
		if ev, err := audit.Decode(bytes.TrimSpace(l)); err == nil && ev.IsPodCreate() && ev.IsFinal() {
			n++
		}
	}
	return n
}
