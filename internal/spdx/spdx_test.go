// SPDX-License-Identifier: Apache-2.0

package spdx

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Header is the first line of every Go file of ours: the repository is
// Apache-2.0 (LICENSE), as the collector.
const Header = "// SPDX-License-Identifier: Apache-2.0"

// skipDirs are not ours or not source: build output, the e2e's work, test
// data (inputs, some of them Go files on purpose), vendored trees.
var skipDirs = map[string]bool{".git": true, "bin": true, "out": true, "dist": true, "_build": true, "testdata": true, "vendor": true, "node_modules": true}

// generated reports whether the file says it is generated, by the
// convention go generate, ocb and mdatagen follow
// (https://go.dev/s/generatedcode).
func generated(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "package ") {
			return false
		}
		if strings.HasPrefix(l, "// Code generated ") && strings.HasSuffix(l, " DO NOT EDIT.") {
			return true
		}
	}
	return false
}

// TestSPDXHeaders: every Go file of the repository (every module in it:
// the collector's, e2e's, the tools'), but generated and vendored ones,
// starts with the SPDX license identifier.
func TestSPDXHeaders(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "LICENSE")); err != nil {
		t.Fatalf("no LICENSE at the repository's root %s: %v", root, err)
	}
	var missing []string
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if generated(b) {
			return nil
		}
		n++
		if first, _, _ := strings.Cut(string(b), "\n"); strings.TrimRight(first, "\r") != Header {
			rel, _ := filepath.Rel(root, p)
			missing = append(missing, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no Go files found")
	}
	for _, m := range missing {
		t.Errorf("%s: the first line is not %q", m, Header)
	}
	t.Logf("%d Go files of ours, %d without the header", n, len(missing))
}
