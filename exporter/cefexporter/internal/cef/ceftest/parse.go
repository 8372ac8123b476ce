// SPDX-License-Identifier: Apache-2.0

// Package ceftest reads CEF and LEEF lines back (ParseCEF, ParseLEEF): the
// cef package's and the exporter's tests use it to prove that every value
// survives the escaping. It is for tests only.
package ceftest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Field is one extension (CEF) or attribute (LEEF) key and its unescaped value.
type Field struct {
	Key, Value string
}

// Line is a parsed CEF or LEEF line, header fields and values unescaped.
type Line struct {
	Format        string // "CEF" or "LEEF"
	Version       string // CEF "0", LEEF "2.0" or "1.0"
	Vendor        string
	Product       string
	DeviceVersion string
	SignatureID   string // CEF Signature ID, LEEF EventID
	Name          string // CEF only
	Severity      string // CEF only
	Delimiter     byte   // LEEF only
	Fields        []Field
}

// Get returns the value of the first field named key.
func (l *Line) Get(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Map returns the fields as a map; a repeated key keeps its first value.
func (l *Line) Map() map[string]string {
	m := make(map[string]string, len(l.Fields))
	for _, f := range l.Fields {
		if _, ok := m[f.Key]; !ok {
			m[f.Key] = f.Value
		}
	}
	return m
}

// SplitHeader cuts s at its first n unescaped pipes: n fields and the rest.
func SplitHeader(s string, n int) ([]string, string, error) {
	fields := make([]string, 0, n)
	start := 0
	for i := 0; i < len(s) && len(fields) < n; i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			fields = append(fields, UnescapeCEFHeader(s[start:i]))
			start = i + 1
		}
	}
	if len(fields) < n {
		return nil, "", fmt.Errorf("header has %d of %d fields", len(fields), n)
	}
	return fields, s[start:], nil
}

// ParseCEF parses CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension.
func ParseCEF(s string) (Line, error) {
	if !strings.HasPrefix(s, "CEF:") {
		return Line{}, errors.New("not a CEF line: no CEF: prefix")
	}
	h, ext, err := SplitHeader(s[len("CEF:"):], 7)
	if err != nil {
		return Line{}, fmt.Errorf("CEF %w", err)
	}
	l := Line{Format: "CEF", Version: h[0], Vendor: h[1], Product: h[2], DeviceVersion: h[3],
		SignatureID: h[4], Name: h[5], Severity: h[6]}
	l.Fields, err = ParseCEFExtension(ext)
	return l, err
}

// ParseCEFExtension splits "k1=v1 k2=v2 ..." at its unescaped equals signs: a
// key is the word before one, its value runs to the space before the next key.
func ParseCEFExtension(ext string) ([]Field, error) {
	if ext == "" {
		return nil, nil
	}
	var eqs []int
	for i := 0; i < len(ext); i++ {
		switch ext[i] {
		case '\\':
			i++
		case '=':
			eqs = append(eqs, i)
		}
	}
	if len(eqs) == 0 {
		return nil, errors.New("CEF extension without key=value")
	}
	fields := make([]Field, len(eqs))
	keyStart := 0
	for j, eq := range eqs {
		key := ext[keyStart:eq]
		if key == "" || strings.ContainsAny(key, " \\") {
			return nil, fmt.Errorf("CEF extension key %q", key)
		}
		end := len(ext)
		next := len(ext)
		if j+1 < len(eqs) {
			sp := strings.LastIndexByte(ext[eq+1:eqs[j+1]], ' ')
			if sp < 0 {
				return nil, fmt.Errorf("CEF extension: no space before the key after %q", key)
			}
			end = eq + 1 + sp
			next = end + 1
		}
		fields[j] = Field{Key: key, Value: UnescapeCEFValue(ext[eq+1 : end])}
		keyStart = next
	}
	return fields, nil
}

// ParseLEEF parses LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attrs
// and LEEF:1.0|Vendor|Product|Version|EventID|attrs (tab-delimited);
// delimiter reads the 2.0 header's delimiter field (cef.ParseLEEFDelimiter:
// this package does not import cef, whose own tests use it).
func ParseLEEF(s string, delimiter func(string) (byte, error)) (Line, error) {
	if !strings.HasPrefix(s, "LEEF:") {
		return Line{}, errors.New("not a LEEF line: no LEEF: prefix")
	}
	rest := s[len("LEEF:"):]
	n := 6
	if strings.HasPrefix(rest, "1.0|") {
		n = 5
	}
	h, attrs, err := SplitHeader(rest, n)
	if err != nil {
		return Line{}, fmt.Errorf("LEEF %w", err)
	}
	l := Line{Format: "LEEF", Version: h[0], Vendor: h[1], Product: h[2], DeviceVersion: h[3],
		SignatureID: h[4], Delimiter: '\t'}
	if n == 6 {
		if l.Delimiter, err = delimiter(h[5]); err != nil {
			return Line{}, err
		}
	}
	if attrs == "" {
		return l, nil
	}
	for _, a := range strings.Split(attrs, string(l.Delimiter)) {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return Line{}, fmt.Errorf("LEEF attribute %q is not key=value", a)
		}
		l.Fields = append(l.Fields, Field{Key: k, Value: UnescapeLEEFValue(v)})
	}
	return l, nil
}

// UnescapeCEFHeader undoes AppendCEFHeader's \\ and \| (CR and LF are lost).
func UnescapeCEFHeader(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '|') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// UnescapeCEFValue undoes AppendCEFValue: \\ \= \n \r; another backslash
// sequence is kept as it is.
func UnescapeCEFValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\', '=':
				c = s[i+1]
				i++
			case 'n':
				c = '\n'
				i++
			case 'r':
				c = '\r'
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// UnescapeLEEFValue undoes AppendLEEFValue: \\ \n \r \t \xHH; another
// backslash sequence is kept as it is.
func UnescapeLEEFValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\':
				i++
			case 'n':
				c = '\n'
				i++
			case 'r':
				c = '\r'
				i++
			case 't':
				c = '\t'
				i++
			case 'x':
				if i+3 < len(s) {
					if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
						c = byte(n)
						i += 3
					}
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
