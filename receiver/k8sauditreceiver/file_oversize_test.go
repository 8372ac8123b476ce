// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// TestFileDefaults: the file input takes lines up to 16 MiB (an apiserver
// event is at most ~4.5 MiB: a 3 MiB request and a 1.5 MiB stored object)
// and never flushes a line its writer has not ended (force_flush_period 0).
func TestFileDefaults(t *testing.T) {
	f := defaultFileConfig()
	assert.Equal(t, int64(16<<20), int64(f.MaxLogSize))
	assert.Equal(t, time.Duration(0), f.FlushPeriod)
	assert.Equal(t, fileconsumer.MaxLogSizeBehaviorSplit, f.MaxLogSizeBehavior)
}

// startFileInput runs the file input over path with mod applied, and its
// telemetry.
func startFileInput(t *testing.T, path string, mod func(*FileConfig)) (*consumertest.LogsSink, *harness) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := fileConfig(path)
	if mod != nil {
		mod(cfg.File.Get())
	}
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return sink, &harness{r: r, tel: tel}
}

// TestFileOversizeLine: a line over max_log_size (a pod create with a 200
// KiB object, the limit 64 KiB) yields one partial record salvaged from its
// first max_log_size bytes (who, what, which object, the answer) marked
// podtrail.audit.partial=oversize; the lines around it are read whole; the
// rest of the line (split: three continuation fragments) is counted, not
// reported as broken events, and its end gives the timestamps and the
// decision. With max_log_size_behavior truncate the rest is skipped by the
// reader.
func TestFileOversizeLine(t *testing.T) {
	big := oversizeEvent(100 << 10) // request and response objects: ~200 KiB
	for _, behavior := range []string{fileconsumer.MaxLogSizeBehaviorSplit, fileconsumer.MaxLogSizeBehaviorTruncate} {
		t.Run(behavior, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			require.NoError(t, os.WriteFile(path, []byte(evB+"\n"+big+"\n"+evB+"\n"), 0o600))
			sink, h := startFileInput(t, path, func(f *FileConfig) {
				f.MaxLogSize = 64 << 10
				f.MaxLogSizeBehavior = behavior
			})
			require.Eventually(t, func() bool { return sink.LogRecordCount() >= 3 }, 10*time.Second, 10*time.Millisecond)
			time.Sleep(200 * time.Millisecond) // let anything more show up
			recs := allRecords(sink)
			require.Len(t, recs, 3)
			var partial plog.LogRecord
			n := 0
			for _, lr := range recs {
				if v, ok := lr.Attributes().Get(attr.AuditPartial); ok && v.Str() == partialOversize {
					partial = lr
					n++
				}
			}
			require.Equal(t, 1, n)
			assert.Equal(t, "aaaaaaaa-0000-4000-8000-000000000001", attrStr(partial, "podtrail.audit.id"))
			assert.Equal(t, "admin", attrStr(partial, "user.name"))
			assert.Equal(t, "web", attrStr(partial, "k8s.pod.name"))
			assert.Equal(t, "201", attrStr(partial, "http.response.status_code"))
			assert.Less(t, len(partial.Body().Str()), 2048)
			assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""), "no line reported as broken")
			assert.Equal(t, int64(1), h.counter(t, "otelcol_k8s_audit_oversize", ""))
			frags := h.counter(t, "otelcol_k8s_audit_fragments", "")
			if behavior == fileconsumer.MaxLogSizeBehaviorSplit {
				assert.Equal(t, int64(len(big)/(64<<10)), frags, "continuation fragments")
				// The line's end came in the same read: the members after
				// the objects are salvaged from its last fragment.
				assert.Equal(t, "allow", attrStr(partial, "podtrail.audit.decision"))
				assert.NotZero(t, partial.Timestamp())
			} else {
				assert.Zero(t, frags)
				assert.Empty(t, attrStr(partial, "podtrail.audit.decision"), "the reader skipped the line's end")
			}
		})
	}
}

// TestFileHalfWrittenLine: a line written in two parts, the second after
// longer than contrib's default force_flush_period (500 ms), is read once,
// whole: the first part is never emitted as an event.
func TestFileHalfWrittenLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(path, []byte(evB+"\n"), 0o600))
	sink, h := startFileInput(t, path, nil)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 10*time.Second, 10*time.Millisecond)

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	cut := strings.Index(evA, `"userAgent"`)
	_, err = f.WriteString(evA[:cut])
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, 1, sink.LogRecordCount(), "nothing of the half line")
	_, err = f.WriteString(evA[cut:] + "\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, sink.LogRecordCount())
	assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""))
	last := allRecords(sink)[1]
	assert.Equal(t, evA, last.Body().Str())
}

// TestFileOversizeLineWrittenInParts: an oversize line whose writer is still
// writing when the reader reaches max_log_size gives its partial record
// from the beginning at once; the rest, written later, is recognised as
// its fragments (not as broken lines), and the next line is read whole.
func TestFileOversizeLineWrittenInParts(t *testing.T) {
	big := oversizeEvent(100 << 10)
	path := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(path, []byte(big[:90<<10]), 0o600))
	sink, h := startFileInput(t, path, func(f *FileConfig) { f.MaxLogSize = 64 << 10 })
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 10*time.Second, 10*time.Millisecond)
	lr := allRecords(sink)[0]
	assert.Equal(t, partialOversize, attrStr(lr, attr.AuditPartial))
	assert.Equal(t, "aaaaaaaa-0000-4000-8000-000000000001", attrStr(lr, "podtrail.audit.id"))

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString(big[90<<10:] + "\n" + evB + "\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 2 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 2, sink.LogRecordCount())
	assert.Equal(t, evB, allRecords(sink)[1].Body().Str())
	assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""))
	assert.Equal(t, int64(len(big)/(64<<10)), h.counter(t, "otelcol_k8s_audit_fragments", ""))
}
