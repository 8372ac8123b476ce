// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// bounded fails t when f took longer than limit.
func bounded(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > limit {
		t.Errorf("%s: %v, over %v", what, d, limit)
	} else {
		t.Logf("%s: %v", what, d)
	}
}

// TestLongInputsInRules: rules comparing two record strings (the generic
// call, no constant argument) and the pack's lookalike functions on a
// record whose name, labels, user and image are 80 000 characters long
// evaluate within a bound.
func TestLongInputsInRules(t *testing.T) {
	limit := 500 * time.Millisecond
	if raceEnabled {
		limit = 5 * time.Second
	}
	e, err := Compile("rules.yaml", []byte(`rules:
  - id: D
    condition: distance(pod.name, pod.generate_name) < 3
  - id: J
    condition: jaroWinkler(pod.name, pod.actor.username) > 0.9
  - id: N
    condition: nearAny(pod.name, [pod.generate_name, pod.service_account], 2)
  - id: C
    condition: confusable(pod.name, pod.generate_name)
`), &inventory.Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	pack := loadPack(t)
	longASCII := strings.Repeat("kube-proxy-", 7300)[:80_000]
	longCyrillic := strings.Repeat("кубе-ргоху-", 7300)[:80_000] // 2 bytes a letter
	for _, s := range []string{longASCII, longCyrillic} {
		r := &podrecord.Record{Namespace: "kube-system", Name: s, GenerateName: s[:len(s)-2] + "ab", ServiceAccount: s,
			Labels: map[string]string{"app": s, "k8s-app": s, "app.kubernetes.io/name": s}, Actor: podrecord.Actor{Username: s, Kind: "user"},
			Containers: []podrecord.Container{{Name: "c", Image: "ghcr.io/" + s + "/x:1"}}, Allowed: true}
		bounded(t, limit, "two-string rules", func() {
			if _, errs := e.Evaluate(r); len(errs) > 0 {
				t.Error(errs)
			}
		})
		bounded(t, limit, "the pack", func() {
			if _, errs := pack.Evaluate(r); len(errs) > 0 {
				t.Error(errs)
			}
		})
	}
}
