// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

const testDigest = "sha256:dbeb97c24f107f57a887833791df5761c5c671279fcffcfa4d562189f90edc6a"

// TestImageApprovedNormalised: an inventory entry approves every spelling of
// its image, whichever spelling the entry uses; invalid references are never
// approved.
func TestImageApprovedNormalised(t *testing.T) {
	spellings := []string{"nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx", "index.docker.io/nginx"}
	for _, entry := range spellings {
		inv, err := inventory.Parse("inv.yaml", []byte("images:\n  - repository: "+entry+"\n    tags: [\"1.27\"]\n    digests: ["+testDigest+"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.Images[0].Repository; got != "docker.io/library/nginx" {
			t.Errorf("entry %s normalised to %s", entry, got)
		}
		ix := newIndex(inv)
		for _, s := range spellings {
			for _, ref := range []string{s + ":1.27", s + "@" + testDigest, s + ":1.27@" + testDigest} {
				if !inv.ImageApproved(ref) || !ix.approved(parseImage(ref)) {
					t.Errorf("entry %s does not approve %s", entry, ref)
				}
			}
			for _, ref := range []string{s, s + ":1.28", s + ":latest", "NGINX:1.27", s + "@sha256:dbeb"} {
				if inv.ImageApproved(ref) || ix.approved(parseImage(ref)) {
					t.Errorf("entry %s approves %s", entry, ref)
				}
			}
		}
	}
}

// TestImageFunctionsNormalised: imageFrom, repoLookalike and the inventory's
// globs see normalised references; a registry host may be a glob, a
// repository glob may end in /** (any depth).
func TestImageFunctionsNormalised(t *testing.T) {
	inv, err := inventory.Parse("inv.yaml", []byte(`
images:
  - repository: registry.k8s.io/**
  - repository: calico/*
  - repository: "602401143452.dkr.ecr.*.amazonaws.com/eks/*"
`))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]bool{
		"registry.k8s.io/pause:3.10":              true,
		"registry.k8s.io/coredns/coredns:v1.12.0": true,
		"registry.k8s.io/a/b/c:1":                 true,
		"registry.k8s.io.evil.com/pause:3.10":     false,
		"docker.io/calico/node:v3.29.1":           true,
		"calico/cni:v3.29.1":                      true,
		"index.docker.io/calico/cni:v3.29.1":      true,
		"quay.io/calico/cni:v3.29.1":              false,
		"602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.31.3-minimal-eksbuild.3": true,
		"602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.0":                    false,
	} {
		if got := inv.ImageApproved(ref); got != want {
			t.Errorf("ImageApproved(%s) = %v", ref, got)
		}
	}
	e, err := Compile("r.yaml", []byte(`
rules:
  - id: FROM
    condition: imageFrom(pod.containers[0].image, ["docker.io/calico", "*.dkr.ecr.*.amazonaws.com", "rancher"])
  - id: LOOK
    condition: repoLookalike(pod.containers[0].image, ["docker.io/library/nginx", "quay.io"])
  - id: INVALID
    condition: invalidImage(pod) != ""
  - id: INVALIDFIELD
    condition: image(pod.containers[0].image).invalid != ""
`), inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		image string
		want  []string
	}{
		{"calico/node:v3.29.1", []string{"FROM"}},
		{"index.docker.io/calico/node:v3.29.1", []string{"FROM"}},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", []string{"FROM"}},
		{"rancher/mirrored-pause:3.6", nil}, // rancher alone is a host, not docker.io/rancher
		{"nginx:1.27", nil},
		{"docker.io/nginx:1.27", nil},
		{"docker.io/library/ngnix:1.27", []string{"LOOK"}},
		{"quay.io.example.net/x:1", []string{"LOOK"}},
		{"ghcr.io/acme/payments@sha256:abc", []string{"INVALID", "INVALIDFIELD"}},
		{"registry.k8s.io/kube-prоxy:v1.33.13", []string{"INVALID", "INVALIDFIELD"}}, // Cyrillic о
	} {
		r := &podrecord.Record{Allowed: true, Containers: ctr(tt.image)}
		fs, errs := e.Evaluate(r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := ids(fs); !equalIDs(got, tt.want) {
			t.Errorf("%s: fired %v, want %v", tt.image, got, tt.want)
		}
	}
	// an empty image (not known) is not invalid to invalidImage; image("")
	// says why it is no reference
	if fs, _ := e.Evaluate(&podrecord.Record{Containers: ctr("")}); !equalIDs(ids(fs), []string{"INVALIDFIELD"}) {
		t.Errorf("an empty image: %v", ids(fs))
	}
}

// TestInventoryImageErrors: an inventory repository that is not one (a
// tag, a digest, a bad glob) fails the load.
func TestInventoryImageErrors(t *testing.T) {
	for _, repo := range []string{"nginx:1.27", "ghcr.io/acme/app@" + testDigest, `"ghcr.io/[acme"`, `""`} {
		if _, err := inventory.Parse("inv.yaml", []byte("images: [{repository: "+repo+"}]\n")); err == nil {
			t.Errorf("%s: loaded", repo)
		}
	}
}

func equalIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
