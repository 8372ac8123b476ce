// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// liveSelected is the live audit log's events in the pod-creation
// selection, by auditID/stage, and the number of the others.
func liveSelected(t *testing.T, path string) (map[string]bool, int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sel, others := map[string]bool{}, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		ev, err := audit.Decode(sc.Bytes())
		require.NoError(t, err)
		if audit.Selected(ev) {
			sel[ev.AuditID+"/"+ev.Stage] = true
		} else {
			others++
		}
	}
	return sel, others
}

// TestEventsSelection: by default (events: pod_creation) both inputs hand on
// exactly the live log's events the pod_creation processor reads and count
// the others in otelcol_k8s_audit_unselected; the webhook answers 200 with
// the count; events: all hands on every event.
func TestEventsSelection(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	want, others := liveSelected(t, filepath.Join(dir, "audit.log"))
	require.NotEmpty(t, want)
	require.NotZero(t, others)
	t.Logf("live log: %d events selected, %d not", len(want), others)

	t.Run("file", func(t *testing.T) {
		tel := componenttest.NewTelemetry()
		defer func() { _ = tel.Shutdown(context.Background()) }()
		set := receivertest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tel.NewTelemetrySettings()
		cfg := fileConfig(filepath.Join(dir, "audit.log"))
		cfg.Events = EventsPodCreation
		sink := new(consumertest.LogsSink)
		r, err := newReceiver(set, cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
		h := &harness{r: r, tel: tel}
		require.Eventually(t, func() bool {
			return h.counter(t, "otelcol_k8s_audit_unselected", "") == int64(others) && sink.LogRecordCount() == len(want)
		}, 20*time.Second, 10*time.Millisecond)
		assert.Equal(t, want, ids(sink.AllLogs()))
		assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""))
		assert.Equal(t, int64(len(want)), h.counter(t, "otelcol_k8s_audit_accepted", ""))
	})

	t.Run("webhook", func(t *testing.T) {
		h := startWebhookSink(t, new(consumertest.LogsSink), nil)
		h.r.cfg.Events = EventsPodCreation
		f, err := os.Open(filepath.Join(dir, "webhook-bodies.jsonl"))
		require.NoError(t, err)
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 8<<20)
		var unsel int
		for sc.Scan() {
			resp, body := h.post(t, sc.Text())
			require.Equal(t, 200, resp.StatusCode, body)
			var ans webhookAnswer
			require.NoError(t, json.Unmarshal([]byte(body), &ans))
			unsel += ans.Unselected
		}
		assert.Equal(t, want, ids(h.sink.AllLogs()))
		assert.Equal(t, others, unsel)
		assert.Equal(t, int64(others), h.counter(t, "otelcol_k8s_audit_unselected", ""))
	})

	t.Run("all", func(t *testing.T) {
		cfg := fileConfig(filepath.Join(dir, "audit.log"))
		cfg.Events = EventsAll
		sink := new(consumertest.LogsSink)
		r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
		require.Eventually(t, func() bool { return sink.LogRecordCount() == len(want)+others }, 20*time.Second, 10*time.Millisecond)
	})
}

// TestEventsDefault: the default configuration selects.
func TestEventsDefault(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, EventsPodCreation, cfg.Events)
	assert.True(t, cfg.selects())
	cfg.Events = "some"
	cfg.Webhook = createDefaultConfig().(*Config).Webhook
	assert.ErrorContains(t, cfg.Validate(), `events "some": want pod_creation or all`)
}
