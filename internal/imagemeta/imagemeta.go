// SPDX-License-Identifier: Apache-2.0

// Package imagemeta looks images up in their registries: for a repository
// and digest a pod ran, the manifest (layers, annotations), the config
// (platform, labels) and whether a cosign signature exists (the tag
// sha256-<hex>.sig in the same repository) with its simple-signing
// payloads. Lookups run in workers off the record path, at a bounded rate,
// each within a timeout; results are cached by repository and digest
// (a registry that could not be reached is tried again after a while).
// It uses github.com/google/go-containerregistry and knows nothing of the
// collector or the rules.
package imagemeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// OCI annotation keys read from the manifest, else the config's labels.
const (
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationRevision   = "org.opencontainers.image.revision"
	// CosignSignature is the annotation of a cosign signature layer that
	// holds the base64 signature of the layer's payload.
	CosignSignature = "dev.cosignproject.cosign/signature"
	// maxPayload bounds a signature payload read.
	maxPayload = 64 << 10
)

// Options configure a Lookup.
type Options struct {
	// DockerConfig is a docker config.json (or a pull secret's
	// .dockerconfigjson) with the registries' credentials; "": anonymous.
	DockerConfig string
	// Insecure are registries (host[:port]) reached over plain HTTP
	// (loopback and RFC 1918 addresses are anyway, as pkg/name has it).
	Insecure []string
	// Timeout bounds one lookup (manifest, config and signature).
	Timeout time.Duration
	// RateLimit is the most lookups started per second.
	RateLimit float64
	// Workers is how many lookups run at once.
	Workers int
	// CacheSize bounds the digests remembered (the oldest go first).
	CacheSize int
	// RetryUnavailable is how long an unavailable result stands, and how
	// long after a failure its registry is not waited for.
	RetryUnavailable time.Duration
	// Signatures looks for cosign signatures.
	Signatures bool
	// Transport is the HTTP transport (tests); nil: http.DefaultTransport.
	Transport http.RoundTripper
	// OnResult is called in the worker with each result (e.g. to verify
	// signatures off the rule path).
	OnResult func(*podrecord.ImageMeta)
}

// Stats count what the lookup did.
type Stats struct {
	Lookups, OK, Unavailable, NotFound, Dropped, Waited, WaitTimeouts, CacheHits uint64
	Cached                                                                       int
}

type entry struct {
	key, repo, digest string
	done              chan struct{}
	meta              *podrecord.ImageMeta // set before done is closed
}

// Lookup fetches and caches image metadata.
type Lookup struct {
	opts  Options
	kc    authn.Keychain
	tr    http.RoundTripper
	queue chan *entry
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	cache    map[string]*entry
	order    []string // insertion order, for eviction
	hostDown map[string]time.Time
	stats    Stats
	dirty    bool
	next     time.Time // rate limit: when the next lookup may start
}

// New makes a Lookup; Start runs its workers.
func New(opts Options) (*Lookup, error) {
	kc, err := loadKeychain(opts.DockerConfig)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.CacheSize < 1 {
		opts.CacheSize = 1
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	return &Lookup{opts: opts, kc: kc, tr: tr, queue: make(chan *entry, 1024), stop: make(chan struct{}),
		cache: map[string]*entry{}, hostDown: map[string]time.Time{}}, nil
}

// Start runs the workers.
func (l *Lookup) Start() {
	for range l.opts.Workers {
		l.wg.Add(1)
		go l.work()
	}
}

// Stop ends the workers; lookups under way are cancelled.
func (l *Lookup) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// Key is the cache key of a repository and digest.
func Key(repo, digest string) string { return repo + "@" + digest }

// Want starts a lookup of repo@digest unless one is cached or under way.
// It never blocks.
func (l *Lookup) Want(repo, digest string) {
	l.mu.Lock()
	l.want(repo, digest, time.Now())
	l.mu.Unlock()
}

func (l *Lookup) want(repo, digest string, now time.Time) *entry {
	if repo == "" || !strings.HasPrefix(digest, "sha256:") {
		return nil
	}
	k := Key(repo, digest)
	if e := l.cache[k]; e != nil {
		if e.meta == nil || e.meta.Status != podrecord.ImageMetaUnavailable || now.Sub(e.meta.FetchedAt) < l.opts.RetryUnavailable {
			return e
		}
	}
	e := &entry{key: k, repo: repo, digest: digest, done: make(chan struct{})}
	select {
	case l.queue <- e:
	default:
		l.stats.Dropped++
		return nil
	}
	if _, ok := l.cache[k]; !ok {
		l.order = append(l.order, k)
	}
	l.cache[k] = e
	for len(l.cache) > l.opts.CacheSize && len(l.order) > 0 {
		old := l.order[0]
		l.order = l.order[1:]
		if old != k {
			delete(l.cache, old)
		}
	}
	return e
}

// Get returns the metadata of repo@digest: cached, or waited for until
// deadline (a lookup is started if none is under way). It does not wait
// for a registry that failed within RetryUnavailable: the result is then
// unavailable at once. Nil digest or repository: nil. A lookup that has
// not finished by the deadline gives a pending result.
func (l *Lookup) Get(repo, digest string, deadline time.Time) *podrecord.ImageMeta {
	now := time.Now()
	l.mu.Lock()
	e := l.want(repo, digest, now)
	if e == nil {
		l.mu.Unlock()
		if repo == "" || digest == "" {
			return nil
		}
		return &podrecord.ImageMeta{Status: podrecord.ImageMetaPending, Digest: digest, Error: "lookup queue full"}
	}
	if e.meta != nil {
		l.stats.CacheHits++
		m := e.meta
		l.mu.Unlock()
		return m
	}
	host := registryOf(repo)
	if t, ok := l.hostDown[host]; ok && now.Sub(t) < l.opts.RetryUnavailable {
		l.mu.Unlock()
		return &podrecord.ImageMeta{Status: podrecord.ImageMetaUnavailable, Digest: digest, FetchedAt: now,
			Error: "registry " + host + " unreachable since " + t.UTC().Format(time.RFC3339)}
	}
	l.stats.Waited++
	l.mu.Unlock()
	wait := time.Until(deadline)
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-e.done:
			return e.meta
		case <-t.C:
		case <-l.stop:
		}
	} else {
		select {
		case <-e.done:
			return e.meta
		default:
		}
	}
	l.mu.Lock()
	l.stats.WaitTimeouts++
	l.mu.Unlock()
	return &podrecord.ImageMeta{Status: podrecord.ImageMetaPending, Digest: digest}
}

// Stats returns the counters.
func (l *Lookup) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Cached = len(l.cache)
	return s
}

func (l *Lookup) work() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		case e := <-l.queue:
			if !l.pace() {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
			go func() {
				select {
				case <-l.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			m := l.fetch(ctx, e.repo, e.digest)
			cancel()
			if l.opts.OnResult != nil {
				l.opts.OnResult(m)
			}
			l.mu.Lock()
			l.stats.Lookups++
			switch m.Status {
			case podrecord.ImageMetaOK:
				l.stats.OK++
				l.dirty = true
				delete(l.hostDown, registryOf(e.repo))
			case podrecord.ImageMetaNotFound:
				l.stats.NotFound++
				l.dirty = true
			default:
				l.stats.Unavailable++
				l.hostDown[registryOf(e.repo)] = m.FetchedAt
			}
			e.meta = m
			l.mu.Unlock()
			close(e.done)
		}
	}
}

// pace waits for the rate limit; false when stopped.
func (l *Lookup) pace() bool {
	if l.opts.RateLimit <= 0 {
		return true
	}
	interval := time.Duration(float64(time.Second) / l.opts.RateLimit)
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(interval)
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.stop:
			return false
		}
	}
	return true
}

// registryOf is the host of a repository (docker.io/library/nginx →
// docker.io).
func registryOf(repo string) string {
	h, _, _ := strings.Cut(repo, "/")
	return h
}

func (l *Lookup) nameOpts(repo string) []name.Option {
	for _, h := range l.opts.Insecure {
		if strings.EqualFold(h, registryOf(repo)) {
			return []name.Option{name.Insecure}
		}
	}
	return nil
}

// fetch reads repo@digest's manifest, config and signature.
func (l *Lookup) fetch(ctx context.Context, repo, digest string) *podrecord.ImageMeta {
	m := &podrecord.ImageMeta{Digest: digest, FetchedAt: time.Now()}
	fail := func(err error) *podrecord.ImageMeta {
		m.Status, m.Error = podrecord.ImageMetaUnavailable, err.Error()
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			m.Status = podrecord.ImageMetaNotFound
		}
		return m
	}
	ref, err := name.NewDigest(repo+"@"+digest, l.nameOpts(repo)...)
	if err != nil {
		m.Status, m.Error = podrecord.ImageMetaNotFound, err.Error()
		return m
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(l.kc), remote.WithTransport(l.tr)}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return fail(err)
	}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return fail(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return fail(err)
		}
		pick := -1
		for i, d := range im.Manifests {
			if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
				pick = i
				break
			}
		}
		if pick < 0 && len(im.Manifests) > 0 {
			pick = 0
		}
		if pick < 0 {
			return fail(errors.New("empty image index"))
		}
		m.Manifest = im.Manifests[pick].Digest.String()
		if img, err = idx.Image(im.Manifests[pick].Digest); err != nil {
			return fail(err)
		}
	} else if img, err = desc.Image(); err != nil {
		return fail(err)
	}
	mf, err := img.Manifest()
	if err != nil {
		return fail(err)
	}
	m.Config = mf.Config.Digest.String()
	for _, ld := range mf.Layers {
		m.Layers = append(m.Layers, ld.Digest.String())
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fail(err)
	}
	m.Platform = cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		m.Platform += "/" + cf.Variant
	}
	ann := func(k string) string {
		if v := mf.Annotations[k]; v != "" {
			return v
		}
		return cf.Config.Labels[k]
	}
	m.BaseDigest, m.BaseName, m.Source, m.Revision = ann(AnnotationBaseDigest), ann(AnnotationBaseName), ann(AnnotationSource), ann(AnnotationRevision)
	if l.opts.Signatures {
		if err := l.signatures(ref, digest, m, ropts); err != nil {
			return fail(fmt.Errorf("signature: %w", err))
		}
	}
	m.Status = podrecord.ImageMetaOK
	return m
}

// signatures reads the cosign signature manifest of digest, if any.
func (l *Lookup) signatures(ref name.Digest, digest string, m *podrecord.ImageMeta, ropts []remote.Option) error {
	tag := ref.Context().Tag(strings.Replace(digest, ":", "-", 1) + ".sig")
	img, err := remote.Image(tag, ropts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil // unsigned
		}
		return err
	}
	mf, err := img.Manifest()
	if err != nil {
		return err
	}
	m.Signed = true
	for _, ld := range mf.Layers {
		sig := ld.Annotations[CosignSignature]
		if sig == "" {
			continue
		}
		layer, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return err
		}
		payload, err := io.ReadAll(io.LimitReader(rc, maxPayload))
		rc.Close()
		if err != nil {
			return err
		}
		m.Signatures = append(m.Signatures, podrecord.ImageSignature{Payload: payload, Signature: sig})
	}
	return nil
}

// Snapshot is the cache's found results (ok, not_found) as JSON, and
// whether it changed since the last snapshot.
func (l *Lookup) Snapshot() ([]byte, bool) {
	l.mu.Lock()
	out := make(map[string]*podrecord.ImageMeta, len(l.cache))
	for _, k := range l.order {
		if e := l.cache[k]; e != nil && e.meta != nil && e.meta.Status != podrecord.ImageMetaUnavailable {
			out[k] = e.meta
		}
	}
	dirty := l.dirty
	l.dirty = false
	l.mu.Unlock()
	b, err := json.Marshal(out)
	if err != nil {
		return nil, false
	}
	return b, dirty
}

// Restore fills the cache from a Snapshot.
func (l *Lookup) Restore(data []byte) error {
	var in map[string]*podrecord.ImageMeta
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, m := range in {
		if m == nil || l.cache[k] != nil || len(l.cache) >= l.opts.CacheSize {
			continue
		}
		repo, digest, _ := strings.Cut(k, "@")
		e := &entry{key: k, repo: repo, digest: digest, done: make(chan struct{}), meta: m}
		close(e.done)
		l.cache[k] = e
		l.order = append(l.order, k)
	}
	return nil
}
