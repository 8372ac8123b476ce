// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTruncated is returned by SplitBody when the body ends inside the items of
// an EventList: the items before the cut are returned with it.
var ErrTruncated = errors.New("truncated audit batch")

// SplitBody splits what the webhook backend posts, or one record of an audit
// file, into its events: the items of an EventList, or the body itself when it
// is a single event. Items are returned as raw JSON, undecoded; the caller
// decodes each with Decode so that one bad item never costs the others.
//
// When the body is cut short inside the items array the complete items are
// returned together with an error wrapping ErrTruncated.
func SplitBody(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty body")
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrNotAuditEvent)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var (
		items   []json.RawMessage
		isList  bool
		kind    string
		sawItem bool
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return items, wrapCut(isList, len(items), err)
		}
		key, _ := t.(string)
		switch key {
		case "items":
			isList = true
			sawItem = true
			t, err := dec.Token()
			if err != nil {
				return items, wrapCut(true, len(items), err)
			}
			if d, ok := t.(json.Delim); !ok || d != '[' {
				if t == nil { // "items": null
					continue
				}
				return nil, fmt.Errorf("%w: items is not an array", ErrNotAuditEvent)
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return items, wrapCut(true, len(items), err)
				}
				items = append(items, raw)
			}
			if _, err := dec.Token(); err != nil { // ]
				return items, wrapCut(true, len(items), err)
			}
		case "kind":
			if err := dec.Decode(&kind); err != nil {
				return items, wrapCut(isList, len(items), err)
			}
			if kind == "EventList" {
				isList = true
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return items, wrapCut(isList, len(items), err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return items, wrapCut(isList, len(items), err)
	}
	if dec.More() {
		return items, errors.New("invalid JSON: data after the top-level object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return items, errors.New("invalid JSON: data after the top-level object")
	}
	if isList {
		if kind != "" && kind != "EventList" {
			return nil, fmt.Errorf("%w: kind %q", ErrNotAuditEvent, kind)
		}
		if !sawItem {
			return nil, nil // an empty EventList
		}
		return items, nil
	}
	return []json.RawMessage{body}, nil
}

func wrapCut(isList bool, n int, err error) error {
	if isList && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return fmt.Errorf("%w after %d complete items", ErrTruncated, n)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// singleEvent reports whether body is an object that starts with
// "kind":"Event".
func singleEvent(body []byte) bool {
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	rest := skipSpace(body[1:])
	if !bytes.HasPrefix(rest, []byte(`"kind"`)) {
		return false
	}
	rest = skipSpace(rest[len(`"kind"`):])
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = skipSpace(rest[1:])
	if !bytes.HasPrefix(rest, []byte(`"Event"`)) {
		return false
	}
	rest = skipSpace(rest[len(`"Event"`):])
	return len(rest) > 0 && (rest[0] == ',' || rest[0] == '}')
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
