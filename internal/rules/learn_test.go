// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/podtrail/podtrail/internal/inventory"
)

// TestLearnerProposal learns from the demo's records, writes the proposal,
// and loads it as the inventory of the default pack: the inventory checks
// (image approved, creator and channel allowed) then pass for every pod
// it learned from, so the proposal holds what ran, including the
// masquerading pods, which is why it is written for review and never
// applied.
func TestLearnerProposal(t *testing.T) {
	recs := demoRecords(t)
	l := inventory.NewLearner()
	for _, r := range recs {
		l.Observe(r)
	}
	file := filepath.Join(t.TempDir(), "proposal.yaml")
	base := packInventory(t)
	if err := l.WriteFile(file, base); err != nil {
		t.Fatal(err)
	}
	learned, err := inventory.Load(file)
	if err != nil {
		t.Fatalf("the proposal does not load as an inventory: %v", err)
	}
	data, _ := os.ReadFile(file)
	t.Logf("%s", data)

	if !slices.Equal(learned.SystemNamespaces, base.SystemNamespaces) {
		t.Errorf("system namespaces %v, want the base's %v", learned.SystemNamespaces, base.SystemNamespaces)
	}
	var workloads []string
	for _, w := range learned.Workloads {
		workloads = append(workloads, w.Namespace+"/"+w.Kind+"/"+w.Name)
	}
	// a ReplicaSet named <deployment>-<pod-template-hash> is its Deployment
	for _, w := range []string{"kube-system/DaemonSet/kube-proxy", "shop/Deployment/payments", "batch/CronJob/report-nightly"} {
		if !slices.Contains(workloads, w) {
			t.Errorf("workload %s not learned: %v", w, workloads)
		}
	}
	for _, ns := range learned.Namespaces {
		if ns.Name == "kube-system" && slices.Contains(ns.Creators, "mallory") {
			t.Error("a forbidden create was learned")
		}
	}

	e, err := Load(filepath.Join(packDir, "rules.yaml"), file)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !r.Allowed {
			continue
		}
		fs, errs := e.Evaluate(r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, f := range fs {
			if f.RuleID == "PT-0003" || f.RuleID == "PT-0006" {
				t.Errorf("%s/%s: %s fires with the inventory learned from it", r.Namespace, r.Name, f.RuleID)
			}
		}
	}
}

func TestLearnerIgnores(t *testing.T) {
	l := inventory.NewLearner()
	for _, r := range demoRecords(t) {
		if r.Allowed {
			continue
		}
		l.Observe(r)
	}
	inv := l.Proposal(nil)
	if len(inv.Workloads)+len(inv.Images)+len(inv.Namespaces) != 0 {
		t.Errorf("forbidden creates learned: %+v", inv)
	}
}
