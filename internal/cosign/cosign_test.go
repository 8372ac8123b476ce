// SPDX-License-Identifier: Apache-2.0

package cosign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, err := MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pemText)
	if err != nil {
		t.Fatal(err)
	}
	const d = "sha256:5be1a7c3f0e3d5d1c0e1b2a3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d"
	payload := NewPayload("ghcr.io/acme/cart", d)
	sig, err := Sign(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := Sign(other, payload)
	tests := []struct {
		name, sig, digest string
		payload           []byte
		want              string
	}{
		{"signed by the key", sig, d, payload, ""},
		{"another key", bad, d, payload, "does not verify"},
		{"another digest", sig, "sha256:" + strings.Repeat("0", 64), payload, "payload signs"},
		{"payload changed", sig, d, append([]byte(" "), payload...), "does not verify"},
		{"not base64", "%%%", d, payload, "signature:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(pub, tt.payload, tt.sig, tt.digest)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Verify: %v, want %q", err, tt.want)
			}
		})
	}
	if SignatureTag(d) != "sha256-"+d[7:]+".sig" {
		t.Fatal(SignatureTag(d))
	}
	if _, err := ParsePublicKey("nope"); err == nil {
		t.Fatal("bad PEM accepted")
	}
}

func BenchmarkVerify(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const d = "sha256:5be1a7c3f0e3d5d1c0e1b2a3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d"
	payload := NewPayload("ghcr.io/acme/cart", d)
	sig, _ := Sign(key, payload)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(&key.PublicKey, payload, sig, d); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerify: any payload, signature and digest is an error or a
// verification, never a panic; a payload the key signed verifies only for
// the digest it names.
func FuzzVerify(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const d = "sha256:5be1a7c3f0e3d5d1c0e1b2a3f4e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d"
	p := NewPayload("ghcr.io/acme/cart", d)
	sig, _ := Sign(key, p)
	f.Add(p, sig, d)
	f.Add([]byte(`{"critical":{}}`), "", "")
	f.Add([]byte("not json"), "MEUCIQ==", d)
	f.Fuzz(func(t *testing.T, payload []byte, sig, digest string) {
		if err := Verify(&key.PublicKey, payload, sig, digest); err == nil {
			var want Payload
			_ = json.Unmarshal(payload, &want)
			if want.Critical.Image.DockerManifestDigest != digest {
				t.Fatalf("verified a payload for %q naming %q", digest, want.Critical.Image.DockerManifestDigest)
			}
		}
	})
}
