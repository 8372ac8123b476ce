// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
)

const splitLineConfig = `receivers:
  k8s_audit:
    file:
      include:
        - ${env:AUDIT_LOG}
      start_at: beginning
      poll_interval: 100ms
exporters:
  otlphttp:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
    sending_queue:
      enabled: false
service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      exporters: [otlphttp]
`

// TestLineWrittenInTwoParts: the built collector tails an audit log to
// which one pod create's line is appended in two writes 3 s apart (a
// writer slowed down, or a line larger than one write): it exports exactly
// one record, the whole event, and rejects nothing. Contrib's file input
// would flush the first half after force_flush_period (500 ms) as a broken
// event and the rest as another: podtrail's default is 0 (never flush a
// line before its newline).
func TestLineWrittenInTwoParts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	data, err := os.ReadFile(distPath(t, "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var line []byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if ev, err := audit.Decode(l); err == nil && ev.IsPodCreate() && ev.IsFinal() && len(ev.RequestObject) > 0 {
			line = l
			break
		}
	}
	if line == nil {
		t.Fatal("no pod create in the demo")
	}
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(auditLog, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := NewSink(t)
	cfg := writeConfig(t, dir, "config.yaml", splitLineConfig)
	p := StartReady(t, Collector(t), cfg, "AUDIT_LOG="+auditLog, "SINK="+sink.URL)

	f, err := os.OpenFile(auditLog, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	half := len(line) / 2
	if _, err := f.Write(line[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n := len(sink.Records(attr.EventAudit)); n != 0 {
		t.Fatalf("%d records from half a line", n)
	}
	if _, err := f.Write(append(line[half:len(line):len(line)], '\n')); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 30*time.Second, "the line's record", func() bool { return len(sink.Records(attr.EventAudit)) >= 1 })
	time.Sleep(time.Second) // a second record would arrive now
	p.Stop(t)

	recs := sink.Records(attr.EventAudit)
	if len(recs) != 1 {
		t.Fatalf("%d records, want exactly 1", len(recs))
	}
	if got := recs[0].Body().Str(); got != string(line) {
		t.Errorf("the record is not the whole line:\n%.200s", got)
	}
	log, _ := os.ReadFile(p.LogPath)
	if bytes.Contains(log, []byte("rejected audit input")) {
		t.Errorf("the collector rejected input:\n%s", log)
	}
}
