// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/lookalike"
)

// ImageRef is a parsed container image reference (package imageref): what
// image(ref) returns to rules, with repository, registry, path, tag, digest
// and invalid.
type ImageRef = imageref.Ref

// ParseImage parses an image reference such as nginx:1.27,
// ghcr.io/acme/app@sha256:..., or localhost:5000/x/y:tag@sha256:..., with
// Docker Hub normalised: nginx, docker.io/nginx, docker.io/library/nginx and
// index.docker.io/library/nginx are docker.io/library/nginx. A reference
// that does not parse has Invalid set (imageref.Parse).
func ParseImage(ref string) ImageRef { return imageref.Parse(ref) }

// KnownRegistries are public registry hosts. Two of them are never taken for
// lookalikes of each other (ghcr.io and gcr.io are one edit apart and both
// real); any other host near one of them is.
var KnownRegistries = []string{
	"docker.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "quay.io", "public.ecr.aws",
	"mcr.microsoft.com", "registry.gitlab.com", "nvcr.io", "icr.io", "registry.access.redhat.com",
	"registry.redhat.io", "docker.elastic.co", "cgr.dev", "gke.gcr.io",
}

// DefaultSystemImages are the repositories of DefaultSystemWorkloads' images;
// an image named like one of them from elsewhere is a lookalike even when
// the inventory does not list it.
var DefaultSystemImages = []string{
	"registry.k8s.io/kube-proxy", "registry.k8s.io/coredns/coredns", "registry.k8s.io/kube-apiserver",
	"registry.k8s.io/kube-controller-manager", "registry.k8s.io/kube-scheduler", "registry.k8s.io/etcd",
	"registry.k8s.io/metrics-server/metrics-server", "registry.k8s.io/pause",
}

// repoRef is a repository an image is compared with: an exact repository
// (registry.k8s.io/kube-proxy) or, from a glob such as ghcr.io/acme/*, the
// literal prefix before the first wildcard (ghcr.io/acme). Its parts are
// split once.
type repoRef struct {
	repo   string
	prefix bool
	repoParts
	depth int // path components
}

// repoParts is a normalized repository split into registry host, path and
// the path's last component.
type repoParts struct {
	host, path, last          string
	knownHost                 bool
	hostKey, pathKey, lastKey lookalike.NameKey // nearMissKnown
}

func partsOf(repo string) repoParts {
	h, p, _ := strings.Cut(repo, "/")
	last := lastComponent(p)
	return repoParts{host: h, path: p, last: last, knownHost: slices.Contains(KnownRegistries, h),
		hostKey: lookalike.KeyOf(h), pathKey: lookalike.KeyOf(p), lastKey: lookalike.KeyOf(last)}
}

// refOf turns an inventory repository pattern into a repoRef.
func refOf(pattern string) repoRef {
	p := strings.ToLower(pattern)
	if strings.Contains(p, "/") || !strings.ContainsAny(p, ".:") && p != "localhost" {
		// a repository or a glob of them; a lone host (ghcr.io) is a registry
		if n, err := imageref.NormalizeRepository(pattern); err == nil {
			p = n
		}
	}
	r := repoRef{repo: p}
	if i := strings.IndexAny(p, "*?[\\"); i >= 0 {
		r = repoRef{repo: strings.TrimRight(p[:i], "/"), prefix: true}
	}
	r.repoParts = partsOf(r.repo)
	r.depth = strings.Count(r.path, "/") + 1
	return r
}

// RepoLookalike reports whether the image (a reference or a normalized
// repository) imitates reference, an exact repository or a glob such as
// ghcr.io/acme/*, without being it or under it:
//
//   - the registry host is a near miss (edit distance 1–2, same skeleton) or
//     an extension (registry.k8s.io.example.net, registry-k8s.io) of the
//     reference's, and not another known registry;
//   - the same image name (last path component) from another registry or
//     organisation (docker.io/kube-proxy-mirror/kube-proxy for
//     registry.k8s.io/kube-proxy);
//   - on the same registry, an organisation or path that is a near miss, a
//     homoglyph, or a decoration (acme-corp, acme_io, acme2) of the
//     reference's (ghcr.io/acme-corp/cart for ghcr.io/acme/*).
func RepoLookalike(image, reference string) bool {
	repo := imageref.ParseCached(image).Repository
	ref := refOf(reference)
	parts := partsOf(repo)
	return repoLookalike(repo, &parts, &ref)
}

func repoLookalike(repo string, img *repoParts, ref *repoRef) bool {
	if ref.repo == "" || repo == ref.repo || hasSepPrefix(repo, ref.repo, '/') {
		return false
	}
	if img.host != ref.host {
		if !(img.knownHost && ref.knownHost) && hostLookalike(img, &ref.repoParts) {
			return true
		}
		if ref.prefix || ref.path == "" {
			return false
		}
		return nameLookalike(img.last, img.lastKey, ref.last, ref.lastKey)
	}
	if ref.path == "" {
		return false // the whole registry is the reference, and repo is on it
	}
	if ref.prefix {
		org := firstComponents(img.path, ref.depth)
		return org != ref.path && (lookalike.NearMiss(org, ref.path) || lookalike.Confusable(org, ref.path) || decorated(org, ref.path))
	}
	return lookalike.NearMissKnown(img.path, img.pathKey, ref.path, ref.pathKey) || lookalike.Confusable(img.path, ref.path) ||
		nameLookalike(img.last, img.lastKey, ref.last, ref.lastKey)
}

// nameLookalike: a is b (from elsewhere), a near miss of it, or a homoglyph.
func nameLookalike(a string, ka lookalike.NameKey, b string, kb lookalike.NameKey) bool {
	if len(b) < 3 {
		return false
	}
	return a == b || lookalike.NearMissKnown(a, ka, b, kb) || lookalike.Confusable(a, b)
}

// hostLookalike: the image's host imitates the reference's (not both known
// registries: the caller checks).
func hostLookalike(img, ref *repoParts) bool {
	h1, h2 := img.host, ref.host
	if h1 == h2 {
		return false
	}
	if hasSepSuffix(h1, h2, '.') {
		return false // a subdomain: us.gcr.io, mirror.gcr.io
	}
	return lookalike.NearMissKnown(h1, img.hostKey, h2, ref.hostKey) || lookalike.Confusable(h1, h2) || hasSepPrefix(h1, h2, '.') ||
		hasSepPrefix(h1, h2, '-') || hasSepSuffix(h1, h2, '-')
}

// decorated: a is b with something stuck on (acme-corp, acme_io, acme.dev,
// acme2, corp-acme).
func decorated(a, b string) bool {
	if !strings.HasPrefix(a, b) {
		return hasSepSuffix(a, b, '-') || hasSepSuffix(a, b, '_')
	}
	rest := a[len(b):]
	return rest != "" && (rest[0] == '-' || rest[0] == '_' || rest[0] == '.' || lookalike.IsDigits(rest))
}

func lastComponent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstComponents(p string, n int) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			n--
			if n == 0 {
				return p[:i]
			}
		}
	}
	return p
}

// hasSepPrefix: s is prefix, sep, and more.
func hasSepPrefix(s, prefix string, sep byte) bool {
	return len(s) > len(prefix) && s[len(prefix)] == sep && s[:len(prefix)] == prefix
}

// hasSepSuffix: s is something, sep, and suffix.
func hasSepSuffix(s, suffix string, sep byte) bool {
	n := len(s) - len(suffix)
	return n > 0 && s[n-1] == sep && s[n:] == suffix
}

// parseImage is ParseImage through the process-wide cache (imageref): the
// references a cluster runs repeat, and a hit does not allocate.
func parseImage(ref string) ImageRef { return imageref.ParseCached(ref) }

// registryPrefix is a registry or repository prefix as rules name them
// (registry.k8s.io, ghcr.io/acme, docker.io/calico), normalised
// (imageref.NormalizePrefix). Its host may be a glob
// (602401143452.dkr.ecr.*.amazonaws.com, *.azurecr.io); its path is a
// literal prefix, matched whole components at a time.
type registryPrefix struct {
	host     glob
	path     string
	hostGlob bool
}

func newRegistryPrefix(p string) (registryPrefix, error) {
	n := imageref.NormalizePrefix(p)
	if n == "" {
		return registryPrefix{}, fmt.Errorf("empty registry")
	}
	host, rest, _ := strings.Cut(n, "/")
	if strings.ContainsAny(rest, `*?[\`) {
		return registryPrefix{}, fmt.Errorf("registry %q: only the host may be a glob", p)
	}
	if !validGlob(host) {
		return registryPrefix{}, fmt.Errorf("registry %q: bad glob", p)
	}
	g := compileGlob(host)
	return registryPrefix{host: g, path: rest, hostGlob: g.kind != globLiteral}, nil
}

// match: the repository host/p (normalised) is on the registry, at or
// under the path.
func (rp *registryPrefix) match(host, p string) bool {
	if !rp.host.match(host) {
		return false
	}
	return rp.path == "" || p == rp.path || hasSepPrefix(p, rp.path, '/')
}
