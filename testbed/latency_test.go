// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

var (
	latencyRate    = flag.Int("latency.rate", 10_000, "audit events per second posted in TestRecordLatency")
	latencySeconds = flag.Int("latency.seconds", 3, "how long TestRecordLatency posts")
)

const latencyConfig = `
` + webhookReceiver + `processors:
` + podCreation + `    correlation:
      expect: [audit]
exporters:
` + sinkExporter + `service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [otlp_http]
`

// TestRecordLatency posts the real v1.33 audit log's events (repeated with
// new UUIDs) to the webhook as the apiserver's batch backend does, at
// -latency.rate events per second (100 events a batch), and measures, for
// every pod create, the time from posting the batch that holds it to its
// record's arrival at the OTLP endpoint: p50, p99 and max. It asserts
// nothing about speed.
func TestRecordLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	template := samples.Read(t, "k8s-audit-live", "levels", "audit.log")
	bin := Collector(t)
	dir := t.TempDir()
	n := *latencyRate * *latencySeconds
	file := filepath.Join(dir, "events.log")
	WriteAuditLoad(t, template, file, n)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	cfg := writeConfig(t, dir, "config.yaml", latencyConfig)
	sink := NewSink(t)
	webhook := freePort(t)
	p := StartReady(t, bin, cfg, "WEBHOOK="+webhook, "SINK="+sink.URL, "RULES="+distPath(t, "rules"))

	const batch = 100
	sent := map[string]time.Time{} // audit ID of a pod create → when its batch was posted
	interval := time.Duration(float64(time.Second) * batch / float64(*latencyRate))
	next := time.Now()
	for i := 0; i < len(lines); i += batch {
		items := lines[i:min(i+batch, len(lines))]
		body := append([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`), bytes.Join(items, []byte(","))...)
		body = append(body, "]}"...)
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		at := time.Now()
		resp, err := http.Post("http://"+webhook+"/audit", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %s", resp.Status)
		}
		for _, l := range items {
			if ev, err := audit.Decode(l); err == nil && ev.IsPodCreate() && ev.IsFinal() {
				sent[ev.AuditID] = at
			}
		}
	}
	elapsed := time.Since(next.Add(-interval * time.Duration((len(lines)+batch-1)/batch)))
	WaitFor(t, 60*time.Second, fmt.Sprintf("records of %d pod creates", len(sent)), func() bool {
		return len(sink.Arrivals(attr.EventPodCreation, attr.AuditID)) >= len(sent)
	})
	p.Stop(t)
	arrived := sink.Arrivals(attr.EventPodCreation, attr.AuditID)
	var lat []time.Duration
	for id, at := range sent {
		if got, ok := arrived[id]; ok {
			lat = append(lat, got.Sub(at))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	res := struct {
		Events     int     `json:"events"`
		Seconds    float64 `json:"seconds"`
		Offered    float64 `json:"offered_events_per_second"`
		PodCreates int     `json:"pod_creates"`
		P50        float64 `json:"p50_ms"`
		P99        float64 `json:"p99_ms"`
		Max        float64 `json:"max_ms"`
	}{len(lines), elapsed.Seconds(), float64(len(lines)) / elapsed.Seconds(), len(lat), ms(q(0.5)), ms(q(0.99)), ms(lat[len(lat)-1])}
	md := fmt.Sprintf("### Record latency: %d events posted in %.1f s (%.0f events/s offered), %s, %d CPUs\n\n"+
		"| pod creates | p50 ms | p99 ms | max ms |\n|---:|---:|---:|---:|\n| %d | %.0f | %.0f | %.0f |\n",
		res.Events, res.Seconds, res.Offered, runtime.GOARCH, runtime.NumCPU(), res.PodCreates, res.P50, res.P99, res.Max)
	t.Log("\n" + md)
	writeResults(t, "latency", md, res)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
