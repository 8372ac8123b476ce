// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"sync"
	"time"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// maxAffinityIDs bounds the sandbox and container ids remembered.
const maxAffinityIDs = 16384

// Image pulls (started, done, failed, not needed) name no pod in the
// runtimes' logs: they are sent once for each pod that started a
// sandbox on the node within pullWindow before the pull (at most
// maxPullPods, the most recent), since the kubelet pulls a pod's images
// after its sandbox is up. The gateway of each receives the digest; the
// others ignore it.
const (
	pullWindow  = 2 * time.Minute
	maxPullPods = 8
)

// affinity gives each node event its pod's podrecord.AffinityKey. Runtime
// lines about a container name only its id (StartContainer for <id>) or its
// sandbox's (CreateContainer within sandbox <id>): the key is remembered by
// sandbox id from the lines that name the pod (RunPodSandbox) and by
// container id from the lines that name the sandbox. Bounded: the oldest
// ids are forgotten first. An event of a pod whose sandbox was started
// before the receiver, or an image pull (no pod), has no key.
type affinity struct {
	mu     sync.Mutex
	byID   map[string]string // sandbox or container id → key
	order  []string          // ids, oldest first (ring)
	next   int
	recent map[string][]recentPod // node → pods that started a sandbox, newest last
}

type recentPod struct {
	key string
	at  time.Time
}

func newAffinity() *affinity {
	return &affinity{byID: make(map[string]string), order: make([]string, maxAffinityIDs), recent: map[string][]recentPod{}}
}

// keys appends the keys ev is sent with to dst: one, or for an image pull
// one per recent pod of the node, or none.
func (a *affinity) keys(ev *noderuntime.Event, dst []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if imageKind(ev.Kind) && ev.PodName == "" && ev.SandboxID == "" && ev.ContainerID == "" {
		for _, p := range a.recent[ev.Node] {
			if !ev.Time.Before(p.at) && ev.Time.Sub(p.at) <= pullWindow {
				dst = append(dst, p.key)
			}
		}
		return dst
	}
	if k := a.key(ev); k != "" {
		dst = append(dst, k)
	}
	return dst
}

// imageKind reports the kinds of image pull events, which a runtime logs
// without their pod.
func imageKind(k noderuntime.Kind) bool {
	switch k {
	case noderuntime.KindImagePullStarted, noderuntime.KindImagePulled, noderuntime.KindImagePullFailed, noderuntime.KindImagePresent:
		return true
	}
	return false
}

func (a *affinity) key(ev *noderuntime.Event) string {
	key := ""
	switch {
	case ev.PodNamespace != "" && ev.PodName != "":
		key = podrecord.AffinityKey(ev.PodNamespace, ev.PodName)
	case ev.SandboxID != "":
		key = a.byID[ev.SandboxID]
	}
	if key == "" && ev.ContainerID != "" {
		return a.byID[ev.ContainerID]
	}
	if key != "" {
		a.remember(ev.SandboxID, key)
		a.remember(ev.ContainerID, key)
		if ev.Kind == noderuntime.KindSandboxRequested || ev.Kind == noderuntime.KindSandboxReady {
			a.started(ev.Node, key, ev.Time)
		}
	}
	return key
}

// started notes that the pod of key started a sandbox on node at t.
func (a *affinity) started(node, key string, t time.Time) {
	ps := a.recent[node]
	for i, p := range ps {
		if p.key == key {
			ps = append(ps[:i], ps[i+1:]...)
			break
		}
	}
	ps = append(ps, recentPod{key: key, at: t})
	if len(ps) > maxPullPods {
		ps = ps[len(ps)-maxPullPods:]
	}
	a.recent[node] = ps
}

func (a *affinity) remember(id, key string) {
	if id == "" {
		return
	}
	if _, ok := a.byID[id]; ok {
		a.byID[id] = key
		return
	}
	if old := a.order[a.next]; old != "" {
		delete(a.byID, old)
	}
	a.order[a.next] = id
	a.next = (a.next + 1) % len(a.order)
	a.byID[id] = key
}

func keyAt(keys []string, i int) string {
	if i < len(keys) {
		return keys[i]
	}
	return ""
}
