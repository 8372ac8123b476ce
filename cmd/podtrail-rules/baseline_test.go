// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/rules"
)

// demoRecords is what `make run` exports of the demo (the file exporter's
// OTLP JSON, a request a line), its 12 podtrail.pod_creation log records.
var demoRecords = filepath.Join("testdata", "demo-records.json")

// TestBaselineFirstDay runs the first-day procedure of internal/rules
// README on the demo cluster's exported records, with nothing but the
// shipped pack and generic inventory:
//
//  1. learn: podtrail-rules baseline proposes a site inventory, holding
//     back the records that raise high or critical findings;
//  2. review: the proposal lists each entry, the held-back pods, and leaves
//     out the learned image that imitates another (acme-corp beside acme);
//  3. apply: merged after the generic inventory, the pods the cluster's
//     controllers and pipelines made raise nothing of medium or above, and
//     every masquerade still fires.
func TestBaselineFirstDay(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site.yaml")
	code, out, errOut := runCmd("baseline", "--rules", rulesFile, "--inventory", generic, "--out", site, demoRecords)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("%s", out)
	for _, want := range []string{
		"baseline: 12 pod-creation records, 8 learned from, 3 held back",
		"! held back  kube-system/kube-proxy-x7b2q by alice@example.com: PT-0001 high, PT-0002 critical",
		"! held back  kube-system/kube-proxy-4wz9n by eve:",
		"! held back  kube-system/kube-proxy-debug by (no actor): PT-0035 critical",
		"+ workload  shop/payments Deployment service_account=payments",
		"+ workload  batch/report-nightly CronJob service_account=report",
		"+ image     ghcr.io/acme/*",
		"+ namespace default creators=terraform-ci channels=terraform",
		"+ trusted   terraform-ci",
		"? image     ghcr.io/acme-corp/cart: imitates ghcr.io/acme/*",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the review lacks %q", want)
		}
	}
	if strings.Contains(out, "+ workload  kube-system/kube-proxy") || strings.Contains(out, "+ workload  kube-system/coredns") {
		t.Error("the baseline proposes workloads the generic inventory has")
	}
	data, err := os.ReadFile(site)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "\n  - repository: ghcr.io/acme-corp") {
		t.Errorf("the lookalike image is proposed:\n%s", data)
	}

	// apply
	e, err := rules.LoadSources(rules.Sources{Rules: []string{rulesFile}, Inventory: []string{generic, site}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readRecords(demoRecords)
	if err != nil || len(recs) != 12 {
		t.Fatalf("%d records: %v", len(recs), err)
	}
	legit := map[string]bool{"kube-system/kube-proxy-7mzqv": true, "kube-system/coredns-668d6bf9bc-2xkfw": true,
		"shop/payments-5d8f7c9b6d-q9wzt": true, "web/frontend-7c9d8f6b5-lz8kp": true, "batch/report-nightly-29919435-8dk2x": true,
		"default/tf-smoke": true}
	masquerades := map[string]string{"kube-system/kube-proxy-x7b2q": "PT-0002", "kube-system/kube-proxy-4wz9n": "PT-0002",
		"shop/cart-6f7d9c8b4-ttp4z": "PT-0022", "kube-system/kube-proxy-debug": "PT-0035"}
	for _, r := range recs {
		fs, errs := e.Evaluate(r)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		pod := r.DisplayName()
		var got []string
		for _, f := range fs {
			got = append(got, f.RuleID+" "+f.Severity)
			if legit[pod] && f.Severity != "info" && f.Severity != "low" {
				t.Errorf("%s: %s %s with the applied baseline", pod, f.RuleID, f.Severity)
			}
		}
		if id, ok := masquerades[pod]; ok && !strings.Contains(strings.Join(got, " "), id) {
			t.Errorf("%s: %s no longer fires: %v", pod, id, got)
		}
		t.Logf("%s: %v", pod, got)
	}
}

// TestBaselineErrors: records that are not OTLP JSON, none given, a bad
// hold severity.
func TestBaselineErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{\"resourceLogs\": [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"baseline", "--rules", rulesFile, "--inventory", generic, bad}, "not OTLP JSON logs"},
		{[]string{"baseline", "--rules", rulesFile, "--inventory", generic}, "no records given"},
		{[]string{"baseline", "--rules", rulesFile, "--inventory", generic, "--hold", "severe", demoRecords}, `hold: "severe"`},
	} {
		if code, _, errOut := runCmd(tt.args...); code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %s", tt.args, code, errOut)
		}
	}
}
