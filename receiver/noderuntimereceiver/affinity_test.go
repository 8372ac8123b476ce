// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// TestAffinityKeys: on the demo's node logs every sandbox and container
// event gets its pod's key, also the lines that name only a sandbox or a
// container id, and each image pull goes to the pods that had just started
// a sandbox on the node, the pod that needed the image among them.
func TestAffinityKeys(t *testing.T) {
	a := newAffinity()
	p := noderuntime.NewParser(noderuntime.Options{Year: 2026})
	podOf := map[string]string{} // sandbox or container id → ns/name, from the lines that say
	var keys []string
	pulls := 0
	for _, node := range []string{"node-a", "node-b"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "distributions", "otelcol-podtrail", "demo", "nodes", node+".log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			evs, err := p.ParseAll(line, nil)
			if err != nil {
				continue
			}
			for i := range evs {
				ev := &evs[i]
				keys = a.keys(ev, keys[:0])
				if ev.PodName != "" {
					for _, id := range []string{ev.SandboxID, ev.ContainerID} {
						if id != "" {
							podOf[id] = podrecord.AffinityKey(ev.PodNamespace, ev.PodName)
						}
					}
				}
				switch ev.Kind {
				case noderuntime.KindImagePulled, noderuntime.KindImagePresent:
					if ev.PodName == "" {
						pulls++
						if len(keys) == 0 {
							t.Errorf("%s: image pull with no pod to go to: %s", node, line)
						}
						continue
					}
				case noderuntime.KindSandboxRequested, noderuntime.KindSandboxReady, noderuntime.KindContainerCreated,
					noderuntime.KindContainerStarted, noderuntime.KindContainerExited:
				default:
					continue
				}
				want := ""
				switch {
				case ev.PodName != "":
					want = podrecord.AffinityKey(ev.PodNamespace, ev.PodName)
				case podOf[ev.SandboxID] != "":
					want = podOf[ev.SandboxID]
				default:
					want = podOf[ev.ContainerID]
				}
				if len(keys) != 1 || keys[0] != want || want == "" {
					t.Errorf("%s %s: keys %v, want %q: %s", node, ev.Kind, keys, want, line)
				}
				if ev.ContainerID != "" && podOf[ev.SandboxID] != "" {
					podOf[ev.ContainerID] = podOf[ev.SandboxID]
				}
			}
		}
	}
	if pulls == 0 {
		t.Error("no image pulls in the demo")
	}
}

func TestAffinityBounded(t *testing.T) {
	a := newAffinity()
	for i := 0; i < 3*maxAffinityIDs; i++ {
		a.keys(&noderuntime.Event{Kind: noderuntime.KindSandboxReady, PodNamespace: "ns", PodName: "p", SandboxID: string(rune(i))}, nil)
	}
	if len(a.byID) > maxAffinityIDs {
		t.Errorf("%d ids remembered", len(a.byID))
	}
	if n := len(a.recent[""]); n > maxPullPods {
		t.Errorf("%d recent pods", n)
	}
}

// TestAffinityPullFailures: a runtime's pull start and failure, which name
// only the image, go to the pods that just started a sandbox on the node.
func TestAffinityPullFailures(t *testing.T) {
	a := newAffinity()
	t0 := time.Date(2025, 11, 20, 9, 15, 0, 0, time.UTC)
	a.keys(&noderuntime.Event{Kind: noderuntime.KindSandboxReady, Node: "n", PodNamespace: "shop", PodName: "cart", SandboxID: "sb1", Time: t0}, nil)
	for _, k := range []noderuntime.Kind{noderuntime.KindImagePullStarted, noderuntime.KindImagePullFailed} {
		keys := a.keys(&noderuntime.Event{Kind: k, Node: "n", Image: "ghcr.io/acme-corp/cart:1.2.0", Time: t0.Add(time.Second)}, nil)
		if len(keys) != 1 || keys[0] != podrecord.AffinityKey("shop", "cart") {
			t.Errorf("%s: keys %v", k, keys)
		}
	}
}
