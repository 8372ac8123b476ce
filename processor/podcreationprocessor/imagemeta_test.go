// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/cosign"
	"github.com/podtrail/podtrail/internal/imagemeta"
	"github.com/podtrail/podtrail/internal/imagemeta/registrytest"
	"github.com/podtrail/podtrail/internal/storagetest"
)

func mustT[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		require.NoError(t, err)
		return v
	}
}

// findingsOf maps each pod name to the rule ids of its findings.
func findingsOf(lrs []plog.LogRecord) map[string][]string {
	out := map[string][]string{}
	for _, lr := range lrs {
		n := str(lr, attr.K8sPodName)
		out[n] = append(out[n], str(lr, attr.RuleID))
	}
	return out
}

// TestImageMetadata: with image_metadata on, the pods' images are looked
// up in a real (in-memory) registry: the record carries the layers, base
// annotation and signature state, and the pack's lineage rules fire on an
// image built on the approved one and on an unsigned image whose
// repository requires a signature, not on the approved or the signed one.
// With the registry stopped, records say unavailable and are not held up.
func TestImageMetadata(t *testing.T) {
	must := mustT[string](t)
	reg := registrytest.Start(nil)
	key := mustT[*ecdsa.PrivateKey](t)(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	base := mustT[imageT](t)(registrytest.Image([]string{"base-1", "base-2"}, nil))
	approvedRepo, lookalike, signedRepo := reg.Host+"/acme/base", reg.Host+"/acme-corp/base", reg.Host+"/acme/signed"
	approved := must(registrytest.Push(approvedRepo+":1.0", base))
	derivedImg := mustT[imageT](t)(registrytest.Extend(base, "extra", map[string]string{imagemeta.AnnotationBaseDigest: approved}))
	derived := must(registrytest.Push(lookalike+":1.0", derivedImg))
	signedImg := mustT[imageT](t)(registrytest.Image([]string{"signed"}, nil))
	signed := must(registrytest.Push(signedRepo+":1", signedImg))
	require.NoError(t, registrytest.Sign(signedRepo, signed, key))
	unsigned := must(registrytest.Push(signedRepo+":2", mustT[imageT](t)(registrytest.Image([]string{"unsigned"}, nil))))
	layers := must(func() (string, error) {
		m, err := base.Manifest()
		if err != nil {
			return "", err
		}
		return m.Layers[0].Digest.String() + ", " + m.Layers[1].Digest.String(), nil
	}())

	pemText := must(cosign.MarshalPublicKey(&key.PublicKey))
	inv := filepath.Join(t.TempDir(), "lineage.yaml")
	require.NoError(t, os.WriteFile(inv, fmt.Appendf(nil, "images:\n  - {repository: %q, tags: [\"1.0\"], digests: [%s], layers: [%s]}\n  - {repository: %q, signed_by: [release]}\nsigning_keys:\n  release: %q\n",
		approvedRepo, approved, layers, signedRepo, pemText), 0o600))
	cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	cfg.Rules.InventoryFiles = []string{inv}
	cfg.ImageMetadata.Enabled = true
	cfg.ImageMetadata.Wait = 5 * time.Second
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p, sink := newTestProcessor(t, cfg, tel)
	ctx := context.Background()
	user := map[string]any{"username": "alice@example.com"}
	pods := []struct{ name, image string }{
		{"approved", approvedRepo + ":1.0@" + approved},
		{"derived", lookalike + ":1.0@" + derived},
		{"signed", signedRepo + ":1@" + signed},
		{"unsigned", signedRepo + ":2@" + unsigned},
	}
	for i, pd := range pods {
		require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent(fmt.Sprintf("a%d", i), "team", pd.name, "u"+pd.name, user, pd.image), nil)))
	}
	recs := byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, len(pods))
	entry := func(lr plog.LogRecord) map[string]any {
		v, _ := lr.Attributes().Get(attr.PodContainers)
		return v.Slice().At(0).Map().AsRaw()
	}
	for _, lr := range recs {
		require.Equal(t, "ok", str(lr, keyImageMetadata), str(lr, attr.K8sPodName))
	}
	d := entry(recs[1])
	require.Len(t, d["layers"], 3)
	require.Equal(t, approved, d["base_digest"])
	require.Equal(t, false, d["signed"])
	require.Equal(t, "linux/amd64", d["platform"])
	require.Equal(t, true, entry(recs[2])["signed"])

	lineage := map[string][]string{}
	for pod, ids := range findingsOf(byEvent(sink, attr.EventFinding)) {
		for _, id := range ids {
			if id == "PT-0051" || id == "PT-0052" || id == "PT-0053" {
				lineage[pod] = append(lineage[pod], id)
			}
		}
	}
	require.Equal(t, map[string][]string{"derived": {"PT-0051"}, "unsigned": {"PT-0053"}}, lineage)

	// the registry stops: new digests' records say unavailable, at once
	reg.Close()
	gone := "sha256:" + strings.Repeat("3", 64)
	start := time.Now()
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("b1", "team", "down-1", "udown1", user, signedRepo+":9@"+gone), nil)))
	first := time.Since(start)
	start = time.Now()
	gone2 := "sha256:" + strings.Repeat("4", 64)
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("b2", "team", "down-2", "udown2", user, signedRepo+":9@"+gone2), nil)))
	second := time.Since(start)
	recs = byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, len(pods)+2)
	for _, lr := range recs[len(pods):] {
		require.Equal(t, "unavailable", str(lr, keyImageMetadata))
		require.NotEmpty(t, entry(lr)["image_metadata_error"])
	}
	require.Less(t, second, time.Second, "a registry known to be down is not waited for")
	t.Logf("registry stopped: first record %v (connection refused), next %v (not waited for)", first, second)
	// cached results do not go back to the registry
	s := p.images.Stats()
	t.Logf("lookups %d ok %d unavailable %d cache hits %d", s.Lookups, s.OK, s.Unavailable, s.CacheHits)
	require.Equal(t, uint64(4), s.OK)
	require.Equal(t, int64(s.OK+s.Unavailable), sum(t, tel, "otelcol_pod_creation_image_lookups"))
	require.Equal(t, int64(s.CacheHits), sum(t, tel, "otelcol_pod_creation_image_cache_hits"))
}

type imageT = v1.Image

// TestImageMetadataCachePersisted: with correlation.storage, the lookup's
// cache is written to file_storage and read back at start: after a
// restart with the registry gone, a record of an image looked up before
// still has its metadata (ok), one never looked up says unavailable.
func TestImageMetadataCachePersisted(t *testing.T) {
	reg := registrytest.Start(nil)
	repo := reg.Host + "/acme/app"
	d := mustT[string](t)(registrytest.Push(repo+":1", mustT[imageT](t)(registrytest.Image([]string{"a", "b"}, nil))))
	host, id := storagetest.NewFileStorageHost(t, t.TempDir())
	cfg := auditOnly()
	cfg.Correlation.Storage = &id
	cfg.ImageMetadata.Enabled = true
	user := map[string]any{"username": "alice@example.com"}
	ctx := context.Background()

	sink := new(consumertest.LogsSink)
	p := newDeliveryProcessor(t, cfg, sink, nil, host)
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("c1", "team", "one", "u1", user, repo+":1@"+d), nil)))
	require.Equal(t, "ok", str(byEvent(sink, attr.EventPodCreation)[0], keyImageMetadata))
	require.NoError(t, p.Shutdown(ctx))
	reg.Close()

	sink = new(consumertest.LogsSink)
	p = newDeliveryProcessor(t, cfg, sink, nil, host)
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("c2", "team", "two", "u2", user, repo+":1@"+d), nil)))
	other := "sha256:" + strings.Repeat("5", 64)
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("c3", "team", "three", "u3", user, repo+":2@"+other), nil)))
	recs := byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, 2)
	require.Equal(t, "ok", str(recs[0], keyImageMetadata), "restored from the storage")
	require.Equal(t, "unavailable", str(recs[1], keyImageMetadata))
	require.Equal(t, uint64(0), p.images.Stats().OK, "no lookup of the cached digest")
}
