// SPDX-License-Identifier: Apache-2.0

// Package samples locates the shared corpus of real logs (../shared/samples
// beside the checkout) for tests. Without it a test skips on a developer's
// machine and fails when CI is set, so CI never passes by skipping.
package samples

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the absolute path of ../shared/samples/<sub...> next to the repository.
func Dir(tb testing.TB, sub ...string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "samples")
	if env := os.Getenv("PODTRAIL_SAMPLES"); env != "" {
		root = env
	}
	dir := filepath.Join(append([]string{root}, sub...)...)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared samples missing at %s (CI is set): %v", dir, err)
		}
		tb.Skipf("shared samples missing at %s: %v", dir, err)
	}
	return dir
}

// Read returns the content of a file below Dir.
func Read(tb testing.TB, sub ...string) []byte {
	tb.Helper()
	dir := Dir(tb, sub[:len(sub)-1]...)
	b, err := os.ReadFile(filepath.Join(dir, sub[len(sub)-1]))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
