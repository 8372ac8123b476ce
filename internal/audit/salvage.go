// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNothingSalvaged is returned by Salvage when the head holds no complete
// member of an audit event.
var ErrNothingSalvaged = errors.New("nothing of the audit event could be salvaged")

// salvageKeys are the members Salvage keeps: who, what, where from, the
// outcome and when; never requestObject and responseObject, which make an
// event large.
var salvageKeys = map[string]bool{
	"kind": true, "apiVersion": true, "level": true, "auditID": true, "stage": true,
	"requestURI": true, "verb": true, "user": true, "impersonatedUser": true,
	"sourceIPs": true, "userAgent": true, "objectRef": true, "responseStatus": true,
	"requestReceivedTimestamp": true, "stageTimestamp": true, "timestamp": true,
	"annotations": true, "cloudPrincipal": true,
}

// tailAnchors are the members the apiserver writes after requestObject and
// responseObject, first one first: Salvage looks for the last of them in
// the tail.
var tailAnchors = [][]byte{
	[]byte(`"requestReceivedTimestamp"`), []byte(`"stageTimestamp"`), []byte(`"timestamp"`), []byte(`"annotations"`),
}

// Salvaged is what Salvage made of an audit event too large to take whole.
type Salvaged struct {
	// Raw is a minimal, valid JSON audit event: the members of salvageKeys
	// that were complete in the head (and in the tail), in their order.
	Raw []byte
	// Cut is the member the head ended in ("requestObject"), "" when it
	// ended between members or it is not known.
	Cut string
	// Dropped lists the members that were complete but left out
	// (requestObject, responseObject, unknown ones).
	Dropped []string
	// FromTail reports whether members were read from the tail.
	FromTail bool
}

// Salvage builds a minimal audit event from an event that was too large to
// be taken whole (a line over the file input's max_log_size, an item over
// the webhook's max_event_size): head is the event's beginning, cut at any
// byte; tail, when known, is its end (its last bytes, starting anywhere).
//
// From head it keeps the top-level members that are complete before the
// cut and are among kind, apiVersion, level, auditID, stage, requestURI,
// verb, user, impersonatedUser, sourceIPs, userAgent, objectRef,
// responseStatus, the timestamps, annotations and cloudPrincipal: in the
// apiserver's order everything up to responseStatus precedes the request
// and response objects, so a cut in those keeps who did what to which
// object and the answer's code. The timestamps and annotations (the
// authorizer's decision) come after the objects: they are read from tail,
// from the last place there where requestReceivedTimestamp (else
// stageTimestamp, timestamp, annotations) starts a run of members that ends
// the event. Content of the objects cannot pose as those members: it comes
// before them, and the run must end the event.
//
// A member twice keeps its first value. Values are kept byte for byte
// (they must be valid JSON); the result is always valid JSON, and Decode
// accepts it when auditID, stage and verb were read.
func Salvage(head, tail []byte) (Salvaged, error) {
	var out Salvaged
	seen := map[string]bool{}
	buf := make([]byte, 0, 1024)
	buf = append(buf, '{')
	add := func(key string, keyRaw, val []byte) {
		if !salvageKeys[key] {
			out.Dropped = append(out.Dropped, key)
			return
		}
		if seen[key] || !json.Valid(val) {
			return
		}
		seen[key] = true
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, keyRaw...)
		buf = append(buf, '"', ':')
		buf = append(buf, val...)
	}

	s := scanner{b: head}
	more, ok := s.open('{')
	if !ok {
		return out, ErrNothingSalvaged
	}
	for ok && more {
		key, keyRaw, kok := memberKey(&s)
		if !kok {
			break
		}
		s.space()
		start := s.i
		if !s.skip(0) {
			out.Cut = key
			break
		}
		val := head[start:s.i]
		// A value is complete only when what follows it is read too: a
		// number or literal cut at its end looks whole.
		if more, ok = s.after('}'); !ok {
			out.Cut = key
			break
		}
		add(key, keyRaw, val)
	}

	if len(tail) > 0 {
		if members, ok := tailMembers(tail); ok {
			for _, m := range members {
				if !seen[m.key] && salvageKeys[m.key] {
					out.FromTail = true
				}
				add(m.key, m.keyRaw, m.val)
			}
		}
	}
	if len(buf) == 1 {
		return out, ErrNothingSalvaged
	}
	out.Raw = append(buf, '}')
	return out, nil
}

// memberKey reads an object key and its colon: the key unescaped, and as
// written.
func memberKey(s *scanner) (key string, raw []byte, ok bool) {
	raw, esc, ok := s.span()
	if !ok || !s.next(':') {
		return "", nil, false
	}
	if !esc {
		return string(raw), raw, true
	}
	key, ok = unescape(raw)
	return key, raw, ok
}

type member struct {
	key    string
	keyRaw []byte
	val    []byte
}

// tailMembers finds in tail the run of top-level members that ends the
// event (see Salvage).
func tailMembers(tail []byte) ([]member, bool) {
	for _, anchor := range tailAnchors {
		at := len(tail)
		for {
			i := bytes.LastIndex(tail[:at], anchor)
			if i < 0 {
				break
			}
			at = i
			// The member must follow a comma (it is never first).
			j := i - 1
			for j >= 0 && isSpace(tail[j]) {
				j--
			}
			if j < 0 || tail[j] != ',' {
				continue
			}
			if ms, ok := membersToEnd(tail[i:]); ok {
				return ms, true
			}
		}
	}
	return nil, false
}

// membersToEnd reads members from b, which must end the enclosing object:
// `"k":v,"k2":v2}` and nothing but blanks after.
func membersToEnd(b []byte) ([]member, bool) {
	s := scanner{b: b}
	var ms []member
	for {
		key, raw, ok := memberKey(&s)
		if !ok {
			return nil, false
		}
		s.space()
		start := s.i
		if !s.skip(0) {
			return nil, false
		}
		ms = append(ms, member{key: key, keyRaw: raw, val: b[start:s.i]})
		more, ok := s.after('}')
		if !ok {
			return nil, false
		}
		if !more {
			s.space()
			return ms, s.i == len(b)
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
