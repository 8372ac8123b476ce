// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"strings"
	"sync"
)

// imageVerdict is what the inventory says of one image reference, whatever
// the pod: its repository is declared by an images entry, the reference is
// approved, the repository imitates a known one (lookalike, none when not).
// Pods of a cluster run few distinct references, so the index keeps each
// reference's verdict (imageVerdicts) instead of matching the inventory's
// globs and measuring distances for every container of every pod.
type imageVerdict struct {
	ref       ImageRef
	declared  bool
	approved  bool
	lookalike any
}

// imageVerdicts memoises verdicts by reference, bounded like imageref.Cache:
// a hit takes a read lock and does not allocate; when full it starts again
// empty. An index (and so its cache) lives as long as one inventory: a
// reload builds a new one.
type imageVerdicts struct {
	mu sync.RWMutex
	m  map[string]*imageVerdict
}

const imageVerdictsMax = 4096

// verdict returns the inventory's verdict on image.
func (ix *index) verdict(image string) *imageVerdict {
	c := &ix.verdicts
	c.mu.RLock()
	v, ok := c.m[image]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = ix.judge(image)
	key := strings.Clone(image) // not a slice of a decoded buffer
	c.mu.Lock()
	if c.m == nil || len(c.m) >= imageVerdictsMax {
		c.m = make(map[string]*imageVerdict, 64)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v
}

// judge computes image's verdict.
func (ix *index) judge(image string) *imageVerdict {
	ref := parseImage(image)
	v := &imageVerdict{ref: ref, lookalike: none}
	if !ref.Valid() {
		return v
	}
	for range ix.deciding(ref.Repository) {
		v.declared = true // an images entry speaks of the repository
		break
	}
	v.approved = v.declared && ix.approved(ref)
	if v.approved {
		return v
	}
	parts := partsOf(ref.Repository)
	for i := range ix.refs {
		if repoLookalike(ref.Repository, &parts, &ix.refs[i].repoRef) {
			v.lookalike = ix.refs[i].box
			break
		}
	}
	return v
}
