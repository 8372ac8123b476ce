// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

// liveEvents returns events of the live audit log, of the pod-creation
// selection (selected) or not.
func liveEvents(t *testing.T, selected bool, n int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(samples.Dir(t, "k8s-audit-live", "levels"), "audit.log"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	var out []string
	for sc.Scan() && len(out) < n {
		ev, err := audit.Decode(sc.Bytes())
		require.NoError(t, err)
		if audit.Selected(ev) == selected {
			out = append(out, sc.Text())
		}
	}
	require.Len(t, out, n)
	return out
}

// heartbeats are the heartbeat records in sink, as their unselected counts.
func heartbeats(sink *consumertest.LogsSink) []int64 {
	var out []int64
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					if lr := lrs.At(k); lr.EventName() == attr.EventAuditHeartbeat {
						v, _ := lr.Attributes().Get(attr.AuditUnselected)
						out = append(out, v.Int())
						if lr.SeverityNumber() != plog.SeverityNumberDebug {
							out = append(out, -1)
						}
					}
				}
			}
		}
	}
	return out
}

// TestHeartbeat: with the selection, audit events that are none of it
// give, once heartbeat has passed without a record, one heartbeat record
// with their count; a selected event sent meanwhile is the sign of life
// itself, and no heartbeat follows it until heartbeat has passed again;
// heartbeat 0 sends none.
func TestHeartbeat(t *testing.T) {
	others := liveEvents(t, false, 6)
	selected := liveEvents(t, true, 1)
	const beat = 150 * time.Millisecond

	h := startWebhookSink(t, new(consumertest.LogsSink), nil)
	h.r.cfg.Events, h.r.cfg.Heartbeat = EventsPodCreation, beat
	post := func(body string) {
		resp, b := h.post(t, body)
		require.Equal(t, 200, resp.StatusCode, b)
	}
	post(others[0]) // the first sign of the stream: the beat starts
	post(others[1])
	assert.Empty(t, heartbeats(h.sink))
	time.Sleep(beat + 50*time.Millisecond)
	post(others[2])
	assert.Equal(t, []int64{3}, heartbeats(h.sink), "three events, none selected, over one beat")
	post(others[3]) // within the next beat
	assert.Equal(t, []int64{3}, heartbeats(h.sink))

	time.Sleep(beat + 50*time.Millisecond)
	post(selected[0]) // a record went out: no heartbeat due
	post(others[4])
	assert.Equal(t, []int64{3}, heartbeats(h.sink))
	assert.Equal(t, 1+1, h.sink.LogRecordCount(), "the heartbeat and the selected event")

	off := startWebhookSink(t, new(consumertest.LogsSink), nil)
	off.r.cfg.Events, off.r.cfg.Heartbeat = EventsPodCreation, 0
	for _, body := range others {
		resp, b := off.post(t, body)
		require.Equal(t, 200, resp.StatusCode, b)
		time.Sleep(beat / 4)
	}
	assert.Zero(t, off.sink.LogRecordCount())
}

func TestHeartbeatConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 30*time.Second, cfg.Heartbeat)
	cfg.Heartbeat = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "heartbeat must not be negative")
}
