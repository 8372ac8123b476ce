// SPDX-License-Identifier: Apache-2.0

// Package otelcolpodtrail tests the distribution as a user runs it: the
// collector binary built from the ocb-generated sources, on the demo data.
package otelcolpodtrail

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	auditev "github.com/podtrail/podtrail/internal/audit"
)

// TestDemo builds bin/otelcol-podtrail as `make build` does, runs the demo
// script (what `make run` runs) and checks what it printed: a record for every
// pod created in the demo audit log, and the findings on the lookalikes.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole collector")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "otelcol-podtrail")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/otelcol-podtrail")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building the collector: %v", err)
	}
	out := filepath.Join(dir, "records.json")
	run := exec.Command("bash", "demo/run.sh")
	run.Env = append(os.Environ(), "PODTRAIL_BIN="+bin, "PODTRAIL_OUT="+out)
	stdout, err := run.Output()
	if err != nil {
		t.Fatalf("demo/run.sh: %v\n%s", err, stdout)
	}
	got := string(stdout)
	t.Log(got)

	audit, err := os.ReadFile("demo/audit.log")
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, l := range strings.Split(string(audit), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ev, err := auditev.Decode([]byte(l))
		if err != nil {
			t.Fatalf("demo/audit.log: %v", err)
		}
		if ev.IsPodCreate() && ev.IsFinal() {
			creates++
		}
	}
	if creates != 11 {
		t.Fatalf("the demo has %d pod creates, want 11", creates)
	}
	// One record per pod create, and one for the pod node-b ran without one.
	if n := strings.Count(got, "\npod ") + boolInt(strings.HasPrefix(got, "pod ")); n != creates+1 {
		t.Errorf("printed %d records, want %d", n, creates+1)
	}
	for _, want := range []string{
		"pod kube-system/kube-proxy-x7b2q created by alice@example.com (user) via kubectl",
		"finding CRITICAL PT-0002 Pod name imitates a system or approved workload: pod kube-system/kube-proxy-x7b2q",
		"finding HIGH PT-0001 Person created a pod in a system namespace: pod kube-system/kube-proxy-x7b2q",
		"FORBIDDEN for mallory",
		"finding MEDIUM PT-0003 Image not in the approved inventory: pod shop/cart-6f7d9c8b4-ttp4z images=ghcr.io/acme-corp/cart:1.2.0",
		"pod default/tf-smoke created by terraform-ci (user) via terraform",
		"finding MEDIUM PT-0006 Creator or channel not allowed in the namespace: pod monitoring/node-exporter-debug actor=bob@example.com channel=kubectl",
		"finding HIGH PT-0005 Pod claims a system workload's labels without its owner: pod kube-system/kube-proxy-4wz9n",
		"pod shop/cart-6f7d9c8b4-ttp4z created by system:serviceaccount:kube-system:replicaset-controller (controller) via controller owner=ReplicaSet/cart-6f7d9c8b4 initiator=mallory via kubectl images=ghcr.io/acme-corp/cart:1.2.0 node=node-b",
		"initiator=system:serviceaccount:ci:gitlab-runner via helm",
		"pod kube-system/kube-proxy-debug RAN ON node-b WITHOUT AN API CREATE (containerd) missing=audit,digest,scheduler partial=window",
		"12 pod-creation records,",
		"OTLP JSON written to " + out,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Approved workloads made by their controllers raise nothing.
	for _, quiet := range []string{"pod kube-system/kube-proxy-7mzqv", "pod shop/payments-5d8f7c9b6d-q9wzt"} {
		if strings.Contains(got, "finding") && strings.Contains(got, quiet+"\n    └─") {
			t.Errorf("%s has findings", quiet)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("no OTLP JSON at %s: %v", out, err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
