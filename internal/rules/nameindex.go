// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"strings"

	"github.com/podtrail/podtrail/internal/lookalike"
)

// The workload loops of the record functions look at every workload; an
// inventory of a few dozen system workloads (the generic inventory) makes
// that the largest cost of the pack. These indexes, built once per
// compiled set, let a record function look only at the workloads that can
// answer: by exact name, by name length (a near miss is within two
// characters of it), by confusable skeleton, by namespace.

// distinctName is a distinct workload name with what lookalike.NearMissKnown needs.
type distinctName struct {
	name string
	key  lookalike.NameKey
}

type nameIndex struct {
	byName map[string][]int // workload indices by name, ascending
	byLen  [][]distinctName // distinct ASCII names by length
	other  []distinctName   // distinct names that are not ASCII
	// bySkel: workloads of names of 3 or more characters by skeleton
	bySkel    map[string][]int
	patterned []int            // workloads with a name_pattern
	byNS      map[string][]int // workloads by namespace
	// the longest name and skeleton: no longer prefix can be one (a
	// long input is not hashed at each of its dashes)
	maxName, maxSkel int
}

func (ix *index) buildNames() {
	n := &ix.names
	n.byName, n.bySkel, n.byNS = map[string][]int{}, map[string][]int{}, map[string][]int{}
	for i := range ix.workloads {
		w := &ix.workloads[i]
		if len(n.byName[w.Name]) == 0 {
			d := distinctName{w.Name, w.nameKey}
			if w.nameKey.ASCII() {
				for len(n.byLen) <= len(w.Name) {
					n.byLen = append(n.byLen, nil)
				}
				n.byLen[len(w.Name)] = append(n.byLen[len(w.Name)], d)
			} else {
				n.other = append(n.other, d)
			}
		}
		n.byName[w.Name] = append(n.byName[w.Name], i)
		n.maxName = max(n.maxName, len(w.Name))
		if len(w.Name) >= 3 {
			n.bySkel[w.skel] = append(n.bySkel[w.skel], i)
			n.maxSkel = max(n.maxSkel, len(w.skel))
		}
		if w.NamePattern != "" {
			n.patterned = append(n.patterned, i)
		}
		n.byNS[w.Namespace] = append(n.byNS[w.Namespace], i)
	}
}

// appendNear appends the workloads whose name s is a near miss of
// (lookalike.NearMiss(s, name)): the distinct names of a length within two of s's
// (for ASCII s), all others otherwise.
func (ix *index) appendNear(dst []int, s string, k lookalike.NameKey) []int {
	n := &ix.names
	near := func(d *distinctName) {
		if d.name != s && lookalike.NearMissKnown(s, k, d.name, d.key) {
			dst = append(dst, n.byName[d.name]...)
		}
	}
	if k.ASCII() {
		for l := max(len(s)-2, 0); l <= len(s)+2 && l < len(n.byLen); l++ {
			for j := range n.byLen[l] {
				near(&n.byLen[l][j])
			}
		}
	} else {
		for l := range n.byLen {
			for j := range n.byLen[l] {
				near(&n.byLen[l][j])
			}
		}
	}
	for j := range n.other {
		near(&n.other[j])
	}
	return dst
}

// appendDashPrefixes appends the workloads whose name s has as a prefix
// followed by a dash (hasDashPrefix), or is.
func (ix *index) appendDashPrefixes(dst []int, s string) []int {
	for j := 0; j < len(s) && j <= ix.names.maxName; j++ {
		if s[j] == '-' {
			dst = append(dst, ix.names.byName[s[:j]]...)
		}
	}
	return dst
}

// appendSortedSet appends the distinct values of c to dst, ascending
// (insertion sort: a handful of indexes).
func appendSortedSet(dst, c []int) []int {
	for _, v := range c {
		j := len(dst)
		for j > 0 && dst[j-1] > v {
			j--
		}
		if j > 0 && dst[j-1] == v {
			continue
		}
		dst = append(dst, 0)
		copy(dst[j+1:], dst[j:])
		dst[j] = v
	}
	return dst
}

// lowest is the smallest index of c, -1 for none.
func lowest(c []int) int {
	m := -1
	for _, i := range c {
		if m < 0 || i < m {
			m = i
		}
	}
	return m
}

// globSet is a set of repository globs (a namespace's or a workload's
// images, a rule's registries) by registry host, so that matching a
// repository looks only at the globs of its host and those whose host is a
// glob.
type globSet struct {
	byHost  map[string][]glob
	anyHost []glob
	n       int
}

func newGlobSet(gs []glob) globSet {
	s := globSet{byHost: map[string][]glob{}, n: len(gs)}
	for _, g := range gs {
		host, _, _ := strings.Cut(g.pattern, "/")
		if strings.ContainsAny(host, `*?[\`) {
			s.anyHost = append(s.anyHost, g)
		} else {
			s.byHost[host] = append(s.byHost[host], g)
		}
	}
	return s
}

func (s *globSet) empty() bool { return s == nil || s.n == 0 }

func (s *globSet) match(repo string) bool {
	if s.empty() {
		return false
	}
	host := repo
	if j := strings.IndexByte(repo, '/'); j >= 0 {
		host = repo[:j]
	}
	for i, gs := 0, s.byHost[host]; i < len(gs); i++ {
		if gs[i].match(repo) {
			return true
		}
	}
	for i := range s.anyHost {
		if s.anyHost[i].match(repo) {
			return true
		}
	}
	return false
}

// prefixSet is registryPrefixes by literal host.
type prefixSet struct {
	byHost  map[string][]registryPrefix
	anyHost []registryPrefix
}

func newPrefixSet(ps []registryPrefix) prefixSet {
	s := prefixSet{byHost: map[string][]registryPrefix{}}
	for _, p := range ps {
		if p.hostGlob {
			s.anyHost = append(s.anyHost, p)
		} else {
			s.byHost[p.host.lit] = append(s.byHost[p.host.lit], p)
		}
	}
	return s
}

func (s *prefixSet) match(host, p string) bool {
	for i, ps := 0, s.byHost[host]; i < len(ps); i++ {
		if ps[i].match(host, p) {
			return true
		}
	}
	for i := range s.anyHost {
		if s.anyHost[i].match(host, p) {
			return true
		}
	}
	return false
}

// hasDashPrefix: s is prefix, a dash, and more (strings.HasPrefix(s,
// prefix+"-") without building the string).
func hasDashPrefix(s, prefix string) bool {
	return len(s) > len(prefix) && s[len(prefix)] == '-' && s[:len(prefix)] == prefix
}
