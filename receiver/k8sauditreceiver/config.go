package k8sauditreceiver

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
)

// Config is the k8s_audit receiver configuration. At least one of webhook and
// file must be set.
type Config struct {
	// Webhook receives what the apiserver's audit webhook backend posts.
	Webhook configoptional.Optional[WebhookConfig] `mapstructure:"webhook"`
	// File tails audit log files written by the apiserver's log backend.
	File configoptional.Optional[FileConfig] `mapstructure:"file"`
}

// WebhookConfig is the HTTP server the apiserver's --audit-webhook-config-file points at.
type WebhookConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`
	// Path the apiserver posts to.
	Path string `mapstructure:"path"`
	// RetryAfter is the Retry-After the receiver answers with when the
	// pipeline refuses a batch (503).
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// FileConfig is contrib's file consumer configuration (include, exclude,
// start_at, multiline, poll_interval, ...) plus the storage extension that
// keeps the read offsets across restarts.
type FileConfig struct {
	fileconsumer.Config `mapstructure:",squash"`
	// StorageID names a storage extension (e.g. file_storage) for checkpoints.
	StorageID *component.ID `mapstructure:"storage"`
}

var _ component.Config = (*Config)(nil)

// Unmarshal decodes the embedded HTTP server settings and the webhook's own.
// It is needed because confighttp.ServerConfig has an Unmarshal of its own,
// which would otherwise be promoted and decode only its fields.
func (w *WebhookConfig) Unmarshal(conf *confmap.Conf) error {
	if err := w.ServerConfig.Unmarshal(conf); err != nil {
		return err
	}
	own := struct {
		Path       string        `mapstructure:"path"`
		RetryAfter time.Duration `mapstructure:"retry_after"`
	}{Path: w.Path, RetryAfter: w.RetryAfter}
	if err := conf.Unmarshal(&own, confmap.WithIgnoreUnused()); err != nil {
		return err
	}
	w.Path, w.RetryAfter = own.Path, own.RetryAfter
	return nil
}

func defaultWebhookConfig() WebhookConfig {
	sc := confighttp.NewDefaultServerConfig()
	sc.NetAddr.Endpoint = "localhost:8443"
	return WebhookConfig{ServerConfig: sc, Path: "/audit", RetryAfter: 5 * time.Second}
}

func defaultFileConfig() FileConfig {
	fc := fileconsumer.NewConfig()
	fc.StartAt = "end"
	return FileConfig{Config: *fc}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if !cfg.Webhook.HasValue() && !cfg.File.HasValue() {
		errs = append(errs, errors.New("k8s_audit: set at least one of webhook and file"))
	}
	if w := cfg.Webhook.Get(); w != nil {
		if !strings.HasPrefix(w.Path, "/") {
			errs = append(errs, fmt.Errorf("webhook.path %q must start with /", w.Path))
		}
		if w.RetryAfter < 0 {
			errs = append(errs, errors.New("webhook.retry_after must not be negative"))
		}
	}
	if f := cfg.File.Get(); f != nil && len(f.Include) == 0 {
		errs = append(errs, errors.New("file.include must name at least one audit log path"))
	}
	return errors.Join(errs...)
}
