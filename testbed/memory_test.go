// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/samples"
)

var memoryPods = flag.String("memory.pods", "2000", "pending-pod counts for TestPendingMemory, comma-separated, each in a fresh collector (make bench: 10000,100000)")

// memoryConfig is a gateway whose pods all stay pending: pod_creation
// expects the audit, scheduler and node sources, only pod creates come,
// and the window (1h) outlasts the run, so every create waits. The
// max_pending line is filled in per run.
const memoryConfig = `
` + webhookReceiver + `processors:
` + podCreation + `    correlation:
      expect: [audit, scheduler, node]
      window: 1h
#MAX_PENDING#
exporters:
  otlp_http:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [otlp_http]
`

// memoryBatch is the apiserver's webhook batch size
// (--audit-webhook-batch-max-size, default 400).
const memoryBatch = 400

// MemoryRun is one collector holding Pods pending pods.
type MemoryRun struct {
	Pods              int     `json:"pending_pods"`
	MaxPending        int     `json:"max_pending"`
	MaxPendingDefault bool    `json:"max_pending_is_default"`
	StartRSSMB        float64 `json:"start_rss_mb"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	RSSMB             float64 `json:"rss_mb"`
	BytesPerPod       float64 `json:"bytes_per_pending_pod_over_baseline,omitempty"`
	PeakBytesPerPod   float64 `json:"peak_bytes_per_pending_pod_over_baseline,omitempty"`
}

// TestPendingMemory is the pending-pod memory measurement: the collector's resident
// memory while it holds -memory.pods pending pods (each count a fresh
// collector process), against a baseline of the same collector with none.
// The pods are the allowed pod creates of the real v1.33 audit log (shared
// samples: two at each audit level, RequestResponse, Request, Metadata),
// copied with new UUIDs and generated names per copy (podCreateCopier) and
// posted to the webhook in EventList batches of 400. Nothing completes
// them (no scheduler or node events), nothing expires (window 1h). It waits
// until otelcol_pod_creation_pending reads the count, then reads VmHWM
// (peak RSS) and VmRSS. max_pending is its default (50,000) unless the
// count exceeds it; then it is set to the next multiple of the default
// above the count, and the table says so. It asserts that every pod is
// pending and none was emitted (evicted or otherwise), never a size.
func TestPendingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	var counts []int
	for _, s := range strings.Split(*memoryPods, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("-memory.pods: %q is not a positive count", s)
		}
		counts = append(counts, n)
	}
	copier := newPodCreateCopier(t, samples.Read(t, "k8s-audit-live", "levels", "audit.log"))
	bin := Collector(t)
	rules := distPath(t, "rules")

	base := pendingMemoryRun(t, bin, rules, copier, 0)
	runs := []MemoryRun{base}
	for _, n := range counts {
		r := pendingMemoryRun(t, bin, rules, copier, n)
		r.BytesPerPod = (r.RSSMB - base.RSSMB) * (1 << 20) / float64(n)
		r.PeakBytesPerPod = (r.PeakRSSMB - base.PeakRSSMB) * (1 << 20) / float64(n)
		runs = append(runs, r)
	}
	memoryReport(t, runs)
}

// pendingMemoryRun starts a collector, posts the creates of pods pending
// pods (none: the baseline) and reads its memory once they all wait.
func pendingMemoryRun(t *testing.T, bin, rules string, copier *podCreateCopier, pods int) MemoryRun {
	t.Helper()
	def := correlate.DefaultConfig().MaxPending
	r := MemoryRun{Pods: pods, MaxPending: def, MaxPendingDefault: true}
	config := strings.Replace(memoryConfig, "#MAX_PENDING#\n", "", 1)
	if pods > def {
		r.MaxPending, r.MaxPendingDefault = (pods/def+1)*def, false
		config = strings.Replace(memoryConfig, "#MAX_PENDING#", fmt.Sprintf("      max_pending: %d", r.MaxPending), 1)
	}
	cfg := writeConfig(t, t.TempDir(), "config.yaml", config)
	sink := NewSink(t)
	webhook, metrics := freePort(t), freePort(t)
	_, port, _ := strings.Cut(metrics, ":")
	p := Start(t, bin, cfg, "WEBHOOK="+webhook, "SINK="+sink.URL, "RULES="+rules, "METRICS_PORT="+port)
	defer p.Kill() // no shutdown: it would emit every pending pod as partial
	WaitFor(t, 60*time.Second, "the collector to start", func() bool {
		log, _ := os.ReadFile(p.LogPath)
		return bytes.Contains(log, []byte("Everything is ready")) && Metric(metrics, "otelcol_pod_creation_pending") == 0
	})
	rss, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}
	r.StartRSSMB = float64(rss) / (1 << 20)

	body := make([]byte, 0, 4<<20)
	for i := 0; i < pods; i += memoryBatch {
		body = append(body[:0], `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`...)
		for j := i; j < min(i+memoryBatch, pods); j++ {
			if j > i {
				body = append(body, ',')
			}
			body = append(body, copier.event(j)...)
		}
		body = append(body, "]}"...)
		resp, err := http.Post("http://"+webhook+"/audit", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %s: %s", resp.Status, answer)
		}
	}
	WaitFor(t, 10*time.Minute, fmt.Sprintf("%d pending pods", pods), func() bool {
		return Metric(metrics, "otelcol_pod_creation_pending") >= float64(pods)
	})
	time.Sleep(time.Second) // settled: the gauge must not move
	if got := Metric(metrics, "otelcol_pod_creation_pending"); got != float64(pods) {
		t.Errorf("%d pods posted: otelcol_pod_creation_pending = %v, want %d", pods, got, pods)
	}
	if got := Metric(metrics, "otelcol_receiver_accepted_log_records"); pods > 0 && got != float64(pods) {
		t.Errorf("otelcol_receiver_accepted_log_records = %v, want %d", got, pods)
	}
	// Nothing emitted: no eviction (pods <= max_pending), no window
	// expiry, no duplicate or joined creates.
	for _, m := range []string{"otelcol_pod_creation_records", "otelcol_pod_creation_partial", "otelcol_pod_creation_duplicates", "otelcol_pod_creation_late"} {
		if v := Metric(metrics, m); v > 0 {
			t.Errorf("%s = %v, want none", m, v)
		}
	}
	if n := len(sink.Records(attr.EventPodCreation)); n > 0 {
		t.Errorf("%d records reached the endpoint, want none", n)
	}
	peak, err := p.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if rss, err = p.RSS(); err != nil {
		t.Fatal(err)
	}
	r.PeakRSSMB, r.RSSMB = float64(peak)/(1<<20), float64(rss)/(1<<20)
	t.Logf("%d pending pods (max_pending %d): peak RSS %.1f MB, RSS %.1f MB (%.1f MB at start)", pods, r.MaxPending, r.PeakRSSMB, r.RSSMB, r.StartRSSMB)
	return r
}

// podCreateCopier makes distinct pods from a template's pod creates.
type podCreateCopier struct {
	lines [][]byte
	names []podName // per line: the pod's name in the event, if any
}

type podName struct{ name, generateName string }

// newPodCreateCopier takes the template's allowed pod creates, final stage
// (ResponseComplete, verb create, resource pods, no subresource, 2xx).
func newPodCreateCopier(t *testing.T, template []byte) *podCreateCopier {
	t.Helper()
	c := &podCreateCopier{}
	for _, l := range bytes.Split(bytes.TrimSpace(template), []byte("\n")) {
		var ev struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			ObjectRef *struct {
				Resource, Subresource, Name string
			} `json:"objectRef"`
			ResponseStatus *struct{ Code int } `json:"responseStatus"`
			ResponseObject *objectMeta         `json:"responseObject"`
			RequestObject  *objectMeta         `json:"requestObject"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Stage != "ResponseComplete" || ev.Verb != "create" || ev.ObjectRef == nil || ev.ObjectRef.Resource != "pods" ||
			ev.ObjectRef.Subresource != "" || ev.ResponseStatus == nil || ev.ResponseStatus.Code/100 != 2 {
			continue
		}
		var n podName
		for _, m := range []*objectMeta{ev.ResponseObject, ev.RequestObject} {
			if m != nil {
				n.name = firstNonEmpty(n.name, m.Metadata.Name)
				n.generateName = firstNonEmpty(n.generateName, m.Metadata.GenerateName)
			}
		}
		n.name = firstNonEmpty(n.name, ev.ObjectRef.Name)
		c.lines = append(c.lines, l)
		c.names = append(c.names, n)
	}
	if len(c.lines) == 0 {
		t.Fatal("no allowed pod creates in the template")
	}
	return c
}

// objectMeta is the metadata of an event's requestObject or responseObject.
type objectMeta struct {
	Metadata struct{ Name, GenerateName string } `json:"metadata"`
}

// firstNonEmpty returns a, or b when a is empty.
func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// event returns the i-th pod create: copy i/len(lines) of template line
// i%len(lines), whose UUIDs (audit ID, pod uid, owner uid) end in the copy's
// number, as WriteAuditLoad's copies, and whose pod name, where the event
// holds one (RequestResponse level: responseObject.metadata.name), is
// generated anew: the generateName prefix and five characters from the
// alphabet Kubernetes draws generated names from, the copy's number in
// base 27. So every event is a pod of its own, by uid and by
// namespace/name, and the events keep the template's sizes and levels.
func (c *podCreateCopier) event(i int) []byte {
	k, l := i/len(c.lines), i%len(c.lines)
	line := renumberUUIDs(c.lines[l], fmt.Sprintf("%06x", k))
	if n := c.names[l]; n.name != "" {
		name := n.name + "-" + nameSuffix(k)
		if n.generateName != "" && strings.HasPrefix(n.name, n.generateName) {
			name = n.generateName + nameSuffix(k)
		}
		line = bytes.ReplaceAll(line, []byte(`"`+n.name+`"`), []byte(`"`+name+`"`))
	}
	return line
}

// nameSuffix is k in base 27 over the alphabet of Kubernetes' generated
// names (k8s.io/apimachinery/pkg/util/rand), five characters.
func nameSuffix(k int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = alphabet[k%len(alphabet)]
		k /= len(alphabet)
	}
	return string(b[:])
}

// memoryReport prints the runs as a Markdown table and writes memory.md and
// memory.json to -perf.out.
func memoryReport(t *testing.T, runs []MemoryRun) {
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "### Pending pods: collector memory, %s, %d CPUs, %s\n\n", runtime.GOARCH, runtime.NumCPU(), host)
	b.WriteString("k8s_audit webhook → pod_creation (expect [audit, scheduler, node], window 1h, default rules) → otlp_http; " +
		"only pod creates, so every pod waits. Bytes per pending pod: (peak RSS − the baseline's peak RSS) / pending pods.\n\n")
	b.WriteString("| pending pods | max_pending | peak RSS MB | RSS MB | B/pending pod over baseline |\n|---:|---|---:|---:|---:|\n")
	for _, r := range runs {
		bound := fmt.Sprintf("%d (default)", r.MaxPending)
		if !r.MaxPendingDefault {
			bound = fmt.Sprintf("%d (set: over the default %d)", r.MaxPending, correlate.DefaultConfig().MaxPending)
		}
		pods, per := fmt.Sprint(r.Pods), "—"
		if r.Pods == 0 {
			pods = "0 (baseline)"
		} else {
			per = fmt.Sprintf("%.0f", r.PeakBytesPerPod)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %s |\n", pods, bound, r.PeakRSSMB, r.RSSMB, per)
	}
	t.Log("\n" + b.String())
	if *perfOut == "" {
		return
	}
	if err := os.MkdirAll(*perfOut, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(struct {
		Title string      `json:"title"`
		When  string      `json:"when"`
		CPUs  int         `json:"cpus"`
		Runs  []MemoryRun `json:"runs"`
	}{"Pending pods: collector memory", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runs}, "", "  ")
	for name, content := range map[string][]byte{"memory.md": []byte(b.String()), "memory.json": js} {
		if err := os.WriteFile(filepath.Join(*perfOut, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
