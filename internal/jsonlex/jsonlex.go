// SPDX-License-Identifier: Apache-2.0

// Package jsonlex is the JSON lexing podtrail's hand-written decoders share:
// the audit event decoder (internal/audit) and the journal entry decoder
// (the node_runtime receiver's internal/journal). It reads positions in one
// input: whitespace, literals, numbers, strings and their escapes, and
// skips any value; it allocates nothing but the bytes of an unescaped
// string. Each decoder keeps its own idea of what a valid input is through
// two switches: whether strings may hold control characters (goccy, which
// the audit decoder answers to, takes them; encoding/json, the journal
// decoder's reference, refuses them) and whether an unpaired surrogate
// escape or invalid UTF-8 becomes U+FFFD (encoding/json) or is refused.
package jsonlex // import "github.com/podtrail/podtrail/internal/jsonlex"

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Space returns the index of the first byte at or after i that is not JSON
// whitespace.
func Space(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Literal reads lit (true, false, null) at i and returns the index after it.
func Literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// Number reads a number as JSON spells it at i and returns the index after
// it.
func Number(b []byte, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false
		}
	}
	return i, true
}

// String reads the string whose opening quote is at i: raw is what stands
// between the quotes, esc whether it holds escapes (each one checked here),
// end the index after the closing quote. With ctl, control characters are
// taken as they are (goccy); without, they fail (encoding/json).
func String(b []byte, i int, ctl bool) (raw []byte, esc bool, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, i, false
	}
	start := i + 1
	for j := start; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return nil, false, i, false
		}
		seg := b[j : j+q]
		bs := bytes.IndexByte(seg, '\\')
		if bs >= 0 {
			seg = seg[:bs]
		}
		if !ctl && hasControl(seg) {
			return nil, false, i, false
		}
		if bs < 0 {
			return b[start : j+q], esc, j + q + 1, true
		}
		esc = true
		j += bs + 1
		if j == len(b) {
			return nil, false, i, false
		}
		switch b[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if j+4 >= len(b) {
				return nil, false, i, false
			}
			if _, ok := Hex4(b[j+1 : j+5]); !ok {
				return nil, false, i, false
			}
			j += 4
		default:
			return nil, false, i, false
		}
		j++
	}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// Skip reads any value at i (whitespace before it allowed) and returns the
// index after it. depth is the value's nesting; deeper than max fails. ctl
// is String's.
func Skip(b []byte, i, depth, max int, ctl bool) (int, bool) {
	if depth > max {
		return i, false
	}
	i = Space(b, i)
	if i == len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		_, _, end, ok := String(b, i, ctl)
		return end, ok
	case '{', '[':
		close := b[i] + 2 // '}' or ']'
		obj := b[i] == '{'
		i = Space(b, i+1)
		if i < len(b) && b[i] == close {
			return i + 1, true
		}
		for {
			var ok bool
			if obj {
				i = Space(b, i)
				if _, _, i, ok = String(b, i, ctl); !ok {
					return i, false
				}
				if i = Space(b, i); i == len(b) || b[i] != ':' {
					return i, false
				}
				i++
			}
			if i, ok = Skip(b, i, depth+1, max, ctl); !ok {
				return i, false
			}
			if i = Space(b, i); i == len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i++
			case close:
				return i + 1, true
			default:
				return i, false
			}
		}
	case 't':
		return Literal(b, i, "true")
	case 'f':
		return Literal(b, i, "false")
	case 'n':
		return Literal(b, i, "null")
	}
	return Number(b, i)
}

// Unescape appends the contents of a string that String read (raw, with its
// escapes checked) to dst with the escapes decoded. With lenient, an
// unpaired surrogate escape and invalid UTF-8 become U+FFFD, as
// encoding/json makes them; without, an unpaired surrogate fails (goccy's
// rendering of it is its own) and other bytes are copied as they are.
func Unescape(dst, raw []byte, lenient bool) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			if lenient && c >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(raw[i:])
				if r == utf8.RuneError && size == 1 {
					dst = utf8.AppendRune(dst, utf8.RuneError)
				} else {
					dst = append(dst, raw[i:i+size]...)
				}
				i += size - 1
				continue
			}
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := Hex4(raw[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				// the low half, when an escape follows
				var lo rune = -1
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					lo, _ = Hex4(raw[i+3 : i+7])
				}
				dec := utf8.RuneError
				if lo >= 0 {
					dec = utf16.DecodeRune(r, lo)
				}
				switch {
				case dec != utf8.RuneError:
					r = dec
					i += 6
				case !lenient:
					return dst, false
				default:
					r = utf8.RuneError // the next escape is read on its own
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, raw[i])
		}
	}
	return dst, true
}

// Hex4 decodes four hex digits.
func Hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
