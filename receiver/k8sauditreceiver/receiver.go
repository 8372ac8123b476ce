package k8sauditreceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/adapter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

const (
	inputWebhook = "webhook"
	inputFile    = "file"
)

// Reasons a body, item or line is rejected (the "reason" attribute of
// otelcol_k8s_audit_rejected).
const (
	reasonInvalidJSON   = "invalid_json"
	reasonNotAuditEvent = "not_audit_event"
	reasonTruncated     = "truncated"
	reasonTooLarge      = "too_large"
	reasonRefused       = "pipeline_refused"
)

type auditReceiver struct {
	set    receiver.Settings
	cfg    *Config
	next   consumer.Logs
	obsrep *receiverhelper.ObsReport

	rejected metric.Int64Counter
	accepted metric.Int64Counter
	logged   sync.Map // reason -> struct{}: log each reason once at warn level

	server   *http.Server
	addr     net.Addr // where the webhook listens, once started
	serverWG sync.WaitGroup
	files    *fileconsumer.Manager
	storage  storage.Client
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*auditReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "http", ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	rejected, err := meter.Int64Counter("otelcol_k8s_audit_rejected",
		metric.WithDescription("Audit events, batch items or request bodies the receiver could not accept, by input and reason."),
		metric.WithUnit("{events}"))
	if err != nil {
		return nil, err
	}
	accepted, err := meter.Int64Counter("otelcol_k8s_audit_accepted",
		metric.WithDescription("Audit events handed to the pipeline, by input."),
		metric.WithUnit("{events}"))
	if err != nil {
		return nil, err
	}
	return &auditReceiver{set: set, cfg: cfg, next: next, obsrep: obsrep, rejected: rejected, accepted: accepted}, nil
}

func (r *auditReceiver) Start(ctx context.Context, host component.Host) error {
	if w := r.cfg.Webhook.Get(); w != nil {
		if err := r.startWebhook(ctx, host, w); err != nil {
			return err
		}
	}
	if f := r.cfg.File.Get(); f != nil {
		if err := r.startFile(ctx, host, f); err != nil {
			return errors.Join(err, r.Shutdown(ctx))
		}
	}
	return nil
}

func (r *auditReceiver) startWebhook(ctx context.Context, host component.Host, w *WebhookConfig) error {
	mux := http.NewServeMux()
	mux.Handle(w.Path, &webhookHandler{r: r, retryAfter: w.RetryAfter})
	srv, err := w.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		return fmt.Errorf("k8s_audit webhook: %w", err)
	}
	ln, err := w.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("k8s_audit webhook: listen on %s: %w", w.NetAddr.Endpoint, err)
	}
	r.server = srv
	r.addr = ln.Addr()
	r.set.Logger.Info("audit webhook listening", zap.String("endpoint", ln.Addr().String()), zap.String("path", w.Path))
	r.serverWG.Add(1)
	go func() {
		defer r.serverWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

func (r *auditReceiver) startFile(ctx context.Context, host component.Host, f *FileConfig) error {
	client, err := adapter.GetStorageClient(ctx, host, f.StorageID, r.set.ID)
	if err != nil {
		return fmt.Errorf("k8s_audit file: %w", err)
	}
	r.storage = client
	m, err := f.Build(r.set.TelemetrySettings, r.emitFile)
	if err != nil {
		return fmt.Errorf("k8s_audit file: %w", err)
	}
	if err := m.Start(client); err != nil {
		return fmt.Errorf("k8s_audit file: %w", err)
	}
	r.files = m
	return nil
}

func (r *auditReceiver) Shutdown(ctx context.Context) error {
	var errs []error
	if r.server != nil {
		errs = append(errs, r.server.Shutdown(ctx))
		r.serverWG.Wait()
	}
	if r.files != nil {
		errs = append(errs, r.files.Stop())
		r.files = nil
	}
	if r.storage != nil {
		errs = append(errs, r.storage.Close(ctx))
		r.storage = nil
	}
	return errors.Join(errs...)
}

// emitFile is the file consumer's callback: each token is one line of an
// audit log file (one event, or an EventList when the file holds batches).
func (r *auditReceiver) emitFile(ctx context.Context, tokens [][]byte, _ map[string]any, _ int64, _ []int64) error {
	ld, lrs := newLogs(inputFile)
	observed := now()
	for _, tok := range tokens {
		items, err := audit.SplitBody(tok)
		if err != nil {
			r.reject(ctx, inputFile, err, 1)
		}
		for _, it := range items {
			ev, err := audit.Decode(it)
			if err != nil {
				r.reject(ctx, inputFile, err, 1)
				continue
			}
			appendEvent(lrs, it, ev, observed)
		}
	}
	return r.consume(ctx, inputFile, ld)
}

// consume hands a batch to the pipeline with the receiver's standard metrics.
func (r *auditReceiver) consume(ctx context.Context, input string, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	ctx = r.obsrep.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(ctx, ld)
	r.obsrep.EndLogsOp(ctx, "k8s_audit/"+input, n, err)
	if err != nil {
		r.rejected.Add(ctx, int64(n), metric.WithAttributes(attribute.String("input", input), attribute.String("reason", reasonRefused)))
		return err
	}
	r.accepted.Add(ctx, int64(n), metric.WithAttributes(attribute.String("input", input)))
	return nil
}

// reject counts n rejected events and logs the first of each reason at warn.
func (r *auditReceiver) reject(ctx context.Context, input string, err error, n int) {
	reason := reasonOf(err)
	r.rejected.Add(ctx, int64(n), metric.WithAttributes(attribute.String("input", input), attribute.String("reason", reason)))
	key := input + "/" + reason
	if _, seen := r.logged.LoadOrStore(key, struct{}{}); !seen {
		r.set.Logger.Warn("rejected audit input (further rejections of this reason are logged at debug level)",
			zap.String("input", input), zap.String("reason", reason), zap.Error(err))
		return
	}
	r.set.Logger.Debug("rejected audit input", zap.String("input", input), zap.String("reason", reason), zap.Error(err))
}

func reasonOf(err error) string {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return reasonTooLarge
	case errors.Is(err, audit.ErrTruncated):
		return reasonTruncated
	case errors.Is(err, audit.ErrNotAuditEvent):
		return reasonNotAuditEvent
	default:
		return reasonInvalidJSON
	}
}
