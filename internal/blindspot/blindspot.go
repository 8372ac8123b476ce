// SPDX-License-Identifier: Apache-2.0

// Package blindspot tells when podtrail has gone blind: a source that
// stopped speaking (a cluster's audit stream, a node's runtime events),
// pod creates whose audit stages show a gap (RequestReceived without its
// final stage, or a Panic), records forced out early because the state was
// full, a rules or inventory file that cannot be read. Each condition gives one Alert when
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
	// StageGap: the audit pipeline lost the event that says who created
	// which pod with which outcome: a pod create's RequestReceived stage
	// arrived and its final stage (ResponseComplete) did not within
	// Config.StageGap, or the request ended in a Panic stage. One
	// condition per cluster, with a count of such requests; see
	// Tracker.Received for when it clears.
	StageGap Kind = "audit_stage_gap"
)

// MaxStagePending bounds the pod creates whose final stage is awaited,
// and apart the final stages that came before their RequestReceived: a
// request past it is not followed (StageStats.Untracked).
const MaxStagePending = 16384

// Sources a Kind is about (podtrail.blind_spot.source).
var sourceOf = map[Kind]string{AuditSilence: "audit", NodeSilence: "node_runtime", Evicted: "correlation", RulesUnreadable: "rules", StageGap: "audit"}

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
	// StageGap is how long a pod create's final audit stage may follow
	// its RequestReceived stage. The apiserver ends a request within its
	// --request-timeout (1m by default) and its audit backends deliver
	// within seconds; a longer wait means the final stage was lost.
	StageGap time.Duration
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
	if c.StageGap < 0 {
		errs = append(errs, errors.New("audit_stage_gap must not be negative (0: off)"))
	}
	return errors.Join(errs...)
}

// Alert is one blind spot beginning, or ending (Recovered).
type Alert struct {
	Kind      Kind
	Recovered bool
	// Cluster is the cluster whose audit stream went quiet (AuditSilence)
	// or lost stages (StageGap).
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
	// without the node's events during a NodeSilence; requests that lost
	// their final stage during a StageGap.
	Count int
	// Request is the first request of a StageGap that lost its final
	// stage (nil otherwise).
	Request *Request
}

// Request is a pod create as its RequestReceived (or Panic) stage tells.
// A RequestReceived stage comes before the request body is read: the
// apiserver writes no requestObject and no objectRef name in it (live
// capture, v1.33), so it names the namespace, the user, the URI and the
// client, not the pod.
type Request struct {
	AuditID   string
	Namespace string
	// Name, or GenerateName when the apiserver makes the name: known from
	// a Panic stage's objectRef or requestObject, not from RequestReceived.
	Name, GenerateName string
	User               string
	// URI is the requestURI (its query tells fieldManager, dryRun).
	URI string
	// Client is the first source IP.
	Client string
	// Received is when the apiserver received the request (the
	// RequestReceived stage's timestamp; zero: unknown).
	Received time.Time
	// Panic: the request ended in a Panic stage.
	Panic bool
}

// Pod is the request's pod as namespace/name, namespace/generateName*, or
// namespace/ when neither is known.
func (r *Request) Pod() string {
	switch {
	case r.Name != "":
		return r.Namespace + "/" + r.Name
	case r.GenerateName != "":
		return r.Namespace + "/" + r.GenerateName + "*"
	}
	return r.Namespace + "/"
}

// String is the request for a finding's detail.
func (r *Request) String() string {
	s := "auditID=" + r.AuditID + " pod=" + r.Pod()
	if r.User != "" {
		s += " user=" + r.User
	}
	if r.URI != "" {
		s += " uri=" + r.URI
	}
	if r.Client != "" {
		s += " client=" + r.Client
	}
	if !r.Received.IsZero() {
		s += " received=" + r.Received.UTC().Format(time.RFC3339Nano)
	}
	if r.Panic {
		s += " stage=Panic"
	}
	return s
}

// StageStats are the stage-gap tracker's numbers.
type StageStats struct {
	// Pending: pod creates whose final stage is awaited.
	Pending int
	// Untracked: RequestReceived stages not followed because
	// MaxStagePending were pending. Final stages are remembered for
	// StageGap (against a RequestReceived that comes after its final
	// stage, or again), at most MaxStagePending of them.
	Untracked int
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
	case AuditSilence, StageGap:
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

	pending   map[string]*pendingStage // by auditID
	done      map[string]time.Time     // final stages before their RequestReceived, by auditID
	gaps      map[string]*gapState     // by cluster
	untracked int
	reported  int // untracked as of the last TakeUntracked
}

type pendingStage struct {
	req     Request
	cluster string
	at      time.Time // when the RequestReceived stage arrived
}

type gapState struct {
	open     bool
	since    time.Time
	count    int
	lastGap  time.Time
	complete bool // a final stage of a pod create arrived since the last gap
}

// New makes a tracker started at now.
func New(cfg Config, now time.Time) *Tracker {
	return &Tracker{cfg: cfg, started: now, audit: map[string]*silence{}, nodes: map[string]*silence{},
		pending: map[string]*pendingStage{}, done: map[string]time.Time{}, gaps: map[string]*gapState{}}
}

// StageGaps reports whether the tracker pairs audit stages (StageGap on).
func (t *Tracker) StageGaps() bool { return t.cfg.StageGap > 0 }

// Received notes the RequestReceived stage of a pod create of cluster,
// arrived at now: its final stage is awaited for Config.StageGap. A
// request seen before (a webhook's retry) is noted once.
//
// The gap condition of a cluster opens at its first request whose final
// stage did not come (at a Tick) or that ended in a Panic; more while it is
// open only add to its count. It clears at the first Tick at which a pod
// create's final stage has arrived since the last gap and no gap came for
// StageGap: the final stages flow again.
func (t *Tracker) Received(cluster string, req Request, now time.Time) {
	if t.cfg.StageGap <= 0 || req.AuditID == "" {
		return
	}
	if _, ok := t.done[req.AuditID]; ok { // its final stage came first, or this is a retry
		return
	}
	if t.pending[req.AuditID] != nil {
		return
	}
	if len(t.pending) >= MaxStagePending {
		t.untracked++
		return
	}
	t.pending[req.AuditID] = &pendingStage{req: req, cluster: cluster, at: now}
}

// Final notes the final stage (ResponseComplete, or Panic with panic set)
// of a pod create of cluster. req names the request for a Panic whose
// RequestReceived stage was not seen (only AuditID is needed otherwise).
func (t *Tracker) Final(cluster string, req Request, panic bool, now time.Time) {
	if t.cfg.StageGap <= 0 || req.AuditID == "" {
		return
	}
	p := t.pending[req.AuditID]
	if p != nil {
		delete(t.pending, req.AuditID)
		r := p.req // what the final stage knows of the pod beside it
		if r.Name == "" && r.GenerateName == "" {
			r.Name, r.GenerateName = req.Name, req.GenerateName
		}
		req, cluster = r, p.cluster
	}
	if len(t.done) < MaxStagePending { // a RequestReceived after it, or again (a retry), is not awaited
		t.done[req.AuditID] = now
	}
	if panic {
		req.Panic = true
		since := now
		if p != nil {
			since = p.at
		}
		t.gap(cluster, req, since, now)
		return
	}
	if g := t.gaps[cluster]; g != nil && g.open {
		g.complete = true
	}
}

// gap notes a request of cluster that lost its final stage.
func (t *Tracker) gap(cluster string, req Request, since, now time.Time) {
	g := t.gaps[cluster]
	if g == nil {
		g = &gapState{}
		t.gaps[cluster] = g
	}
	g.lastGap, g.complete = now, false
	if g.open {
		g.count++
		return
	}
	g.open, g.since, g.count = true, since, 1
	t.active++
	r := req
	t.alerts = append(t.alerts, Alert{Kind: StageGap, Cluster: cluster, Since: since, At: now, Count: 1, Detail: r.String(), Request: &r})
}

// tickStages finds the requests whose final stage is overdue by now and
// the gap conditions that clear.
func (t *Tracker) tickStages(now time.Time) {
	if t.cfg.StageGap <= 0 {
		return
	}
	var late []*pendingStage
	for id, p := range t.pending {
		if now.Sub(p.at) >= t.cfg.StageGap {
			late = append(late, p)
			delete(t.pending, id)
		}
	}
	sort.Slice(late, func(i, j int) bool {
		if !late[i].at.Equal(late[j].at) {
			return late[i].at.Before(late[j].at)
		}
		return late[i].req.AuditID < late[j].req.AuditID
	})
	for _, p := range late {
		t.gap(p.cluster, p.req, p.at, now)
	}
	for id, at := range t.done {
		if now.Sub(at) >= t.cfg.StageGap {
			delete(t.done, id)
		}
	}
	for _, c := range sortedKeys(t.gaps) {
		g := t.gaps[c]
		if g.open && g.complete && now.Sub(g.lastGap) >= t.cfg.StageGap {
			t.alerts = append(t.alerts, Alert{Kind: StageGap, Recovered: true, Cluster: c, Since: g.since, At: now, Count: g.count})
			g.open, g.complete, g.count = false, false, 0
			t.active--
		}
	}
}

// TakeUntracked is how many RequestReceived stages were not followed
// (MaxStagePending reached) since the last call.
func (t *Tracker) TakeUntracked() int {
	n := t.untracked - t.reported
	t.reported = t.untracked
	return n
}

// StageStats are the stage-gap tracker's numbers now.
func (t *Tracker) StageStats() StageStats {
	return StageStats{Pending: len(t.pending), Untracked: t.untracked}
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
	t.tickStages(now)
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
	for _, c := range sortedKeys(t.gaps) {
		if g := t.gaps[c]; g.open {
			out = append(out, Alert{Kind: StageGap, Cluster: c, Since: g.since, Count: g.count})
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

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
