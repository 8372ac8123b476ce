// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver"
)

var packDir = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")

func newTestProcessor(t *testing.T, cfg *Config, tel *componenttest.Telemetry) (*podCreationProcessor, *consumertest.LogsSink) {
	t.Helper()
	set := processortest.NewNopSettings(metadata.Type)
	if tel != nil {
		set.TelemetrySettings = tel.NewTelemetrySettings()
	}
	sink := new(consumertest.LogsSink)
	p, err := newProcessor(set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, sink
}

// auditOnly is the default configuration with records complete on their
// audit event alone (no scheduler, no node logs in these tests).
func auditOnly() *Config {
	c := NewFactory().CreateDefaultConfig().(*Config)
	c.Correlation.Expect = []string{"audit"}
	return c
}

func withRules(rulesFile, inventoryFile string) *Config {
	c := auditOnly()
	c.RulesFile, c.InventoryFile = rulesFile, inventoryFile
	return c
}

// byEvent returns the log records of sink with the given event name.
func byEvent(sink *consumertest.LogsSink, name string) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					if lrs.At(k).EventName() == name {
						out = append(out, lrs.At(k))
					}
				}
			}
		}
	}
	return out
}

func str(lr plog.LogRecord, k string) string {
	if v, ok := lr.Attributes().Get(k); ok {
		return v.AsString()
	}
	return ""
}

// startReceiver runs the real k8s_audit receiver with cfg (a confmap of its
// config) in front of the processor.
func startReceiver(t *testing.T, conf map[string]any, next *podCreationProcessor) (receiver.Logs, string) {
	t.Helper()
	f := k8sauditreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(conf).Unmarshal(cfg))
	set := receivertest.NewNopSettings(f.Type())
	r, err := f.CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, ""
}

// postCKSBatches posts the EventList batches of a real `kubectl run
// webhook-audit` session (kube-system, kubernetes-admin) to the webhook at ep.
func postCKSBatches(t *testing.T, ep string) {
	t.Helper()
	data := samples.Read(t, "k8s-audit", "repo-RX-M-web-public-cks-mod-6-eventlist.log")
	for _, body := range bytes.Split(data, []byte("\n\n")) {
		resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
	}
}

// freeEndpoint returns a loopback address nothing listens on.
func freeEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func recordKeys(recs []plog.LogRecord) []string {
	var keys []string
	for _, lr := range recs {
		keys = append(keys, strings.Join([]string{str(lr, attr.AuditID), str(lr, attr.K8sNamespaceName), str(lr, attr.K8sPodName),
			str(lr, attr.K8sPodUID), str(lr, attr.UserName), str(lr, attr.Channel), lr.Body().Str()}, " | "))
	}
	sort.Strings(keys)
	return keys
}

// TestLiveCaptureWebhookAndFileAgree is the foundation bar: the real v1.33
// capture fed to the webhook (webhook-bodies.jsonl, over HTTP) and to the file
// input (audit.log) gives the same six pod-creation records.
func TestLiveCaptureWebhookAndFileAgree(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	cfg := auditOnly()

	pw, sinkW := newTestProcessor(t, cfg, nil)
	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep, "path": "/audit"}}, pw)
	f, err := os.Open(filepath.Join(dir, "webhook-bodies.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(sc.Bytes()))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
	}

	pf, sinkF := newTestProcessor(t, cfg, nil)
	startReceiver(t, map[string]any{"file": map[string]any{
		"include": []any{filepath.Join(dir, "audit.log")}, "start_at": "beginning", "poll_interval": "20ms",
	}}, pf)
	require.Eventually(t, func() bool { return len(byEvent(sinkF, attr.EventPodCreation)) >= 6 }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)

	web, file := byEvent(sinkW, attr.EventPodCreation), byEvent(sinkF, attr.EventPodCreation)
	require.Len(t, web, 6)
	require.Len(t, file, 6)
	assert.Equal(t, recordKeys(web), recordKeys(file))
	names := map[string]bool{}
	for _, lr := range web {
		names[str(lr, attr.K8sNamespaceName)+"/"+str(lr, attr.K8sPodName)] = true
	}
	// Generated names are known at RequestResponse level only (the capture's README).
	for _, n := range []string{"default/gen-5zjvg", "default/web-796cf5c97c-kx68n", "lvl-request/", "lvl-metadata/"} {
		assert.True(t, names[n], "%s in %v", n, names)
	}
}

func TestDuplicatesAndBrokenBodies(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p, sink := newTestProcessor(t, auditOnly(), tel)
	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep}}, p)
	data := samples.Read(t, "k8s-audit", "repo-RX-M-web-public-cks-mod-6-eventlist.log")
	for _, body := range bytes.Split(data, []byte("\n\n")) {
		for range 2 { // a webhook retry delivers the batch again
			resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(body))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
		}
	}
	recs := byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, 1)
	assert.Equal(t, "kube-system", str(recs[0], attr.K8sNamespaceName))
	assert.Equal(t, "webhook-audit", str(recs[0], attr.K8sPodName))
	assert.Equal(t, "kubectl", str(recs[0], attr.Channel))
	assert.Equal(t, "kubectl-run", str(recs[0], attr.FieldManager))
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_duplicates"))

	// A log record that claims to be a pod create but whose body is not an
	// audit event is counted; the batch's other records still go through.
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	bad := lrs.AppendEmpty()
	bad.Attributes().PutStr(attr.AuditVerb, "create")
	bad.Attributes().PutStr(attr.AuditResource, "pods")
	bad.Attributes().PutStr(attr.AuditStage, "ResponseComplete")
	bad.Body().SetStr(`{"auditID":`)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_errors"))
}

func sum(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

func TestRulesAndFindings(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	p, sink := newTestProcessor(t, cfg, tel)
	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep}}, p)
	// kubectl run webhook-audit in kube-system by kubernetes-admin (real sample):
	// a person in a system namespace with an image the inventory lacks.
	postCKSBatches(t, ep)
	findings := byEvent(sink, attr.EventFinding)
	var ids []string
	for _, f := range findings {
		ids = append(ids, str(f, attr.RuleID))
		assert.Equal(t, "webhook-audit", str(f, attr.K8sPodName))
		assert.NotEmpty(t, str(f, attr.AuditID), "a finding references its record")
	}
	assert.Equal(t, []string{"PT-0001", "PT-0003", "PT-0023", "PT-0024"}, ids)
	assert.Equal(t, plog.SeverityNumberError, findings[0].SeverityNumber())
	assert.Contains(t, findings[0].Body().Str(), "finding HIGH PT-0001")
	assert.Equal(t, int64(4), sum(t, tel, "otelcol_pod_creation_findings"))
}

func TestBrokenRuleStopsStartup(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - id: GOOD\n    condition: pod.allowed\n  - id: BROKEN\n    condition: pod.nmespace == \"x\"\n"), 0o600))
	cfg := withRules(rulesFile, filepath.Join(packDir, "inventory.yaml"))
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	err = p.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	for _, want := range []string{rulesFile + ":4", `rule "BROKEN"`, "nmespace"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestPassthrough(t *testing.T) {
	for _, pass := range []bool{false, true} {
		p, sink := newTestProcessor(t, func() *Config { c := auditOnly(); c.Passthrough = pass; return c }(), nil)
		ep := freeEndpoint(t)
		// events: all: the receiver hands on every audit event, which
		// passthrough forwards (by default it selects the pod's).
		startReceiver(t, map[string]any{"events": "all", "webhook": map[string]any{"endpoint": ep}}, p)
		postCKSBatches(t, ep)
		audits := len(byEvent(sink, attr.EventAudit))
		assert.Len(t, byEvent(sink, attr.EventPodCreation), 1)
		if pass {
			assert.Equal(t, 2, audits)
		} else {
			assert.Zero(t, audits)
		}
	}
}

// TestRulesReload runs the reload loop under the race detector while audit
// events flow: the running set follows the rules file through a valid, an
// invalid and a valid edit, and the reloads are counted by result. (The
// findings of each step, in a running collector: testbed TestRulesHotReload.)
func TestRulesReload(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	write := func(id, cond string) {
		require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - id: "+id+"\n    severity: low\n    condition: "+cond+"\n"), 0o600))
	}
	write("R1", "pod.allowed")
	cfg := withRules(rulesFile, filepath.Join(packDir, "inventory.yaml"))
	cfg.ReloadInterval = 10 * time.Millisecond
	p, _ := newTestProcessor(t, cfg, tel)
	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep}}, p)
	// Read before the deferred stop: a missing sample skips the test, and
	// the stop would wait for a goroutine never started.
	batches := bytes.Split(samples.Read(t, "k8s-audit", "repo-RX-M-web-public-cks-mod-6-eventlist.log"), []byte("\n\n"))
	stop, stopped := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-stopped }()
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(batches[i%len(batches)])); err == nil {
				resp.Body.Close()
			}
		}
	}()

	reloads := func(result string) int64 {
		m, err := tel.GetMetric("otelcol_pod_creation_rule_reloads")
		if err != nil {
			return 0
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if v, _ := dp.Attributes.Value("result"); v.AsString() == result {
				return dp.Value
			}
		}
		return 0
	}
	steps := []struct {
		id, cond, result string
		want             string
	}{
		{"R2", "pod.allowed", "success", "R2"},
		{"R3", "pod.nmae == \"x\"", "failure", "R2"},
		{"R4", "pod.allowed", "success", "R4"},
	}
	var n = map[string]int64{}
	for _, st := range steps {
		write(st.id, st.cond)
		n[st.result]++
		require.Eventually(t, func() bool { return reloads(st.result) == n[st.result] }, 10*time.Second, 5*time.Millisecond, "%s reload of %s", st.result, st.id)
		if rs := p.rules.Engine().Rules(); assert.Len(t, rs, 1) {
			assert.Equal(t, st.want, rs[0].ID)
		}
	}
}

// TestLearning: learning mode writes a proposal with what a real kubectl
// run showed (creator, channel, image) at start, every interval and at
// shutdown; the inventory in use is not touched.
func TestLearning(t *testing.T) {
	dir := t.TempDir()
	cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	cfg.Learning = LearningConfig{File: filepath.Join(dir, "proposal.yaml"), Interval: time.Hour}
	inUse, err := os.ReadFile(cfg.InventoryFile)
	require.NoError(t, err)
	p, sink := newTestProcessor(t, cfg, nil)
	proposal, err := os.ReadFile(cfg.Learning.File)
	require.NoError(t, err, "written at start")
	assert.Contains(t, string(proposal), "learned from 0 pod-creation records")

	ep := freeEndpoint(t)
	startReceiver(t, map[string]any{"webhook": map[string]any{"endpoint": ep}}, p)
	postCKSBatches(t, ep)
	require.Len(t, byEvent(sink, attr.EventPodCreation), 1)
	require.NoError(t, p.Shutdown(context.Background()))

	proposal, err = os.ReadFile(cfg.Learning.File)
	require.NoError(t, err)
	inv, err := inventory.Parse(cfg.Learning.File, proposal)
	require.NoError(t, err, "%s", proposal)
	assert.Contains(t, string(proposal), "learned from 1 pod-creation records")
	require.Len(t, inv.Namespaces, 1)
	assert.Equal(t, inventory.Namespace{Name: "kube-system", Creators: []string{"kubernetes-admin"}, Channels: []string{"kubectl"}}, inv.Namespaces[0])
	require.Len(t, inv.Images, 1)
	after, err := os.ReadFile(cfg.InventoryFile)
	require.NoError(t, err)
	assert.Equal(t, string(inUse), string(after))
}

// TestNodeOnlyRecordTime: a pod the node ran without an API create has no
// request time; its record and findings are stamped with the first thing
// the node said (the sandbox request), not the zero time.
func TestNodeOnlyRecordTime(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 16, 40, 118204000, time.UTC)
	r := &podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-debug", Origin: podrecord.OriginNodeOnly,
		Sandbox: podrecord.Sandbox{ID: "d1e4", RequestedAt: at, ReadyAt: at.Add(388 * time.Millisecond)}}
	lrs := plog.NewLogRecordSlice()
	appendRecord(lrs, r)
	appendFinding(lrs, r, &rules.Finding{RuleID: "PT-0035", Severity: "critical"})
	for i := 0; i < lrs.Len(); i++ {
		assert.Equal(t, at, lrs.At(i).Timestamp().AsTime().UTC(), lrs.At(i).EventName())
	}
}

// TestRulesStaleGauge: rules_stale is 1 while the rules file holds contents
// that failed to load, and 0 again once it holds the running set again.
func TestRulesStaleGauge(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	good := []byte("rules:\n  - id: R1\n    severity: low\n    condition: pod.allowed\n")
	require.NoError(t, os.WriteFile(rulesFile, good, 0o600))
	p, _ := newTestProcessor(t, withRules(rulesFile, filepath.Join(packDir, "inventory.yaml")), tel)
	stale := func() int64 {
		m, err := tel.GetMetric("otelcol_pod_creation_rules_stale")
		require.NoError(t, err)
		return m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
	}
	assert.Equal(t, int64(0), stale())
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - id: R1\n    condition: pod.nmae == \"x\"\n"), 0o600))
	_, err := p.rules.Poll()
	require.Error(t, err)
	assert.Equal(t, int64(1), stale(), "broken contents in the file")
	require.NoError(t, os.WriteFile(rulesFile, good, 0o600))
	_, err = p.rules.Poll()
	require.NoError(t, err)
	assert.Equal(t, int64(0), stale(), "the file holds the running set again")
}
