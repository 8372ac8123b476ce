// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

// Reasons a record is dropped (the "reason" attribute of
// otelcol_node_runtime_unparsed).
const (
	reasonFormat    = "unrecognised_format"   // noderuntime.ReasonNoFormat
	reasonPayload   = "unrecognised_payload"  // noderuntime.ReasonPayload
	reasonTimestamp = "invalid_timestamp"     // noderuntime.ReasonTimestamp
	reasonJournal   = "invalid_journal_entry" // journalctl printed a line that is not a JSON entry
	reasonTooLarge  = "too_large"             // a journal entry over maxJournalLine
	sourceUnknown   = "unknown"
)

// envNodeName is the environment variable node_name defaults to.
const envNodeName = "K8S_NODE_NAME"

type nodeReceiver struct {
	set  receiver.Settings
	cfg  *Config
	next consumer.Logs
	opts noderuntime.Options

	tel      *telemetry
	sampler  *sampler
	affinity *affinity
	obsFile  *receiverhelper.ObsReport
	obsJourn *receiverhelper.ObsReport

	file    *fileInput
	journal *journalInput
	// journalRestart is the first journalctl restart delay (0: restartFirst;
	// tests shorten it).
	journalRestart time.Duration
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*nodeReceiver, error) {
	loc, err := cfg.location()
	if err != nil {
		return nil, err
	}
	node := cfg.NodeName
	if node == "" {
		node = os.Getenv(envNodeName)
	}
	r := &nodeReceiver{
		set:      set,
		cfg:      cfg,
		next:     next,
		opts:     noderuntime.Options{Year: cfg.Year, Location: loc, Node: node, Format: noderuntime.Source(cfg.Format)},
		sampler:  newSampler(set.Logger),
		affinity: newAffinity(),
	}
	if r.tel, err = newTelemetry(set.TelemetrySettings); err != nil {
		return nil, err
	}
	for _, in := range []struct {
		obs       **receiverhelper.ObsReport
		transport string
	}{{&r.obsFile, inputFile}, {&r.obsJourn, inputJournald}} {
		*in.obs, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
			ReceiverID: set.ID, Transport: in.transport, ReceiverCreateSettings: set,
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *nodeReceiver) Start(ctx context.Context, host component.Host) error {
	if f := r.cfg.File.Get(); f != nil {
		r.file = newFileInput(r, f)
		if err := r.file.start(ctx, host); err != nil {
			r.file = nil
			return errors.Join(err, r.Shutdown(ctx))
		}
	}
	if j := r.cfg.Journald.Get(); j != nil {
		r.journal = newJournalInput(r, j)
		if err := r.journal.start(ctx, host); err != nil {
			r.journal = nil
			return errors.Join(err, r.Shutdown(ctx))
		}
	}
	return nil
}

func (r *nodeReceiver) Shutdown(ctx context.Context) error {
	var errs []error
	if r.file != nil {
		errs = append(errs, r.file.stop(ctx))
		r.file = nil
	}
	if r.journal != nil {
		errs = append(errs, r.journal.stop(ctx))
		r.journal = nil
	}
	r.tel.Shutdown()
	return errors.Join(errs...)
}

// consume hands a batch to the pipeline with the receiver's standard metrics
// and counts the delivered events by kind.
func (r *nodeReceiver) consume(ctx context.Context, obs *receiverhelper.ObsReport, input string, ld plog.Logs, b *batchCounts) error {
	n := ld.LogRecordCount()
	r.tel.addUnparsed(ctx, b)
	if n == 0 {
		return nil
	}
	ctx = obs.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(ctx, ld)
	obs.EndLogsOp(ctx, "node_runtime/"+input, n, err)
	if err != nil {
		return err
	}
	r.tel.addEvents(ctx, b)
	return nil
}

// unparsed counts a dropped record in the batch and logs a sample.
func (r *nodeReceiver) unparsed(input string, err error, rec []byte, b *batchCounts) {
	source, reason := classify(err)
	b.unparsed(source, reason)
	r.sampler.log(input, source, reason, err, rec)
}

// classify maps a parse error to the counter's source and reason.
func classify(err error) (source, reason string) {
	var pe *noderuntime.ParseError
	if !errors.As(err, &pe) {
		return sourceUnknown, reasonJournal
	}
	source = string(pe.Source)
	if source == "" {
		source = sourceUnknown
	}
	switch pe.Reason {
	case noderuntime.ReasonPayload:
		return source, reasonPayload
	case noderuntime.ReasonTimestamp:
		return source, reasonTimestamp
	}
	return source, reasonFormat
}

// telemetry holds the receiver's own counters.
type telemetry struct {
	// The meters metadata.yaml declares (generated builder).
	*metadata.TelemetryBuilder
	kindOpts [nKinds + 1]metric.AddOption
	mu       sync.Mutex
	unpOpts  map[unparsedKey]metric.AddOption
}

func newTelemetry(set component.TelemetrySettings) (*telemetry, error) {
	t := &telemetry{}
	var err error
	if t.TelemetryBuilder, err = metadata.NewTelemetryBuilder(set); err != nil {
		return nil, err
	}
	for i, k := range nodeevent.Kinds {
		t.kindOpts[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", string(k))))
	}
	t.unpOpts = map[unparsedKey]metric.AddOption{}
	return t, nil
}

func (t *telemetry) addEvents(ctx context.Context, b *batchCounts) {
	for i, n := range b.kinds {
		if n == 0 {
			continue
		}
		opt := t.kindOpts[i]
		if i == nKinds {
			opt = metric.WithAttributes(attribute.String("kind", "other"))
		}
		t.NodeRuntimeEvents.Add(ctx, n, opt)
	}
}

func (t *telemetry) addUnparsed(ctx context.Context, b *batchCounts) {
	for _, u := range b.unp {
		t.mu.Lock()
		opt, ok := t.unpOpts[u.key]
		if !ok {
			opt = metric.WithAttributeSet(attribute.NewSet(attribute.String("source", u.key.source), attribute.String("reason", u.key.reason)))
			t.unpOpts[u.key] = opt
		}
		t.mu.Unlock()
		t.NodeRuntimeUnparsed.Add(ctx, u.n, opt)
	}
}

type unparsedKey struct{ source, reason string }

// batchCounts counts one batch's events by kind and dropped records by
// source and reason, so that counters are updated once per batch.
type batchCounts struct {
	kinds [nKinds + 1]int64
	unp   []struct {
		key unparsedKey
		n   int64
	}
}

func (b *batchCounts) event(k noderuntime.Kind) { b.kinds[kindIndex(k)]++ }

func (b *batchCounts) unparsed(source, reason string) {
	k := unparsedKey{source, reason}
	for i := range b.unp {
		if b.unp[i].key == k {
			b.unp[i].n++
			return
		}
	}
	b.unp = append(b.unp, struct {
		key unparsedKey
		n   int64
	}{k, 1})
}

func (b *batchCounts) reset() {
	b.kinds = [nKinds + 1]int64{}
	b.unp = b.unp[:0]
}

// sampleInterval is how often a dropped record of one input, source and
// reason is logged at debug level after the first, which is logged at warn.
const sampleInterval = time.Minute

// maxSample caps the record text in a log sample.
const maxSample = 512

// sampler logs dropped records: the first of each input, source and reason
// at warn level, then at most one per sampleInterval at debug level.
type sampler struct {
	logger *zap.Logger
	now    func() time.Time
	mu     sync.Mutex
	last   map[samplerKey]time.Time
}

type samplerKey struct{ input, source, reason string }

func newSampler(logger *zap.Logger) *sampler {
	return &sampler{logger: logger, now: time.Now, last: map[samplerKey]time.Time{}}
}

func (s *sampler) log(input, source, reason string, err error, rec []byte) {
	k := samplerKey{input, source, reason}
	s.mu.Lock()
	t := s.now()
	last, seen := s.last[k]
	if seen && (t.Sub(last) < sampleInterval || !s.logger.Core().Enabled(zap.DebugLevel)) {
		s.mu.Unlock()
		return
	}
	s.last[k] = t
	s.mu.Unlock()
	if len(rec) > maxSample {
		rec = rec[:maxSample]
	}
	fields := []zap.Field{zap.String("input", input), zap.String("source", source), zap.String("reason", reason),
		zap.Error(err), zap.String("record", strings.ToValidUTF8(string(rec), "\uFFFD"))}
	if !seen {
		s.logger.Warn(fmt.Sprintf("dropped a node log record no parser recognises (counted in otelcol_node_runtime_unparsed; "+
			"further ones of this source and reason are logged at debug level, at most one per %s)", sampleInterval), fields...)
		return
	}
	s.logger.Debug("dropped a node log record no parser recognises (sample)", fields...)
}

// getStorageClient opens a client of the storage extension id for one input
// of the receiver (a no-op client when id is nil).
func getStorageClient(ctx context.Context, host component.Host, id *component.ID, set receiver.Settings, input string) (storage.Client, error) {
	if id == nil {
		return storage.NewNopClient(), nil
	}
	ext, ok := host.GetExtensions()[*id]
	if !ok {
		return nil, fmt.Errorf("storage extension %q not found", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("extension %q is not a storage extension", id)
	}
	// Like contrib's stanza adapter: the type without underscores, so that
	// checkpoints survive component renames that add them.
	cid := component.MustNewIDWithName(strings.ReplaceAll(set.ID.Type().String(), "_", ""), set.ID.Name())
	return se.GetClient(ctx, component.KindReceiver, cid, input)
}
