// SPDX-License-Identifier: Apache-2.0

package jsonlex

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestSkip(t *testing.T) {
	tests := []struct {
		in       string
		ctl, ok  bool
		end      int // -1: len(in)
		maxDepth int
	}{
		{in: `"a\"b"`, ok: true, end: -1},
		{in: ` {"a": [1, -2.5e3, true, false, null, {}], "b": {"c": "d"}}`, ok: true, end: -1},
		{in: `[]`, ok: true, end: -1},
		{in: `{} tail`, ok: true, end: 2},
		{in: `"\u00e9\ud83d\ude00"`, ok: true, end: -1},
		{in: `"\x"`},
		{in: `"\u12g4"`},
		{in: "\"a\tb\"", ctl: true, ok: true, end: -1},
		{in: "\"a\tb\""}, // encoding/json refuses a raw tab
		{in: `{"a" 1}`},
		{in: `{"a":1,}`},
		{in: `[1 2]`},
		{in: `01`, ok: true, end: 1}, // a number ends at the 0
		{in: `-`},
		{in: `1.`},
		{in: `1e+`},
		{in: `tru`},
		{in: `[[[1]]]`, ok: true, end: -1, maxDepth: 3}, // the 1 is at depth 3
		{in: `[[[[1]]]]`, maxDepth: 3},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			max := tt.maxDepth
			if max == 0 {
				max = 100
			}
			end, ok := Skip([]byte(tt.in), 0, 0, max, tt.ctl)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			want := tt.end
			if want < 0 {
				want = len(tt.in)
			}
			if ok && end != want {
				t.Fatalf("end = %d, want %d", end, want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct {
		raw, want string
		lenient   bool
		ok        bool
	}{
		{raw: `a\nb\t\"\\\/\b\f\r`, want: "a\nb\t\"\\/\b\f\r", ok: true},
		{raw: `\u00e9\ud83d\ude00`, want: "é😀", ok: true},
		{raw: `\ud83d`, ok: false},                                 // strict: lone high surrogate
		{raw: `\ude00`, ok: false},                                 // strict: lone low surrogate
		{raw: `\ud83dx`, want: "\uFFFDx", lenient: true, ok: true}, // lenient: U+FFFD
		{raw: `\ud83d\u0041`, want: "\uFFFDA", lenient: true, ok: true},
		{raw: "ok\xff", want: "ok\uFFFD", lenient: true, ok: true},
		{raw: "ok\xff", want: "ok\xff", ok: true}, // strict: bytes as they are
	}
	for _, tt := range tests {
		got, ok := Unescape(nil, []byte(tt.raw), tt.lenient)
		if ok != tt.ok || (ok && string(got) != tt.want) {
			t.Errorf("Unescape(%q, %v) = %q, %v; want %q, %v", tt.raw, tt.lenient, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzSkipAndString holds Skip (without control characters) to
// encoding/json's Valid, and a string String reads and Unescape decodes
// (lenient) to what encoding/json decodes.
func FuzzSkipAndString(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",null]}`, `"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\"", `[1e5,-0.5]`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, ok := Skip(b, 0, 0, 10000, false)
		if ok {
			end = Space(b, end)
		}
		valid := ok && end == len(b)
		if valid != json.Valid(b) {
			t.Fatalf("Skip says %v (end %d of %d), encoding/json %v: %q", ok, end, len(b), json.Valid(b), b)
		}
		i := Space(b, 0)
		raw, _, end, ok := String(b, i, false)
		if !ok || Space(b, end) != len(b) {
			return
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("String took %q, encoding/json refused it: %v", b, err)
		}
		got, _ := Unescape(nil, raw, true)
		if string(got) != want || !utf8.Valid(got) {
			t.Fatalf("Unescape(%q) = %q, encoding/json %q", raw, got, want)
		}
	})
}
