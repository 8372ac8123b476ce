// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"path"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

func TestNameFitsOwner(t *testing.T) {
	long := strings.Repeat("a", 60)
	for _, tt := range []struct {
		name string
		r    podrecord.Record
		want bool
	}{
		{"no owner", podrecord.Record{Name: "x"}, true},
		{"name unknown", podrecord.Record{Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"}}, true},
		{"replicaset", podrecord.Record{Name: "web-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"},
			Labels: map[string]string{"pod-template-hash": "796cf5c97c"}}, true},
		{"hash label not the owner's", podrecord.Record{Name: "web-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"},
			Labels: map[string]string{"pod-template-hash": "5d8f7c9b6d"}}, false},
		{"another replicaset's name", podrecord.Record{Name: "api-796cf5c97c-kx68n", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-796cf5c97c"}}, false},
		{"generateName cut to 58", podrecord.Record{Name: (long + "-")[:58] + "kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: long}}, true},
		{"daemonset revision hash", podrecord.Record{Name: "ds-kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: "ds"},
			Labels: map[string]string{"controller-revision-hash": "7b9f8c5d64"}}, true},
		{"daemonset revision hash forged", podrecord.Record{Name: "ds-kx68n", Owner: podrecord.Owner{Kind: "DaemonSet", Name: "ds"},
			Labels: map[string]string{"controller-revision-hash": "latest"}}, false},
		{"job", podrecord.Record{Name: "report-29919435-8dk2x", Owner: podrecord.Owner{Kind: "Job", Name: "report-29919435"}}, true},
		{"indexed job", podrecord.Record{Name: "shard-12-8dk2x", Owner: podrecord.Owner{Kind: "Job", Name: "shard"}}, true},
		{"statefulset", podrecord.Record{Name: "db-2", Owner: podrecord.Owner{Kind: "StatefulSet", Name: "db"}}, true},
		{"statefulset leading zero", podrecord.Record{Name: "db-02", Owner: podrecord.Owner{Kind: "StatefulSet", Name: "db"}}, false},
		{"mirror pod", podrecord.Record{Name: "etcd-node-a", Node: "node-a", Owner: podrecord.Owner{Kind: "Node", Name: "node-a"}}, true},
		{"mirror pod of another node", podrecord.Record{Name: "etcd-node-b", Node: "node-a", Owner: podrecord.Owner{Kind: "Node", Name: "node-a"}}, false},
		{"custom kind", podrecord.Record{Name: "anything", Owner: podrecord.Owner{Kind: "Workflow", Name: "w"}}, true},
	} {
		if got := nameFitsOwner(&tt.r); got != tt.want {
			t.Errorf("%s: nameFitsOwner = %v", tt.name, got)
		}
	}
}

func TestRepoLookalike(t *testing.T) {
	for _, tt := range []struct {
		image, ref string
		want       bool
	}{
		{"docker.io/kube-proxy-mirror/kube-proxy:v1.33.13", "registry.k8s.io/kube-proxy", true}, // same name elsewhere
		{"registry-k8s.io/kube-proxy:v1", "registry.k8s.io/kube-proxy", true},                   // host near miss
		{"registry.k8s.io.example.net/kube-proxy", "registry.k8s.io/kube-proxy", true},          // host extended
		{"regіstry.k8s.io/pause", "registry.k8s.io/kube-proxy", true},                           // host homoglyph (Cyrillic і)
		{"ghcr.io/acme-corp/cart:1.2.0", "ghcr.io/acme/*", true},                                // decorated organisation
		{"ghcr.io/acme2/cart", "ghcr.io/acme/*", true},
		{"ghcr.io/acrne/cart", "ghcr.io/acme/*", true}, // rn for m
		{"ghcr.io/acm/cart", "ghcr.io/acme/*", true},   // near miss
		{"docker.io/library/nginx", "docker.io/library/nginx", false},
		{"nginx:1.27", "docker.io/library/nginx", false},
		{"docker.io/evil/nginx", "docker.io/library/nginx", true},
		{"ghcr.io/acme/cart:1.2.0", "ghcr.io/acme/*", false},
		{"ghcr.io/other/cart", "ghcr.io/acme/*", false},
		{"gcr.io/x/kube-proxy", "ghcr.io/acme/*", false},     // two known registries
		{"us.gcr.io/project/app", "gcr.io/project/*", false}, // a subdomain
		{"quay.io/prometheus/node-exporter", "registry.k8s.io/kube-proxy", false},
		{"docker.io/alpine:3.20", "docker.io/library/nginx", false},
	} {
		if got := RepoLookalike(tt.image, tt.ref); got != tt.want {
			t.Errorf("RepoLookalike(%s, %s) = %v", tt.image, tt.ref, got)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, p := range []string{"kube-*", "ghcr.io/acme/*", "system:serviceaccount:ci:*", "exact", "a?c", "[ab]*", "*", "", `a\*`} {
		g := compileGlob(p)
		for _, s := range []string{"kube-proxy", "kube-", "ghcr.io/acme/x", "ghcr.io/acme/x/y", "system:serviceaccount:ci:runner",
			"system:serviceaccount:ci:a/b", "exact", "abc", "bcd", "", "a*", "x"} {
			want, _ := path.Match(p, s)
			if got := g.match(s); got != want {
				t.Errorf("glob %q on %q: %v, path.Match %v", p, s, got, want)
			}
		}
	}
}

func TestCIDR(t *testing.T) {
	e, err := Compile("r.yaml", []byte(`
rules:
  - id: in
    condition: cidrMatch(pod.source_ips, ["10.0.0.0/8", "fc00::/7"])
  - id: first
    condition: len(pod.source_ips) > 0 && cidrMatch(pod.source_ips[0], "192.168.1.0/24")
`), &inventory.Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ips  []string
		want []string
	}{
		{[]string{"10.1.2.3"}, []string{"in"}},
		{[]string{"::ffff:10.1.2.3"}, []string{"in"}},
		{[]string{"fd00::1"}, []string{"in"}},
		{[]string{"192.168.1.7", "10.0.0.1"}, []string{"in", "first"}},
		{[]string{"192.168.1.7"}, []string{"first"}},
		{[]string{"203.0.113.1", "not-an-ip"}, nil},
		{nil, nil},
	} {
		fs, errs := e.Evaluate(&podrecord.Record{SourceIPs: tt.ips})
		if len(errs) > 0 || strings.Join(ids(fs), ",") != strings.Join(tt.want, ",") {
			t.Errorf("%v: fired %v %v, want %v", tt.ips, ids(fs), errs, tt.want)
		}
	}
}
