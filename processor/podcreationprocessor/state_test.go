// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/internal/storagetest"
)

// pendingState runs the demo's audit events through a processor that
// expects node logs too (so every allowed pod stays pending) on the
// file_storage at host, and shuts it down: the state holds pending pods.
func pendingState(t *testing.T, host component.Host, id component.ID) int {
	t.Helper()
	cfg := auditOnly()
	cfg.Correlation.Expect = []string{"audit", "node"}
	cfg.Correlation.Window = time.Hour
	cfg.Correlation.Storage = &id
	p := newDeliveryProcessor(t, cfg, &flaky{}, nil, host)
	for _, b := range demoBatches(t, 5) {
		require.NoError(t, p.ConsumeLogs(context.Background(), cloneLogs(b)))
	}
	p.mu.Lock()
	pending := p.corr.Stats().Pending
	p.mu.Unlock()
	require.NoError(t, p.Shutdown(context.Background()))
	require.Positive(t, pending)
	return pending
}

// tamper opens the processor's storage client and applies ops.
func tamper(t *testing.T, host component.Host, id component.ID, ops ...*storage.Operation) {
	t.Helper()
	se := host.GetExtensions()[id].(storage.Extension)
	c, err := se.GetClient(context.Background(), component.KindProcessor, component.NewID(component.MustNewType("pod_creation")), "")
	require.NoError(t, err)
	require.NoError(t, c.Batch(context.Background(), ops...))
	require.NoError(t, c.Close(context.Background()))
}

func restarted(t *testing.T, host component.Host, id component.ID, tel *componenttest.Telemetry) (*podCreationProcessor, *flaky) {
	t.Helper()
	cfg := auditOnly()
	cfg.Correlation.Expect = []string{"audit", "node"}
	cfg.Correlation.Window = time.Hour
	cfg.Correlation.Storage = &id
	next := &flaky{}
	return newDeliveryProcessor(t, cfg, next, tel, host), next
}

func discarded(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tel.GetMetric("otelcol_pod_creation_state_discarded")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value("reason")
		out[v.AsString()] += dp.Value
	}
	return out
}

// TestStateVersion: the state carries a version; a state without one (as
// written before versions) is read as version 1; a state of another
// version is discarded: the processor starts, empty, with an error log and
// a metric, and the old keys are gone (they never mix with the new state).
func TestStateVersion(t *testing.T) {
	host, id := storagetest.NewFileStorageHost(t, t.TempDir())
	pending := pendingState(t, host, id)

	se := host.GetExtensions()[id].(storage.Extension)
	c, err := se.GetClient(context.Background(), component.KindProcessor, component.NewID(component.MustNewType("pod_creation")), "")
	require.NoError(t, err)
	v, err := c.Get(context.Background(), stateVersionKey)
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
	assert.Equal(t, "1", string(v), "written with the state")

	// Written before versions: read as version 1.
	tamper(t, host, id, storage.DeleteOperation(stateVersionKey))
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p, _ := restarted(t, host, id, tel)
	assert.Equal(t, pending, p.corr.Stats().Pending)
	assert.Empty(t, discarded(t, tel))
	require.NoError(t, p.Shutdown(context.Background()))

	// A newer podtrail's state.
	tamper(t, host, id, storage.SetOperation(stateVersionKey, []byte("2")))
	p, next := restarted(t, host, id, tel)
	assert.Zero(t, p.corr.Stats().Pending, "discarded")
	assert.Equal(t, map[string]int64{"unknown_version": 1}, discarded(t, tel))
	// It works: the demo again gives its records (at shutdown, as partial).
	for _, b := range demoBatches(t, 5) {
		require.NoError(t, p.ConsumeLogs(context.Background(), cloneLogs(b)))
	}
	assert.Equal(t, pending, p.corr.Stats().Pending)
	require.NoError(t, p.Shutdown(context.Background()))
	_ = next

	// The new state is version 1 and holds only what came after.
	p, _ = restarted(t, host, id, tel)
	assert.Equal(t, pending, p.corr.Stats().Pending)
	assert.Equal(t, map[string]int64{"unknown_version": 1}, discarded(t, tel))
}

// TestStateUnreadable: a stored entry that does not decode (bytes changed
// inside a value, which no storage checksum catches) makes the processor
// start empty, not fail to start.
func TestStateUnreadable(t *testing.T) {
	host, id := storagetest.NewFileStorageHost(t, t.TempDir())
	pendingState(t, host, id)
	tamper(t, host, id, storage.SetOperation("pi/0", []byte(`["x`)), storage.SetOperation(outboxKey, []byte(`{`)))
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p, _ := restarted(t, host, id, tel)
	assert.Zero(t, p.corr.Stats().Pending)
	assert.Equal(t, map[string]int64{"unreadable": 1}, discarded(t, tel))
	require.NoError(t, p.Shutdown(context.Background()))
	p, _ = restarted(t, host, id, tel)
	assert.Equal(t, map[string]int64{"unreadable": 1}, discarded(t, tel), "the discarded keys are gone")
}
