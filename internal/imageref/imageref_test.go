// SPDX-License-Identifier: Apache-2.0

package imageref

import (
	"strings"
	"testing"
)

const (
	dgst  = "sha256:dbeb97c24f107f57a887833791df5761c5c671279fcffcfa4d562189f90edc6a"
	dgst2 = "sha256:7f0b8703a80af06511ca9836dfcd7a78569fb1e85e1ba15fb1e58ed07d2bed40"
)

// TestParse: one case per normalisation; the four spellings of Docker Hub's
// nginx are one repository.
func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Ref
	}{
		// Docker Hub
		{"nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"docker.io/nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"docker.io/library/nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"index.docker.io/library/nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"index.docker.io/nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"Docker.io/nginx", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "latest", "", ""}},
		{"library/nginx:1.27", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "1.27", "", ""}},
		{"nginx:1.27", Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "1.27", "", ""}},
		{"alpine/git:2.45", Ref{"docker.io/alpine/git", "docker.io", "alpine/git", "2.45", "", ""}},
		{"docker.io/alpine:3.20", Ref{"docker.io/library/alpine", "docker.io", "library/alpine", "3.20", "", ""}},
		{"rancher/mirrored-coredns-coredns:1.12.0", Ref{"docker.io/rancher/mirrored-coredns-coredns", "docker.io", "rancher/mirrored-coredns-coredns", "1.12.0", "", ""}},
		// other registries
		{"registry.k8s.io/kube-proxy:v1.33.13", Ref{"registry.k8s.io/kube-proxy", "registry.k8s.io", "kube-proxy", "v1.33.13", "", ""}},
		{"registry.k8s.io/coredns/coredns:v1.12.0", Ref{"registry.k8s.io/coredns/coredns", "registry.k8s.io", "coredns/coredns", "v1.12.0", "", ""}},
		{"REGISTRY.k8s.io/pause:3.10", Ref{"registry.k8s.io/pause", "registry.k8s.io", "pause", "3.10", "", ""}},
		{"localhost:5000/team/app:2", Ref{"localhost:5000/team/app", "localhost:5000", "team/app", "2", "", ""}},
		{"localhost:5000/team/app", Ref{"localhost:5000/team/app", "localhost:5000", "team/app", "latest", "", ""}},
		{"localhost/app", Ref{"localhost/app", "localhost", "app", "latest", "", ""}},
		{"602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2",
			Ref{"602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns", "602401143452.dkr.ecr.us-west-2.amazonaws.com", "eks/coredns", "v1.11.4-eksbuild.2", "", ""}},
		// digests
		{"ghcr.io/acme/payments@" + dgst, Ref{"ghcr.io/acme/payments", "ghcr.io", "acme/payments", "", dgst, ""}},
		{"ghcr.io/acme/payments:1.4@" + dgst, Ref{"ghcr.io/acme/payments", "ghcr.io", "acme/payments", "1.4", dgst, ""}},
		{"nginx@" + dgst, Ref{"docker.io/library/nginx", "docker.io", "library/nginx", "", dgst, ""}},
		{"localhost:5000/app:2@" + dgst, Ref{"localhost:5000/app", "localhost:5000", "app", "2", dgst, ""}},
		{"localhost:5000/app@" + dgst, Ref{"localhost:5000/app", "localhost:5000", "app", "", dgst, ""}},
	} {
		got := Parse(tt.in)
		if got != tt.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

// TestParseInvalid: references no runtime pulls are reported as such, with
// a best-effort split that lookalike checks can still read.
func TestParseInvalid(t *testing.T) {
	for _, tt := range []struct {
		in, repo, tag, digest string
		why                   string
	}{
		{"", "", "", "", "empty"},
		{"GHCR.io/Acme/App:1", "ghcr.io/acme/app", "1", "", "repository can only contain"},
		{"ghcr.io/acme/payments@sha256:abc", "ghcr.io/acme/payments", "", "sha256:abc", "could not parse"},
		{"ghcr.io/acme/payments:1.4@sha256:abc", "ghcr.io/acme/payments", "1.4", "sha256:abc", "could not parse"},
		{"registry.k8s.io/kube-prоxy:v1.33.13", "registry.k8s.io/kube-prоxy", "v1.33.13", "", "repository can only contain"}, // Cyrillic о
		{"nginx:", "docker.io/library/nginx", "latest", "", "could not parse"},
		{" nginx", "docker.io/library/nginx", "latest", "", "white space"},
		{"https://ghcr.io/acme/app", "", "", "", "URL scheme"},
		{"ghcr.io/acme/app:" + strings.Repeat("x", 129), "ghcr.io/acme/app", strings.Repeat("x", 129), "", "could not parse"},
		{"a@b@c", "", "", "", "could not parse"},
	} {
		got := Parse(tt.in)
		if got.Valid() {
			t.Errorf("Parse(%q) = %+v, valid", tt.in, got)
			continue
		}
		if !strings.Contains(got.Invalid, tt.why) && !strings.Contains(got.Invalid, "could not parse") {
			t.Errorf("Parse(%q).Invalid = %q, want it to say %q", tt.in, got.Invalid, tt.why)
		}
		if tt.repo != "" && (got.Repository != tt.repo || got.Tag != tt.tag || got.Digest != tt.digest) {
			t.Errorf("Parse(%q) best effort = %q %q %q, want %q %q %q", tt.in, got.Repository, got.Tag, got.Digest, tt.repo, tt.tag, tt.digest)
		}
	}
}

// TestOneImage: the spellings of one image are one reference.
func TestOneImage(t *testing.T) {
	for _, group := range [][]string{
		{"nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/library/nginx", "nginx:latest", "docker.io/library/nginx:latest"},
		{"nginx:1.27", "docker.io/nginx:1.27", "docker.io/library/nginx:1.27", "index.docker.io/library/nginx:1.27", "index.docker.io/nginx:1.27"},
		{"nginx@" + dgst, "docker.io/nginx@" + dgst, "docker.io/library/nginx@" + dgst, "index.docker.io/library/nginx@" + dgst},
	} {
		want := Parse(group[0])
		for _, s := range group[1:] {
			if got := Parse(s); got != want {
				t.Errorf("Parse(%q) = %v, Parse(%q) = %v", s, got, group[0], want)
			}
		}
	}
	if a, b := Parse("nginx@"+dgst), Parse("nginx@"+dgst2); a == b {
		t.Error("two digests are one image")
	}
	if got := Parse("nginx:1.27@" + dgst).String(); got != "docker.io/library/nginx:1.27@"+dgst {
		t.Errorf("String() = %s", got)
	}
}

func TestNormalizeRepository(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"nginx", "docker.io/library/nginx", ""},
		{"docker.io/nginx", "docker.io/library/nginx", ""},
		{"docker.io/library/nginx", "docker.io/library/nginx", ""},
		{"index.docker.io/library/nginx", "docker.io/library/nginx", ""},
		{"calico/node", "docker.io/calico/node", ""},
		{"registry.k8s.io/kube-proxy", "registry.k8s.io/kube-proxy", ""},
		{"Registry.K8s.io/Kube-Proxy", "registry.k8s.io/kube-proxy", ""},
		{"localhost:5000/app", "localhost:5000/app", ""},
		{"ghcr.io/acme/*", "ghcr.io/acme/*", ""},
		{"library/*", "docker.io/library/*", ""},
		{"index.docker.io/calico/*", "docker.io/calico/*", ""},
		{"*.dkr.ecr.*.amazonaws.com/eks/*", "*.dkr.ecr.*.amazonaws.com/eks/*", ""},
		{"registry.k8s.io/**", "registry.k8s.io/**", ""},
		{"nginx:1.27", "", "tags or digests"},
		{"ghcr.io/acme/app@" + dgst, "", "tags or digests"},
		{"", "", "must be specified"},
	} {
		got, err := NormalizeRepository(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("NormalizeRepository(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("NormalizeRepository(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"registry.k8s.io":    "registry.k8s.io",
		"registry.k8s.io/":   "registry.k8s.io",
		"ghcr.io/acme/*":     "ghcr.io/acme",
		"docker.io/calico":   "docker.io/calico",
		"index.docker.io":    "docker.io",
		"index.docker.io/x":  "docker.io/x",
		"rancher/mirrored":   "docker.io/rancher/mirrored",
		"MCR.microsoft.com/": "mcr.microsoft.com",
	} {
		if got := NormalizePrefix(in); got != want {
			t.Errorf("NormalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCache: hits do not allocate; the cache stays within its bound.
func TestCache(t *testing.T) {
	c := Cache{Memo[Ref]{Max: 8}}
	ref := "registry.k8s.io/kube-proxy:v1.33.13"
	if got, want := c.Parse(ref), Parse(ref); got != want {
		t.Fatalf("cached %v, parsed %v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Parse(ref) }); n != 0 {
		t.Errorf("a cache hit allocates %v times", n)
	}
	for i := 0; i < 100; i++ {
		c.Parse("ghcr.io/acme/app:" + strings.Repeat("1", i+1))
		if c.Len() > 8 {
			t.Fatalf("%d entries, bound 8", c.Len())
		}
	}
	if ParseCached("nginx") != Parse("nginx") {
		t.Error("ParseCached")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c@" + dgst, "localhost:5000/x", ":", "@", "/:@", "index.docker.io/x", "Docker.io/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Parse(s)
		if !r.Valid() || len(r.Path) > 255 {
			return // nginx-like names of 248+ characters: library/ makes them too long to write out
		}
		// a valid reference parses to itself when written out
		if again := Parse(r.String()); again != r {
			t.Errorf("Parse(%q) = %+v; Parse(%q) = %+v", s, r, r.String(), again)
		}
		if r.Repository != r.Registry+"/"+r.Path || r.Tag == "" && r.Digest == "" {
			t.Errorf("Parse(%q) = %+v", s, r)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = Parse("registry.k8s.io/kube-proxy:v1.33.13")
		}
	})
	b.Run("cached", func(b *testing.B) {
		var c Cache
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = c.Parse("registry.k8s.io/kube-proxy:v1.33.13")
		}
	})
}
