// SPDX-License-Identifier: Apache-2.0

// Package imageref parses container image references the way container
// runtimes resolve them, with github.com/google/go-containerregistry's
// pkg/name, and normalises Docker Hub: nginx, docker.io/nginx,
// docker.io/library/nginx and index.docker.io/library/nginx are one image,
// docker.io/library/nginx. It knows nothing of the collector or the rules;
// internal/rules (imageApproved and the other image functions) and
// internal/correlate (which joins a pod's images with the node's pulls) use
// it.
package imageref

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the registry host of Docker Hub as references are
// normalised here (pkg/name says index.docker.io; containerd, CRI-O and
// kubelet logs say docker.io).
const DockerHub = "docker.io"

// DefaultTag is the tag of a reference that names neither a tag nor a
// digest.
const DefaultTag = name.DefaultTag

// Ref is a parsed image reference.
type Ref struct {
	// Repository is Registry/Path: docker.io/library/nginx,
	// registry.k8s.io/kube-proxy, localhost:5000/team/app.
	Repository string `expr:"repository"`
	// Registry is the host (and port), lower case; Docker Hub is docker.io.
	Registry string `expr:"registry"`
	// Path is the repository path on the registry; Docker Hub's official
	// images are under library/.
	Path string `expr:"path"`
	// Tag is the tag written, or "latest" when the reference names neither
	// a tag nor a digest; "" for a reference by digest alone.
	Tag string `expr:"tag"`
	// Digest is the digest written (algorithm:hex), "" for none.
	Digest string `expr:"digest"`
	// Invalid says why the reference does not parse ("" when it does):
	// upper case in the path, a malformed digest, characters no registry
	// allows (a homoglyph), an empty reference. A runtime cannot pull it.
	// Repository, Tag and Digest then hold a best-effort split of what was
	// written (lower-cased, Docker Hub normalised), so that lookalike
	// checks still see it; no inventory entry approves it.
	Invalid string `expr:"invalid"`
}

// Valid reports whether the reference parsed.
func (r Ref) Valid() bool { return r.Invalid == "" }

// String is the normalised reference: repository[:tag][@digest], with the
// implied tag latest written out.
func (r Ref) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Parse parses an image reference: nginx, nginx:1.27, ghcr.io/acme/app@sha256:…,
// localhost:5000/team/app:2@sha256:….
func Parse(ref string) Ref {
	if ref == "" {
		return Ref{Invalid: "empty image reference"}
	}
	if strings.TrimSpace(ref) != ref {
		r := split(strings.TrimSpace(ref))
		r.Invalid = "image reference has leading or trailing white space"
		return r
	}
	parsed, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		r := split(ref)
		r.Invalid = err.Error()
		return r
	}
	repo := parsed.Context()
	out := Ref{Registry: strings.ToLower(repo.RegistryStr()), Path: repo.RepositoryStr()}
	if out.Registry == name.DefaultRegistry || out.Registry == DockerHub {
		out.Registry = DockerHub
		if !strings.Contains(out.Path, "/") {
			out.Path = "library/" + out.Path // Docker.io/nginx: pkg/name only adds it for its own spelling
		}
	}
	out.Repository = out.Registry + "/" + out.Path
	switch p := parsed.(type) {
	case name.Tag:
		out.Tag = p.TagStr()
	case name.Digest:
		out.Digest = p.DigestStr()
		base := ref[:strings.LastIndexByte(ref, '@')]
		if i := strings.LastIndexByte(base, ':'); i >= 0 && !strings.Contains(base[i:], "/") {
			out.Tag = base[i+1:]
		}
	}
	return out
}

// split is the best-effort reading of a reference that does not parse:
// digest after @, tag after the last : that is not in the host, Docker Hub
// normalised, lower case.
func split(ref string) Ref {
	var out Ref
	nm := ref
	if i := strings.IndexByte(nm, '@'); i >= 0 {
		out.Digest = nm[i+1:]
		nm = nm[:i]
	}
	if i := strings.LastIndexByte(nm, ':'); i >= 0 && !strings.Contains(nm[i:], "/") {
		out.Tag = nm[i+1:]
		nm = nm[:i]
	}
	if out.Tag == "" && out.Digest == "" {
		out.Tag = DefaultTag
	}
	out.Repository = normalizeName(strings.ToLower(nm))
	out.Registry, out.Path, _ = strings.Cut(out.Repository, "/")
	return out
}

// normalizeName puts a repository name (or a glob of names), lower case,
// in the form Parse gives: a first component that is not a host
// (no '.' or ':', not localhost) is a Docker Hub namespace, a single
// component is an official image under library/, index.docker.io is
// docker.io.
func normalizeName(s string) string {
	first, rest, hasSlash := strings.Cut(s, "/")
	switch {
	case !hasSlash:
		return DockerHub + "/library/" + s
	case !isHost(first):
		return DockerHub + "/" + s
	case first == name.DefaultRegistry || first == DockerHub:
		if !strings.Contains(rest, "/") {
			return DockerHub + "/library/" + rest
		}
		return DockerHub + "/" + rest
	}
	return s
}

// isHost: the first component of a reference names a registry host, as
// runtimes decide it.
func isHost(s string) bool { return s == "localhost" || strings.ContainsAny(s, ".:") }

// NormalizeRepository normalises a repository as written in an inventory
// or a rule (no tag, no digest): nginx and docker.io/nginx are
// docker.io/library/nginx. A glob (*, ?, [) is normalised by the same
// rules on its text (ghcr.io/acme/* stays, library/* is
// docker.io/library/*, a trailing /** is kept) and is not otherwise
// checked here. A repository that does not parse, or that carries a tag or
// a digest, is an error.
func NormalizeRepository(repo string) (string, error) {
	lower := strings.ToLower(repo)
	if strings.ContainsAny(lower, "*?[\\") {
		return normalizeName(lower), nil
	}
	r, err := name.NewRepository(lower, name.WeakValidation)
	if err != nil {
		if i := strings.LastIndexAny(repo, ":@"); i >= 0 && !strings.Contains(repo[i:], "/") {
			return "", fmt.Errorf("%w (a repository names no tag or digest: list them under tags or digests)", err)
		}
		return "", err
	}
	reg := strings.ToLower(r.RegistryStr())
	p := r.RepositoryStr()
	if reg == name.DefaultRegistry || reg == DockerHub {
		reg = DockerHub
		if !strings.Contains(p, "/") {
			p = "library/" + p
		}
	}
	return reg + "/" + p, nil
}

// NormalizePrefix normalises a registry or repository prefix as rules
// write them (registry.k8s.io, ghcr.io/acme, docker.io/calico, a trailing /
// or /* allowed): a prefix with a path whose first component is not a host
// (rancher/mirrored) is under docker.io; index.docker.io is docker.io; a
// single component is a registry host.
func NormalizePrefix(p string) string {
	p = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(p), "*"), "/")
	first, rest, hasSlash := strings.Cut(p, "/")
	switch {
	case !hasSlash:
		if p == name.DefaultRegistry {
			return DockerHub
		}
		return p
	case !isHost(first):
		return DockerHub + "/" + p
	case first == name.DefaultRegistry:
		return DockerHub + "/" + rest
	}
	return p
}

// Memo memoises a function of image references, which repeat from pod to
// pod in a cluster. A hit takes a read lock and does not allocate; the memo
// holds at most Max entries and starts again empty when full (the
// references in use come back at once). Its zero value holds
// DefaultCacheSize.
type Memo[V any] struct {
	// Max is the most entries kept; 0 means DefaultCacheSize.
	Max int
	mu  sync.RWMutex
	m   map[string]V
}

// DefaultCacheSize is a Memo's bound when Max is 0.
const DefaultCacheSize = 4096

// Get returns compute(ref), computed once while ref stays in the memo.
func (c *Memo[V]) Get(ref string, compute func(string) V) V {
	c.mu.RLock()
	v, ok := c.m[ref]
	c.mu.RUnlock()
	if ok {
		return v
	}
	// Keep neither the caller's string nor substrings of it: it may be a
	// slice of a large decoded buffer.
	key := strings.Clone(ref)
	v = compute(key)
	max := c.Max
	if max <= 0 {
		max = DefaultCacheSize
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]V, 64)
	}
	if len(c.m) >= max {
		clear(c.m)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v
}

// Len is the number of memoised references.
func (c *Memo[V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Cache memoises Parse.
type Cache struct{ Memo[Ref] }

// Parse is Parse, memoised.
func (c *Cache) Parse(ref string) Ref { return c.Get(ref, Parse) }

var shared Cache

// ParseCached is Parse through a process-wide Cache.
func ParseCached(ref string) Ref { return shared.Parse(ref) }
