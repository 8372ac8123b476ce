// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
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
