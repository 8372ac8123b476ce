// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/cosign"
	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// digests of the lineage tests: layers l1..l3, the approved image, its
// re-push, the derived images.
func dg(s string) string {
	return "sha256:" + strings.Repeat(fmt.Sprintf("%x", len(s)%16), 64-len(fmt.Sprintf("%x", s))) + fmt.Sprintf("%x", s)
}

var (
	l1, l2, l3          = dg("l1"), dg("l2"), dg("l3")
	approvedDigest      = dg("approved")
	movedDigest         = dg("moved")
	derivedDigest       = dg("derived")
	signedDigest        = dg("signed")
	lineageTestRepo     = "registry.example.com/acme/base"
	lineageSignedRepo   = "registry.example.com/acme/signed"
	lineageInventoryFmt = `images:
  - repository: %s
    tags: ["1.0"]
    digests: [%s]
    layers: [%s, %s]
  - repository: %s
    signed_by: [release]
signing_keys:
  release: |
%s
`
)

// lineageEngine is the default pack with an inventory layer declaring an
// approved image's layers and digest and a repository whose images must be
// signed with key.
func lineageEngine(t testing.TB, key *ecdsa.PrivateKey) *Engine {
	t.Helper()
	pemText, err := cosign.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var indented strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(pemText), "\n") {
		indented.WriteString("    " + line + "\n")
	}
	inv := filepath.Join(t.TempDir(), "lineage.yaml")
	body := fmt.Sprintf(lineageInventoryFmt, lineageTestRepo, approvedDigest, l1, l2, lineageSignedRepo, strings.TrimRight(indented.String(), "\n"))
	if err := os.WriteFile(inv, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	src := packSources
	src.Inventory = append(slices.Clone(src.Inventory), inv)
	e, err := LoadSources(src)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lineageRecord(image, digest string, m *podrecord.ImageMeta) *podrecord.Record {
	r := &podrecord.Record{AuditID: "a1", Namespace: "shop", Name: "app-1", Allowed: true, Code: 201, Origin: "api",
		Actor: podrecord.Actor{Username: "system:serviceaccount:kube-system:replicaset-controller", Kind: "controller"}, Channel: "controller",
		Sources: []string{"audit"}, Containers: []podrecord.Container{{Name: "app", Image: image, Type: "container", Digest: digest}}}
	if m != nil {
		r.Containers[0].SetMeta(m)
	}
	return r
}

func signed(t testing.TB, key *ecdsa.PrivateKey, repo, digest string) []podrecord.ImageSignature {
	p := cosign.NewPayload(repo, digest)
	s, err := cosign.Sign(key, p)
	if err != nil {
		t.Fatal(err)
	}
	return []podrecord.ImageSignature{{Payload: p, Signature: s}}
}

// TestLineageRules: the pack's PT-0051 (built on an approved image),
// PT-0052 (approved tag moved) and PT-0053 (signature required) on records
// whose images' registry metadata is attached; the approved images give
// none of them; images whose metadata is unknown are not judged.
func TestLineageRules(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := lineageEngine(t, key)
	ok := func(m *podrecord.ImageMeta) *podrecord.ImageMeta { m.Status = podrecord.ImageMetaOK; return m }
	approvedMeta := ok(&podrecord.ImageMeta{Digest: approvedDigest, Layers: []string{l1, l2}})
	derivedMeta := ok(&podrecord.ImageMeta{Digest: derivedDigest, Layers: []string{l1, l2, l3}})
	lineage := []string{"PT-0051", "PT-0052", "PT-0053"}
	tests := []struct {
		name   string
		rec    *podrecord.Record
		fires  []string
		output map[string]string
	}{
		{"the approved image by its approved tag", lineageRecord(lineageTestRepo+":1.0", approvedDigest, approvedMeta), nil, nil},
		{"the approved image, no metadata", lineageRecord(lineageTestRepo+":1.0", approvedDigest, nil), nil, nil},
		{"built on the approved image, lookalike repository", lineageRecord("registry.example.com/acme-corp/base:1.0", derivedDigest, derivedMeta),
			[]string{"PT-0051"}, map[string]string{"lineage": "registry.example.com/acme-corp/base:1.0 extends " + lineageTestRepo}},
		{"built on the approved image, new tag of the approved repository", lineageRecord(lineageTestRepo+":1.1", derivedDigest, derivedMeta),
			[]string{"PT-0051"}, nil},
		{"built on it by its base annotation", lineageRecord("registry.example.com/team/app:3", dg("byannotation"),
			ok(&podrecord.ImageMeta{Digest: dg("byannotation"), Layers: []string{l3}, BaseDigest: approvedDigest})), []string{"PT-0051"}, nil},
		{"the same layers, nothing added: not built on it", lineageRecord("registry.example.com/team/copy:1", dg("copy"),
			ok(&podrecord.ImageMeta{Digest: dg("copy"), Layers: []string{l1, l2}})), nil, nil},
		{"other layers", lineageRecord("registry.example.com/team/other:1", dg("other"),
			ok(&podrecord.ImageMeta{Digest: dg("other"), Layers: []string{l2, l1, l3}})), nil, nil},
		{"approved tag re-pushed to other content", lineageRecord(lineageTestRepo+":1.0", movedDigest,
			ok(&podrecord.ImageMeta{Digest: movedDigest, Layers: []string{l3}})), []string{"PT-0052"},
			map[string]string{"moved": lineageTestRepo + ":1.0 resolves to " + movedDigest}},
		{"approved tag moved, known from the node alone", lineageRecord(lineageTestRepo+":1.0", movedDigest, nil), []string{"PT-0052"}, nil},
		{"signed with the listed key", lineageRecord(lineageSignedRepo+":2", signedDigest,
			ok(&podrecord.ImageMeta{Digest: signedDigest, Signed: true, Signatures: signed(t, key, lineageSignedRepo, signedDigest)})),
			nil, nil},
		{"unsigned where a signature is required", lineageRecord(lineageSignedRepo+":3", dg("unsigned"),
			ok(&podrecord.ImageMeta{Digest: dg("unsigned")})), []string{"PT-0053"},
			map[string]string{"signature": lineageSignedRepo + ":3: unsigned"}},
		{"signed with another key", lineageRecord(lineageSignedRepo+":4", dg("other-key"),
			ok(&podrecord.ImageMeta{Digest: dg("other-key"), Signed: true, Signatures: signed(t, other, lineageSignedRepo, dg("other-key"))})),
			[]string{"PT-0053"}, map[string]string{"signature": lineageSignedRepo + ":4: signature not verified by release"}},
		{"a signature of another digest", lineageRecord(lineageSignedRepo+":5", dg("replayed"),
			ok(&podrecord.ImageMeta{Digest: dg("replayed"), Signed: true, Signatures: signed(t, key, lineageSignedRepo, signedDigest)})),
			[]string{"PT-0053"}, nil},
		{"registry unavailable: not judged", lineageRecord(lineageSignedRepo+":6", dg("down"),
			&podrecord.ImageMeta{Status: podrecord.ImageMetaUnavailable, Digest: dg("down")}), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, errs := e.Evaluate(tt.rec)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var got []string
			for _, f := range fs {
				if slices.Contains(lineage, f.RuleID) {
					got = append(got, f.RuleID)
					for k, v := range tt.output {
						if f.Value(k) != v {
							t.Errorf("%s output %s = %q, want %q", f.RuleID, k, f.Value(k), v)
						}
					}
				}
			}
			if !slices.Equal(got, tt.fires) {
				t.Errorf("fired %v, want %v", got, tt.fires)
			}
		})
	}
}

// TestLineageFunctions: imageSigners, imageMetadata, PrepareImage.
func TestLineageFunctions(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := lineageEngine(t, key)
	m := &podrecord.ImageMeta{Status: podrecord.ImageMetaOK, Digest: signedDigest, Signed: true, Signatures: signed(t, key, lineageSignedRepo, signedDigest)}
	e.PrepareImage(m) // the lookup's worker: verified before any rule reads it
	r := lineageRecord(lineageSignedRepo+":2", signedDigest, m)
	if got := e.index.imageSigners(r); got != "release" {
		t.Errorf("imageSigners = %q", got)
	}
	if got := imageMetadata(r); got != "ok" {
		t.Errorf("imageMetadata = %q", got)
	}
	r.Containers = append(r.Containers, podrecord.Container{Name: "b", Image: "x"})
	r.Containers[1].SetMeta(&podrecord.ImageMeta{Status: podrecord.ImageMetaUnavailable})
	if got := imageMetadata(r); got != "unavailable" {
		t.Errorf("imageMetadata = %q", got)
	}
	if got := imageMetadata(lineageRecord("x", "", nil)); got != "" {
		t.Errorf("imageMetadata without lookups = %q", got)
	}
}

// TestLineageInventory: bad declarations fail to load, naming the file.
func TestLineageInventory(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"images:\n  - repository: ghcr.io/acme/x\n    layers: [abc]\n", `layers[0]: "abc" is not a sha256 digest`},
		{"signing_keys:\n  k: not a key\n", "signing_keys[k]: no PEM block"},
		{"images:\n  - repository: ghcr.io/acme/x\n    signed_by: [\"\"]\n", "signed_by: empty key name"},
	} {
		f := filepath.Join(t.TempDir(), "inv.yaml")
		if err := os.WriteFile(f, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := inventory.Load(f)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), f) {
			t.Errorf("%q: %v, want %q", tt.body, err, tt.want)
		}
	}
}

// BenchmarkLineagePack is the default pack on a record whose image's
// metadata is attached and whose signature was verified by PrepareImage
// (what the rules see on the gateway with image_metadata on): p50 of
// single evaluations, which must stay within the pack's 10 µs budget.
func BenchmarkLineagePack(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e := lineageEngine(b, key)
	for _, bc := range []struct {
		name string
		r    *podrecord.Record
	}{
		{"signed", lineageRecord(lineageSignedRepo+":2", signedDigest, &podrecord.ImageMeta{Status: podrecord.ImageMetaOK, Digest: signedDigest,
			Layers: []string{l1, l2, l3}, Signed: true, Signatures: signed(b, key, lineageSignedRepo, signedDigest)})},
		{"derived", lineageRecord("registry.example.com/acme-corp/base:1.0", derivedDigest, &podrecord.ImageMeta{Status: podrecord.ImageMetaOK,
			Digest: derivedDigest, Layers: []string{l1, l2, l3}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e.PrepareImage(bc.r.Containers[0].Meta())
			_, _ = e.Evaluate(bc.r)
			times := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_, _ = e.Evaluate(bc.r)
				times = append(times, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
		})
	}
}
