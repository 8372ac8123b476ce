// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"

	"github.com/podtrail/podtrail/internal/audit"
)

// Config is the k8s_audit receiver configuration. At least one of webhook and
// file must be set.
type Config struct {
	// Webhook receives what the apiserver's audit webhook backend posts.
	Webhook configoptional.Optional[WebhookConfig] `mapstructure:"webhook"`
	// File tails audit log files written by the apiserver's log backend.
	File configoptional.Optional[FileConfig] `mapstructure:"file"`
	// Events is which audit events become log records: pod_creation (the
	// default: the final stage of a change of a pod, one of its
	// subresources or a workload that owns pods, the events the
	// pod_creation processor reads; audit.Selected) or all (every event,
	// for a pipeline that also forwards the audit log as it is). The
	// others are read only as far as their stage, verb or resource and
	// counted in otelcol_k8s_audit_unselected.
	Events string `mapstructure:"events"`
	// Heartbeat: with events pod_creation, when audit events arrive but
	// none of the selection for this long, one podtrail.audit.heartbeat
	// log record says how many did (attr.AuditUnselected), so that a
	// processor downstream (blind_spots.audit_silence) tells a quiet
	// cluster from a silent audit stream. 0: none.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
}

// The values of Config.Events.
const (
	EventsPodCreation = "pod_creation"
	EventsAll         = "all"
)

// selects reports whether the receiver reads only the pod-creation
// selection (a Config made in code without Events reads every event).
func (cfg *Config) selects() bool { return cfg.Events == EventsPodCreation }

// WebhookConfig is the HTTP server the apiserver's --audit-webhook-config-file points at.
type WebhookConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`
	WebhookOptions          `mapstructure:",squash"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// WebhookOptions are the webhook's options beside confighttp's.
type WebhookOptions struct {
	// Path the apiserver posts to.
	Path string `mapstructure:"path"`
	// RetryAfter is the Retry-After the receiver answers with when the
	// pipeline refuses a batch (503).
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// Format is the form of the bodies: auto (detect each body), native
	// (the apiserver's webhook backend), gke (Pub/Sub push of Cloud Audit
	// Logs entries), eks (CloudWatch Logs awslogs envelope or Firehose HTTP
	// endpoint delivery) or aks (Azure diagnostic settings records).
	Format string `mapstructure:"format"`
	// FirehoseAccessKey, when set, is the access key every Firehose
	// delivery must carry in X-Amz-Firehose-Access-Key.
	FirehoseAccessKey configopaque.String `mapstructure:"firehose_access_key"`
	// MaxConcurrentRequests bounds the requests being decoded and handed to
	// the pipeline at once; a request beyond it is answered 503 with
	// Retry-After at once. A request takes its place once its first bytes
	// have arrived (a client slow to send holds a connection, not a place).
	MaxConcurrentRequests int `mapstructure:"max_concurrent_requests"`
	// MaxConnections bounds the open connections; at the bound a new one
	// closes the connection that has gone longest without sending a byte
	// and is not being answered. 0: half the process's open-file limit.
	MaxConnections int `mapstructure:"max_connections"`
	// MaxEventSize bounds one audit event of a native body (an EventList
	// item or a single Event); a larger one is delivered as a salvaged
	// partial record (podtrail.audit.partial=oversize).
	MaxEventSize int64 `mapstructure:"max_event_size"`
	// MaxCloudBodySize bounds the bodies decoded whole: the cloud forms
	// (Pub/Sub push, CloudWatch, Firehose, Azure records). A native
	// EventList is read item by item and bounded by max_request_body_size.
	MaxCloudBodySize int64 `mapstructure:"max_cloud_body_size"`
	// BatchSize is how many events of a body go to the pipeline in one
	// ConsumeLogs (fewer when they hold more than 16 MiB).
	BatchSize int `mapstructure:"batch_size"`
}

// FileConfig is contrib's file consumer configuration (include, exclude,
// start_at, multiline, poll_interval, ...) plus the storage extension that
// keeps the read offsets across restarts.
type FileConfig struct {
	fileconsumer.Config `mapstructure:",squash"`
	// StorageID names a storage extension (e.g. file_storage) for checkpoints.
	StorageID *component.ID `mapstructure:"storage"`
	// Format is the form of each line: auto (detect each line), native
	// (--audit-log-path), gke (log sink LogEntry per line), eks (CloudWatch
	// export lines, subscription payloads) or aks (diagnostic records, one
	// per line or {"records":[...]} per line).
	Format string `mapstructure:"format"`
}

var _ component.Config = (*Config)(nil)

// Unmarshal decodes the embedded HTTP server settings and the webhook's own.
// It is needed because confighttp.ServerConfig has an Unmarshal of its own,
// which would otherwise be promoted and decode only its fields. That
// Unmarshal ignores keys it does not know (it expects to be squashed into a
// parent), so the webhook then decodes the whole section again, strictly,
// into a copy that has no Unmarshal: an unknown key anywhere in it (`tlss:`,
// `pathh:`, `dialer: {timeot: 1s}`) fails the configuration instead of
// turning a setting off in silence.
func (w *WebhookConfig) Unmarshal(conf *confmap.Conf) error {
	if err := w.ServerConfig.Unmarshal(conf); err != nil {
		return err
	}
	if err := conf.Unmarshal(&w.WebhookOptions, confmap.WithIgnoreUnused()); err != nil {
		return err
	}
	var strict webhookKeys
	if err := conf.Unmarshal(&strict); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// webhookKeys is every option of the webhook section, for the strict decode.
type webhookKeys struct {
	Server strictServerConfig `mapstructure:",squash"`
	Own    WebhookOptions     `mapstructure:",squash"`
}

// strictServerConfig has confighttp.ServerConfig's fields without its
// Unmarshal, which ignores unknown keys.
type strictServerConfig confighttp.ServerConfig

// Webhook defaults. The apiserver's webhook client gives up after 30 s and
// posts batches of at most --audit-webhook-batch-max-size (400) events, each
// at most its request body limit (3 MiB) plus the stored object (etcd: 1.5
// MiB): ~4.5 MiB.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	// defaultWriteTimeout runs from the request's headers: it covers
	// reading the body (read_timeout) and the pipeline taking it.
	defaultWriteTimeout          = 60 * time.Second
	defaultIdleTimeout           = 60 * time.Second
	defaultMaxConcurrentRequests = 64
	defaultMaxEventSize          = 16 << 20
	// defaultMaxRequestBodySize holds a full batch of the largest events
	// (400 × 4.5 MiB): a native body is read item by item, so its size costs
	// time (bounded by read_timeout), not memory.
	defaultMaxRequestBodySize = 2 << 30
	defaultMaxCloudBodySize   = 128 << 20
	defaultBatchSize          = 1000
)

func defaultWebhookConfig() WebhookConfig {
	sc := confighttp.NewDefaultServerConfig()
	sc.NetAddr.Endpoint = "localhost:8443"
	sc.ReadHeaderTimeout = defaultReadHeaderTimeout
	sc.ReadTimeout = defaultReadTimeout
	sc.WriteTimeout = defaultWriteTimeout
	sc.IdleTimeout = defaultIdleTimeout //nolint:staticcheck // the field confighttp reads; keepalive::idle_timeout folds into it
	sc.MaxRequestBodySize = defaultMaxRequestBodySize
	return WebhookConfig{ServerConfig: sc, WebhookOptions: WebhookOptions{
		Path: "/audit", RetryAfter: 5 * time.Second, Format: string(audit.FormAuto),
		MaxConcurrentRequests: defaultMaxConcurrentRequests, MaxEventSize: defaultMaxEventSize,
		MaxCloudBodySize: defaultMaxCloudBodySize, BatchSize: defaultBatchSize,
	}}
}

// File defaults: lines up to defaultMaxLogSize (an apiserver event is at
// most ~4.5 MiB); a line is never flushed before its newline
// (force_flush_period 0: contrib's timer, 500 ms by default, would emit the
// half of a line its writer is still writing as an event, and the rest as
// another).
const defaultMaxLogSize = 16 << 20

func defaultFileConfig() FileConfig {
	fc := fileconsumer.NewConfig()
	fc.StartAt = "end"
	fc.MaxLogSize = defaultMaxLogSize
	fc.FlushPeriod = 0
	return FileConfig{Config: *fc, Format: string(audit.FormAuto)}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if !cfg.Webhook.HasValue() && !cfg.File.HasValue() {
		errs = append(errs, errors.New("k8s_audit: set at least one of webhook and file"))
	}
	switch cfg.Events {
	case EventsPodCreation, EventsAll:
	default:
		errs = append(errs, fmt.Errorf("events %q: want %s or %s", cfg.Events, EventsPodCreation, EventsAll))
	}
	if cfg.Heartbeat < 0 {
		errs = append(errs, errors.New("heartbeat must not be negative (0: no heartbeat)"))
	}
	if w := cfg.Webhook.Get(); w != nil {
		if !strings.HasPrefix(w.Path, "/") {
			errs = append(errs, fmt.Errorf("webhook.path %q must start with /", w.Path))
		}
		if w.RetryAfter < 0 {
			errs = append(errs, errors.New("webhook.retry_after must not be negative"))
		}
		if _, err := audit.ParseForm(w.Format); err != nil {
			errs = append(errs, fmt.Errorf("webhook.format: %w", err))
		}
		if w.MaxConcurrentRequests < 1 {
			errs = append(errs, errors.New("webhook.max_concurrent_requests must be at least 1"))
		}
		if w.MaxConnections < 0 {
			errs = append(errs, errors.New("webhook.max_connections must not be negative (0: half the open-file limit)"))
		} else if w.MaxConnections > 0 && w.MaxConnections < w.MaxConcurrentRequests {
			errs = append(errs, errors.New("webhook.max_connections must be at least max_concurrent_requests"))
		}
		if w.MaxEventSize < 64<<10 {
			errs = append(errs, errors.New("webhook.max_event_size must be at least 64KiB (an apiserver event can be ~4.5 MiB)"))
		}
		if w.MaxCloudBodySize < 1 {
			errs = append(errs, errors.New("webhook.max_cloud_body_size must be positive"))
		}
		if w.BatchSize < 1 {
			errs = append(errs, errors.New("webhook.batch_size must be at least 1"))
		}
		if w.ReadTimeout < 0 || w.ReadHeaderTimeout < 0 || w.WriteTimeout < 0 {
			errs = append(errs, errors.New("webhook timeouts must not be negative"))
		}
	}
	if f := cfg.File.Get(); f != nil {
		if len(f.Include) == 0 {
			errs = append(errs, errors.New("file.include must name at least one audit log path"))
		}
		if _, err := audit.ParseForm(f.Format); err != nil {
			errs = append(errs, fmt.Errorf("file.format: %w", err))
		}
		if f.Header != nil {
			// Its metadata_operators would be decoded leniently (stanza
			// operators ignore unknown keys); audit logs have no header.
			errs = append(errs, errors.New("file.header is not supported: audit logs have no header"))
		}
	}
	return errors.Join(errs...)
}
