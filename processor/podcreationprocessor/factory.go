// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

// NewFactory returns the pod_creation processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	d := correlate.DefaultConfig()
	return &Config{
		ReloadInterval: rules.DefaultInterval,
		Learning:       LearningConfig{Interval: time.Minute},
		Rules:          RulesConfig{Suppression: SuppressionConfig{Window: 10 * time.Minute, MaxKeys: rules.DefaultSuppressionKeys}},
		Correlation: CorrelationConfig{
			Expect: d.Expect, Window: d.Window, MaxPending: d.MaxPending, MaxOwners: d.MaxOwners, Tombstones: d.Tombstones,
			DenialWindow: d.DenialWindow, DigestWait: d.DigestWait, CreateWait: d.CreateWait,
		},
		Cluster:       ClusterConfig{Name: os.Getenv(EnvClusterName), UID: os.Getenv(EnvClusterUID)},
		BlindSpots:    defaultBlindSpots(),
		ImageMetadata: defaultImageMetadata(),
	}
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	return newProcessor(set, cfg.(*Config), next)
}
