// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Learner proposes an inventory from the records it observes: the
// workloads whose controllers made pods, the images they ran with the tags
// and digests seen, and who created pods in each namespace through which
// channel. It is learning mode: the proposal is written to a file for a
// person to review and copy into the inventory. Nothing it learns is ever
// applied by itself, so an attacker active while it learns cannot approve
// their own pod.
//
// Only allowed creates are learned; forbidden ones, and pods the node ran
// with no API create, are not.
type Learner struct {
	mu         sync.Mutex
	since      time.Time
	records    int
	workloads  map[string]Workload // by namespace/kind/name/service account
	images     map[string]*learnedImage
	namespaces map[string]*learnedNamespace
}

type learnedImage struct{ tags, digests map[string]struct{} }

type learnedNamespace struct{ creators, channels map[string]struct{} }

// NewLearner returns an empty Learner.
func NewLearner() *Learner {
	return &Learner{since: time.Now(), workloads: map[string]Workload{}, images: map[string]*learnedImage{},
		namespaces: map[string]*learnedNamespace{}}
}

// Observe learns from one record.
func (l *Learner) Observe(r *podrecord.Record) {
	if !r.Allowed || r.Origin == podrecord.OriginNodeOnly || r.Namespace == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records++
	if w, ok := learnedWorkload(r); ok {
		l.workloads[w.Namespace+"/"+w.Kind+"/"+w.Name+"/"+w.ServiceAccount] = w
	}
	for i := range r.Containers {
		c := &r.Containers[i]
		if c.Image == "" {
			continue
		}
		ref := imageref.Parse(c.Image)
		if !ref.Valid() {
			continue // no runtime pulls it: nothing to approve
		}
		im := l.images[ref.Repository]
		if im == nil {
			im = &learnedImage{tags: map[string]struct{}{}, digests: map[string]struct{}{}}
			l.images[ref.Repository] = im
		}
		if ref.Tag != "" {
			im.tags[ref.Tag] = struct{}{}
		}
		for _, d := range []string{ref.Digest, c.Digest} {
			if d != "" {
				im.digests[d] = struct{}{}
			}
		}
	}
	if r.Origin == podrecord.OriginStatic {
		return // the kubelet, not a creator
	}
	ns := l.namespaces[r.Namespace]
	if ns == nil {
		ns = &learnedNamespace{creators: map[string]struct{}{}, channels: map[string]struct{}{}}
		l.namespaces[r.Namespace] = ns
	}
	if r.Actor.Username != "" {
		ns.creators[r.Actor.Username] = struct{}{}
	}
	if r.Channel != "" {
		ns.channels[r.Channel] = struct{}{}
	}
}

// learnedWorkload is the workload at the top of the pod's owner chain
// (Deployment above its ReplicaSet, CronJob above its Job), or the static
// pod's name without its node suffix. A pod with no owner is no workload.
func learnedWorkload(r *podrecord.Record) (Workload, bool) {
	if r.Origin == podrecord.OriginStatic {
		if r.Node != "" && strings.HasSuffix(r.Name, "-"+r.Node) {
			return Workload{Namespace: r.Namespace, Name: strings.TrimSuffix(r.Name, "-"+r.Node), Kind: "Node"}, true
		}
		return Workload{}, false
	}
	kind, name := r.Owner.Kind, r.Owner.Name
	if n := len(r.Chain); n > 0 {
		if k, nm, ok := strings.Cut(r.Chain[n-1], "/"); ok {
			kind, name = k, nm
		}
	}
	{
		// The chain stops at the pod's owner (the audit event alone, or the
		// Deployment made before podtrail started): a ReplicaSet named
		// <deployment>-<pod-template-hash> is a Deployment's, a Job named
		// <cronjob>-<schedule time> a CronJob's.
		switch h := r.Labels["pod-template-hash"]; {
		case kind == "ReplicaSet" && h != "" && strings.HasSuffix(name, "-"+h):
			kind, name = "Deployment", strings.TrimSuffix(name, "-"+h)
		case kind == "ReplicaSet" && h == "":
			if i := strings.LastIndexByte(name, '-'); i > 0 && lookalike.ControllerSuffix(name[i+1:], "hash") {
				kind, name = "Deployment", name[:i]
			}
		case kind == "Job":
			if i := strings.LastIndexByte(name, '-'); i > 0 && lookalike.ControllerSuffix(name[i+1:], "schedule") {
				kind, name = "CronJob", name[:i]
			}
		}
	}
	if kind == "" || name == "" {
		return Workload{}, false
	}
	return Workload{Namespace: r.Namespace, Name: name, Kind: kind, ServiceAccount: r.ServiceAccount}, true
}

// Proposal returns the learned inventory: sorted, each list without
// duplicates, system namespaces those of base (or the default).
func (l *Learner) Proposal(base *Inventory) *Inventory {
	l.mu.Lock()
	defer l.mu.Unlock()
	inv := &Inventory{}
	if base != nil {
		inv.SystemNamespaces = slices.Clone(base.SystemNamespaces)
		inv.TrustedIdentities = slices.Clone(base.TrustedIdentities)
	}
	for _, k := range slices.Sorted(maps.Keys(l.workloads)) {
		inv.Workloads = append(inv.Workloads, l.workloads[k])
	}
	for _, repo := range slices.Sorted(maps.Keys(l.images)) {
		im := l.images[repo]
		inv.Images = append(inv.Images, Image{Repository: repo, Tags: slices.Sorted(maps.Keys(im.tags)),
			Digests: slices.Sorted(maps.Keys(im.digests))})
	}
	for _, name := range slices.Sorted(maps.Keys(l.namespaces)) {
		ns := l.namespaces[name]
		inv.Namespaces = append(inv.Namespaces, Namespace{Name: name, Creators: slices.Sorted(maps.Keys(ns.creators)),
			Channels: slices.Sorted(maps.Keys(ns.channels))})
	}
	return inv
}

// WriteFile writes the proposal to file, replacing it atomically (a
// temporary file renamed over it), headed by a comment that says what it is
// and from how many records it was learned. The result loads with
// Load.
func (l *Learner) WriteFile(file string, base *Inventory) error {
	inv := l.Proposal(base)
	l.mu.Lock()
	records, since := l.records, l.since
	l.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# podtrail inventory PROPOSAL, learned from %d pod-creation records since %s.\n", records, since.UTC().Format(time.RFC3339))
	b.WriteString("# Not applied: review every entry (an attacker active while it learned is in it too),\n")
	b.WriteString("# then copy what you approve into the inventory file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
