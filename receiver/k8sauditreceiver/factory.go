// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// NewFactory returns the k8s_audit receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Webhook:   configoptional.Default(defaultWebhookConfig()),
		File:      configoptional.Default(defaultFileConfig()),
		Events:    EventsPodCreation,
		Heartbeat: 30 * time.Second,
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
