// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// Persisted state layout, in any key-value store (the processor uses a
// collector storage extension, which cannot list keys):
//
//	p/<id>      one pod entry (pending or tombstone), JSON
//	pi/<shard>  the ids of the entries in that shard, JSON list
//	o/<key>     one workload, JSON
//	oi/<shard>  the keys of the workloads in that shard
//	i/<key>     one image digest a node resolved (node|repository:tag), JSON
//	ii/<shard>  the keys of the image digests in that shard
//
// Persist writes only what changed since the last Persist: the changed
// entries and workloads and the index shards that list them.
const shards = 256

func shardOf(s string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int(h.Sum32() % shards)
}

// Persist hands every change since the last call to put; a nil value
// deletes the key. Call it after the records the changes emitted were
// delivered.
func (c *Correlator) Persist(put func(key string, val []byte) error) error {
	if !c.cfg.Persistent {
		return errors.New("correlate: Persist needs Config.Persistent")
	}
	dirtyShards := map[int]bool{}
	for id := range c.dirty {
		dirtyShards[shardOf(id)] = true
		var val []byte
		if e := c.entries[id]; e != nil {
			var err error
			if val, err = json.Marshal(persisted(e)); err != nil {
				return err
			}
		}
		if err := put("p/"+id, val); err != nil {
			return err
		}
	}
	if err := putIndex(put, "pi/", dirtyShards, &c.ids); err != nil {
		return err
	}
	clear(c.dirty)

	ownerShards := map[int]bool{}
	for key := range c.owners.dirty {
		ownerShards[shardOf(key)] = true
		var val []byte
		if w := c.owners.m[key]; w != nil {
			var err error
			if val, err = json.Marshal(persistedOwner{w.Key, w.Parent, w.Change, w.seq}); err != nil {
				return err
			}
		}
		if err := put("o/"+key, val); err != nil {
			return err
		}
	}
	if err := putIndex(put, "oi/", ownerShards, &c.owners.ids); err != nil {
		return err
	}
	clear(c.owners.dirty)

	imageShards := map[int]bool{}
	for key := range c.images.dirty {
		imageShards[shardOf(key)] = true
		var val []byte
		if d, ok := c.images.m[key]; ok {
			var err error
			if val, err = json.Marshal(persistedImage{d.Digest, d.Source, d.seq}); err != nil {
				return err
			}
		}
		if err := put("i/"+key, val); err != nil {
			return err
		}
	}
	if err := putIndex(put, "ii/", imageShards, &c.images.ids); err != nil {
		return err
	}
	clear(c.images.dirty)
	return nil
}

type persistedImage struct {
	Digest string `json:"digest"`
	Source string `json:"source"`
	Seq    uint64 `json:"seq"`
}

// persistedEntry is an entry as Persist writes it: its record unpacked.
type persistedEntry struct {
	ID       string           `json:"id"`
	Rec      podrecord.Record `json:"rec"`
	First    time.Time        `json:"first"`
	Done     bool             `json:"done,omitempty"`
	AuditIDs []string         `json:"audit_ids,omitempty"`
	HasAudit bool             `json:"has_audit,omitempty"`
	Mirror   string           `json:"mirror,omitempty"`
	Bound    bool             `json:"bound,omitempty"`

	NodeContainers []podrecord.Container `json:"node_containers,omitempty"`
	Sandboxes      []string              `json:"sandboxes,omitempty"`
	APISeen        bool                  `json:"api_seen,omitempty"`
	RanSandbox     bool                  `json:"ran_sandbox,omitempty"`
	Watched        bool                  `json:"watched,omitempty"`
	DigestBy       time.Time             `json:"digest_by,omitzero"`
	Undigested     []string              `json:"undigested,omitempty"`
}

func persisted(e *entry) *persistedEntry {
	o := e.o
	if o == nil {
		o = unpack(e)
	}
	return &persistedEntry{ID: e.ID, Rec: o.rec, First: e.First, Done: e.done, AuditIDs: o.auditIDs, HasAudit: e.hasAudit,
		Mirror: o.mirror, Bound: e.bound, NodeContainers: o.nodeContainers, Sandboxes: o.sandboxes,
		APISeen: e.apiSeen, RanSandbox: e.ranSandbox, Watched: e.watched, DigestBy: e.digestBy, Undigested: o.undigested}
}

func (p *persistedEntry) entry() *entry {
	rec := p.Rec
	if p.Done {
		rec = tombstoneRecord(&rec) // as emit leaves it: only the ids are packed
	}
	// A state written before ran_sandbox: a runtime's line and a sandbox
	// start (its id, or a request) say the same.
	ran := p.RanSandbox || !p.Done && p.Rec.Sandbox.Runtime != "" && (p.Rec.Sandbox.ID != "" || !p.Rec.Sandbox.RequestedAt.IsZero())
	return &entry{ID: p.ID, First: p.First, done: p.Done, hasAudit: p.HasAudit, bound: p.Bound, apiSeen: p.APISeen, ranSandbox: ran, watched: p.Watched, digestBy: p.DigestBy,
		o: &open{rec: rec, auditIDs: p.AuditIDs, mirror: p.Mirror, nodeContainers: p.NodeContainers, sandboxes: p.Sandboxes,
			undigested: p.Undigested}}
}

type persistedOwner struct {
	Key    string `json:"key"`
	Parent string `json:"parent,omitempty"`
	Change any    `json:"change,omitempty"`
	Seq    uint64 `json:"seq"`
}

func putIndex(put func(string, []byte) error, prefix string, dirty map[int]bool, keys *shardSet) error {
	for s := range dirty {
		ids := keys.list(s)
		sort.Strings(ids)
		val, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			val = nil
		}
		if err := put(fmt.Sprintf("%s%d", prefix, s), val); err != nil {
			return err
		}
	}
	return nil
}

// shardSet keeps the keys of a map by shard, so that an index shard is
// written without walking the whole map.
type shardSet [shards]map[string]struct{}

func (ss *shardSet) add(k string) {
	s := shardOf(k)
	if ss[s] == nil {
		ss[s] = map[string]struct{}{}
	}
	ss[s][k] = struct{}{}
}

func (ss *shardSet) remove(k string) { delete(ss[shardOf(k)], k) }

func (ss *shardSet) list(s int) []string {
	out := make([]string, 0, len(ss[s]))
	for k := range ss[s] {
		out = append(out, k)
	}
	return out
}

// Restore loads what Persist wrote into an empty Correlator. get returns
// nil, nil for a missing key.
func (c *Correlator) Restore(get func(key string) ([]byte, error)) error {
	type restored struct {
		e    *entry
		list int // listKind, while it was open
	}
	var pending []restored
	var done []*entry
	for s := 0; s < shards; s++ {
		ids, err := getList(get, fmt.Sprintf("pi/%d", s))
		if err != nil {
			return err
		}
		for _, id := range ids {
			val, err := get("p/" + id)
			if err != nil {
				return err
			}
			if val == nil {
				continue
			}
			p := new(persistedEntry)
			if err := json.Unmarshal(val, p); err != nil {
				return fmt.Errorf("correlation state p/%s: %w", id, err)
			}
			e := p.entry()
			c.entries[e.ID] = e
			c.opened = append(c.opened, e)
			c.ids.add(e.ID)
			c.index(e)
			if e.done {
				done = append(done, e)
			} else {
				pending = append(pending, restored{e, listKind(e)})
			}
			c.settleSome()
		}
		keys, err := getList(get, fmt.Sprintf("oi/%d", s))
		if err != nil {
			return err
		}
		for _, k := range keys {
			val, err := get("o/" + k)
			if err != nil {
				return err
			}
			if val == nil {
				continue
			}
			var w owner
			var p struct {
				Seq uint64 `json:"seq"`
			}
			if err := json.Unmarshal(val, &w); err != nil {
				return fmt.Errorf("correlation state o/%s: %w", k, err)
			}
			_ = json.Unmarshal(val, &p)
			w.seq = p.Seq
			c.owners.m[w.Key] = &w
			c.owners.ids.add(w.Key)
			if p.Seq > c.owners.seq {
				c.owners.seq = p.Seq
			}
		}
	}
	imgs := map[string]imageDigest{}
	for s := 0; s < shards; s++ {
		keys, err := getList(get, fmt.Sprintf("ii/%d", s))
		if err != nil {
			return err
		}
		for _, k := range keys {
			val, err := get("i/" + k)
			if err != nil {
				return err
			}
			if val == nil {
				continue
			}
			var p persistedImage
			if err := json.Unmarshal(val, &p); err != nil {
				return fmt.Errorf("correlation state i/%s: %w", k, err)
			}
			imgs[k] = imageDigest{Digest: p.Digest, Source: p.Source, seq: p.Seq}
		}
	}
	c.images.restore(imgs)
	sort.Slice(pending, func(i, j int) bool { return pending[i].e.First.Before(pending[j].e.First) })
	for _, p := range pending {
		c.enqueue(p.e)
		c.listAs(p.e, p.list) // in the order of First: each add is at the end
		if !p.e.digestBy.IsZero() {
			c.waiting.push(p.e)
		}
	}
	w := c.waiting.live()
	sort.SliceStable(w, func(i, j int) bool { return w[i].digestBy.Before(w[j].digestBy) })
	sort.Slice(done, func(i, j int) bool { return done[i].First.Before(done[j].First) })
	for _, e := range done {
		c.bury(e)
	}
	c.settle()
	ws := make([]*owner, 0, len(c.owners.m))
	for _, w := range c.owners.m {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].seq < ws[j].seq })
	for _, w := range ws {
		c.owners.order = append(c.owners.order, ownerPos{w.Key, w.seq})
	}
	return nil
}

func getList(get func(string) ([]byte, error), key string) ([]string, error) {
	val, err := get(key)
	if err != nil || val == nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(val, &out); err != nil {
		return nil, fmt.Errorf("correlation state %s: %w", key, err)
	}
	return out, nil
}
