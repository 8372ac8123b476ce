// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"slices"
	"strings"
	"time"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// AddNode takes one node event and returns the records it completed.
func (c *Correlator) AddNode(ev *noderuntime.Event, now time.Time) []*podrecord.Record {
	c.at(now)
	out := c.addNode(ev, now)
	c.settle()
	return out
}

func (c *Correlator) addNode(ev *noderuntime.Event, now time.Time) []*podrecord.Record {
	switch ev.Kind {
	case noderuntime.KindImagePulled, noderuntime.KindImagePresent:
		c.images.observe(ev)
		return nil
	case noderuntime.KindImagePullFailed:
		if ev.PodUID == "" && ev.PodName == "" && ev.SandboxID == "" && ev.ContainerID == "" {
			// Only the image: one of the pods the node is starting.
			if c.pullFailedNoPod(ev) > 0 {
				c.stats.PullFailuresNoPod++
			} else {
				c.stats.Ignored++
			}
			return nil
		}
	}
	if ev.PodUID == "" && ev.PodName == "" && ev.SandboxID == "" && ev.ContainerID == "" {
		c.stats.Ignored++
		return nil
	}
	var e *entry
	if ev.PodUID == "" && ev.PodName == "" {
		// Only ids: belongs to a pod we know by its sandbox or container.
		e = c.find("", "", "", ev.SandboxID, ev.ContainerID)
		if e == nil {
			// Its sandbox or container may be named by a line still to
			// come (another source, or out of order): keep it a while.
			c.orphans.add(ev)
			return nil
		}
		if e.done {
			c.stats.Late++
			return nil
		}
		c.open(e)
	} else if fromAPI := ev.Kind == noderuntime.KindPodAdmitted && ev.PodSource == "api"; fromAPI {
		// The kubelet got the pod from the API server ("SyncLoop ADD"
		// source="api"): the API server knows it, as a status patch says.
		// Like one, it does not join a pod only another node reported.
		var late bool
		if e, late = c.lookupOrCreateAPI(ev.PodUID, ev.PodNamespace, ev.PodName, ev.Node, now); late {
			return nil
		}
		e.apiSeen = true
	} else {
		var late bool
		if runtimeStart(ev) && ev.PodUID != "" && ev.PodName != "" && c.byUID[ev.PodUID] == nil {
			if x := c.byName[nameKey{ev.PodNamespace, ev.PodName}]; x != nil && x.done && x.podUID() == "" && c.bySandbox[ev.SandboxID] == nil {
				// A sandbox a runtime starts under the name of a pod whose
				// record went out by its name alone: the uid tells nothing
				// of the two being one; a pod run by hand under an old
				// pod's name must not read as late.
				e = c.create(podrecord.OriginNodeOnly, ev.PodUID, ev.PodNamespace, ev.PodName, ev.SandboxID, now)
			}
		}
		if e == nil {
			if e, late = c.lookupOrCreate(podrecord.OriginNodeOnly, ev.PodUID, ev.PodNamespace, ev.PodName, ev.SandboxID, ev.ContainerID, now); late {
				return nil
			}
		}
	}
	o := e.o
	r := &o.rec
	if runtimeStart(ev) {
		e.ranSandbox = true
	}
	if r.Node == "" {
		r.Node = ev.Node
	}
	if ev.Source != noderuntime.SourceKubelet {
		r.Sandbox.Runtime = string(ev.Source)
		if ev.RuntimeVersion != "" {
			r.Sandbox.RuntimeVersion = ev.RuntimeVersion
		}
	}
	addSource(r, string(ev.Source))
	switch ev.Kind {
	case noderuntime.KindStaticPodSeen:
		r.Origin = podrecord.OriginStatic
		if ev.PodUID != "" && ev.PodUID != o.mirror {
			o.mirror = strings.Clone(ev.PodUID)
		}
	case noderuntime.KindSandboxRequested:
		c.addPullWaiter(ev.Node, e)
		if r.Sandbox.RequestedAt.IsZero() || ev.Time.Before(r.Sandbox.RequestedAt) {
			r.Sandbox.RequestedAt = ev.Time
		}
		if ev.Error != "" {
			r.Sandbox.Attempts++
			r.Sandbox.Error = strings.Clone(ev.Error)
		}
	case noderuntime.KindSandboxReady:
		c.addPullWaiter(ev.Node, e)
		if id := ev.SandboxID; id != "" {
			if i := slices.Index(o.sandboxes, id); i >= 0 {
				id = o.sandboxes[i]
			} else {
				id = strings.Clone(id)
				o.sandboxes = append(o.sandboxes, id)
			}
			if r.Sandbox.ID == "" {
				r.Sandbox.ID = id
			}
		}
		if r.Sandbox.ReadyAt.IsZero() {
			r.Sandbox.ReadyAt = ev.Time
		}
	case noderuntime.KindContainerCreated, noderuntime.KindContainerStarted:
		name := ev.ContainerName
		if name == "" {
			name = containerName(e, ev.ContainerID) // "StartContainer for <id>" names no container
		}
		if name == "" || name == "POD" || ev.ContainerID != "" && contains(o.sandboxes, ev.ContainerID) {
			break
		}
		ctr := podrecord.Container{Name: name, Image: ev.Image, ID: ev.ContainerID}
		if ev.Kind == noderuntime.KindContainerStarted {
			ctr.StartedAt = ev.Time
		}
		c.addContainer(e, ctr)
	case noderuntime.KindContainerFailed, noderuntime.KindImagePullFailed:
		name := ev.ContainerName
		if name == "" {
			name = containerName(e, ev.ContainerID)
		}
		if ev.Kind == noderuntime.KindImagePullFailed && ev.Image != "" {
			addPullFailure(r, podrecord.PullFailure{Image: ev.Image, Container: name, Error: ev.Error, Reason: ev.Reason})
		}
		if name == "" || name == "POD" || ev.ContainerID != "" && contains(o.sandboxes, ev.ContainerID) {
			break
		}
		// The image a pull failed for is the one the node tried, not
		// necessarily the spec's (a spec not known yet): it names the
		// container only when nothing else does.
		ctr := podrecord.Container{Name: name, ID: ev.ContainerID, Error: strings.Clone(ev.Error), Reason: strings.Clone(ev.Reason)}
		if ev.Kind == noderuntime.KindImagePullFailed {
			ctr.Image = ev.Image
		}
		c.addContainer(e, ctr)
	}
	c.index(e)
	c.touch(e)
	out := c.check(e)
	// Lines that named only ids of this pod and came before it was known.
	if c.orphans.n > 0 {
		for _, id := range o.sandboxes {
			out = c.replay(id, now, out)
		}
		for _, list := range [][]podrecord.Container{o.rec.Containers, o.nodeContainers} {
			for _, ctr := range list {
				out = c.replay(ctr.ID, now, out)
			}
		}
	}
	return out
}

// runtimeStart reports whether ev is a container runtime's (not the
// kubelet's) start of a pod sandbox: containerd's RunPodSandbox, CRI-O's
// Running pod sandbox, cri-dockerd's.
func runtimeStart(ev *noderuntime.Event) bool {
	return ev.Source != noderuntime.SourceKubelet && (ev.Kind == noderuntime.KindSandboxRequested || ev.Kind == noderuntime.KindSandboxReady)
}

func (c *Correlator) replay(id string, now time.Time, out []*podrecord.Record) []*podrecord.Record {
	if id == "" {
		return out
	}
	for _, o := range c.orphans.take(id) {
		out = append(out, c.addNode(o, now)...)
	}
	return out
}

func containerName(e *entry, id string) string {
	if id == "" {
		return ""
	}
	for _, list := range [][]podrecord.Container{e.o.rec.Containers, e.o.nodeContainers} {
		for _, c := range list {
			if c.ID == id {
				return c.Name
			}
		}
	}
	return ""
}

func (c *Correlator) addContainer(e *entry, ctr podrecord.Container) {
	if ctr.ID != "" && c.byCtr[ctr.ID] != e {
		ctr.ID = strings.Clone(ctr.ID) // the index's key and the record's id
		c.byCtr[ctr.ID] = e
	}
	o := e.o
	if !mergeContainer(&o.rec, ctr) {
		for i := range o.nodeContainers {
			if o.nodeContainers[i].Name == ctr.Name {
				fillContainer(&o.nodeContainers[i], ctr)
				return
			}
		}
		o.nodeContainers = append(o.nodeContainers, ctr)
	}
}

// mergeContainer fills the spec container of the same name; false when the
// spec has none (not known yet).
func mergeContainer(r *podrecord.Record, ctr podrecord.Container) bool {
	for i := range r.Containers {
		if r.Containers[i].Name == ctr.Name {
			fillContainer(&r.Containers[i], ctr)
			return true
		}
	}
	return false
}

func fillContainer(dst *podrecord.Container, src podrecord.Container) {
	if dst.ID == "" {
		dst.ID = src.ID
	}
	if dst.Image == "" {
		dst.Image = src.Image
	}
	if dst.StartedAt.IsZero() || !src.StartedAt.IsZero() && src.StartedAt.Before(dst.StartedAt) {
		if !src.StartedAt.IsZero() {
			dst.StartedAt = src.StartedAt
		}
	}
	if dst.Digest == "" && src.Digest != "" {
		dst.Digest, dst.DigestSource = src.Digest, src.DigestSource
	}
	if dst.ImageID == "" && src.ImageID != "" {
		dst.ImageID = src.ImageID
		if dst.DigestSource == "" {
			dst.DigestSource = src.DigestSource
		}
	}
	// The first failure is the cause (ErrImagePull before ImagePullBackOff,
	// a crash before CrashLoopBackOff); its reason if it stated none.
	if dst.Error == "" && src.Error != "" {
		dst.Error, dst.Reason = src.Error, src.Reason
	} else if dst.Reason == "" && src.Reason != "" {
		dst.Reason = src.Reason
	}
}

// addPullFailure records an image the node could not pull: once per
// container and image, the first failure's text (the registry's answer;
// the back-offs after it say less), at most podrecord.MaxPullFailures.
func addPullFailure(r *podrecord.Record, f podrecord.PullFailure) {
	for i := range r.PullFailures {
		p := &r.PullFailures[i]
		if p.Image == f.Image && (p.Container == f.Container || p.Container == "" || f.Container == "") {
			if p.Container == "" {
				p.Container = strings.Clone(f.Container)
			}
			if p.Error == "" {
				p.Error = strings.Clone(f.Error)
			}
			if p.Reason == "" {
				p.Reason = strings.Clone(f.Reason)
			}
			return
		}
	}
	if len(r.PullFailures) >= podrecord.MaxPullFailures {
		return
	}
	r.PullFailures = append(r.PullFailures, podrecord.PullFailure{Image: strings.Clone(f.Image), Container: strings.Clone(f.Container),
		Error: strings.Clone(f.Error), Reason: strings.Clone(f.Reason)})
}

// stripRuntime removes the containerd:// (cri-o://, docker://) prefix of a
// pod status container id.
func stripRuntime(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

// digestOf returns the sha256:... of an image reference pinned by digest or
// of a pod status imageID (docker.io/library/nginx@sha256:...,
// docker-pullable://...@sha256:...).
func digestOf(imageID string) string {
	if i := strings.LastIndex(imageID, "@sha256:"); i >= 0 {
		return imageID[i+1:]
	}
	return ""
}

// imageIDOf returns the sha256:<hex> of a pod status imageID that is an
// image id, not a repo digest (sha256:..., docker://sha256:...): an image
// without a repo digest.
func imageIDOf(imageID string) string {
	id := stripRuntime(imageID)
	if strings.HasPrefix(id, "sha256:") && len(id) > len("sha256:") {
		return id
	}
	return ""
}
