// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// A static pod: the kubelet runs it from a manifest; the runtime knows it
// by the manifest's config hash; the API learns of it from the mirror pod
// the kubelet creates, which has its own uid.
const (
	staticHashValue = "6f3a0b6c2e8d4f1a9b7c5d3e1f2a4b6c"
	mirrorUID       = "0b9e8c51-6a3f-4e2d-8c1b-7d5a4f3e2c10"
)

var staticPod = pod{ns: "default", name: "static-web-node-a", uid: mirrorUID, node: "node-a",
	ctrs: []ctr{{"web", "registry.local/sleeper@" + sha('7')}},
	annotations: map[string]string{"kubernetes.io/config.hash": staticHashValue, "kubernetes.io/config.mirror": staticHashValue,
		"kubernetes.io/config.seen": "2026-11-24T10:00:00.000000000Z", "kubernetes.io/config.source": "file"},
	owner: map[string]any{"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "4d2c1b0a-9f8e-4d7c-a6b5-c4d3e2f1a0b9", "controller": true}}

// kubeletStaticLines are the kubelet's lines as it picks up the manifest.
var kubeletStaticLines = []string{
	`Nov 24 10:00:00 node-a kubelet[2775]: I1124 10:00:00.100000    2775 kubelet.go:2449] "SyncLoop ADD" source="file" pods=["default/static-web-node-a"]`,
	`Nov 24 10:00:00 node-a kubelet[2775]: I1124 10:00:00.200000    2775 util.go:30] "No sandbox for pod can be found. Need to start a new one" pod="default/static-web-node-a"`,
}

// TestStaticPod: a static pod has one record, whatever the order of the
// node's lines and the mirror pod's create: origin static, the sandbox and
// containers from the node, the mirror pod's uid; no node-only record
// under the config hash. When no mirror pod ever shows, one node-only
// record under the hash, with mirror_pod missing (PT-0035 fires on it).
func TestStaticPod(t *testing.T) {
	sb := sandboxID('5')
	mirror := func(s *sim) { s.audit(staticPod.create("m1", nodeUser("node-a"), t0.Add(2*time.Second))) }
	node := func(s *sim) {
		s.parse(kubeletStaticLines...)
		s.node(staticPod.runs("node-a", staticHashValue, sb, t0.Add(500*time.Millisecond))...)
	}
	statusReq := func(s *sim) {
		s.audit(staticPod.statusPatch("st1", "Request", "node-a", t0.Add(3*time.Second),
			status{"web", "registry.local/sleeper@" + sha('7'), "registry.local/sleeper@" + sha('7'), ctrID(sb, 0), t0.Add(time.Second)}))
	}
	statusResp := func(s *sim) {
		s.audit(staticPod.statusPatch("st2", "RequestResponse", "node-a", t0.Add(3*time.Second),
			status{"web", "registry.local/sleeper@" + sha('7'), "registry.local/sleeper@" + sha('7'), ctrID(sb, 0), t0.Add(time.Second)}))
	}
	noKubelet := func(s *sim) { s.node(staticPod.runs("node-a", staticHashValue, sb, t0.Add(500*time.Millisecond))...) }
	tests := []struct {
		name    string
		steps   []func(*sim)
		origin  string
		uid     string
		missing string
		partial string
	}{
		{"node first, then the mirror pod", []func(*sim){node, mirror}, "static", mirrorUID, "", ""},
		{"mirror pod first, then the node", []func(*sim){mirror, node}, "static", mirrorUID, "", ""},
		{"containerd only (no kubelet lines), then the mirror pod", []func(*sim){noKubelet, mirror}, "static", mirrorUID, "", ""},
		{"node, mirror pod, its status", []func(*sim){node, mirror, statusReq}, "static", mirrorUID, "", ""},
		{"mirror pod never shows: one node-only record under the hash", []func(*sim){node}, "node_only", staticHashValue, "audit,digest,mirror_pod", "window"},
		{"mirror pod made before podtrail started: its status (Request level) names it",
			[]func(*sim){node, statusReq}, "preexisting", mirrorUID, "audit", ""},
		{"mirror pod made before podtrail started: its status (RequestResponse, with the hash)",
			[]func(*sim){noKubelet, statusResp}, "preexisting", mirrorUID, "audit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			for _, step := range tt.steps {
				step(s)
				s.wait(200 * time.Millisecond)
			}
			s.wait(4 * time.Minute) // past CreateWait
			if len(s.out) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(s.out), dump(s.out))
			}
			r := s.one("default", "static-web-node-a").rec
			if r.Origin != tt.origin || r.UID != tt.uid || strings.Join(r.Missing, ",") != tt.missing || r.Partial != tt.partial {
				t.Errorf("origin %s uid %s missing %v partial %q, want %s %s %s %q\n%s", r.Origin, r.UID, r.Missing, r.Partial,
					tt.origin, tt.uid, tt.missing, tt.partial, dump(s.out))
			}
			if r.Sandbox.ID != sb || len(r.Containers) != 1 || r.Containers[0].ID != ctrID(sb, 0) || r.Containers[0].StartedAt.IsZero() {
				t.Errorf("sandbox %q containers %+v", r.Sandbox.ID, r.Containers)
			}
			if r.Node != "node-a" {
				t.Errorf("node %q", r.Node)
			}
			if tt.origin == "static" && (r.Actor.Username != "system:node:node-a" || r.Owner.Kind != "Node" || r.Channel != podrecord.ChannelKubelet) {
				t.Errorf("actor %+v owner %+v channel %s", r.Actor, r.Owner, r.Channel)
			}
		})
	}
}
