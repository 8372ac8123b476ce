// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/internal/storagetest"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

const (
	evA = `{"level":"Metadata","auditID":"aaaaaaaa-0000-4000-8000-000000000001","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":{"username":"admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestReceivedTimestamp":"2026-11-22T21:11:11.505085Z","stageTimestamp":"2026-11-22T21:11:11.516622Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`
	evB = `{"level":"Metadata","auditID":"aaaaaaaa-0000-4000-8000-000000000002","stage":"RequestReceived","requestURI":"/api/v1/namespaces/default/configmaps","verb":"list","user":{"username":"system:apiserver"},"sourceIPs":["::1"],"objectRef":{"resource":"configmaps","namespace":"default","apiVersion":"v1"},"requestReceivedTimestamp":"2026-11-22T21:11:11.505085Z","stageTimestamp":"2026-11-22T21:11:11.505085Z"}`
)

func eventList(items ...string) string {
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
}

type harness struct {
	r    *auditReceiver
	tel  *componenttest.Telemetry
	sink *consumertest.LogsSink
	url  string
}

func startWebhook(t *testing.T, next consumer.Logs) *harness {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	w := defaultWebhookConfig()
	w.NetAddr.Endpoint = "127.0.0.1:0"
	w.RetryAfter = 3 * time.Second
	w.MaxRequestBodySize = 1 << 20
	cfg := &Config{Webhook: configoptional.Some(w)}
	sink, _ := next.(*consumertest.LogsSink)
	r, err := newReceiver(set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return &harness{r: r, tel: tel, sink: sink, url: "http://" + r.addr.String() + "/audit"}
}

func (h *harness) post(t *testing.T, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(h.url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// counter sums otelcol_k8s_audit_rejected (or accepted) points matching reason ("" = any).
func (h *harness) counter(t *testing.T, name, reason string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if r, _ := dp.Attributes.Value("reason"); reason == "" || r.AsString() == reason {
			n += dp.Value
		}
	}
	return n
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		status     int
		delivered  int
		reason     string
		rejected   int64
		answerHint string
	}{
		{name: "event list", body: eventList(evA, evB), status: 200, delivered: 2},
		{name: "single event", body: evA, status: 200, delivered: 1},
		{name: "v1beta1 list", body: strings.ReplaceAll(eventList(evA), "audit.k8s.io/v1", "audit.k8s.io/v1beta1"), status: 200, delivered: 1},
		{name: "malformed body", body: `{"kind":"EventList","items":[}`, status: 400, reason: reasonInvalidJSON, rejected: 1, answerHint: "invalid JSON"},
		{name: "not json at all", body: `hello`, status: 400, reason: reasonNotAuditEvent, rejected: 1},
		{name: "event of a wrong kind", body: `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}`, status: 400, reason: reasonNotAuditEvent, rejected: 1, answerHint: "kind"},
		{name: "list of wrong kind", body: `{"kind":"PodList","apiVersion":"v1","items":[]}`, status: 400, reason: reasonNotAuditEvent, rejected: 1},
		{name: "truncated batch", body: eventList(evA, evB)[:len(eventList(evA))+40], status: 400, delivered: 1, reason: reasonTruncated, rejected: 1, answerHint: "truncated"},
		{name: "mixed batch", body: eventList(evA, `{"kind":"Pod"}`, `42`, evB, `{"auditID":"x"}`), status: 200, delivered: 2, reason: reasonNotAuditEvent, rejected: 3, answerHint: `"rejected":3`},
		{name: "empty list", body: eventList(), status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startWebhook(t, new(consumertest.LogsSink))
			resp, body := h.post(t, tt.body)
			assert.Equal(t, tt.status, resp.StatusCode, body)
			assert.Equal(t, tt.delivered, h.sink.LogRecordCount())
			if tt.reason != "" {
				assert.Equal(t, tt.rejected, h.counter(t, "otelcol_k8s_audit_rejected", tt.reason))
			} else {
				assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""))
			}
			assert.Equal(t, int64(tt.delivered), h.counter(t, "otelcol_k8s_audit_accepted", ""))
			if tt.answerHint != "" {
				assert.Contains(t, body, tt.answerHint)
			}
		})
	}
}

func TestWebhookMethodAndSize(t *testing.T) {
	h := startWebhook(t, new(consumertest.LogsSink))
	resp, err := http.Get(h.url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	big := eventList(strings.Repeat(evA+",", 1<<20/len(evA)+1) + evA)
	resp2, _ := h.post(t, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp2.StatusCode)
	assert.Zero(t, h.sink.LogRecordCount())
}

func TestWebhookPipelineRefuses(t *testing.T) {
	refuse := consumertest.NewErr(errors.New("data refused due to high memory usage"))
	h := startWebhook(t, refuse)
	resp, body := h.post(t, eventList(evA, evB))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	assert.Equal(t, int64(2), h.counter(t, "otelcol_k8s_audit_rejected", reasonRefused))

	h2 := startWebhook(t, consumertest.NewErr(consumererror.NewPermanent(errors.New("bad data"))))
	resp2, _ := h2.post(t, eventList(evA))
	assert.Equal(t, http.StatusInternalServerError, resp2.StatusCode)
}

func TestWebhookRecordShape(t *testing.T) {
	h := startWebhook(t, new(consumertest.LogsSink))
	resp, _ := h.post(t, eventList(evA))
	require.Equal(t, 200, resp.StatusCode)
	lr := h.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, attr.EventAudit, lr.EventName())
	assert.JSONEq(t, evA, lr.Body().Str(), "the original event is kept as body")
	want := map[string]any{
		attr.AuditID: "aaaaaaaa-0000-4000-8000-000000000001", attr.AuditStage: "ResponseComplete", attr.AuditVerb: "create",
		attr.AuditResource: "pods", attr.K8sNamespaceName: "default", attr.K8sPodName: "web", attr.UserName: "admin",
		attr.ClientAddress: "127.0.0.1", attr.UserAgentOriginal: "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
		attr.HTTPStatusCode: int64(201), attr.AuditDecision: "allow", attr.AuditLevel: "Metadata",
	}
	for k, v := range want {
		got, ok := lr.Attributes().Get(k)
		require.True(t, ok, k)
		assert.Equal(t, v, got.AsRaw(), k)
	}
	assert.Equal(t, "2026-11-22T21:11:11.516622Z", lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano))
}

// TestLiveCaptureBothInputs feeds the real v1.33 capture to both inputs: every
// event of audit.log through the file input and every body of
// webhook-bodies.jsonl through HTTP, and compares the event sets.
func TestLiveCaptureBothInputs(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	h := startWebhook(t, new(consumertest.LogsSink))
	f, err := os.Open(filepath.Join(dir, "webhook-bodies.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		resp, body := h.post(t, sc.Text())
		require.Equal(t, 200, resp.StatusCode, body)
	}
	webhookIDs := ids(h.sink.AllLogs())

	fileSink := readFile(t, filepath.Join(dir, "audit.log"), 1690)
	fileIDs := ids(fileSink.AllLogs())
	assert.Len(t, fileIDs, 1690)
	assert.Equal(t, fileIDs, webhookIDs)
}

func ids(all []plog.Logs) map[string]bool {
	out := map[string]bool{}
	for _, ld := range all {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes()
					id, _ := a.Get(attr.AuditID)
					st, _ := a.Get(attr.AuditStage)
					out[id.Str()+"/"+st.Str()] = true
				}
			}
		}
	}
	return out
}

func fileConfig(include string) *Config {
	fc := defaultFileConfig()
	fc.Include = []string{include}
	fc.StartAt = "beginning"
	fc.PollInterval = 20 * time.Millisecond
	return &Config{File: configoptional.Some(fc)}
}

// readFile runs the file input over path until want records arrived.
func readFile(t *testing.T, path string, want int) *consumertest.LogsSink {
	t.Helper()
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), fileConfig(path), sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return sink.LogRecordCount() >= want }, 20*time.Second, 10*time.Millisecond,
		"got %d of %d records", sink.LogRecordCount(), want)
	return sink
}

func TestFileBrokenLineLosesNothingElse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	var buf bytes.Buffer
	buf.WriteString(evA + "\n")
	buf.WriteString(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":` + "\n") // cut by a crash
	buf.WriteString("not json\n")
	buf.WriteString(eventList(evB) + "\n") // a batch written to a file
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(set, fileConfig(path), sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	h := &harness{tel: tel}
	assert.Equal(t, int64(2), h.counter(t, "otelcol_k8s_audit_rejected", ""))
}

func TestFileCheckpointWithFileStorage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(path, []byte(evA+"\n"), 0o600))
	host, storageID := storagetest.NewFileStorageHost(t, filepath.Join(dir, "storage"))

	run := func(want int) int {
		cfg := fileConfig(path)
		cfg.File.Get().StorageID = &storageID
		sink := new(consumertest.LogsSink)
		set := receivertest.NewNopSettings(metadata.Type)
		set.ID = component.NewID(metadata.Type) // the checkpoint is keyed by the receiver id
		r, err := newReceiver(set, cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), host))
		require.Eventually(t, func() bool { return sink.LogRecordCount() >= want }, 10*time.Second, 10*time.Millisecond)
		time.Sleep(200 * time.Millisecond) // let a re-read, if any, show up
		require.NoError(t, r.Shutdown(context.Background()))
		return sink.LogRecordCount()
	}
	assert.Equal(t, 1, run(1))
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintln(fh, evB)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	assert.Equal(t, 1, run(1), "after a restart only the new line is read")
}

// TestFileLinesOwnTheirBuffers: records' bodies and attributes share the
// line the file reader hands over (no copy); they must stay intact while
// the reader goes on through the file (many reads and batches), with CRLF
// endings and a line of invalid UTF-8 (its bad bytes become U+FFFD).
func TestFileLinesOwnTheirBuffers(t *testing.T) {
	lines := bytes.Split(bytes.TrimSpace(samples.Read(t, "k8s-audit-live", "levels", "audit.log")), []byte("\n"))
	bad := []byte(strings.Replace(evA, `"userAgent":"`, "\"userAgent\":\"\xff\xfe", 1))
	require.Contains(t, string(bad), "\xff", "evA has a userAgent")
	lines = append(lines, bad)
	path := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(path, append(bytes.Join(lines, []byte("\r\n")), "\r\n"...), 0o600))

	sink := readFile(t, path, len(lines))
	var bodies []string
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			lrs := ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				lr := lrs.At(j)
				bodies = append(bodies, lr.Body().Str())
				id, _ := lr.Attributes().Get(attr.AuditID)
				require.Contains(t, lr.Body().Str(), `"auditID":"`+id.Str()+`"`)
			}
		}
	}
	require.Len(t, bodies, len(lines))
	for i, l := range lines[:len(lines)-1] {
		require.Equal(t, string(l), bodies[i], "line %d", i+1)
	}
	require.Equal(t, strings.Replace(string(bad), "\xff\xfe", "\uFFFD", 1), bodies[len(bodies)-1])
}
