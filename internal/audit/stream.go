// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ListItem is one item ListReader read: a complete item (Raw), or one over
// the size limit (Oversize), of which its beginning and end are kept.
type ListItem struct {
	// Raw is the item's JSON, undecoded. It is valid until the next call
	// of Next: copy what must outlive it.
	Raw []byte
	// Oversize reports an item longer than the limit: Raw is nil, Head
	// holds its first limit bytes and Tail its last ones (what Salvage
	// takes), Size its length. Head and Tail are the item's own.
	Oversize   bool
	Head, Tail []byte
	Size       int64
}

// ListReader reads the events of a native audit body, an EventList or a
// single Event, from r one at a time, so that a batch of any length is
// held one item at a time: memory is bounded by the largest item, and an
// item over maxItem is skipped with its beginning and end kept for Salvage.
//
// It splits; it does not decode: items are handed over as raw JSON, each
// for Decode, so one bad item never costs the others. Like SplitBody, a body
// cut short inside the items ends with an error wrapping ErrTruncated after
// the complete items; a list of another kind, or items that are not an
// array, with ErrNotAuditEvent.
type ListReader struct {
	r        io.Reader
	list     bool
	maxItem  int
	tailSize int

	buf   []byte
	start int   // buf[start:] is not consumed yet
	rerr  error // the reader's error, io.EOF at its end

	phase   int
	needSep bool // a member or item was read: a comma or the close comes next
	n       int  // items read
	kind    string
}

const (
	phaseOpen    = iota // before the body's '{'
	phaseMembers        // in the top-level object's members
	phaseItems          // in the items array
	phaseEnd            // after the top-level object
	phaseDone
)

// listReadSize is how much ListReader reads at a time.
const listReadSize = 32 << 10

// DefaultTailSize is how many of an oversize item's last bytes ListReader
// keeps: the members the apiserver writes after the objects take a few
// hundred.
const DefaultTailSize = 64 << 10

// NewListReader reads the items of an EventList (list) or the single event
// (!list) that r holds; an item longer than maxItem bytes is returned as
// Oversize.
func NewListReader(r io.Reader, list bool, maxItem int) *ListReader {
	return &ListReader{r: r, list: list, maxItem: maxItem, tailSize: min(DefaultTailSize, maxItem)}
}

// Items reports how many items Next returned.
func (lr *ListReader) Items() int { return lr.n }

// Next returns the next item, or io.EOF after the last one.
func (lr *ListReader) Next() (ListItem, error) {
	for {
		switch lr.phase {
		case phaseDone:
			return ListItem{}, io.EOF
		case phaseOpen:
			if !lr.list {
				it, err := lr.value(lr.maxItem, true)
				if err != nil {
					return it, lr.cut(err)
				}
				lr.phase = phaseEnd
				lr.n++
				return it, nil
			}
			c, err := lr.peek()
			if err != nil {
				return ListItem{}, lr.cut(err)
			}
			if c != '{' {
				return ListItem{}, fmt.Errorf("%w: body is not a JSON object", ErrNotAuditEvent)
			}
			lr.start++
			lr.phase = phaseMembers
		case phaseMembers:
			c, err := lr.peek()
			if err != nil {
				return ListItem{}, lr.cut(err)
			}
			switch {
			case c == '}':
				lr.start++
				lr.phase = phaseEnd
				if lr.kind != "" && lr.kind != "EventList" {
					return ListItem{}, fmt.Errorf("%w: kind %q", ErrNotAuditEvent, lr.kind)
				}
				continue
			case lr.needSep && c == ',':
				lr.start++
				lr.needSep = false
				continue
			case lr.needSep || c != '"':
				return ListItem{}, fmt.Errorf("invalid JSON: unexpected %q in the top-level object", c)
			}
			key, err := lr.value(4096, false)
			if err != nil {
				return ListItem{}, lr.cut(err)
			}
			name, ok := unescape(key.Raw[1 : len(key.Raw)-1]) // before the next read moves it
			if !ok {
				return ListItem{}, errors.New("invalid JSON: bad key")
			}
			if c, err := lr.peek(); err != nil || c != ':' {
				return ListItem{}, lr.cut(errOr(err, "invalid JSON: no colon after a key"))
			}
			lr.start++
			lr.needSep = true
			if c, err := lr.peek(); err != nil {
				return ListItem{}, lr.cut(err)
			} else if name == "items" && c == '[' {
				lr.start++
				lr.phase = phaseItems
				lr.needSep = false
				continue
			}
			v, err := lr.value(lr.maxItem, false)
			if err != nil {
				return ListItem{}, lr.cut(err)
			}
			switch name {
			case "items":
				if string(v.Raw) != "null" {
					return ListItem{}, fmt.Errorf("%w: items is not an array", ErrNotAuditEvent)
				}
			case "kind":
				var k string
				if len(v.Raw) < 2 || v.Raw[0] != '"' {
					return ListItem{}, fmt.Errorf("%w: kind is not a string", ErrNotAuditEvent)
				}
				if k, ok = unescape(v.Raw[1 : len(v.Raw)-1]); !ok {
					return ListItem{}, errors.New("invalid JSON: bad kind")
				}
				lr.kind = k
				if k != "EventList" {
					return ListItem{}, fmt.Errorf("%w: kind %q", ErrNotAuditEvent, k)
				}
			default:
				if v.Oversize {
					return ListItem{}, fmt.Errorf("member %q of the list is over %d bytes", name, lr.maxItem)
				}
			}
		case phaseItems:
			c, err := lr.peek()
			if err != nil {
				return ListItem{}, lr.cut(err)
			}
			switch {
			case c == ']':
				lr.start++
				lr.phase = phaseMembers
				lr.needSep = true
				continue
			case lr.needSep && c == ',':
				lr.start++
				lr.needSep = false
				continue
			case lr.needSep:
				return ListItem{}, fmt.Errorf("invalid JSON: unexpected %q after item %d", c, lr.n)
			}
			it, err := lr.value(lr.maxItem, true)
			if err != nil {
				return it, lr.cut(err)
			}
			lr.needSep = true
			lr.n++
			return it, nil
		case phaseEnd:
			if _, err := lr.peek(); err == io.EOF {
				lr.phase = phaseDone
				continue
			} else if err != nil {
				return ListItem{}, err
			}
			lr.phase = phaseDone
			return ListItem{}, errors.New("invalid JSON: data after the top-level object")
		}
	}
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// cut turns the end of the input inside the body into the error SplitBody
// gives.
func (lr *ListReader) cut(err error) error {
	if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if lr.list {
		return fmt.Errorf("%w after %d complete items", ErrTruncated, lr.n)
	}
	return fmt.Errorf("invalid audit event JSON: %w", io.ErrUnexpectedEOF)
}

// peek skips blanks and returns the next byte without consuming it.
func (lr *ListReader) peek() (byte, error) {
	for {
		for lr.start < len(lr.buf) {
			switch c := lr.buf[lr.start]; c {
			case ' ', '\t', '\n', '\r':
				lr.start++
			default:
				return c, nil
			}
		}
		if err := lr.fill(); err != nil {
			return 0, err
		}
	}
}

// fill reads more input after buf[start:], which it moves to the front.
func (lr *ListReader) fill() error {
	if lr.start > 0 {
		n := copy(lr.buf, lr.buf[lr.start:])
		lr.buf = lr.buf[:n]
		lr.start = 0
	}
	if lr.rerr != nil {
		return lr.rerr
	}
	if cap(lr.buf)-len(lr.buf) < listReadSize/2 {
		nb := make([]byte, len(lr.buf), max(2*cap(lr.buf), len(lr.buf)+listReadSize))
		copy(nb, lr.buf)
		lr.buf = nb
	}
	for {
		n, err := lr.r.Read(lr.buf[len(lr.buf):cap(lr.buf)])
		lr.buf = lr.buf[:len(lr.buf)+n]
		if err != nil {
			lr.rerr = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// value reads the JSON value at buf[start:] (after blanks), up to limit
// bytes; a longer one is skipped (Oversize) when keep is set, an error
// otherwise. The value is not checked: only its extent is found, by its
// brackets and strings (a scalar ends at a delimiter).
func (lr *ListReader) value(limit int, keep bool) (ListItem, error) {
	if _, err := lr.peek(); err != nil {
		return ListItem{}, err
	}
	var (
		first  = lr.buf[lr.start]
		depth  int
		inStr  bool
		pos    = lr.start // next byte to look at
		end    = -1
		it     ListItem
		tailAt int // when over the limit: buf[tailAt:pos] is still to go to the tail
	)
	scalar := first != '{' && first != '[' && first != '"'
	for {
		for pos < len(lr.buf) && end < 0 {
			b := lr.buf[pos:]
			if inStr {
				// To the closing quote, over escapes.
				q := bytes.IndexByte(b, '"')
				var bs int
				if q >= 0 {
					bs = bytes.IndexByte(b[:q], '\\')
				} else {
					bs = bytes.IndexByte(b, '\\')
				}
				switch {
				case bs >= 0 && (q < 0 || bs < q):
					if bs+1 == len(b) {
						pos += bs // the escaped byte is still to be read
						b = nil
					} else {
						pos += bs + 2
					}
				case q >= 0:
					pos += q + 1
					inStr = false
					if depth == 0 {
						end = pos
					}
				default:
					pos = len(lr.buf)
				}
				if b == nil {
					break
				}
				continue
			}
			switch b[0] {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 { // what closes the list ends a scalar
					end = pos
					continue
				}
				depth--
				if depth == 0 {
					end = pos + 1
				}
			case ',', ' ', '\t', '\n', '\r', ':':
				if depth == 0 && pos > lr.start {
					end = pos
					continue
				}
			}
			pos++
		}
		if end < 0 && !it.Oversize && pos-lr.start > limit {
			if !keep {
				return ListItem{}, fmt.Errorf("a value is over %d bytes", limit)
			}
			it.Oversize = true
			it.Head = bytes.Clone(lr.buf[lr.start : lr.start+limit])
			tailAt = lr.start
		}
		if end >= 0 && !it.Oversize && end-lr.start > limit {
			if !keep {
				return ListItem{}, fmt.Errorf("a value is over %d bytes", limit)
			}
			it.Oversize = true
			it.Head = bytes.Clone(lr.buf[lr.start : lr.start+limit])
			tailAt = lr.start
		}
		if end == lr.start {
			return ListItem{}, fmt.Errorf("invalid JSON: unexpected %q", first)
		}
		if end >= 0 {
			if !it.Oversize {
				it.Raw = lr.buf[lr.start:end]
				it.Size = int64(end - lr.start)
			} else {
				lr.appendTail(&it, lr.buf[tailAt:end])
				it.Size += int64(end - tailAt)
			}
			lr.start = end
			return it, nil
		}
		if it.Oversize {
			// Keep only the tail of what was read.
			lr.appendTail(&it, lr.buf[tailAt:pos])
			it.Size += int64(pos - tailAt)
			lr.start, tailAt = pos, pos
		}
		shift := lr.start // fill moves buf[start:] to the front
		err := lr.fill()
		pos -= shift
		tailAt -= shift
		if err != nil {
			if err == io.EOF && scalar && pos > lr.start {
				end = pos // a scalar at the end of the input ends there
				continue
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return ListItem{}, err
		}
	}
}

func (lr *ListReader) appendTail(it *ListItem, b []byte) {
	it.Tail = append(it.Tail, b...)
	if len(it.Tail) > 2*lr.tailSize {
		n := copy(it.Tail, it.Tail[len(it.Tail)-lr.tailSize:])
		it.Tail = it.Tail[:n]
	}
}
