// Package correlate joins what the API server, the scheduler, the kubelet and
// the container runtime say about a pod into one podrecord.Record per pod.
// It knows nothing of the collector: the pod_creation processor feeds it
// decoded audit events and node events and persists its state. See design.md.
package correlate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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
)

// Config bounds the correlation state.
type Config struct {
	// Window is how long after its first event a record waits for the
	// expected sources before it is emitted as partial.
	Window time.Duration
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
		Window: 30 * time.Second, Expect: []string{SourceAudit, SourceScheduler, SourceNode},
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
}

// entry is one pod. Exported fields are persisted.
type entry struct {
	ID       string           `json:"id"`
	Rec      podrecord.Record `json:"rec"`
	First    time.Time        `json:"first"` // processing time of the first event
	Done     bool             `json:"done,omitempty"`
	AuditIDs []string         `json:"audit_ids,omitempty"` // pod create requests merged in
	HasAudit bool             `json:"has_audit,omitempty"`
	Mirror   string           `json:"mirror,omitempty"` // static pod config hash (mirror pods)
	// Bound is true when the create named the node (spec.nodeName): no
	// scheduler involved.
	Bound bool `json:"bound,omitempty"`
	// Containers seen on the node before the spec was known, by name.
	NodeContainers []podrecord.Container `json:"node_containers,omitempty"`
	Sandboxes      []string              `json:"sandboxes,omitempty"`

	// listed: in Correlator.nameless or Correlator.unjoined
	listed bool
}

// Correlator holds the pending pods, the workloads and the tombstones. It is
// not safe for concurrent use.
type Correlator struct {
	cfg    Config
	expect [3]bool

	entries   map[string]*entry // by ID
	ids       shardSet          // entry IDs by persistence shard
	byUID     map[string]*entry
	byName    map[string]*entry // namespace/name
	byAudit   map[string]*entry // pod create auditID
	bySandbox map[string]*entry
	byCtr     map[string]*entry // container id
	pending   []*entry          // FIFO by First; Done entries are skipped
	nameless  candidates        // API creates without the pod's name
	unjoined  candidates        // pods without an API create, by name
	head      int
	nPending  int
	done      []*entry // ring of tombstones
	doneNext  int
	nDone     int

	owners  *owners
	images  *images
	orphans *orphans
	denials *denials

	stats Stats
	dirty map[string]bool // entry IDs changed since the last Persist
}

// New returns an empty Correlator.
func New(cfg Config) *Correlator {
	c := &Correlator{
		cfg:     cfg,
		entries: map[string]*entry{}, byUID: map[string]*entry{}, byName: map[string]*entry{},
		byAudit: map[string]*entry{}, bySandbox: map[string]*entry{}, byCtr: map[string]*entry{},
		nameless: candidates{}, unjoined: candidates{},
		done:   make([]*entry, cfg.Tombstones),
		owners: newOwners(cfg.MaxOwners, cfg.Persistent), images: newImages(cfg.MaxImages), orphans: newOrphans(cfg.MaxImages),
		denials: newDenials(cfg.MaxImages, cfg.DenialWindow),
		dirty:   map[string]bool{},
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
	if !ev.IsFinal() || ev.ObjectRef == nil {
		c.stats.Ignored++
		return nil
	}
	res, sub, _, _ := ev.Resource()
	ok := ev.Code() >= 200 && ev.Code() < 300
	switch {
	case res == "pods" && ev.ObjectRef.APIGroup == "" && sub == "" && ev.Verb == "create":
		return c.podCreate(ev, now)
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

func (c *Correlator) podCreate(ev *audit.Event, now time.Time) []*podrecord.Record {
	if e := c.byAudit[ev.AuditID]; e != nil {
		c.stats.Duplicates++
		return nil
	}
	rec, err := podrecord.FromAudit(ev)
	if err != nil {
		c.stats.Ignored++
		return nil
	}
	if rec.Allowed {
		rec.DeniedBefore = c.denials.before(rec.Actor.Username, rec.RequestedAt)
	} else {
		c.denials.add(rec)
	}
	var e *entry
	join := JoinUID
	if rec.UID != "" || rec.Name != "" {
		e = c.find(rec.UID, rec.Namespace, rec.Name, "", "")
		if e != nil && e.HasAudit {
			// Another create of the same pod name (a StatefulSet pod made
			// again): the old one is a different pod.
			if rec.UID == "" || e.Rec.UID != rec.UID {
				e = nil
			}
		}
		if e != nil && rec.UID == "" {
			join = JoinName
		}
	} else if rec.Allowed {
		// Below RequestResponse: the generated name is unknown. A pod of
		// this namespace and prefix seen on the node joins it, now or later.
		join = JoinGenerateName
		if rec.GenerateName == "" {
			join = JoinNamespaceTime
		}
		e = c.unclaimed(rec.Namespace, rec.GenerateName)
	}
	if e != nil && e.Done {
		c.stats.Late++
		return nil
	}
	if e == nil {
		e = c.newEntry("a/"+ev.AuditID, now)
		e.Rec = *rec
	} else {
		mergeAuditInto(e, rec)
	}
	e.HasAudit = true
	e.Bound = e.Bound || rec.Node != ""
	e.AuditIDs = append(e.AuditIDs, ev.AuditID)
	if e.Rec.Join == "" || join != JoinUID {
		e.Rec.Join = join
	}
	if m := e.Rec.Annotations[podrecord.AnnotationMirror]; m != "" {
		e.Mirror = m
		e.Rec.Origin = podrecord.OriginStatic
	}
	c.index(e)
	c.touch(e)
	c.list(e)
	if !rec.Allowed {
		// Nothing was created: nothing else will come.
		return c.emit(e, "")
	}
	return c.check(e)
}

// mergeAuditInto puts the API's view of a pod into an entry that node events
// started, keeping what the node said.
func mergeAuditInto(e *entry, rec *podrecord.Record) {
	node := e.Rec
	e.Rec = *rec
	r := &e.Rec
	if node.Origin == podrecord.OriginStatic {
		r.Origin = podrecord.OriginStatic
	}
	if r.Node == "" {
		r.Node = node.Node
	}
	r.ScheduledAt, r.Sandbox, r.StartedAt, r.DeletedAt = node.ScheduledAt, node.Sandbox, node.StartedAt, node.DeletedAt
	for _, s := range node.Sources {
		addSource(r, s)
	}
	for _, nc := range e.NodeContainers {
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
	e, late := c.lookupOrCreate(podrecord.OriginAPI, uid, ns, name, "", "", now)
	if late {
		return nil
	}
	if e.Rec.ScheduledAt.IsZero() {
		e.Rec.ScheduledAt = ev.StageTimestamp
	}
	if node != "" {
		e.Rec.Node = node
	}
	addSource(&e.Rec, SourceScheduler)
	c.touch(e)
	return c.check(e)
}

// podStatus takes the kubelet's status updates: container ids, the image
// digests it resolved, start times.
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
	e, late := c.lookupOrCreate(podrecord.OriginAPI, uid, ns, name, "", "", now)
	if late {
		return nil
	}
	for _, list := range [][]audit.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			ctr := podrecord.Container{Name: cs.Name, Image: cs.Image, ID: stripRuntime(cs.ContainerID)}
			if d := digestOf(cs.ImageID); d != "" {
				ctr.Digest, ctr.DigestSource = d, "pod_status"
			}
			if cs.State.Running != nil && cs.State.Running.StartedAt != nil {
				ctr.StartedAt = *cs.State.Running.StartedAt
			}
			c.addContainer(e, ctr)
		}
	}
	if strings.HasPrefix(ev.User.Username, "system:node:") && e.Rec.Node == "" {
		e.Rec.Node = strings.TrimPrefix(ev.User.Username, "system:node:")
	}
	addSource(&e.Rec, "kubelet")
	c.touch(e)
	return c.check(e)
}

func (c *Correlator) podDelete(ev *audit.Event, now time.Time) []*podrecord.Record {
	_, _, ns, name := ev.Resource()
	e := c.find(ev.ObjectRef.UID, ns, name, "", "")
	if e == nil {
		c.stats.Ignored++ // a pod created before we started
		return nil
	}
	if e.Done {
		c.stats.Late++
		return nil
	}
	if e.Rec.DeletedAt.IsZero() {
		e.Rec.DeletedAt = ev.StageTimestamp
	}
	c.touch(e)
	// A deleted pod will not complete: emit what is known, with its lifetime.
	return c.emit(e, "")
}

// AddNode takes one node event and returns the records it completed.
func (c *Correlator) AddNode(ev *noderuntime.Event, now time.Time) []*podrecord.Record {
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
		if e.Done {
			c.stats.Late++
			return nil
		}
	} else {
		var late bool
		if e, late = c.lookupOrCreate(podrecord.OriginNodeOnly, ev.PodUID, ev.PodNamespace, ev.PodName, ev.SandboxID, ev.ContainerID, now); late {
			return nil
		}
	}
	r := &e.Rec
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
		if ev.PodUID != "" {
			e.Mirror = ev.PodUID
		}
	case noderuntime.KindSandboxRequested:
		if r.Sandbox.RequestedAt.IsZero() || ev.Time.Before(r.Sandbox.RequestedAt) {
			r.Sandbox.RequestedAt = ev.Time
		}
		if ev.Error != "" {
			r.Sandbox.Attempts++
			r.Sandbox.Error = ev.Error
		}
	case noderuntime.KindSandboxReady:
		if ev.SandboxID != "" && r.Sandbox.ID == "" {
			r.Sandbox.ID = ev.SandboxID
		}
		if ev.SandboxID != "" && !contains(e.Sandboxes, ev.SandboxID) {
			e.Sandboxes = append(e.Sandboxes, ev.SandboxID)
		}
		if r.Sandbox.ReadyAt.IsZero() {
			r.Sandbox.ReadyAt = ev.Time
		}
	case noderuntime.KindContainerCreated, noderuntime.KindContainerStarted:
		name := ev.ContainerName
		if name == "" {
			name = containerName(e, ev.ContainerID) // "StartContainer for <id>" names no container
		}
		if name == "" || name == "POD" || ev.ContainerID != "" && contains(e.Sandboxes, ev.ContainerID) {
			break
		}
		ctr := podrecord.Container{Name: name, Image: ev.Image, ID: ev.ContainerID}
		if ev.Kind == noderuntime.KindContainerStarted {
			ctr.StartedAt = ev.Time
		}
		c.addContainer(e, ctr)
	}
	c.index(e)
	c.touch(e)
	out := c.check(e)
	// Lines that named only ids of this pod and came before it was known.
	if c.orphans.n > 0 {
		for _, id := range e.Sandboxes {
			out = c.replay(id, now, out)
		}
		for _, list := range [][]podrecord.Container{e.Rec.Containers, e.NodeContainers} {
			for _, ctr := range list {
				out = c.replay(ctr.ID, now, out)
			}
		}
	}
	return out
}

func (c *Correlator) replay(id string, now time.Time, out []*podrecord.Record) []*podrecord.Record {
	if id == "" {
		return out
	}
	for _, o := range c.orphans.take(id) {
		out = append(out, c.AddNode(o, now)...)
	}
	return out
}

func containerName(e *entry, id string) string {
	if id == "" {
		return ""
	}
	for _, list := range [][]podrecord.Container{e.Rec.Containers, e.NodeContainers} {
		for _, c := range list {
			if c.ID == id {
				return c.Name
			}
		}
	}
	return ""
}

// lookupOrCreate finds the pod the ids name, or starts one (node events can
// come before the API's). late is true, and the event counted, when the
// pod's record was already emitted.
func (c *Correlator) lookupOrCreate(origin, uid, ns, name, sandbox, ctr string, now time.Time) (*entry, bool) {
	e := c.find(uid, ns, name, sandbox, ctr)
	if e == nil && name != "" {
		e = c.byGenerateName(ns, name)
	}
	if e != nil && e.Done {
		c.stats.Late++
		return nil, true
	}
	if e == nil {
		id := "u/" + uid
		if uid == "" {
			id = "n/" + ns + "/" + name + "/" + now.UTC().Format(time.RFC3339Nano)
		}
		e = c.newEntry(id, now)
		e.Rec.Origin = origin
		e.Rec.Join = JoinUID
		if uid == "" {
			e.Rec.Join = JoinName
		}
	}
	r := &e.Rec
	if r.UID == "" && uid != "" && uid != e.Mirror {
		r.UID = uid
		removeString(&r.Missing, podrecord.MissingUID)
	}
	if r.Namespace == "" {
		r.Namespace = ns
	}
	if r.Name == "" && name != "" {
		r.Name = name
		if e.HasAudit {
			r.Join = JoinGenerateName
			if r.GenerateName == "" {
				r.Join = JoinNamespaceTime
			}
			removeString(&r.Missing, podrecord.MissingGeneratedName)
		}
	}
	if sandbox != "" && !contains(e.Sandboxes, sandbox) {
		e.Sandboxes = append(e.Sandboxes, sandbox)
	}
	c.index(e)
	c.list(e)
	return e, false
}

// list puts e in the candidates of the weaker joins it can take part in.
func (c *Correlator) list(e *entry) {
	switch {
	case e.listed:
	case e.HasAudit && e.Rec.Allowed && e.Rec.Name == "":
		c.nameless.add(e)
		e.listed = true
	case !e.HasAudit && e.Rec.Name != "":
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
		if e := c.byName[ns+"/"+name]; e != nil {
			if uid == "" || e.Rec.UID == "" || e.Rec.UID == uid || e.Mirror == uid {
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
	c.nameless.each(ns, func(e *entry) bool { return !e.Done && e.Rec.Name == "" }, func(e *entry) {
		switch {
		case e.Rec.GenerateName == "":
			if nameless == nil {
				nameless = e
			}
		case byPrefix == nil && strings.HasPrefix(name, e.Rec.GenerateName) && len(name) == len(e.Rec.GenerateName)+5:
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
	c.unjoined.each(ns, func(e *entry) bool { return !e.Done && !e.HasAudit && e.Rec.Origin != podrecord.OriginStatic }, func(e *entry) {
		if found == nil && (generateName == "" || strings.HasPrefix(e.Rec.Name, generateName) && len(e.Rec.Name) == len(generateName)+5) {
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
type candidates map[string][]*entry

// add puts e in its namespace's list, in the order of First.
func (cs candidates) add(e *entry) {
	l := append(cs[e.Rec.Namespace], e)
	for i := len(l) - 1; i > 0 && l[i].First.Before(l[i-1].First); i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
	cs[e.Rec.Namespace] = l
}

// each calls fn, oldest first, for the entries of ns that still qualify
// (keep), and forgets the others.
func (cs candidates) each(ns string, keep func(*entry) bool, fn func(*entry)) {
	l := cs[ns]
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
	cs[ns] = live
}

// remove forgets e (emitted).
func (cs candidates) remove(e *entry) {
	cs.each(e.Rec.Namespace, func(x *entry) bool { return x != e }, func(*entry) {})
}

func (c *Correlator) addContainer(e *entry, ctr podrecord.Container) {
	if ctr.ID != "" {
		c.byCtr[ctr.ID] = e
	}
	if !mergeContainer(&e.Rec, ctr) {
		for i := range e.NodeContainers {
			if e.NodeContainers[i].Name == ctr.Name {
				fillContainer(&e.NodeContainers[i], ctr)
				return
			}
		}
		e.NodeContainers = append(e.NodeContainers, ctr)
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
}

func (c *Correlator) newEntry(id string, now time.Time) *entry {
	for c.entries[id] != nil {
		id += "+"
	}
	e := &entry{ID: id, First: now}
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

func (c *Correlator) index(e *entry) {
	r := &e.Rec
	if r.UID != "" {
		c.byUID[r.UID] = e
	}
	if e.Mirror != "" {
		c.byUID[e.Mirror] = e
	}
	// Assign only what is new: index runs on every event, and a map
	// assignment keeps (so allocates) the concatenated key.
	if r.Name != "" && c.byName[r.Namespace+"/"+r.Name] != e {
		c.byName[r.Namespace+"/"+r.Name] = e
	}
	for _, id := range e.AuditIDs {
		c.byAudit[id] = e
	}
	for _, s := range e.Sandboxes {
		c.bySandbox[s] = e
	}
	if r.Sandbox.ID != "" {
		c.bySandbox[r.Sandbox.ID] = e
	}
	for _, ctr := range r.Containers {
		if ctr.ID != "" {
			c.byCtr[ctr.ID] = e
		}
	}
	for _, ctr := range e.NodeContainers {
		if ctr.ID != "" {
			c.byCtr[ctr.ID] = e
		}
	}
}

func (c *Correlator) unindex(e *entry) {
	del := func(m map[string]*entry, k string) {
		if m[k] == e {
			delete(m, k)
		}
	}
	del(c.byUID, e.Rec.UID)
	del(c.byUID, e.Mirror)
	del(c.byName, e.Rec.Namespace+"/"+e.Rec.Name)
	for _, id := range e.AuditIDs {
		del(c.byAudit, id)
	}
	for _, s := range e.Sandboxes {
		del(c.bySandbox, s)
	}
	del(c.bySandbox, e.Rec.Sandbox.ID)
	for _, ctr := range e.Rec.Containers {
		del(c.byCtr, ctr.ID)
	}
	for _, ctr := range e.NodeContainers {
		del(c.byCtr, ctr.ID)
	}
}

func (c *Correlator) touch(e *entry) {
	if c.cfg.Persistent {
		c.dirty[e.ID] = true
	}
}

// complete reports whether every expected source has said its part.
func (c *Correlator) complete(e *entry) bool {
	r := &e.Rec
	if c.expect[0] && !e.HasAudit {
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
			for _, ctr := range e.NodeContainers {
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

// scheduled reports whether the pod's placement is known: a binding, a
// nodeName in the create, or a static pod (never scheduled).
func (c *Correlator) scheduled(e *entry) bool {
	return !e.Rec.ScheduledAt.IsZero() || e.Bound || e.Rec.Origin == podrecord.OriginStatic
}

func (c *Correlator) check(e *entry) []*podrecord.Record {
	if !c.complete(e) {
		return c.evict()
	}
	return append(c.emit(e, ""), c.evict()...)
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
		out = append(out, c.emit(e, PartialEvicted)...)
	}
	return out
}

func (c *Correlator) popOldest() *entry {
	for c.head < len(c.pending) {
		e := c.pending[c.head]
		c.pending[c.head] = nil
		c.head++
		if !e.Done {
			return e
		}
	}
	return nil
}

// Expire emits the records whose window has passed.
func (c *Correlator) Expire(now time.Time) []*podrecord.Record {
	var out []*podrecord.Record
	for c.head < len(c.pending) {
		e := c.pending[c.head]
		if !e.Done && now.Sub(e.First) < c.cfg.Window {
			break
		}
		c.pending[c.head] = nil
		c.head++
		if !e.Done {
			out = append(out, c.emit(e, PartialWindow)...)
		}
	}
	c.compact()
	return out
}

// Drain emits every pending record as partial (reason), for a shutdown
// without persistent state.
func (c *Correlator) Drain(reason string) []*podrecord.Record {
	var out []*podrecord.Record
	for e := c.popOldest(); e != nil; e = c.popOldest() {
		out = append(out, c.emit(e, reason)...)
	}
	c.compact()
	return out
}

func (c *Correlator) compact() {
	if c.head > 1024 && c.head > len(c.pending)/2 {
		n := copy(c.pending, c.pending[c.head:])
		clear(c.pending[n:])
		c.pending = c.pending[:n]
		c.head = 0
	}
}

// emit finishes e's record and turns e into a tombstone.
func (c *Correlator) emit(e *entry, partial string) []*podrecord.Record {
	if e.Done {
		return nil
	}
	rec := e.Rec // copy: the tombstone keeps only ids
	c.finish(e, &rec, partial)
	e.Done = true
	c.nPending--
	c.stats.Emitted++
	if partial != "" {
		c.stats.Partial++
	}
	// Tombstone: forget the record, keep the ids that index it.
	e.NodeContainers = nil
	e.Rec = podrecord.Record{Namespace: rec.Namespace, Name: rec.Name, UID: rec.UID, Sandbox: podrecord.Sandbox{ID: rec.Sandbox.ID}}
	for _, ctr := range rec.Containers {
		if ctr.ID != "" {
			e.Rec.Containers = append(e.Rec.Containers, podrecord.Container{ID: ctr.ID})
		}
	}
	c.touch(e)
	if e.listed {
		c.nameless.remove(e)
		c.unjoined.remove(e)
		e.listed = false
	}
	c.bury(e)
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

// finish resolves the chain, digests, timings and missing sources.
func (c *Correlator) finish(e *entry, r *podrecord.Record, partial string) {
	r.Partial = partial
	if r.Origin == "" {
		r.Origin = podrecord.OriginAPI
	}
	if len(r.Containers) == 0 {
		r.Containers = append(r.Containers, e.NodeContainers...)
	}
	for i := range r.Containers {
		ctr := &r.Containers[i]
		if d := digestOf(ctr.Image); d != "" && ctr.DigestSource != "pod_status" {
			ctr.Digest, ctr.DigestSource = d, "spec"
		}
		if ctr.Digest == "" {
			if d, src := c.images.lookup(r.Node, ctr.Image); d != "" {
				ctr.Digest, ctr.DigestSource = d, src
			}
		}
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
	if r.Allowed || !e.HasAudit {
		if !e.HasAudit {
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
	for _, m := range r.Missing {
		if !contains(missing, m) {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	r.Missing = missing
	if !e.HasAudit {
		removeString(&r.Sources, SourceAudit)
	}
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
