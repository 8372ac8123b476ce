// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/adapter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/trim"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/text/encoding/unicode"

	"github.com/podtrail/podtrail/internal/attr"
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
	reasonBadEnvelope   = "bad_envelope"
	reasonUnauthorized  = "unauthorized"
	reasonOverloaded    = "overloaded"
	reasonReadError     = "read_error"
)

// partialOversize is attr.AuditPartial of a record salvaged from an event
// over the size limit (with attr.AuditSize when the size is known). The
// pod_creation processor turns such a record into a partial=oversize pod
// record and a finding.
const partialOversize = "oversize"

// errUnauthorized is a Firehose delivery without the configured access key.
var errUnauthorized = errors.New("missing or wrong X-Amz-Firehose-Access-Key")

type auditReceiver struct {
	set    receiver.Settings
	cfg    *Config
	next   consumer.Logs
	obsrep *receiverhelper.ObsReport

	// tel holds the meters metadata.yaml declares (generated builder).
	tel    *metadata.TelemetryBuilder
	logged sync.Map // reason -> struct{}: log each reason once at warn level

	server   *http.Server
	addr     net.Addr // where the webhook listens, once started
	serverWG sync.WaitGroup
	files    *fileconsumer.Manager
	fileForm audit.Form
	// fileMaxLine is file.max_log_size: a line the reader cut there is an
	// oversize event; with fileSplit (max_log_size_behavior split) its
	// rest follows as continuation fragments, which fragments tracks.
	fileMaxLine int64
	fileSplit   bool
	fragments   fragmentTracker
	storage     storage.Client
	// heartbeat: when the last log record was sent, and how many events
	// outside the selection arrived since (Config.Heartbeat).
	heartbeat struct {
		sync.Mutex
		sent       time.Time
		unselected int64
	}
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*auditReceiver, error) {
	obsrep, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "http", ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &auditReceiver{
		set: set, cfg: cfg, next: next, obsrep: obsrep, tel: tb,
		fragments: fragmentTracker{next: map[string]int64{}},
	}, nil
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
	form, err := audit.ParseForm(w.Format)
	if err != nil {
		return fmt.Errorf("k8s_audit webhook: %w", err)
	}
	h := &webhookHandler{
		r: r, retryAfter: w.RetryAfter, form: form, firehoseKey: string(w.FirehoseAccessKey),
		slots: make(chan struct{}, max(w.MaxConcurrentRequests, 1)), maxBody: w.MaxRequestBodySize,
		maxCloud: w.MaxCloudBodySize, maxEvent: int(w.MaxEventSize), batchSize: max(w.BatchSize, 1),
		timeout: w.ReadTimeout,
	}
	if h.maxBody <= 0 {
		h.maxBody = defaultMaxRequestBodySize
	}
	if h.maxCloud <= 0 {
		h.maxCloud = defaultMaxCloudBodySize
	}
	if h.maxEvent <= 0 {
		h.maxEvent = defaultMaxEventSize
	}
	mux.Handle(w.Path, h)
	srv, err := w.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		return fmt.Errorf("k8s_audit webhook: %w", err)
	}
	srv.ConnContext = withConn
	ln, err := r.listen(ctx, w)
	if err != nil {
		return fmt.Errorf("k8s_audit webhook: listen on %s: %w", w.NetAddr.Endpoint, err)
	}
	r.server = srv
	r.addr = ln.Addr()
	r.set.Logger.Info("audit webhook listening", zap.String("endpoint", ln.Addr().String()), zap.String("path", w.Path))
	r.reportExposure(ctx, w, ln.Addr())
	r.serverWG.Add(1)
	go func() {
		defer r.serverWG.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// listen is confighttp's ToListener with the connection limit between the
// socket and TLS, so that a connection is counted (and may be evicted)
// before its handshake.
func (r *auditReceiver) listen(ctx context.Context, w *WebhookConfig) (net.Listener, error) {
	ln, err := w.NetAddr.Listen(ctx)
	if err != nil {
		return nil, err
	}
	maxConns := w.MaxConnections
	if maxConns <= 0 {
		maxConns = defaultMaxConnections()
	}
	ctxBg := context.WithoutCancel(ctx)
	ln = newConnLimiter(ln, max(maxConns, 1),
		func(d int64) { r.tel.K8sAuditWebhookConnections.Add(ctxBg, d) },
		func() { r.tel.K8sAuditWebhookConnectionsEvicted.Add(ctxBg, 1) })
	if w.TLS.HasValue() {
		tlsCfg, err := w.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		tlsCfg.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// reportExposure warns, and sets otelcol_k8s_audit_webhook_insecure, when
// the webhook listens beyond loopback without TLS or without client
// authentication: whoever reaches the port could then post forged audit
// events (a pod creation that never happened, or none for one that did).
func (r *auditReceiver) reportExposure(ctx context.Context, w *WebhookConfig, addr net.Addr) {
	tlsOn := w.TLS.HasValue()
	clientAuth := w.Auth.HasValue() || (tlsOn && w.TLS.Get().ClientCAFile != "")
	var problem string
	switch {
	case isLocal(addr):
	case !tlsOn:
		problem = "without TLS: events and credentials cross the network in clear text, and anyone who reaches the port can post audit events"
	case !clientAuth:
		problem = "without client authentication: anyone who reaches the port can post audit events"
	}
	v := int64(0)
	if problem != "" {
		v = 1
		r.set.Logger.Warn("audit webhook listens beyond loopback "+problem+
			"; set webhook.tls with client_ca_file (mutual TLS with the apiserver's client certificate) or an auth extension",
			zap.String("endpoint", addr.String()))
	}
	r.tel.K8sAuditWebhookInsecure.Record(ctx, v, metric.WithAttributes(attribute.Bool("tls", tlsOn), attribute.Bool("client_auth", clientAuth)))
}

// isLocal reports whether a listener's address is reachable from this host
// only: a loopback address or a Unix socket.
func isLocal(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// errOversize is an event over the size limit that nothing could be
// salvaged of.
var errOversize = errors.New("audit event over the size limit, nothing salvaged")

// appendOversize adds the record of an event over the size limit: the
// minimal event audit.Salvage makes of its head (and tail), marked
// podtrail.audit.partial=oversize, with its size when known (size > 0). It
// counts the event (otelcol_k8s_audit_oversize) and logs the first of each
// input at warn level; an event of which nothing could be salvaged is
// rejected (too_large) and false returned.
func (r *auditReceiver) appendOversize(ctx context.Context, lrs plog.LogRecordSlice, input string, form audit.Form, head, tail []byte, size int64, observed pcommon.Timestamp) bool {
	r.tel.K8sAuditOversize.Add(ctx, 1, metric.WithAttributes(attribute.String("input", input)))
	s, err := audit.Salvage(head, tail)
	var ev *audit.Event
	if err == nil {
		raw := s.Raw
		if !utf8.Valid(raw) {
			raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		}
		s.Raw = raw
		ev, err = audit.DecodeShared(raw)
	}
	if err != nil {
		r.reject(ctx, input, form, fmt.Errorf("%w (%d bytes read): %v", errOversize, len(head), err), 1)
		return false
	}
	appendEvent(lrs, s.Raw, ev, form, observed)
	a := lrs.At(lrs.Len() - 1).Attributes()
	a.PutStr(attr.AuditPartial, partialOversize)
	if size > 0 {
		a.PutInt(attr.AuditSize, size)
	}
	if _, seen := r.logged.LoadOrStore(input+"/oversize", struct{}{}); !seen {
		r.set.Logger.Warn("audit event over the size limit: delivered as a partial record salvaged from its beginning and end (further ones are logged at debug level)",
			zap.String("input", input), zap.String("audit_id", ev.AuditID), zap.Int64("size", size),
			zap.Int("read", len(head)), zap.String("cut_in", s.Cut), zap.Bool("end_read", s.FromTail))
	} else {
		r.set.Logger.Debug("audit event over the size limit", zap.String("input", input), zap.String("audit_id", ev.AuditID), zap.Int64("size", size))
	}
	return true
}

func (r *auditReceiver) startFile(ctx context.Context, host component.Host, f *FileConfig) error {
	form, err := audit.ParseForm(f.Format)
	if err != nil {
		return fmt.Errorf("k8s_audit file: %w", err)
	}
	r.fileForm = form
	r.fileMaxLine = int64(f.MaxLogSize)
	r.fileSplit = f.MaxLogSizeBehavior != fileconsumer.MaxLogSizeBehaviorTruncate
	client, err := adapter.GetStorageClient(ctx, host, f.StorageID, r.set.ID)
	if err != nil {
		return fmt.Errorf("k8s_audit file: %w", err)
	}
	r.storage = client
	fc, opts := f.Config, []fileconsumer.Option(nil)
	// The records do not carry the file's attributes; its path tells the
	// continuation fragments of one file's cut line from another's.
	fc.IncludeFilePath = true
	if strings.EqualFold(strings.ReplaceAll(fc.Encoding, "-", ""), "utf8") {
		// Lines are split as UTF-8 and handed over as read: emitFile
		// checks UTF-8 itself, a tenth of the cost of the decoder's
		// transform (the reader copies each line either way).
		split, err := fc.SplitConfig.Func(unicode.UTF8, false, int(fc.MaxLogSize))
		if err != nil {
			return fmt.Errorf("k8s_audit file: %w", err)
		}
		fc.Encoding = "nop"
		opts = append(opts, fileconsumer.WithSplitFunc(trim.WithFunc(split, fc.TrimConfig.Func())))
	}
	m, err := fc.Build(r.set.TelemetrySettings, r.emitFile, opts...)
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
	r.tel.Shutdown()
	return errors.Join(errs...)
}

// decoders are the audit.Decoders of the file input and the webhook (each
// batch or request takes one: the file consumer reads files in parallel).
var decoders = sync.Pool{New: func() any { return new(audit.Decoder) }}

// emitFile is the file consumer's callback: each token is one line of an
// audit file: an event or an EventList (native), a LogEntry (GKE), an
// export line or subscription payload (EKS), a diagnostic record or
// {"records":[...]} (AKS).
func (r *auditReceiver) emitFile(ctx context.Context, tokens [][]byte, attrs map[string]any, _ int64, offsets []int64) error {
	ld, lrs := newLogs(inputFile)
	observed := now()
	forms := map[audit.Form]int{}
	d := decoders.Get().(*audit.Decoder)
	defer decoders.Put(d)
	sel := r.cfg.selects()
	d.SelectPodCreation = sel
	unsel := map[audit.Form]int{}
	path, _ := attrs[attrLogFilePath].(string)
	// pend is a cut event whose rest may follow in this batch: salvaged
	// with its end (timestamps, annotations) when the last fragment comes,
	// from its beginning alone at the end of the batch otherwise.
	var pend *pendingCut
	salvage := func(tail []byte) {
		if r.appendOversize(ctx, lrs, inputFile, pend.form, pend.head, tail, 0, observed) {
			forms[pend.form]++
		}
		pend = nil
	}
	for i, tok := range tokens {
		// The reader ends a token at a newline, or at max_log_size: such a
		// token is the beginning of an oversize line, and (split) its rest
		// follows as tokens that start where it ended.
		var cut bool
		if i+1 < len(offsets) {
			start, end := offsets[i], offsets[i+1]
			if r.fileSplit && r.fragments.continues(path, start) {
				r.tel.K8sAuditFragments.Add(ctx, 1, metric.WithAttributes(attribute.String("input", inputFile)))
				if pend != nil {
					pend.tail = keepTail(pend.tail, tok)
				}
				if end-start == r.fileMaxLine {
					r.fragments.expect(path, end) // more of it follows
				} else if pend != nil {
					salvage(pend.tail) // the line's end
				}
				continue
			}
			cut = r.fileMaxLine > 0 && end-start == r.fileMaxLine
			if cut && r.fileSplit {
				// Set before the line is read: a line of max_log_size-1
				// bytes and its newline spans as much, and is whole;
				// then the mark is undone.
				r.fragments.expect(path, end)
			}
		}
		if len(bytes.TrimSpace(tok)) == 0 {
			continue // a blank line, as between pasted batches
		}
		if !utf8.Valid(tok) {
			tok = bytes.ToValidUTF8(tok, []byte("\uFFFD"))
		}
		if cut {
			if pend != nil {
				salvage(nil)
			}
			wasCut, form, later := r.emitCut(ctx, d, lrs, forms, tok, observed)
			if !wasCut && r.fileSplit {
				r.fragments.done(path) // it was whole
			}
			if later {
				pend = &pendingCut{head: tok, form: form}
				if !r.fileSplit {
					salvage(nil) // truncate: the reader skips its rest
				}
			}
			continue
		}
		// The reader hands each line over in a buffer of its own, which
		// the records' bodies and attributes share, as stanza's file
		// input makes its bodies (TestFileLinesOwnTheirBuffers).
		b := d.DecodeBody(tok, r.fileForm, func(form audit.Form, it audit.Item) {
			if notSelected(sel, it) {
				unsel[form]++
				return
			}
			if it.Err != nil {
				r.reject(ctx, inputFile, form, it.Err, 1)
				return
			}
			appendEvent(lrs, it.Raw, it.Event, form, observed)
			forms[form]++
		})
		if b.Err != nil {
			r.reject(ctx, inputFile, b.Form, b.Err, 1)
		}
		r.skip(ctx, inputFile, b.Form, b.Skipped)
	}
	if pend != nil {
		salvage(nil) // its rest is not written yet, or comes in a later batch
	}
	r.unselected(ctx, inputFile, unsel)
	return r.consume(ctx, inputFile, ld, forms)
}

// pendingCut is the beginning of a native event the reader cut at
// max_log_size, and the last bytes of its continuation fragments so far.
type pendingCut struct {
	head, tail []byte
	form       audit.Form
}

// keepTail appends b to tail and keeps the last audit.DefaultTailSize bytes.
func keepTail(tail, b []byte) []byte {
	if len(b) >= audit.DefaultTailSize {
		return append(tail[:0], b[len(b)-audit.DefaultTailSize:]...)
	}
	tail = append(tail, b...)
	if len(tail) > audit.DefaultTailSize {
		tail = append(tail[:0:0], tail[len(tail)-audit.DefaultTailSize:]...)
	}
	return tail
}

// attrLogFilePath is the file consumer's attribute of a line's file path.
const attrLogFilePath = "log.file.path"

// emitCut reads a line the reader cut at max_log_size, and reports whether
// it was cut indeed (a line of max_log_size-1 bytes and its newline is
// whole). An audit event is left to the caller to salvage (later, of the
// given form: audit.Salvage of its beginning and, when it follows, its
// end); of a cloud line (a GKE entry, an EKS export line, Azure records),
// what is whole before the cut is delivered, and the cut counted.
func (r *auditReceiver) emitCut(ctx context.Context, d *audit.Decoder, lrs plog.LogRecordSlice, forms map[audit.Form]int, tok []byte, observed pcommon.Timestamp) (cut bool, form audit.Form, later bool) {
	env, detected := audit.DetectEnvelope(tok)
	if env == audit.EnvelopeEvent && detected == audit.FormNative && r.fileForm != audit.FormGKE {
		form := audit.FormNative
		if r.fileForm == audit.FormEKS || r.fileForm == audit.FormAKS {
			form = r.fileForm
		}
		// Read to its end (no early stop at an unselected field): only a
		// whole line is taken as whole.
		sel := d.SelectPodCreation
		d.SelectPodCreation = false
		ev, err := d.Decode(tok)
		d.SelectPodCreation = sel
		if err == nil {
			if sel && !audit.Selected(ev) {
				r.unselected(ctx, inputFile, map[audit.Form]int{form: 1})
			} else {
				appendEvent(lrs, tok, ev, form, observed)
				forms[form]++
			}
			return false, form, false
		}
		return true, form, true
	}
	whole, failed := 0, false
	unsel := map[audit.Form]int{}
	b := d.DecodeBody(tok, r.fileForm, func(form audit.Form, it audit.Item) {
		if notSelected(d.SelectPodCreation, it) {
			unsel[form]++
			whole++
			return
		}
		if it.Err != nil {
			failed = true
			return
		}
		appendEvent(lrs, it.Raw, it.Event, form, observed)
		forms[form]++
		whole++
	})
	r.skip(ctx, inputFile, b.Form, b.Skipped)
	r.unselected(ctx, inputFile, unsel)
	if b.Err == nil && !failed {
		return false, b.Form, false
	}
	r.tel.K8sAuditOversize.Add(ctx, 1, metric.WithAttributes(attribute.String("input", inputFile)))
	r.reject(ctx, inputFile, b.Form, fmt.Errorf("%w: a %s line over max_log_size (%d bytes), %d events before the cut delivered",
		errOversize, b.Form, r.fileMaxLine, whole), 1)
	return true, b.Form, false
}

// fragmentTracker knows, per file, where the rest of a line cut at
// max_log_size starts: a token that starts there is a continuation
// fragment, not a line.
type fragmentTracker struct {
	pending atomic.Int32 // len(next): most lines pass without the lock
	mu      sync.Mutex
	next    map[string]int64
}

func (f *fragmentTracker) continues(path string, start int64) bool {
	if f.pending.Load() == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.next[path]
	if ok && at == start {
		delete(f.next, path)
		f.pending.Store(int32(len(f.next)))
		return true
	}
	return false
}

func (f *fragmentTracker) expect(path string, at int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.next) >= 4096 {
		clear(f.next) // files gone while a cut line was pending
	}
	f.next[path] = at
	f.pending.Store(int32(len(f.next)))
}

func (f *fragmentTracker) done(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.next, path)
	f.pending.Store(int32(len(f.next)))
}

// consume hands a batch to the pipeline with the receiver's standard metrics;
// forms counts the batch's records by the form they arrived in.
func (r *auditReceiver) consume(ctx context.Context, input string, ld plog.Logs, forms map[audit.Form]int) error {
	n := ld.LogRecordCount()
	if n == 0 {
		return nil
	}
	ctx = r.obsrep.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(ctx, ld)
	r.obsrep.EndLogsOp(ctx, "k8s_audit/"+input, n, err)
	if err == nil {
		r.sent()
	}
	for form, k := range forms {
		if err != nil {
			r.tel.K8sAuditRejected.Add(ctx, int64(k), metric.WithAttributes(attribute.String("input", input),
				attribute.String("form", string(form)), attribute.String("reason", reasonRefused)))
			continue
		}
		r.tel.K8sAuditAccepted.Add(ctx, int64(k), metric.WithAttributes(attribute.String("input", input), attribute.String("form", string(form))))
	}
	return err
}

// reject counts n rejected events and logs the first of each reason at warn.
func (r *auditReceiver) reject(ctx context.Context, input string, form audit.Form, err error, n int) {
	reason := reasonOf(err)
	attrs := []attribute.KeyValue{attribute.String("input", input), attribute.String("reason", reason)}
	if form != "" {
		attrs = append(attrs, attribute.String("form", string(form)))
	}
	r.tel.K8sAuditRejected.Add(ctx, int64(n), metric.WithAttributes(attrs...))
	key := input + "/" + string(form) + "/" + reason
	if _, seen := r.logged.LoadOrStore(key, struct{}{}); !seen {
		r.set.Logger.Warn("rejected audit input (further rejections of this reason are logged at debug level)",
			zap.String("input", input), zap.String("form", string(form)), zap.String("reason", reason), zap.Error(err))
		return
	}
	r.set.Logger.Debug("rejected audit input", zap.String("input", input), zap.String("form", string(form)), zap.String("reason", reason), zap.Error(err))
}

// notSelected reports whether an item is an audit event outside the
// pod-creation selection (Config.Events): a native event the Decoder
// stopped reading, or a cloud form's event, decoded whole, outside it.
func notSelected(sel bool, it audit.Item) bool {
	if it.Err != nil {
		return errors.Is(it.Err, audit.ErrNotSelected)
	}
	return sel && !audit.Selected(it.Event)
}

// unselected counts the events outside the selection, by form, and sends
// a heartbeat when none of the selection went out for Config.Heartbeat.
func (r *auditReceiver) unselected(ctx context.Context, input string, forms map[audit.Form]int) {
	total := 0
	for form, n := range forms {
		if n > 0 {
			total += n
			r.tel.K8sAuditUnselected.Add(ctx, int64(n), metric.WithAttributes(attribute.String("input", input), attribute.String("form", string(form))))
		}
	}
	if total == 0 || r.cfg.Heartbeat <= 0 {
		return
	}
	hb := &r.heartbeat
	t := time.Now()
	hb.Lock()
	hb.unselected += int64(total)
	if hb.sent.IsZero() {
		hb.sent = t // the first events: a heartbeat after Heartbeat of them
	}
	n := hb.unselected
	due := t.Sub(hb.sent) >= r.cfg.Heartbeat
	if due {
		hb.sent, hb.unselected = t, 0
	}
	hb.Unlock()
	if !due {
		return
	}
	ld, lrs := newLogs(input)
	lr := lrs.AppendEmpty()
	lr.SetEventName(attr.EventAuditHeartbeat)
	ts := pcommon.NewTimestampFromTime(t)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetSeverityNumber(plog.SeverityNumberDebug)
	lr.Attributes().PutInt(attr.AuditUnselected, n)
	if err := r.next.ConsumeLogs(ctx, ld); err != nil {
		r.set.Logger.Debug("audit heartbeat refused", zap.Error(err))
	}
}

// sent notes that audit event records went out: no heartbeat is due.
func (r *auditReceiver) sent() {
	if r.cfg.Heartbeat <= 0 {
		return
	}
	hb := &r.heartbeat
	t := time.Now()
	hb.Lock()
	hb.sent, hb.unselected = t, 0
	hb.Unlock()
}

// skip counts records of a cloud export that are not audit events.
func (r *auditReceiver) skip(ctx context.Context, input string, form audit.Form, n int) {
	if n > 0 {
		r.tel.K8sAuditSkipped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("input", input), attribute.String("form", string(form))))
	}
}

func reasonOf(err error) string {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, errOversize):
		return reasonTooLarge
	case errors.Is(err, errOverloaded):
		return reasonOverloaded
	case errors.Is(err, errRead), errors.Is(err, errTooSlow):
		return reasonReadError
	case errors.Is(err, errUnauthorized):
		return reasonUnauthorized
	case errors.Is(err, audit.ErrEnvelope):
		return reasonBadEnvelope
	case errors.Is(err, audit.ErrTruncated):
		return reasonTruncated
	case errors.Is(err, audit.ErrNotAuditEvent):
		return reasonNotAuditEvent
	default:
		return reasonInvalidJSON
	}
}
