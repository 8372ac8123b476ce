// SPDX-License-Identifier: Apache-2.0

// Package correlate joins what the API server, the scheduler, the kubelet and
// the container runtime say about a pod into one podrecord.Record per pod.
// It knows nothing of the collector: the pod_creation processor feeds it
// decoded audit events and node events and persists its state. See design.md.
package correlate

import (
	"errors"
	"fmt"
	"time"
	"unique"
)

// Sources a record can expect (Config.Expect) and report (Record.Sources,
// Record.Missing).
const (
	SourceAudit     = "audit"     // the pod create's audit event
	SourceScheduler = "scheduler" // the pods/binding audit event, or nodeName set at create
	SourceNode      = "node"      // the runtime's sandbox and the containers' start
)

// Joins, weakest last: how the record's parts were matched (Record.Join).
const (
	JoinUID           = "uid"
	JoinName          = "name"
	JoinGenerateName  = "generate_name_prefix"
	JoinNamespaceTime = "namespace_time" // Metadata level: only the namespace and the order
)

// Partial reasons (Record.Partial).
const (
	PartialWindow   = "window"
	PartialEvicted  = "evicted"
	PartialShutdown = "shutdown"
	// PartialOversize: the pod create's audit event was too large to read;
	// the record holds what the receiver salvaged (actor, namespace, name,
	// verb), marked podtrail.audit.partial=oversize on its log record.
	PartialOversize = "oversize"
)

// Config bounds the correlation state.
type Config struct {
	// Window is how long after its first event a record waits for the
	// expected sources before it is emitted as partial.
	Window time.Duration
	// DigestWait is how long a record whose expected sources have all
	// spoken still waits, when a container ran whose image digest no source
	// told yet (no digest in the spec, no pull line: the image was on the
	// node), for the kubelet's pods/status patch that carries it. It ends
	// as soon as every container that ran has a digest, and never past
	// Window. It is also how long the record of a pod deleted after it was
	// placed on a node waits for the node's lines still on their way (the
	// kubelet may run a pod deleted a moment after its binding); it ends
	// when the node has told the sandbox and a container's start. 0: no wait.
	DigestWait time.Duration
	// CreateWait is how long after its first event a pod the API server
	// knows (a kubelet status patch, a binding, a delete) but whose create
	// has not arrived waits for it, beyond Window, before it is emitted as
	// preexisting or create_unseen. The apiserver's batch audit webhook
	// retries a batch it could not deliver for about two minutes (five
	// tries, 10 s initial backoff, factor 1.5) and sends batches
	// concurrently, so while podtrail's gateway restarts a pod's create can
	// come after its later events. Such a record says nothing new to rules,
	// so waiting costs nothing; a pod that ran without any API event
	// (node_only) is not held. At most Window: no wait beyond it.
	CreateWait time.Duration
	// Expect lists the sources that make a record complete.
	Expect []string
	// MaxPending is the most pods waiting; when full, the oldest is emitted
	// as partial (evicted).
	MaxPending int
	// MaxOwners is the most workloads remembered for the attribution chain.
	MaxOwners int
	// Tombstones is how many emitted pods are remembered so that late and
	// re-delivered events are recognised instead of starting a new record.
	Tombstones int
	// MaxImages is how many node image digests are remembered (and, as a
	// bound, how many actors' recent denials).
	MaxImages int
	// DenialWindow is how long before an allowed pod create the same
	// actor's forbidden creates are reported with it (DeniedBefore). 0: off.
	DenialWindow time.Duration
	// Persistent tracks what changed for Persist. Off: no Persist, and no
	// memory spent on tracking.
	Persistent bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Window: 30 * time.Second, DigestWait: 5 * time.Second, CreateWait: 3 * time.Minute, Expect: []string{SourceAudit, SourceScheduler, SourceNode},
		MaxPending: 50_000, MaxOwners: 100_000, Tombstones: 100_000, MaxImages: 10_000, DenialWindow: 10 * time.Minute,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, errors.New("window must be positive"))
	}
	for _, s := range c.Expect {
		if s != SourceAudit && s != SourceScheduler && s != SourceNode {
			errs = append(errs, fmt.Errorf("expect: unknown source %q (audit, scheduler, node)", s))
		}
	}
	if c.DenialWindow < 0 {
		errs = append(errs, errors.New("denial_window must not be negative (0 turns it off)"))
	}
	if c.DigestWait < 0 {
		errs = append(errs, errors.New("digest_wait must not be negative (0 turns it off)"))
	}
	if c.CreateWait < 0 {
		errs = append(errs, errors.New("create_wait must not be negative"))
	}
	if c.MaxPending < 1 || c.MaxOwners < 1 || c.Tombstones < 1 || c.MaxImages < 1 {
		errs = append(errs, errors.New("max_pending, max_owners, tombstones and max_images must be at least 1"))
	}
	return errors.Join(errs...)
}

// Stats are counters since start, and the current sizes.
type Stats struct {
	Pending, Owners, Done int
	Emitted               uint64 // records emitted
	Partial               uint64 // of which partial (window, evicted, shutdown)
	Evicted               uint64 // of which evicted because MaxPending was reached
	Late                  uint64 // events for a pod whose record was already emitted
	Duplicates            uint64 // re-delivered pod create events
	Ignored               uint64 // events that say nothing about pod creation
	// DigestWaits counts the records held after their sources were complete
	// for a container's digest (Config.DigestWait), DigestWaitExpired those
	// of them emitted when the wait ended with a digest still unknown.
	DigestWaits, DigestWaitExpired uint64
	// DeleteWaits counts the records of pods deleted once placed on a node
	// before the node told their start, held for its lines (Config.DigestWait).
	DeleteWaits uint64
	// PullFailuresNoPod counts the pull failures that named no pod, only
	// the image, joined to the pods their node was starting with that image.
	PullFailuresNoPod uint64
	// Updates counts update records (Record.Update): digests the kubelet
	// reported after the record was emitted.
	Updates uint64
	// Preexisting counts records of pods created before podtrail started
	// (OriginPreexisting).
	Preexisting uint64
	// CreateWaits counts the pods held past Window for their create
	// (Config.CreateWait), CreateLate those of them whose create came.
	CreateWaits, CreateLate uint64
	// CreateUnseen counts records of pods bound while podtrail watched
	// whose create never arrived (OriginCreateUnseen).
	CreateUnseen uint64
	// SeenRunning counts pods that only node lines named, none of them a
	// runtime's sandbox start or a static pod, and no API event: pods that
	// ran before podtrail started (a kubelet restart names them all), of
	// which podtrail saw no creation. They make no record.
	SeenRunning uint64
	// FailedCreates counts records of pod creates the API server refused
	// for another reason than the authorizer's (podrecord.OutcomeFailed);
	// MirrorExists the kubelet's creates of a static pod's mirror pod that
	// found it there already (409 AlreadyExists, as after a kubelet
	// restart): no record.
	FailedCreates, MirrorExists uint64
}

// entry is one pod, pending or a tombstone. Between the public calls it is
// packed (see packed), but for the last few touched; an event that touches
// it opens it (Correlator.open), and settle packs it again.
type entry struct {
	ID    string
	First time.Time // processing time of the first event
	// The pod's namespace, name and uid while packed; opened, the record's
	// are the current ones (see the accessors).
	ns        unique.Handle[string]
	name, uid string
	done      bool
	hasAudit  bool
	// bound is true when the create named the node (spec.nodeName): no
	// scheduler involved.
	bound bool
	// listed: in Correlator.nameless or Correlator.unjoined
	listed bool
	// apiSeen: an audit event other than the create named the pod (kubelet
	// status, binding, delete), or the kubelet said it got the pod from the
	// API server: the API server knows it.
	apiSeen bool
	// ranSandbox: a container runtime (not the kubelet) said it started a
	// sandbox for the pod: with no API event, what a pod run outside the
	// API looks like.
	ranSandbox bool
	// watched: the scheduler bound the pod later than the window after
	// podtrail started: without a create it is OriginCreateUnseen, not
	// OriginPreexisting.
	watched bool
	// digestBy is when the wait for a container's digest ends (processing
	// time); zero when the entry is not waiting (Correlator.waiting).
	digestBy time.Time

	o  *open // non-nil while opened
	pk packed
}

// Accessors that read a packed entry without unpacking it.

func (e *entry) namespace() string {
	if e.o != nil {
		return e.o.rec.Namespace
	}
	return groupValue(e.ns)
}

func (e *entry) podName() string {
	if e.o != nil {
		return e.o.rec.Name
	}
	return e.name
}

func (e *entry) podUID() string {
	if e.o != nil {
		return e.o.rec.UID
	}
	return e.uid
}

func (e *entry) mirror() string {
	if e.o != nil {
		return e.o.mirror
	}
	d := dec{s: e.pk.data, e: e}
	return d.str() // packed first
}

func (e *entry) generateName() string {
	if e.o != nil {
		return e.o.rec.GenerateName
	}
	d := dec{s: groupValue(e.pk.groups[groupSpec]), e: e}
	return d.str() // packed first
}

func (e *entry) origin() string {
	if e.o != nil {
		return e.o.rec.Origin
	}
	d := dec{s: groupValue(e.pk.groups[groupState]), e: e}
	return d.str() // packed first
}

// auditID is the audit id the entry's id was made of, if it was (a/<id>).
func (e *entry) auditID() string {
	if len(e.ID) > 2 && e.ID[:2] == "a/" {
		return e.ID[2:]
	}
	return ""
}

// nameKey is namespace/name, as Correlator.byName keys it.
type nameKey struct{ ns, name string }

// Correlator holds the pending pods, the workloads and the tombstones. It is
// not safe for concurrent use.
type Correlator struct {
	cfg    Config
	expect [3]bool

	entries   map[string]*entry // by ID
	ids       shardSet          // entry IDs by persistence shard
	byUID     map[string]*entry
	byName    map[nameKey]*entry
	byAudit   map[string]*entry // pod create auditID
	bySandbox map[string]*entry
	byCtr     map[string]*entry // container id
	pending   fifo              // by First
	nameless  candidates        // API creates without the pod's name
	unjoined  candidates        // pods without an API create, by name
	nPending  int
	// waiting are the entries complete but for a container's digest, in the
	// order of digestBy (DigestWait is the same for all).
	waiting fifo
	// createWaiting are the entries the API server knows whose create has
	// not come, past Window, in the order of First; they are emitted at
	// First+CreateWait (Config.CreateWait). They are no longer in pending.
	createWaiting fifo
	// pullWait lists, per node, the pending entries whose sandbox the node
	// started: where a pull failure that names no pod is joined (pullfail.go).
	pullWait map[string][]*entry
	// now is the processing time of the public call under way.
	now time.Time
	// started is the processing time of the first call: a pod the scheduler
	// binds later than Window after it was created while podtrail watched.
	started  time.Time
	done     []*entry // ring of tombstones
	doneNext int
	nDone    int

	owners  *owners
	images  *images
	orphans *orphans
	denials *denials

	stats Stats
	dirty map[string]bool // entry IDs changed since the last Persist

	// opened are the open entries, oldest first; settle packs all but the
	// last keepOpen.
	opened   []*entry
	keepOpen int
	free     []*open // opens to use again
	packer   packer
}

// keepOpen is how many entries stay open between calls (Correlator.settle).
const keepOpen = 128

// New returns an empty Correlator.
func New(cfg Config) *Correlator {
	c := &Correlator{
		cfg:     cfg,
		entries: map[string]*entry{}, byUID: map[string]*entry{}, byName: map[nameKey]*entry{},
		byAudit: map[string]*entry{}, bySandbox: map[string]*entry{}, byCtr: map[string]*entry{},
		nameless: candidates{}, unjoined: candidates{},
		done:   make([]*entry, cfg.Tombstones),
		owners: newOwners(cfg.MaxOwners, cfg.Persistent), images: newImages(cfg.MaxImages, cfg.Persistent), orphans: newOrphans(cfg.MaxImages),
		denials: newDenials(cfg.MaxImages, cfg.DenialWindow),
		dirty:   map[string]bool{},
		free:    make([]*open, 0, 16), keepOpen: keepOpen,
	}
	for _, s := range cfg.Expect {
		switch s {
		case SourceAudit:
			c.expect[0] = true
		case SourceScheduler:
			c.expect[1] = true
		case SourceNode:
			c.expect[2] = true
		}
	}
	return c
}

// Stats returns the counters and sizes.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Pending, s.Owners, s.Done = c.nPending, c.owners.len(), c.nDone
	return s
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func removeString(ss *[]string, s string) {
	out := (*ss)[:0]
	for _, x := range *ss {
		if x != s {
			out = append(out, x)
		}
	}
	*ss = out
}

// at starts a public call at processing time now.
func (c *Correlator) at(now time.Time) {
	c.now = now
	if c.started.IsZero() {
		c.started = now
	}
}
