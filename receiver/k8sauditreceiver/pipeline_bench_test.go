// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/processor/podcreationprocessor"
)

// BenchmarkAuditPipeline is podtrail's audit path in one process: the real
// v1.33 audit log's lines, 100 to a batch, through the file input's
// callback (split, decode, log records) and the pod_creation processor
// with the default rules. It reports events per second on one core; the
// testbed's TestAuditThroughput measures the same path in a collector.
func BenchmarkAuditPipeline(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(samples.Read(b, "k8s-audit-live", "levels", "audit.log")), []byte("\n"))
	pf := podcreationprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*podcreationprocessor.Config)
	pack := filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")
	pcfg.RulesFile, pcfg.InventoryFile = filepath.Join(pack, "rules.yaml"), filepath.Join(pack, "inventory.yaml")
	pcfg.ReloadInterval = 0
	pcfg.Correlation.Expect = []string{"audit", "scheduler"}
	proc, err := pf.CreateLogs(context.Background(), processortest.NewNopSettings(pf.Type()), pcfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := proc.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	defer proc.Shutdown(context.Background())
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	rcv, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, proc)
	if err != nil {
		b.Fatal(err)
	}
	r := rcv.(*auditReceiver)
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		for j := 0; j < len(lines); j += 100 {
			batch := lines[j:min(j+100, len(lines))]
			if err := r.emitFile(context.Background(), batch, nil, 0, nil); err != nil {
				b.Fatal(err)
			}
			events += len(batch)
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
