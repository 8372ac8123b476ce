// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/samples"
)

// uuidRE matches the UUIDs of audit events: audit IDs and object uids.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// WriteAuditLoad writes copies of the audit events of template (one JSON
// event per line, e.g. the live v1.33 capture) to file until it holds at
// least n events, and returns how many it wrote. Each copy is a different
// stretch of cluster life: every UUID (audit IDs, pod and workload uids)
// gets the copy's number in its last digits, so each copy's pods are new
// pods and its events new events, while the mix (mostly reads, leases and
// controllers' writes; pod creates with their bindings and status
// updates; three audit levels) and the sizes stay those of the template.
func WriteAuditLoad(tb testing.TB, template []byte, file string, n int) int {
	tb.Helper()
	f, err := os.Create(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	lines := bytes.Split(bytes.TrimSpace(template), []byte("\n"))
	written := 0
	for copyN := 0; written < n; copyN++ {
		suffix := fmt.Sprintf("%06x", copyN)
		for _, l := range lines {
			if written == n {
				break
			}
			w.Write(renumberUUIDs(l, suffix))
			w.WriteByte('\n')
			written++
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return written
}

// renumberUUIDs returns line with the last six hex digits of every UUID
// replaced by suffix (six hex digits: a copy's number).
func renumberUUIDs(line []byte, suffix string) []byte {
	return uuidRE.ReplaceAllFunc(line, func(u []byte) []byte {
		return append(append([]byte(nil), u[:len(u)-6]...), suffix...)
	})
}

// CPUSeconds returns the user+system CPU time the process has used.
func (p *Process) CPUSeconds() (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM).
func (p *Process) PeakRSS() (int64, error) { return p.statusBytes("VmHWM") }

// RSS returns the process's current resident set size in bytes (VmRSS).
func (p *Process) RSS() (int64, error) { return p.statusBytes("VmRSS") }

// statusBytes reads a kB field of /proc/<pid>/status, in bytes.
func (p *Process) statusBytes(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field+":") {
			kb, err := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s", field)
}

// Metric returns the sum of a metric's samples (all label sets) on a
// collector's Prometheus endpoint, or -1 when it is absent.
func Metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name) || (len(l) > len(name) && l[len(name)] != '{' && l[len(name)] != ' ') {
			continue
		}
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// MetricSum is the sum of Metric over names joined by "+" (each must be
// found), e.g. the events a receiver handed on and those it counted out.
func MetricSum(addr, names string) float64 {
	var sum float64
	for _, name := range strings.Split(names, "+") {
		v := Metric(addr, name)
		if v < 0 {
			return -1
		}
		sum += v
	}
	return sum
}

// Run is one pipeline's figures over one input.
type Run struct {
	Pipeline     string  `json:"pipeline"`
	Events       int     `json:"events"`
	Seconds      float64 `json:"wall_seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PerCPUSecond float64 `json:"events_per_cpu_second"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	Records      int     `json:"records,omitempty"`
}

// RunPipeline starts bin with config (env adds METRICS_PORT), calls feed
// once the collector is ready (e.g. moves the input file where the config
// looks), waits until metric (a counter on the collector's Prometheus
// endpoint, e.g. otelcol_receiver_accepted_log_records, or
// otelcol_node_runtime_events for node_runtime, whose image pulls go out
// once per recent pod) reaches events, and returns its figures; Records is
// the log records the receivers accepted. CPU time is counted from when the
// collector is ready, so start-up is not in it.
func RunPipeline(tb testing.TB, name, bin, config, metric string, events int, timeout time.Duration, feed func(), env ...string) Run {
	tb.Helper()
	metrics := freePort(tb)
	_, port, _ := strings.Cut(metrics, ":")
	p := Start(tb, bin, config, append(env, "METRICS_PORT="+port)...)
	p.WaitReady(tb, name)
	cpu0, _ := p.CPUSeconds()
	start := time.Now()
	feed()
	// Polled every 250 ms: a scrape costs the collector ~2 ms of CPU.
	WaitEvery(tb, 250*time.Millisecond, timeout, fmt.Sprintf("%s to reach %d on %s", name, events, metric), func() bool {
		return MetricSum(metrics, metric) >= float64(events)
	})
	wall := time.Since(start).Seconds()
	cpu, err := p.CPUSeconds()
	if err != nil {
		tb.Fatal(err)
	}
	rss, _ := p.PeakRSS()
	records := Metric(metrics, "otelcol_receiver_accepted_log_records")
	p.Stop(tb)
	r := Run{Pipeline: name, Events: events, Seconds: wall, CPUSeconds: cpu - cpu0, PeakRSSMB: float64(rss) / (1 << 20), Records: int(records)}
	r.PerCPUSecond = float64(events) / r.CPUSeconds
	return r
}

// freePort returns a loopback address nothing listens on.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runtimeSamples are the node log files of the shared samples that
// WriteRuntimeLoad repeats: kubelet, containerd and systemd lines with the
// syslog/journald prefix, as /var/log/syslog holds them on containerd nodes
// (AKS, EKS, EC2, kubeadm, usernetes).
var runtimeSamples = []string{
	"kubelet/repo-VijayRod-demo-k8s-pod_container_logs-azurecni-create.log",
	"containerd/repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log",
	"containerd/repo-VijayRod-demo-k8s-pod_container_logs-container-c65a36.log",
	"kubelet/repo-VijayRod-demo-k8s-pod_container_logs-delete.log",
	"containerd/issue-containerd-containerd-10906.log",
	"containerd/issue-kubernetes-118675.log",
	"containerd/issue-rootless-containers-usernetes-287-pull.log",
	"kubelet/issue-cilium-cilium-19499.log",
}

var (
	// runtimeIDRE matches 64-hex container and sandbox ids, and image ids
	// and digests (with their sha256:, which keeps them as they are).
	runtimeIDRE = regexp.MustCompile(`(?:sha256:)?[0-9a-f]{64}`)
	// podNameRE matches a pod name where the kubelet and containerd name one.
	podNameRE = regexp.MustCompile(`(podName="|pod="[a-z0-9-]+/|pods=\["[a-z0-9-]+/|PodSandboxMetadata\{Name:|pod \\?")([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)`)
)

// WriteRuntimeLoad writes copies of the distinct lines of runtimeSamples
// (61 lines; 22 are pod-lifecycle events for node_runtime, the rest volume,
// network, shim, systemd, deletion and request lines it reads and drops) to
// file until it holds n lines, and returns n. Each copy is new pods on the
// node: every pod name gets the copy's number as a suffix, and every UUID,
// container and sandbox id the copy's number in its last six hex digits;
// images stay.
func WriteRuntimeLoad(tb testing.TB, file string, n int) int {
	tb.Helper()
	var lines [][]byte
	seen := map[string]bool{}
	for _, name := range runtimeSamples {
		dir, base := filepath.Split(name)
		for _, l := range bytes.Split(bytes.TrimSpace(samples.Read(tb, dir, base)), []byte("\n")) {
			if !seen[string(l)] {
				seen[string(l)] = true
				lines = append(lines, l)
			}
		}
	}
	f, err := os.Create(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for copyN := 0; copyN*len(lines) < n; copyN++ {
		suffix := fmt.Sprintf("%06x", copyN)
		for _, l := range lines[:min(len(lines), n-copyN*len(lines))] {
			l = uuidRE.ReplaceAllFunc(l, func(u []byte) []byte { return append(u[:len(u)-6:len(u)-6], suffix...) })
			l = runtimeIDRE.ReplaceAllFunc(l, func(id []byte) []byte {
				if len(id) > 64 {
					return id
				}
				return append(id[:58:58], suffix...)
			})
			w.Write(podNameRE.ReplaceAll(l, []byte("${1}${2}-"+suffix)))
			w.WriteByte('\n')
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// MeasurePipeline runs a pipeline runs times, each in a fresh
// collector process that reads file, into which data is moved whole once
// the collector is ready, and returns the run with the median events per
// CPU-second (this machine's neighbours make single runs vary by ±15%).
func MeasurePipeline(tb testing.TB, runs int, name, bin, config, metric string, events int, data []byte, file string, env ...string) Run {
	tb.Helper()
	feed := func() {
		tmp := file + ".feed" // not what the collector reads: renamed in whole
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			tb.Fatal(err)
		}
	}
	var all []Run
	for range max(1, runs) {
		if err := os.Remove(file); err != nil && !os.IsNotExist(err) {
			tb.Fatal(err)
		}
		all = append(all, RunPipeline(tb, name, bin, config, metric, events, 10*time.Minute, feed, env...))
	}
	sort.Slice(all, func(i, j int) bool { return all[i].PerCPUSecond < all[j].PerCPUSecond })
	if len(all) > 1 {
		var figures []string
		for _, r := range all {
			figures = append(figures, fmt.Sprintf("%.2f", r.CPUSeconds))
		}
		tb.Logf("%s: %s CPU-s over %d runs; the median is reported", name, strings.Join(figures, ", "), len(all))
	}
	return all[len(all)/2]
}

// promTelemetry is a config's service.telemetry for RunPipeline and Metric:
// info logs, and the collector's own metrics on a Prometheus endpoint at
// METRICS_PORT.
const promTelemetry = `  telemetry:
    logs: {level: info}
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:METRICS_PORT}
`

// quietTelemetry is a config's service.telemetry when nothing reads the
// collector's own metrics: info logs (WaitReady reads them), no metrics.
const quietTelemetry = `  telemetry:
    logs: {level: info}
    metrics: {level: none}
`

// demoReceivers is a config's receivers reading the distribution's demo
// (at DEMO) from the beginning: its audit log and its nodes' logs.
const demoReceivers = `receivers:
  k8s_audit:
    file:
      include:
        - ${env:DEMO}/audit.log
      start_at: beginning
  node_runtime:
    file:
      include:
        - ${env:DEMO}/nodes/*.log
      start_at: beginning
    year: 2026
`

// demoCorrelated is demoReceivers and a pod_creation processor joining
// the demo's audit, scheduler and node events within 2 s: a config's
// receivers and processors, to which it adds exporters and service.
const demoCorrelated = demoReceivers + `processors:
` + podCreation + demoInventory + `    correlation:
      expect: [audit, scheduler, node]
      window: 2s
`

// demoInventory follows podCreation in a config that reads the demo (at
// DEMO): the demo cluster's inventory merged after the shipped generic one,
// as make run does.
const demoInventory = `    rules:
      inventory_files:
        - ${env:DEMO}/inventory.yaml
`

// webhookReceiver is a config's receivers: the audit webhook at WEBHOOK.
const webhookReceiver = `receivers:
  k8s_audit:
    webhook:
      endpoint: ${env:WEBHOOK}
`

// podCreation begins a config's pod_creation processor: the rules and
// inventory of the pack at RULES. The settings after it (correlation,
// reload_interval) are the config's own.
const podCreation = `  pod_creation:
    rules_file: ${env:RULES}/rules.yaml
    inventory_file: ${env:RULES}/inventory.yaml
`

// sinkExporter is a config's otlp_http exporter to a Sink at SINK, with
// no sending queue.
const sinkExporter = `  otlp_http:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
    sending_queue:
      enabled: false
`
