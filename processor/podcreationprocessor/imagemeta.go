// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/imagemeta"
	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

// keyImageMetadata is attr.ImageMetadata: what the registries said of a
// record's images.
const keyImageMetadata = attr.ImageMetadata

// imageMetaStateKey is the storage key of the lookup's cache.
const imageMetaStateKey = "image_metadata"

// startImageMeta starts the lookup when image_metadata is enabled, with
// its cache restored from the storage.
func (p *podCreationProcessor) startImageMeta(ctx context.Context) error {
	c := p.cfg.ImageMetadata
	if !c.Enabled {
		return nil
	}
	l, err := imagemeta.New(imagemeta.Options{DockerConfig: c.DockerConfig, Insecure: c.InsecureRegistries, Timeout: c.Timeout,
		RateLimit: c.RateLimit, Workers: c.Workers, CacheSize: c.CacheSize, RetryUnavailable: c.RetryUnavailable, Signatures: c.Signatures,
		OnResult: p.prepareImage})
	if err != nil {
		return err
	}
	if p.client != nil {
		if data, err := p.client.Get(ctx, imageMetaStateKey); err == nil && len(data) > 0 {
			if err := l.Restore(data); err != nil {
				p.set.Logger.Warn("image metadata cache unreadable: starting empty", zap.Error(err))
			}
		}
	}
	l.Start()
	p.images = l
	s := l.Stats()
	p.set.Logger.Info("image metadata lookup on", zap.Int("cached", s.Cached), zap.Duration("wait", c.Wait), zap.Float64("rate_limit", c.RateLimit))
	return nil
}

// prepareImage verifies a looked-up image's signatures with the running
// rule set's keys, in the lookup's worker (off the rule path).
func (p *podCreationProcessor) prepareImage(m *podrecord.ImageMeta) {
	if p.rules != nil {
		p.rules.Engine().PrepareImage(m)
	}
}

// persistImageMeta writes the lookup's cache to the storage when it
// changed (every few seconds, and at shutdown).
func (p *podCreationProcessor) persistImageMeta(ctx context.Context) {
	if p.images == nil || p.client == nil {
		return
	}
	data, dirty := p.images.Snapshot()
	if !dirty {
		return
	}
	if err := p.client.Set(ctx, imageMetaStateKey, data); err != nil {
		p.set.Logger.Warn("writing the image metadata cache", zap.Error(err))
	}
}

// wantImage starts the lookup of the image a node pulled or has, as soon
// as its digest is known, so that it is done when the pod's record is.
func (p *podCreationProcessor) wantImage(ev *noderuntime.Event) {
	if p.images == nil || ev.RepoDigest == "" {
		return
	}
	repo, digest, ok := strings.Cut(ev.RepoDigest, "@")
	if !ok {
		return
	}
	if r := imageref.Parse(repo); r.Valid() {
		p.images.Want(r.Repository, digest)
	}
}

// imageKey is the repository and digest a container's image is looked up
// by: the spec's repository and the digest the node ran (or the spec pins).
func imageKey(c *podrecord.Container) (repo, digest string) {
	r := imageref.Parse(c.Image)
	if !r.Valid() {
		return "", ""
	}
	digest = c.Digest
	if digest == "" {
		digest = r.Digest
	}
	return r.Repository, digest
}

// attachImageMeta gives the records' containers their images' metadata:
// cached, or waited for until image_metadata.wait from now (lookups run
// meanwhile in the workers; a registry known to be down is not waited
// for). Called without the processor's lock, before the rules run.
func (p *podCreationProcessor) attachImageMeta(recs []*podrecord.Record) {
	if p.images == nil {
		return
	}
	for _, r := range recs {
		if r.Update != "" {
			continue
		}
		for i := range r.Containers {
			if repo, d := imageKey(&r.Containers[i]); d != "" {
				p.images.Want(repo, d)
			}
		}
	}
	deadline := time.Now().Add(p.cfg.ImageMetadata.Wait)
	for _, r := range recs {
		if r.Update != "" {
			continue
		}
		for i := range r.Containers {
			c := &r.Containers[i]
			if c.Meta() != nil {
				continue
			}
			if repo, d := imageKey(c); d != "" {
				c.SetMeta(p.images.Get(repo, d, deadline))
			}
		}
	}
}

// putImageMeta writes what the registries said of the record's images:
// podtrail.image.metadata and, on each container entry, image_metadata,
// layers, base_digest, base_name, image_source, image_revision, platform,
// signed.
func putImageMeta(lr plog.LogRecord, r *podrecord.Record) {
	worst, rank := "", map[string]int{podrecord.ImageMetaOK: 1, podrecord.ImageMetaNotFound: 2, podrecord.ImageMetaPending: 3, podrecord.ImageMetaUnavailable: 4}
	cs, hasList := lr.Attributes().Get(attr.PodContainers)
	for i := range r.Containers {
		m := r.Containers[i].Meta()
		if m == nil {
			continue
		}
		if rank[m.Status] > rank[worst] {
			worst = m.Status
		}
		if !hasList || i >= cs.Slice().Len() {
			continue
		}
		e := cs.Slice().At(i).Map()
		e.PutStr("image_metadata", m.Status)
		if len(m.Layers) > 0 {
			ls := e.PutEmptySlice("layers")
			for _, l := range m.Layers {
				ls.AppendEmpty().SetStr(l)
			}
		}
		put(e, "base_digest", m.BaseDigest)
		put(e, "base_name", m.BaseName)
		put(e, "image_source", m.Source)
		put(e, "image_revision", m.Revision)
		put(e, "platform", m.Platform)
		if m.Status == podrecord.ImageMetaOK {
			e.PutBool("signed", m.Signed)
		}
		put(e, "image_metadata_error", m.Error)
	}
	if worst != "" {
		lr.Attributes().PutStr(keyImageMetadata, worst)
	}
}

// lineageTelemetry registers the meters of the image metadata lookup and
// the blind spots (metadata.yaml: pod_creation_image_lookups,
// pod_creation_image_cache_hits, pod_creation_blind_spots).
func (p *podCreationProcessor) lineageTelemetry(tb *metadata.TelemetryBuilder) error {
	return errors.Join(
		tb.RegisterPodCreationImageLookupsCallback(func(_ context.Context, o metric.Int64Observer) error {
			if p.images != nil {
				s := p.images.Stats()
				o.Observe(int64(s.OK), metric.WithAttributes(attribute.String("status", podrecord.ImageMetaOK)))
				o.Observe(int64(s.NotFound), metric.WithAttributes(attribute.String("status", podrecord.ImageMetaNotFound)))
				o.Observe(int64(s.Unavailable), metric.WithAttributes(attribute.String("status", podrecord.ImageMetaUnavailable)))
			}
			return nil
		}),
		tb.RegisterPodCreationImageCacheHitsCallback(func(_ context.Context, o metric.Int64Observer) error {
			if p.images != nil {
				o.Observe(int64(p.images.Stats().CacheHits))
			}
			return nil
		}),
		tb.RegisterPodCreationBlindSpotsCallback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			n := p.blind.Active()
			p.mu.Unlock()
			o.Observe(int64(n))
			return nil
		}),
	)
}
