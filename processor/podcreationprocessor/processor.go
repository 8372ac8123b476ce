package podcreationprocessor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

type podCreationProcessor struct {
	set  processor.Settings
	cfg  *Config
	next consumer.Logs

	mu     sync.Mutex // guards seen and engine (its VM is reused)
	seen   *podrecord.Seen
	engine *rules.Engine

	records, findings, duplicates, errs metric.Int64Counter
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Logs) (*podCreationProcessor, error) {
	p := &podCreationProcessor{set: set, cfg: cfg, next: next, seen: podrecord.NewSeen(cfg.DedupAuditIDs)}
	meter := set.MeterProvider.Meter(metadata.ScopeName)
	var err error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		err = errors.Join(err, e)
		return c
	}
	p.records = counter("otelcol_pod_creation_records", "Pod-creation records emitted.", "{records}")
	p.findings = counter("otelcol_pod_creation_findings", "Findings emitted, by rule and severity.", "{findings}")
	p.duplicates = counter("otelcol_pod_creation_duplicates", "Pod create events dropped because their audit ID already produced a record.", "{events}")
	p.errs = counter("otelcol_pod_creation_errors", "Audit events that could not be read, and rule evaluations that failed, by reason.", "{errors}")
	return p, err
}

func (p *podCreationProcessor) Start(_ context.Context, _ component.Host) error {
	if p.cfg.RulesFile == "" {
		return nil
	}
	e, err := rules.Load(p.cfg.RulesFile, p.cfg.InventoryFile)
	if err != nil {
		return fmt.Errorf("pod_creation: loading rules: %w", err)
	}
	p.engine = e
	p.set.Logger.Info("detection rules loaded", zap.String("rules_file", p.cfg.RulesFile),
		zap.String("inventory_file", p.cfg.InventoryFile), zap.Int("rules", e.Len()))
	return nil
}

func (p *podCreationProcessor) Shutdown(context.Context) error { return nil }

func (p *podCreationProcessor) Capabilities() consumer.Capabilities {
	// With passthrough the records are appended to the incoming logs.
	return consumer.Capabilities{MutatesData: p.cfg.Passthrough}
}

func (p *podCreationProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	var out plog.Logs
	var outRecords plog.LogRecordSlice
	emit := func() plog.LogRecordSlice {
		if outRecords == (plog.LogRecordSlice{}) {
			out = plog.NewLogs()
			sl := out.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
			sl.Scope().SetName(metadata.ScopeName)
			outRecords = sl.LogRecords()
		}
		return outRecords
	}

	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if rec := p.podCreate(ctx, lrs.At(k)); rec != nil {
					p.emitRecord(ctx, emit(), rec)
				}
			}
		}
	}

	switch {
	case p.cfg.Passthrough && outRecords != (plog.LogRecordSlice{}):
		out.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
		return p.next.ConsumeLogs(ctx, ld)
	case p.cfg.Passthrough:
		return p.next.ConsumeLogs(ctx, ld)
	case outRecords != (plog.LogRecordSlice{}):
		return p.next.ConsumeLogs(ctx, out)
	default:
		return nil
	}
}

// podCreate returns the record of lr when it is the final stage of a pod
// create not seen before. It looks at the lifted attributes first and decodes
// the body only for pod creates.
func (p *podCreationProcessor) podCreate(ctx context.Context, lr plog.LogRecord) *podrecord.Record {
	a := lr.Attributes()
	if v, ok := a.Get(attr.AuditVerb); !ok || v.Str() != "create" {
		return nil
	}
	if v, ok := a.Get(attr.AuditResource); !ok || v.Str() != "pods" {
		return nil
	}
	if _, ok := a.Get(attr.AuditSubresource); ok {
		return nil
	}
	if v, ok := a.Get(attr.AuditStage); !ok || (v.Str() != audit.StageResponseComplete && v.Str() != audit.StagePanic) {
		return nil
	}
	ev, err := audit.Decode([]byte(lr.Body().Str()))
	if err != nil {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "invalid_audit_event")))
		p.set.Logger.Debug("pod create log record has no readable audit event body", zap.Error(err))
		return nil
	}
	rec, err := podrecord.FromAudit(ev)
	if err != nil {
		if !errors.Is(err, podrecord.ErrNotPodCreate) {
			p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "invalid_pod_object")))
			p.set.Logger.Debug("pod create with unreadable pod object", zap.String("audit_id", ev.AuditID), zap.Error(err))
		}
		return nil
	}
	p.mu.Lock()
	fresh := p.seen.Add(rec.AuditID)
	p.mu.Unlock()
	if !fresh {
		p.duplicates.Add(ctx, 1)
		return nil
	}
	return rec
}

func (p *podCreationProcessor) emitRecord(ctx context.Context, lrs plog.LogRecordSlice, rec *podrecord.Record) {
	appendRecord(lrs, rec)
	p.records.Add(ctx, 1)
	if p.engine == nil {
		return
	}
	p.mu.Lock()
	fs, errs := p.engine.Evaluate(rec)
	p.mu.Unlock()
	for _, err := range errs {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "rule_evaluation")))
		p.set.Logger.Warn("rule evaluation failed", zap.String("audit_id", rec.AuditID), zap.Error(err))
	}
	for i := range fs {
		appendFinding(lrs, rec, &fs[i])
		p.findings.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", fs[i].RuleID), attribute.String("severity", fs[i].Severity)))
	}
}

// Summary is the one line a person reads: what was created, by whom, how.
func Summary(r *podrecord.Record) string {
	var b strings.Builder
	b.WriteString("pod ")
	b.WriteString(r.DisplayName())
	if r.Allowed {
		b.WriteString(" created by ")
	} else {
		b.WriteString(" FORBIDDEN for ")
	}
	b.WriteString(r.Actor.Username)
	b.WriteString(" (" + r.Actor.Kind + ") via " + r.Channel)
	if r.Owner.Kind != "" {
		b.WriteString(" owner=" + r.Owner.Kind + "/" + r.Owner.Name)
	}
	if imgs := r.Images(); len(imgs) > 0 {
		b.WriteString(" images=" + strings.Join(imgs, ","))
	}
	fmt.Fprintf(&b, " decision=%s code=%d", r.Decision, r.Code)
	if len(r.Missing) > 0 {
		b.WriteString(" missing=" + strings.Join(r.Missing, ","))
	}
	return b.String()
}
