// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"testing"
	"time"
)

// TestPullFailureNamingNoPod: containerd's `PullImage "<ref>" failed` and the
// kubelet's "PullImage from image service failed" name the image alone. It is joined to the pod its node is starting whose
// container uses that image (by the reference as pulled: docker.io's short
// names completed), not to a pod of another image on the node, nor to a
// pod of that image on another node; a lookalike that never ran still
// carries the failure for rules.
func TestPullFailureNamingNoPod(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 30, 0, 0, time.UTC)
	look := pod{ns: "kube-system", name: "kube-proxy-q8w2z", uid: "6f1c2a3b-0d4e-4f5a-8b6c-7d8e9f0a1b2c",
		ctrs: []ctr{{"kube-proxy", "ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13"}}}
	web := pod{ns: "apps", name: "web", uid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", ctrs: []ctr{{"web", "nginx:1.27"}}}
	other := pod{ns: "apps", name: "elsewhere", uid: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
		ctrs: []ctr{{"kube-proxy", "ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13"}}}
	cache := pod{ns: "apps", name: "cache", uid: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", ctrs: []ctr{{"redis", "docker.io/library/redis:7"}}}
	alice := person("alice@example.com")
	in := decodeAll(t,
		cache.create("c4", alice, at.Add(60*time.Millisecond)), cache.binding("b4", "e2e-node-1", at.Add(70*time.Millisecond)),
		look.create("c1", alice, at), look.binding("b1", "e2e-node-1", at.Add(10*time.Millisecond)),
		web.create("c2", alice, at.Add(20*time.Millisecond)), web.binding("b2", "e2e-node-1", at.Add(30*time.Millisecond)),
		other.create("c3", alice, at.Add(40*time.Millisecond)), other.binding("b3", "e2e-node-2", at.Add(50*time.Millisecond)))
	sandbox := func(node string, p pod, sb string) []string {
		c := "Dec  6 22:30:00 " + node + " containerd[12420]: "
		return []string{
			c + `time="2026-12-06T22:30:00.100000000Z" level=info msg="RunPodSandbox for name:\"` + p.name + `\"  uid:\"` + p.uid + `\"  namespace:\"` + p.ns + `\""`,
			c + `time="2026-12-06T22:30:00.400000000Z" level=info msg="RunPodSandbox for name:\"` + p.name + `\"  uid:\"` + p.uid + `\"  namespace:\"` + p.ns + `\" returns sandbox id \"` + sb + `\""`,
		}
	}
	var lines []string
	lines = append(lines, sandbox("e2e-node-1", look, "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1")...)
	lines = append(lines, sandbox("e2e-node-1", web, "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2")...)
	lines = append(lines, sandbox("e2e-node-1", cache, "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4")...)
	lines = append(lines, sandbox("e2e-node-2", other, "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3")...)
	fail := `Dec  6 22:30:01 e2e-node-1 containerd[12420]: time="2026-12-06T22:30:01.000000000Z" level=error msg="PullImage \"ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13\" failed" error="rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13\": failed to resolve reference \"ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13\": ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13: not found"`
	failWeb := `Dec  6 22:30:01 e2e-node-1 containerd[12420]: time="2026-12-06T22:30:01.100000000Z" level=error msg="PullImage \"docker.io/library/nginx:1.27\" failed" error="rpc error: code = Unavailable desc = registry down"`
	// the kubelet's CRI client names the image as the spec has it
	failCache := `Dec  6 22:30:01 e2e-node-1 kubelet[2775]: E1206 22:30:01.200000    2775 remote_image.go:180] "PullImage from image service failed" err="rpc error: code = Unavailable desc = registry down" image="redis:7"`
	lines = append(lines, fail, failWeb, failCache)
	c := New(DefaultConfig())
	recs := run(c, append(in, parseInputs(t, lines)...))
	got := index(t, recs)

	r := got["kube-system/kube-proxy-q8w2z"]
	if r == nil || len(r.PullFailures) != 1 || r.PullFailures[0].Image != "ghcr.io/kube-proxy-mirror/kube-proxy:v1.33.13" ||
		r.PullFailures[0].Container != "kube-proxy" || r.PullFailures[0].Error == "" ||
		len(r.Containers) != 1 || r.Containers[0].Error == "" || !contains(r.Sources, "containerd") {
		t.Errorf("the lookalike: want the pull failure and its container's error: %s", js(r))
	}
	if w := got["apps/web"]; w == nil || len(w.PullFailures) != 1 || w.PullFailures[0].Image != "docker.io/library/nginx:1.27" ||
		w.PullFailures[0].Container != "web" {
		t.Errorf("web (nginx:1.27 in its spec): want docker.io/library/nginx:1.27's failure alone: %s", js(w))
	}
	if o := got["apps/elsewhere"]; o == nil || len(o.PullFailures) != 0 || o.Containers[0].Error != "" {
		t.Errorf("a pod of the image on another node: want no failure: %s", js(o))
	}
	if k := got["apps/cache"]; k == nil || len(k.PullFailures) != 1 || k.PullFailures[0].Image != "redis:7" ||
		k.Containers[0].Error == "" || !contains(k.Sources, "kubelet") {
		t.Errorf("cache: want the kubelet's failure of redis:7: %s", js(k))
	}
	if st := c.Stats(); st.PullFailuresNoPod != 3 {
		t.Errorf("stats %+v", st)
	}
}
