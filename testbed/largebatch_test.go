// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

// largeBatchConfig is a gateway: the webhook, pod_creation with the rules
// pack, an OTLP/HTTP export.
const largeBatchConfig = webhookReceiver + `processors:
` + podCreation + `exporters:
` + sinkExporter + `service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [otlp_http]
`

var largeBatchAuditID = regexp.MustCompile(`"auditID":"[^"]*"`)

// TestWebhookLargeBatch posts one EventList of 100,000 events (the live
// capture's webhook items, each with an auditID of its own: ~85 MB) to the
// built collector's webhook, through pod_creation to an OTLP endpoint, and
// states the time to the answer and the collector's peak RSS over its RSS
// at start. The answer must be 200 with every event accepted, within the
// apiserver's 30 s.
func TestWebhookLargeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	const n = 100_000
	f, err := os.Open(filepath.Join(samples.Dir(t, "k8s-audit-live", "levels"), "webhook-bodies.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var items [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		its, err := audit.SplitBody(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range its {
			items = append(items, bytes.Clone(it))
		}
	}
	f.Close()
	var body bytes.Buffer
	body.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		it := items[i%len(items)]
		loc := largeBatchAuditID.FindIndex(it)
		body.Write(it[:loc[0]])
		fmt.Fprintf(&body, `"auditID":"%08x-0000-4000-8000-%012x"`, i, i)
		body.Write(it[loc[1]:])
	}
	body.WriteString("]}")

	sink := NewSink(t)
	webhook := freePort(t)
	cfg := writeConfig(t, t.TempDir(), "config.yaml", largeBatchConfig)
	p := StartReady(t, Collector(t), cfg, "WEBHOOK="+webhook, "SINK="+sink.URL, "RULES="+distPath(t, "rules"))
	defer p.Stop(t)
	startRSS, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Post("http://"+webhook+"/audit", "application/json", bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	peak, err := p.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %.1f MB: %d in %v; RSS at start %.0f MB, peak %.0f MB (+%.0f MB, %.0f B/event)",
		n, float64(body.Len())/1e6, resp.StatusCode, took.Round(time.Millisecond),
		float64(startRSS)/(1<<20), float64(peak)/(1<<20), float64(peak-startRSS)/(1<<20), float64(peak-startRSS)/n)
	// Every event taken: handed on, or outside the receiver's default
	// selection (events: pod_creation) and counted.
	var ans struct{ Accepted, Rejected, Unselected int }
	if err := json.Unmarshal(answer, &ans); err != nil || resp.StatusCode != http.StatusOK || ans.Accepted+ans.Unselected != n || ans.Rejected != 0 {
		t.Fatalf("answer %d: %.300s", resp.StatusCode, answer)
	}
	t.Logf("accepted %d, outside the selection %d", ans.Accepted, ans.Unselected)
	// The time is the figure the log line states; the webhook's own
	// read_timeout (30 s, the apiserver's patience) would have answered 408.
}
