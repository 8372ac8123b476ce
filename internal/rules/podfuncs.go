// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"iter"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// index is what the record functions need from an inventory, computed once
// per compiled set so that evaluating a record allocates nothing.
type index struct {
	inv       *inventory.Inventory
	workloads []workload // the inventory's, then DefaultSystemWorkloads
	refs      []imageRef // the inventory's repositories, DefaultSystemImages, KnownRegistries
	known     map[string]bool
	ns        map[string]*inventory.Namespace
	// identities are the trusted identities and namespace creators without
	// wildcards: the names a lookalike username imitates.
	identities    []string
	identityBoxes []any
	// compiled globs, parallel to inv.Images, inv.Namespaces[].Creators,
	// inv.TrustedIdentities
	imageRepos []string // lower case
	imageGlobs []glob
	// the images entries by what decides them (deciding): exact
	// repositories, globs by their literal registry host, globs whose host
	// is a glob (an ECR account in any region)
	exactRepos   map[string][]int
	globsByHost  map[string][]int
	globsAnyHost []int
	creators     [][]glob
	trusted      []glob
	// image scopes the inventory declares: a namespace's images, the
	// inventory workloads with images (indexes into workloads)
	nsImages map[string]*globSet
	wlImages []int
	strict   bool
	names    nameIndex
	verdicts imageref.Memo[*imageVerdict]
	lineage  *lineage // lineage.go
}

// nameInfo is what the name functions share about one record's name,
// computed once per record (evaluator.names).
type nameInfo struct {
	gen        uint64
	name, base string
	// resembles is the first workload the name resembles, -1 for none;
	// own: a workload the name resembles owns the pod.
	resembles int
	own       bool
	// cands are the workloads the name resembles, ascending (the buffer
	// is kept from record to record)
	cands []int
}

type workload struct {
	inventory.Workload
	id, saID     string // namespace/name, namespace/service_account
	idBox, saBox any    // the same, boxed once (see podStr)
	// workloadMismatch's answers, boxed once
	msgSA, msgLabels, msgName any
	skel                      string
	inv                       bool // from the inventory, not a default
	images                    globSet
	nameKey, saKey            lookalike.NameKey // of Name, ServiceAccount (nearMissKnown)
	labels                    []labelPair
}

type labelPair struct{ k, v string }

type imageRef struct {
	repoRef
	name string // as the inventory or the default list writes it
	box  any    // name, boxed once
}

// none is the empty result of a string function, boxed without allocating.
var none any = ""

func newIndex(inv *inventory.Inventory) *index {
	ix := &index{inv: inv, known: map[string]bool{}, ns: map[string]*inventory.Namespace{}, nsImages: map[string]*globSet{},
		strict: inv.Strict, exactRepos: map[string][]int{}, globsByHost: map[string][]int{}, lineage: newLineage(inv)}
	add := func(w inventory.Workload, fromInv bool) {
		id, saID := w.Namespace+"/"+w.Name, w.Namespace+"/"+w.ServiceAccount
		ix.workloads = append(ix.workloads, workload{Workload: w, id: id, saID: saID, idBox: id, saBox: saID,
			skel: lookalike.Skeleton(w.Name), inv: fromInv, msgSA: id + ": service account is not " + w.ServiceAccount,
			msgLabels: id + ": lacks its labels", msgName: id + ": name outside " + w.NamePattern,
			images: newGlobSet(compileRepoGlobs(w.Images)), nameKey: lookalike.KeyOf(w.Name), saKey: lookalike.KeyOf(w.ServiceAccount), labels: pairsOf(w.Labels)})
		if len(w.Images) > 0 && fromInv {
			ix.wlImages = append(ix.wlImages, len(ix.workloads)-1)
		}
	}
	for _, w := range inv.Workloads {
		add(w, true)
		ix.known[w.Namespace] = true
	}
	for _, w := range inventory.DefaultSystemWorkloads {
		add(w, false)
	}
	ix.buildNames()
	seen := map[string]bool{}
	addRef := func(r string) {
		host, _, _ := strings.Cut(r, "/")
		if seen[r] || strings.ContainsAny(host, "*?[\\") {
			return // a registry host that is a glob (an ECR account in any region) has no lookalike
		}
		seen[r] = true
		ix.refs = append(ix.refs, imageRef{refOf(r), r, r})
	}
	for _, im := range inv.Images {
		addRef(im.Repository)
	}
	for _, r := range DefaultSystemImages {
		addRef(r)
	}
	for _, r := range KnownRegistries {
		addRef(r)
	}
	// The most specific reference is the one an image imitates: exact
	// repositories before globs and registries.
	sort.SliceStable(ix.refs, func(i, j int) bool { return !ix.refs[i].prefix && ix.refs[j].prefix })
	for _, n := range inv.SystemNamespaces {
		ix.known[n] = true
	}
	nsGlobs := map[string][]glob{}
	for i := range inv.Namespaces {
		n := &inv.Namespaces[i]
		ix.known[n.Name] = true
		if ix.ns[n.Name] == nil {
			ix.ns[n.Name] = n
		}
		if len(n.Images) > 0 {
			nsGlobs[n.Name] = append(nsGlobs[n.Name], compileRepoGlobs(n.Images)...)
		}
		for _, c := range n.Creators {
			if !strings.ContainsAny(c, "*?[") && !slices.Contains(ix.identities, c) {
				ix.identities = append(ix.identities, c)
			}
		}
	}
	for name, gs := range nsGlobs {
		set := newGlobSet(gs)
		ix.nsImages[name] = &set
	}
	for _, c := range inv.TrustedIdentities {
		if !strings.ContainsAny(c, "*?[") && !slices.Contains(ix.identities, c) {
			ix.identities = append(ix.identities, c)
		}
	}
	for _, id := range ix.identities {
		ix.identityBoxes = append(ix.identityBoxes, id)
	}
	for _, im := range inv.Images {
		// normalised by inventory.Decode; an Inventory built in code may not be
		repo, err := imageref.NormalizeRepository(im.Repository)
		if err != nil {
			repo = strings.ToLower(im.Repository)
		}
		i := len(ix.imageRepos)
		ix.imageRepos = append(ix.imageRepos, repo)
		ix.imageGlobs = append(ix.imageGlobs, compileGlob(repo))
		host, _, _ := strings.Cut(repo, "/")
		switch {
		case !strings.ContainsAny(repo, "*?[\\"):
			ix.exactRepos[repo] = append(ix.exactRepos[repo], i)
		case strings.ContainsAny(host, "*?[\\"):
			ix.globsAnyHost = append(ix.globsAnyHost, i)
		default:
			ix.globsByHost[host] = append(ix.globsByHost[host], i)
		}
	}
	for _, n := range inv.Namespaces {
		ix.creators = append(ix.creators, compileGlobs(n.Creators))
	}
	ix.trusted = compileGlobs(inv.TrustedIdentities)
	return ix
}

// resembles is inventory.Workload.Resembles with what the index knows of the
// workload's name.
func (w *workload) resembles(name, base string, baseKey lookalike.NameKey) bool {
	wn := w.Name
	if base == wn || name == wn || hasDashPrefix(name, wn) {
		return true
	}
	if w.NamePattern != "" {
		if ok, _ := path.Match(w.NamePattern, name); ok {
			return true
		}
	}
	return lookalike.NearMissKnown(base, baseKey, wn, w.nameKey)
}

// pairsOf lists a label map's pairs, sorted, so that checking a pod's
// labels against them iterates no map.
func pairsOf(m map[string]string) []labelPair {
	out := make([]labelPair, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, labelPair{k, m[k]})
	}
	return out
}

// hasPairs: have has every pair.
func hasPairs(have map[string]string, want []labelPair) bool {
	for _, p := range want {
		if v, ok := have[p.k]; !ok || v != p.v {
			return false
		}
	}
	return true
}

// compileRepoGlobs compiles repository globs, normalised (inventory.Decode
// did; an Inventory built in code may not have).
func compileRepoGlobs(repos []string) []glob {
	out := make([]glob, 0, len(repos))
	for _, r := range repos {
		if n, err := imageref.NormalizeRepository(r); err == nil {
			r = n
		}
		out = append(out, compileGlob(r))
	}
	return out
}

// names returns the name analysis of ev's record.
func (ev *evaluator) names(ix *index) *nameInfo {
	ni := &ev.nameCache
	if ni.gen == ev.gen && ev.gen != 0 {
		return ni
	}
	*ni = nameInfo{gen: ev.gen, name: podName(ev.rec), resembles: -1, cands: ni.cands[:0]}
	if ni.name == "" {
		return ni
	}
	ni.base = lookalike.BaseName(ni.name)
	// the workloads the name resembles (resembles): named as the base or
	// the name, a dash prefix of the name, matched by their name_pattern,
	// or a near miss of the base
	var buf [32]int
	c := append(buf[:0], ix.names.byName[ni.base]...)
	if ni.name != ni.base {
		c = append(c, ix.names.byName[ni.name]...)
	}
	c = ix.appendDashPrefixes(c, ni.name)
	for _, k := range ix.names.patterned {
		if ok, _ := path.Match(ix.workloads[k].NamePattern, ni.name); ok {
			c = append(c, k)
		}
	}
	c = ix.appendNear(c, ni.base, lookalike.KeyOf(ni.base))
	ni.resembles = lowest(c)
	ni.cands = appendSortedSet(ni.cands, c)
	for _, i := range c {
		if ix.workloads[i].Owns(ev.rec) {
			ni.own = true
			break
		}
	}
	return ni
}

func podName(r *podrecord.Record) string {
	if r.Name != "" {
		return r.Name
	}
	return r.GenerateName
}

// imitates is Inventory.Imitates returning a precomputed string.
func (ix *index) imitates(ni *nameInfo) any {
	if ni.resembles < 0 || ni.own {
		return none
	}
	return ix.workloads[ni.resembles].idBox
}

// homoglyphOf returns the workload whose name the pod's name (or its base)
// spells with lookalike characters: same skeleton, different letters.
func (ix *index) homoglyphOf(r *podrecord.Record, ni *nameInfo, scratch *[]byte) any {
	name, base := ni.name, ni.base
	if name == "" || ni.own {
		return none
	}
	buf := lookalike.AppendSkeleton((*scratch)[:0], name)
	nameSkel := len(buf)
	buf = lookalike.AppendSkeleton(buf, base)
	*scratch = buf
	full, baseSkel := buf[:nameSkel], buf[nameSkel:]
	// the workloads whose skeleton is the base's, or a dash prefix of the
	// name's; the first of them in inventory order that is not the pod's
	// own name
	var cb [16]int
	c := append(cb[:0], ix.names.bySkel[string(baseSkel)]...)
	for j := 0; j < len(full) && j <= ix.names.maxSkel; j++ {
		if full[j] == '-' {
			c = append(c, ix.names.bySkel[string(full[:j])]...)
		}
	}
	first := -1
	for _, i := range c {
		w := &ix.workloads[i]
		if base == w.Name || hasDashPrefix(name, w.Name) {
			continue
		}
		if first < 0 || i < first {
			first = i
		}
	}
	if first < 0 {
		return none
	}
	if w := &ix.workloads[first]; !w.Owns(r) {
		return w.idBox
	}
	return none
}

// similarWorkload returns the workload whose name the pod's base name is
// Jaro-Winkler similar to (≥ threshold) without being it or derived from it.
// Names shorter than 6 characters are left out: short names are all alike.
func (ix *index) similarWorkload(r *podrecord.Record, ni *nameInfo, threshold float64) any {
	name, base := ni.name, ni.base
	if name == "" || ni.own {
		return none
	}
	for i := range ix.workloads {
		w := &ix.workloads[i]
		if len(w.Name) < 6 || base == w.Name || hasDashPrefix(name, w.Name) || lookalike.MaxJaroWinkler(len(base), len(w.Name)) < threshold {
			continue
		}
		if lookalike.JaroWinkler(base, w.Name) >= threshold {
			if w.Owns(r) {
				return none
			}
			return w.idBox
		}
	}
	return none
}

// serviceAccountBorrowed returns the workload whose service account the pod
// runs as, in its namespace, without being one of its pods.
func (ix *index) serviceAccountBorrowed(r *podrecord.Record) any {
	sa := r.ServiceAccount
	if sa == "" || sa == "default" {
		return none
	}
	for _, i := range ix.names.byNS[r.Namespace] {
		w := &ix.workloads[i]
		if w.ServiceAccount == sa && !w.Owns(r) {
			if ix.ownedByAny(r, sa) {
				return none
			}
			return w.idBox
		}
	}
	return none
}

// ownedByAny: another workload with the same service account owns the pod.
func (ix *index) ownedByAny(r *podrecord.Record, sa string) bool {
	for _, i := range ix.names.byNS[r.Namespace] {
		w := &ix.workloads[i]
		if w.ServiceAccount == sa && w.Owns(r) {
			return true
		}
	}
	return false
}

// serviceAccountLookalike returns namespace/service-account of the known
// service account (of an inventory or system workload, in the pod's
// namespace) that the pod's service account is a near miss or homoglyph of.
func (ix *index) serviceAccountLookalike(r *podrecord.Record) any {
	sa := r.ServiceAccount
	if sa == "" || sa == "default" {
		return none
	}
	inNS := ix.names.byNS[r.Namespace]
	for _, i := range inNS {
		if w := &ix.workloads[i]; w.ServiceAccount == sa {
			return none
		}
	}
	saKey := lookalike.KeyOf(sa)
	for _, i := range inNS {
		w := &ix.workloads[i]
		if w.ServiceAccount == "" || len(w.ServiceAccount) < 4 {
			continue
		}
		if lookalike.NearMissKnown(sa, saKey, w.ServiceAccount, w.saKey) || lookalike.Confusable(sa, w.ServiceAccount) {
			return w.saBox
		}
	}
	return none
}

// labelMimicry returns the inventory workload, in the pod's namespace, whose
// selector labels the pod carries, all of them, without being its pod.
func (ix *index) labelMimicry(r *podrecord.Record) any {
	for _, i := range ix.names.byNS[r.Namespace] {
		w := &ix.workloads[i]
		if len(w.labels) == 0 || !hasPairs(r.Labels, w.labels) {
			continue
		}
		if !w.Owns(r) {
			return w.idBox
		}
	}
	return none
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// identityLabels are the label keys whose values name an application: the
// ones labelValueLookalike reads.
var identityLabels = []string{"k8s-app", "app", "app.kubernetes.io/name", "app.kubernetes.io/instance",
	"app.kubernetes.io/component", "component", "name"}

// labelValueLookalike returns the workload whose name the value of an
// identity label of the pod (k8s-app, app, app.kubernetes.io/name, ...: see
// identityLabels) is a near miss or homoglyph of (k8s-app=kube-pr0xy), when
// the pod is not that workload's.
func (ix *index) labelValueLookalike(r *podrecord.Record, ni *nameInfo, scratch *[]byte) any {
	if len(r.Labels) == 0 || ni.own {
		return none
	}
	for _, key := range identityLabels {
		v, ok := r.Labels[key]
		if !ok || len(v) < 3 {
			continue
		}
		// near misses, and names of the same skeleton (Confusable)
		var cb [16]int
		c := ix.appendNear(cb[:0], v, lookalike.KeyOf(v))
		if len(v) > lookalike.MaxConfusableBytes {
			lookalike.CountLongInput()
		} else {
			*scratch = lookalike.AppendSkeleton((*scratch)[:0], v)
			c = append(c, ix.names.bySkel[string(*scratch)]...)
		}
		first := -1
		for _, i := range c {
			if w := &ix.workloads[i]; len(w.Name) >= 5 && v != w.Name && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			if w := &ix.workloads[first]; !w.Owns(r) {
				return w.idBox
			}
			return none
		}
	}
	return none
}

// Deployment tools and the evidence they leave in a request.
var tools = []struct {
	name     string
	box      any
	claims   func(r *podrecord.Record) bool
	evidence []string // substrings of the user agent, field manager or managers
}{
	{"helm", "helm", func(r *podrecord.Record) bool {
		return strings.EqualFold(r.Labels["app.kubernetes.io/managed-by"], "Helm") || r.Annotations["meta.helm.sh/release-name"] != ""
	}, []string{"helm"}},
	{"argocd", "argocd", func(r *podrecord.Record) bool {
		return r.Labels["argocd.argoproj.io/instance"] != "" || r.Annotations["argocd.argoproj.io/tracking-id"] != ""
	}, []string{"argocd"}},
	{"flux", "flux", func(r *podrecord.Record) bool {
		return hasKeyPrefix(r.Labels, "kustomize.toolkit.fluxcd.io/") || hasKeyPrefix(r.Labels, "helm.toolkit.fluxcd.io/")
	}, []string{"kustomize-controller", "helm-controller", "flux"}},
}

// toolMimicry returns the deployment tool (helm, argocd, flux) whose labels
// or annotations a pod without an owner carries while nothing in the request
// (user agent, field manager, managedFields managers) came from that tool.
// Pods made by controllers inherit their template's labels and are skipped.
func (ix *index) toolMimicry(r *podrecord.Record) any {
	if r.Owner.Kind != "" {
		return none
	}
	for _, t := range tools {
		if !t.claims(r) {
			continue
		}
		seen := false
		for _, e := range t.evidence {
			if containsFold(r.UserAgent, e) || containsFold(r.FieldManager, e) || anyContainsFold(r.Managers, e) {
				seen = true
				break
			}
		}
		if !seen {
			return t.box
		}
	}
	return none
}

func hasKeyPrefix(m map[string]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// containsFold: s contains the lower-case ASCII substr, ignoring case.
func containsFold(s, substr string) bool {
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], substr) {
			return true
		}
	}
	return false
}

func anyContainsFold(ss []string, substr string) bool {
	for _, s := range ss {
		if containsFold(s, substr) {
			return true
		}
	}
	return false
}

// nameFitsOwner reports whether the pod's name is what its owner's
// controller would have made: <replicaset>-<5 random>, <daemonset>-<5
// random>, <job>-[<index>-]<5 random>, <statefulset>-<ordinal>,
// <static pod>-<node>. It also checks that the pod-template-hash and the
// DaemonSet's controller-revision-hash labels are hashes a controller makes
// (456789bcdf, 6–10 long) and that pod-template-hash ends the ReplicaSet's
// name. Pods without an owner, of other owner kinds, or whose name is not
// known (below the RequestResponse audit level) fit.
func nameFitsOwner(r *podrecord.Record) bool {
	name, owner := r.Name, r.Owner.Name
	if r.Owner.Kind == "" || name == "" {
		return true
	}
	switch r.Owner.Kind {
	case "ReplicaSet", "DaemonSet", "Job":
		if !generatedFrom(name, owner, r.Owner.Kind == "Job") {
			return false
		}
		if h, ok := r.Labels["pod-template-hash"]; ok && r.Owner.Kind == "ReplicaSet" {
			if !lookalike.ControllerSuffix(h, "hash") || !strings.HasSuffix(owner, h) || len(owner) <= len(h) || owner[len(owner)-len(h)-1] != '-' {
				return false
			}
		}
		if h, ok := r.Labels["controller-revision-hash"]; ok && r.Owner.Kind == "DaemonSet" {
			if i := strings.LastIndexByte(h, '-'); i >= 0 {
				h = h[i+1:]
			}
			if !lookalike.ControllerSuffix(h, "hash") {
				return false
			}
		}
		return true
	case "StatefulSet":
		return len(name) > len(owner)+1 && strings.HasPrefix(name, owner) && name[len(owner)] == '-' &&
			lookalike.ControllerSuffix(name[len(owner)+1:], "ordinal")
	case "Node":
		n := r.Node
		return n == "" || len(name) > len(n)+1 && strings.HasSuffix(name, n) && name[len(name)-len(n)-1] == '-'
	}
	return true
}

// generatedFrom: name is generateName <owner>- (cut to 58 characters by the
// apiserver) plus 5 random characters, with a Job's completion index before
// them when indexed.
func generatedFrom(name, owner string, indexed bool) bool {
	prefixLen := len(owner) + 1
	if prefixLen > lookalike.MaxGenerateNameBase {
		prefixLen = lookalike.MaxGenerateNameBase
	}
	if len(name) <= prefixLen {
		return false
	}
	if len(owner) >= prefixLen {
		if name[:prefixLen] != owner[:prefixLen] {
			return false
		}
	} else if name[:len(owner)] != owner || name[len(owner)] != '-' {
		return false
	}
	rest := name[prefixLen:]
	if lookalike.ControllerSuffix(rest, "random") {
		return true
	}
	if indexed {
		if i := strings.IndexByte(rest, '-'); i > 0 && lookalike.IsDigits(rest[:i]) {
			return lookalike.ControllerSuffix(rest[i+1:], "random")
		}
	}
	return false
}

// workloadMismatch returns "<namespace/name>: <what>" when the pod belongs to
// an inventory workload (owned by it and named after it) but runs with
// another service account, lacks its labels, or is named outside its
// name_pattern.
func (ix *index) workloadMismatch(r *podrecord.Record, ni *nameInfo) any {
	if ni.name == "" {
		return none
	}
	for _, i := range ni.cands { // the workloads the name resembles
		w := &ix.workloads[i]
		if !w.inv || !w.Owns(r) {
			continue
		}
		switch {
		case w.ServiceAccount != "" && r.ServiceAccount != w.ServiceAccount:
			return w.msgSA
		case !hasPairs(r.Labels, w.labels):
			return w.msgLabels
		case w.NamePattern != "" && r.Name != "":
			if ok, _ := path.Match(w.NamePattern, r.Name); !ok {
				return w.msgName
			}
		}
	}
	return none
}

// initiatorAllowed applies the namespace's creators and channels to the
// pod's initiator: who last created or changed the pod template of a
// controller-made pod's owner chain. Pods without an initiator, or whose
// initiator is a controller, node or system identity, are allowed.
func (ix *index) initiatorAllowed(r *podrecord.Record) bool {
	in := r.Initiator
	if in == nil || in.Kind != podrecord.ActorUser && in.Kind != podrecord.ActorServiceAccount {
		return true
	}
	for i := range ix.inv.Namespaces {
		ns := &ix.inv.Namespaces[i]
		if ns.Name != r.Namespace {
			continue
		}
		if len(ns.Channels) > 0 && !slices.Contains(ns.Channels, in.Channel) {
			return false
		}
		return len(ns.Creators) == 0 || matchAny(ix.creators[i], in.Username)
	}
	return !ix.strict || matchAny(ix.trusted, in.Username)
}

// knownNamespace: the namespace is a system namespace, has an approved
// workload, or has a namespaces entry.
func (ix *index) knownNamespace(r *podrecord.Record) bool { return ix.known[r.Namespace] }

// trustedIdentity: the actor's username matches a trusted_identities glob.
func (ix *index) trustedIdentity(r *podrecord.Record) bool {
	return matchAny(ix.trusted, r.Actor.Username)
}

// identityLookalike returns the trusted identity or namespace creator
// (without wildcards) whose username the actor's is a homoglyph of, or a near
// miss of when 8 characters or longer, without being trusted itself.
func (ix *index) identityLookalike(r *podrecord.Record) any {
	u := r.Actor.Username
	if u == "" || slices.Contains(ix.identities, u) || ix.trustedIdentity(r) {
		return none
	}
	for i, id := range ix.identities {
		if lookalike.Confusable(u, id) || len(id) >= 8 && lookalike.NearMiss(u, id) {
			return ix.identityBoxes[i]
		}
	}
	return none
}

// deciding yields the inventory entries that decide an image's repository:
// the exact entries when there are any, else the glob entries that match.
func (ix *index) deciding(repo string) iter.Seq[*inventory.Image] {
	return func(yield func(*inventory.Image) bool) {
		if exact := ix.exactRepos[repo]; len(exact) > 0 {
			for _, i := range exact {
				if !yield(&ix.inv.Images[i]) {
					return
				}
			}
			return
		}
		host := repo
		if j := strings.IndexByte(repo, '/'); j >= 0 {
			host = repo[:j]
		}
		for _, i := range ix.globsByHost[host] {
			if ix.imageGlobs[i].match(repo) && !yield(&ix.inv.Images[i]) {
				return
			}
		}
		for _, i := range ix.globsAnyHost {
			if ix.imageGlobs[i].match(repo) && !yield(&ix.inv.Images[i]) {
				return
			}
		}
	}
}

// approved is Inventory.ImageApproved on a parsed reference, with the
// compiled globs. A reference that does not parse is never approved.
func (ix *index) approved(ref ImageRef) bool {
	if !ref.Valid() {
		return false
	}
	for im := range ix.deciding(ref.Repository) {
		if im.Allows(ref) {
			return true
		}
	}
	return false
}

// creatorAllowed is Inventory.CreatorAllowed with the compiled globs.
func (ix *index) creatorAllowed(r *podrecord.Record) bool {
	for i := range ix.inv.Namespaces {
		ns := &ix.inv.Namespaces[i]
		if ns.Name != r.Namespace {
			continue
		}
		if len(ns.Channels) > 0 && !slices.Contains(ns.Channels, r.Channel) {
			return false
		}
		return len(ns.Creators) == 0 || matchAny(ix.creators[i], r.Actor.Username)
	}
	return !ix.strict || matchAny(ix.trusted, r.Actor.Username)
}

// imagesApproved: no container runs an image the inventory's declarations
// refuse (unapprovedImage).
func (ix *index) imagesApproved(r *podrecord.Record) bool { return ix.unapproved(r, 0) < 0 }

// unapproved returns the index of the first container from i on whose
// image the inventory does not approve where it declares something, -1
// for none. An image is unapproved when:
//
//   - images entries decide its repository (exact, else matching globs)
//     and none allows its tag or digest;
//   - the pod's namespace declares images, or an inventory workload that
//     owns the pod does, and its repository matches none of them (a
//     reference that does not parse matches none);
//   - nothing above declares anything about it and the inventory is strict.
//
// Otherwise it is not a finding: unknown is not unapproved. Containers
// whose image is not known ("") are skipped.
func (ix *index) unapproved(r *podrecord.Record, i int) int {
	var nsList, wlList *globSet
	scoped := false
	for ; i < len(r.Containers); i++ {
		image := r.Containers[i].Image
		if image == "" {
			continue
		}
		if !scoped {
			nsList, wlList, scoped = ix.scopeImages(r), ix.workloadImages(r), true
		}
		if !ix.imageAllowed(ix.verdict(image), nsList, wlList) {
			return i
		}
	}
	return -1
}

// scopeImages is the images list the pod's namespace declares, nil for
// none.
func (ix *index) scopeImages(r *podrecord.Record) *globSet { return ix.nsImages[r.Namespace] }

// workloadImages is the images list of the inventory workload that owns
// the pod, nil for none.
func (ix *index) workloadImages(r *podrecord.Record) *globSet {
	if r.Owner.Kind == "" {
		return nil
	}
	for _, k := range ix.wlImages {
		if w := &ix.workloads[k]; w.Owns(r) {
			return &w.images
		}
	}
	return nil
}

func (ix *index) imageAllowed(v *imageVerdict, nsList, wlList *globSet) bool {
	if v.declared && !v.approved {
		return false
	}
	if !nsList.empty() || !wlList.empty() {
		return v.ref.Valid() && (nsList.match(v.ref.Repository) || wlList.match(v.ref.Repository))
	}
	return v.declared || !ix.strict
}

// unapprovedImages lists the images imagesApproved refuses, comma-joined.
func (ix *index) unapprovedImages(r *podrecord.Record) string {
	first := ix.unapproved(r, 0)
	if first < 0 {
		return ""
	}
	next := ix.unapproved(r, first+1)
	if next < 0 {
		return r.Containers[first].Image
	}
	out := []string{r.Containers[first].Image}
	for ; next >= 0; next = ix.unapproved(r, next+1) {
		out = append(out, r.Containers[next].Image)
	}
	return strings.Join(out, ",")
}

// digestMismatch returns the first image pinned by a digest that the
// inventory entry deciding its repository does not list, when that entry
// lists digests: a rebuilt or swapped image behind an approved name.
func (ix *index) digestMismatch(r *podrecord.Record) string {
	for i := range r.Containers {
		image := r.Containers[i].Image
		ref := parseImage(image)
		if ref.Digest == "" || !ref.Valid() {
			continue
		}
		pinned, listed := false, false
		for im := range ix.deciding(ref.Repository) {
			if len(im.Digests) > 0 {
				pinned = true
				listed = listed || slices.Contains(im.Digests, ref.Digest)
			}
		}
		if pinned && !listed {
			return image
		}
	}
	return ""
}

// digestMissing returns the first image referenced by tag only where a
// digest is required: the namespace has require_digest, or the entry
// deciding its repository lists digests and no tags.
func (ix *index) digestMissing(r *podrecord.Record) string {
	nsRequires := false
	if ns := ix.ns[r.Namespace]; ns != nil {
		nsRequires = ns.RequireDigest
	}
	for i := range r.Containers {
		image := r.Containers[i].Image
		ref := parseImage(image)
		if ref.Digest != "" || !ref.Valid() {
			continue
		}
		if nsRequires {
			return image
		}
		for im := range ix.deciding(ref.Repository) {
			if len(im.Digests) > 0 && len(im.Tags) == 0 {
				return image
			}
		}
	}
	return ""
}

// unpinnedImage returns the first image that names no version: tag latest,
// written or implied, and no digest.
func (ix *index) unpinnedImage(r *podrecord.Record) string {
	for i := range r.Containers {
		ref := parseImage(r.Containers[i].Image)
		if ref.Valid() && ref.Digest == "" && ref.Tag == "latest" {
			return r.Containers[i].Image
		}
	}
	return ""
}

// imageLookalike returns the inventory repository, system image or known
// registry that image imitates (RepoLookalike), or "" when it imitates none
// or is approved.
func (ix *index) imageLookalike(image string) any { return ix.verdict(image).lookalike }

func (ix *index) podImageLookalike(r *podrecord.Record) any {
	for i := range r.Containers {
		if s := ix.imageLookalike(r.Containers[i].Image); s != none {
			return s
		}
	}
	return none
}

// imageFrom: the image's repository is one of prefixes (registries or
// repository paths) or under one.
func (ix *index) imageFrom(image string, prefixes *prefixSet) bool {
	ref := parseImage(image)
	return prefixes.match(ref.Registry, ref.Path)
}

// invalidImage returns the first image reference that does not parse
// (imageref): no runtime can pull it, and no inventory entry approves it.
// An empty reference (not known) is not invalid.
func (ix *index) invalidImage(r *podrecord.Record) string {
	for i := range r.Containers {
		if im := r.Containers[i].Image; im != "" && !parseImage(im).Valid() {
			return im
		}
	}
	return ""
}

func privileged(r *podrecord.Record) bool {
	for i := range r.Containers {
		if r.Containers[i].Privileged {
			return true
		}
	}
	return false
}
