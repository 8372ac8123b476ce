// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

// newTelemetry takes the processor's meters from the builder mdatagen
// generates from metadata.yaml (every metric the processor emits is
// declared there; documentation.md lists them): the counters go to the
// processor's fields, the observable gauges and counters read its state
// (under mu where the state is mu's). The builder's Shutdown unregisters
// the callbacks.
func (p *podCreationProcessor) newTelemetry(tb *metadata.TelemetryBuilder) error {
	p.tel = tb
	p.records, p.findings, p.partial = tb.PodCreationRecords, tb.PodCreationFindings, tb.PodCreationPartial
	p.late, p.duplicates, p.errs, p.reloads = tb.PodCreationLate, tb.PodCreationDuplicates, tb.PodCreationErrors, tb.PodCreationRuleReloads
	p.deliveryFailures, p.dropped = tb.PodCreationDeliveryFailures, tb.PodCreationRecordsDropped
	p.stateDiscarded, p.noRecord = tb.PodCreationStateDiscarded, tb.PodCreationNoRecord
	return errors.Join(
		tb.RegisterPodCreationUndeliveredCallback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			n := p.out.records
			p.mu.Unlock()
			o.Observe(int64(n))
			return nil
		}),
		tb.RegisterPodCreationRulesStaleCallback(func(_ context.Context, o metric.Int64Observer) error {
			if p.rules != nil {
				v := int64(0)
				if p.rules.Stats().LastError != "" {
					v = 1
				}
				o.Observe(v)
			}
			return nil
		}),
		tb.RegisterPodCreationRulesCallback(func(_ context.Context, o metric.Int64Observer) error {
			if p.rules != nil {
				o.Observe(int64(p.rules.Engine().Len()))
			}
			return nil
		}),
		tb.RegisterPodCreationRuleLongInputsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(rules.LongInputs()))
			return nil
		}),
		tb.RegisterPodCreationPendingCallback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			s := p.corr.Stats()
			p.mu.Unlock()
			o.Observe(int64(s.Pending))
			return nil
		}),
		tb.RegisterPodCreationFindingsSuppressedCallback(func(_ context.Context, o metric.Int64Observer) error {
			if p.suppress != nil {
				o.Observe(int64(p.suppress.Stats().Suppressed))
			}
			return nil
		}),
		p.lineageTelemetry(tb), // imagemeta.go
	)
}
