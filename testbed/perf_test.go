// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

var (
	perfEvents = flag.Int("perf.events", 20_000, "audit events (TestAuditThroughput) or node log lines (TestRuntimeThroughput) per pipeline")
	perfOut    = flag.String("perf.out", "", "folder for the results (<path>.md, .json, .png); empty: only printed")
	perfRuns   = flag.Int("perf.runs", 1, "runs of each collector pipeline; the median is reported")
)

// podtrailAudit is podtrail's audit path: the audit log file, decoded,
// correlated and run through the default rules, records and findings to a
// file.
const podtrailAudit = `
receivers:
  k8s_audit:
    file:
      include:
        - ${env:INPUT}
      start_at: beginning
      poll_interval: 50ms
processors:
` + podCreation + `    correlation:
      expect: [audit, scheduler]
      window: 5s
exporters:
  file:
    path: ${env:OUT}
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [file]
`

// contribAudit is the do-it-yourself pipeline from contrib components only:
// filelog with json_parser, transform lifting the same fields podtrail
// lifts, filter keeping the final stage of pod creates, and OTTL checks
// equivalent to the simplest namespace and name rules (a person in a system
// namespace, a system workload's name).
const contribAudit = `
receivers:
  file_log:
    include:
      - ${env:INPUT}
    start_at: beginning
    poll_interval: 50ms
    operators:
      - type: json_parser
processors:
  transform:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(attributes["podtrail.audit.id"], attributes["auditID"])
          - set(attributes["podtrail.audit.verb"], attributes["verb"])
          - set(attributes["podtrail.audit.stage"], attributes["stage"])
          - set(attributes["podtrail.audit.resource"], attributes["objectRef"]["resource"])
          - set(attributes["podtrail.audit.subresource"], attributes["objectRef"]["subresource"])
          - set(attributes["k8s.namespace.name"], attributes["objectRef"]["namespace"])
          - set(attributes["k8s.pod.name"], attributes["objectRef"]["name"])
          - set(attributes["user.name"], attributes["user"]["username"])
          - set(attributes["user_agent.original"], attributes["userAgent"])
          - set(attributes["http.response.status_code"], attributes["responseStatus"]["code"])
  filter:
    error_mode: ignore
    logs:
      log_record:
        - attributes["podtrail.audit.verb"] != "create"
        - attributes["podtrail.audit.resource"] != "pods"
        - attributes["podtrail.audit.subresource"] != nil
        - attributes["podtrail.audit.stage"] != "ResponseComplete"
  transform/checks:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(attributes["finding.person_in_system_namespace"], true) where attributes["k8s.namespace.name"] == "kube-system" and not IsMatch(attributes["user.name"], "^system:")
          - set(attributes["finding.system_workload_name"], true) where IsMatch(attributes["k8s.pod.name"], "^(kube-proxy|coredns|etcd|kube-apiserver|kube-scheduler|kube-controller-manager)-")
exporters:
  file:
    path: ${env:OUT}
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [file_log]
      processors: [transform, filter, transform/checks]
      exporters: [file]
`

// TestAuditThroughput is the audit-path comparison: the real
// v1.33 audit log (shared samples, three audit levels), repeated with new
// UUIDs to -perf.events events, through podtrail's pipeline and the
// contrib-only one, each a separate collector process started from the
// same binary, and through in-process decode loops (encoding/json into the
// fields podtrail needs, audit.Decode). It prints events per CPU-second,
// CPU and wall seconds and peak RSS, and the ratios. It asserts nothing
// about speed; `make test` runs it small (it keeps the harness working),
// `make bench` large.
func TestAuditThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	template := samples.Read(t, "k8s-audit-live", "levels", "audit.log")
	bin := Collector(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "input.log")
	n := WriteAuditLoad(t, template, input, *perfEvents)
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}

	var runs []Run
	// done is the metric that reaches the input's events when a pipeline
	// has read them all: podtrail's receiver hands on the events of its
	// selection (events: pod_creation, the default) and counts the others.
	for _, p := range []struct{ name, slug, config, done string }{
		{"podtrail", "audit-podtrail", podtrailAudit, "otelcol_receiver_accepted_log_records+otelcol_k8s_audit_unselected"},
		{"contrib filelog+json_parser+transform+filter", "audit-contrib", contribAudit, "otelcol_receiver_accepted_log_records"},
	} {
		sub := t.TempDir()
		cfg := writeConfig(t, sub, "config.yaml", withPprof(t, p.config, p.slug))
		in := filepath.Join(sub, "audit.log")
		r := MeasurePipeline(t, *perfRuns, p.name, bin, cfg, p.done, n, data, in, "INPUT="+in, "OUT="+filepath.Join(sub, "out.json"),
			"RULES="+distPath(t, "rules"))
		runs = append(runs, r)
	}
	runs = append(runs, decodeLoop(t, "encoding/json into the fields podtrail needs (in-process, 1 core)", data, func(l []byte) error {
		var ev struct {
			AuditID   string                    `json:"auditID"`
			Stage     string                    `json:"stage"`
			Verb      string                    `json:"verb"`
			Level     string                    `json:"level"`
			User      struct{ Username string } `json:"user"`
			SourceIPs []string                  `json:"sourceIPs"`
			UserAgent string                    `json:"userAgent"`
			ObjectRef *struct {
				Resource, Namespace, Name, Subresource string
			} `json:"objectRef"`
			ResponseStatus *struct{ Code int } `json:"responseStatus"`
			StageTimestamp time.Time           `json:"stageTimestamp"`
			Annotations    map[string]string   `json:"annotations"`
		}
		return json.Unmarshal(l, &ev)
	}))
	runs = append(runs, decodeLoop(t, "audit.Decode (podtrail's decoder, in-process, 1 core)", data, func(l []byte) error {
		_, err := audit.Decode(l)
		return err
	}))
	sel := &audit.Decoder{SelectPodCreation: true}
	runs = append(runs, decodeLoop(t, "audit.Decoder with the pod-creation selection (the receiver's default, in-process, 1 core)", data, func(l []byte) error {
		if _, err := sel.Decode(l); err != nil && !errors.Is(err, audit.ErrNotSelected) {
			return err
		}
		return nil
	}))
	report(t, "audit", "Audit path", "events", runs)
}

// decodeLoop times fn over every line of data on this goroutine, as the
// practical ceiling of a pipeline that decodes each event once.
func decodeLoop(t *testing.T, name string, data []byte, fn func([]byte) error) Run {
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	runtime.GC()
	start := time.Now()
	for _, l := range lines {
		if err := fn(l); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	s := time.Since(start).Seconds()
	return Run{Pipeline: name, Events: len(lines), Seconds: s, CPUSeconds: s, PerCPUSecond: float64(len(lines)) / s}
}

// report prints the runs as a Markdown table with each one's ratio to the
// contrib pipeline, and writes slug.md, slug.json and slug.png (the chart)
// to -perf.out.
func report(t *testing.T, slug, title, unit string, runs []Run) {
	var base float64
	for _, r := range runs {
		if strings.HasPrefix(r.Pipeline, "contrib") {
			base = r.PerCPUSecond
		}
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %d %s, %s, %d CPUs, %s; collectors: the median of %d runs\n\n", title, runs[0].Events, unit, runtime.GOARCH, runtime.NumCPU(), host, max(1, *perfRuns))
	fmt.Fprintf(&b, "| Pipeline | %s/CPU-s | × contrib | CPU s | wall s | peak RSS MB |\n|---|---:|---:|---:|---:|---:|\n", unit)
	for _, r := range runs {
		rss := "—"
		if r.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f", r.PeakRSSMB)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.2f | %s |\n", r.Pipeline, r.PerCPUSecond, r.PerCPUSecond/base, r.CPUSeconds, r.Seconds, rss)
	}
	t.Log("\n" + b.String())
	if writeResults(t, slug, b.String(), struct {
		Title string `json:"title"`
		Runs  []Run  `json:"runs"`
	}{title, runs}) {
		if err := WriteChart(filepath.Join(*perfOut, slug+".png"), title+" ("+unit+" per CPU-second)", runs); err != nil {
			t.Fatal(err)
		}
	}
}

// writeResults writes slug.md (the table) and slug.json (v, with the time
// and the machine) to -perf.out, and reports whether it did (the flag is
// set).
func writeResults(t *testing.T, slug, md string, v any) bool {
	if *perfOut == "" {
		return false
	}
	if err := os.MkdirAll(*perfOut, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(struct {
		When    string `json:"when"`
		CPUs    int    `json:"cpus"`
		Arch    string `json:"arch"`
		Results any    `json:"results"`
	}{time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.GOARCH, v}, "", "  ")
	for name, content := range map[string][]byte{slug + ".md": []byte(md), slug + ".json": js} {
		if err := os.WriteFile(filepath.Join(*perfOut, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return true
}
