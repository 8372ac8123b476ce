// SPDX-License-Identifier: Apache-2.0

// Package registrytest runs go-containerregistry's in-memory registry and
// pushes the images the lineage tests need: an image, one built on it with
// a layer more, a tag moved to other content, cosign signatures.
package registrytest

import (
	"crypto/ecdsa"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/podtrail/podtrail/internal/cosign"
)

// Registry is an in-memory registry on loopback.
type Registry struct {
	*httptest.Server
	// Host is host:port, the repositories' registry.
	Host string
}

// Start runs a registry; wrap (may be nil) wraps its handler (to require
// credentials, count requests).
func Start(wrap func(http.Handler) http.Handler) *Registry {
	var h http.Handler = registry.New(registry.Logger(nilLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	return &Registry{Server: s, Host: strings.TrimPrefix(s.URL, "http://")}
}

// Image is an image made of the given layer contents (one file each), with
// manifest annotations.
func Image(layers []string, annotations map[string]string) (v1.Image, error) {
	img := empty.Image
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	for _, l := range layers {
		if img, err = mutate.AppendLayers(img, static.NewLayer([]byte(l), types.OCILayer)); err != nil {
			return nil, err
		}
	}
	if len(annotations) > 0 {
		img = mutate.Annotations(img, annotations).(v1.Image)
	}
	return img, nil
}

// Extend is img with one layer more.
func Extend(img v1.Image, layer string, annotations map[string]string) (v1.Image, error) {
	out, err := mutate.AppendLayers(img, static.NewLayer([]byte(layer), types.OCILayer))
	if err != nil {
		return nil, err
	}
	if len(annotations) > 0 {
		out = mutate.Annotations(out, annotations).(v1.Image)
	}
	return out, nil
}

// Push pushes img as ref (repository:tag, plain HTTP on loopback) and
// returns its digest.
func Push(ref string, img v1.Image, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, opts...); err != nil {
		return "", err
	}
	d, err := img.Digest()
	return d.String(), err
}

// Sign pushes a cosign signature of repository@digest made with key, as
// cosign does: a manifest tagged sha256-<hex>.sig whose layer is the
// simple-signing payload with the signature in its annotation.
func Sign(repository, digest string, key *ecdsa.PrivateKey, opts ...remote.Option) error {
	payload := cosign.NewPayload(repository, digest)
	sig, err := cosign.Sign(key, payload)
	if err != nil {
		return err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(payload, cosign.MediaType),
		Annotations: map[string]string{cosign.Annotation: sig}})
	if err != nil {
		return err
	}
	_, err = Push(repository+":"+cosign.SignatureTag(digest), img, opts...)
	return err
}
