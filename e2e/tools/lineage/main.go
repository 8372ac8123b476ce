// SPDX-License-Identifier: Apache-2.0

// Command lineage serves the registry of the e2e's lineage phase
// (e2e/lineage.sh) and fills it with go-containerregistry: an approved
// image, one built on it with one layer more (under a lookalike repository
// and under the approved repository with a new tag), an approved tag pushed
// again to other content, a signed and an unsigned image of a repository
// that requires signatures (the signature made here with a generated ECDSA
// P-256 key, in cosign's format: a manifest tagged sha256-<hex>.sig whose
// layer is the simple-signing payload, the signature in its annotation),
// and an approved image used while the registry is stopped. Every image
// runs the e2e's sleeper.
//
//	lineage -listen 127.0.0.1:15002 -bin sleeper -out DIR
//
// It writes DIR/inventory.yaml (the inventory layer that approves and
// declares them: layers, digests, signed_by and the public key) and
// DIR/images.txt (one line per pod the phase runs: name, image reference,
// the digest it resolves to), prints "ready" and serves until killed.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cosign's simple-signing layer and the annotation of its signature.
const (
	cosignMediaType  = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignAnnotation = "dev.cosignproject.cosign/signature"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:15002", "registry address (loopback)")
	bin := flag.String("bin", "", "the sleeper binary every image runs")
	out := flag.String("out", "", "directory for inventory.yaml and images.txt")
	flag.Parse()
	if *bin == "" || *out == "" {
		log.Fatal("lineage: -bin and -out are required")
	}
	prog, err := os.ReadFile(*bin)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { log.Fatal(srv.Serve(ln)) }()
	if err := fill(*listen, prog, *out); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")
	select {}
}

// layer is a tar layer of one file.
func layer(path string, mode int64, body []byte) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: mode, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return static.NewLayer(b.Bytes(), types.OCIUncompressedLayer), nil
}

// base is the sleeper with /etc/release naming it.
func base(prog []byte, release string) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{"/sleeper"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	l1, err := layer("sleeper", 0o755, prog)
	if err != nil {
		return nil, err
	}
	l2, err := layer("etc/release", 0o644, []byte(release+"\n"))
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(img, l1, l2)
}

// extend adds one file layer and annotations.
func extend(img v1.Image, file, body string, ann map[string]string) (v1.Image, error) {
	l, err := layer(file, 0o644, []byte(body))
	if err != nil {
		return nil, err
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		return nil, err
	}
	if len(ann) > 0 {
		out = mutate.Annotations(out, ann).(v1.Image)
	}
	return out, nil
}

func push(ref string, img v1.Image) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	return d.String(), err
}

// sign pushes a cosign signature of repo@digest made with key.
func sign(repo, digest string, key *ecdsa.PrivateKey) error {
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return err
	}
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(payload, cosignMediaType),
		Annotations: map[string]string{cosignAnnotation: base64.StdEncoding.EncodeToString(sig)}})
	if err != nil {
		return err
	}
	_, err = push(repo+":"+strings.Replace(digest, ":", "-", 1)+".sig", img)
	return err
}

func layersOf(img v1.Image) ([]string, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out, nil
}

func fill(host string, prog []byte, dir string) error {
	r := func(p string) string { return host + "/" + p }
	var lines []string
	add := func(pod, ref, digest string) { lines = append(lines, pod+" "+ref+" "+digest) }

	approved, err := base(prog, "acme app 1.0")
	if err != nil {
		return err
	}
	a, err := push(r("acme/app:1.0"), approved)
	if err != nil {
		return err
	}
	approvedLayers, err := layersOf(approved)
	if err != nil {
		return err
	}
	add("lin-approved", r("acme/app:1.0"), a)

	derived, err := extend(approved, "etc/extra", "one layer more\n",
		map[string]string{"org.opencontainers.image.base.name": r("acme/app:1.0"), "org.opencontainers.image.source": "https://example.com/mallory/app"})
	if err != nil {
		return err
	}
	d, err := push(r("acme-corp/app:1.0"), derived)
	if err != nil {
		return err
	}
	if _, err := push(r("acme/app:1.1"), derived); err != nil {
		return err
	}
	add("lin-derived-lookalike", r("acme-corp/app:1.0"), d)
	add("lin-derived-tag", r("acme/app:1.1"), d)

	web, err := base(prog, "acme web 2.0")
	if err != nil {
		return err
	}
	w1, err := push(r("acme/web:2.0"), web)
	if err != nil {
		return err
	}
	repushed, err := base(prog, "acme web 2.0, pushed again")
	if err != nil {
		return err
	}
	w2, err := push(r("acme/web:2.0"), repushed)
	if err != nil {
		return err
	}
	add("lin-moved", r("acme/web:2.0"), w2)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	signedImg, err := base(prog, "acme signed 1")
	if err != nil {
		return err
	}
	s, err := push(r("acme/signed:1"), signedImg)
	if err != nil {
		return err
	}
	if err := sign(r("acme/signed"), s, key); err != nil {
		return err
	}
	add("lin-signed", r("acme/signed:1"), s)
	unsignedImg, err := base(prog, "acme signed 2, never signed")
	if err != nil {
		return err
	}
	u, err := push(r("acme/signed:2"), unsignedImg)
	if err != nil {
		return err
	}
	add("lin-unsigned", r("acme/signed:2"), u)

	extra, err := base(prog, "acme extra 1")
	if err != nil {
		return err
	}
	x, err := push(r("acme/extra:1"), extra)
	if err != nil {
		return err
	}
	add("lin-down", r("acme/extra:1"), x)

	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	inv := fmt.Sprintf(`# the e2e lineage phase's inventory layer (e2e/tools/lineage): merged after
# the pack's inventory by the phase-3 gateway
images:
  - repository: %s
    tags: ["1.0"]
    digests: [%s]
    layers: [%s]
  - repository: %s
    tags: ["2.0"]
    digests: [%s]   # the tag was pushed again since: %s
  - repository: %s
    signed_by: [e2e-release]
  - repository: %s
signing_keys:
  e2e-release: |
    %s
`, r("acme/app"), a, strings.Join(approvedLayers, ", "), r("acme/web"), w1, w2, r("acme/signed"), r("acme/extra"),
		strings.ReplaceAll(pub, "\n", "\n    "))
	if err := os.WriteFile(filepath.Join(dir, "inventory.yaml"), []byte(inv), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "images.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
