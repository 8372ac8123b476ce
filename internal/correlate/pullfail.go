// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"

	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// maxPullWaiters bounds, per node, the pods whose sandbox the node started
// and whose pull failures may name no pod: a node starts a few pods at a
// time; beyond it the oldest is dropped from the list (its record keeps
// what named failures told it).
const maxPullWaiters = 256

// addPullWaiter lists pending entry e as a pod node is starting: a pull
// failure the node's runtime reports without naming the pod (containerd's
// `PullImage "<ref>" failed`, CRI-O's and cri-dockerd's failed pulls) is
// one of its pods' (pullFailedNoPod). Entries that went out since are
// dropped here.
func (c *Correlator) addPullWaiter(node string, e *entry) {
	if node == "" {
		return
	}
	l := c.pullWait[node]
	n := 0
	for _, x := range l {
		if x == e {
			return
		}
		if !x.done {
			l[n] = x
			n++
		}
	}
	clear(l[n:])
	l = l[:n]
	if len(l) >= maxPullWaiters {
		copy(l, l[1:])
		l = l[:len(l)-1]
	}
	if c.pullWait == nil {
		c.pullWait = map[string][]*entry{}
	}
	c.pullWait[node] = append(l, e)
}

// pullKey is an image reference as a pull names it: repository, tag and
// digest, Docker Hub's short names completed (nginx:1.27 and
// docker.io/library/nginx:1.27 are one).
func pullKey(ref string) string {
	r := imageref.ParseCached(ref)
	return r.Repository + ":" + r.Tag + "@" + r.Digest
}

// pullFailedNoPod joins a pull failure that names no pod, only the image
// (and the node of the line), to the pods the node is starting whose
// containers that have not started use that image: each gets the pull
// failure, and the container its error, as when the kubelet names the pod.
// Pods whose spec is not known (a Metadata-level create, no kubelet line
// naming the container) cannot be told apart: none gets it. It returns how
// many containers it was joined to.
func (c *Correlator) pullFailedNoPod(ev *noderuntime.Event) int {
	if ev.Node == "" || ev.Image == "" {
		return 0
	}
	l := c.pullWait[ev.Node]
	want := pullKey(ev.Image)
	joined, n := 0, 0
	var names []string
	for _, e := range l {
		if e.done {
			continue
		}
		l[n] = e
		n++
		o := c.open(e)
		names = names[:0]
		for i := range o.rec.Containers {
			ctr := &o.rec.Containers[i]
			if ctr.StartedAt.IsZero() && ctr.Image != "" && pullKey(ctr.Image) == want {
				names = append(names, ctr.Name)
			}
		}
		for _, name := range names {
			addPullFailure(&o.rec, podrecord.PullFailure{Image: ev.Image, Container: name, Error: ev.Error, Reason: ev.Reason})
			c.addContainer(e, podrecord.Container{Name: name, Error: strings.Clone(ev.Error), Reason: strings.Clone(ev.Reason)})
			joined++
		}
		if len(names) > 0 {
			addSource(&o.rec, string(ev.Source))
			c.touch(e)
		}
	}
	clear(l[n:])
	c.pullWait[ev.Node] = l[:n]
	return joined
}
