// SPDX-License-Identifier: Apache-2.0

package lookalike

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// Skeleton returns the confusable skeleton of s, after Unicode TS #39
// (Unicode Security Mechanisms, section 4): two strings that a reader can
// mistake for each other have the same skeleton ("kube-pr0xy", "kube-prоxy"
// with a Cyrillic о, and "kube-proxy" all give "kube-proxy"; "rnetrics" and
// "metrics" both give "rnetrics").
//
// What it does, in order:
//  1. NFKD: compatibility decomposition, so fullwidth (ｋｕｂｅ), mathematical
//     (𝐤𝐮𝐛𝐞) and ligature (ﬁ) forms become plain letters. UTS #39 uses NFD;
//     NFKD folds more, which suits names that must be ASCII anyway.
//  2. drops nonspacing marks (é → e). Not in UTS #39, which keeps them.
//  3. maps each other non-ASCII character to its prototype in
//     confusables.txt (Unicode 13.0, through github.com/mtibben/confusables:
//     about 1,450 characters of Cyrillic, Greek, Armenian, Cherokee, Lisu,
//     Latin extensions and symbols map to ASCII letters and digits), but
//     for the dozen letters a Latin reader takes for an ASCII one where
//     confusables.txt names another prototype (Greek β κ τ ε χ ω, Latin ȷ ʀ
//     ᴅ, Cyrillic Ԁ Ԛ ӏ: overrides). Characters without a prototype are
//     kept, lower-cased.
//  4. maps ASCII lookalikes as confusables.txt does: 0 → o, 1 | I → l,
//     m → rn, w → vv, d → cl; then folds case (Kubernetes names are lower
//     case; UTS #39 does not fold case).
//
// The result is for comparison only, never for display.
func Skeleton(s string) string {
	if isASCII(s) {
		var buf [64]byte
		return string(AppendSkeleton(buf[:0], s))
	}
	return string(AppendSkeleton(nil, s))
}

// AppendSkeleton appends the skeleton of s to dst. For ASCII s it does not
// allocate beyond growing dst.
func AppendSkeleton(dst []byte, s string) []byte {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			dst = appendASCIISkeleton(dst, s[i])
		}
		return dst
	}
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r < utf8.RuneSelf:
			dst = appendASCIISkeleton(dst, byte(r))
		case unicode.Is(unicode.Mn, r):
		default:
			m, ok := prototype(r)
			if !ok {
				r = unicode.ToLower(r)
				m, ok = prototype(r)
			}
			if !ok {
				dst = utf8.AppendRune(dst, r)
				continue
			}
			for _, c := range m {
				if c < utf8.RuneSelf {
					dst = appendASCIISkeleton(dst, byte(c))
				} else {
					dst = utf8.AppendRune(dst, unicode.ToLower(c))
				}
			}
		}
	}
	return dst
}

// overrides are the letters a Latin reader takes for an ASCII letter where
// confusables.txt names another prototype (β → ß, κ → ĸ, τ → ᴛ, ...).
var overrides = map[rune]string{
	'β': "b", 'ε': "e", 'κ': "k", 'τ': "t", 'χ': "x", 'ω': "w", 'ȷ': "j", 'ʀ': "r", 'ᴅ': "d",
	'Ԁ': "d", 'Ԛ': "q", 'ӏ': "l",
}

// prototypes caches confusables.txt's prototype of each non-ASCII
// character met (the library maps whole strings and allocates): ""
// for a character that is its own. Read-locked; at most maxPrototypes
// characters are kept (then new ones are looked up every time).
var prototypes = struct {
	sync.RWMutex
	m map[rune]string
}{m: func() map[rune]string {
	m := make(map[rune]string, 256)
	for r, p := range overrides {
		m[r] = p
	}
	return m
}()}

const maxPrototypes = 1 << 16

// prototype returns r's prototype, normalised as steps 1 and 2 are (NFKD,
// marks dropped), and whether it has one other than itself.
func prototype(r rune) (string, bool) {
	prototypes.RLock()
	p, ok := prototypes.m[r]
	prototypes.RUnlock()
	if ok {
		return p, p != ""
	}
	var buf [utf8.UTFMax]byte
	s := string(buf[:utf8.EncodeRune(buf[:], r)])
	p = strings.Map(func(c rune) rune {
		if unicode.Is(unicode.Mn, c) {
			return -1
		}
		return c
	}, norm.NFKD.String(confusables.Skeleton(s)))
	if p == s || p == "" {
		p = ""
	}
	prototypes.Lock()
	if len(prototypes.m) < maxPrototypes {
		prototypes.m[r] = p
	}
	prototypes.Unlock()
	return p, p != ""
}

func appendASCIISkeleton(dst []byte, b byte) []byte {
	switch b {
	case '0', 'O':
		return append(dst, 'o')
	case '1', 'I', '|':
		return append(dst, 'l')
	case 'm', 'M':
		return append(dst, 'r', 'n')
	case 'w', 'W':
		return append(dst, 'v', 'v')
	case 'd', 'D':
		return append(dst, 'c', 'l')
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return append(dst, b)
}

// Confusable reports whether a and b differ but have the same skeleton.
// For ASCII strings it compares the skeletons as it makes them, stopping at
// the first difference, without allocating. Strings longer than 1 KiB are
// no names (LongInputs counts them): never confusable.
func Confusable(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) > MaxConfusableBytes || len(b) > MaxConfusableBytes {
		longInputs.Add(1)
		return false
	}
	if isASCII(a) && isASCII(b) {
		return sameASCIISkeleton(a, b)
	}
	var ba, bb [64]byte
	return string(AppendSkeleton(ba[:0], a)) == string(AppendSkeleton(bb[:0], b))
}

// asciiSkeleton[b] is the skeleton of the ASCII byte b.
var asciiSkeleton = func() (t [128]string) {
	for b := range t {
		t[b] = string(appendASCIISkeleton(nil, byte(b)))
	}
	return t
}()

func sameASCIISkeleton(a, b string) bool {
	var ia, ib int
	var pa, pb string // the rest of an expansion (rn for m)
	next := func(s string, i *int, pending *string) (byte, bool) {
		if *pending != "" {
			c := (*pending)[0]
			*pending = (*pending)[1:]
			return c, true
		}
		if *i >= len(s) {
			return 0, false
		}
		e := asciiSkeleton[s[*i]]
		*i++
		*pending = e[1:]
		return e[0], true
	}
	for {
		ca, okA := next(a, &ia, &pa)
		cb, okB := next(b, &ib, &pb)
		if !okA || !okB {
			return okA == okB
		}
		if ca != cb {
			return false
		}
	}
}

// scripts that MixedScript tells apart; letters of any other script count as
// one more script, "other".
var scripts = []*unicode.RangeTable{
	unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Armenian, unicode.Hebrew, unicode.Arabic,
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Cherokee, unicode.Georgian,
	unicode.Thai, unicode.Devanagari, unicode.Lisu,
}

// MixedScript reports whether the letters of s come from more than one
// script (Latin and Cyrillic in "kube-prоxy"). Digits, punctuation and marks
// (scripts Common and Inherited) do not count. It is stricter than the
// restriction levels of UTS #39: Latin with Han and Kana (Japanese) is mixed
// here too.
func MixedScript(s string) bool {
	if isASCII(s) {
		return false
	}
	first := -2
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		sc := -1
		if r < utf8.RuneSelf {
			sc = 0
		} else {
			for i, t := range scripts {
				if unicode.Is(t, r) {
					sc = i
					break
				}
			}
		}
		switch first {
		case -2:
			first = sc
		case sc:
		default:
			return true
		}
	}
	return false
}
