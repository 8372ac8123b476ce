// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/podtrail/podtrail/internal/cosign"
	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Image lineage and provenance (AN0986: "compare deployed image layers or
// digests against expected images", "image integrity and provenance
// checks"). The registry's metadata of a container's image (its layers,
// base annotations, cosign signatures) is looked up off the rule path
// (internal/imagemeta, the processor's image_metadata) and attached to the
// container; these functions only read it and the inventory's
// declarations:
//
//   - images[].layers: the approved image's layer digests, base first. An
//     image that carries them as a strict prefix is built on it.
//   - images[].digests (as before): an image whose
//     org.opencontainers.image.base.digest names one is built on it.
//   - images[].signed_by: names of signing_keys; an image of the
//     repository must carry a cosign signature that one of them verifies.
//   - signing_keys: name → PEM public key (ECDSA P-256, cosign.pub).

// lineage is the inventory's lineage declarations, compiled.
type lineage struct {
	// entries are the images entries with layers or digests: what an image
	// may be built on.
	entries []*inventory.Image
	// approved are the digests every images entry lists: an image with one
	// of them is an approved image itself, not one built on it.
	approved map[string]bool
	keys     map[string]signingKey
}

type signingKey struct {
	pub *ecdsa.PublicKey
	// id names the key's contents: a verification memo outlives a reload
	// only for the same key.
	id string
}

func newLineage(inv *inventory.Inventory) *lineage {
	ln := &lineage{approved: map[string]bool{}, keys: map[string]signingKey{}}
	for i := range inv.Images {
		im := &inv.Images[i]
		for _, d := range im.Digests {
			ln.approved[d] = true
		}
		if len(im.Layers) > 0 || len(im.Digests) > 0 {
			ln.entries = append(ln.entries, im)
		}
	}
	for n, pemText := range inv.SigningKeys {
		pub, err := cosign.ParsePublicKey(pemText)
		if err != nil {
			continue // inventory.Decode refuses it; an Inventory built in code may have it
		}
		h := sha256.Sum256([]byte(strings.TrimSpace(pemText)))
		ln.keys[n] = signingKey{pub: pub, id: n + "@" + hex.EncodeToString(h[:8])}
	}
	return ln
}

// isApproved: one of the image's digests is listed by an images entry.
func (ln *lineage) isApproved(c *podrecord.Container, m *podrecord.ImageMeta) bool {
	if ln.approved[c.Digest] || ln.approved[c.ImageID] {
		return true
	}
	return m != nil && (ln.approved[m.Digest] || ln.approved[m.Manifest] || ln.approved[m.Config])
}

// extends returns the repository of the approved image m is built on: its
// layers extend the entry's, or its base digest is one of the entry's.
func (ln *lineage) extends(m *podrecord.ImageMeta) string {
	for _, im := range ln.entries {
		if n := len(im.Layers); n > 0 && len(m.Layers) > n {
			prefix := true
			for i := range n {
				if m.Layers[i] != im.Layers[i] {
					prefix = false
					break
				}
			}
			if prefix {
				return im.Repository
			}
		}
		if m.BaseDigest != "" && slices.Contains(im.Digests, m.BaseDigest) {
			return im.Repository
		}
	}
	return ""
}

// extendsApproved is the first container whose image is built on an
// approved image without being one: "image extends repository".
func (ix *index) extendsApproved(r *podrecord.Record) string {
	ln := ix.lineage
	if len(ln.entries) == 0 {
		return ""
	}
	for i := range r.Containers {
		c := &r.Containers[i]
		m := c.Meta()
		if m == nil || m.Status != podrecord.ImageMetaOK || ln.isApproved(c, m) {
			continue
		}
		if repo := ln.extends(m); repo != "" {
			return c.Image + " extends " + repo
		}
	}
	return ""
}

// approvedTagMoved is the first container run by an approved tag (an
// images entry that lists the tag and digests) whose image resolved to a
// digest the entry does not list: "repo:tag resolves to sha256:...".
func (ix *index) approvedTagMoved(r *podrecord.Record) string {
	for i := range r.Containers {
		c := &r.Containers[i]
		ref := parseImage(c.Image)
		if !ref.Valid() || ref.Digest != "" || ref.Tag == "" {
			continue
		}
		m := c.Meta()
		d := c.Digest
		if d == "" && m != nil && m.Status == podrecord.ImageMetaOK {
			d = m.Digest
		}
		if d == "" {
			continue
		}
		for im := range ix.deciding(ref.Repository) {
			if len(im.Digests) == 0 || !slices.Contains(im.Tags, ref.Tag) {
				continue
			}
			if slices.Contains(im.Digests, d) || slices.Contains(im.Digests, c.ImageID) ||
				m != nil && (slices.Contains(im.Digests, m.Manifest) || slices.Contains(im.Digests, m.Config)) {
				continue
			}
			return ref.Repository + ":" + ref.Tag + " resolves to " + d
		}
	}
	return ""
}

// signatureMissing is the first container whose image's entry requires a
// signature (signed_by) and whose metadata shows none that a listed key
// verifies: "image: unsigned" or "image: signature not verified by k1,k2".
// An image whose metadata is not known (off, pending, unavailable) is not
// judged: the record says why.
func (ix *index) signatureMissing(r *podrecord.Record) string {
	for i := range r.Containers {
		c := &r.Containers[i]
		m := c.Meta()
		if m == nil || m.Status != podrecord.ImageMetaOK {
			continue
		}
		ref := parseImage(c.Image)
		if !ref.Valid() {
			continue
		}
		for im := range ix.deciding(ref.Repository) {
			if len(im.SignedBy) == 0 {
				continue
			}
			if !m.Signed {
				return c.Image + ": unsigned"
			}
			if ix.lineage.verifiedBy(m, im.SignedBy) == "" {
				return c.Image + ": signature not verified by " + strings.Join(im.SignedBy, ",")
			}
		}
	}
	return ""
}

// imageSigners is the names of the keys that verify a signature of any
// container's image, comma-joined.
func (ix *index) imageSigners(r *podrecord.Record) string {
	var names []string
	for i := range r.Containers {
		m := r.Containers[i].Meta()
		if m == nil || !m.Signed {
			continue
		}
		for n := range ix.lineage.keys {
			if !slices.Contains(names, n) && ix.lineage.verifiedBy(m, []string{n}) != "" {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// verifiedBy is the first of names whose key verifies one of m's
// signatures of m's digest, "" for none. Each key's result is kept on m
// (PrepareImage computes them in the lookup's worker, off the rule path).
func (ln *lineage) verifiedBy(m *podrecord.ImageMeta, names []string) string {
	for _, n := range names {
		k, ok := ln.keys[n]
		if !ok {
			continue
		}
		if m.Verified(k.id, func(m *podrecord.ImageMeta) bool { return verifyAny(k.pub, m) }) {
			return n
		}
	}
	return ""
}

func verifyAny(pub *ecdsa.PublicKey, m *podrecord.ImageMeta) bool {
	for _, s := range m.Signatures {
		if cosign.Verify(pub, s.Payload, s.Signature, m.Digest) == nil {
			return true
		}
	}
	return false
}

// imageMetadata is what is known of the pod's images in their registries:
// "" (not looked up), ok, pending, not_found or unavailable (the worst of
// its containers).
func imageMetadata(r *podrecord.Record) string {
	rank := map[string]int{podrecord.ImageMetaOK: 1, podrecord.ImageMetaNotFound: 2, podrecord.ImageMetaPending: 3, podrecord.ImageMetaUnavailable: 4}
	out := ""
	for i := range r.Containers {
		if m := r.Containers[i].Meta(); m != nil && rank[m.Status] > rank[out] {
			out = m.Status
		}
	}
	return out
}

// PrepareImage verifies m's signatures with every signing key of the
// engine's inventory and keeps the results on m, so that the rules only
// read them. The processor calls it in the image lookup's workers.
func (e *Engine) PrepareImage(m *podrecord.ImageMeta) {
	if m == nil || !m.Signed {
		return
	}
	for n := range e.index.lineage.keys {
		e.index.lineage.verifiedBy(m, []string{n})
	}
}

// lineageFunctions are the lineage rule functions (registered in
// newFunctions).
func lineageFunctions() []*function {
	return []*function{
		podRecStr("extendsApproved", "the first container whose image is built on an approved image without being one: its layers (registry metadata) extend an images entry's layers, or its org.opencontainers.image.base.digest is one of an entry's digests; \"image extends repository\", \"\" if none or not looked up",
			func(ix *index, ev *evaluator) string { return ix.extendsApproved(ev.rec) }),
		podRecStr("approvedTagMoved", "the first container run by a tag an images entry approves with digests, whose image resolved (node, kubelet or registry) to a digest the entry does not list: \"repository:tag resolves to sha256:...\"; \"\" if none",
			func(ix *index, ev *evaluator) string { return ix.approvedTagMoved(ev.rec) }),
		podRecStr("signatureMissing", "the first container whose images entry has signed_by and whose image has no cosign signature a listed key verifies: \"image: unsigned\" or \"image: signature not verified by keys\"; images whose metadata is not known are not judged",
			func(ix *index, ev *evaluator) string { return ix.signatureMissing(ev.rec) }),
		podRecStr("imageSigners", "the signing_keys names whose keys verify a cosign signature of a container's image, comma-joined",
			func(ix *index, ev *evaluator) string { return ix.imageSigners(ev.rec) }),
		podRecStr("imageMetadata", "what the registries said of the pod's images: \"\" (not looked up), ok, pending, not_found or unavailable (the worst container's)",
			func(_ *index, ev *evaluator) string { return imageMetadata(ev.rec) }),
	}
}
