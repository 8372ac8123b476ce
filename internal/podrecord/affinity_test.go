// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"strings"
	"testing"
)

func TestAffinityKey(t *testing.T) {
	tests := []struct {
		ns, name, want string
	}{
		// A Deployment, its ReplicaSet and their pod (the demo's frontend).
		{"web", "frontend", "web/frontend"},
		{"web", "frontend-7c9d8f6b5", "web/frontend"},
		{"web", "frontend-7c9d8f6b5-lz8kp", "web/frontend"},
		// A CronJob, its Job and its pod.
		{"batch", "report-nightly", "batch/report-nightly"},
		{"batch", "report-nightly-29919435", "batch/report-nightly"},
		{"batch", "report-nightly-29919435-8dk2x", "batch/report-nightly"},
		// A DaemonSet and its pod; the lookalike gets the same key.
		{"kube-system", "kube-proxy", "kube-system/kube-proxy"},
		{"kube-system", "kube-proxy-7mzqv", "kube-system/kube-proxy"},
		{"kube-system", "kube-proxy-x7b2q", "kube-system/kube-proxy"},
		// A StatefulSet's pods.
		{"db", "postgres-0", "db/postgres"},
		{"db", "postgres-12", "db/postgres"},
		// Static pods keep their node suffix (not generated).
		{"kube-system", "kube-apiserver-node-a", "kube-system/kube-apiserver-node-a"},
		// Names that are words stay.
		{"default", "tf-smoke", "default/tf-smoke"},
		{"monitoring", "node-exporter-debug", "monitoring/node-exporter-debug"},
		{"default", "-", "default/-"},
		{"default", "", "default/"},
	}
	for _, tt := range tests {
		if got := AffinityKey(tt.ns, tt.name); got != tt.want {
			t.Errorf("AffinityKey(%q, %q) = %q, want %q", tt.ns, tt.name, got, tt.want)
		}
	}
	if got := AffinityKeyGenerateName("web", "frontend-7c9d8f6b5-"); got != "web/frontend" {
		t.Errorf("generateName: %q", got)
	}
}

// FuzzAffinityKey: a name generated from a generateName, and a child named
// after its owner, always share the owner's key.
func FuzzAffinityKey(f *testing.F) {
	f.Add("web", "frontend-7c9d8f6b5-", "lz8kp")
	f.Add("batch", "report-nightly-29919435-", "8dk2x")
	f.Add("db", "postgres-", "0")
	f.Fuzz(func(t *testing.T, ns, generateName, random string) {
		if !strings.HasSuffix(generateName, "-") || random == "" {
			return
		}
		for i := 0; i < len(random); i++ {
			if !isSuffixChar(random[i]) {
				return
			}
		}
		if len(random) != 5 {
			return
		}
		if got, want := AffinityKey(ns, generateName+random), AffinityKeyGenerateName(ns, generateName); got != want {
			t.Fatalf("pod %q: %q, its generateName %q: %q", generateName+random, got, generateName, want)
		}
	})
}
