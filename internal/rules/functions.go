// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"

	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// The functions rules call. Each is declared to expr with its real signature
// (so that a wrong argument fails at load), and can be bound at compile time
// to the constant arguments of a call site: fastpath.go rewrites a call whose
// arguments after the first are constants (literals and lists) into a call of
// the bound implementation, which parses CIDRs, checks globs and lowers
// lists once, and runs without expr's reflection or boxing.

type retKind int

const (
	retBool retKind = iota
	retString
	retInt
	retFloat
	retOther // not rewritten: the generic call returns a struct
)

// impl is a bound function: a is the first argument (nil when it is the
// record, which ev.rec holds). Exactly one of b, s, x is set, after ret.
type impl struct {
	b func(ev *evaluator, a any) bool
	s func(ev *evaluator, a any) string
	x func(ev *evaluator, a any) any
}

type function struct {
	name  string
	types []any // overloads, as expr.Function takes them
	ret   retKind
	// bind binds the constant arguments c (the arguments after the first);
	// pod tells whether the first argument is the record.
	bind func(ix *index, c []any, pod bool) (impl, error)
	doc  string
}

var recordType = reflect.TypeOf(podrecord.Record{})

// podBool declares a record function returning bool.
func podBool(name, doc string, f func(ix *index, ev *evaluator) bool) *function {
	return &function{name: name, ret: retBool, doc: doc, types: []any{new(func(podrecord.Record) bool)},
		bind: func(ix *index, _ []any, _ bool) (impl, error) {
			return impl{b: func(ev *evaluator, _ any) bool { return f(ix, ev) }}, nil
		}}
}

// podStr declares a record function returning a string. f returns it boxed:
// the strings come from the inventory index, boxed once when it was built, or
// from the record, boxed once per record (the result is memoized), so that
// expr's VM does not box them again on every call.
func podStr(name, doc string, f func(ix *index, ev *evaluator) any) *function {
	return &function{name: name, ret: retString, doc: doc, types: []any{new(func(podrecord.Record) string)},
		bind: func(ix *index, _ []any, _ bool) (impl, error) {
			return impl{x: func(ev *evaluator, _ any) any { return f(ix, ev) }}, nil
		}}
}

// podRecStr declares a record function returning a string taken from the
// record (an image reference), which the evaluator boxes once per record.
func podRecStr(name, doc string, f func(ix *index, ev *evaluator) string) *function {
	return &function{name: name, ret: retString, doc: doc, types: []any{new(func(podrecord.Record) string)},
		bind: func(ix *index, _ []any, _ bool) (impl, error) {
			return impl{s: func(ev *evaluator, _ any) string { return f(ix, ev) }}, nil
		}}
}

func newFunctions() []*function {
	fs := []*function{
		// record functions
		podStr("imitates", "namespace/name of the approved or system workload whose pods the pod's name imitates (is, derives from, matches the name_pattern of, or is 1–2 edits from) without being owned by it; \"\" if none",
			func(ix *index, ev *evaluator) any { return ix.imitates(ev.names(ix)) }),
		podStr("homoglyphOf", "namespace/name of the workload whose name the pod's name spells with lookalike characters (same skeleton, other letters: kube-pr0xy, c0redns-debug)",
			func(ix *index, ev *evaluator) any { return ix.homoglyphOf(ev.rec, ev.names(ix), &ev.scratch) }),
		podBool("creatorAllowed", "the namespace's creators globs and channels allow the actor and channel (namespaces without an entry allow all, or only trusted identities when the inventory is strict)",
			func(ix *index, ev *evaluator) bool { return ix.creatorAllowed(ev.rec) }),
		podBool("initiatorAllowed", "the namespace's creators and channels allow the initiator (who last changed the owner's pod template) of a controller-made pod; pods without a person or service account as initiator are allowed",
			func(ix *index, ev *evaluator) bool { return ix.initiatorAllowed(ev.rec) }),
		podBool("trustedIdentity", "the actor's username matches an inventory trusted_identities glob",
			func(ix *index, ev *evaluator) bool { return ix.trustedIdentity(ev.rec) }),
		podStr("identityLookalike", "the trusted identity or namespace creator the actor's username imitates (homoglyph, or 1–2 edits from one of 8+ characters)",
			func(ix *index, ev *evaluator) any { return ix.identityLookalike(ev.rec) }),
		podBool("knownNamespace", "the namespace is a system namespace, has an approved workload or a namespaces entry",
			func(ix *index, ev *evaluator) bool { return ix.knownNamespace(ev.rec) }),
		podBool("imagesApproved", "no container runs an image the inventory's declarations refuse: its repository's images entries do not allow its tag or digest, or it is outside the namespace's or the owning workload's images; an image nothing declares is approved unless the inventory is strict",
			func(ix *index, ev *evaluator) bool { return ix.imagesApproved(ev.rec) }),
		podRecStr("unapprovedImages", "the images imagesApproved refuses, comma-joined; \"\" for none",
			func(ix *index, ev *evaluator) string { return ix.unapprovedImages(ev.rec) }),
		podRecStr("digestMismatch", "the first image pinned by a digest that its (digest-listing) inventory entry does not list",
			func(ix *index, ev *evaluator) string { return ix.digestMismatch(ev.rec) }),
		podRecStr("digestMissing", "the first tag-only image where a digest is required (namespace require_digest, or an entry with digests and no tags)",
			func(ix *index, ev *evaluator) string { return ix.digestMissing(ev.rec) }),
		podRecStr("invalidImage", "the first image reference that does not parse (upper case in the path, a malformed digest, a character no registry allows): no runtime pulls it and no inventory entry approves it; image(ref).invalid says why",
			func(ix *index, ev *evaluator) string { return ix.invalidImage(ev.rec) }),
		podRecStr("unpinnedImage", "the first image with tag latest (written or implied) and no digest",
			func(ix *index, ev *evaluator) string { return ix.unpinnedImage(ev.rec) }),
		podRecStr("imageList", "the pod's images, in spec order, joined by commas",
			func(_ *index, ev *evaluator) string { return strings.Join(ev.rec.Images(), ",") }),
		podBool("privileged", "a container of the pod is privileged",
			func(_ *index, ev *evaluator) bool { return privileged(ev.rec) }),
		podStr("serviceAccountBorrowed", "namespace/name of the workload whose service account the pod runs as without being its pod",
			func(ix *index, ev *evaluator) any { return ix.serviceAccountBorrowed(ev.rec) }),
		podStr("serviceAccountLookalike", "namespace/name of the known service account the pod's is a near miss or homoglyph of",
			func(ix *index, ev *evaluator) any { return ix.serviceAccountLookalike(ev.rec) }),
		podStr("labelMimicry", "namespace/name of the inventory workload whose labels (all of them) the pod carries without being its pod",
			func(ix *index, ev *evaluator) any { return ix.labelMimicry(ev.rec) }),
		podStr("labelValueLookalike", "namespace/name of the workload whose name the value of an identity label (k8s-app, app, app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component, component, name) is a near miss or homoglyph of",
			func(ix *index, ev *evaluator) any { return ix.labelValueLookalike(ev.rec, ev.names(ix), &ev.scratch) }),
		podStr("toolMimicry", "helm, argocd or flux when a pod without an owner carries that tool's labels or annotations but the request shows no sign of it",
			func(ix *index, ev *evaluator) any { return ix.toolMimicry(ev.rec) }),
		podBool("nameFitsOwner", "the pod's name is what its owner's controller makes (<rs>-<5>, <ds>-<5>, <job>-<5>, <sts>-<n>, <static>-<node>) and its template hashes are well formed",
			func(_ *index, ev *evaluator) bool { return nameFitsOwner(ev.rec) }),
		podStr("workloadMismatch", "\"namespace/name: what\" when the pod belongs to an inventory workload but runs with another service account, lacks its labels or is named outside its name_pattern",
			func(ix *index, ev *evaluator) any { return ix.workloadMismatch(ev.rec, ev.names(ix)) }),
		{
			name: "staticPodOf", ret: retBool,
			doc:   "the pod is the mirror pod of one of the named static pods: its name is <name>-<node>",
			types: []any{new(func(podrecord.Record, []any) bool), new(func(podrecord.Record, []string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				names, err := stringsArg(c, 0, "names")
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(ev *evaluator, _ any) bool {
					r := ev.rec
					n := len(r.Name) - len(r.Node) - 1
					if r.Node == "" || n <= 0 || r.Name[n] != '-' || r.Name[n+1:] != r.Node {
						return false
					}
					return slices.Contains(names, r.Name[:n])
				}}, nil
			},
		},
		{
			name: "similarWorkload", ret: retString,
			doc:   "namespace/name of the workload (name of 6+ characters) whose name the pod's base name is Jaro-Winkler similar to, at least threshold, without being it or derived from it",
			types: []any{new(func(podrecord.Record, float64) string)},
			bind: func(ix *index, c []any, _ bool) (impl, error) {
				t, err := floatArg(c, 0, "threshold")
				if err != nil {
					return impl{}, err
				}
				return impl{x: func(ev *evaluator, _ any) any { return ix.similarWorkload(ev.rec, ev.names(ix), t) }}, nil
			},
		},
		{
			name: "allImagesFrom", ret: retBool,
			doc:   "every container's image repository is one of the registries or repository prefixes, or under one",
			types: []any{new(func(podrecord.Record, []any) bool), new(func(podrecord.Record, []string) bool)},
			bind: func(ix *index, c []any, _ bool) (impl, error) {
				ps, err := prefixesArg(c, 0)
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(ev *evaluator, _ any) bool {
					for i := range ev.rec.Containers {
						if !ix.imageFrom(ev.rec.Containers[i].Image, ps) {
							return false
						}
					}
					return true
				}}, nil
			},
		},
		{
			name: "imageLookalike", ret: retString,
			doc:   "the inventory repository, system image or known registry an image (or, given pod, any container's image) imitates without being approved (repoLookalike); \"\" if none",
			types: []any{new(func(string) string), new(func(podrecord.Record) string)},
			bind: func(ix *index, _ []any, pod bool) (impl, error) {
				if pod {
					return impl{x: func(ev *evaluator, _ any) any { return ix.podImageLookalike(ev.rec) }}, nil
				}
				return impl{x: func(_ *evaluator, a any) any { return ix.imageLookalike(a.(string)) }}, nil
			},
		},

		// images
		strFn("imageApproved", "the inventory approves the image: a repository entry matches (exact entries before globs) and allows its tag or digest",
			retBool, func(ix *index, s string) any { return ix.approved(parseImage(s)) }),
		{
			name: "imageFrom", ret: retBool,
			doc:   "the image's repository is one of the registries or repository prefixes, or under one",
			types: []any{new(func(string, []any) bool), new(func(string, []string) bool), new(func(string, string) bool)},
			bind: func(ix *index, c []any, _ bool) (impl, error) {
				ps, err := prefixesArg(c, 0)
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(_ *evaluator, a any) bool { return ix.imageFrom(a.(string), ps) }}, nil
			},
		},
		{
			name: "repoLookalike", ret: retBool,
			doc:   "the image imitates one of the references (exact repositories or globs such as ghcr.io/acme/*): lookalike registry host, same image name elsewhere, or a near-miss, homoglyph or decorated organisation on the same registry",
			types: []any{new(func(string, string) bool), new(func(string, []any) bool), new(func(string, []string) bool)},
			bind: func(ix *index, c []any, _ bool) (impl, error) {
				refs, err := stringsArg(c, 0, "references")
				if err != nil {
					return impl{}, err
				}
				rs := make([]repoRef, len(refs))
				for i, r := range refs {
					rs[i] = refOf(r)
				}
				return impl{b: func(_ *evaluator, a any) bool {
					repo := parseImage(a.(string)).Repository
					parts := partsOf(repo)
					for i := range rs {
						if repoLookalike(repo, &parts, &rs[i]) {
							return true
						}
					}
					return false
				}}, nil
			},
		},

		// names
		strFn("baseName", "the name without what controllers append: kube-proxy-x7b2q → kube-proxy, web-796cf5c97c-kx68n → web",
			retString, func(_ *index, s string) any { return lookalike.BaseName(s) }),
		strFn("isControllerSuffix", "every character is of the generated-name alphabet bcdfghjklmnpqrstvwxz2456789",
			retBool, func(_ *index, s string) any { return lookalike.IsControllerSuffix(s) }),
		strFn("hasGeneratedSuffix", "the name ends in -<5 characters of the generated-name alphabet>",
			retBool, func(_ *index, s string) any { return lookalike.HasGeneratedSuffix(s) }),
		{
			name: "controllerSuffix", ret: retBool,
			doc:   "s is what a controller of kind appends: random|pod|DaemonSet|Job (5 of the alphabet), hash|ReplicaSet|Deployment (6–10 of 456789bcdf), ordinal|StatefulSet, schedule|CronJob (8+ digits)",
			types: []any{new(func(string, string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				kind, err := stringArg(c, 0, "kind")
				if err != nil {
					return impl{}, err
				}
				if !slices.Contains(suffixKinds, kind) {
					return impl{}, fmt.Errorf("unknown kind %q (one of %s)", kind, strings.Join(suffixKinds, ", "))
				}
				return impl{b: func(_ *evaluator, a any) bool { return lookalike.ControllerSuffix(a.(string), kind) }}, nil
			},
		},
		strFn("skeleton", "the confusable skeleton (partial UTS #39, case folded): equal skeletons read alike",
			retString, func(_ *index, s string) any { return lookalike.Skeleton(s) }),
		strFn("mixedScript", "the letters come from more than one script (Latin and Cyrillic, ...)",
			retBool, func(_ *index, s string) any { return lookalike.MixedScript(s) }),
		{
			name: "confusable", ret: retBool,
			doc:   "a and b differ but have the same skeleton",
			types: []any{new(func(string, string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				b, err := stringArg(c, 0, "b")
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(_ *evaluator, a any) bool { return lookalike.Confusable(a.(string), b) }}, nil
			},
		},
		{
			name: "confusableAny", ret: retBool,
			doc:   "s is confusable with one of names",
			types: []any{new(func(string, []any) bool), new(func(string, []string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				names, err := stringsArg(c, 0, "names")
				if err != nil {
					return impl{}, err
				}
				skels := make([]string, len(names))
				for i, n := range names {
					skels[i] = lookalike.Skeleton(n)
				}
				return impl{b: func(ev *evaluator, a any) bool {
					s := a.(string)
					ev.scratch = lookalike.AppendSkeleton(ev.scratch[:0], s)
					for i, k := range skels {
						if string(ev.scratch) == k && s != names[i] {
							return true
						}
					}
					return false
				}}, nil
			},
		},
		{
			name: "distance", ret: retInt,
			doc:   "optimal-string-alignment Damerau-Levenshtein distance: edits, counting a swap of neighbours as one",
			types: []any{new(func(string, string) int)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				b, err := stringArg(c, 0, "b")
				if err != nil {
					return impl{}, err
				}
				return impl{x: func(_ *evaluator, a any) any { return lookalike.Distance(a.(string), b) }}, nil
			},
		},
		{
			name: "jaroWinkler", ret: retFloat,
			doc:   "Jaro-Winkler similarity, 0 to 1",
			types: []any{new(func(string, string) float64)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				b, err := stringArg(c, 0, "b")
				if err != nil {
					return impl{}, err
				}
				return impl{x: func(_ *evaluator, a any) any { return lookalike.JaroWinkler(a.(string), b) }}, nil
			},
		},
		{
			name: "nearAny", ret: retBool,
			doc:   "s is 1 to maxDistance edits (distance) from one of names; equal is not near",
			types: []any{new(func(string, []any, int) bool), new(func(string, []string, int) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				names, err := stringsArg(c, 0, "names")
				if err != nil {
					return impl{}, err
				}
				maxD, err := intArg(c, 1, "maxDistance")
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(_ *evaluator, a any) bool {
					s := a.(string)
					for _, n := range names {
						if s != n && lookalike.WithinDistance(s, n, maxD) {
							return true
						}
					}
					return false
				}}, nil
			},
		},
		{
			name: "similarAny", ret: retBool,
			doc:   "s differs from one of names but is Jaro-Winkler similar to it, at least minScore",
			types: []any{new(func(string, []any, float64) bool), new(func(string, []string, float64) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				names, err := stringsArg(c, 0, "names")
				if err != nil {
					return impl{}, err
				}
				t, err := floatArg(c, 1, "minScore")
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(_ *evaluator, a any) bool {
					s := a.(string)
					for _, n := range names {
						if s != n && lookalike.MaxJaroWinkler(len(s), len(n)) >= t && lookalike.JaroWinkler(s, n) >= t {
							return true
						}
					}
					return false
				}}, nil
			},
		},
		{
			name: "nearest", ret: retString,
			doc:   "the name most Jaro-Winkler similar to s (the first on ties); \"\" for no names",
			types: []any{new(func(string, []any) string), new(func(string, []string) string)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				names, err := stringsArg(c, 0, "names")
				if err != nil {
					return impl{}, err
				}
				return impl{s: func(_ *evaluator, a any) string {
					best, score := "", -1.0
					for _, n := range names {
						if j := lookalike.JaroWinkler(a.(string), n); j > score {
							best, score = n, j
						}
					}
					return best
				}}, nil
			},
		},

		// matching
		{
			name: "intersects", ret: retBool,
			doc:   "the list (pod.actor.groups, pod.source_ips) has one of the values",
			types: []any{new(func([]string, []any) bool), new(func([]string, []string) bool), new(func([]string, string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				vals, err := stringsArg(c, 0, "values")
				if err != nil {
					return impl{}, err
				}
				return impl{b: func(_ *evaluator, a any) bool {
					l, _ := a.([]string)
					for _, x := range l {
						if slices.Contains(vals, x) {
							return true
						}
					}
					return false
				}}, nil
			},
		},
		{
			name: "glob", ret: retBool,
			doc:   "s matches the glob pattern, or one of the patterns (path.Match: * and ? do not cross /, [a-z] classes); patterns are checked at load",
			types: []any{new(func(string, string) bool), new(func(string, []any) bool), new(func(string, []string) bool)},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				ps, err := stringsArg(c, 0, "patterns")
				if err != nil {
					return impl{}, err
				}
				for _, p := range ps {
					if !validGlob(p) {
						return impl{}, fmt.Errorf("bad pattern %q", p)
					}
				}
				return impl{b: func(_ *evaluator, a any) bool {
					for _, p := range ps {
						if ok, _ := path.Match(p, a.(string)); ok {
							return true
						}
					}
					return false
				}}, nil
			},
		},
		{
			name: "cidrMatch", ret: retBool,
			doc: "the IP address (or one of the addresses, such as pod.source_ips) is in the CIDR (or one of the CIDRs); CIDRs are parsed at load, IPv4-mapped IPv6 addresses count as IPv4",
			types: []any{
				new(func(string, string) bool), new(func(string, []any) bool), new(func(string, []string) bool),
				new(func([]string, string) bool), new(func([]string, []any) bool), new(func([]string, []string) bool),
			},
			bind: func(_ *index, c []any, _ bool) (impl, error) {
				cs, err := stringsArg(c, 0, "cidrs")
				if err != nil {
					return impl{}, err
				}
				prefixes := make([]netip.Prefix, len(cs))
				for i, s := range cs {
					p, err := netip.ParsePrefix(s)
					if err != nil {
						return impl{}, fmt.Errorf("bad CIDR %q", s)
					}
					prefixes[i] = p.Masked()
				}
				return impl{b: func(_ *evaluator, a any) bool {
					switch ip := a.(type) {
					case string:
						return inPrefixes(ip, prefixes)
					case []string:
						for _, s := range ip {
							if inPrefixes(s, prefixes) {
								return true
							}
						}
					}
					return false
				}}, nil
			},
		},
	}
	fs = append(fs, lineageFunctions()...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	return fs
}

var suffixKinds = []string{"random", "pod", "generateName", "DaemonSet", "Job", "hash", "ReplicaSet", "Deployment",
	"ControllerRevision", "ordinal", "StatefulSet", "schedule", "CronJob"}

func strFn(name, doc string, ret retKind, f func(ix *index, s string) any) *function {
	fn := &function{name: name, ret: ret, doc: doc}
	switch ret {
	case retBool:
		fn.types = []any{new(func(string) bool)}
		fn.bind = func(ix *index, _ []any, _ bool) (impl, error) {
			return impl{b: func(_ *evaluator, a any) bool { return f(ix, a.(string)).(bool) }}, nil
		}
	case retString:
		fn.types = []any{new(func(string) string)}
		fn.bind = func(ix *index, _ []any, _ bool) (impl, error) {
			return impl{x: func(_ *evaluator, a any) any { return f(ix, a.(string)) }}, nil
		}
	}
	return fn
}

func inPrefixes(s string, prefixes []netip.Prefix) bool {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Constant arguments, as the fast path extracts them or as the generic
// call receives them.

func stringArg(c []any, i int, what string) (string, error) {
	if i < len(c) {
		if s, ok := c[i].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s must be a string", what)
}

func stringsArg(c []any, i int, what string) ([]string, error) {
	if i >= len(c) {
		return nil, fmt.Errorf("%s missing", what)
	}
	switch v := c[i].(type) {
	case string:
		return []string{v}, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, len(v))
		for j, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s must be strings, not %T", what, x)
			}
			out[j] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or a list of strings", what)
}

// prefixesArg: registries or repository prefixes, normalised (a trailing
// /* or / is accepted; rancher/mirrored is on docker.io), the host
// possibly a glob (registryPrefix), by host.
func prefixesArg(c []any, i int) (*prefixSet, error) {
	ps, err := stringsArg(c, i, "registries")
	if err != nil {
		return nil, err
	}
	out := make([]registryPrefix, len(ps))
	for j, p := range ps {
		if out[j], err = newRegistryPrefix(p); err != nil {
			return nil, err
		}
	}
	set := newPrefixSet(out)
	return &set, nil
}

func intArg(c []any, i int, what string) (int, error) {
	if i < len(c) {
		switch v := c[i].(type) {
		case int:
			return v, nil
		case float64:
			if v == float64(int(v)) {
				return int(v), nil
			}
		}
	}
	return 0, fmt.Errorf("%s must be an integer", what)
}

func floatArg(c []any, i int, what string) (float64, error) {
	if i < len(c) {
		switch v := c[i].(type) {
		case int:
			return float64(v), nil
		case float64:
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s must be a number", what)
}

// exprFunctions declares every function to expr for type checking, with a
// generic implementation for the calls the fast path does not rewrite (a
// second argument that is not a constant): it binds on every call.
func exprFunctions(ix *index, fns []*function) []expr.Option {
	opts := make([]expr.Option, 0, len(fns)+1)
	for _, f := range fns {
		f := f
		opts = append(opts, expr.Function(f.name, func(params ...any) (any, error) {
			if len(params) == 0 {
				return nil, fmt.Errorf("%s: no arguments", f.name)
			}
			ev := &evaluator{gen: 1}
			var a any = params[0]
			pod := false
			if r, ok := params[0].(podrecord.Record); ok {
				ev.rec, a, pod = &r, nil, true
			}
			im, err := f.bind(ix, params[1:], pod)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			switch {
			case im.b != nil:
				return im.b(ev, a), nil
			case im.s != nil:
				return im.s(ev, a), nil
			default:
				return im.x(ev, a), nil
			}
		}, f.types...))
	}
	opts = append(opts, expr.Function("image",
		func(params ...any) (any, error) { return ParseImage(params[0].(string)), nil },
		new(func(string) ImageRef)))
	return opts
}

// LongInputs is how many calls of the rule functions' distance, similarity
// and confusable comparisons (in this process, any Engine) met a string
// longer than they compare: lookalike.LongInputs.
func LongInputs() uint64 { return lookalike.LongInputs() }
