// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/blindspot"
	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/imagemeta"
	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

// expireEvery is how often records whose window passed are looked for.
const expireEvery = 250 * time.Millisecond

type podCreationProcessor struct {
	set  processor.Settings
	cfg  *Config
	next consumer.Logs

	// mu guards the correlator, the outbox and the state writes. It is
	// never held across a call of the next consumer (design.md, "Delivery").
	mu     sync.Mutex
	corr   *correlate.Correlator
	out    *outbox
	client storage.Client // nil: state in memory only
	// versionWritten: the stored state carries stateVersionKey.
	versionWritten bool

	// rules holds the running rule set; a reload swaps it atomically
	// between two records (rules.Watcher). nil: records only.
	rules *rules.Watcher
	// suppress collapses repeated findings (rules.suppression); nil: off.
	suppress *rules.Suppressor
	// learner proposes an inventory (learning mode); nil: off.
	learner *inventory.Learner
	// blind tracks the sources' liveness (blind_spots); guarded by mu.
	blind *blindspot.Tracker
	// images looks images up in their registries (image_metadata); nil: off.
	images *imagemeta.Lookup

	stop chan struct{}
	wg   sync.WaitGroup

	// tel is the generated telemetry builder (metadata.yaml); the counters
	// below are its, the observable ones read the processor (telemetry.go).
	tel                                                         *metadata.TelemetryBuilder
	records, findings, partial, late, duplicates, errs, reloads metric.Int64Counter
	deliveryFailures, dropped, stateDiscarded, noRecord         metric.Int64Counter
	last                                                        correlate.Stats
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Logs) (*podCreationProcessor, error) {
	p := &podCreationProcessor{set: set, cfg: cfg, next: next, corr: correlate.New(cfg.Correlation.correlate()), out: newOutbox(), stop: make(chan struct{}),
		blind: blindspot.New(cfg.BlindSpots.tracker(), time.Now())}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	err = p.newTelemetry(tb)
	return p, err
}

func (p *podCreationProcessor) Start(ctx context.Context, host component.Host) error {
	if p.cfg.RulesFile != "" {
		w, err := rules.NewSourcesWatcher(p.cfg.ruleSources(), rules.WatcherOptions{
			Interval: p.cfg.ReloadInterval, OnReload: p.onReload})
		if err != nil {
			return fmt.Errorf("pod_creation: loading rules: %w", err)
		}
		p.rules = w
		if p.cfg.Rules.Suppression.Window > 0 {
			p.suppress = rules.NewSuppressor(p.cfg.Rules.Suppression.rules())
		}
		p.set.Logger.Info("detection rules loaded", zap.String("rules_file", p.cfg.RulesFile),
			zap.String("inventory_file", p.cfg.InventoryFile), zap.Int("rules", w.Engine().Len()),
			zap.String("hash", w.Engine().Hash()), zap.Duration("reload_interval", p.cfg.ReloadInterval))
		if p.cfg.ReloadInterval > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			p.wg.Add(2)
			go func() { defer p.wg.Done(); w.Run(ctx) }()
			go func() { defer p.wg.Done(); <-p.stop; cancel() }()
		}
	}
	if id := p.cfg.Correlation.Storage; id != nil {
		ext, ok := host.GetExtensions()[*id]
		if !ok {
			return fmt.Errorf("pod_creation: storage extension %s not found", id)
		}
		se, ok := ext.(storage.Extension)
		if !ok {
			return fmt.Errorf("pod_creation: extension %s is not a storage extension", id)
		}
		var client storage.Client
		err := guarded(func() (err error) {
			client, err = se.GetClient(ctx, component.KindProcessor, p.set.ID, "")
			return err
		})
		if err != nil {
			return fmt.Errorf("pod_creation: storage %s: %w", id, err)
		}
		p.client = client
		p.restore(ctx)
		s := p.corr.Stats()
		p.set.Logger.Info("correlation state restored", zap.Int("pending", s.Pending), zap.Int("owners", s.Owners), zap.Int("emitted_remembered", s.Done),
			zap.Int("undelivered", p.out.records))
	}
	if err := p.startImageMeta(ctx); err != nil {
		return fmt.Errorf("pod_creation: image_metadata: %w", err)
	}
	if p.cfg.Learning.File != "" {
		p.learner = inventory.NewLearner()
		if err := p.writeProposal(); err != nil {
			return fmt.Errorf("pod_creation: learning: %w", err)
		}
		p.wg.Add(1)
		go p.learnLoop()
	}
	p.mu.Lock()
	p.blind.WatchCluster(p.cfg.Cluster.Name)
	p.mu.Unlock()
	p.wg.Add(1)
	go p.expireLoop()
	return nil
}

// learnLoop writes the inventory proposal every learning interval.
func (p *podCreationProcessor) learnLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Learning.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			if err := p.writeProposal(); err != nil {
				p.set.Logger.Warn("writing the learned inventory proposal", zap.String("file", p.cfg.Learning.File), zap.Error(err))
			}
		}
	}
}

func (p *podCreationProcessor) writeProposal() error {
	var base *inventory.Inventory
	if p.rules != nil {
		base = p.rules.Engine().Inventory()
	}
	return p.learner.WriteFile(p.cfg.Learning.File, base)
}

// onReload logs and counts a reload attempt of the rules files.
func (p *podCreationProcessor) onReload(ev rules.ReloadEvent) {
	ctx := context.Background()
	p.mu.Lock()
	p.blind.RulesLoaded(ev.Err, time.Now())
	p.mu.Unlock()
	if ev.Err != nil {
		p.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "failure")))
		p.set.Logger.Error("detection rules not reloaded: keeping the last good set", zap.String("rules_file", p.cfg.RulesFile),
			zap.String("inventory_file", p.cfg.InventoryFile), zap.String("running_hash", ev.Engine.Hash()), zap.Error(ev.Err))
		return
	}
	p.reloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "success")))
	p.set.Logger.Info("detection rules reloaded", zap.String("rules_file", p.cfg.RulesFile),
		zap.String("inventory_file", p.cfg.InventoryFile), zap.Int("rules", ev.Engine.Len()), zap.String("hash", ev.Hash))
}

func (p *podCreationProcessor) expireLoop() {
	defer p.wg.Done()
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	var imagesPersisted time.Time
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.expire(now)
			p.sendSummaries(now, false)
			p.sendBlindSpots(now)
			if now.Sub(imagesPersisted) >= 5*time.Second {
				p.persistImageMeta(context.Background())
				imagesPersisted = now
			}
		}
	}
}

// expire emits the records whose window passed and delivers them with
// those waiting after a refusal (when their backoff allows), in bounded
// deliveries until one is refused or none waits.
func (p *podCreationProcessor) expire(now time.Time) {
	ctx := context.Background()
	p.mu.Lock()
	own := p.enqueue(ctx, p.corr.Expire(now))
	p.count(ctx)
	for {
		items := p.out.take(own, now, false)
		own = nil
		p.mu.Unlock()
		if len(items) == 0 {
			p.mu.Lock()
			if err := p.persist(ctx); err != nil {
				p.set.Logger.Warn("writing correlation state", zap.Error(err))
			}
			p.mu.Unlock()
			return
		}
		if err := p.send(ctx, items, nil, "expiry"); err != nil {
			return
		}
		select {
		case <-p.stop:
			return
		default:
		}
		p.mu.Lock()
	}
}

// enqueue makes an outbox item of recs, keeping the outbox within
// max_pending records (the oldest waiting are dropped and counted). Called
// with mu held.
func (p *podCreationProcessor) enqueue(ctx context.Context, recs []*podrecord.Record) *outItem {
	p.noteRecords(recs, time.Now())
	it := p.out.add(recs)
	if n := p.out.trim(max(p.cfg.Correlation.MaxPending, 1)); n > 0 {
		p.dropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", "undelivered_full")))
		p.set.Logger.Error("records waiting for delivery exceed max_pending: the oldest dropped", zap.Int("dropped", n),
			zap.Int("max_pending", p.cfg.Correlation.MaxPending))
	}
	return it
}

func (p *podCreationProcessor) Shutdown(ctx context.Context) error {
	defer p.tel.Shutdown() // the observable meters' callbacks
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
	if p.images != nil {
		p.images.Stop()
		p.persistImageMeta(ctx)
	}
	p.sendSummaries(time.Now(), true)
	if p.learner != nil {
		if err := p.writeProposal(); err != nil {
			p.set.Logger.Warn("writing the learned inventory proposal", zap.String("file", p.cfg.Learning.File), zap.Error(err))
		}
	}
	// The inputs have stopped: one last delivery of what waits, and, with
	// nothing to keep the state, of the pods still pending.
	p.mu.Lock()
	var own *outItem
	if p.client == nil {
		own = p.enqueue(ctx, p.corr.Drain(correlate.PartialShutdown))
		p.count(ctx)
	}
	items := p.out.take(own, time.Now(), true)
	p.mu.Unlock()
	var err error
	if len(items) > 0 {
		err = p.send(ctx, items, nil, "shutdown")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		if n := p.out.drop(p.out.take(nil, time.Now(), true)); n > 0 {
			p.dropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", "shutdown")))
			p.set.Logger.Error("pod-creation records not delivered at shutdown: lost (no storage keeps them)", zap.Int("records", n), zap.Error(err))
			return errors.Join(errShutdownUndelivered, err)
		}
		return err
	}
	// What was not delivered stays in the state and goes after a restart.
	err = p.persist(ctx)
	return errors.Join(err, p.client.Close(ctx))
}

func (p *podCreationProcessor) Capabilities() consumer.Capabilities {
	// With passthrough the records are appended to the incoming logs.
	return consumer.Capabilities{MutatesData: p.cfg.Passthrough}
}

func (p *podCreationProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	now := time.Now()
	p.mu.Lock()
	var recs []*podrecord.Record
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				recs = append(recs, p.consume(ctx, lrs.At(k), now)...)
			}
		}
	}
	p.count(ctx)
	items := p.out.take(p.enqueue(ctx, recs), now, false)
	p.mu.Unlock()
	if p.cfg.Passthrough {
		return p.send(ctx, items, &ld, "consume")
	}
	return p.send(ctx, items, nil, "consume")
}

// consume hands one log record to the correlator. It looks at the lifted
// attributes first and decodes an audit body only when the event can be
// about a pod's creation.
func (p *podCreationProcessor) consume(ctx context.Context, lr plog.LogRecord, now time.Time) []*podrecord.Record {
	a := lr.Attributes()
	if strings.HasPrefix(lr.EventName(), attr.EventNodePrefix) {
		ev, ok := nodeevent.Decode(lr)
		if !ok {
			return nil
		}
		p.blind.Node(ev.Node, now)
		p.wantImage(&ev)
		return p.corr.AddNode(&ev, now)
	}
	switch lr.EventName() {
	case attr.EventAudit:
		p.blind.Audit(p.cfg.Cluster.Name, now)
		if p.blind.StageGaps() {
			p.noteAuditStage(lr, a, now)
		}
	case attr.EventAuditHeartbeat:
		// audit events arrive, none of the receiver's selection
		p.blind.Audit(p.cfg.Cluster.Name, now)
		return nil
	}
	partial := auditPartial(a) // an event salvaged in part (oversize): always read
	if partial == "" && !relevantAudit(a) {
		return nil
	}
	body := lr.Body().Str()
	ev, err := audit.DecodeShared(unsafe.Slice(unsafe.StringData(body), len(body)))
	if err != nil {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "invalid_audit_event")))
		p.set.Logger.Debug("audit log record has no readable audit event body", zap.Error(err))
		return nil
	}
	if partial != "" {
		return p.corr.AddAuditPartial(ev, partial, now)
	}
	return p.corr.AddAudit(ev, now)
}

// relevantAudit reports whether an audit event record (by its attributes)
// is in the pod-creation selection (audit.Selected: the final stage of a
// change of a pod, one of its subresources or a workload that owns pods),
// the events the correlator uses; the k8s_audit receiver hands on no other
// by default. Reads (most of an audit log) are not decoded.
func relevantAudit(a pcommon.Map) bool {
	get := func(k string) string {
		if v, ok := a.Get(k); ok {
			return v.Str()
		}
		return ""
	}
	return audit.SelectedStage(get(attr.AuditStage)) && audit.SelectedVerb(get(attr.AuditVerb)) &&
		audit.SelectedResource(get(attr.AuditResource))
}

// send hands items (records and their findings) and the passthrough logs
// to the next consumer, then settles the items and writes the state. Called
// without mu: the next consumer may take its time (an exporter without a
// queue); other inputs go on meanwhile. Items the next consumer refused wait
// to be delivered again; the error goes back to the input (the webhook
// answers 503, a file input may read the batch again: its events find
// their pods emitted, their records waiting here).
func (p *podCreationProcessor) send(ctx context.Context, items []*outItem, pass *plog.Logs, path string) error {
	var err error
	hasPass := pass != nil && pass.ResourceLogs().Len() > 0
	if len(items) > 0 || hasPass {
		var out plog.Logs
		if len(items) > 0 {
			out = p.build(ctx, items)
		}
		switch {
		case hasPass && len(items) > 0:
			out.ResourceLogs().MoveAndAppendTo(pass.ResourceLogs())
			err = p.next.ConsumeLogs(ctx, *pass)
		case hasPass:
			err = p.next.ConsumeLogs(ctx, *pass)
		default:
			err = p.next.ConsumeLogs(ctx, out)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(items) > 0 {
		switch {
		case err == nil:
			p.out.delivered(items)
		case consumererror.IsPermanent(err):
			n := p.out.drop(items)
			p.dropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", "refused_permanently")))
			p.set.Logger.Error("pod-creation records refused permanently by the next consumer: dropped", zap.Int("records", n), zap.Error(err))
		default:
			p.out.refused(items, time.Now())
			p.deliveryFailures.Add(ctx, 1, metric.WithAttributes(attribute.String("path", path)))
			p.set.Logger.Warn("next consumer refused pod-creation records: they wait and are delivered again",
				zap.String("path", path), zap.Int("waiting", p.out.records), zap.Duration("retry_in", p.out.backoff), zap.Error(err))
		}
	}
	// The state is written either way: with the records not delivered
	// among it, a restart delivers them.
	return errors.Join(err, p.persist(ctx))
}

// build makes the logs of items: each record followed by its findings. The
// rules run on a record once, at its first delivery.
func (p *podCreationProcessor) build(ctx context.Context, items []*outItem) plog.Logs {
	out := newOutput(p.cfg.Cluster) // a resource per cluster
	for _, it := range items {
		if !it.evaluated {
			p.attachImageMeta(it.recs)
			it.findings = make([][]rules.Finding, len(it.recs))
			for i, r := range it.recs {
				it.findings[i] = p.evaluate(ctx, r)
			}
			it.evaluated = true
		}
		for i, r := range it.recs {
			lrs := out.logs(r)
			appendRecord(lrs, r)
			if p.images != nil {
				putImageMeta(lrs.At(lrs.Len()-1), r)
			}
			for j := range it.findings[i] {
				appendFinding(lrs, r, &it.findings[i][j])
			}
		}
	}
	return out.ld
}

// count moves the correlator's counters into the metrics.
func (p *podCreationProcessor) count(ctx context.Context) {
	s := p.corr.Stats()
	p.late.Add(ctx, int64(s.Late-p.last.Late))
	p.duplicates.Add(ctx, int64(s.Duplicates-p.last.Duplicates))
	p.noRecord.Add(ctx, int64(s.SeenRunning-p.last.SeenRunning), metric.WithAttributes(attribute.String("reason", "seen_running")))
	p.noRecord.Add(ctx, int64(s.MirrorExists-p.last.MirrorExists), metric.WithAttributes(attribute.String("reason", "mirror_exists")))
	if d := s.Evicted - p.last.Evicted; d > 0 {
		p.blind.Evicted(int(d), time.Now())
		p.set.Logger.Warn("correlation state full: oldest pending pods emitted as partial records", zap.Uint64("evicted", d), zap.Int("max_pending", p.cfg.Correlation.MaxPending))
	}
	p.last = s
}

// evaluate counts a record and runs the rules (and the learner) on it once.
func (p *podCreationProcessor) evaluate(ctx context.Context, rec *podrecord.Record) []rules.Finding {
	if rec.Update != "" {
		return nil // an update of an emitted record: no rules, not a record
	}
	p.records.Add(ctx, 1, metric.WithAttributes(attribute.String("origin", rec.Origin)))
	if rec.Partial != "" {
		p.partial.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", rec.Partial)))
	}
	if p.learner != nil {
		p.learner.Observe(rec)
	}
	if p.rules == nil {
		return nil
	}
	fs, errs := p.rules.Evaluate(rec)
	for _, err := range errs {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "rule_evaluation")))
		p.set.Logger.Warn("rule evaluation failed", zap.String("audit_id", rec.AuditID), zap.Error(err))
	}
	fs = p.suppress.Filter(rec, fs, time.Now())
	for i := range fs {
		p.findings.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", fs[i].RuleID), attribute.String("severity", fs[i].Severity)))
	}
	return fs
}
