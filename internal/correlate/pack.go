// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unique"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// A pending pod waits in a compact form: its record and side lists are
// packed between the public calls and unpacked (opened) when an event
// touches it; the last keepOpen pods touched stay open (Correlator.settle).
// The packed form is
//
//   - data: varints, times and the strings that belong to this pod alone
//     (audit id, owner name and uid, container names and ids, sandbox ids),
//     one Go string;
//   - four groups, each a string of the same encoding interned with the
//     unique package, for what pods share: the request (actor, groups,
//     impersonated identity, user agent, channel, managers, decision), the
//     spec (generateName, labels, annotations, owner kind, service account),
//     the containers' images and digests, and the state (origin, join, sources, missing,
//     node, runtime). Pods of one workload made by one controller share
//     the same four strings: 8 bytes each per pod. (A string unique to one
//     pod costs about 200 bytes more in the unique map than in data: what
//     is a pod's own is kept out of the groups.)
//
// The pod's namespace (interned), name and uid stay in the entry: they key
// the indexes, whose keys are the same strings. Strings equal to the pod's
// name or uid, to the audit id its entry id carries, or to an id met
// before in the same record are written as a reference.
//
// Packing copies every string: a packed pod holds nothing of the events it
// came from (a decoded audit event's strings are pieces of its whole JSON,
// a node event's of its log line). What the entry keeps unpacked (its
// name, uid and index keys) is copied where it enters (podCreate,
// lookupOrCreate, addContainer).
//
// A tombstone packs only the ids that index it (packTombstone).
//
// Times are kept as UTC with nanoseconds (no monotonic reading, no zone):
// every time the correlator holds comes from an event, in UTC. Nil and
// empty slices and maps stay apart. TestPackRoundTrip fills every field
// of the record: a field added to podrecord.Record without a place here
// fails it.
type packed struct {
	data   string
	groups [nGroups]unique.Handle[string]
}

const (
	groupRequest = iota
	groupSpec
	groupContainers
	groupState
	nGroups
)

// open is an entry's unpacked form, while events change it.
type open struct {
	rec      podrecord.Record
	auditIDs []string // pod create requests merged in
	mirror   string   // static pod config hash (mirror pods)
	// nodeContainers are the containers seen on the node before the spec
	// was known, by name.
	nodeContainers []podrecord.Container
	sandboxes      []string
	// undigested, in a tombstone: the containers emitted without a digest,
	// which a later kubelet status may tell (an update record).
	undigested []string
}

// groupValue is h's string; "" for the zero handle.
func groupValue(h unique.Handle[string]) string {
	if h == (unique.Handle[string]{}) {
		return ""
	}
	return h.Value()
}

// packer encodes one entry; its buffers are reused from call to call.
type packer struct {
	data   enc
	groups [nGroups]enc
	keys   []string
}

// pack encodes o, reusing the old form's strings where nothing changed.
func (p *packer) pack(e *entry, o *open, old packed) packed {
	if e.done {
		return p.packTombstone(e, o, old)
	}
	r := &o.rec
	d := &p.data
	d.reset(e)
	g := &p.groups
	for i := range g {
		g[i].reset(e)
	}
	req, spec, ctrs, st := &g[groupRequest], &g[groupSpec], &g[groupContainers], &g[groupState]

	// data: what belongs to this pod; the accessors read the first three
	// (mirror) without unpacking.
	d.str(o.mirror)
	d.ids(o.auditIDs)
	d.ids(o.sandboxes)
	d.id(r.AuditID)
	d.str(r.Owner.Name)
	d.str(r.Owner.UID)
	d.time(r.RequestedAt)
	d.time(r.CompletedAt)
	d.time(r.ScheduledAt)
	d.time(r.StartedAt)
	d.time(r.DeletedAt)
	d.id(r.Sandbox.ID)
	d.time(r.Sandbox.RequestedAt)
	d.time(r.Sandbox.ReadyAt)
	d.num(uint64(int64(r.Sandbox.Attempts)))
	ts := [4]float64{r.Timings.Scheduled, r.Timings.SandboxReady, r.Timings.Started, r.Timings.Lifetime}
	var set uint64
	for i, f := range ts {
		if f != 0 || math.Signbit(f) {
			set |= 1 << i
		}
	}
	d.num(set)
	for i, f := range ts {
		if set&(1<<i) != 0 {
			d.b = binary.LittleEndian.AppendUint64(d.b, math.Float64bits(f))
		}
	}
	d.denials(r.DeniedBefore)
	if r.Initiator == nil {
		d.num(0)
	} else {
		in := r.Initiator
		d.num(1)
		d.str(in.Username)
		d.str(in.Kind)
		d.str(in.Channel)
		d.str(in.Object)
		d.str(in.Verb)
		d.time(in.At)
	}
	d.list(r.Chain)
	packContainers(d, ctrs, r.Containers)
	packContainers(d, ctrs, o.nodeContainers)
	d.num(listLen(r.PullFailures == nil, len(r.PullFailures)))
	for _, f := range r.PullFailures {
		d.str(f.Image)
		d.str(f.Container)
		d.str(f.Error)
		d.str(f.Reason)
	}

	// The request.
	req.str(r.AuditLevel)
	req.str(r.Actor.Username)
	req.str(r.Actor.UID)
	req.list(r.Actor.Groups)
	req.str(r.Actor.Kind)
	req.str(r.Actor.ServiceAccount)
	req.str(r.Impersonated.Username)
	req.str(r.Impersonated.UID)
	req.list(r.Impersonated.Groups)
	req.str(r.Impersonated.Kind)
	req.str(r.Impersonated.ServiceAccount)
	req.str(r.Actor.CloudPrincipal)
	req.str(r.Actor.CloudSession)
	req.list(r.SourceIPs)
	req.str(r.UserAgent)
	req.str(r.Channel)
	req.str(r.FieldManager)
	req.list(r.Managers)
	req.str(r.Decision)
	req.num(uint64(int64(r.Code)))
	req.bools(r.Allowed)
	req.str(r.Reason)
	req.str(r.Cluster.Name)
	req.str(r.Cluster.Provider)
	req.str(r.Cluster.Account)
	req.str(r.Cluster.Region)
	req.str(r.Cluster.Zone)
	req.str(r.Cluster.ResourceID)

	// The spec; generateName first (see entry.generateName).
	spec.str(r.GenerateName)
	spec.smap(r.Labels, &p.keys)
	spec.smap(r.Annotations, &p.keys)
	spec.str(r.Owner.Kind)
	spec.str(r.ServiceAccount)
	spec.bools(r.HostNetwork, r.HostPID, r.HostIPC)

	// The state; origin first (see entry.origin).
	st.str(r.Origin)
	st.str(r.Join)
	st.str(r.Partial)
	st.list(r.Sources)
	st.list(r.Missing)
	st.str(r.Node)
	st.str(r.Sandbox.Runtime)
	st.str(r.Sandbox.RuntimeVersion)
	st.str(r.Sandbox.Error)
	st.str(r.Update)

	var out packed
	if string(d.b) == old.data {
		out.data = old.data
	} else {
		out.data = string(d.b)
	}
	for i := range g {
		switch {
		case len(g[i].b) == 0:
		case string(g[i].b) == groupValue(old.groups[i]):
			out.groups[i] = old.groups[i]
		default:
			out.groups[i] = unique.Make(string(g[i].b))
		}
	}
	return out
}

// A tombstone keeps only the ids that index it (see Correlator.emit):
// the mirror hash, the audit ids, the sandbox ids, the sandbox's and the
// containers' ids, in data alone; then the names of the containers it was
// emitted without a digest for (open.undigested), which tombstoneIDs does
// not read.
func tombstoneRecord(r *podrecord.Record) podrecord.Record {
	t := podrecord.Record{Namespace: r.Namespace, Name: r.Name, UID: r.UID, Sandbox: podrecord.Sandbox{ID: r.Sandbox.ID}}
	for _, ctr := range r.Containers {
		if ctr.ID != "" {
			t.Containers = append(t.Containers, podrecord.Container{ID: ctr.ID})
		}
	}
	return t
}

func (p *packer) packTombstone(e *entry, o *open, old packed) packed {
	d := &p.data
	d.reset(e)
	d.str(o.mirror)
	d.ids(o.auditIDs)
	d.ids(o.sandboxes)
	d.id(o.rec.Sandbox.ID)
	d.num(listLen(o.rec.Containers == nil, len(o.rec.Containers)))
	for _, c := range o.rec.Containers {
		d.id(c.ID)
	}
	d.list(o.undigested)
	if string(d.b) == old.data {
		return packed{data: old.data}
	}
	return packed{data: string(d.b)}
}

func unpackTombstone(e *entry, o *open) {
	r := &o.rec
	d := dec{s: e.pk.data, e: e}
	o.mirror = d.str()
	o.auditIDs = d.ids()
	o.sandboxes = d.ids()
	r.Sandbox.ID = d.id()
	if n, isNil := d.len(); !isNil {
		r.Containers = make([]podrecord.Container, n)
		for i := range r.Containers {
			r.Containers[i].ID = d.id()
		}
	}
	o.undigested = d.list()
}

// tombstoneIDs calls fn with each id of packed tombstone e that is not its
// namespace, name or uid, without unpacking it.
func tombstoneIDs(e *entry, fn func(string)) {
	d := dec{s: e.pk.data, e: e}
	fn(d.str())
	for range 2 {
		n, _ := d.len()
		for range n {
			fn(d.id())
		}
	}
	fn(d.id())
	n, _ := d.len()
	for range n {
		fn(d.id())
	}
}

// packContainers puts what is the pod's own of each container in d (name,
// id, start), the rest in shared.
func packContainers(d, shared *enc, cs []podrecord.Container) {
	d.num(listLen(cs == nil, len(cs)))
	for i := range cs {
		c := &cs[i]
		d.str(c.Name)
		d.id(c.ID)
		d.time(c.StartedAt)
		d.str(c.Error) // names the pod, its sandbox, its container
		shared.str(c.Image)
		shared.str(c.Type)
		shared.bools(c.Privileged)
		shared.str(c.Digest)
		shared.str(c.DigestSource)
		shared.str(c.ImageID)
		shared.str(c.Reason)
	}
}

// unpack decodes e's packed form.
func unpack(e *entry) *open {
	o := new(open)
	unpackInto(e, o)
	return o
}

// unpackInto decodes e's packed form into o, which is empty.
func unpackInto(e *entry, o *open) {
	r := &o.rec
	r.Namespace, r.Name, r.UID = groupValue(e.ns), e.name, e.uid
	if e.done {
		unpackTombstone(e, o)
		return
	}
	var arena []string // the record's lists share one array
	d := dec{s: e.pk.data, e: e, arena: &arena}
	var g [nGroups]dec
	for i := range g {
		g[i] = dec{s: groupValue(e.pk.groups[i]), e: e, arena: &arena}
	}
	req, spec, ctrs, st := &g[groupRequest], &g[groupSpec], &g[groupContainers], &g[groupState]

	o.mirror = d.str()
	o.auditIDs = d.ids()
	o.sandboxes = d.ids()
	r.AuditID = d.id()
	r.Owner.Name = d.str()
	r.Owner.UID = d.str()
	r.RequestedAt = d.time()
	r.CompletedAt = d.time()
	r.ScheduledAt = d.time()
	r.StartedAt = d.time()
	r.DeletedAt = d.time()
	r.Sandbox.ID = d.id()
	r.Sandbox.RequestedAt = d.time()
	r.Sandbox.ReadyAt = d.time()
	r.Sandbox.Attempts = int(int64(d.num()))
	set := d.num()
	var ts [4]float64
	for i := range ts {
		if set&(1<<i) != 0 {
			ts[i] = math.Float64frombits(binary.LittleEndian.Uint64([]byte(d.s[d.i : d.i+8])))
			d.i += 8
		}
	}
	r.Timings = podrecord.Timings{Scheduled: ts[0], SandboxReady: ts[1], Started: ts[2], Lifetime: ts[3]}
	r.DeniedBefore = d.denials()
	if d.num() == 1 {
		r.Initiator = &podrecord.Initiator{Username: d.str(), Kind: d.str(), Channel: d.str(), Object: d.str(), Verb: d.str(), At: d.time()}
	}
	r.Chain = d.list()
	r.Containers = unpackContainers(&d, ctrs)
	o.nodeContainers = unpackContainers(&d, ctrs)
	if n, isNil := d.len(); !isNil {
		r.PullFailures = make([]podrecord.PullFailure, n)
		for i := range r.PullFailures {
			f := &r.PullFailures[i]
			f.Image, f.Container, f.Error, f.Reason = d.str(), d.str(), d.str(), d.str()
		}
	}

	r.AuditLevel = req.str()
	r.Actor.Username = req.str()
	r.Actor.UID = req.str()
	r.Actor.Groups = req.list()
	r.Actor.Kind = req.str()
	r.Actor.ServiceAccount = req.str()
	r.Impersonated.Username = req.str()
	r.Impersonated.UID = req.str()
	r.Impersonated.Groups = req.list()
	r.Impersonated.Kind = req.str()
	r.Impersonated.ServiceAccount = req.str()
	r.Actor.CloudPrincipal = req.str()
	r.Actor.CloudSession = req.str()
	r.SourceIPs = req.list()
	r.UserAgent = req.str()
	r.Channel = req.str()
	r.FieldManager = req.str()
	r.Managers = req.list()
	r.Decision = req.str()
	r.Code = int(int64(req.num()))
	r.Allowed = req.bools()&1 != 0
	r.Reason = req.str()
	r.Cluster.Name = req.str()
	r.Cluster.Provider = req.str()
	r.Cluster.Account = req.str()
	r.Cluster.Region = req.str()
	r.Cluster.Zone = req.str()
	r.Cluster.ResourceID = req.str()

	r.GenerateName = spec.str()
	r.Labels = spec.smap()
	r.Annotations = spec.smap()
	r.Owner.Kind = spec.str()
	r.ServiceAccount = spec.str()
	hb := spec.bools()
	r.HostNetwork, r.HostPID, r.HostIPC = hb&1 != 0, hb&2 != 0, hb&4 != 0

	r.Origin = st.str()
	r.Join = st.str()
	r.Partial = st.str()
	r.Sources = st.list()
	r.Missing = st.list()
	r.Node = st.str()
	r.Sandbox.Runtime = st.str()
	r.Sandbox.RuntimeVersion = st.str()
	r.Sandbox.Error = st.str()
	r.Update = st.str()
}

func unpackContainers(d, shared *dec) []podrecord.Container {
	n, isNil := d.len()
	if isNil {
		return nil
	}
	cs := make([]podrecord.Container, n)
	for i := range cs {
		c := &cs[i]
		c.Name = d.str()
		c.ID = d.id()
		c.StartedAt = d.time()
		c.Error = d.str()
		c.Image = shared.str()
		c.Type = shared.str()
		c.Privileged = shared.bools()&1 != 0
		c.Digest = shared.str()
		c.DigestSource = shared.str()
		c.ImageID = shared.str()
		c.Reason = shared.str()
	}
	return cs
}

// enc appends the encoding. Strings are a uvarint tag then their bytes:
// 0 is "", 1 the pod's name, 2 its uid, 3 the audit id its entry id
// carries (a/<audit id>), 4+i the i-th id seen before in the same
// encoding (ids: sandbox, container and audit ids, which recur in a
// record), and n+5 a string of n+1 bytes. Times are relative to the
// previous time encoded.
type enc struct {
	b     []byte
	e     *entry
	seen  [maxSeen]string // ids so far
	nSeen int
	last  int64 // previous time, unix nanoseconds
}

const (
	tagEmpty = iota
	tagName
	tagUID
	tagEntryAuditID
	tagSeen
)

func (w *enc) reset(e *entry) {
	clear(w.seen[:w.nSeen])
	w.b, w.e, w.nSeen, w.last = w.b[:0], e, 0, 0
}

func (w *enc) num(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *enc) bools(bs ...bool) {
	var v uint64
	for i, b := range bs {
		if b {
			v |= 1 << i
		}
	}
	w.num(v)
}

func (w *enc) literal(s string) {
	w.num(uint64(len(s)) - 1 + tagSeen + maxSeen)
	w.b = append(w.b, s...)
}

// maxSeen bounds the ids an encoding refers back to.
const maxSeen = 16

func (w *enc) str(s string) {
	switch {
	case s == "":
		w.num(tagEmpty)
	case s == w.e.name:
		w.num(tagName)
	case s == w.e.uid:
		w.num(tagUID)
	default:
		w.literal(s)
	}
}

// id is str for ids, which may recur: a repeat is written as a reference.
func (w *enc) id(s string) {
	switch {
	case s == "":
		w.num(tagEmpty)
		return
	case s == w.e.auditID():
		w.num(tagEntryAuditID)
		return
	}
	if i := slices.Index(w.seen[:w.nSeen], s); i >= 0 {
		w.num(uint64(tagSeen + i))
		return
	}
	if w.nSeen < maxSeen {
		w.seen[w.nSeen] = s
		w.nSeen++
	}
	w.str(s)
}

func (w *enc) ids(ss []string) {
	w.num(listLen(ss == nil, len(ss)))
	for _, s := range ss {
		w.id(s)
	}
}

func listLen(isNil bool, n int) uint64 {
	if isNil {
		return 0
	}
	return uint64(n) + 1
}

func (w *enc) list(ss []string) {
	w.num(listLen(ss == nil, len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

// smap writes m's pairs in key order, so that equal maps encode alike.
func (w *enc) smap(m map[string]string, keys *[]string) {
	w.num(listLen(m == nil, len(m)))
	ks := (*keys)[:0]
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		w.str(k)
		w.str(m[k])
	}
	clear(ks)
	*keys = ks[:0]
}

// Times: 0 is the zero time; 1 a time outside the range of UnixNano
// (seconds and nanoseconds follow); 2+zigzag(d) the time d nanoseconds
// after the previous one encoded.
func (w *enc) time(t time.Time) {
	switch {
	case t.IsZero():
		w.num(0)
	case t.Year() < 1678 || t.Year() > 2261:
		w.num(1)
		w.b = binary.AppendVarint(w.b, t.Unix())
		w.num(uint64(t.Nanosecond()))
	default:
		n := t.UnixNano()
		w.num(2 + zigzag(n-w.last))
		w.last = n
	}
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func (w *enc) denials(ds []podrecord.Denial) {
	w.num(listLen(ds == nil, len(ds)))
	for _, d := range ds {
		w.str(d.AuditID)
		w.str(d.Namespace)
		w.str(d.Name)
		w.time(d.At)
		w.num(uint64(int64(d.Code)))
		w.str(d.Reason)
	}
}

// dec reads what enc wrote; strings are substrings of s (no copy).
type dec struct {
	s     string
	i     int
	e     *entry
	seen  [maxSeen]string
	nSeen int
	last  int64
	arena *[]string // where lists are cut from, if not nil
}

// strings returns a slice of n strings, from the arena if there is one.
func (r *dec) strings(n int) []string {
	if r.arena == nil || n == 0 {
		return make([]string, n) // not nil, even empty
	}
	a := *r.arena
	if cap(a)-len(a) < n {
		a = make([]string, 0, max(16, n))
	}
	out := a[len(a) : len(a)+n : len(a)+n]
	*r.arena = a[:len(a)+n]
	return out
}

func (r *dec) num() uint64 {
	v, n := uvarint(r.s[r.i:])
	r.i += n
	return v
}

// uvarint is binary.Uvarint on a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	panic("correlate: truncated packed entry")
}

func (r *dec) bools() uint64 { return r.num() }

func (r *dec) str() string {
	t := r.num()
	switch {
	case t == tagEmpty:
		return ""
	case t == tagName:
		return r.e.name
	case t == tagUID:
		return r.e.uid
	case t == tagEntryAuditID:
		return r.e.auditID()
	case t < tagSeen+maxSeen:
		return r.seen[t-tagSeen]
	}
	n := int(t-tagSeen-maxSeen) + 1
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}

func (r *dec) id() string {
	j := r.i
	t := r.num()
	r.i = j
	s := r.str()
	if (t >= tagSeen+maxSeen || t == tagName || t == tagUID) && r.nSeen < maxSeen {
		// an id that is not a reference: later ones may refer to it
		r.seen[r.nSeen] = s
		r.nSeen++
	}
	return s
}

func (r *dec) len() (n int, isNil bool) {
	v := r.num()
	if v == 0 {
		return 0, true
	}
	return int(v - 1), false
}

func (r *dec) ids() []string {
	n, isNil := r.len()
	if isNil {
		return nil
	}
	out := r.strings(n)
	for i := range out {
		out[i] = r.id()
	}
	return out
}

func (r *dec) list() []string {
	n, isNil := r.len()
	if isNil {
		return nil
	}
	out := r.strings(n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *dec) smap() map[string]string {
	n, isNil := r.len()
	if isNil {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.str()
		m[k] = r.str()
	}
	return m
}

func (r *dec) time() time.Time {
	switch t := r.num(); t {
	case 0:
		return time.Time{}
	case 1:
		sec, n := binary.Varint([]byte(r.s[r.i:min(len(r.s), r.i+binary.MaxVarintLen64)]))
		r.i += n
		return time.Unix(sec, int64(r.num())).UTC()
	default:
		r.last += unzigzag(t - 2)
		return time.Unix(0, r.last).UTC()
	}
}

func (r *dec) denials() []podrecord.Denial {
	n, isNil := r.len()
	if isNil {
		return nil
	}
	out := make([]podrecord.Denial, n)
	for i := range out {
		out[i] = podrecord.Denial{AuditID: r.str(), Namespace: r.str(), Name: r.str(), At: r.time(), Code: int(int64(r.num())), Reason: r.str()}
	}
	return out
}
