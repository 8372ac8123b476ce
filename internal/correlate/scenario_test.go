// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

var demoDir = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo")

// input is one event of a stream: an audit event or a node event.
type input struct {
	audit *audit.Event
	node  *noderuntime.Event
}

func (in input) time() time.Time {
	if in.audit != nil {
		return in.audit.StageTimestamp
	}
	return in.node.Time
}

func readAudit(t testing.TB, file string, level string) []input {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []input
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		ev, err := audit.Decode(l)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		lowerLevel(ev, level)
		out = append(out, input{audit: ev})
	}
	return out
}

// lowerLevel turns a RequestResponse event into what the apiserver logs at
// a lower audit level.
func lowerLevel(ev *audit.Event, level string) {
	switch level {
	case "Request":
		if ev.Level == "RequestResponse" {
			ev.Level, ev.ResponseObject = "Request", nil
		}
	case "Metadata":
		if ev.Level != "Metadata" {
			ev.Level, ev.ResponseObject, ev.RequestObject = "Metadata", nil, nil
		}
	}
}

func readNode(t testing.TB, files ...string) []input {
	t.Helper()
	var out []input
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		p := noderuntime.NewParser(noderuntime.Options{Reference: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			evs, _ := p.ParseAll(sc.Bytes(), nil)
			for i := range evs {
				out = append(out, input{node: &evs[i]})
			}
		}
		f.Close()
	}
	return out
}

func demoStreams(t testing.TB, level string) (auditIn, nodeIn []input) {
	return readAudit(t, filepath.Join(demoDir, "audit.log"), level),
		readNode(t, filepath.Join(demoDir, "nodes", "node-a.log"), filepath.Join(demoDir, "nodes", "node-b.log"))
}

// run feeds the stream, one event per processing millisecond, then lets the
// window pass, and returns every record emitted.
func run(c *Correlator, in []input) []*podrecord.Record {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var out []*podrecord.Record
	for _, ev := range in {
		now = now.Add(time.Millisecond)
		if ev.audit != nil {
			out = append(out, c.AddAudit(ev.audit, now)...)
		} else {
			out = append(out, c.AddNode(ev.node, now)...)
		}
		out = append(out, c.Expire(now)...)
	}
	return append(out, c.Expire(now.Add(max(c.cfg.Window, c.cfg.CreateWait)+time.Second))...)
}

func byTime(in []input) []input {
	sort.SliceStable(in, func(i, j int) bool { return in[i].time().Before(in[j].time()) })
	return in
}

func key(r *podrecord.Record) string { return r.Namespace + "/" + r.Name }

func index(t *testing.T, recs []*podrecord.Record) map[string]*podrecord.Record {
	t.Helper()
	m := map[string]*podrecord.Record{}
	for _, r := range recs {
		k := key(r)
		if r.Name == "" {
			k = r.Namespace + "/" + r.Actor.Username + "/" + r.Decision
		}
		if old := m[k]; old != nil {
			a, _ := json.Marshal(old)
			b, _ := json.Marshal(r)
			t.Fatalf("two records for %s:\n%s\n%s", k, a, b)
		}
		m[k] = r
	}
	return m
}

// want is what the demo's pods must say whatever the order of the events.
type want struct {
	sources   string // sorted, comma-separated
	missing   string
	origin    string
	initiator string // username/channel
	chain     string
	digest    string // prefix of the first container's digest, and its source
	partial   string
}

var demoWant = map[string]want{
	"kube-system/kube-proxy-7mzqv":         {sources: "audit,containerd,kubelet,scheduler", missing: "initiator", origin: "api", chain: "DaemonSet/kube-proxy", digest: "sha256:5147a6de runtime_pull"},
	"kube-system/coredns-668d6bf9bc-2xkfw": {sources: "audit,containerd,kubelet,scheduler", missing: "initiator", origin: "api", chain: "ReplicaSet/coredns-668d6bf9bc", digest: "sha256: runtime_pull"},
	"kube-system/kube-proxy-x7b2q":         {sources: "audit,containerd,kubelet,scheduler", origin: "api", digest: "sha256:54c5b3dd runtime_pull"},
	"shop/payments-5d8f7c9b6d-q9wzt": {sources: "audit,containerd,kubelet,scheduler", origin: "api",
		initiator: "system:serviceaccount:ci:gitlab-runner/helm", chain: "ReplicaSet/payments-5d8f7c9b6d,Deployment/payments", digest: "sha256:dbeb97c2 spec"},
	"web/frontend-7c9d8f6b5-lz8kp": {sources: "audit,containerd,kubelet,scheduler", origin: "api",
		initiator: "system:serviceaccount:argocd:argocd-application-controller/argocd", chain: "ReplicaSet/frontend-7c9d8f6b5,Deployment/frontend", digest: "sha256: runtime_pull"},
	"batch/report-nightly-29919435-8dk2x": {sources: "audit,containerd,kubelet,scheduler", origin: "api",
		initiator: "system:serviceaccount:flux-system:kustomize-controller/flux", chain: "Job/report-nightly-29919435,CronJob/report-nightly", digest: "sha256: runtime_pull"},
	"default/tf-smoke":               {sources: "audit,containerd,kubelet,scheduler", origin: "api", digest: "sha256:5be1ecc7 runtime_pull"},
	"monitoring/node-exporter-debug": {sources: "audit,containerd,kubelet,scheduler", origin: "api", digest: "sha256: runtime_pull"},
	"shop/cart-6f7d9c8b4-ttp4z": {sources: "audit,containerd,kubelet,scheduler", origin: "api",
		initiator: "mallory/kubectl", chain: "ReplicaSet/cart-6f7d9c8b4,Deployment/cart", digest: "sha256: runtime_pull"},
	"kube-system/mallory/forbid": {sources: "audit", origin: "api"},
	// Created, bound and deleted within 60 ms; node-a's kubelet ran its
	// sandbox all the same, 0.5 s after the delete: the record waits for
	// the node's lines (DigestWait) and has the sandbox.
	"kube-system/kube-proxy-4wz9n": {sources: "audit,containerd,kubelet,scheduler", origin: "api"},
	// Started with crictl on node-b: the API never created it.
	// Its image was on node-b (no pull line, no kubelet status): no digest.
	"kube-system/kube-proxy-debug": {sources: "containerd", origin: "node_only", missing: "audit,digest,scheduler", partial: "window"},
}

func check(t *testing.T, recs []*podrecord.Record, wants map[string]want) {
	t.Helper()
	got := index(t, recs)
	for k, w := range wants {
		r := got[k]
		if r == nil {
			t.Errorf("%s: no record", k)
			continue
		}
		if w.partial == "any" {
			continue
		}
		srcs := append([]string(nil), r.Sources...)
		sort.Strings(srcs)
		g := want{sources: strings.Join(srcs, ","), missing: strings.Join(r.Missing, ","), origin: r.Origin,
			chain: strings.Join(r.Chain, ","), partial: r.Partial}
		if r.Initiator != nil {
			g.initiator = r.Initiator.Username + "/" + r.Initiator.Channel
		}
		if len(r.Containers) > 0 && r.Containers[0].Digest != "" {
			g.digest = r.Containers[0].Digest + " " + r.Containers[0].DigestSource
			if wd, src, _ := strings.Cut(w.digest, " "); strings.HasPrefix(r.Containers[0].Digest, wd) && src == r.Containers[0].DigestSource {
				g.digest = w.digest
			}
		}
		if g != w {
			b, _ := json.MarshalIndent(r, "", "  ")
			t.Errorf("%s:\n got %+v\nwant %+v\n%s", k, g, w, b)
		}
	}
	if len(got) != len(wants) {
		var extra []string
		for k := range got {
			if _, ok := wants[k]; !ok {
				extra = append(extra, k)
			}
		}
		t.Errorf("%d records, want %d; unexpected: %v", len(got), len(wants), extra)
	}
}

func TestDemoOrders(t *testing.T) {
	a, n := demoStreams(t, "")
	na := readNode(t, filepath.Join(demoDir, "nodes", "node-a.log"))
	nb := readNode(t, filepath.Join(demoDir, "nodes", "node-b.log"))
	// interleaved merges the audit log and the two nodes' logs at random:
	// each stream keeps its order (a file, a webhook connection), the
	// streams race each other, as in a gateway fed by every node.
	interleaved := func(seed int64) []input {
		rnd := rand.New(rand.NewSource(seed))
		streams := [][]input{a, na, nb}
		var out []input
		for len(streams) > 0 {
			i := rnd.Intn(len(streams))
			out = append(out, streams[i][0])
			if streams[i] = streams[i][1:]; len(streams[i]) == 0 {
				streams = append(streams[:i], streams[i+1:]...)
			}
		}
		return out
	}
	twice := func(in []input) []input {
		var out []input
		for _, ev := range in {
			out = append(out, ev, ev)
		}
		return out
	}
	tests := []struct {
		name string
		in   []input
	}{
		{"in time order", byTime(append(append([]input(nil), a...), n...))},
		{"audit first", append(append([]input(nil), a...), n...)},
		{"node first", append(append([]input(nil), n...), a...)},
		{"interleaved 1", interleaved(1)},
		{"interleaved 2", interleaved(2)},
		{"interleaved 3", interleaved(3)},
		{"interleaved 4", interleaved(4)},
		{"every event twice", twice(byTime(append(append([]input(nil), a...), n...)))},
	}
	sources := map[string][]string{} // pod → Sources in time order
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			recs := run(c, tt.in)
			for _, r := range recs {
				k := r.Namespace + "/" + r.Name
				if want, ok := sources[k]; !ok {
					sources[k] = r.Sources
				} else if k != "kube-system/kube-proxy-4wz9n" && !slices.Equal(r.Sources, want) {
					t.Errorf("%s: sources %v, in time order %v", k, r.Sources, want)
				}
			}
			w := demoWant
			if tt.name != "in time order" && tt.name != "every event twice" {
				// The delete of kube-proxy-4wz9n may come before its node
				// lines: they are then late, or before its create.
				w = withoutLifetimeChecks(w)
			}
			check(t, recs, w)
			if tt.name == "every event twice" && c.Stats().Duplicates == 0 {
				t.Error("no duplicate counted")
			}
		})
	}
}

// withoutLifetimeChecks accepts any record for kube-proxy-4wz9n: when its
// delete comes before its node lines or its create, what it lists differs.
func withoutLifetimeChecks(w map[string]want) map[string]want {
	out := map[string]want{}
	for k, v := range w {
		out[k] = v
	}
	out["kube-system/kube-proxy-4wz9n"] = want{partial: "any"}
	return out
}
