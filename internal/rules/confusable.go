package rules

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Skeleton returns the confusable skeleton of s, after Unicode TS #39
// (Unicode Security Mechanisms, section 4) with a partial table: two strings
// that a reader can mistake for each other have the same skeleton
// ("kube-pr0xy", "kube-prоxy" with a Cyrillic о, and "kube-proxy" all give
// "kube-proxy"; "rnetrics" and "metrics" both give "rnetrics").
//
// What it does, in order:
//  1. NFKD: compatibility decomposition, so fullwidth (ｋｕｂｅ), mathematical
//     (𝐤𝐮𝐛𝐞) and ligature (ﬁ) forms become plain letters. UTS #39 uses NFD;
//     NFKD folds more, which suits names that must be ASCII anyway.
//  2. drops nonspacing marks (é → e). Not in UTS #39, which keeps them.
//  3. maps Cyrillic, Greek, Armenian, Lisu and Latin-extension lookalikes of
//     ASCII letters to those letters (the table below, 116 code points;
//     other characters are left as they are).
//  4. maps ASCII lookalikes as confusables.txt does: 0 → o, 1 | I → l,
//     m → rn, w → vv, d → cl; then folds case (Kubernetes names are lower
//     case; UTS #39 does not fold case).
//
// The result is for comparison only, never for display.
func Skeleton(s string) string {
	if isASCII(s) {
		var buf [64]byte
		return string(appendSkeleton(buf[:0], s))
	}
	return string(appendSkeleton(nil, s))
}

// appendSkeleton appends the skeleton of s to dst. For ASCII s it does not
// allocate beyond growing dst.
func appendSkeleton(dst []byte, s string) []byte {
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
			m, ok := confusables[r]
			if !ok {
				r = unicode.ToLower(r)
				m, ok = confusables[r]
			}
			if !ok {
				dst = utf8.AppendRune(dst, r)
				continue
			}
			for i := 0; i < len(m); i++ {
				dst = appendASCIISkeleton(dst, m[i])
			}
		}
	}
	return dst
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
	if len(a) > maxConfusableBytes || len(b) > maxConfusableBytes {
		longInputs.Add(1)
		return false
	}
	if isASCII(a) && isASCII(b) {
		return sameASCIISkeleton(a, b)
	}
	var ba, bb [64]byte
	return string(appendSkeleton(ba[:0], a)) == string(appendSkeleton(bb[:0], b))
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

// confusables maps non-ASCII lookalikes of ASCII letters to them (step 3 of
// Skeleton): hand-picked from the Latin, Cyrillic, Greek, Armenian and Lisu
// entries of confusables.txt whose glyphs pass for one ASCII letter. Partial
// on purpose: it covers the characters seen in homoglyph attacks on Latin
// names, not the 6,000+ entries of the full table.
var confusables = map[rune]string{
	// Cyrillic lower case
	'а': "a", 'е': "e", 'г': "r", 'һ': "h", 'і': "i", 'ј': "j", 'ӏ': "l", 'о': "o", 'р': "p", 'ԛ': "q",
	'с': "c", 'ѕ': "s", 'у': "y", 'ԝ': "w", 'х': "x", 'ԁ': "d", 'ү': "y", 'ɡ': "g",
	// Cyrillic upper case
	'А': "a", 'В': "b", 'С': "c", 'Е': "e", 'Н': "h", 'І': "l", 'Ј': "j", 'К': "k", 'М': "m", 'О': "o",
	'Р': "p", 'Ԛ': "q", 'Ѕ': "s", 'Т': "t", 'У': "y", 'Ԝ': "w", 'Х': "x", 'Ү': "y", 'Ӏ': "l", 'Ԁ': "d",
	// Greek lower case
	'α': "a", 'β': "b", 'γ': "y", 'ε': "e", 'ι': "i", 'κ': "k", 'ν': "v", 'ο': "o", 'ρ': "p", 'σ': "o",
	'τ': "t", 'υ': "u", 'χ': "x", 'ϲ': "c", 'ϳ': "j", 'ω': "w",
	// Greek upper case
	'Α': "a", 'Β': "b", 'Ε': "e", 'Ζ': "z", 'Η': "h", 'Ι': "l", 'Κ': "k", 'Μ': "m", 'Ν': "n", 'Ο': "o",
	'Ρ': "p", 'Τ': "t", 'Υ': "y", 'Χ': "x", 'Ϲ': "c", 'Ϳ': "j",
	// Armenian
	'օ': "o", 'ս': "u", 'հ': "h", 'ո': "n", 'զ': "q", 'ց': "g", 'Ս': "u", 'Օ': "o",
	// Latin extensions and letterlike symbols
	'ı': "i", 'ȷ': "j", 'ɑ': "a", 'ɩ': "i", 'ɪ': "i", 'ʀ': "r", 'ʏ': "y", 'ǀ': "l", 'ℓ': "l", 'ꓲ': "l",
	'ꓳ': "o", 'ꓐ': "b", 'ꓚ': "c", 'ꓓ': "d", 'ꓰ': "e", 'ꓝ': "f", 'ꓖ': "g", 'ꓧ': "h", 'ꓗ': "k", 'ꓡ': "l",
	'ꓟ': "m", 'ꓠ': "n", 'ꓑ': "p", 'ꓣ': "r", 'ꓢ': "s", 'ꓔ': "t", 'ꓴ': "u", 'ꓦ': "v", 'ꓪ': "w", 'ꓫ': "x",
	'ꓬ': "y", 'ꓜ': "z", 'ᴅ': "d", 'ᴏ': "o", 'ᴠ': "v", 'ᴡ': "w", 'ᴢ': "z", 'ꮃ': "w",
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
