// SPDX-License-Identifier: Apache-2.0

// Package cosign reads and checks cosign's image signatures in their
// simple-signing form, with Go's crypto only: the payload
// ({"critical":{"identity":{"docker-reference":...},"image":{"docker-manifest-digest":...},
// "type":"cosign container image signature"},"optional":...}) stored as a
// layer of the manifest tagged sha256-<hex>.sig, and its ECDSA signature
// (ASN.1, base64) over the payload's SHA-256 in the layer's annotation
// dev.cosignproject.cosign/signature. Sign makes one (tests, the e2e).
package cosign

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Media type and annotation of a signature layer; PayloadType is the
// payload's critical.type.
const (
	MediaType   = "application/vnd.dev.cosign.simplesigning.v1+json"
	Annotation  = "dev.cosignproject.cosign/signature"
	PayloadType = "cosign container image signature"
)

// Payload is the simple-signing payload.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SignatureTag is the tag of digest's signature manifest:
// sha256:abc... → sha256-abc....sig.
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// NewPayload is the payload cosign signs for repository@digest.
func NewPayload(repository, digest string) []byte {
	var p Payload
	p.Critical.Identity.DockerReference = repository
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = PayloadType
	b, _ := json.Marshal(p)
	return b
}

// Sign signs payload with key as cosign does: base64 of the ASN.1 ECDSA
// signature of its SHA-256.
func Sign(key *ecdsa.PrivateKey, payload []byte) (string, error) {
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) ECDSA key, as
// `cosign generate-key-pair` writes cosign.pub.
func ParsePublicKey(pemText string) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an ECDSA key", k)
	}
	return ek, nil
}

// MarshalPublicKey writes key as PEM (PKIX).
func MarshalPublicKey(key *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// Verify checks that sig (base64) is key's signature of payload and that
// the payload is a cosign signature of digest.
func Verify(key *ecdsa.PublicKey, payload []byte, sig, digest string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	h := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(key, h[:], raw) {
		return errors.New("signature does not verify with the key")
	}
	var p Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if p.Critical.Type != PayloadType {
		return fmt.Errorf("payload type %q", p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest != digest {
		return fmt.Errorf("payload signs %s, not %s", p.Critical.Image.DockerManifestDigest, digest)
	}
	return nil
}
