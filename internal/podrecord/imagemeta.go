// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"sync"
	"time"
)

// Image metadata statuses (ImageMeta.Status, podtrail.image.metadata).
const (
	ImageMetaOK          = "ok"          // manifest and config read
	ImageMetaUnavailable = "unavailable" // the registry could not be reached or refused
	ImageMetaNotFound    = "not_found"   // the registry does not have the digest
	ImageMetaPending     = "pending"     // the lookup had not finished when the rules ran
)

// ImageMeta is what the registry says about the image a container ran,
// looked up by its repository and digest (internal/imagemeta). It is shared
// by every record of the digest and never changed once published, except
// for the memo of signature verifications.
type ImageMeta struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Digest is the manifest digest looked up; for an index, Manifest is
	// the platform manifest read.
	Digest   string `json:"digest"`
	Manifest string `json:"manifest,omitempty"`
	// Config is the config digest (the image id runtimes report).
	Config string `json:"config,omitempty"`
	// Layers are the layer digests, base first.
	Layers []string `json:"layers,omitempty"`
	// The OCI annotations (manifest, else config labels)
	// org.opencontainers.image.base.digest, .base.name, .source, .revision.
	BaseDigest string `json:"base_digest,omitempty"`
	BaseName   string `json:"base_name,omitempty"`
	Source     string `json:"source,omitempty"`
	Revision   string `json:"revision,omitempty"`
	// Platform is os/architecture[/variant].
	Platform string `json:"platform,omitempty"`
	// Signed: a cosign signature manifest exists (tag sha256-<hex>.sig in
	// the repository); Signatures are its simple-signing payloads.
	Signed     bool             `json:"signed,omitempty"`
	Signatures []ImageSignature `json:"signatures,omitempty"`
	FetchedAt  time.Time        `json:"fetched_at,omitzero"`

	verified sync.Map // key name → bool
}

// ImageSignature is one cosign signature: the simple-signing payload (the
// layer's bytes) and the base64 signature of its annotation
// dev.cosignproject.cosign/signature.
type ImageSignature struct {
	Payload   []byte `json:"payload"`
	Signature string `json:"signature"`
}

// Verified returns whether the signatures verify with the key named name,
// computing it with verify once per key.
func (m *ImageMeta) Verified(name string, verify func(*ImageMeta) bool) bool {
	if v, ok := m.verified.Load(name); ok {
		return v.(bool)
	}
	ok := verify(m)
	m.verified.Store(name, ok)
	return ok
}

// Meta is what the registry said about the container's image; nil when
// nothing was looked up.
func (c *Container) Meta() *ImageMeta { return c.meta }

// SetMeta attaches the image's metadata to the container.
func (c *Container) SetMeta(m *ImageMeta) { c.meta = m }
