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
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/correlate"
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

	// mu serializes the correlator, delivery of what it emits, and the
	// state writes that follow it, so that persisted state never runs ahead
	// of what was delivered.
	mu     sync.Mutex
	corr   *correlate.Correlator
	client storage.Client // nil: state in memory only

	// rules holds the running rule set; a reload swaps it atomically
	// between two records (rules.Watcher). nil: records only.
	rules *rules.Watcher
	// learner proposes an inventory (learning mode); nil: off.
	learner *rules.Learner

	stop chan struct{}
	wg   sync.WaitGroup

	records, findings, partial, late, duplicates, errs, reloads metric.Int64Counter
	last                                                        correlate.Stats
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Logs) (*podCreationProcessor, error) {
	p := &podCreationProcessor{set: set, cfg: cfg, next: next, corr: correlate.New(cfg.Correlation.correlate()), stop: make(chan struct{})}
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		err = errors.Join(err, e)
		return c
	}
	p.records = counter("otelcol_pod_creation_records", "Pod-creation records emitted, by origin.", "{records}")
	p.findings = counter("otelcol_pod_creation_findings", "Findings emitted, by rule and severity.", "{findings}")
	p.partial = counter("otelcol_pod_creation_partial", "Records emitted before their expected sources were complete, by reason (window, evicted, shutdown).", "{records}")
	p.late = counter("otelcol_pod_creation_late", "Events about a pod whose record was already emitted.", "{events}")
	p.duplicates = counter("otelcol_pod_creation_duplicates", "Re-delivered pod create events (webhook retries, two inputs) that produced no second record.", "{events}")
	p.errs = counter("otelcol_pod_creation_errors", "Events that could not be read, rule evaluations and state writes that failed, by reason.", "{errors}")
	p.reloads = counter("otelcol_pod_creation_rule_reloads", "Reloads of the rules and inventory files, by result (success, failure: the last good set was kept).", "{reloads}")
	_, e := meter.Int64ObservableGauge("otelcol_pod_creation_rules_stale", metric.WithDescription("1 when the rules or inventory files hold contents that failed to load and an older set is running; 0 otherwise."),
		metric.WithUnit("1"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if p.rules != nil {
				v := int64(0)
				if p.rules.Stats().LastError != "" {
					v = 1
				}
				o.Observe(v)
			}
			return nil
		}))
	err = errors.Join(err, e)
	_, e = meter.Int64ObservableGauge("otelcol_pod_creation_rules", metric.WithDescription("Enabled rules in the running set."),
		metric.WithUnit("{rules}"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if p.rules != nil {
				o.Observe(int64(p.rules.Engine().Len()))
			}
			return nil
		}))
	err = errors.Join(err, e)
	_, e = meter.Int64ObservableCounter("otelcol_pod_creation_rule_long_inputs", metric.WithDescription("Calls of the rules' distance, similarity and lookalike functions that met a string longer than they compare (256 runes; 1 KiB for confusable), in this process."),
		metric.WithUnit("{calls}"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(rules.LongInputs()))
			return nil
		}))
	err = errors.Join(err, e)
	_, e = meter.Int64ObservableGauge("otelcol_pod_creation_pending", metric.WithDescription("Pods waiting for their sources."),
		metric.WithUnit("{pods}"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			s := p.corr.Stats()
			p.mu.Unlock()
			o.Observe(int64(s.Pending))
			return nil
		}))
	err = errors.Join(err, e)
	return p, err
}

func (p *podCreationProcessor) Start(ctx context.Context, host component.Host) error {
	if p.cfg.RulesFile != "" {
		w, err := rules.NewWatcher(p.cfg.RulesFile, p.cfg.InventoryFile, rules.WatcherOptions{
			Interval: p.cfg.ReloadInterval, OnReload: p.onReload})
		if err != nil {
			return fmt.Errorf("pod_creation: loading rules: %w", err)
		}
		p.rules = w
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
		client, err := se.GetClient(ctx, component.KindProcessor, p.set.ID, "")
		if err != nil {
			return fmt.Errorf("pod_creation: storage %s: %w", id, err)
		}
		p.client = client
		if err := p.corr.Restore(func(k string) ([]byte, error) { return client.Get(ctx, k) }); err != nil {
			return fmt.Errorf("pod_creation: restoring correlation state from %s: %w", id, err)
		}
		s := p.corr.Stats()
		p.set.Logger.Info("correlation state restored", zap.Int("pending", s.Pending), zap.Int("owners", s.Owners), zap.Int("emitted_remembered", s.Done))
	}
	if p.cfg.Learning.File != "" {
		p.learner = rules.NewLearner()
		if err := p.writeProposal(); err != nil {
			return fmt.Errorf("pod_creation: learning: %w", err)
		}
		p.wg.Add(1)
		go p.learnLoop()
	}
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
	var base *rules.Inventory
	if p.rules != nil {
		base = p.rules.Engine().Inventory()
	}
	return p.learner.WriteFile(p.cfg.Learning.File, base)
}

// onReload logs and counts a reload attempt of the rules files.
func (p *podCreationProcessor) onReload(ev rules.ReloadEvent) {
	ctx := context.Background()
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
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			recs := p.corr.Expire(now)
			if err := p.deliver(context.Background(), recs, nil); err != nil {
				p.set.Logger.Warn("delivering expired pod-creation records", zap.Error(err))
			}
			p.mu.Unlock()
		}
	}
}

func (p *podCreationProcessor) Shutdown(ctx context.Context) error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
	if p.learner != nil {
		if err := p.writeProposal(); err != nil {
			p.set.Logger.Warn("writing the learned inventory proposal", zap.String("file", p.cfg.Learning.File), zap.Error(err))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		// Nothing keeps the state: emit what waits rather than lose it.
		if err := p.deliver(ctx, p.corr.Drain(correlate.PartialShutdown), nil); err != nil {
			return err
		}
		return nil
	}
	err := p.persist(ctx)
	return errors.Join(err, p.client.Close(ctx))
}

func (p *podCreationProcessor) Capabilities() consumer.Capabilities {
	// With passthrough the records are appended to the incoming logs.
	return consumer.Capabilities{MutatesData: p.cfg.Passthrough}
}

func (p *podCreationProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
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
	if p.cfg.Passthrough {
		return p.deliver(ctx, recs, &ld)
	}
	return p.deliver(ctx, recs, nil)
}

// consume hands one log record to the correlator. It looks at the lifted
// attributes first and decodes an audit body only when the event can be
// about a pod's creation.
func (p *podCreationProcessor) consume(ctx context.Context, lr plog.LogRecord, now time.Time) []*podrecord.Record {
	a := lr.Attributes()
	if strings.HasPrefix(lr.EventName(), attr.EventNodePrefix) {
		ev, ok := nodeEvent(lr)
		if !ok {
			return nil
		}
		return p.corr.AddNode(&ev, now)
	}
	if !relevantAudit(a) {
		return nil
	}
	body := lr.Body().Str()
	ev, err := audit.DecodeShared(unsafe.Slice(unsafe.StringData(body), len(body)))
	if err != nil {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "invalid_audit_event")))
		p.set.Logger.Debug("audit log record has no readable audit event body", zap.Error(err))
		return nil
	}
	return p.corr.AddAudit(ev, now)
}

// relevantAudit reports whether an audit event record (by its attributes)
// is the final stage of a change the correlator uses: pods and their
// binding, status and delete, and workloads that own pods.
func relevantAudit(a pcommon.Map) bool {
	stage, ok := a.Get(attr.AuditStage)
	if !ok || (stage.Str() != audit.StageResponseComplete && stage.Str() != audit.StagePanic) {
		return false
	}
	// Reads (get, list, watch: most of an audit log) change nothing: their
	// bodies are not decoded.
	verb, ok := a.Get(attr.AuditVerb)
	if !ok {
		return false
	}
	switch verb.Str() {
	case "create", "update", "patch", "delete":
	default:
		return false
	}
	res, ok := a.Get(attr.AuditResource)
	if !ok {
		return false
	}
	return res.Str() == "pods" || podrecord.WorkloadKinds[res.Str()] != ""
}

// deliver sends records, their findings and the passthrough logs on, then
// writes the correlation state. Called with mu held.
func (p *podCreationProcessor) deliver(ctx context.Context, recs []*podrecord.Record, pass *plog.Logs) error {
	var out plog.Logs
	if len(recs) > 0 {
		out = plog.NewLogs()
		sl := out.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		sl.Scope().SetName(metadata.ScopeName)
		for _, r := range recs {
			p.emitRecord(ctx, sl.LogRecords(), r)
		}
	}
	p.count(ctx)
	var err error
	switch {
	case pass != nil && pass.ResourceLogs().Len() > 0 && len(recs) > 0:
		out.ResourceLogs().MoveAndAppendTo(pass.ResourceLogs())
		err = p.next.ConsumeLogs(ctx, *pass)
	case pass != nil && pass.ResourceLogs().Len() > 0:
		err = p.next.ConsumeLogs(ctx, *pass)
	case len(recs) > 0:
		err = p.next.ConsumeLogs(ctx, out)
	}
	if err != nil {
		// The records stay emitted in memory but their state is not
		// written: a restart re-reads their events and emits them again.
		return err
	}
	return p.persist(ctx)
}

// count moves the correlator's counters into the metrics.
func (p *podCreationProcessor) count(ctx context.Context) {
	s := p.corr.Stats()
	p.late.Add(ctx, int64(s.Late-p.last.Late))
	p.duplicates.Add(ctx, int64(s.Duplicates-p.last.Duplicates))
	if d := s.Evicted - p.last.Evicted; d > 0 {
		p.set.Logger.Warn("correlation state full: oldest pending pods emitted as partial records", zap.Uint64("evicted", d), zap.Int("max_pending", p.cfg.Correlation.MaxPending))
	}
	p.last = s
}

func (p *podCreationProcessor) persist(ctx context.Context) error {
	if p.client == nil {
		return nil
	}
	var ops []*storage.Operation
	if err := p.corr.Persist(func(k string, v []byte) error {
		if v == nil {
			ops = append(ops, storage.DeleteOperation(k))
		} else {
			ops = append(ops, storage.SetOperation(k, v))
		}
		return nil
	}); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	if err := p.client.Batch(ctx, ops...); err != nil {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "state_write")))
		return fmt.Errorf("pod_creation: writing correlation state: %w", err)
	}
	return nil
}

func (p *podCreationProcessor) emitRecord(ctx context.Context, lrs plog.LogRecordSlice, rec *podrecord.Record) {
	appendRecord(lrs, rec)
	if rec.Update != "" {
		return // an update of an emitted record: no rules, not a record
	}
	p.records.Add(ctx, 1, metric.WithAttributes(attribute.String("origin", rec.Origin)))
	if rec.Partial != "" {
		p.partial.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", rec.Partial)))
	}
	if p.learner != nil {
		p.learner.Observe(rec)
	}
	if p.rules == nil {
		return
	}
	fs, errs := p.rules.Evaluate(rec)
	for _, err := range errs {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "rule_evaluation")))
		p.set.Logger.Warn("rule evaluation failed", zap.String("audit_id", rec.AuditID), zap.Error(err))
	}
	for i := range fs {
		appendFinding(lrs, rec, &fs[i])
		p.findings.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", fs[i].RuleID), attribute.String("severity", fs[i].Severity)))
	}
}
