// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/blindspot"
	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// blindRule is the rule identity of a blind-spot finding.
type blindRule struct{ id, title, severity, recovered string }

var blindRules = map[blindspot.Kind]blindRule{
	blindspot.AuditSilence:    {"PT-0901", "Audit stream of the cluster went silent", "high", "Audit stream of the cluster is back"},
	blindspot.NodeSilence:     {"PT-0902", "Node runtime events stopped arriving", "high", "Node runtime events arrive again"},
	blindspot.Evicted:         {"PT-0903", "Records forced out as partial: correlation state full", "medium", "No more records forced out as partial"},
	blindspot.RulesUnreadable: {"PT-0904", "Rules or inventory file cannot be read: an older rule set runs", "high", "Rules and inventory files load again"},
	blindspot.StageGap:        {"PT-0905", "Audit events of a pod create lost: its request was received, its outcome never arrived", "high", "Pod creates' audit events arrive complete again"},
}

// blindTags and blindMITRE go on every blind-spot finding: the analytic
// asks to watch for blind spots (AN0986).
var (
	blindTags  = []string{"blind_spot"}
	blindMITRE = []string{"DC0019", "AN0986"}
)

// noteRecords tells the tracker what the emitted records show: a pod
// scheduled to a node that went out after its window with none of the
// node's events. Called with mu held.
func (p *podCreationProcessor) noteRecords(recs []*podrecord.Record, now time.Time) {
	for _, r := range recs {
		if r.Partial != correlate.PartialWindow || r.Node == "" || r.Update != "" || r.Origin == podrecord.OriginNodeOnly {
			continue
		}
		for _, m := range r.Missing {
			if m == correlate.SourceNode {
				p.blind.MissingNode(r.Node, r.Namespace+"/"+r.Name, now)
				break
			}
		}
	}
}

// noteAuditStage tells the tracker the stages of pod creates (core pods, no
// subresource) from their attributes: a RequestReceived stage is awaited,
// a final one ends the wait, a Panic is a gap at once (its body is read for
// the pod's generateName). Strings are copied: the record is not kept.
// Called with mu held, with blind_spots.audit_stage_gap on.
func (p *podCreationProcessor) noteAuditStage(lr plog.LogRecord, a pcommon.Map, now time.Time) {
	get := func(k string) string {
		if v, ok := a.Get(k); ok {
			return v.Str()
		}
		return ""
	}
	if get(attr.AuditVerb) != "create" || get(attr.AuditResource) != "pods" || get(attr.AuditSubresource) != "" || get(attr.AuditAPIGroup) != "" {
		return
	}
	stage := get(attr.AuditStage)
	req := blindspot.Request{AuditID: strings.Clone(get(attr.AuditID))}
	if stage == audit.StageRequestReceived || stage == audit.StagePanic {
		req.Namespace, req.Name = strings.Clone(get(attr.K8sNamespaceName)), strings.Clone(get(attr.K8sPodName))
		req.User, req.URI = strings.Clone(get(attr.UserName)), strings.Clone(get(attr.AuditRequestURI))
		req.Client = strings.Clone(get(attr.ClientAddress))
		req.Received = lr.Timestamp().AsTime() // RequestReceived: its stage timestamp
		if lr.Timestamp() == 0 {
			req.Received = time.Time{}
		}
	}
	switch stage {
	case audit.StageRequestReceived:
		p.blind.Received(p.cfg.Cluster.Name, req, now)
	case audit.StageResponseComplete:
		p.blind.Final(p.cfg.Cluster.Name, req, false, now)
	case audit.StagePanic:
		req.Received = time.Time{}
		body := lr.Body().Str()
		if ev, err := audit.DecodeShared(unsafe.Slice(unsafe.StringData(body), len(body))); err == nil {
			req.Received = ev.RequestReceivedTimestamp
			if o, err := audit.DecodeObject(ev.RequestObject); err == nil && o != nil && req.Name == "" {
				req.Name, req.GenerateName = strings.Clone(o.Metadata.Name), strings.Clone(o.Metadata.GenerateName)
			}
		}
		p.blind.Final(p.cfg.Cluster.Name, req, true, now)
	}
}

// sendBlindSpots delivers the blind spots found by now as findings. A
// refused delivery puts them back for the next tick.
func (p *podCreationProcessor) sendBlindSpots(now time.Time) {
	p.mu.Lock()
	alerts := p.blind.Tick(now)
	untracked := p.blind.TakeUntracked()
	p.mu.Unlock()
	if untracked > 0 {
		p.set.Logger.Warn("audit stage gaps: pod creates not followed, too many await their final stage",
			zap.Int("requests", untracked), zap.Int("max_pending", blindspot.MaxStagePending))
	}
	if len(alerts) == 0 {
		return
	}
	ctx := context.Background()
	out := newOutput(p.cfg.Cluster)
	for i := range alerts {
		appendBlindSpot(out.logs(&podrecord.Record{}).AppendEmpty(), &alerts[i])
	}
	if err := p.next.ConsumeLogs(ctx, out.ld); err != nil {
		if !consumererror.IsPermanent(err) {
			p.mu.Lock()
			p.blind.Requeue(alerts)
			p.mu.Unlock()
			return
		}
		p.set.Logger.Error("blind-spot findings not delivered: dropped", zap.Int("findings", len(alerts)), zap.Error(err))
		return
	}
	for i := range alerts {
		a := &alerts[i]
		r := blindRules[a.Kind]
		sev := r.severity
		if a.Recovered {
			sev = "info"
		}
		p.findings.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", r.id), attribute.String("severity", sev)))
		f := p.set.Logger.Warn
		if a.Recovered {
			f = p.set.Logger.Info
		}
		f(blindSpotBody(a), zap.String("kind", string(a.Kind)))
	}
}

// appendBlindSpot writes one blind-spot finding: the rule identity of its
// kind, what went blind (node, cluster on the resource, source), since
// when, and for a recovery until when.
func appendBlindSpot(lr plog.LogRecord, a *blindspot.Alert) {
	r := blindRules[a.Kind]
	sev, title, state := r.severity, r.title, "blind"
	if a.Recovered {
		sev, title, state = "info", r.recovered, "recovered"
	}
	lr.SetEventName(attr.EventFinding)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(a.At))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(severityNumbers[sev])
	lr.SetSeverityText(strings.ToUpper(sev))
	lr.Body().SetStr(blindSpotBody(a))
	m := lr.Attributes()
	m.PutStr(attr.RuleID, r.id)
	m.PutStr(attr.RuleTitle, title)
	m.PutStr(attr.RuleSeverity, sev)
	putStrings(m, attr.RuleMITRE, blindMITRE)
	putStrings(m, attr.RuleTags, blindTags)
	m.PutStr(attr.BlindSpotKind, string(a.Kind))
	m.PutStr(attr.BlindSpotState, state)
	m.PutStr(attr.BlindSpotSource, a.Source())
	if !a.Since.IsZero() {
		m.PutStr(attr.BlindSpotSince, a.Since.UTC().Format(time.RFC3339Nano))
	}
	if a.Recovered {
		m.PutStr(attr.BlindSpotUntil, a.At.UTC().Format(time.RFC3339Nano))
	}
	if a.Count > 0 {
		m.PutInt(attr.BlindSpotCount, int64(a.Count))
	}
	put(m, attr.BlindSpotDetail, a.Detail)
	put(m, attr.K8sNodeName, a.Node)
	// the same facts as a rule's outputs, for the SIEM mappings that read
	// podtrail.finding.*
	put(m, attr.FindingPrefix+"source", a.Source())
	put(m, attr.FindingPrefix+"node", a.Node)
	put(m, attr.FindingPrefix+"cluster", a.Cluster)
	if !a.Since.IsZero() {
		m.PutStr(attr.FindingPrefix+"since", a.Since.UTC().Format(time.RFC3339))
	}
	if r := a.Request; r != nil && !a.Recovered {
		put(m, attr.FindingPrefix+"audit_id", r.AuditID)
		put(m, attr.FindingPrefix+"pod", r.Pod())
		put(m, attr.FindingPrefix+"user", r.User)
	}
}

// blindSpotBody is the one-line body of a blind-spot finding.
func blindSpotBody(a *blindspot.Alert) string {
	r := blindRules[a.Kind]
	var b strings.Builder
	if a.Recovered {
		fmt.Fprintf(&b, "finding INFO %s %s: %s", r.id, r.recovered, a.Kind)
	} else {
		fmt.Fprintf(&b, "finding %s %s %s: %s", strings.ToUpper(r.severity), r.id, r.title, a.Kind)
	}
	switch a.Kind {
	case blindspot.NodeSilence:
		b.WriteString(" node=" + a.Node)
	case blindspot.AuditSilence, blindspot.StageGap:
		if a.Cluster != "" {
			b.WriteString(" cluster=" + a.Cluster)
		}
	}
	b.WriteString(" source=" + a.Source())
	if !a.Since.IsZero() {
		b.WriteString(" since=" + a.Since.UTC().Format(time.RFC3339))
	}
	if a.Recovered {
		b.WriteString(" until=" + a.At.UTC().Format(time.RFC3339))
	}
	if a.Count > 0 {
		b.WriteString(" count=" + strconv.Itoa(a.Count))
	}
	if a.Detail != "" && !a.Recovered {
		b.WriteString(" detail=" + a.Detail)
	}
	return b.String()
}
