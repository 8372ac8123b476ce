// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

// BenchmarkPushLogs measures pushLogs (the exporter without exporterhelper)
// on the demo's 37 records and findings, to a TCP server on 127.0.0.1 that
// discards what it reads.
func BenchmarkPushLogs(b *testing.B) {
	for _, format := range []string{FormatCEF, FormatLEEF} {
		b.Run(format, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
				}
			}()
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			cfg.Endpoint, cfg.Format, cfg.Hostname = ln.Addr().String(), format, "gw-1"
			e, err := newExporter(cfg, exportertest.NewNopSettings(metadata.Type))
			require.NoError(b, err)
			defer func() { _ = e.shutdown(context.Background()) }()
			ld := loadDemo(b)
			require.NoError(b, e.pushLogs(context.Background(), ld)) // connect
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := e.pushLogs(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*ld.LogRecordCount()), "ns/record")
		})
	}
}
