// Package correlate joins what the API server, the scheduler, the kubelet and
// the container runtime say about a pod into one podrecord.Record per pod.
// It knows nothing of the collector: the pod_creation processor feeds it
// decoded audit events and node events and persists its state. See design.md.
package correlate

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
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
	// Window. 0: no wait.
	DigestWait time.Duration
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
		Window: 30 * time.Second, DigestWait: 5 * time.Second, Expect: []string{SourceAudit, SourceScheduler, SourceNode},
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
	// Updates counts update records (Record.Update): digests the kubelet
	// reported after the record was emitted.
	Updates uint64
	// Preexisting counts records of pods created before podtrail started
	// (OriginPreexisting).
	Preexisting uint64
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
	pending   []*entry          // FIFO by First; Done entries are skipped
	nameless  candidates        // API creates without the pod's name
	unjoined  candidates        // pods without an API create, by name
	head      int
	nPending  int
	// waiting are the entries complete but for a container's digest, in the
	// order of digestBy (DigestWait is the same for all), from waitHead.
	waiting  []*entry
	waitHead int
	// now is the processing time of the public call under way.
	now      time.Time
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

// AddAudit takes one audit event and returns the records it completed.
func (c *Correlator) AddAudit(ev *audit.Event, now time.Time) []*podrecord.Record {
	c.now = now
	out := c.addAudit(ev, now)
	c.settle()
	return out
}

// AddAuditPartial takes an audit event the receiver could read only part
// of, for reason (PartialOversize: an event over the input's size limit,
// salvaged as who, what, which object, and the answer and times when they
// could be read; never the request and response objects). A pod create
// becomes a record marked Partial=reason that joins the node's events by
// namespace and name; other events count for what they still say.
func (c *Correlator) AddAuditPartial(ev *audit.Event, reason string, now time.Time) []*podrecord.Record {
	c.now = now
	var out []*podrecord.Record
	if reason == "" {
		out = c.addAudit(ev, now)
	} else {
		out = c.addAuditAs(ev, reason, now)
	}
	c.settle()
	return out
}

func (c *Correlator) addAudit(ev *audit.Event, now time.Time) []*podrecord.Record {
	return c.addAuditAs(ev, "", now)
}

func (c *Correlator) addAuditAs(ev *audit.Event, partial string, now time.Time) []*podrecord.Record {
	if !ev.IsFinal() || ev.ObjectRef == nil {
		c.stats.Ignored++
		return nil
	}
	res, sub, _, _ := ev.Resource()
	ok := ev.Code() >= 200 && ev.Code() < 300
	switch {
	case res == "pods" && ev.ObjectRef.APIGroup == "" && sub == "" && ev.Verb == "create":
		return c.podCreate(ev, partial, now)
	case res == "pods" && sub == "binding" && ev.Verb == "create" && ok:
		return c.binding(ev, now)
	case res == "pods" && sub == "status" && (ev.Verb == "patch" || ev.Verb == "update") && ok:
		return c.podStatus(ev, now)
	case res == "pods" && sub == "" && ev.Verb == "delete" && ok:
		return c.podDelete(ev, now)
	case podrecord.WorkloadKinds[res] != "" && sub == "" && ok &&
		(ev.Verb == "create" || ev.Verb == "update" || ev.Verb == "patch"):
		c.owners.observe(ev)
		return nil
	}
	c.stats.Ignored++
	return nil
}

func (c *Correlator) podCreate(ev *audit.Event, partial string, now time.Time) []*podrecord.Record {
	rec, err := podrecord.FromAudit(ev)
	if err != nil {
		c.stats.Ignored++
		return nil
	}
	if partial != "" {
		markPartial(rec, partial)
	}
	if e := c.byAudit[ev.AuditID]; e != nil {
		if partial == "" && !e.done && c.open(e).rec.Partial == PartialOversize {
			// The whole event after a salvaged part of it (two inputs, a
			// retry with a larger limit): the record becomes whole.
			return c.completeCreate(e, rec)
		}
		c.stats.Duplicates++
		return nil
	}
	// The entry keeps these past the call (its indexes' keys): copies, as
	// a decoded event's strings may be pieces of its whole JSON. The rest
	// is copied when the entry is packed.
	rec.Name, rec.UID = strings.Clone(rec.Name), strings.Clone(rec.UID)
	unknown := outcomeUnknown(rec)
	if !rec.Allowed && !unknown {
		return c.refusedCreate(ev, rec, now)
	}
	if rec.Allowed {
		rec.DeniedBefore = c.denials.before(rec.Actor.Username, rec.RequestedAt)
	}
	var e *entry
	join := JoinUID
	if rec.UID != "" || rec.Name != "" {
		c.unite(rec.UID, rec.Namespace, rec.Name)
		e = c.find(rec.UID, rec.Namespace, rec.Name, "", "")
		if e != nil && e.hasAudit {
			// Another create of the same pod name (a StatefulSet pod made
			// again): the old one is a different pod.
			if rec.UID == "" || e.podUID() != rec.UID {
				e = nil
			}
		}
		if e != nil && e.done && rec.UID != "" && e.podUID() != rec.UID && e.mirror() != rec.UID {
			// An emitted pod without a create, known by its name alone (the
			// kubelet named it): a create with a uid is of a new pod.
			e = nil
		}
		if e == nil {
			// A mirror pod: the node knows its static pod by the config
			// hash, not by the API's uid.
			if h := staticHash(rec.Annotations); h != "" {
				if x := c.byUID[h]; x != nil && !x.hasAudit {
					e = x
				}
			}
		}
		if e != nil && rec.UID == "" {
			join = JoinName
		}
	} else if rec.Allowed || unknown {
		// Below RequestResponse: the generated name is unknown. A pod of
		// this namespace and prefix seen on the node joins it, now or later.
		join = JoinGenerateName
		if rec.GenerateName == "" {
			join = JoinNamespaceTime
		}
		e = c.unclaimed(rec.Namespace, rec.GenerateName)
	}
	if e != nil && e.done {
		c.stats.Late++
		return nil
	}
	var auditID string
	if e == nil {
		e = c.newEntry("a/"+ev.AuditID, now)
		if id := e.auditID(); id == ev.AuditID {
			auditID = id // one copy of the id for the entry, its record and the index
			rec.AuditID = id
		}
		e.o.rec = *rec
	} else {
		c.open(e)
		mergeAuditInto(e, rec)
	}
	o := e.o
	e.hasAudit = true
	e.bound = e.bound || rec.Node != ""
	if auditID == "" {
		auditID = strings.Clone(ev.AuditID)
	}
	o.auditIDs = append(o.auditIDs, auditID)
	if o.rec.Join == "" || join != JoinUID {
		o.rec.Join = join
	}
	if m := staticHash(o.rec.Annotations); m != "" {
		if m != o.mirror {
			o.mirror = strings.Clone(m)
		}
		o.rec.Origin = podrecord.OriginStatic
	}
	c.index(e)
	c.touch(e)
	c.list(e)
	return c.check(e)
}

// refusedCreate takes a pod create the API server did not store: refused
// by the authorizer (forbidden), or for another reason (failed: 409
// AlreadyExists, 422 Invalid, an admission plugin, 5xx). Nothing was
// created, so it joins no pod: a node's lines or another create of the same
// name are of another pod. Its record goes out at once; a refusal (403) is
// remembered for the actor's next allowed create (DeniedBefore). The
// kubelet's create of its static pod's mirror pod that finds it there
// already (409, as after every kubelet restart) makes no record: it says
// the API server has the mirror pod.
func (c *Correlator) refusedCreate(ev *audit.Event, rec *podrecord.Record, now time.Time) []*podrecord.Record {
	if h := staticHash(rec.Annotations); h != "" && rec.Code == 409 && rec.Actor.Kind == podrecord.ActorNode {
		c.stats.MirrorExists++
		node, _ := strings.CutPrefix(rec.Actor.Username, "system:node:")
		e := c.byUID[h]
		if e == nil {
			e = c.find("", rec.Namespace, rec.Name, "", "")
		}
		if e != nil && !e.done && !e.hasAudit {
			if n := c.open(e).rec.Node; n == "" || n == node {
				e.apiSeen = true
				c.touch(e)
			}
		}
		return nil
	}
	if rec.Decision == podrecord.DecisionForbid || rec.Code == 403 {
		c.denials.add(rec)
	}
	if rec.Decision != podrecord.DecisionForbid {
		c.stats.FailedCreates++
	}
	e := c.newEntry("a/"+ev.AuditID, now)
	auditID := e.auditID()
	if auditID != ev.AuditID {
		auditID = strings.Clone(ev.AuditID)
	}
	rec.AuditID = auditID
	e.o.rec = *rec
	e.o.rec.Join = ""
	e.o.auditIDs = append(e.o.auditIDs, auditID)
	e.hasAudit = true
	c.byAudit[auditID] = e // only: nothing else may find it
	c.touch(e)
	out := c.emit(e, "")
	// The tombstone keeps the audit id (re-deliveries are duplicates), not
	// the name or uid the request named.
	e.o.rec.Name, e.o.rec.UID = "", ""
	return out
}

// markPartial marks the record of a pod create whose audit event was read
// only in part: what the objects would have told is missing.
func markPartial(r *podrecord.Record, reason string) {
	r.Partial = reason
	add := func(m string) {
		if !contains(r.Missing, m) {
			r.Missing = append(r.Missing, m)
		}
	}
	if r.Code == 0 || r.Allowed {
		add(podrecord.MissingPodSpec)
		add(podrecord.MissingUID)
		if r.Name == "" {
			add(podrecord.MissingGeneratedName)
		}
	}
}

// outcomeUnknown reports whether r is a create read in part whose answer
// (responseStatus) was lost: the pod may exist. Node and API events that
// name it later tell (finish).
func outcomeUnknown(r *podrecord.Record) bool {
	return r.Partial == PartialOversize && r.Code == 0 && !r.Allowed
}

// completeCreate puts the whole create event's record into e, which a
// salvaged part of the same event started.
func (c *Correlator) completeCreate(e *entry, rec *podrecord.Record) []*podrecord.Record {
	rec.Name, rec.UID = strings.Clone(rec.Name), strings.Clone(rec.UID)
	rec.AuditID = e.o.rec.AuditID
	if rec.Allowed {
		rec.DeniedBefore = c.denials.before(rec.Actor.Username, rec.RequestedAt)
	}
	join := e.o.rec.Join
	mergeAuditInto(e, rec)
	r := &e.o.rec
	if join != JoinGenerateName && join != JoinNamespaceTime || r.UID != "" {
		join = JoinUID
	}
	r.Join = join
	e.bound = e.bound || rec.Node != ""
	if m := staticHash(r.Annotations); m != "" {
		e.o.mirror = strings.Clone(m)
		r.Origin = podrecord.OriginStatic
	}
	c.index(e)
	c.touch(e)
	if !r.Allowed {
		return c.emit(e, "")
	}
	return c.check(e)
}

// mergeAuditInto puts the API's view of a pod into an entry that node events
// started, keeping what the node said.
func mergeAuditInto(e *entry, rec *podrecord.Record) {
	node := e.o.rec
	e.o.rec = *rec
	r := &e.o.rec
	if node.Origin == podrecord.OriginStatic {
		r.Origin = podrecord.OriginStatic
	}
	if r.Node == "" {
		r.Node = node.Node
	}
	r.ScheduledAt, r.Sandbox, r.StartedAt, r.DeletedAt = node.ScheduledAt, node.Sandbox, node.StartedAt, node.DeletedAt
	r.PullFailures = node.PullFailures
	for _, s := range node.Sources {
		addSource(r, s)
	}
	for _, nc := range e.o.nodeContainers {
		mergeContainer(r, nc)
	}
	if r.UID == "" && node.UID != "" {
		r.UID = node.UID
		removeString(&r.Missing, podrecord.MissingUID)
	}
	if r.Name == "" && node.Name != "" {
		r.Name = node.Name
		removeString(&r.Missing, podrecord.MissingGeneratedName)
	}
}

func (c *Correlator) binding(ev *audit.Event, now time.Time) []*podrecord.Record {
	_, _, ns, name := ev.Resource()
	b, _ := audit.DecodeBinding(ev.RequestObject)
	uid := ev.ObjectRef.UID
	node := ""
	if b != nil {
		node = b.Target.Name
		if uid == "" {
			uid = b.Metadata.UID
		}
		if name == "" {
			name = b.Metadata.Name
		}
	}
	e, late := c.lookupOrCreateAPI(uid, ns, name, node, now)
	if late {
		return nil
	}
	e.apiSeen = true
	r := &e.o.rec
	if r.ScheduledAt.IsZero() {
		r.ScheduledAt = ev.StageTimestamp
	}
	if node != "" {
		r.Node = node
	}
	addSource(r, SourceScheduler)
	c.touch(e)
	return c.check(e)
}

// podStatus takes the kubelet's status updates: container ids, the image
// digests it resolved, start times. The kubelet sends a strategic merge
// patch whose containerStatuses list is whole (the list is atomic) with the
// pod's uid as precondition: at the Request audit level requestObject has
// them, at RequestResponse responseObject too (the whole pod).
func (c *Correlator) podStatus(ev *audit.Event, now time.Time) []*podrecord.Record {
	_, _, ns, name := ev.Resource()
	pod, _ := audit.DecodePod(ev.ResponseObject)
	if pod == nil {
		pod, _ = audit.DecodePod(ev.RequestObject)
	}
	if pod == nil {
		c.stats.Ignored++
		return nil
	}
	uid := ev.ObjectRef.UID
	if uid == "" {
		uid = pod.Metadata.UID
	}
	node, _ := strings.CutPrefix(ev.User.Username, "system:node:")
	if node == ev.User.Username {
		node = ""
	}
	c.unite(uid, ns, name)
	if e := c.find(uid, ns, name, "", ""); e != nil && e.done {
		return c.statusAfterEmit(e, ev, pod)
	}
	if h := staticHash(pod.Metadata.Annotations); h != "" && uid != "" && c.byUID[uid] == nil {
		// A mirror pod's status (RequestResponse: the stored pod and its
		// annotations): its static pod is known on the node by the hash.
		if x := c.byUID[h]; x != nil && !x.hasAudit && !x.done {
			c.adoptAPIUID(c.open(x), uid)
		}
	}
	e, late := c.lookupOrCreateAPI(uid, ns, name, node, now)
	if late {
		return nil
	}
	for _, list := range [][]audit.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			ctr := statusContainer(&list[i])
			if t := list[i].Started(); t != nil {
				ctr.StartedAt = *t
			}
			c.addContainer(e, ctr)
		}
	}
	if node != "" && e.o.rec.Node == "" {
		e.o.rec.Node = node
	}
	e.apiSeen = true
	addSource(&e.o.rec, "kubelet")
	c.touch(e)
	return c.check(e)
}

// statusContainer is what a container status says of the image that ran:
// its repo digest, or (an image without one) its image id.
func statusContainer(cs *audit.ContainerStatus) podrecord.Container {
	ctr := podrecord.Container{Name: cs.Name, Image: cs.Image, ID: stripRuntime(cs.ContainerID)}
	if d := digestOf(cs.ImageID); d != "" {
		ctr.Digest, ctr.DigestSource = d, podrecord.DigestKubeletStatus
	} else if id := imageIDOf(cs.ImageID); id != "" {
		ctr.ImageID, ctr.DigestSource = id, podrecord.DigestKubeletStatus
	}
	return ctr
}

// statusAfterEmit takes a kubelet status for a pod whose record was
// emitted. When it tells the digests of containers the record lacked, it
// makes an update record (podrecord.UpdateDigest) with them, once per
// container; otherwise the event is late.
func (c *Correlator) statusAfterEmit(e *entry, ev *audit.Event, pod *audit.Pod) []*podrecord.Record {
	o := c.open(e)
	if len(o.undigested) == 0 {
		c.stats.Late++
		return nil
	}
	var got []podrecord.Container
	for _, list := range [][]audit.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if !contains(o.undigested, list[i].Name) {
				continue
			}
			ctr := statusContainer(&list[i])
			if ctr.Digest == "" && ctr.ImageID == "" {
				continue
			}
			if t := list[i].Started(); t != nil {
				ctr.StartedAt = *t
			}
			ctr.Name, ctr.Image, ctr.ID = strings.Clone(ctr.Name), strings.Clone(ctr.Image), strings.Clone(ctr.ID)
			ctr.Digest, ctr.ImageID = strings.Clone(ctr.Digest), strings.Clone(ctr.ImageID)
			got = append(got, ctr)
			removeString(&o.undigested, ctr.Name)
		}
	}
	if len(got) == 0 {
		c.stats.Late++
		return nil
	}
	u := &podrecord.Record{
		Update: podrecord.UpdateDigest, Namespace: e.namespace(), Name: e.podName(), UID: e.podUID(),
		Containers: got, Sources: []string{string(noderuntime.SourceKubelet)},
		RequestedAt: ev.RequestReceivedTimestamp, CompletedAt: ev.StageTimestamp,
	}
	if len(o.auditIDs) > 0 {
		u.AuditID = o.auditIDs[0]
	}
	if n, ok := strings.CutPrefix(ev.User.Username, "system:node:"); ok {
		u.Node = strings.Clone(n)
	}
	c.stats.Updates++
	c.touch(e)
	return []*podrecord.Record{u}
}

func (c *Correlator) podDelete(ev *audit.Event, now time.Time) []*podrecord.Record {
	_, _, ns, name := ev.Resource()
	e := c.find(ev.ObjectRef.UID, ns, name, "", "")
	if e == nil {
		c.stats.Ignored++ // a pod created before we started
		return nil
	}
	if e.done {
		c.stats.Late++
		return nil
	}
	if r := &c.open(e).rec; r.DeletedAt.IsZero() {
		r.DeletedAt = ev.StageTimestamp
	}
	e.apiSeen = true
	c.touch(e)
	// A deleted pod will not complete: emit what is known, with its lifetime.
	return c.emit(e, "")
}

// AddNode takes one node event and returns the records it completed.
func (c *Correlator) AddNode(ev *noderuntime.Event, now time.Time) []*podrecord.Record {
	c.now = now
	out := c.addNode(ev, now)
	c.settle()
	return out
}

func (c *Correlator) addNode(ev *noderuntime.Event, now time.Time) []*podrecord.Record {
	switch ev.Kind {
	case noderuntime.KindImagePulled, noderuntime.KindImagePresent:
		c.images.observe(ev)
		return nil
	}
	if ev.PodUID == "" && ev.PodName == "" && ev.SandboxID == "" && ev.ContainerID == "" {
		c.stats.Ignored++
		return nil
	}
	var e *entry
	if ev.PodUID == "" && ev.PodName == "" {
		// Only ids: belongs to a pod we know by its sandbox or container.
		e = c.find("", "", "", ev.SandboxID, ev.ContainerID)
		if e == nil {
			// Its sandbox or container may be named by a line still to
			// come (another source, or out of order): keep it a while.
			c.orphans.add(ev)
			return nil
		}
		if e.done {
			c.stats.Late++
			return nil
		}
		c.open(e)
	} else if fromAPI := ev.Kind == noderuntime.KindPodAdmitted && ev.PodSource == "api"; fromAPI {
		// The kubelet got the pod from the API server ("SyncLoop ADD"
		// source="api"): the API server knows it, as a status patch says.
		// Like one, it does not join a pod only another node reported.
		var late bool
		if e, late = c.lookupOrCreateAPI(ev.PodUID, ev.PodNamespace, ev.PodName, ev.Node, now); late {
			return nil
		}
		e.apiSeen = true
	} else {
		var late bool
		if runtimeStart(ev) && ev.PodUID != "" && ev.PodName != "" && c.byUID[ev.PodUID] == nil {
			if x := c.byName[nameKey{ev.PodNamespace, ev.PodName}]; x != nil && x.done && x.podUID() == "" && c.bySandbox[ev.SandboxID] == nil {
				// A sandbox a runtime starts under the name of a pod whose
				// record went out by its name alone: the uid tells nothing
				// of the two being one; a pod run by hand under an old
				// pod's name must not read as late.
				e = c.create(podrecord.OriginNodeOnly, ev.PodUID, ev.PodNamespace, ev.PodName, ev.SandboxID, now)
			}
		}
		if e == nil {
			if e, late = c.lookupOrCreate(podrecord.OriginNodeOnly, ev.PodUID, ev.PodNamespace, ev.PodName, ev.SandboxID, ev.ContainerID, now); late {
				return nil
			}
		}
	}
	o := e.o
	r := &o.rec
	if runtimeStart(ev) {
		e.ranSandbox = true
	}
	if r.Node == "" {
		r.Node = ev.Node
	}
	if ev.Source != noderuntime.SourceKubelet {
		r.Sandbox.Runtime = string(ev.Source)
		if ev.RuntimeVersion != "" {
			r.Sandbox.RuntimeVersion = ev.RuntimeVersion
		}
	}
	addSource(r, string(ev.Source))
	switch ev.Kind {
	case noderuntime.KindStaticPodSeen:
		r.Origin = podrecord.OriginStatic
		if ev.PodUID != "" && ev.PodUID != o.mirror {
			o.mirror = strings.Clone(ev.PodUID)
		}
	case noderuntime.KindSandboxRequested:
		if r.Sandbox.RequestedAt.IsZero() || ev.Time.Before(r.Sandbox.RequestedAt) {
			r.Sandbox.RequestedAt = ev.Time
		}
		if ev.Error != "" {
			r.Sandbox.Attempts++
			r.Sandbox.Error = strings.Clone(ev.Error)
		}
	case noderuntime.KindSandboxReady:
		if id := ev.SandboxID; id != "" {
			if i := slices.Index(o.sandboxes, id); i >= 0 {
				id = o.sandboxes[i]
			} else {
				id = strings.Clone(id)
				o.sandboxes = append(o.sandboxes, id)
			}
			if r.Sandbox.ID == "" {
				r.Sandbox.ID = id
			}
		}
		if r.Sandbox.ReadyAt.IsZero() {
			r.Sandbox.ReadyAt = ev.Time
		}
	case noderuntime.KindContainerCreated, noderuntime.KindContainerStarted:
		name := ev.ContainerName
		if name == "" {
			name = containerName(e, ev.ContainerID) // "StartContainer for <id>" names no container
		}
		if name == "" || name == "POD" || ev.ContainerID != "" && contains(o.sandboxes, ev.ContainerID) {
			break
		}
		ctr := podrecord.Container{Name: name, Image: ev.Image, ID: ev.ContainerID}
		if ev.Kind == noderuntime.KindContainerStarted {
			ctr.StartedAt = ev.Time
		}
		c.addContainer(e, ctr)
	case noderuntime.KindContainerFailed, noderuntime.KindImagePullFailed:
		name := ev.ContainerName
		if name == "" {
			name = containerName(e, ev.ContainerID)
		}
		if ev.Kind == noderuntime.KindImagePullFailed && ev.Image != "" {
			addPullFailure(r, podrecord.PullFailure{Image: ev.Image, Container: name, Error: ev.Error, Reason: ev.Reason})
		}
		if name == "" || name == "POD" || ev.ContainerID != "" && contains(o.sandboxes, ev.ContainerID) {
			break
		}
		// The image a pull failed for is the one the node tried, not
		// necessarily the spec's (a spec not known yet): it names the
		// container only when nothing else does.
		ctr := podrecord.Container{Name: name, ID: ev.ContainerID, Error: strings.Clone(ev.Error), Reason: strings.Clone(ev.Reason)}
		if ev.Kind == noderuntime.KindImagePullFailed {
			ctr.Image = ev.Image
		}
		c.addContainer(e, ctr)
	}
	c.index(e)
	c.touch(e)
	out := c.check(e)
	// Lines that named only ids of this pod and came before it was known.
	if c.orphans.n > 0 {
		for _, id := range o.sandboxes {
			out = c.replay(id, now, out)
		}
		for _, list := range [][]podrecord.Container{o.rec.Containers, o.nodeContainers} {
			for _, ctr := range list {
				out = c.replay(ctr.ID, now, out)
			}
		}
	}
	return out
}

// runtimeStart reports whether ev is a container runtime's (not the
// kubelet's) start of a pod sandbox: containerd's RunPodSandbox, CRI-O's
// Running pod sandbox, cri-dockerd's.
func runtimeStart(ev *noderuntime.Event) bool {
	return ev.Source != noderuntime.SourceKubelet && (ev.Kind == noderuntime.KindSandboxRequested || ev.Kind == noderuntime.KindSandboxReady)
}

func (c *Correlator) replay(id string, now time.Time, out []*podrecord.Record) []*podrecord.Record {
	if id == "" {
		return out
	}
	for _, o := range c.orphans.take(id) {
		out = append(out, c.addNode(o, now)...)
	}
	return out
}

func containerName(e *entry, id string) string {
	if id == "" {
		return ""
	}
	for _, list := range [][]podrecord.Container{e.o.rec.Containers, e.o.nodeContainers} {
		for _, c := range list {
			if c.ID == id {
				return c.Name
			}
		}
	}
	return ""
}

// lookupOrCreateAPI is lookupOrCreate for an audit event other than the
// create (binding, kubelet status) that names the node the pod is on. A
// pod only a node reported, on another node, is another pod of the same
// name (a sandbox run by hand, named after an API pod): it stays apart.
func (c *Correlator) lookupOrCreateAPI(uid, ns, name, node string, now time.Time) (*entry, bool) {
	c.unite(uid, ns, name)
	if node != "" {
		if e := c.find(uid, ns, name, "", ""); e != nil && !e.done && !e.hasAudit && (uid == "" || e.podUID() != uid) {
			if n := c.open(e).rec.Node; n != "" && n != node {
				return c.create(podrecord.OriginAPI, uid, ns, name, "", now), false
			}
		}
	}
	return c.lookupOrCreate(podrecord.OriginAPI, uid, ns, name, "", "", now)
}

// unite makes one entry of two pending ones that an event naming the pod
// by uid and by namespace/name shows to be the same pod: one a line named
// by the uid alone ("Generic (PLEG): container finished" podID=...), the
// other by the name alone ("SyncLoop ADD" source="api" pods=[ns/name]).
// They are another pod's when their uids or names differ, when both have a
// create, or when they are on different nodes.
func (c *Correlator) unite(uid, ns, name string) {
	if uid == "" || name == "" {
		return
	}
	a, b := c.byUID[uid], c.byName[nameKey{ns, name}]
	if a == nil || b == nil || a == b || a.done || a.hasAudit && b.hasAudit {
		return
	}
	if b.done {
		// The pod's record went out known by its name alone (a delete came
		// before any line with its uid): what its uid's entry holds is
		// late, and the tombstone learns the uid. Not a sandbox a runtime
		// started, nor a create: those are of a new pod of the name.
		if u := b.podUID(); u == "" && !a.hasAudit && !a.ranSandbox && !b.hasAudit {
			if n := a.podName(); n == "" || n == name && a.namespace() == ns {
				c.open(a)
				c.forget(a)
				c.stats.Late++
				c.open(b).rec.UID = strings.Clone(uid)
				c.index(b)
				c.touch(b)
			}
		}
		return
	}
	if u := b.podUID(); u != "" && u != uid && b.mirror() != uid {
		// A static pod's config hash and its mirror pod's API uid, neither
		// with a create (the mirror pod made before podtrail started).
		if a.hasAudit || b.hasAudit || a.mirror() != "" && a.mirror() != uid || b.mirror() != "" || isConfigHash(u) == isConfigHash(uid) {
			return
		}
	}
	if n := a.podName(); n != "" && (n != name || a.namespace() != ns) {
		return
	}
	if na, nb := c.open(a).rec.Node, c.open(b).rec.Node; na != "" && nb != "" && na != nb {
		return
	}
	dst, src := a, b
	if b.hasAudit || !a.hasAudit && b.First.Before(a.First) {
		dst, src = b, a
	}
	c.absorb(dst, src)
}

// absorb moves what src (pending, opened) knows of its pod into dst
// (pending, opened; src has no create) and forgets src.
func (c *Correlator) absorb(dst, src *entry) {
	so := c.forget(src)
	s := &so.rec

	do := dst.o
	d := &do.rec
	if d.Node == "" {
		d.Node = s.Node
	}
	if s.Origin == podrecord.OriginStatic {
		d.Origin = podrecord.OriginStatic
	}
	sb, ssb := &d.Sandbox, &s.Sandbox
	if sb.ID == "" {
		sb.ID = ssb.ID
	}
	if sb.Runtime == "" {
		sb.Runtime, sb.RuntimeVersion = ssb.Runtime, ssb.RuntimeVersion
	}
	if sb.RequestedAt.IsZero() || !ssb.RequestedAt.IsZero() && ssb.RequestedAt.Before(sb.RequestedAt) {
		if !ssb.RequestedAt.IsZero() {
			sb.RequestedAt = ssb.RequestedAt
		}
	}
	if sb.ReadyAt.IsZero() {
		sb.ReadyAt = ssb.ReadyAt
	}
	sb.Attempts += ssb.Attempts
	if sb.Error == "" {
		sb.Error = ssb.Error
	}
	for _, f := range s.PullFailures {
		addPullFailure(d, f)
	}
	for _, t := range []struct{ d, s *time.Time }{{&d.ScheduledAt, &s.ScheduledAt}, {&d.StartedAt, &s.StartedAt}, {&d.DeletedAt, &s.DeletedAt}} {
		if t.d.IsZero() {
			*t.d = *t.s
		}
	}
	for _, x := range s.Sources {
		addSource(d, x)
	}
	for _, id := range so.sandboxes {
		if !contains(do.sandboxes, id) {
			do.sandboxes = append(do.sandboxes, id)
		}
	}
	for _, list := range [][]podrecord.Container{s.Containers, so.nodeContainers} {
		for _, ctr := range list {
			c.addContainer(dst, ctr)
		}
	}
	dst.apiSeen = dst.apiSeen || src.apiSeen
	dst.bound = dst.bound || src.bound
	dst.ranSandbox = dst.ranSandbox || src.ranSandbox
	origin := ""
	if s.UID != "" && !isConfigHash(s.UID) {
		origin = podrecord.OriginAPI // the API's uid of a static pod's mirror pod replaces the hash
	}
	if so.mirror != "" && do.mirror == "" && so.mirror != d.UID {
		do.mirror = so.mirror
	}
	c.fill(dst, s.UID, s.Namespace, s.Name, "", origin)
	c.touch(dst)
}

// forget drops pending entry e (opened) without a record: out of the
// indexes, the candidates and the state; where it is queued (pending,
// waiting) it is skipped as done. It returns what e held.
func (c *Correlator) forget(e *entry) *open {
	o := e.o
	c.unindex(e)
	if e.listed {
		c.nameless.remove(e)
		c.unjoined.remove(e)
		e.listed = false
	}
	e.done = true
	delete(c.entries, e.ID)
	if c.cfg.Persistent {
		c.ids.remove(e.ID)
		c.dirty[e.ID] = true
	}
	c.nPending--
	return o
}

// adoptAPIUID makes uid, the API's uid of a static pod's mirror pod, the
// uid of o, which the node knew by the static pod's config hash.
func (c *Correlator) adoptAPIUID(o *open, uid string) {
	r := &o.rec
	if r.UID == uid || uid == "" {
		return
	}
	if r.UID != "" && o.mirror == "" {
		o.mirror = r.UID // the config hash: stays indexed
	}
	r.UID = strings.Clone(uid)
	r.Origin = podrecord.OriginStatic
	removeString(&r.Missing, podrecord.MissingUID)
}

// staticHash is the config hash a mirror pod's annotations name: the uid
// the node's runtime knows its static pod by.
func staticHash(annotations map[string]string) string {
	if h := annotations[podrecord.AnnotationMirror]; h != "" {
		return h
	}
	return annotations[podrecord.AnnotationConfigHash]
}

// isConfigHash reports whether uid has the form of a static pod's config
// hash (an md5 in hex) rather than of an API uid (a UUID).
func isConfigHash(uid string) bool {
	if len(uid) != 32 {
		return false
	}
	for i := 0; i < len(uid); i++ {
		if c := uid[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// lookupOrCreate finds the pod the ids name, or starts one (node events can
// come before the API's). late is true, and the event counted, when the
// pod's record was already emitted.
func (c *Correlator) lookupOrCreate(origin, uid, ns, name, sandbox, ctr string, now time.Time) (*entry, bool) {
	c.unite(uid, ns, name)
	e := c.find(uid, ns, name, sandbox, ctr)
	if e == nil && name != "" {
		e = c.byGenerateName(ns, name)
	}
	if e != nil && e.done {
		c.stats.Late++
		return nil, true
	}
	if e == nil {
		return c.create(origin, uid, ns, name, sandbox, now), false
	}
	return c.fill(e, uid, ns, name, sandbox, origin), false
}

// create starts an entry for a pod the event names.
func (c *Correlator) create(origin, uid, ns, name, sandbox string, now time.Time) *entry {
	id := "u/" + uid
	if uid == "" {
		id = "n/" + ns + "/" + name + "/" + strconv.FormatInt(now.UnixNano(), 36)
	}
	e := c.newEntry(id, now)
	e.o.rec.Origin = origin
	e.o.rec.Join = JoinUID
	if uid == "" {
		e.o.rec.Join = JoinName
	}
	return c.fill(e, uid, ns, name, sandbox, origin)
}

// fill puts what an event says of the pod's identity in e.
func (c *Correlator) fill(e *entry, uid, ns, name, sandbox, origin string) *entry {
	// The strings kept are copies: an event's may be pieces of its whole
	// log line.
	o := c.open(e)
	r := &o.rec
	if origin == podrecord.OriginAPI && uid != "" && r.UID != "" && r.UID != uid && !e.hasAudit && (o.mirror == r.UID || isConfigHash(r.UID)) {
		// The API's uid of a pod the node knows by its static pod hash:
		// the mirror pod.
		c.adoptAPIUID(o, uid)
	}
	if uid != "" && r.UID != "" && r.UID != uid && o.mirror == "" && !e.hasAudit && isConfigHash(uid) && !isConfigHash(r.UID) {
		// The config hash of a static pod known by its mirror pod's uid.
		o.mirror = strings.Clone(uid)
		r.Origin = podrecord.OriginStatic
	}
	if r.UID == "" && uid != "" && uid != o.mirror {
		if e.ID[2:] == uid {
			r.UID = e.ID[2:] // u/<uid>: one copy for the entry and its index
		} else {
			r.UID = strings.Clone(uid)
		}
		removeString(&r.Missing, podrecord.MissingUID)
	}
	if r.Namespace == "" {
		r.Namespace = ns
	}
	if r.Name == "" && name != "" {
		if i := 3 + len(ns); e.ID[:2] == "n/" && len(e.ID) > i+len(name) && e.ID[i:i+len(name)] == name {
			r.Name = e.ID[i : i+len(name)] // n/<ns>/<name>/<time>: one copy
		} else {
			r.Name = strings.Clone(name)
		}
		if e.hasAudit {
			r.Join = JoinGenerateName
			if r.GenerateName == "" {
				r.Join = JoinNamespaceTime
			}
			removeString(&r.Missing, podrecord.MissingGeneratedName)
		}
	}
	if sandbox != "" && !contains(o.sandboxes, sandbox) {
		o.sandboxes = append(o.sandboxes, strings.Clone(sandbox))
	}
	c.index(e)
	c.list(e)
	return e
}

// list puts e (opened) in the candidates of the weaker joins it can take
// part in.
func (c *Correlator) list(e *entry) { c.listAs(e, listKind(e)) }

// listKind says which candidates e (opened) belongs in: 0 none (or it is
// listed already), 1 nameless, 2 unjoined.
func listKind(e *entry) int {
	switch {
	case e.listed:
	case e.hasAudit && (e.o.rec.Allowed || outcomeUnknown(&e.o.rec)) && e.o.rec.Name == "":
		return 1
	case !e.hasAudit && e.o.rec.Name != "":
		return 2
	}
	return 0
}

func (c *Correlator) listAs(e *entry, kind int) {
	switch kind {
	case 1:
		c.nameless.add(e)
		e.listed = true
	case 2:
		c.unjoined.add(e)
		e.listed = true
	}
}

// find returns the entry any of the ids names, strongest id first. A name
// match with a different known uid is another pod of the same name.
func (c *Correlator) find(uid, ns, name, sandbox, ctr string) *entry {
	if uid != "" {
		if e := c.byUID[uid]; e != nil {
			return e
		}
	}
	if name != "" {
		if e := c.byName[nameKey{ns, name}]; e != nil {
			if u := e.podUID(); uid == "" || u == "" || u == uid || e.mirror() == uid {
				return e
			}
			// A static pod the node knows by its config hash, and the
			// API's uid of its mirror pod (same namespace and name).
			if !e.hasAudit && !isConfigHash(uid) && (isConfigHash(e.podUID()) || e.mirror() == e.podUID()) {
				return e
			}
			// The same the other way round: the API's uid first (the
			// mirror pod's status, made before podtrail started), then the
			// node's line with the config hash.
			if !e.hasAudit && isConfigHash(uid) && !isConfigHash(e.podUID()) && e.mirror() == "" {
				return e
			}
			return nil
		}
	}
	if sandbox != "" {
		if e := c.bySandbox[sandbox]; e != nil {
			return e
		}
	}
	if ctr != "" {
		return c.byCtr[ctr]
	}
	return nil
}

// byGenerateName finds the oldest pending API create in ns whose pod name is
// unknown and whose generateName is a prefix of name; failing that (Metadata
// level: no generateName either), the oldest nameless create in ns.
func (c *Correlator) byGenerateName(ns, name string) *entry {
	var byPrefix, nameless *entry
	c.nameless.each(ns, func(e *entry) bool { return !e.done && e.podName() == "" }, func(e *entry) {
		switch g := e.generateName(); {
		case g == "":
			if nameless == nil {
				nameless = e
			}
		case byPrefix == nil && strings.HasPrefix(name, g) && len(name) == len(g)+5:
			byPrefix = e
		}
	})
	if byPrefix != nil {
		return byPrefix
	}
	return nameless
}

// unclaimed finds the oldest pending pod of ns that no API create claimed,
// whose name starts with generateName.
func (c *Correlator) unclaimed(ns, generateName string) *entry {
	var found *entry
	c.unjoined.each(ns, func(e *entry) bool { return !e.done && !e.hasAudit && e.origin() != podrecord.OriginStatic }, func(e *entry) {
		if n := e.podName(); found == nil && (generateName == "" || strings.HasPrefix(n, generateName) && len(n) == len(generateName)+5) {
			found = e
		}
	})
	return found
}

// candidates are, per namespace and oldest first, the pending entries a
// join below the RequestResponse audit level can pick: API creates that lack
// the pod's name (Correlator.nameless), and pods seen by a node or the
// scheduler that lack an API create (Correlator.unjoined). They spare those
// joins a walk over every pending pod.
//
// The lists are held by pointer so that a list changes without assigning
// to the map: an assignment would key it with the caller's namespace
// string, which may be a piece of a whole event.
type candidates map[string]*[]*entry

// add puts e in its namespace's list, in the order of First.
func (cs candidates) add(e *entry) {
	ns := e.namespace()
	p := cs[ns]
	if p == nil {
		p = new([]*entry)
		cs[unique.Make(ns).Value()] = p
	}
	l := append(*p, e)
	for i := len(l) - 1; i > 0 && l[i].First.Before(l[i-1].First); i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	*p = l
}

// each calls fn, oldest first, for the entries of ns that still qualify
// (keep), and forgets the others.
func (cs candidates) each(ns string, keep func(*entry) bool, fn func(*entry)) {
	p := cs[ns]
	if p == nil {
		return
	}
	l := *p
	live := l[:0]
	for _, e := range l {
		if keep(e) {
			live = append(live, e)
			fn(e)
		}
	}
	clear(l[len(live):])
	if len(live) == 0 {
		delete(cs, ns)
		return
	}
	*p = live
}

// remove forgets e (emitted).
func (cs candidates) remove(e *entry) {
	cs.each(e.namespace(), func(x *entry) bool { return x != e }, func(*entry) {})
}

func (c *Correlator) addContainer(e *entry, ctr podrecord.Container) {
	if ctr.ID != "" && c.byCtr[ctr.ID] != e {
		ctr.ID = strings.Clone(ctr.ID) // the index's key and the record's id
		c.byCtr[ctr.ID] = e
	}
	o := e.o
	if !mergeContainer(&o.rec, ctr) {
		for i := range o.nodeContainers {
			if o.nodeContainers[i].Name == ctr.Name {
				fillContainer(&o.nodeContainers[i], ctr)
				return
			}
		}
		o.nodeContainers = append(o.nodeContainers, ctr)
	}
}

// mergeContainer fills the spec container of the same name; false when the
// spec has none (not known yet).
func mergeContainer(r *podrecord.Record, ctr podrecord.Container) bool {
	for i := range r.Containers {
		if r.Containers[i].Name == ctr.Name {
			fillContainer(&r.Containers[i], ctr)
			return true
		}
	}
	return false
}

func fillContainer(dst *podrecord.Container, src podrecord.Container) {
	if dst.ID == "" {
		dst.ID = src.ID
	}
	if dst.Image == "" {
		dst.Image = src.Image
	}
	if dst.StartedAt.IsZero() || !src.StartedAt.IsZero() && src.StartedAt.Before(dst.StartedAt) {
		if !src.StartedAt.IsZero() {
			dst.StartedAt = src.StartedAt
		}
	}
	if dst.Digest == "" && src.Digest != "" {
		dst.Digest, dst.DigestSource = src.Digest, src.DigestSource
	}
	if dst.ImageID == "" && src.ImageID != "" {
		dst.ImageID = src.ImageID
		if dst.DigestSource == "" {
			dst.DigestSource = src.DigestSource
		}
	}
	// The first failure is the cause (ErrImagePull before ImagePullBackOff,
	// a crash before CrashLoopBackOff); its reason if it stated none.
	if dst.Error == "" && src.Error != "" {
		dst.Error, dst.Reason = src.Error, src.Reason
	} else if dst.Reason == "" && src.Reason != "" {
		dst.Reason = src.Reason
	}
}

// addPullFailure records an image the node could not pull: once per
// container and image, the first failure's text (the registry's answer;
// the back-offs after it say less), at most podrecord.MaxPullFailures.
func addPullFailure(r *podrecord.Record, f podrecord.PullFailure) {
	for i := range r.PullFailures {
		p := &r.PullFailures[i]
		if p.Image == f.Image && (p.Container == f.Container || p.Container == "" || f.Container == "") {
			if p.Container == "" {
				p.Container = strings.Clone(f.Container)
			}
			if p.Error == "" {
				p.Error = strings.Clone(f.Error)
			}
			if p.Reason == "" {
				p.Reason = strings.Clone(f.Reason)
			}
			return
		}
	}
	if len(r.PullFailures) >= podrecord.MaxPullFailures {
		return
	}
	r.PullFailures = append(r.PullFailures, podrecord.PullFailure{Image: strings.Clone(f.Image), Container: strings.Clone(f.Container),
		Error: strings.Clone(f.Error), Reason: strings.Clone(f.Reason)})
}

func (c *Correlator) newEntry(id string, now time.Time) *entry {
	for c.entries[id] != nil {
		id += "+"
	}
	e := &entry{ID: id, First: now, o: c.newOpen()}
	c.opened = append(c.opened, e)
	c.entries[id] = e
	if c.cfg.Persistent {
		c.ids.add(id)
	}
	c.enqueue(e)
	return e
}

func (c *Correlator) enqueue(e *entry) {
	c.pending = append(c.pending, e)
	c.nPending++
}

// index puts e's ids (e opened) in the indexes. It assigns only what is new:
// index runs on every event, and a map assignment keeps the key it is given
// (a concatenation, or a piece of a packed entry).
func (c *Correlator) index(e *entry) {
	o := e.o
	r := &o.rec
	put := func(m map[string]*entry, k string) {
		if k != "" && m[k] != e {
			m[k] = e
		}
	}
	put(c.byUID, r.UID)
	put(c.byUID, o.mirror)
	if k := (nameKey{r.Namespace, r.Name}); r.Name != "" && c.byName[k] != e {
		k.ns = unique.Make(k.ns).Value() // one copy of the namespace for every pod in it
		c.byName[k] = e
	}
	for _, id := range o.auditIDs {
		put(c.byAudit, id)
	}
	for _, s := range o.sandboxes {
		put(c.bySandbox, s)
	}
	put(c.bySandbox, r.Sandbox.ID)
	for _, ctr := range r.Containers {
		put(c.byCtr, ctr.ID)
	}
	for _, ctr := range o.nodeContainers {
		put(c.byCtr, ctr.ID)
	}
}

// unindex takes e's ids out of the indexes. e need not be opened.
func (c *Correlator) unindex(e *entry) {
	del := func(m map[string]*entry, k string) {
		if m[k] == e {
			delete(m, k)
		}
	}
	if e.o == nil && e.done {
		del(c.byUID, e.uid)
		if k := (nameKey{e.namespace(), e.name}); c.byName[k] == e {
			delete(c.byName, k)
		}
		// Which map holds an id is not packed: try them all.
		tombstoneIDs(e, func(id string) {
			if id != "" {
				del(c.byUID, id)
				del(c.byAudit, id)
				del(c.bySandbox, id)
				del(c.byCtr, id)
			}
		})
		return
	}
	o := e.o
	if o == nil {
		o = unpack(e)
	}
	r := &o.rec
	del(c.byUID, r.UID)
	del(c.byUID, o.mirror)
	if k := (nameKey{r.Namespace, r.Name}); c.byName[k] == e {
		delete(c.byName, k)
	}
	for _, id := range o.auditIDs {
		del(c.byAudit, id)
	}
	for _, s := range o.sandboxes {
		del(c.bySandbox, s)
	}
	del(c.bySandbox, r.Sandbox.ID)
	for _, ctr := range r.Containers {
		del(c.byCtr, ctr.ID)
	}
	for _, ctr := range o.nodeContainers {
		del(c.byCtr, ctr.ID)
	}
}

// open unpacks e for the rest of the call.
func (c *Correlator) open(e *entry) *open {
	if e.o == nil {
		e.o = c.newOpen()
		unpackInto(e, e.o)
		c.opened = append(c.opened, e)
	}
	return e.o
}

// newOpen returns an empty open, one that settle freed if it can: the
// record is large.
func (c *Correlator) newOpen() *open {
	if n := len(c.free); n > 0 {
		o := c.free[n-1]
		c.free = c.free[:n-1]
		return o
	}
	return new(open)
}

// settle, at the end of each public call, packs the entries opened
// longest ago, leaving the last keepOpen open: a pod's events come in
// bursts (its create, binding, sandbox and containers within seconds), and
// a pod kept open is not unpacked and packed again for each. The memory
// this costs is bounded (keepOpen unpacked entries) whatever the number of
// pending pods.
func (c *Correlator) settle() {
	n := len(c.opened) - c.keepOpen
	if n <= 0 {
		return
	}
	for i, e := range c.opened[:n] {
		c.opened[i] = nil
		c.pack(e)
	}
	m := copy(c.opened, c.opened[n:])
	clear(c.opened[m:])
	c.opened = c.opened[:m]
}

// settleSome settles in a call that opens many entries (Expire after a
// pause, Drain, Restore), so that they do not all wait unpacked for its
// end.
func (c *Correlator) settleSome() {
	if len(c.opened) > 2*c.keepOpen+256 {
		c.settle()
	}
}

func (c *Correlator) pack(e *entry) {
	if e.o == nil || c.entries[e.ID] != e {
		e.o = nil // forgotten
		return
	}
	r := &e.o.rec
	if r.Namespace != groupValue(e.ns) {
		e.ns = unique.Handle[string]{}
		if r.Namespace != "" {
			e.ns = unique.Make(r.Namespace)
		}
	}
	e.name, e.uid = r.Name, r.UID
	e.pk = c.packer.pack(e, e.o, e.pk)
	// Nothing holds the open past the call (emitted records are copies):
	// use it again.
	if len(c.free) < cap(c.free) {
		*e.o = open{}
		c.free = append(c.free, e.o)
	}
	e.o = nil
}

func (c *Correlator) touch(e *entry) {
	if c.cfg.Persistent {
		c.dirty[e.ID] = true
	}
}

// complete reports whether every expected source has said its part.
func (c *Correlator) complete(e *entry) bool {
	r := &e.o.rec
	if c.expect[0] && !e.hasAudit {
		return false
	}
	if c.expect[1] && !c.scheduled(e) {
		return false
	}
	if c.expect[2] {
		if r.Sandbox.ReadyAt.IsZero() && r.Sandbox.ID == "" {
			return false
		}
		started := 0
		for _, ctr := range r.Containers {
			if ctr.Type == "container" && ctr.StartedAt.IsZero() {
				return false
			}
			if !ctr.StartedAt.IsZero() {
				started++
			}
		}
		if len(r.Containers) == 0 {
			for _, ctr := range e.o.nodeContainers {
				if !ctr.StartedAt.IsZero() {
					started++
				}
			}
		}
		if started == 0 {
			return false
		}
	}
	return true
}

// undigested lists the containers of an emitted record whose digest (or
// image id) is not known, when the pod may have run: a later kubelet
// status can tell them (statusAfterEmit).
func undigested(r *podrecord.Record) []string {
	if r.Decision == podrecord.DecisionForbid || r.Code >= 300 {
		return nil
	}
	var out []string
	for _, ctr := range r.Containers {
		if ctr.Digest == "" && ctr.ImageID == "" && ctr.Name != "" {
			out = append(out, ctr.Name)
		}
	}
	return out
}

// scheduled reports whether the pod's placement is known: a binding, a
// nodeName in the create, or a static pod (never scheduled).
func (c *Correlator) scheduled(e *entry) bool {
	return !e.o.rec.ScheduledAt.IsZero() || e.bound || e.o.rec.Origin == podrecord.OriginStatic
}

func (c *Correlator) check(e *entry) []*podrecord.Record {
	if !c.complete(e) {
		return c.evict()
	}
	if c.cfg.DigestWait > 0 && c.lacksDigest(e) {
		// Complete but for a digest: the kubelet's status patch follows the
		// containers' start by about a second.
		if e.digestBy.IsZero() {
			e.digestBy = c.now.Add(c.cfg.DigestWait)
			c.waiting = append(c.waiting, e)
			c.stats.DigestWaits++
			c.touch(e)
		}
		if c.now.Before(e.digestBy) {
			return c.evict()
		}
	}
	return append(c.emit(e, ""), c.evict()...)
}

// lacksDigest reports whether a container of e (opened) ran and no source
// told its image's digest or id yet.
func (c *Correlator) lacksDigest(e *entry) bool {
	r := &e.o.rec
	list := r.Containers
	if len(list) == 0 {
		list = e.o.nodeContainers
	}
	for i := range list {
		if ctr := &list[i]; !ctr.StartedAt.IsZero() && !c.hasDigest(r.Node, ctr) {
			return true
		}
	}
	return false
}

// hasDigest reports whether ctr's digest or image id is known: from a
// source that named it, the image reference, or the node's pulls.
func (c *Correlator) hasDigest(node string, ctr *podrecord.Container) bool {
	if ctr.Digest != "" || ctr.ImageID != "" || digestOf(ctr.Image) != "" {
		return true
	}
	d, _ := c.images.lookup(node, ctr.Image)
	return d != ""
}

// evict emits the oldest pending records while more than MaxPending wait.
func (c *Correlator) evict() []*podrecord.Record {
	var out []*podrecord.Record
	for c.nPending > c.cfg.MaxPending {
		e := c.popOldest()
		if e == nil {
			break
		}
		c.stats.Evicted++
		c.open(e)
		out = append(out, c.emit(e, PartialEvicted)...)
	}
	c.compact() // the FIFO stays bounded without Expire too
	return out
}

func (c *Correlator) popOldest() *entry {
	for c.head < len(c.pending) {
		e := c.pending[c.head]
		c.pending[c.head] = nil
		c.head++
		if !e.done {
			return e
		}
	}
	return nil
}

// Expire emits the records whose window or digest wait has passed.
func (c *Correlator) Expire(now time.Time) []*podrecord.Record {
	c.now = now
	var out []*podrecord.Record
	for c.waitHead < len(c.waiting) {
		e := c.waiting[c.waitHead]
		if !e.done && now.Before(e.digestBy) {
			break
		}
		c.waiting[c.waitHead] = nil
		c.waitHead++
		if !e.done {
			c.open(e)
			out = append(out, c.emit(e, "")...)
			c.settleSome()
		}
	}
	for c.head < len(c.pending) {
		e := c.pending[c.head]
		if !e.done && now.Sub(e.First) < c.cfg.Window {
			break
		}
		c.pending[c.head] = nil
		c.head++
		if !e.done {
			c.open(e)
			out = append(out, c.emit(e, c.partialReason(e, PartialWindow))...)
			c.settleSome()
		}
	}
	c.compact()
	c.settle()
	return out
}

// partialReason is reason, or "" when e (opened) is complete: it waited
// only for a digest.
func (c *Correlator) partialReason(e *entry, reason string) string {
	if !e.digestBy.IsZero() && c.complete(e) {
		return ""
	}
	return reason
}

// Drain emits every pending record as partial (reason), for a shutdown
// without persistent state.
func (c *Correlator) Drain(reason string) []*podrecord.Record {
	var out []*podrecord.Record
	for e := c.popOldest(); e != nil; e = c.popOldest() {
		c.open(e)
		out = append(out, c.emit(e, c.partialReason(e, reason))...)
		c.settleSome()
	}
	c.compact()
	c.settle()
	return out
}

func (c *Correlator) compact() {
	if c.head > 1024 && c.head > len(c.pending)/2 {
		n := copy(c.pending, c.pending[c.head:])
		clear(c.pending[n:])
		c.pending = c.pending[:n]
		c.head = 0
	}
	if c.waitHead > 256 && c.waitHead > len(c.waiting)/2 {
		n := copy(c.waiting, c.waiting[c.waitHead:])
		clear(c.waiting[n:])
		c.waiting = c.waiting[:n]
		c.waitHead = 0
	}
}

// emit finishes e's record (e opened) and turns e into a tombstone.
func (c *Correlator) emit(e *entry, partial string) []*podrecord.Record {
	if e.done {
		return nil
	}
	o := e.o
	rec := o.rec // copy: the tombstone keeps only ids
	record := c.finish(e, &rec, partial)
	e.done = true
	c.nPending--
	if record {
		c.stats.Emitted++
		if rec.Partial != "" {
			c.stats.Partial++
		}
	}
	if !e.digestBy.IsZero() {
		if contains(rec.Missing, podrecord.MissingDigest) {
			c.stats.DigestWaitExpired++
		}
		e.digestBy = time.Time{}
	}
	// Tombstone: forget the record, keep the ids that index it, and the
	// containers whose digest a later kubelet status may still tell.
	o.nodeContainers = nil
	o.undigested = undigested(&rec)
	o.rec = tombstoneRecord(&rec)
	c.touch(e)
	if e.listed {
		c.nameless.remove(e)
		c.unjoined.remove(e)
		e.listed = false
	}
	c.bury(e)
	if !record {
		return nil
	}
	return []*podrecord.Record{&rec}
}

// bury puts a tombstone in the ring, forgetting the oldest one.
func (c *Correlator) bury(e *entry) {
	if old := c.done[c.doneNext]; old != nil {
		c.unindex(old)
		delete(c.entries, old.ID)
		if c.cfg.Persistent {
			c.ids.remove(old.ID)
			c.dirty[old.ID] = true
		}
		c.nDone--
	}
	c.done[c.doneNext] = e
	c.doneNext = (c.doneNext + 1) % len(c.done)
	c.nDone++
}

// finish resolves the chain, digests, timings and missing sources. false:
// the pod makes no record (resolveOrigin).
func (c *Correlator) finish(e *entry, r *podrecord.Record, partial string) bool {
	if e.hasAudit && outcomeUnknown(r) && (e.apiSeen || r.Sandbox.ID != "" || !r.Sandbox.ReadyAt.IsZero() || startedAny(r, e.o.nodeContainers)) {
		// The answer to the create was lost, but the pod was scheduled,
		// reported or run: it was created.
		r.Allowed = true
	}
	if r.Partial == "" {
		r.Partial = partial // a create read in part stays so (PartialOversize)
	}
	if !c.resolveOrigin(e, r) {
		return false
	}
	if r.Origin == podrecord.OriginPreexisting && r.Partial == PartialWindow {
		// Nothing more was to come: the create, the scheduling and the
		// start were before podtrail started (Missing says audit).
		r.Partial = ""
	}
	if len(r.Containers) == 0 {
		r.Containers = append(r.Containers, e.o.nodeContainers...)
	}
	lacking := false
	for i := range r.Containers {
		ctr := &r.Containers[i]
		if d := digestOf(ctr.Image); d != "" && ctr.Digest == "" {
			ctr.Digest, ctr.DigestSource = d, podrecord.DigestSpec
		}
		if ctr.Digest == "" {
			if d, src := c.images.lookup(r.Node, ctr.Image); d != "" {
				ctr.Digest, ctr.DigestSource = d, src
			}
		}
		lacking = lacking || !ctr.StartedAt.IsZero() && ctr.Digest == "" && ctr.ImageID == ""
		if !ctr.StartedAt.IsZero() && (r.StartedAt.IsZero() || ctr.StartedAt.Before(r.StartedAt)) && ctr.Type != "init" {
			r.StartedAt = ctr.StartedAt
		}
	}
	if r.Owner.Kind != "" && (r.Actor.Kind == podrecord.ActorController || r.Actor.Kind == podrecord.ActorSystem) {
		r.Chain, r.Initiator = c.owners.chain(r.Namespace, r.Owner.Kind, r.Owner.Name)
	}
	if !r.RequestedAt.IsZero() {
		since := func(t time.Time) float64 {
			if t.IsZero() {
				return 0
			}
			return t.Sub(r.RequestedAt).Seconds()
		}
		r.Timings = podrecord.Timings{
			Scheduled: since(r.ScheduledAt), SandboxReady: since(r.Sandbox.ReadyAt),
			Started: since(r.StartedAt), Lifetime: since(r.DeletedAt),
		}
	}
	// What the record lacks.
	var missing []string
	switch {
	case r.Origin == podrecord.OriginPreexisting:
		// Only the create: the scheduler and the node did their part before
		// podtrail started.
		missing = append(missing, SourceAudit)
	case r.Allowed || !e.hasAudit:
		if !e.hasAudit {
			missing = append(missing, SourceAudit)
		}
		if c.expect[1] && !c.scheduled(e) {
			missing = append(missing, SourceScheduler)
		}
		if c.expect[2] && r.Sandbox.ID == "" && r.Sandbox.ReadyAt.IsZero() {
			missing = append(missing, SourceNode)
		}
		if r.Owner.Kind != "" && r.Initiator == nil && (r.Actor.Kind == podrecord.ActorController) {
			missing = append(missing, "initiator")
		}
	}
	if lacking {
		missing = append(missing, podrecord.MissingDigest)
	}
	for _, m := range r.Missing {
		if !contains(missing, m) {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	r.Missing = missing
	if !e.hasAudit {
		removeString(&r.Sources, SourceAudit)
	}
	sort.SliceStable(r.Sources, func(i, j int) bool { return sourceRank(r.Sources[i]) < sourceRank(r.Sources[j]) })
	return true
}

// startedAny reports whether a container of r (or of the node's list) started.
func startedAny(r *podrecord.Record, nodeContainers []podrecord.Container) bool {
	for _, list := range [][]podrecord.Container{r.Containers, nodeContainers} {
		for _, c := range list {
			if !c.StartedAt.IsZero() {
				return true
			}
		}
	}
	return false
}

// resolveOrigin says where a pod came from, once nothing more will be
// learnt: an API create (api, or static for a mirror pod); no create but the
// API server knows the pod (preexisting: created before podtrail started);
// no API event at all, but a runtime started its sandbox or the kubelet
// runs it from a file or URL (node_only: a bypass, or a gap in audit
// collection; a static pod whose mirror pod never came is one too, and
// lists mirror_pod as missing). false, and no record, for a pod that only
// node lines named, none of them its start: it ran before podtrail started
// (SeenRunning). The kubelet runs only pods of the API server and of its
// files and URLs, so its lines alone never tell a bypass.
func (c *Correlator) resolveOrigin(e *entry, r *podrecord.Record) bool {
	switch {
	case e.hasAudit:
		if r.Origin == "" || r.Origin == podrecord.OriginNodeOnly {
			r.Origin = podrecord.OriginAPI
		}
	case e.apiSeen:
		r.Origin = podrecord.OriginPreexisting
		c.stats.Preexisting++
	case e.ranSandbox || r.Origin == podrecord.OriginStatic:
		if r.Origin == podrecord.OriginStatic {
			r.Missing = append(r.Missing, podrecord.MissingMirrorPod)
		}
		r.Origin = podrecord.OriginNodeOnly
	default:
		c.stats.SeenRunning++
		return false
	}
	return true
}

// sourceRank orders Record.Sources the same whichever source arrived
// first: the API's (audit, scheduler), then the node's (kubelet, then the
// runtime).
func sourceRank(s string) int {
	switch s {
	case SourceAudit:
		return 0
	case SourceScheduler:
		return 1
	case string(noderuntime.SourceKubelet):
		return 2
	}
	return 3
}

func addSource(r *podrecord.Record, s string) {
	if !contains(r.Sources, s) {
		r.Sources = append(r.Sources, s)
	}
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

// stripRuntime removes the containerd:// (cri-o://, docker://) prefix of a
// pod status container id.
func stripRuntime(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

// digestOf returns the sha256:... of an image reference pinned by digest or
// of a pod status imageID (docker.io/library/nginx@sha256:...,
// docker-pullable://...@sha256:...).
func digestOf(imageID string) string {
	if i := strings.LastIndex(imageID, "@sha256:"); i >= 0 {
		return imageID[i+1:]
	}
	return ""
}

// imageIDOf returns the sha256:<hex> of a pod status imageID that is an
// image id, not a repo digest (sha256:..., docker://sha256:...): an image
// without a repo digest.
func imageIDOf(imageID string) string {
	id := stripRuntime(imageID)
	if strings.HasPrefix(id, "sha256:") && len(id) > len("sha256:") {
		return id
	}
	return ""
}
