// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"sort"
	"time"
	"unique"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

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
			c.waiting.push(e)
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
	if e := c.createWaiting.popUndone(); e != nil { // the oldest: past Window
		return e
	}
	return c.pending.popUndone()
}

// Expire emits the records whose window or digest wait has passed.
func (c *Correlator) Expire(now time.Time) []*podrecord.Record {
	c.at(now)
	out := c.expire(&c.waiting, func(e *entry) bool { return !now.Before(e.digestBy) }, "", nil, nil)
	out = c.expire(&c.pending, func(e *entry) bool { return now.Sub(e.First) >= c.cfg.Window }, PartialWindow,
		func(e *entry) bool {
			if !c.holdForCreate(e) {
				return false
			}
			c.createWaiting.push(e)
			c.stats.CreateWaits++
			return true
		}, out)
	out = c.expire(&c.createWaiting, func(e *entry) bool { return now.Sub(e.First) >= c.cfg.CreateWait }, PartialWindow, nil, out)
	c.compact()
	c.settle()
	return out
}

// holdForCreate reports whether e, at the end of its Window, waits on for
// its create (Config.CreateWait): the API server knows the pod and no
// create came. (A pod no API event names, node_only, is not held.)
func (c *Correlator) holdForCreate(e *entry) bool {
	return c.cfg.CreateWait > c.cfg.Window && e.apiSeen && !e.hasAudit
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
	c.pending.compact(1024)
	c.createWaiting.compact(256)
	c.waiting.compact(256)
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
// API server knows the pod (preexisting: created before podtrail started;
// create_unseen when the scheduler bound it while podtrail watched: its
// create was lost);
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
	case e.apiSeen && e.watched:
		r.Origin = podrecord.OriginCreateUnseen
		c.stats.CreateUnseen++
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
