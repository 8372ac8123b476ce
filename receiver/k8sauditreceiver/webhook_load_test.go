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
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// liveItems is every item the live capture's webhook posted (Metadata,
// Request and RequestResponse events: ~850 bytes on average).
func liveItems(tb testing.TB) [][]byte {
	tb.Helper()
	f, err := os.Open(filepath.Join(samples.Dir(tb, "k8s-audit-live", "levels"), "webhook-bodies.jsonl"))
	require.NoError(tb, err)
	defer f.Close()
	var items [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		its, err := audit.SplitBody(sc.Bytes())
		require.NoError(tb, err)
		for _, it := range its {
			items = append(items, bytes.Clone(it))
		}
	}
	require.NotEmpty(tb, items)
	return items
}

var auditIDRe = regexp.MustCompile(`"auditID":"[^"]*"`)

// bigEventList is an EventList of n items cycled from the live capture,
// each with an auditID of its own.
func bigEventList(tb testing.TB, n int) []byte {
	items := liveItems(tb)
	var b bytes.Buffer
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		it := items[i%len(items)]
		loc := auditIDRe.FindIndex(it)
		b.Write(it[:loc[0]])
		fmt.Fprintf(&b, `"auditID":"%08x-0000-4000-8000-%012x"`, i, i)
		b.Write(it[loc[1]:])
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// batchSink records the size of every batch it is handed; refuse, when
// set, decides per batch (numbered from 0) whether to refuse it.
type batchSink struct {
	consumertest.LogsSink
	mu     sync.Mutex
	sizes  []int
	refuse func(batch int) bool
}

func (s *batchSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s.mu.Lock()
	n := len(s.sizes)
	s.sizes = append(s.sizes, ld.LogRecordCount())
	s.mu.Unlock()
	if s.refuse != nil && s.refuse(n) {
		return errors.New("queue is full")
	}
	return s.LogsSink.ConsumeLogs(ctx, ld)
}

func (s *batchSink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

func startWebhookSink(t *testing.T, next consumer.Logs, mod func(*WebhookConfig)) *harness {
	t.Helper()
	return startWebhookTB(t, next, mod)
}

// startWebhookTB starts a webhook on a loopback port with the default
// configuration changed by mod, handing its events to next.
func startWebhookTB(tb testing.TB, next consumer.Logs, mod func(*WebhookConfig)) *harness {
	tb.Helper()
	tel := componenttest.NewTelemetry()
	tb.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	w := defaultWebhookConfig()
	w.NetAddr.Endpoint = "127.0.0.1:0"
	if mod != nil {
		mod(&w)
	}
	r, err := newReceiver(set, &Config{Webhook: configoptional.Some(w)}, next)
	require.NoError(tb, err)
	require.NoError(tb, r.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, r.Shutdown(context.Background())) })
	sink, _ := next.(*consumertest.LogsSink)
	return &harness{r: r, tel: tel, sink: sink, url: "http://" + r.addr.String() + "/audit"}
}

func startWebhookBench(b *testing.B) *harness {
	return startWebhookTB(b, consumertest.NewNop(), nil)
}

// heapPeak runs f and returns, over what was there before it (after a
// GC), the most heap in use seen while it ran and the most live heap a GC
// found (runtime/metrics /gc/heap/live:bytes: what is retained, without the
// garbage the GC's pacing lets accumulate), sampled every millisecond.
func heapPeak(f func()) (inUse, live uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() (inUse, live uint64) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		metrics.Read(sample)
		return ms.HeapInuse, sample[0].Value.Uint64()
	}
	baseInUse, baseLive := read()
	var topInUse, topLive atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				i, l := read()
				topInUse.Store(max(topInUse.Load(), i))
				topLive.Store(max(topLive.Load(), l))
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	runtime.GC() // the live heap of the request's end
	i, l := read()
	topInUse.Store(max(topInUse.Load(), i))
	topLive.Store(max(topLive.Load(), l))
	return topInUse.Load() - min(topInUse.Load(), baseInUse), topLive.Load() - min(topLive.Load(), baseLive)
}

// TestWebhookDefaults: the webhook's server has read, header, write and idle
// timeouts by default, and bounds on requests, connections and events.
func TestWebhookDefaults(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"webhook": nil}).Unmarshal(cfg))
	w := cfg.Webhook.Get()
	require.NotNil(t, w)
	assert.Equal(t, 10*time.Second, w.ReadHeaderTimeout)
	assert.Equal(t, 30*time.Second, w.ReadTimeout)
	assert.Equal(t, 60*time.Second, w.WriteTimeout)
	assert.Equal(t, 60*time.Second, w.IdleTimeout) //nolint:staticcheck
	assert.Equal(t, 64, w.MaxConcurrentRequests)
	assert.Equal(t, int64(16<<20), w.MaxEventSize)
	assert.Equal(t, 1000, w.BatchSize)
	assert.Equal(t, int64(2<<30), w.MaxRequestBodySize)

	h := startWebhookWith(t, func(*WebhookConfig) {})
	srv := h.r.server
	assert.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	assert.Equal(t, 30*time.Second, srv.ReadTimeout)
	assert.Equal(t, 60*time.Second, srv.WriteTimeout)
	assert.Equal(t, 60*time.Second, srv.IdleTimeout)
}

// TestWebhookLargeEventList: a 100,000-item EventList is read item by item,
// handed to the pipeline 1,000 events at a time, and answered 200. How long
// that takes is a figure, not an assertion (BenchmarkWebhook100k and the
// testbed's TestWebhookLargeBatch print it: under a second here, against
// the apiserver's 30 s); read_timeout is raised so that a loaded CI machine
// does not turn the figure into a failure.
func TestWebhookLargeEventList(t *testing.T) {
	const n = 100_000
	body := bigEventList(t, n)
	sink := new(batchSink)
	h := startWebhookSink(t, sink, func(w *WebhookConfig) { w.ReadTimeout = 10 * time.Minute })
	start := time.Now()
	resp, answer := h.post(t, string(body))
	took := time.Since(start)
	require.Equal(t, http.StatusOK, resp.StatusCode, answer)
	assert.Contains(t, answer, fmt.Sprintf(`"accepted":%d`, n))
	t.Logf("%d items, %.1f MB: answered in %v", n, float64(len(body))/1e6, took)
	sizes := sink.batchSizes()
	total := 0
	for _, s := range sizes {
		assert.LessOrEqual(t, s, 1000)
		total += s
	}
	assert.Equal(t, n, total)
	assert.Len(t, sizes, n/1000)
	assert.Equal(t, n, sink.LogRecordCount())
}

// TestWebhookBatchRefused: when the pipeline refuses one batch of a body,
// the answer is 503 with Retry-After (the apiserver posts the body again:
// the pod_creation processor drops what it already has by auditID and
// stage) and nothing after the refused batch is handed on; the retry is
// answered 200.
func TestWebhookBatchRefused(t *testing.T) {
	body := bigEventList(t, 3500)
	sink := &batchSink{refuse: func(batch int) bool { return batch == 1 }}
	h := startWebhookSink(t, sink, nil)
	resp, answer := h.post(t, string(body))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, answer)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Equal(t, []int{1000, 1000}, sink.batchSizes(), "nothing after the refused batch")
	assert.Equal(t, int64(1000), h.counter(t, "otelcol_k8s_audit_rejected", reasonRefused))

	resp, answer = h.post(t, string(body))
	assert.Equal(t, http.StatusOK, resp.StatusCode, answer)
	assert.Equal(t, []int{1000, 1000, 1000, 1000, 1000, 500}, sink.batchSizes())
	assert.Equal(t, 1000+3500, sink.LogRecordCount(), "the first batch twice: the processor dedups it")
}

// TestWebhookConcurrencyBound: with max_concurrent_requests held by
// requests the pipeline is slow to take, one more is answered 503 with
// Retry-After at once; the held ones finish with 200.
func TestWebhookConcurrencyBound(t *testing.T) {
	release := make(chan struct{})
	var entered atomic.Int32
	slow := consumerFunc(func(context.Context, plog.Logs) error {
		entered.Add(1)
		<-release
		return nil
	})
	h := startWebhookSink(t, slow, func(w *WebhookConfig) { w.MaxConcurrentRequests = 2 })
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			resp, _ := h.post(t, eventList(evA))
			codes[i] = resp.StatusCode
		})
	}
	require.Eventually(t, func() bool { return entered.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	resp, answer := h.post(t, eventList(evB))
	assert.Less(t, time.Since(start), time.Second, "answered at once")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, answer)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Contains(t, answer, "too many concurrent requests")
	assert.Equal(t, int64(1), h.counter(t, "otelcol_k8s_audit_rejected", reasonOverloaded))
	close(release)
	wg.Wait()
	assert.Equal(t, []int{200, 200}, codes)
	resp, _ = h.post(t, eventList(evB))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a place is free again")
}

type consumerFunc func(context.Context, plog.Logs) error

func (f consumerFunc) ConsumeLogs(ctx context.Context, ld plog.Logs) error { return f(ctx, ld) }
func (consumerFunc) Capabilities() consumer.Capabilities                   { return consumer.Capabilities{} }

// oversizeEvent is evA with a request object of pad bytes: the apiserver's
// key order, so the object precedes the timestamps and annotations.
func oversizeEvent(pad int) string {
	obj := `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"c","image":"alpine","env":[{"name":"E","value":"` + strings.Repeat("x", pad) + `"}]}]}}`
	return strings.Replace(evA, `"responseStatus":{"metadata":{},"code":201},`, `"responseStatus":{"metadata":{},"code":201},"requestObject":`+obj+`,"responseObject":`+obj+`,`, 1)
}

// TestWebhookOversizeEvent: an event over max_event_size in a batch is
// delivered as a partial record salvaged from its beginning and end (who,
// what, the answer, the timestamps, the decision), marked
// podtrail.audit.partial=oversize and counted; the events around it are
// delivered whole.
func TestWebhookOversizeEvent(t *testing.T) {
	big := oversizeEvent(300 << 10)
	for name, body := range map[string]string{
		"in a list": eventList(evB, big, evB),
		"single":    big,
	} {
		t.Run(name, func(t *testing.T) {
			sink := new(batchSink)
			h := startWebhookSink(t, sink, func(w *WebhookConfig) { w.MaxEventSize = 256 << 10 })
			resp, answer := h.post(t, body)
			require.Equal(t, http.StatusOK, resp.StatusCode, answer)
			assert.Contains(t, answer, `"oversize":1`)
			recs := allRecords(&sink.LogsSink)
			var partial []plog.LogRecord
			for _, lr := range recs {
				if v, ok := lr.Attributes().Get(attr.AuditPartial); ok {
					assert.Equal(t, partialOversize, v.Str())
					partial = append(partial, lr)
				}
			}
			require.Len(t, partial, 1)
			lr := partial[0]
			assert.Equal(t, "aaaaaaaa-0000-4000-8000-000000000001", attrStr(lr, "podtrail.audit.id"))
			assert.Equal(t, "admin", attrStr(lr, "user.name"))
			assert.Equal(t, "web", attrStr(lr, "k8s.pod.name"))
			assert.Equal(t, "allow", attrStr(lr, "podtrail.audit.decision"))
			assert.Equal(t, fmt.Sprint(len(big)), attrStr(lr, attr.AuditSize))
			assert.NotZero(t, lr.Timestamp(), "stageTimestamp from the event's end")
			assert.Less(t, len(lr.Body().Str()), 2048, "the body is the salvage, not the event")
			ev, err := audit.Decode([]byte(lr.Body().Str()))
			require.NoError(t, err)
			assert.Nil(t, ev.RequestObject)
			m, err := h.tel.GetMetric("otelcol_k8s_audit_oversize")
			require.NoError(t, err)
			assert.NotNil(t, m)
			if name == "in a list" {
				assert.Len(t, recs, 3)
			}
		})
	}
}

// TestWebhookInvalidUTF8Streamed: a body read item by item replaces bytes
// that are not UTF-8 too.
func TestWebhookInvalidUTF8Streamed(t *testing.T) {
	bad := strings.Replace(evA, `"name":"web"`, "\"name\":\"w\xc3eb\"", 1)
	items := make([]string, 50)
	for i := range items {
		items[i] = bad
	}
	body := eventList(items...)
	require.Greater(t, len(body), headSize, "read item by item")
	h := startWebhook(t, new(consumertest.LogsSink))
	resp, answer := h.post(t, body)
	require.Equal(t, http.StatusOK, resp.StatusCode, answer)
	for _, lr := range allRecords(h.sink) {
		assert.Equal(t, "w\uFFFDeb", attrStr(lr, "k8s.pod.name"))
	}
}

// BenchmarkWebhook100k posts a 100,000-item EventList (the live capture's
// items, ~85 MB) and reports, over the heap before the post (which holds
// the client's body): the most heap in use while it is read and handed on,
// the most live heap a GC found (what the receiver retains: one batch, the
// reader's buffer), both per item too, and bytes allocated per item. The
// consumer drops each batch, as an exporter's queue would hold it
// elsewhere.
func BenchmarkWebhook100k(b *testing.B) {
	const n = 100_000
	body := bigEventList(b, n)
	h := startWebhookBench(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var peakInUse, peakLive uint64
	for b.Loop() {
		inUse, live := heapPeak(func() {
			resp, err := http.Post(h.url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		})
		peakInUse, peakLive = max(peakInUse, inUse), max(peakLive, live)
	}
	b.ReportMetric(float64(peakInUse)/(1<<20), "peak-heap-inuse-MiB")
	b.ReportMetric(float64(peakLive)/(1<<20), "peak-heap-live-MiB")
	b.ReportMetric(float64(peakLive)/n, "peak-live-B/item")
}
