// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
)

// TestMixedRuntimes: the demo cluster with node-b running CRI-O 1.33
// (demo/nodes/crio/node-b.log: the same pods in CRI-O's wording, request
// ids joining "Pulling image" to "Pulled image") and node-a containerd.
// Every pod has one record whatever the order; node-b's pods list crio as
// their runtime source and take their digests from CRI-O's pulls
// (runtime_pull, as containerd's "Pulled image" lines).
func TestMixedRuntimes(t *testing.T) {
	a := readAudit(t, filepath.Join(demoDir, "audit.log"), "")
	na := readNode(t, filepath.Join(demoDir, "nodes", "node-a.log"))
	nb := readNode(t, filepath.Join(demoDir, "nodes", "crio", "node-b.log"))
	onNodeB := map[string]bool{"kube-system/kube-proxy-7mzqv": true, "kube-system/coredns-668d6bf9bc-2xkfw": true,
		"shop/payments-5d8f7c9b6d-q9wzt": true, "batch/report-nightly-29919435-8dk2x": true,
		"monitoring/node-exporter-debug": true, "shop/cart-6f7d9c8b4-ttp4z": true, "kube-system/kube-proxy-debug": true}
	w := map[string]want{}
	for k, v := range demoWant {
		if onNodeB[k] {
			v.sources = strings.Replace(v.sources, "containerd", "crio", 1)
		}
		w[k] = v
	}
	for _, tt := range []struct {
		name string
		in   []input
	}{
		{"in time order", byTime(append(append(append([]input(nil), a...), na...), nb...))},
		{"node first", append(append(append([]input(nil), nb...), na...), a...)},
		{"interleaved 1", interleave(1, a, na, nb)},
		{"interleaved 2", interleave(2, a, na, nb)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := w
			if tt.name != "in time order" {
				want = withoutLifetimeChecks(w)
			}
			check(t, run(New(DefaultConfig()), tt.in), want)
		})
	}
}

// interleave merges streams at random: each stream keeps its order (a
// file, a webhook connection), the streams race each other, as in a
// gateway fed by every node.
func interleave(seed int64, streams ...[]input) []input {
	rnd := rand.New(rand.NewSource(seed))
	streams = append([][]input(nil), streams...)
	var out []input
	for len(streams) > 0 {
		i := rnd.Intn(len(streams))
		out = append(out, streams[i][0])
		if streams[i] = streams[i][1:]; len(streams[i]) == 0 {
			streams = append(streams[:i], streams[i+1:]...)
		}
	}
	return out
}
