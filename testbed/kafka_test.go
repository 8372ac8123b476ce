// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
)

const demoConfigKafka = `
` + demoCorrelated + `exporters:
  kafka:
    brokers:
      - ${env:BROKER}
    logs:
      topic: podtrail
      encoding: otlp_json
    partition_logs_by_resource_attributes: true
service:
` + quietTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation]
      exporters: [kafka]
`

// TestKafkaDelivery: the demo's records and findings through contrib's
// kafka exporter (OTLP JSON) to a Kafka-protocol broker on 127.0.0.1
// (franz-go's kfake cluster, speaking the Kafka wire protocol), read back
// with a Kafka consumer: 12 records and 24 findings.
func TestKafkaDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "podtrail"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	bin := Collector(t)
	cfg := writeConfig(t, t.TempDir(), "config.yaml", demoConfigKafka)
	p := Start(t, bin, cfg, "BROKER="+broker, "DEMO="+distPath(t, "demo"), "RULES="+distPath(t, "rules"))

	client, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("podtrail"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	counts := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for counts[attr.EventPodCreation] < 12 || counts[attr.EventFinding] < 24 {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %v, want 12 records and 24 findings", counts)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fetches := client.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(r.Value)
			if err != nil {
				t.Errorf("message is not OTLP JSON: %v", err)
				return
			}
			rls := ld.ResourceLogs()
			for i := 0; i < rls.Len(); i++ {
				sls := rls.At(i).ScopeLogs()
				for j := 0; j < sls.Len(); j++ {
					lrs := sls.At(j).LogRecords()
					for k := 0; k < lrs.Len(); k++ {
						counts[lrs.At(k).EventName()]++
					}
				}
			}
		})
	}
	p.Stop(t)
	t.Logf("consumed from topic podtrail: %v", counts)
}
