// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
)

// The memory benchmarks measure the live heap the Correlator holds (after
// two collections, so that interned strings no pod uses any more are gone)
// divided by what it holds it for. Inputs are built per copy while feeding,
// from freshly decoded events, so nothing the correlator keeps is shared
// with the test's own data except what the node events share by design
// (node, image and container names; see nodeCopy).

// demoCreateLines returns the demo audit log's allowed pod creates (final
// stage), as raw JSON lines.
func demoCreateLines(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(demoDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		ev, err := audit.Decode(l)
		if err != nil {
			t.Fatal(err)
		}
		if ev.IsPodCreate() && ev.IsFinal() && ev.Code() >= 200 && ev.Code() < 300 {
			out = append(out, l)
		}
	}
	if len(out) != 10 {
		t.Fatalf("%d allowed pod creates in the demo, want 10", len(out))
	}
	return out
}

// replicas makes copy k of a demo event name pods of their own: each pod
// name and uid of the demo is renamed (c<k>-name, <k>-uid) wherever it
// appears, in the audit events' objects and in the node events, and
// nothing else is: the copies are as the replicas of the same workloads,
// and copy k's audit and node events join as the originals do.
type replicas struct {
	names, uids map[string]bool
	rp          map[int]*strings.Replacer
}

func newReplicas(t testing.TB) *replicas {
	a, n := demoStreams(t, "")
	r := &replicas{names: map[string]bool{}, uids: map[string]bool{}, rp: map[int]*strings.Replacer{}}
	for _, in := range a {
		if !in.audit.IsPodCreate() {
			continue
		}
		if pod, _ := audit.DecodePod(in.audit.ResponseObject); pod != nil {
			r.names[pod.Metadata.Name] = true
			r.uids[pod.Metadata.UID] = true
		}
	}
	for _, in := range n {
		r.names[in.node.PodName] = true
		r.uids[in.node.PodUID] = true
	}
	delete(r.names, "")
	delete(r.uids, "")
	return r
}

func (r *replicas) name(s string, k int) string {
	if r.names[s] {
		return fmt.Sprintf("c%d-%s", k, s)
	}
	return s
}

func (r *replicas) uid(s string, k int) string {
	if r.uids[s] {
		return fmt.Sprintf("%d-%s", k, s)
	}
	return s
}

// audit returns copy k of ev; its audit id is its own.
func (r *replicas) audit(ev *audit.Event, k int) *audit.Event {
	rp := r.rp[k]
	if rp == nil {
		var pairs []string
		for s := range r.names {
			pairs = append(pairs, `"`+s+`"`, `"`+r.name(s, k)+`"`)
		}
		for s := range r.uids {
			pairs = append(pairs, `"`+s+`"`, `"`+r.uid(s, k)+`"`)
		}
		rp = strings.NewReplacer(pairs...)
		r.rp[k] = rp
	}
	e := *ev
	e.AuditID = fmt.Sprintf("%s-%d", e.AuditID, k)
	if e.ObjectRef != nil {
		ref := *e.ObjectRef
		ref.Name, ref.UID = r.name(ref.Name, k), r.uid(ref.UID, k)
		e.ObjectRef = &ref
	}
	if e.RequestObject != nil {
		e.RequestObject = []byte(rp.Replace(string(e.RequestObject)))
	}
	if e.ResponseObject != nil {
		e.ResponseObject = []byte(rp.Replace(string(e.ResponseObject)))
	}
	return &e
}

// node returns copy k of ev: pod uid and name renamed as in the audit
// events, sandbox and container ids of their own.
func (r *replicas) node(ev *noderuntime.Event, k int) *noderuntime.Event {
	ne := *ev
	ne.Line = ""
	ne.PodUID, ne.PodName, ne.ContainerName = r.uid(ne.PodUID, k), r.name(ne.PodName, k), r.name(ne.ContainerName, k)
	ne.SandboxID, ne.ContainerID = suffix(ne.SandboxID, k), suffix(ne.ContainerID, k)
	return &ne
}

// createCopy decodes line afresh as copy k, a pod of its own. With rep,
// as a replica (see replicas); otherwise every name and uid in the objects
// is made distinct, as uniq does: owners and container names of its own,
// the worst case for what pods share.
func createCopy(t testing.TB, line []byte, k int, rep *replicas) *audit.Event {
	ev, err := audit.Decode(line)
	if err != nil {
		t.Fatal(err)
	}
	if rep != nil {
		return rep.audit(ev, k)
	}
	ev.AuditID = fmt.Sprintf("%s-%d", ev.AuditID, k)
	return uniq(ev, k)
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC() // interned strings whose handles died in the first are dropped after it
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heldBy feeds copies of the input through a new Correlator and returns the
// heap it holds afterwards and the correlator.
func heldBy(cfg Config, copies int, feed func(c *Correlator, k int, now time.Time)) (uint64, *Correlator) {
	before := liveHeap()
	c := New(cfg)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for k := 0; k < copies; k++ {
		feed(c, k, now)
	}
	after := liveHeap()
	runtime.KeepAlive(c)
	if after < before {
		return 0, c
	}
	return after - before, c
}

// pendingAPI measures the pods whose API create arrived and that wait for
// the scheduler and the node: bytes per pending pod.
func pendingAPI(b *testing.B, copies int, rep *replicas) float64 {
	lines := demoCreateLines(b)
	cfg := DefaultConfig()
	cfg.MaxPending = 1 << 30
	heap, c := heldBy(cfg, copies, func(c *Correlator, k int, now time.Time) {
		for _, l := range lines {
			c.AddAudit(createCopy(b, l, k, rep), now)
		}
	})
	st := c.Stats()
	if st.Pending != copies*len(lines) || st.Done != 0 {
		b.Fatalf("%d pending, %d emitted: want %d pending, none emitted", st.Pending, st.Done, copies*len(lines))
	}
	return float64(heap) / float64(st.Pending)
}

// BenchmarkPendingBytes reports the heap held per pending pod, by the kind
// of pod that waits (b.N is ignored: one measurement per run).
//
//   - api: API creates waiting for the scheduler and the node, each copy a
//     pod of its own whose owner and container names are its own too (uniq);
//   - api_replicas: the same, copies being replicas (one owner, the same
//     containers), as in a scale-up;
//   - node_first: pods the node reported, waiting for their API create;
//   - tombstone: emitted pods remembered for late events (bytes/tombstone);
//   - demo_mixed: the whole demo stream, so most pods complete and become
//     tombstones: bytes per entry, pending or tombstone.
func BenchmarkPendingBytes(b *testing.B) {
	const copies = 2000
	b.Run("api", func(b *testing.B) {
		b.ReportMetric(pendingAPI(b, copies, nil), "bytes/pending-pod")
	})
	b.Run("api_replicas", func(b *testing.B) {
		b.ReportMetric(pendingAPI(b, copies, newReplicas(b)), "bytes/pending-pod")
	})
	b.Run("node_first", func(b *testing.B) {
		_, n := demoStreams(b, "")
		rep := newReplicas(b)
		cfg := DefaultConfig()
		cfg.MaxPending = 1 << 30
		heap, c := heldBy(cfg, copies, func(c *Correlator, k int, now time.Time) {
			for _, ev := range n {
				c.AddNode(rep.node(ev.node, k), now)
			}
		})
		st := c.Stats()
		if st.Done != 0 {
			b.Fatalf("%d emitted, want none", st.Done)
		}
		b.ReportMetric(float64(heap)/float64(st.Pending), "bytes/pending-pod")
		b.ReportMetric(float64(st.Pending), "pending")
		b.ReportMetric(float64(c.orphans.n), "orphans")
	})
	b.Run("tombstone", func(b *testing.B) {
		b.ReportMetric(tombstoneBytes(b, copies), "bytes/tombstone")
	})
	b.Run("demo_mixed", func(b *testing.B) {
		a, n := demoStreams(b, "")
		in := byTime(append(a, n...))
		rep := newReplicas(b)
		cfg := DefaultConfig()
		cfg.MaxPending = 1 << 30
		cfg.Tombstones = copies * 12
		heap, c := heldBy(cfg, copies, func(c *Correlator, k int, now time.Time) {
			for _, ev := range in {
				if ev.audit != nil {
					c.AddAudit(rep.audit(ev.audit, k), now)
				} else {
					c.AddNode(rep.node(ev.node, k), now)
				}
			}
		})
		st := c.Stats()
		b.ReportMetric(float64(heap)/float64(st.Pending+st.Done), "bytes/entry")
		b.ReportMetric(float64(st.Pending), "pending")
		b.ReportMetric(float64(st.Done), "tombstones")
		b.ReportMetric(float64(st.Owners), "owners")
	})
}

// tombstoneBytes measures emitted pods kept as tombstones: API creates
// that complete at once (only the audit source expected).
func tombstoneBytes(b *testing.B, copies int) float64 {
	lines := demoCreateLines(b)
	cfg := DefaultConfig()
	cfg.Expect = []string{SourceAudit}
	cfg.Tombstones = copies * len(lines)
	heap, c := heldBy(cfg, copies, func(c *Correlator, k int, now time.Time) {
		for _, l := range lines {
			c.AddAudit(createCopy(b, l, k, nil), now)
		}
	})
	st := c.Stats()
	if st.Pending != 0 || st.Done != copies*len(lines) {
		b.Fatalf("%d pending, %d tombstones", st.Pending, st.Done)
	}
	return float64(heap) / float64(st.Done)
}

// flood pushes creates [from, to) of a flood of distinct pod creates (the
// demo's, copy i/10 of create i%10, made distinct as uniq does) through c,
// and returns the records' count by kind. No record is kept.
func flood(t testing.TB, c *Correlator, lines [][]byte, from, to int) (emitted, evicted int) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		for _, r := range c.AddAudit(createCopy(t, lines[i%len(lines)], i/len(lines), nil), now) {
			emitted++
			if r.Partial == PartialEvicted {
				evicted++
			}
		}
	}
	return emitted, evicted
}

// TestFlood: a flood of distinct pod creates that nothing completes keeps
// at most MaxPending pods waiting, and every pod pushed out is emitted as
// partial (evicted): none is dropped.
func TestFlood(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPending = 500
	cfg.Tombstones = 1000
	c := New(cfg)
	const n = 4000
	emitted, evicted := flood(t, c, demoCreateLines(t), 0, n)
	st := c.Stats()
	if st.Pending != cfg.MaxPending || emitted+st.Pending != n || evicted != emitted || st.Evicted != uint64(evicted) || st.Partial != uint64(evicted) {
		t.Fatalf("%d pending, %d emitted (%d evicted), stats %+v", st.Pending, emitted, evicted, st)
	}
	if st.Done != cfg.Tombstones || len(c.entries) != st.Pending+st.Done {
		t.Fatalf("%d tombstones, %d entries", st.Done, len(c.entries))
	}
	for name, n := range map[string]int{"uid": len(c.byUID), "name": len(c.byName), "audit": len(c.byAudit)} {
		if n > st.Pending+st.Done {
			t.Errorf("index by %s holds %d, more than the %d entries", name, n, st.Pending+st.Done)
		}
	}
	// The rest is emitted at shutdown, nothing lost.
	rest := c.Drain(PartialShutdown)
	if len(rest) != cfg.MaxPending {
		t.Fatalf("drained %d, want %d", len(rest), cfg.MaxPending)
	}
}

// BenchmarkFlood pushes 100 000 distinct pod creates through a Correlator
// bounded at MaxPending 10 000 and reports the heap it holds after 50 000
// and after 100 000 creates, against the bound the per-pod figures give:
// MaxPending pending pods plus the tombstones (the flood adds no
// workloads: owners hold nothing). With the default 100 000 tombstones the
// heap grows by the tombstones of the second half; with 10 000 it stays
// flat. Every pod pushed out is emitted as partial (evicted).
func BenchmarkFlood(b *testing.B) {
	lines := demoCreateLines(b)
	perPending := pendingAPI(b, 1000, nil)
	perTombstone := tombstoneBytes(b, 1000)
	for _, tombstones := range []int{DefaultConfig().Tombstones, 10_000} {
		b.Run(fmt.Sprintf("tombstones_%d", tombstones), func(b *testing.B) {
			const n = 100_000
			cfg := DefaultConfig()
			cfg.MaxPending = 10_000
			cfg.Tombstones = tombstones
			before := liveHeap()
			c := New(cfg)
			emitted, evicted := flood(b, c, lines, 0, n/2)
			half := int64(liveHeap()) - int64(before)
			e2, ev2 := flood(b, c, lines, n/2, n)
			heap := int64(liveHeap()) - int64(before)
			runtime.KeepAlive(c)
			emitted, evicted = emitted+e2, evicted+ev2
			st := c.Stats()
			if st.Pending != cfg.MaxPending || emitted+st.Pending != n || evicted != emitted || st.Partial != uint64(evicted) {
				b.Fatalf("%d pending, %d emitted, %d evicted: %+v", st.Pending, emitted, evicted, st)
			}
			bound := float64(cfg.MaxPending)*perPending + float64(st.Done)*perTombstone
			b.ReportMetric(float64(half), "heap-bytes@50k")
			b.ReportMetric(float64(heap), "heap-bytes@100k")
			b.ReportMetric(float64(st.Pending), "pending")
			b.ReportMetric(float64(st.Done), "tombstones")
			b.ReportMetric(float64(evicted), "evicted-partial")
			b.ReportMetric(bound, "bound-bytes")
			b.ReportMetric(float64(heap)/bound, "heap/bound")
			b.ReportMetric(perPending, "bytes/pending-pod")
			b.ReportMetric(perTombstone, "bytes/tombstone")
		})
	}
}
