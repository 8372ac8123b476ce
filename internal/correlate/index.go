// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/podtrail/podtrail/internal/podrecord"
)

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
	dst.watched = dst.watched || src.watched
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
	c.pending.push(e)
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
