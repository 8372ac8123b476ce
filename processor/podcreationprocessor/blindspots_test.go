// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/samples"
)

// blindSpots are the blind-spot findings in sink, as "rule state subject".
func blindSpots(sink *consumertest.LogsSink) []string {
	var out []string
	for _, lr := range byEvent(sink, attr.EventFinding) {
		if str(lr, attr.BlindSpotKind) == "" {
			continue
		}
		subj := str(lr, attr.K8sNodeName)
		if subj == "" {
			subj = str(lr, attr.FindingPrefix+"cluster")
		}
		out = append(out, str(lr, attr.RuleID)+" "+str(lr, attr.BlindSpotState)+" "+subj)
	}
	return out
}

func blindSpotRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, lr := range byEvent(sink, attr.EventFinding) {
		if str(lr, attr.BlindSpotKind) != "" {
			out = append(out, lr)
		}
	}
	return out
}

func waitBlindSpots(t *testing.T, sink *consumertest.LogsSink, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(blindSpots(sink)) >= len(want) }, 10*time.Second, 10*time.Millisecond,
		"want %v, have %v", want, blindSpots(sink))
	require.Equal(t, want, blindSpots(sink))
}

// TestAuditSilence: a gateway whose audit stream stops for longer than
// blind_spots.audit_silence says so once, naming the cluster and since
// when, and once more when the stream is back.
func TestAuditSilence(t *testing.T) {
	cfg := auditOnly()
	cfg.Cluster.Name = "prod-eu-1"
	cfg.BlindSpots.AuditSilence = 400 * time.Millisecond
	p, sink := newTestProcessor(t, cfg, nil)
	ctx := context.Background()
	user := map[string]any{"username": "alice@example.com"}
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("a1", "shop", "web", "u1", user, "nginx:1.27"), nil)))
	heard := time.Now()
	waitBlindSpots(t, sink, "PT-0901 blind prod-eu-1")
	lr := blindSpotRecords(sink)[0]
	since, err := time.Parse(time.RFC3339Nano, str(lr, attr.BlindSpotSince))
	require.NoError(t, err)
	require.WithinDuration(t, heard, since, 100*time.Millisecond)
	require.Equal(t, "audit", str(lr, attr.BlindSpotSource))
	require.Equal(t, "HIGH", lr.SeverityText())
	require.Contains(t, lr.Body().Str(), "finding HIGH PT-0901 Audit stream of the cluster went silent: audit_silence cluster=prod-eu-1 source=audit since=")
	time.Sleep(600 * time.Millisecond) // still silent: no second finding
	require.Len(t, blindSpots(sink), 1)
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("a2", "shop", "web2", "u2", user, "nginx:1.27"), nil)))
	waitBlindSpots(t, sink, "PT-0901 blind prod-eu-1", "PT-0901 recovered prod-eu-1")
	rec := blindSpotRecords(sink)[1]
	require.Equal(t, str(lr, attr.BlindSpotSince), str(rec, attr.BlindSpotSince))
	require.NotEmpty(t, str(rec, attr.BlindSpotUntil))
	require.Equal(t, "INFO", rec.SeverityText())
}

// TestNodeSilence: a pod scheduled to a node whose record goes out after
// its window without any of the node's events, while the node has sent
// nothing for node_silence, gives one finding naming the node; the
// node's next event gives the recovery. A node that speaks, or an idle
// one, gives none.
func TestNodeSilence(t *testing.T) {
	cfg := auditOnly()
	cfg.Correlation.Expect = []string{"audit", "node"}
	cfg.Correlation.Window = 300 * time.Millisecond
	cfg.BlindSpots.NodeSilence = 200 * time.Millisecond
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p, sink := newTestProcessor(t, cfg, tel)
	ctx := context.Background()
	user := map[string]any{"username": "alice@example.com"}
	onNode := func(id, name, node string) plog.Logs {
		body := createEvent(id, "shop", name, "uid-"+name, user, "nginx:1.27")
		body = strings.ReplaceAll(body, `"spec":{`, `"spec":{"nodeName":"`+node+`",`)
		return auditLog(t, body, nil)
	}
	nodeEv := func(node string) plog.Logs {
		return nodeLog(noderuntime.Event{Kind: noderuntime.KindImagePresent, Source: noderuntime.SourceKubelet, Node: node, Time: time.Now()})
	}
	require.NoError(t, p.ConsumeLogs(ctx, nodeEv("node-a")))
	require.NoError(t, p.ConsumeLogs(ctx, nodeEv("node-b")))
	// node-b keeps speaking: its pod's lines alone are missing, no finding
	go func() {
		for i := 0; i < 20; i++ {
			_ = p.ConsumeLogs(ctx, nodeEv("node-b"))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	require.NoError(t, p.ConsumeLogs(ctx, onNode("a1", "web-b", "node-b")))
	time.Sleep(250 * time.Millisecond)
	require.NoError(t, p.ConsumeLogs(ctx, onNode("a2", "web-a", "node-a")))
	require.NoError(t, p.ConsumeLogs(ctx, onNode("a3", "web-a2", "node-a")))
	waitBlindSpots(t, sink, "PT-0902 blind node-a")
	require.Equal(t, int64(1), gauge(t, tel, "otelcol_pod_creation_blind_spots"), "open blind spots")
	time.Sleep(400 * time.Millisecond) // the second pod's record: no second finding
	require.Len(t, blindSpots(sink), 1)
	lr := blindSpotRecords(sink)[0]
	require.Equal(t, "node_runtime", str(lr, attr.BlindSpotSource))
	require.Contains(t, lr.Body().Str(), "PT-0902 Node runtime events stopped arriving: node_silence node=node-a source=node_runtime since=")
	require.NoError(t, p.ConsumeLogs(ctx, nodeEv("node-a")))
	waitBlindSpots(t, sink, "PT-0902 blind node-a", "PT-0902 recovered node-a")
	require.Equal(t, int64(2), blindSpotRecords(sink)[1].Attributes().AsRaw()[attr.BlindSpotCount])
	require.Equal(t, int64(0), gauge(t, tel, "otelcol_pod_creation_blind_spots"))
}

// TestEvictionBlindSpot: records forced out as partial because
// max_pending is reached give one finding, cleared after eviction_clear
// without another.
func TestEvictionBlindSpot(t *testing.T) {
	cfg := auditOnly()
	cfg.Correlation.Expect = []string{"audit", "node"}
	cfg.Correlation.MaxPending = 1
	cfg.BlindSpots.EvictionClear = 300 * time.Millisecond
	p, sink := newTestProcessor(t, cfg, nil)
	ctx := context.Background()
	user := map[string]any{"username": "alice@example.com"}
	for i, n := range []string{"a", "b", "c"} {
		require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("e"+n, "shop", "web-"+n, "u"+n, user, "nginx:1.27"), nil)), i)
	}
	waitBlindSpots(t, sink, "PT-0903 blind ", "PT-0903 recovered ")
	require.Equal(t, int64(2), blindSpotRecords(sink)[1].Attributes().AsRaw()[attr.BlindSpotCount])
	require.Equal(t, "MEDIUM", blindSpotRecords(sink)[0].SeverityText())
}

// TestRulesUnreadableBlindSpot: a rules file that stops loading in a
// running collector gives a finding with the error; the next good load
// the recovery.
func TestRulesUnreadableBlindSpot(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	write := func(id, cond string) {
		require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - id: "+id+"\n    severity: low\n    condition: "+cond+"\n"), 0o600))
	}
	write("R1", "pod.allowed")
	cfg := withRules(rulesFile, filepath.Join(packDir, "inventory.yaml"))
	cfg.ReloadInterval = 10 * time.Millisecond
	p, sink := newTestProcessor(t, cfg, componenttest.NewTelemetry())
	_ = p
	write("R2", "pod.nmae == \"x\"")
	waitBlindSpots(t, sink, "PT-0904 blind ")
	lr := blindSpotRecords(sink)[0]
	require.Contains(t, str(lr, attr.BlindSpotDetail), "rules.yaml")
	require.Contains(t, str(lr, attr.BlindSpotDetail), "nmae")
	write("R3", "pod.allowed")
	waitBlindSpots(t, sink, "PT-0904 blind ", "PT-0904 recovered ")
}

// TestAuditSilenceHeartbeat: behind a k8s_audit receiver with its default
// selection, a cluster whose apiserver writes audit events but changes no
// pod is heard through the receiver's heartbeats: no audit-silence finding
// while they come, and one once the stream stops.
func TestAuditSilenceHeartbeat(t *testing.T) {
	cfg := auditOnly()
	cfg.Cluster.Name = "prod-eu-1"
	cfg.BlindSpots.AuditSilence = 700 * time.Millisecond
	p, sink := newTestProcessor(t, cfg, nil)
	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"heartbeat": "100ms", "webhook": map[string]any{"endpoint": ep}}, p)
	others := unselectedLive(t, 40)
	for _, ev := range others[:25] { // 2.5 s of a quiet cluster: leases, lists, gets
		resp, err := http.Post("http://"+ep+"/audit", "application/json", strings.NewReader(ev))
		require.NoError(t, err)
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	require.Empty(t, blindSpots(sink), "a quiet cluster is not a silent audit stream")
	require.Empty(t, byEvent(sink, attr.EventAuditHeartbeat), "heartbeats are not handed on")
	waitBlindSpots(t, sink, "PT-0901 blind prod-eu-1")
}

// unselectedLive returns n events of the live audit log outside the
// receiver's selection (none about pods).
func unselectedLive(t *testing.T, n int) []string {
	t.Helper()
	data := samples.Read(t, "k8s-audit-live", "levels", "audit.log")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		ev, err := audit.Decode([]byte(line))
		if err != nil || audit.Selected(ev) {
			continue
		}
		if out = append(out, line); len(out) == n {
			break
		}
	}
	require.Len(t, out, n)
	return out
}

// The six pod creates of the live capture (RequestReceived and
// ResponseComplete stages each), by namespace and creator.
var liveCreates = map[string]string{
	"f6f64b16-327e-4c3d-b3e9-93916e65ab85": "lvl-metadata admin",
	"6dc43f68-4aee-4aa7-bc44-d444287cd909": "lvl-metadata replicaset-controller",
	"ced43352-a285-4e12-a9bd-0881a4608026": "lvl-request admin",
	"b9d01a70-ed9d-4714-9ab3-ae93aec75d9f": "lvl-request replicaset-controller",
	"5b69ba21-2e9e-4906-b780-6780ff944276": "default admin",
	"98cdf199-4f83-4370-b298-d7468a5ac3ef": "default replicaset-controller",
}

// TestAuditStageGap: behind the real k8s_audit receiver (file input, its
// default selection), the live capture's pod creates whose final stage
// (ResponseComplete) is lost give one audit_stage_gap finding naming the
// cluster and the first request, counting the others; a Panic stage is a
// gap at once; the complete capture gives none; the lost stages arriving
// late clear it. The RX-M webhook batches: the second batch lost, a gap.
func TestAuditStageGap(t *testing.T) {
	data := samples.Read(t, "k8s-audit-live", "levels", "audit.log")
	lines := strings.SplitAfter(string(data), "\n")
	final := func(l, id string) bool {
		return strings.Contains(l, `"auditID":"`+id+`"`) && strings.Contains(l, `"stage":"ResponseComplete"`)
	}
	// edit keeps the capture's lines, less those drop takes (they come
	// later, when late is set), with Panic for the final stage of panic.
	type edit struct {
		drop  []string // auditIDs whose final stage is lost
		panic string   // auditID whose final stage is Panic
	}
	all := []string{}
	for id := range liveCreates {
		all = append(all, id)
	}
	tests := []struct {
		name   string
		edit   edit
		late   bool     // the dropped lines arrive afterwards
		want   []string // blind spots
		detail []string // in the first finding's detail
		count  int64    // on the recovery
	}{
		{name: "complete capture: no gap"},
		{name: "the six creates' final stages lost, then late", edit: edit{drop: all}, late: true,
			want: []string{"PT-0905 blind lab", "PT-0905 recovered lab"}, detail: []string{"auditID=", "uri=/api/v1/namespaces/", "client=127.0.0.1", "received=2026-11-22T21:11:"}, count: 6},
		{name: "one lost at the Metadata level", edit: edit{drop: []string{"f6f64b16-327e-4c3d-b3e9-93916e65ab85"}},
			want:   []string{"PT-0905 blind lab"},
			detail: []string{"auditID=f6f64b16-327e-4c3d-b3e9-93916e65ab85 pod=lvl-metadata/ user=admin uri=/api/v1/namespaces/lvl-metadata/pods"}},
		// the capture's later creates complete after it: it clears
		{name: "Panic stage", edit: edit{panic: "ced43352-a285-4e12-a9bd-0881a4608026"}, count: 1,
			want:   []string{"PT-0905 blind lab", "PT-0905 recovered lab"},
			detail: []string{"auditID=ced43352-a285-4e12-a9bd-0881a4608026 pod=lvl-request/gen-* user=admin", "stage=Panic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kept, dropped strings.Builder
			for _, l := range lines {
				lost := false
				for _, id := range tt.edit.drop {
					lost = lost || final(l, id)
				}
				switch {
				case lost:
					dropped.WriteString(l)
				case tt.edit.panic != "" && final(l, tt.edit.panic):
					kept.WriteString(strings.Replace(l, `"stage":"ResponseComplete"`, `"stage":"Panic"`, 1))
				default:
					kept.WriteString(l)
				}
			}
			path := filepath.Join(t.TempDir(), "audit.log")
			require.NoError(t, os.WriteFile(path, []byte(kept.String()), 0o600))
			cfg := auditOnly()
			cfg.Cluster.Name = "lab"
			cfg.BlindSpots.AuditStageGap = 300 * time.Millisecond
			p, sink := newTestProcessor(t, cfg, nil)
			startReceiver(t, map[string]any{"file": map[string]any{
				"include": []any{path}, "start_at": "beginning", "poll_interval": "20ms",
			}}, p)
			wantRecords := 6 - len(tt.edit.drop)
			require.Eventually(t, func() bool { return len(byEvent(sink, attr.EventPodCreation)) >= wantRecords }, 20*time.Second, 10*time.Millisecond)
			if len(tt.want) == 0 {
				time.Sleep(time.Second) // three periods
				require.Empty(t, blindSpots(sink))
				return
			}
			waitBlindSpots(t, sink, tt.want[0])
			lr := blindSpotRecords(sink)[0]
			for _, d := range tt.detail {
				require.Contains(t, str(lr, attr.BlindSpotDetail), d)
			}
			require.Equal(t, "audit_stage_gap", str(lr, attr.BlindSpotKind))
			require.Equal(t, "audit", str(lr, attr.BlindSpotSource))
			require.Equal(t, "HIGH", lr.SeverityText())
			require.Contains(t, lr.Body().Str(), "finding HIGH PT-0905 Audit events of a pod create lost: its request was received, its outcome never arrived: audit_stage_gap cluster=lab source=audit since=")
			id := str(lr, attr.FindingPrefix+"audit_id")
			require.Contains(t, liveCreates, id)
			require.Contains(t, liveCreates[id], str(lr, attr.FindingPrefix+"pod")[:strings.IndexByte(str(lr, attr.FindingPrefix+"pod"), '/')])
			if tt.late {
				time.Sleep(700 * time.Millisecond) // one finding for the gap, not one per request or tick
				require.Len(t, blindSpots(sink), 1)
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.WriteString(dropped.String())
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			waitBlindSpots(t, sink, tt.want...)
			time.Sleep(700 * time.Millisecond) // and no more
			require.Len(t, blindSpots(sink), len(tt.want))
			if len(tt.want) == 1 {
				return
			}
			rec := blindSpotRecords(sink)[1]
			require.Equal(t, tt.count, rec.Attributes().AsRaw()[attr.BlindSpotCount])
			require.Equal(t, str(lr, attr.BlindSpotSince), str(rec, attr.BlindSpotSince))
			require.Equal(t, "INFO", rec.SeverityText())
		})
	}
}

// TestAuditStageGapWebhook: the RX-M capture's two EventList batches (a
// kubectl run's RequestReceived, then its ResponseComplete) through the
// webhook: both, no gap; the second lost, one gap naming kube-system and
// kubernetes-admin.
func TestAuditStageGapWebhook(t *testing.T) {
	batches := bytes.Split(samples.Read(t, "k8s-audit", "repo-RX-M-web-public-cks-mod-6-eventlist.log"), []byte("\n\n"))
	require.Len(t, batches, 2)
	for _, tt := range []struct {
		name string
		send int
		want []string
	}{{"both batches", 2, nil}, {"second batch lost", 1, []string{"PT-0905 blind cks"}}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := auditOnly()
			cfg.Cluster.Name = "cks"
			cfg.BlindSpots.AuditStageGap = 300 * time.Millisecond
			p, sink := newTestProcessor(t, cfg, nil)
			ep := freeEndpoint(t)
			startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep}}, p)
			for _, b := range batches[:tt.send] {
				resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(b))
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode)
			}
			if tt.want == nil {
				require.Eventually(t, func() bool { return len(byEvent(sink, attr.EventPodCreation)) == 1 }, 10*time.Second, 10*time.Millisecond)
				time.Sleep(time.Second)
				require.Empty(t, blindSpots(sink))
				return
			}
			waitBlindSpots(t, sink, tt.want...)
			d := str(blindSpotRecords(sink)[0], attr.BlindSpotDetail)
			require.True(t, strings.HasPrefix(d, "auditID=d2a97a82-f39e-41d0-8b31-dd74f42ac7fe pod=kube-system/ user=kubernetes-admin uri=/api/v1/namespaces/kube-system/pods?fieldManager=kubectl-run client=192.168.229.157 received=2021-02-"), d)
		})
	}
}
