// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// TestBaselineOptions: pinned proposals keep tags; a declared repository
// gets only the tags it lacks; --hold critical learns from high findings;
// creators come from people and service accounts only.
func TestBaselineOptions(t *testing.T) {
	e := compileWith(t, `rules:
  - id: HIGH
    title: t
    severity: high
    condition: pod.namespace == "risky"
`, "images: [{repository: nginx, tags: [\"1.27\"]}]\n")
	rsc := podrecord.Actor{Username: "system:serviceaccount:kube-system:replicaset-controller", Kind: podrecord.ActorController}
	ci := podrecord.Actor{Username: "system:serviceaccount:ci:runner", Kind: podrecord.ActorServiceAccount}
	recs := []*podrecord.Record{
		{Namespace: "shop", Name: "web-6d4cf56db6-x7b2q", Allowed: true, Actor: rsc, Channel: "controller",
			Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "web-6d4cf56db6"}, Containers: ctr("nginx:1.28", "ghcr.io/acme/web:2")},
		{Namespace: "build", Name: "job", Allowed: true, Actor: ci, Channel: "helm", Containers: ctr("ghcr.io/acme/builder:7")},
		{Namespace: "risky", Name: "x", Allowed: true, Actor: ci, Channel: "kubectl", Containers: ctr("evil.example/x:1")},
	}
	b, err := e.Baseline(recs, BaselineOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.Records != 3 || b.Learned != 2 || len(b.Held) != 1 || b.Held[0].Pod != "risky/x" {
		t.Errorf("%d records, %d learned, held %+v", b.Records, b.Learned, b.Held)
	}
	p := b.Proposal
	if !slices.ContainsFunc(p.Images, func(im inventory.Image) bool {
		return im.Repository == "docker.io/library/nginx" && slices.Equal(im.Tags, []string{"1.28"})
	}) ||
		!slices.ContainsFunc(p.Images, func(im inventory.Image) bool {
			return im.Repository == "ghcr.io/acme/web" && slices.Equal(im.Tags, []string{"2"})
		}) {
		t.Errorf("images %+v", p.Images)
	}
	if len(p.Workloads) != 1 || p.Workloads[0].Name != "web" || p.Workloads[0].Kind != "Deployment" {
		t.Errorf("workloads %+v", p.Workloads)
	}
	if len(p.Namespaces) != 1 || p.Namespaces[0].Name != "build" || !slices.Equal(p.TrustedIdentities, []string{ci.Username}) {
		t.Errorf("namespaces %+v, trusted %v", p.Namespaces, p.TrustedIdentities)
	}
	data, err := b.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.Parse("site.yaml", data); err != nil || !strings.Contains(string(data), "#   risky/x by "+ci.Username+": HIGH high") {
		t.Errorf("%v\n%s", err, data)
	}
	b, _ = e.Baseline(recs, BaselineOptions{Hold: "critical"})
	if b.Learned != 3 || len(b.Held) != 0 {
		t.Errorf("hold critical: %d learned, %d held", b.Learned, len(b.Held))
	}
	// unpinned: two repositories of one organisation are its glob
	if !slices.ContainsFunc(b.Proposal.Images, func(im inventory.Image) bool { return im.Repository == "ghcr.io/acme/*" }) {
		t.Errorf("images %+v", b.Proposal.Images)
	}
}
