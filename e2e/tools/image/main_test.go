// SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeStatic is an ELF header without an interpreter: what Image accepts as
// a static binary.
func fakeStatic(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "otelcol-podtrail")
	if err := os.WriteFile(p, append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImage(t *testing.T) {
	dir := t.TempDir()
	bin := fakeStatic(t, dir)
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Image(bin, ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "10001:10001" || strings.Join(cf.Config.Entrypoint, " ") != "/otelcol-podtrail" || cf.OS != "linux" {
		t.Errorf("config: user %q entrypoint %v os %s", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}
	files := map[string]*tar.Header{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
	}
	for _, f := range []string{"otelcol-podtrail", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "etc/group", "tmp"} {
		if files[f] == nil {
			t.Errorf("no %s in the image (%d entries)", f, len(files))
		}
	}
	if h := files["otelcol-podtrail"]; h != nil && h.Mode&0o111 == 0 {
		t.Errorf("the binary is not executable: %o", h.Mode)
	}
	// the same inputs give the same digest
	again, _ := Image(bin, ca, "", "")
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("digests differ: %s %s", d1, d2)
	}
	// a dynamically linked binary is refused
	dyn := filepath.Join(dir, "dyn")
	_ = os.WriteFile(dyn, append([]byte("\x7fELF/lib64/ld-linux-x86-64.so.2"), make([]byte, 64)...), 0o755)
	if _, err := Image(dyn, ca, "", ""); err == nil {
		t.Error("a dynamically linked binary was taken")
	}
}

// TestPushAndPull: build pushes to the registry serve runs (go-containerregistry's),
// and the image pulled back has the digest build printed.
func TestPushAndPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	dir := t.TempDir()
	img, err := Image(fakeStatic(t, dir), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/podtrail/otelcol-podtrail:e2e", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled %s, pushed %s", d, want)
	}
}
