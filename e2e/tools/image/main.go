// SPDX-License-Identifier: Apache-2.0

// Command image builds the otelcol-podtrail container image without a Docker
// engine, with go-containerregistry, and serves the registry the e2e's node
// pulls it from (make e2e-helm, e2e/helm.sh).
//
//	image build -bin dist/otelcol-podtrail -ref 127.0.0.1:15001/podtrail/otelcol-podtrail:e2e \
//	    [-config default.yaml -rules rules/dir] [-oci out.tar]
//	image serve -listen 127.0.0.1:15001
//
// The image is what distributions/otelcol-podtrail/Dockerfile makes on
// distroless, from scratch: one layer with the static binary
// (/otelcol-podtrail), the CA certificates (/etc/ssl/certs/ca-certificates.crt),
// /etc/passwd and /etc/group naming the non-root user 10001 (nonroot),
// /tmp (1777), the default configuration and rules; the OCI config runs
// /otelcol-podtrail --config /etc/otelcol-podtrail/config.yaml as 10001:10001
// and exposes the collector's ports. Every file's time is the epoch, so the
// digest depends only on the files. build pushes the image to -ref (plain HTTP
// for a loopback registry) and prints its manifest digest; -oci also writes it
// as an OCI archive. serve runs go-containerregistry's in-memory registry
// (pushes and pulls), on loopback.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's non-root user and group (as the Dockerfile's USER).
const User = "10001:10001"

// file is one entry of the image's layer.
type file struct {
	name string // without a leading slash
	mode int64
	body []byte
	dir  bool
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image build|serve [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (build, serve)", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:15001", "address (keep it on loopback)")
	_ = fs.Parse(args)
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Printf("registry (go-containerregistry, push and pull) on %s", l.Addr())
	return http.Serve(l, registry.New())
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	bin := fs.String("bin", "", "the static otelcol-podtrail binary (make dist-binary)")
	ref := fs.String("ref", "", "image reference to push to (empty: no push)")
	ca := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA certificates bundle")
	config := fs.String("config", "", "default configuration (/etc/otelcol-podtrail/config.yaml)")
	rules := fs.String("rules", "", "folder with rules.yaml and inventory.yaml (/etc/otelcol-podtrail/rules)")
	oci := fs.String("oci", "", "also write the image as an OCI layout folder here")
	_ = fs.Parse(args)
	if *bin == "" {
		return errors.New("-bin is required")
	}
	img, err := Image(*bin, *ca, *config, *rules)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if *oci != "" {
		p, err := layout.Write(*oci, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img); err != nil {
			return err
		}
	}
	if *ref != "" {
		r, err := name.ParseReference(*ref, name.Insecure)
		if err != nil {
			return err
		}
		// credentials as docker and crane find them (~/.docker/config.json,
		// credential helpers); anonymous for the e2e's loopback registry
		if err := remote.Write(r, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", r, err)
		}
		log.Printf("pushed %s@%s", r.Context(), d)
	}
	fmt.Println(d)
	return nil
}

// Image builds the image from the binary and the files beside it.
func Image(bin, ca, config, rules string) (v1.Image, error) {
	prog, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	if !isStaticELF(prog) {
		return nil, fmt.Errorf("%s is not a static ELF binary (CGO_ENABLED=0 GOOS=linux: make dist-binary)", bin)
	}
	files := []file{
		{name: "etc", dir: true, mode: 0o755},
		{name: "etc/ssl", dir: true, mode: 0o755},
		{name: "etc/ssl/certs", dir: true, mode: 0o755},
		{name: "etc/otelcol-podtrail", dir: true, mode: 0o755},
		{name: "tmp", dir: true, mode: 0o1777},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:10001:10001:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:10001:\n")},
		{name: "otelcol-podtrail", mode: 0o755, body: prog},
	}
	if ca != "" {
		b, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		if !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
			return nil, fmt.Errorf("%s holds no certificate", ca)
		}
		files = append(files, file{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: b})
	}
	if config != "" {
		b, err := os.ReadFile(config)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: "etc/otelcol-podtrail/config.yaml", mode: 0o644, body: b})
	}
	if rules != "" {
		files = append(files, file{name: "etc/otelcol-podtrail/rules", dir: true, mode: 0o755})
		for _, f := range []string{"rules.yaml", "inventory.yaml"} {
			b, err := os.ReadFile(filepath.Join(rules, f))
			if err != nil {
				return nil, err
			}
			files = append(files, file{name: "etc/otelcol-podtrail/rules/" + f, mode: 0o644, body: b})
		}
	}
	layerTar, err := tarOf(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{"/otelcol-podtrail"},
		Cmd:        []string{"--config", "/etc/otelcol-podtrail/config.yaml"},
		WorkingDir: "/",
		Env:        []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		// 4317 OTLP gRPC, 4318 OTLP HTTP, 8443 audit webhook, 8888 metrics, 13133 health_check
		ExposedPorts: map[string]struct{}{"4317/tcp": {}, "4318/tcp": {}, "8443/tcp": {}, "8888/tcp": {}, "13133/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "otelcol-podtrail",
			"org.opencontainers.image.source":   "https://github.com/podtrail/podtrail",
			"org.opencontainers.image.licenses": "Apache-2.0",
		},
	}
	return mutate.ConfigFile(img, cf)
}

func isStaticELF(b []byte) bool {
	// ELF magic, and no PT_INTERP program header's path in the first pages
	return len(b) > 4 && string(b[:4]) == "\x7fELF" && !bytes.Contains(b[:min(len(b), 8192)], []byte("/lib64/ld-linux"))
}

func tarOf(files []file) ([]byte, error) {
	sort.SliceStable(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, strings.TrimSuffix(f.name, "/")+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
