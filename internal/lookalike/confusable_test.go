// SPDX-License-Identifier: Apache-2.0

package lookalike

import (
	"testing"
	"unicode/utf8"
)

// TestSkeletonUTS39: characters the hand-written table of before did not
// have are mapped by confusables.txt (Cherokee, Lisu, Latin extensions,
// symbols); the Greek and Latin letters confusables.txt gives another
// prototype keep the ASCII one a reader sees (overrides).
func TestSkeletonUTS39(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ᏴᎬᎪᏒ", "bear"},             // Cherokee
		{"ꓚꓳꓣꓰꓓꓠꓢ", "coreclns"},      // Lisu: coredns, d → cl
		{"ɡhcr.io", "ghcr.io"},       // Latin script g
		{"ǀocal", "local"},           // Latin letter dental click → l
		{"kube‐proxy", "kube-proxy"}, // U+2010 hyphen
		{"βusybox", "busybox"},       // override: confusables.txt says ß
		{"κube", "kube"},             // override: confusables.txt says ĸ
		{"τraefik", "traefik"},       // override: confusables.txt says ᴛ
		{"ԁns", "clns"},              // Cyrillic komi de → d → cl
		{"日本", "日本"},                 // no prototype: kept
	} {
		if got := Skeleton(tt.in); got != tt.want {
			t.Errorf("Skeleton(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !Confusable("ꓚꓳꓣꓰꓓꓠꓢ", "coredns") || !Confusable("ᏴᎬᎪᏒ", "bear") {
		t.Error("confusables.txt's Lisu and Cherokee lookalikes are not confusable")
	}
	// a non-ASCII name's skeleton allocates nothing once its characters
	// were met
	s := "kube-prоxy-ꓚꓳꓣꓰ-ᏴᎬᎪᏒ"
	buf := make([]byte, 0, 128)
	buf = AppendSkeleton(buf[:0], s)
	if n := testing.AllocsPerRun(50, func() { buf = AppendSkeleton(buf[:0], s) }); n != 0 {
		t.Errorf("appendSkeleton allocates %v times", n)
	}
	if !utf8.Valid(buf) {
		t.Error("invalid UTF-8")
	}
}
