// SPDX-License-Identifier: Apache-2.0

// Package journal decodes the lines `journalctl --output=json` writes: one
// JSON object per entry whose values are strings, null (a field journalctl
// did not print), arrays of byte values (a field that is not valid UTF-8)
// or arrays of those (a field the entry has several times).
//
// Decode reads only the fields the node_runtime receiver uses and skips the
// others without decoding them; it allocates nothing once its buffers have
// grown.
package journal

import (
	"errors"
	"math"
	"time"
	"unicode/utf8"

	"github.com/podtrail/podtrail/internal/jsonlex"
)

// Field indexes of the values an Entry keeps.
const (
	FieldMessage  = iota // MESSAGE
	FieldIdent           // SYSLOG_IDENTIFIER
	FieldComm            // _COMM
	FieldUnit            // _SYSTEMD_UNIT
	FieldHostname        // _HOSTNAME
	FieldCursor          // __CURSOR
	FieldRealtime        // __REALTIME_TIMESTAMP
	nFields
)

// FieldNames are the journal field names of the Field* indexes.
var FieldNames = [nFields]string{"MESSAGE", "SYSLOG_IDENTIFIER", "_COMM", "_SYSTEMD_UNIT", "_HOSTNAME", "__CURSOR", "__REALTIME_TIMESTAMP"}

// Entry is the decoded part of one journal entry. Field values alias the
// decoded line or the Entry's buffers: they are valid until the next Decode.
type Entry struct {
	vals [nFields][]byte
	has  [nFields]bool
	bufs [nFields][]byte
	key  []byte
}

// Errors of Decode.
var (
	ErrSyntax    = errors.New("journal: invalid JSON entry")
	ErrNotObject = errors.New("journal: entry is not a JSON object")
)

// Get returns a field's value and whether the entry had it (null values
// count as absent).
func (e *Entry) Get(field int) ([]byte, bool) { return e.vals[field], e.has[field] }

// Message returns MESSAGE.
func (e *Entry) Message() []byte { return e.vals[FieldMessage] }

// Cursor returns __CURSOR.
func (e *Entry) Cursor() []byte { return e.vals[FieldCursor] }

// Realtime returns __REALTIME_TIMESTAMP (microseconds since the epoch) as a
// time; ok=false when the entry has none or it is not a number.
func (e *Entry) Realtime() (time.Time, bool) {
	v := e.vals[FieldRealtime]
	if !e.has[FieldRealtime] || len(v) == 0 || len(v) > 19 {
		return time.Time{}, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return time.Time{}, false
		}
		n = n*10 + d
	}
	return time.UnixMicro(n), true
}

// Decode parses one line (one JSON object, surrounding whitespace allowed).
// Values of the fields the Entry keeps are decoded: strings unescaped,
// byte arrays turned into bytes, the first value of a repeated field taken,
// numbers and booleans kept as written; objects and null count as absent.
// Duplicate keys: the last wins.
func (e *Entry) Decode(line []byte) error {
	for i := range e.vals {
		e.vals[i], e.has[i] = nil, false
	}
	d := decoder{s: line}
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		if d.i >= len(d.s) {
			return ErrSyntax
		}
		if err := d.skipValue(0); err != nil {
			return err
		}
		d.ws()
		if d.i != len(d.s) {
			return ErrSyntax
		}
		return ErrNotObject
	}
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			d.ws()
			key, err := d.str(&e.key)
			if err != nil {
				return err
			}
			d.ws()
			if d.peek() != ':' {
				return ErrSyntax
			}
			d.i++
			d.ws()
			f := fieldIndex(key)
			if f < 0 {
				if err := d.skipValue(1); err != nil {
					return err
				}
			} else {
				v, ok, err := d.fieldValue(&e.bufs[f])
				if err != nil {
					return err
				}
				e.vals[f], e.has[f] = v, ok
			}
			d.ws()
			c := d.peek()
			d.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return ErrSyntax
			}
		}
	}
	d.ws()
	if d.i != len(d.s) {
		return ErrSyntax
	}
	return nil
}

func fieldIndex(key []byte) int {
	for i, n := range FieldNames {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// maxDepth bounds nesting in skipped values (encoding/json allows 10000).
const maxDepth = 10000

type decoder struct {
	s []byte
	i int
}

func (d *decoder) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *decoder) ws() { d.i = jsonlex.Space(d.s, d.i) }

// fieldValue decodes the value of a kept field.
func (d *decoder) fieldValue(buf *[]byte) ([]byte, bool, error) {
	switch c := d.peek(); {
	case c == '"':
		v, err := d.str(buf)
		return v, err == nil, err
	case c == '[':
		return d.array(buf)
	case c == 'n':
		return nil, false, d.literal("null")
	case c == '{':
		return nil, false, d.skipValue(1)
	case c == 't':
		start := d.i
		err := d.literal("true")
		return d.s[start:d.i], err == nil, err
	case c == 'f':
		start := d.i
		err := d.literal("false")
		return d.s[start:d.i], err == nil, err
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		err := d.number()
		return d.s[start:d.i], err == nil, err
	}
	return nil, false, ErrSyntax
}

// array decodes [b, b, ...] (bytes 0..255) into buf, or takes the first
// element of any other array (a repeated field) by fieldValue's rules.
func (d *decoder) array(buf *[]byte) ([]byte, bool, error) {
	start := d.i
	if out, ok := d.byteArray(buf); ok {
		return out, true, nil
	}
	// Not a byte array: the first element is the value; the rest is skipped.
	d.i = start + 1
	d.ws()
	v, ok, err := d.firstElement(buf)
	if err != nil {
		return nil, false, err
	}
	for {
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
			if err := d.skipValue(1); err != nil {
				return nil, false, err
			}
			continue
		case ']':
			d.i++
			return v, ok, nil
		}
		return nil, false, ErrSyntax
	}
}

// byteArray decodes the [b, b, ...] at d.i (bytes 0..255) into buf. When the
// array holds anything else it returns false with d.i back at the '['.
func (d *decoder) byteArray(buf *[]byte) ([]byte, bool) {
	start := d.i
	d.i++ // [
	d.ws()
	if d.peek() == ']' {
		d.i++
		return nil, true
	}
	out := (*buf)[:0]
	for {
		d.ws()
		n, ok := d.byteValue()
		if !ok {
			break
		}
		out = append(out, n)
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			continue
		case ']':
			d.i++
			*buf = out
			return out, true
		}
		break
	}
	*buf = out
	d.i = start
	return nil, false
}

// firstElement decodes the first element of a repeated field: a string or a
// byte array; numbers and booleans as written; anything else is absent.
func (d *decoder) firstElement(buf *[]byte) ([]byte, bool, error) {
	if d.peek() == '[' {
		// Only a byte array counts; deeper nesting is skipped.
		if out, ok := d.byteArray(buf); ok {
			return out, true, nil
		}
		return nil, false, d.skipValue(1)
	}
	return d.fieldValue(buf)
}

// byteValue reads an integer 0..255 written without sign, fraction or
// exponent, followed by a delimiter.
func (d *decoder) byteValue() (byte, bool) {
	start := d.i
	n := 0
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		n = n*10 + int(d.s[d.i]-'0')
		d.i++
		if n > 255 {
			d.i = start
			return 0, false
		}
	}
	digits := d.i - start
	if digits == 0 || (digits > 1 && d.s[start] == '0') {
		d.i = start
		return 0, false
	}
	switch d.peek() {
	case ',', ']', ' ', '\t', '\n', '\r':
		return byte(n), true
	}
	d.i = start
	return 0, false
}

func (d *decoder) literal(lit string) error {
	end, ok := jsonlex.Literal(d.s, d.i, lit)
	if !ok {
		return ErrSyntax
	}
	d.i = end
	return nil
}

// number checks a JSON number.
func (d *decoder) number() error {
	end, ok := jsonlex.Number(d.s, d.i)
	if !ok {
		return ErrSyntax
	}
	d.i = end
	return nil
}

// skipValue checks and skips any JSON value.
func (d *decoder) skipValue(depth int) error {
	end, ok := jsonlex.Skip(d.s, d.i, depth, maxDepth, false)
	if !ok {
		return ErrSyntax
	}
	d.i = end
	return nil
}

// str decodes a string at d.i. Without escapes (and with valid UTF-8) the
// result aliases the line; otherwise it is built in buf. Invalid UTF-8 and
// lone surrogates become U+FFFD, as encoding/json does.
func (d *decoder) str(buf *[]byte) ([]byte, error) {
	raw, esc, end, ok := jsonlex.String(d.s, d.i, false)
	if !ok {
		return nil, ErrSyntax
	}
	d.i = end
	if !esc && utf8.Valid(raw) {
		return raw, nil
	}
	*buf, _ = jsonlex.Unescape((*buf)[:0], raw, true)
	return *buf, nil
}
