// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"path"
	"testing"

	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// The indexed record functions (nameindex.go) against the loops over every
// workload they replace, on the pack's inventory (generic and demo) and the
// demo and fixture records, each also renamed after every workload with a
// suffix, a typo, a homoglyph and a label.

func refResembles(ix *index, r *podrecord.Record) (first int, own bool) {
	name := podName(r)
	base := lookalike.BaseName(name)
	first = -1
	for i := range ix.workloads {
		w := &ix.workloads[i]
		if w.Resembles(name, base) {
			if first < 0 {
				first = i
			}
			if w.Owns(r) {
				return first, true
			}
		}
	}
	return first, false
}

func refHomoglyph(ix *index, r *podrecord.Record, own bool) any {
	name := podName(r)
	base := lookalike.BaseName(name)
	if name == "" || own {
		return none
	}
	full, baseSkel := lookalike.Skeleton(name), lookalike.Skeleton(base)
	for i := range ix.workloads {
		w := &ix.workloads[i]
		if base == w.Name || hasDashPrefix(name, w.Name) || len(w.Name) < 3 {
			continue
		}
		if baseSkel == w.skel || len(full) > len(w.skel) && full[:len(w.skel)] == w.skel && full[len(w.skel)] == '-' {
			if w.Owns(r) {
				return none
			}
			return w.idBox
		}
	}
	return none
}

func refLabelValue(ix *index, r *podrecord.Record, own bool) any {
	if len(r.Labels) == 0 || own {
		return none
	}
	for _, key := range identityLabels {
		v, ok := r.Labels[key]
		if !ok || len(v) < 3 {
			continue
		}
		for i := range ix.workloads {
			w := &ix.workloads[i]
			if len(w.Name) < 5 || v == w.Name {
				continue
			}
			if lookalike.NearMiss(v, w.Name) || lookalike.Confusable(v, w.Name) {
				if w.Owns(r) {
					return none
				}
				return w.idBox
			}
		}
	}
	return none
}

func refMismatch(ix *index, r *podrecord.Record) any {
	name := podName(r)
	base := lookalike.BaseName(name)
	if name == "" {
		return none
	}
	for i := range ix.workloads {
		w := &ix.workloads[i]
		if !w.inv || !w.Owns(r) || !w.Resembles(name, base) {
			continue
		}
		switch {
		case w.ServiceAccount != "" && r.ServiceAccount != w.ServiceAccount:
			return w.msgSA
		case !hasLabels(r.Labels, w.Labels):
			return w.msgLabels
		case w.NamePattern != "" && r.Name != "":
			if ok, _ := path.Match(w.NamePattern, r.Name); !ok {
				return w.msgName
			}
		}
	}
	return none
}

func TestNameIndexAgrees(t *testing.T) {
	e := loadPack(t)
	ix := e.index
	var recs []*podrecord.Record
	for _, r := range append(demoRecords(t), fixtureRecords(t)...) {
		recs = append(recs, r)
		for i := range ix.workloads {
			w := ix.workloads[i].Name
			for _, name := range []string{w + "-x7b2q", w[:len(w)-1] + "-x7b2q", "x" + w, w + "s-6d4cf56db6-x7b2q", lookalike.Skeleton(w) + "-debug",
				w[1:], w + "-" + w} {
				c := *r
				c.Name = name
				if c.Owner.Kind == "ReplicaSet" || c.Owner.Kind == "DaemonSet" {
					c.Owner.Name = w
				}
				c.Labels = map[string]string{"app": name, "k8s-app": w + "x"}
				recs = append(recs, &c)
			}
		}
	}
	for _, r := range recs {
		ev := &evaluator{gen: 1, rec: r}
		ni := ev.names(ix)
		first, own := refResembles(ix, r)
		if podName(r) == "" {
			continue
		}
		if ni.resembles != first || ni.own != own {
			t.Fatalf("%s/%s: indexed resembles %d own %v, loop %d %v", r.Namespace, r.Name, ni.resembles, ni.own, first, own)
		}
		if got, want := ix.homoglyphOf(r, ni, &ev.scratch), refHomoglyph(ix, r, own); got != want {
			t.Fatalf("%s/%s: homoglyphOf %v, loop %v", r.Namespace, r.Name, got, want)
		}
		if got, want := ix.workloadMismatch(r, ni), refMismatch(ix, r); got != want {
			t.Fatalf("%s/%s: workloadMismatch %v, loop %v", r.Namespace, r.Name, got, want)
		}
		if got, want := ix.labelValueLookalike(r, ni, &ev.scratch), refLabelValue(ix, r, own); got != want {
			t.Fatalf("%s/%s %v: labelValueLookalike %v, loop %v", r.Namespace, r.Name, r.Labels, got, want)
		}
	}
	t.Logf("%d records", len(recs))
}

// TestGlobSetAgrees: a globSet matches what matching each glob would.
func TestGlobSetAgrees(t *testing.T) {
	inv := packInventory(t)
	for _, ns := range inv.Namespaces {
		gs := compileRepoGlobs(ns.Images)
		set := newGlobSet(gs)
		for _, repo := range []string{"registry.k8s.io/pause", "registry.k8s.io/a/b", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/coredns",
			"123.dkr.ecr.eu-west-1.amazonaws.com/eks/coredns", "docker.io/rancher/klipper-lb", "docker.io/library/alpine", "quay.io/cilium/cilium",
			"ghcr.io/acme/cart", "ghcr.io/acme/x/y", "mcr.microsoft.com/oss/kubernetes/coredns"} {
			want := false
			for _, g := range gs {
				want = want || g.match(repo)
			}
			if got := set.match(repo); got != want {
				t.Errorf("%s: %s: %v, globs say %v", ns.Name, repo, got, want)
			}
			if len(ns.Images) > 0 {
				ok := false
				for _, p := range ns.Images {
					m, _ := path.Match(p, repo)
					ok = ok || m
				}
				if ok && !set.match(repo) {
					t.Errorf("%s: %s: path.Match matches, the set does not", ns.Name, repo)
				}
			}
		}
	}
}
