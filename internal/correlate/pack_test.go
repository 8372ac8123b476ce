// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// fill sets every field reachable from v to a value of its own (strings,
// numbers, times, a slice or map of two, a pointer): a field the codec
// does not carry shows in the round trip.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n) * 1001)
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.25)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k, x := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(x, n)
			v.SetMapIndex(k, x)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1_790_000_000+int64(*n)*37, int64(*n)*1_000_003).UTC()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: " + v.Type().String())
	}
}

// roundTrip packs o as entry id's and unpacks it.
func roundTrip(t *testing.T, id string, o *open) *open {
	t.Helper()
	e := &entry{ID: id, name: o.rec.Name, uid: o.rec.UID}
	c := New(DefaultConfig())
	c.keepOpen = 0
	c.entries[id] = e
	e.o = o
	c.opened = append(c.opened, e)
	c.settle() // recycles o
	if e.o != nil || e.pk.data == "" {
		t.Fatal("not packed")
	}
	return unpack(e)
}

// checkRoundTrip packs and unpacks what build makes, as entry id.
func checkRoundTrip(t *testing.T, name, id string, build func() *open) {
	t.Helper()
	o := build()
	want, _ := json.Marshal(persistedEntry{Rec: o.rec, AuditIDs: o.auditIDs, Mirror: o.mirror, NodeContainers: o.nodeContainers, Sandboxes: o.sandboxes})
	got := roundTrip(t, id, build())
	if !reflect.DeepEqual(got, o) {
		g, _ := json.Marshal(persistedEntry{Rec: got.rec, AuditIDs: got.auditIDs, Mirror: got.mirror, NodeContainers: got.nodeContainers, Sandboxes: got.sandboxes})
		t.Errorf("%s: round trip differs\n got %s\nwant %s\n got %#v\nwant %#v", name, g, want, got, o)
	}
}

func TestPackRoundTrip(t *testing.T) {
	full := func() *open {
		var o open
		n := 0
		fill(reflect.ValueOf(&o.rec).Elem(), &n)
		fill(reflect.ValueOf(&o.auditIDs).Elem(), &n)
		fill(reflect.ValueOf(&o.mirror).Elem(), &n)
		fill(reflect.ValueOf(&o.nodeContainers).Elem(), &n)
		fill(reflect.ValueOf(&o.sandboxes).Elem(), &n)
		return &o
	}
	checkRoundTrip(t, "every field set", "u/x", full)

	// fill sets every field of the record: a new field the codec misses
	// shows above. Check that fill reached them all.
	walkZero(reflect.ValueOf(full().rec), "rec", func(path string) { t.Errorf("fill left %s zero", path) })

	aid := full().rec.AuditID
	checkRoundTrip(t, "audit id of the entry id", "a/"+aid, func() *open {
		o := full()
		o.auditIDs[0] = o.rec.AuditID
		return o
	})

	checkRoundTrip(t, "aliases", "a/"+full().auditIDs[0], func() *open {
		o := full()
		o.rec.Sandbox.ID = o.sandboxes[1]
		o.rec.Containers[0].ID = o.nodeContainers[1].ID
		o.nodeContainers[0].ID = o.rec.Containers[1].ID
		o.rec.Containers[1].Name = o.rec.Name
		o.rec.Labels["pod-name"] = o.rec.Name
		o.rec.Labels["pod-uid"] = o.rec.UID
		o.mirror = o.rec.UID
		o.sandboxes[0] = o.rec.UID
		o.rec.AuditID = o.rec.Name
		return o
	})

	checkRoundTrip(t, "empty and nil", "u/x", func() *open {
		o := full()
		r := &o.rec
		r.Labels, r.Annotations, r.SourceIPs, r.Managers, r.Actor.Groups = map[string]string{}, nil, []string{}, nil, []string{}
		r.Containers, r.DeniedBefore, r.Chain, r.Sources, r.Missing = []podrecord.Container{}, []podrecord.Denial{}, []string{}, []string{}, nil
		r.Initiator = nil
		o.auditIDs, o.sandboxes, o.nodeContainers = []string{}, nil, []podrecord.Container{}
		return o
	})
	checkRoundTrip(t, "nothing", "u/", func() *open { return &open{} })

	checkRoundTrip(t, "times", "u/x", func() *open {
		o := full()
		o.rec.RequestedAt = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
		o.rec.CompletedAt = time.Date(3000, 1, 2, 3, 4, 5, 6, time.UTC)
		o.rec.ScheduledAt = time.Time{}
		o.rec.StartedAt = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		o.rec.DeletedAt = time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC)
		o.rec.Timings = podrecord.Timings{Scheduled: -1.5, SandboxReady: 0, Started: 1e300}
		return o
	})

	checkRoundTrip(t, "many ids", "u/x", func() *open {
		o := full()
		for i := 0; i < 40; i++ {
			o.sandboxes = append(o.sandboxes, fmt.Sprintf("sb%d", i%25))
		}
		return o
	})
}

// TestPackTombstone: a tombstone keeps its ids, and they are found to take
// them out of the indexes.
func TestPackTombstone(t *testing.T) {
	build := func() *open {
		o := &open{auditIDs: []string{"a1", "a2"}, sandboxes: []string{"s1", "s2"}, mirror: "m"}
		o.rec = podrecord.Record{Namespace: "ns", Name: "n", UID: "u", Sandbox: podrecord.Sandbox{ID: "s2"},
			Containers: []podrecord.Container{{ID: "c1"}, {ID: "s1"}}}
		return o
	}
	c := New(DefaultConfig())
	c.keepOpen = 0
	e := &entry{ID: "a/a1", done: true}
	c.entries[e.ID] = e
	e.o = build()
	c.index(e)
	c.opened = append(c.opened, e)
	c.settle()
	if got := unpack(e); !reflect.DeepEqual(got, build()) {
		t.Errorf("round trip: got %+v", got)
	}
	var ids []string
	tombstoneIDs(e, func(id string) { ids = append(ids, id) })
	if fmt.Sprint(ids) != "[m a1 a2 s1 s2 s2 c1 s1]" {
		t.Errorf("ids %v", ids)
	}
	c.unindex(e)
	if n := len(c.byUID) + len(c.byName) + len(c.byAudit) + len(c.bySandbox) + len(c.byCtr); n != 0 {
		t.Errorf("%d left in the indexes", n)
	}
}

// walkZero calls zero for every field path under v that is the zero value.
func walkZero(v reflect.Value, path string, zero func(string)) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			if v.Interface().(time.Time).IsZero() {
				zero(path)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue // fill sets exported fields (the codec's); podrecord.Container's meta is attached after emission
			}
			walkZero(v.Field(i), path+"."+v.Type().Field(i).Name, zero)
		}
	case reflect.Pointer:
		if v.IsNil() {
			zero(path)
			return
		}
		walkZero(v.Elem(), path, zero)
	case reflect.Slice:
		if v.Len() == 0 {
			zero(path)
		}
		for i := 0; i < v.Len(); i++ {
			walkZero(v.Index(i), path+"[]", zero)
		}
	default:
		if v.IsZero() {
			zero(path)
		}
	}
}

// TestPackedSameRecords runs the demo in many orders and settings with and
// without packing (every entry packed after each call, or all but the last
// two touched): the records are equal, field for field.
func TestPackedSameRecords(t *testing.T) {
	a, n := demoStreams(t, "")
	na := readNode(t, filepath.Join(demoDir, "nodes", "node-a.log"))
	nb := readNode(t, filepath.Join(demoDir, "nodes", "node-b.log"))
	streams := map[string][]input{
		"time order":  byTime(append(append([]input(nil), a...), n...)),
		"audit first": append(append([]input(nil), a...), n...),
		"node first":  append(append([]input(nil), n...), a...),
	}
	for seed := int64(1); seed <= 8; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		ss := [][]input{a, na, nb}
		var out []input
		for len(ss) > 0 {
			i := rnd.Intn(len(ss))
			out = append(out, ss[i][0])
			if ss[i] = ss[i][1:]; len(ss[i]) == 0 {
				ss = append(ss[:i], ss[i+1:]...)
			}
		}
		streams[fmt.Sprintf("interleaved %d", seed)] = out
	}
	for _, level := range []string{"Request", "Metadata"} {
		la, ln := demoStreams(t, level)
		streams[level] = byTime(append(la, ln...))
	}
	configs := map[string]func(*Config){
		"default":       func(*Config) {},
		"max pending 3": func(c *Config) { c.MaxPending = 3 },
		"audit only":    func(c *Config) { c.Expect = []string{SourceAudit} },
		"tombstones 2":  func(c *Config) { c.Tombstones = 2 },
	}
	for sn, in := range streams {
		for cn, set := range configs {
			cfg := DefaultConfig()
			set(&cfg)
			plain := New(cfg)
			plain.keepOpen = math.MaxInt
			want := run(plain, in)
			for _, keep := range []int{0, 2} {
				c := New(cfg)
				c.keepOpen = keep
				got := run(c, in)
				if len(got) != len(want) {
					t.Errorf("%s, %s, %d open: %d records, want %d", sn, cn, keep, len(got), len(want))
					continue
				}
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						g, _ := json.Marshal(got[i])
						w, _ := json.Marshal(want[i])
						t.Errorf("%s, %s, %d open: record %d\n got %s\nwant %s", sn, cn, keep, i, g, w)
					}
				}
			}
		}
	}
}

// TestPersistPacked: an entry written by Persist, packed or open, reads
// back as it was, at every point of the demo stream.
func TestPersistPacked(t *testing.T) {
	a, n := demoStreams(t, "")
	in := byTime(append(append([]input(nil), a...), n...))
	cfg := DefaultConfig()
	cfg.Persistent = true
	for _, keep := range []int{0, 3} {
		c := New(cfg)
		c.keepOpen = keep
		s := store{}
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for i, ev := range in {
			now = now.Add(time.Millisecond)
			if ev.audit != nil {
				c.AddAudit(ev.audit, now)
			} else {
				c.AddNode(ev.node, now)
			}
			if err := c.Persist(s.put); err != nil {
				t.Fatal(err)
			}
			c2 := New(cfg)
			c2.keepOpen = keep
			if err := c2.Restore(s.get); err != nil {
				t.Fatal(err)
			}
			if len(c2.entries) != len(c.entries) {
				t.Fatalf("event %d: %d entries restored, want %d", i, len(c2.entries), len(c.entries))
			}
			for id, e := range c.entries {
				want, _ := json.Marshal(persisted(e))
				got, _ := json.Marshal(persisted(c2.entries[id]))
				if string(got) != string(want) {
					t.Fatalf("%d open, event %d, %s:\n got %s\nwant %s", keep, i, id, got, want)
				}
			}
		}
	}
}

// TestRestoreMany restores more entries than stay open during Restore:
// the entries, the FIFO and the join candidates are those written.
func TestRestoreMany(t *testing.T) {
	a, _ := demoStreams(t, "Request") // creates without the pod's name: nameless candidates
	_, n := demoStreams(t, "")
	rep := newReplicas(t)
	cfg := DefaultConfig()
	cfg.Persistent = true
	cfg.MaxPending = 1 << 20
	c := New(cfg)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for k := 0; k < 60; k++ {
		// Each event at its own time: Restore orders by First, and ties
		// may come back in any order.
		for _, ev := range a {
			now = now.Add(time.Millisecond)
			c.AddAudit(rep.audit(ev.audit, k), now)
		}
		for _, ev := range n {
			now = now.Add(time.Millisecond)
			c.AddNode(rep.node(ev.node, 1000+k), now) // other pods: unjoined candidates
		}
	}
	if len(c.entries) < 600 {
		t.Fatalf("only %d entries", len(c.entries))
	}
	s := store{}
	if err := c.Persist(s.put); err != nil {
		t.Fatal(err)
	}
	c2 := New(cfg)
	c2.keepOpen = 0
	if err := c2.Restore(s.get); err != nil {
		t.Fatal(err)
	}
	for id, e := range c.entries {
		want, _ := json.Marshal(persisted(e))
		got, _ := json.Marshal(persisted(c2.entries[id]))
		if string(got) != string(want) {
			t.Fatalf("%s:\n got %s\nwant %s", id, got, want)
		}
	}
	ids := func(l []*entry) (out []string) {
		for _, e := range l {
			if e != nil && !e.done {
				out = append(out, e.ID)
			}
		}
		return out
	}
	if g, w := ids(c2.pending.live()), ids(c.pending.live()); !reflect.DeepEqual(g, w) {
		t.Errorf("pending order differs")
	}
	for name, pair := range map[string][2]candidates{"nameless": {c.nameless, c2.nameless}, "unjoined": {c.unjoined, c2.unjoined}} {
		if len(pair[0]) == 0 || len(pair[0]) != len(pair[1]) {
			t.Errorf("%s: %d namespaces, restored %d", name, len(pair[0]), len(pair[1]))
		}
		for ns, l := range pair[0] {
			if g, w := ids(*pair[1][ns]), ids(*l); !reflect.DeepEqual(g, w) {
				t.Errorf("%s %s: %v, want %v", name, ns, g, w)
			}
		}
	}
	if len(c2.opened) != 0 {
		t.Errorf("%d left open", len(c2.opened))
	}
}
