// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// Failure lines of the kubelet and containerd as the node runtime golden
// testdata has them (testdata/golden/coverage), at 10:00:02 of t0's day.
var (
	lineErrImagePull = `Nov 24 10:00:02 node-a kubelet[2775]: E1124 10:00:02.467816    2775 pod_workers.go:1338] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"cart\" with ErrImagePull: \"rpc error: code = NotFound desc = failed to pull and unpack image \\\"ghcr.io/acme-corp/cart:1.2.0\\\": failed to resolve reference \\\"ghcr.io/acme-corp/cart:1.2.0\\\": ghcr.io/acme-corp/cart:1.2.0: not found\"" pod="shop/cart-6f7d9c8b4-ttp4z" podUID="3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10"`
	linePullBackOff  = `Nov 24 10:00:03 node-a kubelet[2775]: I1124 10:00:03.467816    2775 kuberuntime_manager.go:1725] "Container start failed in pod" containerType="container" container="cart" pod="shop/cart-6f7d9c8b4-ttp4z" containerMessage="Back-off pulling image \"ghcr.io/acme-corp/cart:1.2.0\"" err="ImagePullBackOff"`
	lineSandboxCNI   = `Nov 24 10:00:02 node-a kubelet[2775]: E1124 10:00:02.467816    2775 kuberuntime_manager.go:1614] "CreatePodSandbox for pod failed" err="rpc error: code = Unknown desc = failed to setup network for sandbox \"9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361\": plugin type=\"calico\" failed (add): stat /var/lib/calico/nodename: no such file or directory" pod="shop/cart-6f7d9c8b4-ttp4z"`
	lineCrashLoop    = `Nov 24 10:00:09 node-a kubelet[2775]: I1124 10:00:09.467816    2775 kuberuntime_manager.go:1934] "Back-off restarting failed container" err="back-off 40s restarting failed container=cart pod=cart-6f7d9c8b4-ttp4z_shop(3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10)"`
)

// TestFailureOutcomes: a pod whose image could not be pulled, whose
// sandbox could not be made or whose container crash-loops is emitted at
// the window with the failure: the image that failed, the sandbox's error,
// the container's error and reason (the first failure's: ErrImagePull, not
// the back-off after it).
func TestFailureOutcomes(t *testing.T) {
	const (
		uid = "3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10"
		img = "ghcr.io/acme-corp/cart:1.2.0"
	)
	p := pod{ns: "shop", name: "cart-6f7d9c8b4-ttp4z", uid: uid, ctrs: []ctr{{"cart", img}}}
	tests := []struct {
		name     string
		late     bool // the pod's create and binding after the node's lines
		lines    []string
		pulls    []podrecord.PullFailure
		ctrErr   string // prefix of the container's error
		reason   string
		sandbox  string // substring of the sandbox's error
		attempts int
	}{
		{"ErrImagePull then ImagePullBackOff", false, []string{lineErrImagePull, linePullBackOff},
			[]podrecord.PullFailure{{Image: img, Container: "cart", Reason: "ErrImagePull"}},
			"rpc error: code = NotFound", "ErrImagePull", "", 0},
		{"ImagePullBackOff alone", false, []string{linePullBackOff},
			[]podrecord.PullFailure{{Image: img, Container: "cart", Reason: "ImagePullBackOff"}},
			"Back-off pulling image", "ImagePullBackOff", "", 0},
		{"the node's lines before the create", true, []string{lineErrImagePull, linePullBackOff},
			[]podrecord.PullFailure{{Image: img, Container: "cart", Reason: "ErrImagePull"}},
			"rpc error: code = NotFound", "ErrImagePull", "", 0},
		{"sandbox the CNI could not set up", false, []string{lineSandboxCNI},
			nil, "", "", `plugin type=\"calico\" failed (add)`, 1},
		{"crash loop", false, []string{lineCrashLoop},
			nil, "back-off 40s restarting failed container=cart", "CrashLoopBackOff", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			api := func() {
				s.audit(p.create("c1", person("alice"), t0))
				s.audit(p.binding("b1", "node-a", t0.Add(time.Second)))
			}
			if !tt.late {
				api()
			}
			s.parse(tt.lines...)
			if tt.late {
				api()
			}
			s.wait(40 * time.Second)
			r := s.one(p.ns, p.name).rec
			if r.Partial != PartialWindow {
				t.Errorf("partial %q, want %q", r.Partial, PartialWindow)
			}
			if len(r.PullFailures) != len(tt.pulls) {
				t.Fatalf("pull failures %+v, want %+v", r.PullFailures, tt.pulls)
			}
			for i, w := range tt.pulls {
				g := r.PullFailures[i]
				if g.Image != w.Image || g.Container != w.Container || g.Reason != w.Reason || g.Error == "" {
					t.Errorf("pull failure %d: %+v, want %+v", i, g, w)
				}
			}
			if len(r.Containers) != 1 {
				t.Fatalf("containers %+v", r.Containers)
			}
			c := r.Containers[0]
			if c.Name != "cart" || c.Image != img || !strings.HasPrefix(c.Error, tt.ctrErr) || c.Reason != tt.reason || tt.ctrErr == "" && c.Error != "" {
				t.Errorf("container %+v, want error %q... reason %q", c, tt.ctrErr, tt.reason)
			}
			if !strings.Contains(r.Sandbox.Error, tt.sandbox) || tt.sandbox == "" && r.Sandbox.Error != "" || r.Sandbox.Attempts != tt.attempts {
				t.Errorf("sandbox %+v, want error with %q, %d attempts", r.Sandbox, tt.sandbox, tt.attempts)
			}
		})
	}
}

// TestPullFailuresBounded: one entry per container and image, at most
// podrecord.MaxPullFailures.
func TestPullFailuresBounded(t *testing.T) {
	var r podrecord.Record
	addPullFailure(&r, podrecord.PullFailure{Image: "a:1", Reason: "ImagePullBackOff"})
	addPullFailure(&r, podrecord.PullFailure{Image: "a:1", Container: "app", Error: "not found", Reason: "ErrImagePull"})
	if len(r.PullFailures) != 1 || r.PullFailures[0] != (podrecord.PullFailure{Image: "a:1", Container: "app", Error: "not found", Reason: "ImagePullBackOff"}) {
		t.Errorf("merged: %+v", r.PullFailures)
	}
	for i := range 20 {
		addPullFailure(&r, podrecord.PullFailure{Image: "b:" + string(rune('a'+i)), Container: "app"})
	}
	if len(r.PullFailures) != podrecord.MaxPullFailures {
		t.Errorf("%d pull failures, want %d", len(r.PullFailures), podrecord.MaxPullFailures)
	}
}

// TestPullFailureWithoutSpec: a create read at Metadata level has no
// images; the container the node could not pull for takes the image the
// pull named, so the image rules still have it.
func TestPullFailureWithoutSpec(t *testing.T) {
	p := pod{ns: "shop", name: "cart-6f7d9c8b4-ttp4z", uid: "3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10", ctrs: []ctr{{"cart", "ghcr.io/acme-corp/cart:1.2.0"}}}
	ev := map[string]any{}
	if err := json.Unmarshal([]byte(p.create("c1", person("alice"), t0)), &ev); err != nil {
		t.Fatal(err)
	}
	ev["level"] = "Metadata"
	delete(ev, "requestObject")
	delete(ev, "responseObject")
	s := newSim(t, DefaultConfig())
	s.audit(js(ev))
	s.parse(lineErrImagePull, linePullBackOff)
	s.wait(40 * time.Second)
	r := s.one(p.ns, p.name).rec
	if !contains(r.Missing, podrecord.MissingPodSpec) {
		t.Errorf("missing %v, want pod_spec", r.Missing)
	}
	if len(r.Containers) != 1 || r.Containers[0].Name != "cart" || r.Containers[0].Image != "ghcr.io/acme-corp/cart:1.2.0" || r.Containers[0].Reason != "ErrImagePull" {
		t.Errorf("containers %+v", r.Containers)
	}
	if len(r.PullFailures) != 1 || r.PullFailures[0].Image != "ghcr.io/acme-corp/cart:1.2.0" {
		t.Errorf("pull failures %+v", r.PullFailures)
	}
}
