// SPDX-License-Identifier: Apache-2.0

// Command registry is a read-only OCI distribution registry on a loopback
// address, serving images made of one static binary (cmd/sleeper). The test
// machine reaches no registry, so containerd's mirrors for registry.k8s.io and
// docker.io point here: the kubelet pulls the pause image and the workloads'
// images as on a real node, and containerd logs the pulls with repo digests.
//
//	registry -listen 127.0.0.1:15000 -bin sleeper
//	registry -bin sleeper -digest docker.io/library/nginx    # print a repository's manifest digest
//	registry -bin sleeper -export img.tar -name docker.io/library/preloaded:1.0
//	    # the same image as an OCI archive for `ctr images import` (an image
//	    # that reaches the node without a pull)
//
// Any repository and tag is served; an image's content depends only on the
// binary and the repository's name (without the registry host), so a
// digest is the same across runs with the same binary. The entrypoint is
// /pause for repositories named pause, else /sleeper.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const manifestType = "application/vnd.oci.image.manifest.v1+json"

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type image struct {
	manifest []byte
	digest   string
	blobs    map[string][]byte
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// repoName drops a registry host: docker.io/library/nginx and library/nginx
// are one image.
func repoName(repo string) string {
	if i := strings.IndexByte(repo, '/'); i > 0 && strings.ContainsAny(repo[:i], ".:") {
		repo = repo[i+1:]
	}
	return repo
}

func build(prog []byte, repo string) (*image, error) {
	repo = repoName(repo)
	entry := "/sleeper"
	if repo == "pause" || strings.HasSuffix(repo, "/pause") {
		entry = "/pause"
	}
	epoch := time.Unix(0, 0).UTC()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(entry, "/"), Mode: 0o755, Size: int64(len(prog)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(prog); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	ld := digestOf(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": []string{entry},
			"WorkingDir": "/",
			"Labels":     map[string]string{"org.opencontainers.image.title": repo},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{ld}},
	})
	if err != nil {
		return nil, err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     manifestType,
		"config":        descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digestOf(config), Size: int64(len(config))},
		"layers":        []descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: ld, Size: int64(layer.Len())}},
	})
	if err != nil {
		return nil, err
	}
	return &image{
		manifest: manifest,
		digest:   digestOf(manifest),
		blobs:    map[string][]byte{digestOf(config): config, ld: layer.Bytes()},
	}, nil
}

type server struct {
	prog   []byte
	mu     sync.Mutex
	images map[string]*image // by repository
}

func (s *server) image(repo string) (*image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo = repoName(repo)
	if im, ok := s.images[repo]; ok {
		return im, nil
	}
	im, err := build(s.prog, repo)
	if err != nil {
		return nil, err
	}
	s.images[repo] = im
	return im, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log.Printf("%s %s", r.Method, r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == "" || p == r.URL.Path {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.WriteHeader(http.StatusOK)
		return
	}
	var repo, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			repo, kind, ref = p[:i], strings.Trim(k, "/"), p[i+len(k):]
			break
		}
	}
	if repo == "" {
		http.NotFound(w, r)
		return
	}
	im, err := s.image(repo)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var body []byte
	switch kind {
	case "manifests":
		if strings.HasPrefix(ref, "sha256:") && ref != im.digest {
			http.NotFound(w, r)
			return
		}
		body = im.manifest
		w.Header().Set("Content-Type", manifestType)
		w.Header().Set("Docker-Content-Digest", im.digest)
	case "blobs":
		b, ok := im.blobs[ref]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body = b
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", ref)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// export writes the image of name's repository as an OCI image layout in a
// tar archive, named by the io.containerd.image.name annotation that
// `ctr images import` reads.
func (s *server) export(path, name string) error {
	repo, tag := name, "latest"
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		repo, tag = name[:i], name[i+1:]
	}
	im, err := s.image(repo)
	if err != nil {
		return err
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []map[string]any{{
			"mediaType": manifestType, "digest": im.digest, "size": len(im.manifest),
			"annotations": map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
		}},
	})
	if err != nil {
		return err
	}
	files := []struct {
		name string
		body []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/sha256/" + strings.TrimPrefix(im.digest, "sha256:"), im.manifest},
	}
	for d, b := range im.blobs {
		files = append(files, struct {
			name string
			body []byte
		}{"blobs/sha256/" + strings.TrimPrefix(d, "sha256:"), b})
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(f.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:15000", "address to serve on (keep it on loopback)")
	bin := flag.String("bin", "", "static binary the images hold")
	digest := flag.String("digest", "", "print the manifest digest of this repository and exit")
	export := flag.String("export", "", "write the image -name as an OCI archive to this file and exit")
	name := flag.String("name", "", "with -export: the image's name (repository:tag)")
	flag.Parse()
	prog, err := os.ReadFile(*bin)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{prog: prog, images: map[string]*image{}}
	if *digest != "" {
		im, err := s.image(*digest)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(im.digest)
		return
	}
	if *export != "" {
		if err := s.export(*export, *name); err != nil {
			log.Fatal(err)
		}
		return
	}
	log.Printf("registry: serving on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, s))
}
