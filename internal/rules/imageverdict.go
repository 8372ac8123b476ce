// SPDX-License-Identifier: Apache-2.0

package rules

// imageVerdict is what the inventory says of one image reference, whatever
// the pod: its repository is declared by an images entry, the reference is
// approved, the repository imitates a known one (lookalike, none when not).
// Pods of a cluster run few distinct references, so the index keeps each
// reference's verdict (index.verdicts, an imageref.Memo) instead of matching the inventory's
// globs and measuring distances for every container of every pod.
type imageVerdict struct {
	ref       ImageRef
	declared  bool
	approved  bool
	lookalike any
}

// verdict returns the inventory's verdict on image, memoised by the index
// (verdicts: an index, and so its memo, lives as long as one inventory; a
// reload builds a new one).
func (ix *index) verdict(image string) *imageVerdict { return ix.verdicts.Get(image, ix.judge) }

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
