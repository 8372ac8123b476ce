// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// AddAudit takes one audit event and returns the records it completed.
func (c *Correlator) AddAudit(ev *audit.Event, now time.Time) []*podrecord.Record {
	c.at(now)
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
	c.at(now)
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
		if !e.hasAudit && e.apiSeen && now.Sub(e.First) >= c.cfg.Window {
			c.stats.CreateLate++ // held for it (CreateWait)
		}
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
	if now.Sub(c.started) >= c.cfg.Window {
		e.watched = true
	}
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
	if r := &c.open(e).rec; ev.ObjectRef.UID == "" && deletedBefore(r, ev.StageTimestamp) {
		// Found by name (a Metadata-level delete has no uid): a pod of that
		// name deleted before this one was requested or ran, delivered late
		// (a StatefulSet's replacement, a webhook batch retried).
		c.stats.Late++
		return nil
	}
	if r := &c.open(e).rec; r.DeletedAt.IsZero() {
		r.DeletedAt = ev.StageTimestamp
	}
	e.apiSeen = true
	c.touch(e)
	// A deleted pod will not complete: emit what is known, with its
	// lifetime. Once placed on a node, the kubelet may have run it before it
	// saw the delete, and the node's lines of it come by another way, later
	// than the delete: wait for them a while (DigestWait, as for a digest),
	// until the node has told the sandbox and a container's start.
	if c.cfg.DigestWait > 0 && c.scheduled(e) && !c.complete(e) {
		if e.digestBy.IsZero() { // not for a delete delivered twice
			e.digestBy = c.now.Add(c.cfg.DigestWait)
			c.waiting.push(e)
			c.stats.DeleteWaits++
		}
		return c.evict()
	}
	return c.emit(e, "")
}

// nodeClockSkew is how much earlier than the node's lines say a pod's
// delete may have been written and still be this pod's: the kubelet may
// start a pod a moment after its delete (a sandbox requested 3 ms before
// it), and node and apiserver clocks differ a little.
const nodeClockSkew = 500 * time.Millisecond

// deletedBefore reports whether a delete written at t is of another, older
// pod of r's name: r's create was requested after t, or, its create unknown,
// everything the node said of r (sandbox, containers) came more than
// nodeClockSkew after t.
func deletedBefore(r *podrecord.Record, t time.Time) bool {
	if !r.RequestedAt.IsZero() {
		return t.Before(r.RequestedAt)
	}
	var first time.Time
	seen := func(x time.Time) {
		if !x.IsZero() && (first.IsZero() || x.Before(first)) {
			first = x
		}
	}
	seen(r.ScheduledAt)
	seen(r.Sandbox.RequestedAt)
	seen(r.Sandbox.ReadyAt)
	seen(r.StartedAt)
	for i := range r.Containers {
		seen(r.Containers[i].StartedAt)
	}
	return !first.IsZero() && t.Before(first.Add(-nodeClockSkew))
}
