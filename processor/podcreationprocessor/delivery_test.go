// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/storagetest"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver"
)

var demoAuditLog = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo", "audit.log")

// flaky is a next consumer (an exporter without a queue) that refuses
// calls while refuse says so, and keeps what it accepted.
type flaky struct {
	mu       sync.Mutex
	calls    int
	refuse   func(call int) error // nil: accept
	accepted []plog.Logs
	// entered, if set, is called at the start of every call (outside mu).
	entered func(call int)
}

func (f *flaky) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (f *flaky) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	if f.entered != nil {
		f.entered(call)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		if err := f.refuse(call); err != nil {
			return err
		}
	}
	cp := plog.NewLogs()
	ld.CopyTo(cp)
	f.accepted = append(f.accepted, cp)
	return nil
}

// records returns the audit ids (namespace/name for a record without one)
// of the pod-creation records accepted, sorted: a duplicate shows twice.
func (f *flaky) records() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return recordIDs(f.accepted)
}

func recordIDs(lds []plog.Logs) []string {
	var ids []string
	for _, ld := range lds {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == attr.EventPodCreation {
						ids = append(ids, str(lr, attr.AuditID)+" "+str(lr, attr.K8sNamespaceName)+"/"+str(lr, attr.K8sPodName))
					}
				}
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// refuseFirst refuses the first n calls with a retryable error.
func refuseFirst(n int) func(int) error {
	return func(call int) error {
		if call <= n {
			return errors.New("exporter: sending queue is full")
		}
		return nil
	}
}

func newDeliveryProcessor(t *testing.T, cfg *Config, next consumer.Logs, tel *componenttest.Telemetry, host component.Host) *podCreationProcessor {
	t.Helper()
	set := processortest.NewNopSettings(metadata.Type)
	if tel != nil {
		set.TelemetrySettings = tel.NewTelemetrySettings()
	}
	p, err := newProcessor(set, cfg, next)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, p.Start(context.Background(), host))
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// demoBatches is the demo's audit log as the k8s_audit receiver's file
// input hands it on, cut into batches of per log records.
func demoBatches(t *testing.T, per int) []plog.Logs {
	t.Helper()
	sink := new(consumertest.LogsSink)
	f := k8sauditreceiver.NewFactory()
	cfg := f.CreateDefaultConfig()
	// events: all, so that every line of the log is a log record to count
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"events": "all", "file": map[string]any{
		"include": []any{demoAuditLog}, "start_at": "beginning", "poll_interval": "10ms",
	}}).Unmarshal(cfg))
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	lines := bytes.Count(must(os.ReadFile(demoAuditLog)), []byte("\n"))
	require.Eventually(t, func() bool { return sink.LogRecordCount() >= lines }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))

	var out []plog.Logs
	var cur plog.LogRecordSlice
	n := per
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if n == per {
						b := plog.NewLogs()
						orl := b.ResourceLogs().AppendEmpty()
						rl.Resource().CopyTo(orl.Resource())
						osl := orl.ScopeLogs().AppendEmpty()
						sl.Scope().CopyTo(osl.Scope())
						cur, n = osl.LogRecords(), 0
						out = append(out, b)
					}
					lr.CopyTo(cur.AppendEmpty())
					n++
				}
			}
		}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func cloneLogs(ld plog.Logs) plog.Logs {
	cp := plog.NewLogs()
	ld.CopyTo(cp)
	return cp
}

// reference is the records of an uninterrupted run over batches.
func reference(t *testing.T, cfg *Config, batches []plog.Logs) []string {
	t.Helper()
	next := &flaky{}
	p := newDeliveryProcessor(t, cfg, next, nil, nil)
	for _, b := range batches {
		require.NoError(t, p.ConsumeLogs(context.Background(), cloneLogs(b)))
	}
	ids := next.records()
	require.NotEmpty(t, ids)
	return ids
}

// TestRefusedFileBatchReplayed: a next consumer refuses the first 4 calls;
// the file input does not advance its checkpoint and hands the same batch
// again until it is taken. Every record arrives once: none lost, none twice.
func TestRefusedFileBatchReplayed(t *testing.T) {
	batches := demoBatches(t, 5)
	want := reference(t, auditOnly(), batches)
	next := &flaky{refuse: refuseFirst(4)}
	p := newDeliveryProcessor(t, auditOnly(), next, nil, nil)
	refused := 0
	for _, b := range batches {
		for tries := 0; ; tries++ {
			require.Less(t, tries, 20)
			if err := p.ConsumeLogs(context.Background(), cloneLogs(b)); err == nil {
				break
			}
			refused++
		}
	}
	assert.Equal(t, 4, refused, "each refusal goes back to the input")
	assert.Equal(t, want, next.records())
}

// TestRefusedFileBatchNotReplayed: the input logs the error and moves on
// (the contrib file consumer advances its offset whatever the pipeline
// answered): the refused records are kept and delivered later, once.
func TestRefusedFileBatchNotReplayed(t *testing.T) {
	batches := demoBatches(t, 5)
	want := reference(t, auditOnly(), batches)
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	next := &flaky{refuse: refuseFirst(6)}
	p := newDeliveryProcessor(t, auditOnly(), next, tel, nil)
	for _, b := range batches {
		_ = p.ConsumeLogs(context.Background(), cloneLogs(b))
	}
	require.Eventually(t, func() bool { return len(next.records()) >= len(want) }, 20*time.Second, 10*time.Millisecond)
	time.Sleep(3 * expireEvery) // a duplicate would come now
	assert.Equal(t, want, next.records())
	assert.Equal(t, int64(6), sum(t, tel, "otelcol_pod_creation_delivery_failures"))
	assert.Equal(t, int64(0), gauge(t, tel, "otelcol_pod_creation_undelivered"))
}

// TestRefusedWebhookBatchRetried: the real k8s_audit webhook in front; the
// next consumer refuses 3 calls; the webhook answers 503 with Retry-After
// and the client (as the apiserver's batch backend) posts the same body
// again. Every record arrives once.
func TestRefusedWebhookBatchRetried(t *testing.T) {
	lines := bytes.SplitAfter(bytes.TrimSpace(must(os.ReadFile(demoAuditLog))), []byte("\n"))
	var bodies [][]byte
	for i := 0; i < len(lines); i += 4 {
		items := bytes.Join(lines[i:min(i+4, len(lines))], []byte(","))
		bodies = append(bodies, []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`+string(items)+`]}`))
	}
	post := func(p *podCreationProcessor) (refused int) {
		ep := freeEndpoint(t)
		f := k8sauditreceiver.NewFactory()
		cfg := f.CreateDefaultConfig()
		require.NoError(t, confmap.NewFromStringMap(map[string]any{"webhook": map[string]any{"endpoint": ep}}).Unmarshal(cfg))
		r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, p)
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
		for _, body := range bodies {
			for tries := 0; ; tries++ {
				require.Less(t, tries, 20)
				resp, err := http.Post("http://"+ep+"/audit", "application/json", bytes.NewReader(body))
				require.NoError(t, err)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				require.NotEmpty(t, resp.Header.Get("Retry-After"))
				refused++
			}
		}
		return refused
	}
	ref := &flaky{}
	post(newDeliveryProcessor(t, auditOnly(), ref, nil, nil))
	want := ref.records()
	require.NotEmpty(t, want)

	next := &flaky{refuse: refuseFirst(3)}
	assert.Equal(t, 3, post(newDeliveryProcessor(t, auditOnly(), next, nil, nil)))
	time.Sleep(3 * expireEvery)
	assert.Equal(t, want, next.records())
}

// TestExpiredRecordsRedelivered: records the expiry loop emits (window)
// whose delivery fails are kept and delivered again, with a backoff, once.
func TestExpiredRecordsRedelivered(t *testing.T) {
	batches := demoBatches(t, 5)
	cfg := auditOnly()
	cfg.Correlation.Expect = []string{"audit", "node"} // no node logs: every record waits for its window
	cfg.Correlation.Window = 50 * time.Millisecond
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	next := &flaky{refuse: refuseFirst(5)}
	p := newDeliveryProcessor(t, cfg, next, tel, nil)
	for _, b := range batches {
		_ = p.ConsumeLogs(context.Background(), cloneLogs(b)) // the forbidden create and the deletes complete at once
	}
	want := len(createsIn(t, batches))
	require.Eventually(t, func() bool { return len(next.records()) >= want }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(3 * expireEvery)
	got := next.records()
	assert.Len(t, got, want)
	assert.Equal(t, dedup(got), got, "no record twice")
	assert.Equal(t, int64(5), sum(t, tel, "otelcol_pod_creation_delivery_failures"))
	assert.Equal(t, int64(0), gauge(t, tel, "otelcol_pod_creation_undelivered"))
}

// TestSlowConsumerDoesNotBlock: while one ConsumeLogs waits in a slow next
// consumer, another goroutine's ConsumeLogs enters the correlator and
// returns.
func TestSlowConsumerDoesNotBlock(t *testing.T) {
	batches := demoBatches(t, 1)
	var withRecords []plog.Logs // batches whose one event completes a record
	for _, b := range batches {
		if len(createsIn(t, []plog.Logs{b})) == 1 {
			withRecords = append(withRecords, b)
		}
	}
	require.GreaterOrEqual(t, len(withRecords), 2)
	release := make(chan struct{})
	inFirst := make(chan struct{})
	next := &flaky{entered: func(call int) {
		if call == 1 {
			close(inFirst)
			<-release
		}
	}}
	p := newDeliveryProcessor(t, auditOnly(), next, nil, nil)
	first := make(chan error, 1)
	go func() { first <- p.ConsumeLogs(context.Background(), cloneLogs(withRecords[0])) }()
	<-inFirst
	second := make(chan error, 1)
	go func() { second <- p.ConsumeLogs(context.Background(), cloneLogs(withRecords[1])) }()
	select {
	case err := <-second:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a ConsumeLogs waited for another's slow next consumer")
	}
	assert.Len(t, next.records(), 1, "the second record went on while the first waits")
	close(release)
	require.NoError(t, <-first)
	assert.Len(t, next.records(), 2)
}

// TestConcurrentRefusals: four inputs at once, each with the whole demo
// (as two webhooks and two file inputs would hand over the same events),
// a next consumer that refuses a third of the calls at random, each input
// retrying a refused batch (as the webhook's client does) or not (as the
// file input does): every record once. Run under -race.
func TestConcurrentRefusals(t *testing.T) {
	batches := demoBatches(t, 2)
	want := reference(t, auditOnly(), batches)
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	next := &flaky{refuse: func(int) error {
		mu.Lock()
		defer mu.Unlock()
		if rnd.IntN(3) == 0 {
			return errors.New("refused")
		}
		return nil
	}}
	p := newDeliveryProcessor(t, auditOnly(), next, nil, nil)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := range batches {
				for {
					err := p.ConsumeLogs(context.Background(), cloneLogs(batches[i]))
					if err == nil || g%2 == 1 { // odd inputs do not retry
						break
					}
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(next.records()) >= len(want) }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(3 * expireEvery)
	assert.Equal(t, want, next.records())
	t.Logf("%d refusals retried by the inputs", refused.Load())
}

// TestPermanentRefusal: a permanent error (the data can never be taken) is
// not retried: the records are dropped and counted, and the error goes
// back to the input.
func TestPermanentRefusal(t *testing.T) {
	batches := demoBatches(t, 200)
	require.Len(t, batches, 1)
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	next := &flaky{refuse: func(int) error { return consumererror.NewPermanent(errors.New("too large")) }}
	p := newDeliveryProcessor(t, auditOnly(), next, tel, nil)
	err := p.ConsumeLogs(context.Background(), cloneLogs(batches[0]))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	time.Sleep(3 * expireEvery)
	next.mu.Lock()
	calls := next.calls
	next.mu.Unlock()
	assert.Equal(t, 1, calls, "not retried")
	assert.Equal(t, int64(len(createsIn(t, batches))), sum(t, tel, "otelcol_pod_creation_records_dropped"))
	assert.Equal(t, int64(0), gauge(t, tel, "otelcol_pod_creation_undelivered"))
}

// TestUndeliveredBound: while the next consumer refuses everything, at most
// max_pending records wait for delivery; the oldest are dropped and counted.
func TestUndeliveredBound(t *testing.T) {
	batches := demoBatches(t, 1)
	cfg := auditOnly()
	cfg.Correlation.MaxPending = 3
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	next := &flaky{refuse: func(int) error { return errors.New("down") }}
	p := newDeliveryProcessor(t, cfg, next, tel, nil)
	for _, b := range batches {
		_ = p.ConsumeLogs(context.Background(), cloneLogs(b))
	}
	n := int64(len(createsIn(t, batches)))
	require.Greater(t, n, int64(3))
	assert.Equal(t, int64(3), gauge(t, tel, "otelcol_pod_creation_undelivered"))
	assert.Equal(t, n-3, sum(t, tel, "otelcol_pod_creation_records_dropped"))
}

// TestUndeliveredSurviveRestart: with file_storage, records the next
// consumer refused are part of the state: after a restart they are
// delivered, once, and the inputs replaying their events make no second.
func TestUndeliveredSurviveRestart(t *testing.T) {
	batches := demoBatches(t, 5)
	want := reference(t, auditOnly(), batches)
	host, id := storagetest.NewFileStorageHost(t, t.TempDir())
	cfg := auditOnly()
	cfg.Correlation.Storage = &id

	down := &flaky{refuse: func(int) error { return errors.New("down") }}
	p := newDeliveryProcessor(t, cfg, down, nil, host)
	for _, b := range batches {
		_ = p.ConsumeLogs(context.Background(), cloneLogs(b))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	require.Empty(t, down.records())

	up := &flaky{}
	p = newDeliveryProcessor(t, cfg, up, nil, host)
	for _, b := range batches { // the file input read them again (no checkpoint)
		require.NoError(t, p.ConsumeLogs(context.Background(), cloneLogs(b)))
	}
	require.Eventually(t, func() bool { return len(up.records()) >= len(want) }, 20*time.Second, 10*time.Millisecond)
	time.Sleep(3 * expireEvery)
	assert.Equal(t, want, up.records())
}

// createsIn returns the audit ids of the pod creates in batches.
func createsIn(t *testing.T, batches []plog.Logs) []string {
	t.Helper()
	var ids []string
	for _, b := range batches {
		for _, rl := range b.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if str(lr, attr.AuditVerb) == "create" && str(lr, attr.AuditResource) == "pods" &&
						!strings.Contains(lr.Body().Str(), `"subresource"`) && str(lr, attr.AuditStage) == "ResponseComplete" {
						ids = append(ids, str(lr, attr.AuditID))
					}
				}
			}
		}
	}
	return ids
}

func dedup(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func gauge(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	var n int64
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		n += dp.Value
	}
	return n
}
