// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// digestCase runs one pod: its create and binding, node events (pulls,
// when the image was not on the node), its sandbox and containers, then
// kubelet status patches at offsets from the last container start, then
// waits. It returns the sim and the processing time of the last container
// start.
type digestCase struct {
	name   string
	cfg    func(*Config)
	image  string
	pulls  []noderuntime.Event
	status []timedStatus // kubelet status patches, after the containers start
	// want: the record's first container, and when it is emitted after
	// the last container start (processing time)
	delay                            time.Duration
	digest, source, imageID, missing string
}

type timedStatus struct {
	after   time.Duration
	level   string
	imageID string // "" : the container is still being created
}

const nginxDigest = "docker.io/library/nginx@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"

func (tc digestCase) run(t *testing.T) (*sim, time.Time) {
	cfg := DefaultConfig()
	if tc.cfg != nil {
		tc.cfg(&cfg)
	}
	s := newSim(t, cfg)
	p := pod{ns: "shop", name: "web-1", uid: "9d1c2f4e-0000-4000-8000-000000000001", ctrs: []ctr{{"app", tc.image}}}
	sb := sandboxID('1')
	s.audit(p.create("c1", person("alice"), t0))
	s.audit(p.binding("b1", "node-a", t0.Add(20*time.Millisecond)))
	s.node(tc.pulls...)
	s.node(p.runs("node-a", p.uid, sb, t0.Add(time.Second))...)
	started := s.now
	for i, st := range tc.status {
		s.wait(st.after - s.now.Sub(started))
		startedAt := t0.Add(2 * time.Second)
		if st.imageID == "" {
			startedAt = time.Time{}
		}
		s.audit(p.statusPatch(fmt.Sprintf("s%d", i), st.level, "node-a", t0.Add(time.Second+st.after),
			status{"app", "docker.io/library/nginx:1.27", st.imageID, ctrID(sb, 0), startedAt}))
	}
	s.wait(15 * time.Second)
	return s, started
}

// TestDigestWait: every container that ran gets a digest and says who told
// it; a record whose digest no pull line or spec gives waits for the
// kubelet's status patch, at most digest_wait after its last container
// start, and no longer than it takes the patch to come.
func TestDigestWait(t *testing.T) {
	tests := []digestCase{
		{name: "pulled: the pull line tells, no wait", image: "nginx:1.27",
			pulls: []noderuntime.Event{pulled("node-a", "nginx:1.27", nginxDigest, t0.Add(500*time.Millisecond))},
			delay: 0, digest: nginxDigest[len("docker.io/library/nginx@"):], source: "runtime_pull"},
		{name: "pinned in the spec, no wait", image: "nginx@" + sha('e'),
			delay: 0, digest: sha('e'), source: "spec"},
		{name: "on the node already: waits for the status patch (Request level)", image: "nginx:1.27",
			status: []timedStatus{{after: 1200 * time.Millisecond, level: "Request", imageID: nginxDigest}},
			delay:  1200 * time.Millisecond, digest: nginxDigest[len("docker.io/library/nginx@"):], source: "kubelet_status"},
		{name: "on the node already: status patch at RequestResponse", image: "nginx:1.27",
			status: []timedStatus{{after: 800 * time.Millisecond, level: "RequestResponse", imageID: "docker-pullable://" + nginxDigest}},
			delay:  800 * time.Millisecond, digest: nginxDigest[len("docker.io/library/nginx@"):], source: "kubelet_status"},
		{name: "first patch before the start (no imageID), the next tells", image: "nginx:1.27",
			status: []timedStatus{{after: 100 * time.Millisecond, level: "Request"}, {after: 1500 * time.Millisecond, level: "Request", imageID: nginxDigest}},
			delay:  1500 * time.Millisecond, digest: nginxDigest[len("docker.io/library/nginx@"):], source: "kubelet_status"},
		{name: "image without a repo digest: its image id", image: "registry.local/tool:dev",
			status: []timedStatus{{after: time.Second, level: "Request", imageID: sha('f')}},
			delay:  time.Second, imageID: sha('f'), source: "kubelet_status"},
		{name: "no status patch: emitted when digest_wait ends, digest missing", image: "nginx:1.27",
			delay: 5 * time.Second, missing: "digest"},
		{name: "status patch at Metadata level says nothing", image: "nginx:1.27",
			status: []timedStatus{{after: time.Second, level: "Metadata", imageID: nginxDigest}},
			delay:  5 * time.Second, missing: "digest"},
		{name: "digest_wait 2s", image: "nginx:1.27", cfg: func(c *Config) { c.DigestWait = 2 * time.Second },
			delay: 2 * time.Second, missing: "digest"},
		{name: "digest_wait 0: no wait", image: "nginx:1.27", cfg: func(c *Config) { c.DigestWait = 0 },
			status: []timedStatus{{after: time.Second, level: "Request", imageID: nginxDigest}},
			delay:  0, missing: "digest"},
		{name: "the window ends the wait: a complete record, not partial", image: "nginx:1.27",
			cfg:   func(c *Config) { c.Window, c.DigestWait = 3*time.Second, 10*time.Second },
			delay: 3 * time.Second, missing: "digest"}, // the window counts from the create's processing, here the start's
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, started := tc.run(t)
			e := s.one("shop", "web-1")
			r := e.rec
			// the expiry loop ticks every 100 ms
			if d := e.at.Sub(started); d < tc.delay || d > tc.delay+100*time.Millisecond {
				t.Errorf("emitted %v after the containers started, want %v", d, tc.delay)
			}
			c := r.Containers[0]
			if c.Digest != tc.digest || c.DigestSource != tc.source || c.ImageID != tc.imageID {
				t.Errorf("container %+v, want digest %q source %q image id %q", c, tc.digest, tc.source, tc.imageID)
			}
			if m := strings.Join(r.Missing, ","); m != tc.missing {
				t.Errorf("missing %q, want %q", m, tc.missing)
			}
			if r.Partial != "" || r.Origin != podrecord.OriginAPI {
				t.Errorf("partial %q origin %q", r.Partial, r.Origin)
			}
			if c.ID != ctrID(sandboxID('1'), 0) || c.StartedAt.IsZero() {
				t.Errorf("container id %q started %v", c.ID, c.StartedAt)
			}
		})
	}
}

// TestDigestUpdate: a status patch that tells a digest after the record
// was emitted without it makes one update record with the pod's identity
// and the digest; later patches are late. Through a restart in between
// too (the tombstone keeps which containers lack a digest).
func TestDigestUpdate(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Persistent = true
			s := newSim(t, cfg)
			p := pod{ns: "shop", name: "web-2", uid: "9d1c2f4e-0000-4000-8000-000000000002",
				ctrs: []ctr{{"app", "nginx:1.27"}, {"sidecar", "registry.local/proxy:2"}, {"pinned", "busybox@" + sha('b')}}}
			sb := sandboxID('2')
			s.audit(p.create("c2", person("alice"), t0))
			s.audit(p.binding("b2", "node-a", t0))
			s.node(p.runs("node-a", p.uid, sb, t0.Add(time.Second))...)
			s.wait(6 * time.Second)
			r := s.one("shop", "web-2").rec
			if !contains(r.Missing, "digest") || r.Containers[2].DigestSource != "spec" {
				t.Fatalf("record %s", dump(s.out))
			}
			if restart {
				st := store{}
				if err := s.c.Persist(st.put); err != nil {
					t.Fatal(err)
				}
				s.c = New(cfg)
				if err := s.c.Restore(st.get); err != nil {
					t.Fatal(err)
				}
			}
			sts := []status{
				{"app", "docker.io/library/nginx:1.27", nginxDigest, ctrID(sb, 0), t0.Add(2 * time.Second)},
				{"sidecar", "registry.local/proxy:2", sha('9'), ctrID(sb, 1), t0.Add(2 * time.Second)},
				{"pinned", "busybox@" + sha('b'), "docker.io/library/busybox@" + sha('b'), ctrID(sb, 2), t0.Add(2 * time.Second)},
			}
			s.audit(p.statusPatch("s2", "Request", "node-a", t0.Add(7*time.Second), sts...))
			s.audit(p.statusPatch("s3", "Request", "node-a", t0.Add(9*time.Second), sts...))
			var ups []*podrecord.Record
			for _, e := range s.records("shop", "web-2") {
				if e.rec.Update != "" {
					ups = append(ups, e.rec)
				}
			}
			if len(ups) != 1 {
				t.Fatalf("%d updates, want 1:\n%s", len(ups), dump(s.out))
			}
			u := ups[0]
			if u.Update != podrecord.UpdateDigest || u.AuditID != "c2" || u.UID != p.uid || u.Node != "node-a" || u.Namespace != "shop" {
				t.Errorf("update identity: %+v", u)
			}
			if len(u.Containers) != 2 || u.Containers[0].Name != "app" || u.Containers[0].Digest != nginxDigest[len("docker.io/library/nginx@"):] ||
				u.Containers[0].DigestSource != "kubelet_status" || u.Containers[1].Name != "sidecar" || u.Containers[1].ImageID != sha('9') {
				t.Errorf("update containers: %+v", u.Containers)
			}
			if st := s.c.Stats(); st.Updates != 1 || st.Late != 1 {
				t.Errorf("updates %d late %d, want 1 and 1", st.Updates, st.Late)
			}
		})
	}
}

// TestDigestWaitRestart: a record waiting for its digest is persisted as
// waiting and emitted when the wait ends after a restart, or as soon as
// the status patch comes.
func TestDigestWaitRestart(t *testing.T) {
	for _, withStatus := range []bool{false, true} {
		t.Run(fmt.Sprintf("status=%v", withStatus), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Persistent = true
			s := newSim(t, cfg)
			p := pod{ns: "shop", name: "web-3", uid: "9d1c2f4e-0000-4000-8000-000000000003", ctrs: []ctr{{"app", "nginx:1.27"}}}
			sb := sandboxID('3')
			s.audit(p.create("c3", person("alice"), t0))
			s.audit(p.binding("b3", "node-a", t0))
			s.node(p.runs("node-a", p.uid, sb, t0.Add(time.Second))...)
			started := s.now
			s.wait(time.Second)
			st := store{}
			if err := s.c.Persist(st.put); err != nil {
				t.Fatal(err)
			}
			s.c = New(cfg)
			if err := s.c.Restore(st.get); err != nil {
				t.Fatal(err)
			}
			if withStatus {
				s.audit(p.statusPatch("s4", "Request", "node-a", t0.Add(2*time.Second),
					status{"app", "nginx:1.27", nginxDigest, ctrID(sb, 0), t0.Add(time.Second)}))
			}
			s.wait(10 * time.Second)
			e := s.one("shop", "web-3")
			want := 5 * time.Second
			if withStatus {
				want = time.Second
			}
			if d := e.at.Sub(started); d < want || d > want+100*time.Millisecond {
				t.Errorf("emitted %v after the start, want %v", d, want)
			}
			if got := contains(e.rec.Missing, "digest"); got == withStatus {
				t.Errorf("missing %v", e.rec.Missing)
			}
		})
	}
}

// TestDigestSourceLines: the runtime lines each containerd and CRI-O
// version writes for a pull, as the node runtime parser reads them, give
// the digest source; the image's digest reaches pods of the same image on
// the same node only.
func TestDigestSourceLines(t *testing.T) {
	const (
		dg = "sha256:21e721c35a5823fdb452fa2f9f0a612c74fb952e06927489c6b27a43b817bed4"
		id = "sha256:8a73f142ec571e9808d25c06f2bc88de527b2336fde910f3424fcb2b9bb73ab1"
	)
	tests := []struct {
		name   string
		lines  []string
		source string
	}{
		{"containerd 1.6: PullImage and ImageCreate, no Pulled image line", []string{
			`Nov 24 10:00:00 node-a containerd[812]: time="2026-11-24T10:00:00.100000000Z" level=info msg="PullImage \"registry.k8s.io/coredns/coredns:v1.12.0\""`,
			`Nov 24 10:00:01 node-a containerd[812]: time="2026-11-24T10:00:01.100000000Z" level=info msg="ImageCreate event &ImageCreate{Name:registry.k8s.io/coredns/coredns@` + dg + `,Labels:map[string]string{io.cri-containerd.image: managed,},XXX_unrecognized:[],}"`,
			`Nov 24 10:00:01 node-a containerd[812]: time="2026-11-24T10:00:01.200000000Z" level=info msg="PullImage \"registry.k8s.io/coredns/coredns:v1.12.0\" returns image reference \"` + id + `\""`,
		}, "image_create"},
		{"containerd 1.7: Pulled image with the repo digest", []string{
			`Nov 24 10:00:00 node-a containerd[812]: time="2026-11-24T10:00:00.100000000Z" level=info msg="PullImage \"registry.k8s.io/coredns/coredns:v1.12.0\""`,
			`Nov 24 10:00:01 node-a containerd[812]: time="2026-11-24T10:00:01.100000000Z" level=info msg="ImageCreate event name:\"registry.k8s.io/coredns/coredns@` + dg + `\" labels:{key:\"io.cri-containerd.image\" value:\"managed\"}"`,
			`Nov 24 10:00:01 node-a containerd[812]: time="2026-11-24T10:00:01.101000000Z" level=info msg="Pulled image \"registry.k8s.io/coredns/coredns:v1.12.0\" with image id \"` + id + `\", repo tag \"registry.k8s.io/coredns/coredns:v1.12.0\", repo digest \"registry.k8s.io/coredns/coredns@` + dg + `\", size \"11886833\" in 1.826361043s"`,
		}, "runtime_pull"},
		{"CRI-O: Pulling and Pulled image", []string{
			`Nov 24 10:00:00.100000 node-a crio[1042]: time="2026-11-24 10:00:00.100000000Z" level=info msg="Pulling image: registry.k8s.io/coredns/coredns:v1.12.0" id=42fd5a3f-a2c9-4190-a654-c8ecf5458a9b name=/runtime.v1.ImageService/PullImage`,
			`Nov 24 10:00:01.100000 node-a crio[1042]: time="2026-11-24 10:00:01.100000000Z" level=info msg="Pulled image: registry.k8s.io/coredns/coredns@` + dg + `" id=42fd5a3f-a2c9-4190-a654-c8ecf5458a9b name=/runtime.v1.ImageService/PullImage`,
		}, "runtime_pull"},
		{"CRI-O: Image status of an image on the node", []string{
			`Nov 24 10:00:00.100000 node-a crio[1042]: time="2026-11-24 10:00:00.100000000Z" level=info msg="Image status: &ImageStatusResponse{Image:&Image{Id:` + id[len("sha256:"):] + `,RepoTags:[registry.k8s.io/coredns/coredns:v1.12.0],RepoDigests:[registry.k8s.io/coredns/coredns@` + dg + `],Size_:11886833,Uid:nil,Username:,Spec:nil,Pinned:false,},Info:map[string]string{},}" id=dce4ffa6-5028-415f-8534-0a874090ba40 name=/runtime.v1.ImageService/ImageStatus`,
		}, "image_status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			s.parse(tt.lines...)
			img := "registry.k8s.io/coredns/coredns:v1.12.0"
			for i, node := range []string{"node-a", "node-b"} {
				p := pod{ns: "kube-system", name: fmt.Sprintf("dns-%d", i), uid: fmt.Sprintf("9d1c2f4e-0000-4000-8000-00000000010%d", i), ctrs: []ctr{{"coredns", img}}}
				s.audit(p.create(fmt.Sprintf("c%d", i), person("alice"), t0))
				s.audit(p.binding(fmt.Sprintf("b%d", i), node, t0))
				s.node(p.runs(node, p.uid, sandboxID(byte('4'+i)), t0.Add(2*time.Second))...)
			}
			s.wait(10 * time.Second)
			if c := s.one("kube-system", "dns-0").rec.Containers[0]; c.Digest != dg || c.DigestSource != tt.source {
				t.Errorf("node-a: %+v, want %s from %s", c, dg, tt.source)
			}
			// node-b never pulled it: its digest is not node-a's.
			if r := s.one("kube-system", "dns-1").rec; r.Containers[0].Digest != "" || !contains(r.Missing, "digest") {
				t.Errorf("node-b: %+v missing %v", r.Containers[0], r.Missing)
			}
		})
	}
}
