// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/rules"
)

// sendSummaries sends the summaries of the suppression windows that ended
// by now (all: every window, at shutdown) as findings of their own, each
// with the last pod it stands for. A refused delivery puts them back for
// the next tick (rules.Suppressor keeps at most max_keys of them); at
// shutdown, or refused permanently, they are logged and dropped.
func (p *podCreationProcessor) sendSummaries(now time.Time, all bool) {
	if p.suppress == nil {
		return
	}
	var sums []rules.Summary
	if all {
		sums = p.suppress.Flush()
	} else {
		sums = p.suppress.Due(now)
	}
	if len(sums) == 0 {
		return
	}
	ctx := context.Background()
	out := newOutput(p.cfg.Cluster)
	for i := range sums {
		appendFinding(out.logs(sums[i].Record), sums[i].Record, &sums[i].Finding)
	}
	if err := p.next.ConsumeLogs(ctx, out.ld); err != nil {
		if !all && !consumererror.IsPermanent(err) {
			p.suppress.Requeue(sums)
			return
		}
		p.set.Logger.Error("finding summaries not delivered: dropped", zap.Int("summaries", len(sums)), zap.Error(err))
		return
	}
	for i := range sums {
		f := &sums[i].Finding
		p.findings.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", f.RuleID), attribute.String("severity", f.Severity)))
	}
}
