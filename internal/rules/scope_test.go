// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// scopeInventory declares images for the repository nginx, the namespace
// shop and the workload tools/runner, and creators for shop; nothing for
// the namespace lab.
const scopeInventory = `
images:
  - repository: nginx
    tags: ["1.27"]
namespaces:
  - name: shop
    creators: ["system:serviceaccount:ci:*"]
    images: ["ghcr.io/acme/*", "nginx"]
workloads:
  - {namespace: tools, name: runner, kind: Deployment, images: ["ghcr.io/acme/runner"]}
trusted_identities: [terraform-ci]
`

const scopeRules = `
rules:
  - id: IMG
    condition: pod.allowed && !imagesApproved(pod)
    output: {images: unapprovedImages(pod)}
  - id: CREATOR
    condition: pod.allowed && pod.actor.kind in ["user", "service_account"] && !creatorAllowed(pod)
  - id: INITIATOR
    condition: pod.allowed && !initiatorAllowed(pod)
`

// TestUnknownIsNotUnapproved: the inventory checks fire where the inventory
// declares something (a repository's tags, a namespace's or a workload's
// images, a namespace's creators) and are silent elsewhere, unless the
// inventory is strict, where what it does not approve is unapproved.
func TestUnknownIsNotUnapproved(t *testing.T) {
	runner := podrecord.Owner{Kind: "ReplicaSet", Name: "runner-6d4cf56db6"}
	alice := podrecord.Actor{Username: "alice", Kind: podrecord.ActorUser}
	tf := podrecord.Actor{Username: "terraform-ci", Kind: podrecord.ActorUser}
	rsc := podrecord.Actor{Username: "system:serviceaccount:kube-system:replicaset-controller", Kind: podrecord.ActorController}
	for _, tt := range []struct {
		name         string
		r            podrecord.Record
		want, strict []string
	}{
		{"undeclared namespace, unknown image", podrecord.Record{Namespace: "lab", Actor: alice, Containers: ctr("alpine:3.20")},
			nil, []string{"IMG", "CREATOR"}},
		{"undeclared namespace, a trusted identity", podrecord.Record{Namespace: "lab", Actor: tf, Containers: ctr("alpine:3.20")},
			nil, []string{"IMG"}},
		{"undeclared namespace, a declared repository's other tag", podrecord.Record{Namespace: "lab", Actor: rsc, Containers: ctr("docker.io/nginx:1.25")},
			[]string{"IMG"}, []string{"IMG"}},
		{"undeclared namespace, a declared repository's tag", podrecord.Record{Namespace: "lab", Actor: rsc, Containers: ctr("nginx:1.27")},
			nil, nil},
		{"declared namespace, image outside its list", podrecord.Record{Namespace: "shop", Actor: rsc, Containers: ctr("alpine:3.20")},
			[]string{"IMG"}, []string{"IMG"}},
		{"declared namespace, image in its list", podrecord.Record{Namespace: "shop", Actor: rsc, Containers: ctr("ghcr.io/acme/cart:1.2.0")},
			nil, nil}, // the namespace's list approves it, strict or not
		{"declared namespace, a person not among its creators", podrecord.Record{Namespace: "shop", Actor: alice, Containers: ctr("nginx:1.27")},
			[]string{"CREATOR"}, []string{"CREATOR"}},
		{"declared workload, image outside its list", podrecord.Record{Namespace: "tools", Owner: runner, Actor: rsc, Containers: ctr("alpine:3.20")},
			[]string{"IMG"}, []string{"IMG"}},
		{"declared workload, its image", podrecord.Record{Namespace: "tools", Owner: runner, Actor: rsc, Containers: ctr("ghcr.io/acme/runner:4")},
			nil, nil},
		{"another owner in the workload's namespace", podrecord.Record{Namespace: "tools", Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "other-6d4cf56db6"},
			Actor: rsc, Containers: ctr("alpine:3.20")}, nil, []string{"IMG"}},
		{"an image not known", podrecord.Record{Namespace: "shop", Actor: rsc, Containers: ctr("")}, nil, nil},
		{"a reference no runtime pulls, undeclared", podrecord.Record{Namespace: "lab", Actor: rsc, Containers: ctr("Alpine:3.20")},
			nil, []string{"IMG"}},
		{"a reference no runtime pulls, declared namespace", podrecord.Record{Namespace: "shop", Actor: rsc, Containers: ctr("ghcr.io/acme/Cart:1")},
			[]string{"IMG"}, []string{"IMG"}},
		{"controller-made pod whose initiator is not allowed", podrecord.Record{Namespace: "lab", Actor: rsc, Owner: runner,
			Initiator: &podrecord.Initiator{Username: "alice", Kind: podrecord.ActorUser, Channel: "kubectl"}, Containers: ctr("nginx:1.27")},
			nil, []string{"INITIATOR"}},
	} {
		for _, strict := range []bool{false, true} {
			inv := scopeInventory
			want := tt.want
			if strict {
				inv = "strict: true\n" + inv
				want = tt.strict
			}
			e := compileWith(t, scopeRules, inv)
			r := tt.r
			r.Allowed = true
			fs, errs := e.Evaluate(&r)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := ids(fs); !equalIDs(got, want) {
				t.Errorf("%s (strict %v): fired %v, want %v", tt.name, strict, got, want)
			}
			// the slow path (Inventory methods) agrees on creators
			i, _ := inventory.Parse("inv.yaml", []byte(inv))
			if got := i.CreatorAllowed(&r); got != e.index.creatorAllowed(&r) {
				t.Errorf("%s (strict %v): CreatorAllowed %v, the index says otherwise", tt.name, strict, got)
			}
		}
	}
}

// TestUnapprovedImagesOutput: the images PT-0003 names are those
// imagesApproved refuses, in spec order.
func TestUnapprovedImagesOutput(t *testing.T) {
	e := compileWith(t, scopeRules, scopeInventory)
	r := &podrecord.Record{Namespace: "shop", Allowed: true, Containers: ctr("alpine:3.20", "nginx:1.27", "busybox", "nginx:1.25")}
	fs, _ := e.Evaluate(r)
	if len(fs) != 1 || fs[0].Value("images") != "alpine:3.20,busybox,nginx:1.25" {
		t.Errorf("findings %+v", fs)
	}
	r.Containers = ctr("nginx:1.27", "busybox")
	if fs, _ := e.Evaluate(r); len(fs) != 1 || fs[0].Value("images") != "busybox" {
		t.Errorf("findings %+v", fs)
	}
}

func compileWith(t testing.TB, rules, invYAML string) *Engine {
	t.Helper()
	inv, err := inventory.Parse("inv.yaml", []byte(invYAML))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile("rules.yaml", []byte(rules), inv)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
