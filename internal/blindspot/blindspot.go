// SPDX-License-Identifier: Apache-2.0

// Package blindspot tells when podtrail has gone blind: a source that
// stopped speaking (a cluster's audit stream, a node's runtime events),
// records forced out early because the state was full, a rules or
// inventory file that cannot be read. Each condition gives one Alert when
// it begins and one recovery Alert when it ends; nothing in between.
//
// A Tracker is not safe for concurrent use: the pod_creation processor
// calls it under its lock.
package blindspot

import (
	"errors"
	"sort"
	"time"
)

// Kind is what went blind.
type Kind string

// Kinds of blind spot.
const (
	// AuditSilence: no audit event of a cluster for Config.AuditSilence.
	AuditSilence Kind = "audit_silence"
	// NodeSilence: a pod scheduled to a node went out without any runtime
	// event of that node, which has sent none for Config.NodeSilence.
	NodeSilence Kind = "node_silence"
	// Evicted: pending pods were emitted as partial records because the
	// correlation state was full; clears after Config.EvictionClear
	// without another.
	Evicted Kind = "evicted"
	// RulesUnreadable: a rules or inventory file failed to load; the last
	// good set runs. Clears at the next successful load.
	RulesUnreadable Kind = "rules_unreadable"
)

// Sources a Kind is about (podtrail.blind_spot.source).
var sourceOf = map[Kind]string{AuditSilence: "audit", NodeSilence: "node_runtime", Evicted: "correlation", RulesUnreadable: "rules"}

// Source is the source a kind of blind spot is about.
func (k Kind) Source() string { return sourceOf[k] }

// Config says when a silence is a blind spot. A zero duration turns its
// check off.
type Config struct {
	// AuditSilence is how long a cluster's audit stream may be quiet. A
	// running apiserver logs its own controllers' and kubelets' requests
	// every few seconds, so minutes of silence mean the webhook or the
	// log file stopped reaching podtrail. The clock starts with the
	// tracker: an input that never delivers an audit event alerts too.
	AuditSilence time.Duration
	// NodeSilence is how long a node may send no runtime event while a
	// pod scheduled to it is emitted without any node source.
	NodeSilence time.Duration
	// EvictionClear is how long without an eviction clears Evicted.
	// 0: evictions are not reported.
	EvictionClear time.Duration
	// Rules: report rules or inventory files that fail to load.
	Rules bool
}

// Validate checks the durations.
func (c Config) Validate() error {
	var errs []error
	if c.AuditSilence < 0 {
		errs = append(errs, errors.New("audit_silence must not be negative (0: off)"))
	}
	if c.NodeSilence < 0 {
		errs = append(errs, errors.New("node_silence must not be negative (0: off)"))
	}
	if c.EvictionClear < 0 {
		errs = append(errs, errors.New("eviction_clear must not be negative (0: off)"))
	}
	return errors.Join(errs...)
}

// Alert is one blind spot beginning, or ending (Recovered).
type Alert struct {
	Kind      Kind
	Recovered bool
	// Cluster is the cluster whose audit stream went quiet (AuditSilence).
	Cluster string
	// Node is the node that went quiet (NodeSilence).
	Node string
	// Detail: the error of a file that failed to load, the pod whose
	// record showed the node silent.
	Detail string
	// Since is when the source was last heard (or the tracker started,
	// or the condition began).
	Since time.Time
	// At is when the condition was found, or cleared.
	At time.Time
	// Count: evictions during an Evicted condition; records emitted
	// without the node's events during a NodeSilence.
	Count int
}

// Source is the source the alert is about: audit, node_runtime,
// correlation or rules.
func (a *Alert) Source() string { return a.Kind.Source() }

// Subject is what went blind: the node, the cluster ("" unnamed), the
// correlation state or the rules files.
func (a *Alert) Subject() string {
	switch a.Kind {
	case NodeSilence:
		return a.Node
	case AuditSilence:
		return a.Cluster
	}
	return a.Kind.Source()
}

type silence struct {
	last  time.Time // last heard; zero: never (then since is the tracker's start)
	blind bool
	since time.Time // the blind spot's Since
	count int
}

// Tracker follows the sources' liveness and reports blind spots.
type Tracker struct {
	cfg     Config
	started time.Time
	audit   map[string]*silence // by cluster
	nodes   map[string]*silence // by node
	evict   silence
	rules   silence
	alerts  []Alert
	active  int
}

// New makes a tracker started at now.
func New(cfg Config, now time.Time) *Tracker {
	return &Tracker{cfg: cfg, started: now, audit: map[string]*silence{}, nodes: map[string]*silence{}}
}

// Config is the tracker's configuration.
func (t *Tracker) Config() Config { return t.cfg }

// WatchCluster starts the audit silence clock of a cluster that has not
// spoken yet (the configured one, at start).
func (t *Tracker) WatchCluster(cluster string) {
	if t.cfg.AuditSilence > 0 && t.audit[cluster] == nil {
		t.audit[cluster] = &silence{}
	}
}

// Audit notes an audit event of cluster received at now.
func (t *Tracker) Audit(cluster string, now time.Time) {
	if t.cfg.AuditSilence <= 0 {
		return
	}
	s := t.audit[cluster]
	if s == nil {
		s = &silence{}
		t.audit[cluster] = s
	}
	s.last = now
	if s.blind {
		s.blind = false
		t.active--
		t.alerts = append(t.alerts, Alert{Kind: AuditSilence, Recovered: true, Cluster: cluster, Since: s.since, At: now})
	}
}

// Node notes a runtime event of node received at now.
func (t *Tracker) Node(node string, now time.Time) {
	if t.cfg.NodeSilence <= 0 || node == "" {
		return
	}
	s := t.nodes[node]
	if s == nil {
		s = &silence{}
		t.nodes[node] = s
	}
	s.last = now
	if s.blind {
		t.alerts = append(t.alerts, Alert{Kind: NodeSilence, Recovered: true, Node: node, Since: s.since, At: now, Count: s.count})
		s.blind, s.count = false, 0
		t.active--
	}
}

// MissingNode notes a record of a pod scheduled to node that went out at
// now after its window without any of the node's events. If the node has
// sent nothing for NodeSilence, the node is blind.
func (t *Tracker) MissingNode(node, pod string, now time.Time) {
	if t.cfg.NodeSilence <= 0 || node == "" {
		return
	}
	s := t.nodes[node]
	if s == nil {
		s = &silence{}
		t.nodes[node] = s
	}
	if s.blind {
		s.count++
		return
	}
	last := s.last
	if last.IsZero() {
		last = t.started
	}
	if now.Sub(last) < t.cfg.NodeSilence {
		return // the node speaks: this pod's lines alone are missing
	}
	s.blind, s.since, s.count = true, last, 1
	t.active++
	t.alerts = append(t.alerts, Alert{Kind: NodeSilence, Node: node, Since: last, At: now, Detail: pod, Count: 1})
}

// Evicted notes n records emitted as partial because the state was full.
func (t *Tracker) Evicted(n int, now time.Time) {
	if t.cfg.EvictionClear <= 0 || n <= 0 {
		return
	}
	s := &t.evict
	s.last = now
	s.count += n
	if !s.blind {
		s.blind, s.since = true, now
		t.active++
		t.alerts = append(t.alerts, Alert{Kind: Evicted, Since: now, At: now, Count: n})
	}
}

// RulesLoaded notes the outcome of loading the rules and inventory files
// (err nil: they loaded).
func (t *Tracker) RulesLoaded(err error, now time.Time) {
	if !t.cfg.Rules {
		return
	}
	s := &t.rules
	switch {
	case err != nil && !s.blind:
		s.blind, s.since = true, now
		t.active++
		t.alerts = append(t.alerts, Alert{Kind: RulesUnreadable, Since: now, At: now, Detail: err.Error()})
	case err == nil && s.blind:
		s.blind = false
		t.active--
		t.alerts = append(t.alerts, Alert{Kind: RulesUnreadable, Recovered: true, Since: s.since, At: now})
	}
}

// Tick looks for silences that passed their period by now and returns the
// alerts found since the last call, in order.
func (t *Tracker) Tick(now time.Time) []Alert {
	if t.cfg.AuditSilence > 0 {
		for _, c := range sortedKeys(t.audit) {
			s := t.audit[c]
			last := s.last
			if last.IsZero() {
				last = t.started
			}
			if !s.blind && now.Sub(last) >= t.cfg.AuditSilence {
				s.blind, s.since = true, last
				t.active++
				t.alerts = append(t.alerts, Alert{Kind: AuditSilence, Cluster: c, Since: last, At: now})
			}
		}
	}
	if s := &t.evict; s.blind && now.Sub(s.last) >= t.cfg.EvictionClear {
		t.alerts = append(t.alerts, Alert{Kind: Evicted, Recovered: true, Since: s.since, At: now, Count: s.count})
		s.blind, s.count = false, 0
		t.active--
	}
	a := t.alerts
	t.alerts = nil
	return a
}

// Requeue puts alerts a consumer refused back, before any found since.
func (t *Tracker) Requeue(a []Alert) {
	t.alerts = append(append([]Alert(nil), a...), t.alerts...)
}

// Active is how many blind spots are open.
func (t *Tracker) Active() int { return t.active }

// Open lists the blind spots open now (for state and diagnosis).
func (t *Tracker) Open() []Alert {
	var out []Alert
	for _, c := range sortedKeys(t.audit) {
		if s := t.audit[c]; s.blind {
			out = append(out, Alert{Kind: AuditSilence, Cluster: c, Since: s.since})
		}
	}
	for _, n := range sortedKeys(t.nodes) {
		if s := t.nodes[n]; s.blind {
			out = append(out, Alert{Kind: NodeSilence, Node: n, Since: s.since, Count: s.count})
		}
	}
	if t.evict.blind {
		out = append(out, Alert{Kind: Evicted, Since: t.evict.since, Count: t.evict.count})
	}
	if t.rules.blind {
		out = append(out, Alert{Kind: RulesUnreadable, Since: t.rules.since})
	}
	return out
}

func sortedKeys(m map[string]*silence) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
