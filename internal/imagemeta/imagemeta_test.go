// SPDX-License-Identifier: Apache-2.0

package imagemeta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/podtrail/podtrail/internal/cosign"
	"github.com/podtrail/podtrail/internal/imagemeta/registrytest"
	"github.com/podtrail/podtrail/internal/podrecord"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func opts() Options {
	return Options{Timeout: 5 * time.Second, RateLimit: 1000, Workers: 2, CacheSize: 100, RetryUnavailable: time.Minute, Signatures: true}
}

func newLookup(t *testing.T, o Options) *Lookup {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	t.Cleanup(l.Stop)
	return l
}

// TestLookup: manifest, config, annotations, platform and signatures of
// images in a real (in-memory) registry; a digest it does not have.
func TestLookup(t *testing.T) {
	reg := registrytest.Start(nil)
	defer reg.Close()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	base := must(registrytest.Image([]string{"base-1", "base-2"}, nil))
	baseRepo := reg.Host + "/acme/base"
	baseDigest := must(registrytest.Push(baseRepo+":1.0", base))
	app := must(registrytest.Extend(base, "app", map[string]string{AnnotationBaseDigest: baseDigest, AnnotationBaseName: baseRepo + ":1.0",
		AnnotationSource: "https://github.com/acme/app", AnnotationRevision: "0f3c2a1"}))
	appRepo := reg.Host + "/acme/app"
	appDigest := must(registrytest.Push(appRepo+":2.0", app))
	if err := registrytest.Sign(appRepo, appDigest, key); err != nil {
		t.Fatal(err)
	}
	baseLayers := must(base.Manifest()).Layers

	l := newLookup(t, opts())
	deadline := time.Now().Add(5 * time.Second)
	m := l.Get(appRepo, appDigest, deadline)
	if m.Status != podrecord.ImageMetaOK {
		t.Fatalf("app: %+v", m)
	}
	if len(m.Layers) != 3 || m.Layers[0] != baseLayers[0].Digest.String() || m.Layers[1] != baseLayers[1].Digest.String() {
		t.Errorf("layers %v", m.Layers)
	}
	if m.BaseDigest != baseDigest || m.BaseName != baseRepo+":1.0" || m.Source != "https://github.com/acme/app" || m.Revision != "0f3c2a1" {
		t.Errorf("annotations %+v", m)
	}
	if m.Platform != "linux/amd64" || m.Config == "" || m.Digest != appDigest {
		t.Errorf("platform %q config %q digest %q", m.Platform, m.Config, m.Digest)
	}
	if !m.Signed || len(m.Signatures) != 1 {
		t.Fatalf("signatures %+v", m.Signatures)
	}
	pub := &key.PublicKey
	if err := cosign.Verify(pub, m.Signatures[0].Payload, m.Signatures[0].Signature, appDigest); err != nil {
		t.Errorf("verify: %v", err)
	}

	mb := l.Get(baseRepo, baseDigest, deadline)
	if mb.Status != podrecord.ImageMetaOK || mb.Signed || len(mb.Layers) != 2 {
		t.Errorf("base: %+v", mb)
	}
	missing := "sha256:" + strings.Repeat("0", 64)
	if m := l.Get(appRepo, missing, deadline); m.Status != podrecord.ImageMetaNotFound {
		t.Errorf("missing: %+v", m)
	}
	if m2 := l.Get(appRepo, appDigest, deadline); m2 != m {
		t.Error("second Get not from the cache")
	}
	s := l.Stats()
	if s.Lookups != 3 || s.OK != 2 || s.NotFound != 1 || s.CacheHits != 1 {
		t.Errorf("stats %+v", s)
	}
	// the cache survives a restart through Snapshot and Restore
	snap, dirty := l.Snapshot()
	if !dirty {
		t.Error("snapshot not dirty")
	}
	if _, dirty := l.Snapshot(); dirty {
		t.Error("snapshot dirty twice")
	}
	l2 := newLookup(t, opts())
	if err := l2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	if m := l2.Get(appRepo, appDigest, time.Now()); m.Status != podrecord.ImageMetaOK || !m.Signed || len(m.Layers) != 3 {
		t.Errorf("restored: %+v", m)
	}
}

// TestUnavailable: a registry that cannot be reached gives unavailable,
// and the next digests of that registry are not waited for.
func TestUnavailable(t *testing.T) {
	reg := registrytest.Start(nil)
	img := must(registrytest.Image([]string{"x"}, nil))
	repo := reg.Host + "/acme/x"
	d := must(registrytest.Push(repo+":1", img))
	reg.Close()
	l := newLookup(t, opts())
	m := l.Get(repo, d, time.Now().Add(5*time.Second))
	if m.Status != podrecord.ImageMetaUnavailable || m.Error == "" {
		t.Fatalf("stopped registry: %+v", m)
	}
	start := time.Now()
	other := "sha256:" + strings.Repeat("1", 64)
	m = l.Get(repo, other, time.Now().Add(5*time.Second))
	took := time.Since(start)
	if m.Status != podrecord.ImageMetaUnavailable || !strings.Contains(m.Error, "unreachable since") {
		t.Fatalf("second digest: %+v", m)
	}
	t.Logf("a new digest of a registry known to be down: answered in %v (not waited for)", took)
}

// TestTimeout: a registry that does not answer: the lookup ends at the
// timeout; a Get with an earlier deadline returns pending.
func TestTimeout(t *testing.T) {
	block := make(chan struct{})
	reg := registrytest.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block })
	})
	defer reg.Close()
	defer close(block)
	o := opts()
	o.Timeout = 300 * time.Millisecond
	l := newLookup(t, o)
	d := "sha256:" + strings.Repeat("2", 64)
	if m := l.Get(reg.Host+"/a/b", d, time.Now().Add(50*time.Millisecond)); m.Status != podrecord.ImageMetaPending {
		t.Fatalf("before the deadline: %+v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	if m := l.Get(reg.Host+"/a/b", d, deadline); m.Status != podrecord.ImageMetaUnavailable {
		t.Fatalf("after the timeout: %+v", m)
	}
}

// TestCredentials: a registry that requires basic authentication is read
// with the docker config file's credentials, and refuses without them.
func TestCredentials(t *testing.T) {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	var refused atomic.Int64
	var locked atomic.Bool
	reg := registrytest.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if locked.Load() {
				if r.Header.Get("Authorization") != want {
					refused.Add(1)
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	defer reg.Close()
	repo := reg.Host + "/private/app"
	d := must(registrytest.Push(repo+":1", must(registrytest.Image([]string{"p"}, nil))))
	locked.Store(true)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `{"auths":{"http://%s/v2/":{"auth":%q}}}`, reg.Host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	anon := newLookup(t, opts())
	if m := anon.Get(repo, d, time.Now().Add(5*time.Second)); m.Status != podrecord.ImageMetaUnavailable {
		t.Fatalf("anonymous: %+v", m)
	}
	o := opts()
	o.DockerConfig = cfg
	withCreds := newLookup(t, o)
	if m := withCreds.Get(repo, d, time.Now().Add(5*time.Second)); m.Status != podrecord.ImageMetaOK {
		t.Fatalf("with credentials: %+v", m)
	}
	if refused.Load() == 0 {
		t.Error("the registry refused nothing")
	}
	if _, err := New(Options{DockerConfig: filepath.Join(dir, "nope.json")}); err == nil {
		t.Fatal("missing docker config accepted")
	}
}

// BenchmarkGetCached is the cost of a cached lookup on the record path.
func BenchmarkGetCached(b *testing.B) {
	reg := registrytest.Start(nil)
	defer reg.Close()
	repo := reg.Host + "/acme/x"
	d := must(registrytest.Push(repo+":1", must(registrytest.Image([]string{"x"}, nil))))
	l, _ := New(opts())
	l.Start()
	defer l.Stop()
	l.Get(repo, d, time.Now().Add(5*time.Second))
	b.ReportAllocs()
	for b.Loop() {
		l.Get(repo, d, time.Time{})
	}
}

// BenchmarkLookup is one lookup from the in-memory registry on loopback:
// manifest, config and the signature tag.
func BenchmarkLookup(b *testing.B) {
	reg := registrytest.Start(nil)
	defer reg.Close()
	repo := reg.Host + "/acme/x"
	img := must(registrytest.Image([]string{"x", "y"}, nil))
	d := must(registrytest.Push(repo+":1", img))
	o := opts()
	l, _ := New(o)
	b.ReportAllocs()
	for b.Loop() {
		if m := l.fetch(b.Context(), repo, d); m.Status != podrecord.ImageMetaOK {
			b.Fatal(m.Error)
		}
	}
}

// TestInsecureRegistries: a registry named by a host that is not loopback
// is reached over HTTPS unless insecure_registries lists it, then over
// plain HTTP.
func TestInsecureRegistries(t *testing.T) {
	reg := registrytest.Start(nil)
	defer reg.Close()
	d := must(registrytest.Push(reg.Host+"/acme/x:1", must(registrytest.Image([]string{"x"}, nil))))
	_, port, _ := strings.Cut(reg.Host, ":")
	host := "registry.internal.example:" + port // resolved to the test registry by the transport
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, reg.Host)
	}
	o := opts()
	o.Transport = tr
	o.Timeout = 2 * time.Second
	if m := newLookup(t, o).Get(host+"/acme/x", d, time.Now().Add(5*time.Second)); m.Status != podrecord.ImageMetaUnavailable {
		t.Fatalf("HTTPS to a plain HTTP registry: %+v", m)
	}
	o.Insecure = []string{host}
	if m := newLookup(t, o).Get(host+"/acme/x", d, time.Now().Add(5*time.Second)); m.Status != podrecord.ImageMetaOK {
		t.Fatalf("listed in insecure_registries: %+v", m)
	}
}

// TestIndex: a digest of a multi-platform index is read through the
// manifest of the collector's architecture (linux/<GOARCH>): its layers
// and platform, the index digest kept as the digest, the platform
// manifest's as Manifest.
func TestIndex(t *testing.T) {
	reg := registrytest.Start(nil)
	defer reg.Close()
	mine := must(registrytest.Image([]string{"mine-1", "mine-2"}, nil))
	other := must(registrytest.Image([]string{"other"}, nil))
	otherArch := "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "arm64"
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
	repo := reg.Host + "/acme/multi"
	ref, _ := name.ParseReference(repo + ":1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d := must(idx.Digest()).String()
	m := newLookup(t, opts()).Get(repo, d, time.Now().Add(5*time.Second))
	if m.Status != podrecord.ImageMetaOK || m.Digest != d || m.Manifest != must(mine.Digest()).String() || len(m.Layers) != 2 {
		t.Fatalf("index: %+v", m)
	}
}

// TestRateLimit: lookups start at most rate_limit a second: each takes
// the next slot, 1/rate_limit after the one before (the schedule, not the
// clock, is checked; the time the ten took is printed).
func TestRateLimit(t *testing.T) {
	o := opts()
	o.RateLimit = 50
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	start := time.Now()
	for range 10 {
		if !l.pace() {
			t.Fatal("stopped")
		}
	}
	took := time.Since(start)
	if span := l.next.Sub(start); span < 10*20*time.Millisecond {
		t.Fatalf("10 slots at 50/s span %v, want at least 200ms", span)
	}
	t.Logf("10 lookups paced at 50/s started over %v", took)
}
