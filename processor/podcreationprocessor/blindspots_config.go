// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"time"

	"github.com/podtrail/podtrail/internal/blindspot"
)

// BlindSpotsConfig says when podtrail reports that it has gone blind: a
// podtrail.blind_spot finding when a source goes silent or loses data, and
// a recovery finding when it returns.
type BlindSpotsConfig struct {
	// AuditSilence is how long the cluster's audit stream may be quiet
	// before a finding says so. A running apiserver's own controllers and
	// kubelets make requests every few seconds; minutes of silence mean
	// the webhook or the audit log file stopped reaching podtrail. The
	// clock starts with the processor. 0 (the default): off; set it on the
	// gateway that receives the audit stream, not on node agents.
	AuditSilence time.Duration `mapstructure:"audit_silence"`
	// NodeSilence: a pod scheduled to a node whose record goes out without
	// any of the node's runtime events, while the node has sent none for
	// this long, makes a finding naming the node; its next event clears
	// it. An idle node (no pods scheduled to it) never alerts. 0: off.
	NodeSilence time.Duration `mapstructure:"node_silence"`
	// EvictionClear: records forced out as partial because the state was
	// full (correlation.max_pending) make a finding; this long without
	// another clears it. 0: off.
	EvictionClear time.Duration `mapstructure:"eviction_clear"`
	// RulesFiles: a rules or inventory file that fails to load at a
	// reload makes a finding (the last good set runs); the next good load
	// clears it.
	RulesFiles bool `mapstructure:"rules_files"`
	// AuditStageGap: a pod create whose RequestReceived audit stage
	// arrived and whose final stage (ResponseComplete) did not within this
	// long, or that ended in a Panic stage, makes a finding naming the
	// cluster and the request (auditID, namespace, user, URI, client): the
	// audit pipeline lost the event that says who created which pod with
	// which outcome. One finding per cluster while it lasts (with a
	// count); it clears once a pod create's final stage arrived and no gap
	// came for this long. Needs an audit policy that keeps the
	// RequestReceived stage; without one nothing is awaited. 0 (the
	// default): off; set it (2m) on a gateway that receives the whole
	// audit stream, not on gateways behind load_balancing: a create's
	// RequestReceived names no pod and routes by namespace, its final
	// stage by pod, to another gateway.
	AuditStageGap time.Duration `mapstructure:"audit_stage_gap"`
	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultBlindSpots() BlindSpotsConfig {
	return BlindSpotsConfig{NodeSilence: 2 * time.Minute, EvictionClear: 10 * time.Minute, RulesFiles: true}
}

func (c BlindSpotsConfig) tracker() blindspot.Config {
	return blindspot.Config{AuditSilence: c.AuditSilence, NodeSilence: c.NodeSilence, EvictionClear: c.EvictionClear, Rules: c.RulesFiles, StageGap: c.AuditStageGap}
}
