// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/samples"
)

// store is a key-value map standing in for the storage extension (the
// processor's tests use the real file_storage).
type store map[string][]byte

func (s store) put(k string, v []byte) error {
	if v == nil {
		delete(s, k)
	} else {
		s[k] = append([]byte(nil), v...)
	}
	return nil
}

func (s store) get(k string) ([]byte, error) { return s[k], nil }

// TestRestartMidStream persists after every event, "crashes" at every
// point of the demo stream, restores into a new correlator and finishes the
// stream: the records are those of an uninterrupted run, none twice. With
// the entries kept open between calls and with every entry packed.
func TestRestartMidStream(t *testing.T) {
	for _, keep := range []int{keepOpen, 0} {
		t.Run(fmt.Sprintf("%d open", keep), func(t *testing.T) { testRestartMidStream(t, keep) })
	}
}

func testRestartMidStream(t *testing.T, keep int) {
	a, n := demoStreams(t, "")
	in := byTime(append(append([]input(nil), a...), n...))
	want := recordSet(t, run(New(DefaultConfig()), in))
	cfg := DefaultConfig()
	cfg.Persistent = true
	for cut := 1; cut < len(in); cut += 7 {
		s := store{}
		c := New(cfg)
		c.keepOpen = keep
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		var got []*podrecord.Record
		feed := func(c *Correlator, evs []input) {
			for _, ev := range evs {
				now = now.Add(time.Millisecond)
				if ev.audit != nil {
					got = append(got, c.AddAudit(ev.audit, now)...)
				} else {
					got = append(got, c.AddNode(ev.node, now)...)
				}
				got = append(got, c.Expire(now)...)
				if err := c.Persist(s.put); err != nil {
					t.Fatal(err)
				}
			}
		}
		feed(c, in[:cut])
		c2 := New(cfg)
		c2.keepOpen = keep
		if err := c2.Restore(s.get); err != nil {
			t.Fatal(err)
		}
		feed(c2, in[cut:])
		got = append(got, c2.Expire(now.Add(time.Hour))...)
		if g := recordSet(t, got); g != want {
			t.Fatalf("cut at %d of %d:\n got %s\nwant %s", cut, len(in), g, want)
		}
	}
}

// recordSet summarizes records as a sorted list: one line per record.
func recordSet(t *testing.T, recs []*podrecord.Record) string {
	t.Helper()
	var lines []string
	for _, r := range recs {
		lines = append(lines, fmt.Sprintf("%s/%s uid=%s origin=%s sources=%v missing=%v sandbox=%.12s partial=%s",
			r.Namespace, r.Name, r.UID, r.Origin, sorted(r.Sources), r.Missing, r.Sandbox.ID, r.Partial))
	}
	sort.Strings(lines)
	return "\n" + strings.Join(lines, "\n")
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

func TestAuditLevels(t *testing.T) {
	for _, level := range []string{"Request", "Metadata"} {
		t.Run(level, func(t *testing.T) {
			a, n := demoStreams(t, level)
			recs := run(New(DefaultConfig()), byTime(append(a, n...)))
			got := index(t, recs)
			// Every pod of the demo still has one record, joined to its node.
			for k := range demoWant {
				if strings.Contains(k, "mallory") {
					continue
				}
				r := got[k]
				if r == nil {
					t.Errorf("%s: no record", k)
					continue
				}
				if !contains(r.Sources, "audit") && r.Origin != "node_only" {
					t.Errorf("%s: no audit source: %v", k, r.Sources)
				}
			}
			// Below RequestResponse the uid comes from the node or binding.
			r := got["kube-system/kube-proxy-x7b2q"]
			if r == nil || r.UID != "1fd08881-4702-4e21-947b-fdd55ce7bb17" || r.Sandbox.ID == "" {
				t.Errorf("kube-proxy-x7b2q: %+v", r)
			}
			if len(recs) != len(demoWant) {
				t.Errorf("%d records, want %d", len(recs), len(demoWant))
			}
		})
	}
}

// TestGenerateNameJoin: at Request level a replicaset-controller pod's name
// is not in the audit event; the node's line names the pod and joins it by
// namespace and generateName prefix, and the record says so.
func TestGenerateNameJoin(t *testing.T) {
	a, n := demoStreams(t, "Request")
	got := index(t, run(New(DefaultConfig()), byTime(append(a, n...))))
	r := got["shop/payments-5d8f7c9b6d-q9wzt"]
	if r == nil {
		t.Fatal("no record for payments")
	}
	if r.Join != JoinGenerateName || contains(r.Missing, podrecord.MissingGeneratedName) {
		t.Errorf("join %q missing %v", r.Join, r.Missing)
	}
	if r.Initiator == nil || r.Initiator.Channel != "helm" {
		t.Errorf("initiator %+v", r.Initiator)
	}
}

func TestAuditOnly(t *testing.T) {
	a, _ := demoStreams(t, "")
	t.Run("expect all: partial after the window, node missing", func(t *testing.T) {
		recs := run(New(DefaultConfig()), a)
		for _, r := range recs {
			if r.Allowed && r.DeletedAt.IsZero() && (r.Partial != PartialWindow || !contains(r.Missing, SourceNode)) {
				t.Errorf("%s/%s: partial %q missing %v", r.Namespace, r.Name, r.Partial, r.Missing)
			}
		}
		if len(recs) != 11 {
			t.Errorf("%d records, want 11", len(recs))
		}
	})
	t.Run("expect audit and scheduler: complete at the binding", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Expect = []string{SourceAudit, SourceScheduler}
		c := New(cfg)
		now := time.Now()
		var recs []*podrecord.Record
		for _, ev := range a {
			recs = append(recs, c.AddAudit(ev.audit, now)...)
		}
		if len(recs) != 11 || c.Stats().Pending != 0 {
			t.Fatalf("%d records, %d pending", len(recs), c.Stats().Pending)
		}
		for _, r := range recs {
			if r.Partial != "" || len(r.Missing) > 0 && r.Missing[0] != "initiator" {
				t.Errorf("%s/%s: partial %q missing %v", r.Namespace, r.Name, r.Partial, r.Missing)
			}
		}
	})
}

// TestLiveCapture: the real v1.33 capture at three audit levels (no
// scheduler or kubelet ran): one record per created pod, 6 in all.
func TestLiveCapture(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	cfg := DefaultConfig()
	cfg.Expect = []string{SourceAudit}
	recs := run(New(cfg), readAudit(t, filepath.Join(dir, "audit.log"), ""))
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	initiators := 0
	for _, r := range recs {
		if r.Initiator != nil {
			initiators++
			if r.Initiator.Channel != "kubectl" || r.Chain[len(r.Chain)-1] != "Deployment/web" {
				t.Errorf("%s/%s: chain %v initiator %+v", r.Namespace, r.Name, r.Chain, r.Initiator)
			}
		}
	}
	// The Deployments and ReplicaSets are at Metadata level in this capture:
	// the chain is found by name (web-796cf5c97c belongs to web). In
	// lvl-metadata the pod itself is at Metadata level: no owner, no chain.
	if initiators != 2 {
		t.Errorf("%d records name the person behind `kubectl create deployment`, want 2", initiators)
	}
}

func TestStaticAndMirrorPod(t *testing.T) {
	kubelet := `Nov 20 09:13:01 node-a kubelet[1187]: I1120 09:13:01.204417    1187 kubelet.go:2593] "SyncLoop ADD" source="file" pods=["kube-system/etcd-node-a"]`
	p := noderuntime.NewParser(noderuntime.Options{Reference: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
	evs, err := p.ParseAll([]byte(kubelet), nil)
	if err != nil || len(evs) != 1 || evs[0].Kind != noderuntime.KindStaticPodSeen {
		t.Fatalf("%v %+v", err, evs)
	}
	mirror := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"5d0b1f5e-8a1e-4a57-b4bb-0b3f0c7e91a2","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system/pods","verb":"create","user":{"username":"system:node:node-a","groups":["system:nodes","system:authenticated"]},"sourceIPs":["10.0.1.10"],"userAgent":"kubelet/v1.33.13 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"pods","namespace":"kube-system","name":"etcd-node-a","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"responseObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"etcd-node-a","namespace":"kube-system","uid":"0f6b3c1e-7c43-4a0b-9d61-5a1c2b9e7d10","annotations":{"kubernetes.io/config.hash":"a96511659e9a32e0fff80934c1a7b9a8","kubernetes.io/config.mirror":"a96511659e9a32e0fff80934c1a7b9a8","kubernetes.io/config.source":"file"},"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"node-a","uid":"c1a2b3c4-0000-4000-8000-000000000001","controller":true}]},"spec":{"containers":[{"name":"etcd","image":"registry.k8s.io/etcd:3.5.21-0"}],"nodeName":"node-a","hostNetwork":true}},"requestReceivedTimestamp":"2026-11-20T09:13:01.512200Z","stageTimestamp":"2026-11-20T09:13:01.519881Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`
	ev, err := audit.Decode([]byte(mirror))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Expect = []string{SourceAudit, SourceScheduler}
	c := New(cfg)
	now := time.Now()
	recs := c.AddNode(&evs[0], now)
	recs = append(recs, c.AddAudit(ev, now)...)
	recs = append(recs, c.Expire(now.Add(time.Hour))...)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	if r.Origin != podrecord.OriginStatic || r.Actor.Kind != podrecord.ActorNode || r.Partial != "" || !contains(r.Sources, "kubelet") {
		b, _ := json.Marshal(r)
		t.Fatalf("%s", b)
	}
}

func TestEviction(t *testing.T) {
	a, _ := demoStreams(t, "")
	cfg := DefaultConfig()
	cfg.MaxPending = 3
	c := New(cfg)
	var recs []*podrecord.Record
	for _, ev := range a {
		recs = append(recs, c.AddAudit(ev.audit, time.Now())...)
		if c.Stats().Pending > 3 {
			t.Fatalf("%d pending, bound is 3", c.Stats().Pending)
		}
	}
	evicted := 0
	for _, r := range recs {
		if r.Partial == PartialEvicted {
			evicted++
		}
	}
	if evicted == 0 || uint64(evicted) != c.Stats().Evicted {
		t.Fatalf("evicted %d, stats %d", evicted, c.Stats().Evicted)
	}
}

func suffix(s string, k int) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%s-%d", s, k)
}

// uniq makes copy k of a demo audit event name a different pod.
func uniq(ev *audit.Event, k int) *audit.Event {
	s := string(ev.ResponseObject)
	r := string(ev.RequestObject)
	for _, pair := range [][2]string{{`"uid":"`, fmt.Sprintf(`"uid":"%d-`, k)}, {`"name":"`, fmt.Sprintf(`"name":"c%d-`, k)}} {
		s = strings.ReplaceAll(s, pair[0], pair[1])
		r = strings.ReplaceAll(r, pair[0], pair[1])
	}
	ev.ResponseObject, ev.RequestObject = json.RawMessage(s), json.RawMessage(r)
	if ev.ObjectRef != nil && ev.ObjectRef.Name != "" {
		ref := *ev.ObjectRef
		ref.Name = fmt.Sprintf("c%d-%s", k, ref.Name)
		ev.ObjectRef = &ref
	}
	return ev
}

// BenchmarkJoin reports events joined per second on one core: the demo's
// audit and node streams. distinct: every pod made distinct per round; the
// rounds cycle through a pool of copies made beforehand, and the tombstones
// are bounded below the pool so that a copy's pods are new again when it
// comes round (they are joined, not counted as duplicates). redelivered:
// the same stream every round, so that after the first every event finds
// a tombstone (late or duplicate): the cost of re-delivery.
//
// distinct_cold is distinct with no entry kept open between calls: every
// event unpacks its pod and packs it again (the worst case, a stream whose
// pods interleave more than keepOpen deep).
func BenchmarkJoin(b *testing.B) {
	b.Run("distinct", func(b *testing.B) { benchmarkJoinDistinct(b, keepOpen) })
	b.Run("distinct_cold", func(b *testing.B) { benchmarkJoinDistinct(b, 0) })
	b.Run("redelivered", benchmarkJoinRedelivered)
}

func benchmarkJoinRedelivered(b *testing.B) {
	a, n := demoStreams(b, "")
	in := byTime(append(a, n...))
	c := New(DefaultConfig())
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	events := 0
	for i := 0; i < b.N; i++ {
		for _, ev := range in {
			if ev.audit != nil {
				c.AddAudit(ev.audit, now)
			} else {
				c.AddNode(ev.node, now)
			}
			events++
		}
		now = now.Add(time.Minute)
		c.Expire(now)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if d := cpuTime() - cpu; d > 0 {
		b.ReportMetric(float64(events)/d.Seconds(), "events/cpu-s")
	}
}

func benchmarkJoinDistinct(b *testing.B, keep int) {
	a, n := demoStreams(b, "")
	in := byTime(append(a, n...))
	const pool = 64
	rep := newReplicas(b)
	rounds := make([][]input, pool)
	for k := range rounds {
		for _, ev := range in {
			if ev.audit != nil {
				rounds[k] = append(rounds[k], input{audit: rep.audit(ev.audit, k)})
			} else {
				rounds[k] = append(rounds[k], input{node: rep.node(ev.node, k)})
			}
		}
	}
	cfg := DefaultConfig()
	cfg.Tombstones = pool * 4
	c := New(cfg)
	c.keepOpen = keep
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	events := 0
	for i := 0; i < b.N; i++ {
		for _, ev := range rounds[i%pool] {
			if ev.audit != nil {
				c.AddAudit(ev.audit, now)
			} else {
				c.AddNode(ev.node, now)
			}
			events++
		}
		now = now.Add(time.Minute)
		c.Expire(now)
	}
	b.StopTimer()
	// 12 records a round, one of them partial (the pod the API never made).
	if st := c.Stats(); b.N > pool && (st.Emitted < uint64(b.N)*12 || st.Partial > uint64(b.N)) {
		b.Fatalf("%d rounds: %+v", b.N, st)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if d := cpuTime() - cpu; d > 0 {
		b.ReportMetric(float64(events)/d.Seconds(), "events/cpu-s")
	}
}
