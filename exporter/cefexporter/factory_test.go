// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "cef", f.Type().String())
	assert.Equal(t, metadata.LogsStability, f.LogsStability())
	cfg := f.CreateDefaultConfig().(*Config)
	require.ErrorContains(t, cfg.Validate(), "endpoint is required")
	cfg.Endpoint = "127.0.0.1:1" // nothing listens: start and shutdown do not dial
	require.NoError(t, cfg.Validate())

	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	// With the default sending queue, ConsumeLogs only enqueues.
	require.NoError(t, exp.ConsumeLogs(context.Background(), plog.NewLogs()))
	require.NoError(t, exp.Shutdown(context.Background()))

	_, err = f.CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.Error(t, err, "logs only")
}

func TestStartBadTLS(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Endpoint = "127.0.0.1:6514"
	cfg.TLS.GetOrInsertDefault().CAFile = "/nonexistent/ca.pem"
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.ErrorContains(t, exp.Start(context.Background(), componenttest.NewNopHost()), "tls")
	require.NoError(t, exp.Shutdown(context.Background()))
}
