// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/podtrail/podtrail/internal/jsonlex"
)

// decodeFast decodes the audit event in data into ev in one pass, without
// reflection and without copying: ev's strings and raw objects share data's
// memory (strings with escapes are the exception), so data must not change
// while ev is in use. It reads the events the apiserver and the clouds
// write. On anything else it returns false and Decode leaves the input to
// goccy, which also says what is wrong: a syntax error, a value of another
// type or null, a known key twice or spelt in another case, an escaped or
// non-ASCII key, a lone surrogate in a string, a NUL byte, a status
// code that is not a plain int32, the cloudPrincipal podtrail adds (the
// cluster it adds is read here), nesting
// deeper than maxDepth. FuzzDecodeFast holds it to goccy's result whenever
// it returns true.
//
// With a Decoder (re non-nil), ev's parts (objectRef, responseStatus,
// annotations, user.extra, arrays) are re's, reused from the last event.
func decodeFast(data []byte, ev *Event, re *Decoder) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false // goccy ends its input at a NUL, even inside a string
	}
	s := scanner{b: data, re: re}
	if re != nil {
		s.ref, s.status = &re.ref, &re.status
		re.ref, re.status, re.nstrs = ObjectReference{}, Status{}, 0
	} else {
		blk := new(struct {
			ref    ObjectReference
			status Status
		})
		s.ref, s.status = &blk.ref, &blk.status
	}
	var seen uint32
	more, ok := s.open('{')
	for ; ok && more; more, ok = s.after('}') {
		key, ok := s.key()
		if !ok {
			return false
		}
		f := fieldIndex(key, eventFields[:])
		if f == -1 {
			ok = s.skip(0)
		} else if f < 0 || seen&(1<<f) != 0 {
			return false
		} else {
			seen |= 1 << f
			ok = s.eventField(ev, f)
			if ok && re != nil && re.SelectPodCreation && unselected(ev, f) {
				re.stopped = true
				return false
			}
		}
		if !ok {
			return false
		}
	}
	s.space()
	return ok && s.i == len(s.b)
}

// eventField reads the value of eventFields[f].
func (s *scanner) eventField(ev *Event, f int) bool {
	switch f {
	case fKind:
		return s.str(&ev.Kind)
	case fAPIVersion:
		return s.str(&ev.APIVersion)
	case fLevel:
		return s.str(&ev.Level)
	case fAuditID:
		return s.str(&ev.AuditID)
	case fStage:
		return s.str(&ev.Stage)
	case fRequestURI:
		if s.re != nil && s.re.SelectPodCreation && ev.Stage == StageRequestReceived {
			return s.receivedURI(&ev.RequestURI)
		}
		return s.str(&ev.RequestURI)
	case fVerb:
		return s.str(&ev.Verb)
	case fUser:
		return s.user(&ev.User)
	case fImpersonatedUser:
		ev.ImpersonatedUser = new(UserInfo)
		return s.user(ev.ImpersonatedUser)
	case fSourceIPs:
		return s.strings(&ev.SourceIPs)
	case fUserAgent:
		return s.str(&ev.UserAgent)
	case fObjectRef:
		ev.ObjectRef = s.ref
		return s.objectRef(ev.ObjectRef)
	case fResponseStatus:
		ev.ResponseStatus = s.status
		return s.stringFields(statusFields, []*string{&s.status.Status, &s.status.Message, &s.status.Reason}, &s.status.Code)
	case fRequestObject:
		return s.raw((*[]byte)(&ev.RequestObject))
	case fResponseObject:
		return s.raw((*[]byte)(&ev.ResponseObject))
	case fRequestReceivedTimestamp:
		return s.time(&ev.RequestReceivedTimestamp)
	case fStageTimestamp:
		return s.time(&ev.StageTimestamp)
	case fTimestamp:
		return s.time(&ev.Timestamp)
	case fAnnotations:
		ev.Annotations = map[string]string{}
		if s.re != nil {
			if s.re.annotations == nil {
				s.re.annotations = map[string]string{}
			}
			clear(s.re.annotations)
			ev.Annotations = s.re.annotations
		}
		more, ok := s.open('{')
		for ; ok && more; more, ok = s.after('}') {
			var k, v string
			if !s.str(&k) || !s.next(':') || !s.str(&v) {
				return false
			}
			ev.Annotations[k] = v
		}
		return ok
	case fCluster:
		c := new(Cluster)
		ev.Cluster = c
		return s.stringFields(clusterFields, []*string{&c.Name, &c.Provider, &c.Account, &c.Region, &c.Zone, &c.ResourceID}, nil)
	}
	return false // cloudPrincipal: goccy
}

// Indexes of eventFields.
const (
	fKind = iota
	fAPIVersion
	fLevel
	fAuditID
	fStage
	fRequestURI
	fVerb
	fUser
	fImpersonatedUser
	fSourceIPs
	fUserAgent
	fObjectRef
	fResponseStatus
	fRequestObject
	fResponseObject
	fRequestReceivedTimestamp
	fStageTimestamp
	fTimestamp
	fAnnotations
	fCloudPrincipal
	fCluster
)

// The keys decodeFast knows, as in Event's, UserInfo's, ObjectReference's
// and Status's json tags. A key that equals one of them but for case is
// left to goccy, which, like encoding/json, matches keys case-insensitively.
var (
	eventFields = [...]string{
		fKind:                     "kind",
		fAPIVersion:               "apiVersion",
		fLevel:                    "level",
		fAuditID:                  "auditID",
		fStage:                    "stage",
		fRequestURI:               "requestURI",
		fVerb:                     "verb",
		fUser:                     "user",
		fImpersonatedUser:         "impersonatedUser",
		fSourceIPs:                "sourceIPs",
		fUserAgent:                "userAgent",
		fObjectRef:                "objectRef",
		fResponseStatus:           "responseStatus",
		fRequestObject:            "requestObject",
		fResponseObject:           "responseObject",
		fRequestReceivedTimestamp: "requestReceivedTimestamp",
		fStageTimestamp:           "stageTimestamp",
		fTimestamp:                "timestamp",
		fAnnotations:              "annotations",
		fCloudPrincipal:           "cloudPrincipal",
		fCluster:                  "cluster",
	}
	userFields      = []string{"username", "uid", "groups", "extra"}
	objectRefFields = []string{"resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion", "subresource"}
	statusFields    = []string{"status", "message", "reason", "code"}
	clusterFields   = []string{"name", "provider", "account", "region", "zone", "resourceId"}
)

// fieldIndex is key's index in fields; -1 for a key of no field; -2 (which
// fails the caller's bit test) for one that matches a field only when case
// is ignored.
func fieldIndex(key string, fields []string) int {
	for i, f := range fields {
		if key == f {
			return i
		}
	}
	for _, f := range fields {
		if strings.EqualFold(key, f) {
			return -2
		}
	}
	return -1
}

func (s *scanner) user(u *UserInfo) bool {
	var seen uint32
	more, ok := s.open('{')
	for ; ok && more; more, ok = s.after('}') {
		key, ok := s.key()
		if !ok {
			return false
		}
		f := fieldIndex(key, userFields)
		if f == -1 {
			if !s.skip(1) {
				return false
			}
			continue
		}
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		switch f {
		case 0:
			ok = s.str(&u.Username)
		case 1:
			ok = s.str(&u.UID)
		case 2:
			ok = s.strings(&u.Groups)
		default:
			u.Extra = map[string][]string{}
			if s.re != nil && u == &s.re.ev.User {
				if s.re.extra == nil {
					s.re.extra = map[string][]string{}
				}
				clear(s.re.extra)
				u.Extra = s.re.extra
			}
			more, ok := s.open('{')
			for ; ok && more; more, ok = s.after('}') {
				var k string
				var v []string
				if !s.str(&k) || !s.next(':') || !s.strings(&v) {
					return false
				}
				u.Extra[k] = v
			}
			if !ok {
				return false
			}
		}
		if !ok {
			return false
		}
	}
	return ok
}

func (s *scanner) objectRef(r *ObjectReference) bool {
	fields := [...]*string{&r.Resource, &r.Namespace, &r.Name, &r.UID, &r.APIGroup, &r.APIVersion, &r.ResourceVersion, &r.Subresource}
	return s.stringFields(objectRefFields, fields[:], nil)
}

// stringFields reads an object whose fields (names) are strings (into
// values), but for a last one, code, that is an int32.
func (s *scanner) stringFields(names []string, values []*string, code *int32) bool {
	var seen uint32
	more, ok := s.open('{')
	for ; ok && more; more, ok = s.after('}') {
		key, ok := s.key()
		if !ok {
			return false
		}
		f := fieldIndex(key, names)
		switch {
		case f == -1:
			ok = s.skip(1)
		case f < 0 || seen&(1<<f) != 0:
			return false
		case f < len(values):
			seen |= 1 << f
			ok = s.str(values[f])
		default:
			seen |= 1 << f
			s.space()
			start := s.i
			if !s.number() {
				return false
			}
			c, err := strconv.ParseInt(unsafe.String(&s.b[start], s.i-start), 10, 32)
			*code, ok = int32(c), err == nil
		}
		if !ok {
			return false
		}
	}
	return ok
}

// maxDepth bounds the nesting skip follows; deeper input is goccy's.
const maxDepth = 100

// scanner reads JSON from b at i. ref and status are where an event's
// objectRef and responseStatus go: one allocation for both.
type scanner struct {
	b      []byte
	i      int
	ref    *ObjectReference
	status *Status
	re     *Decoder
}

func (s *scanner) space() { s.i = jsonlex.Space(s.b, s.i) }

// next skips blanks and reports whether the next byte is c, consuming it.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// open reads the opening bracket of an object or array ('{' or '[') and
// reports whether a member follows (false for {} or []).
func (s *scanner) open(c byte) (more, ok bool) {
	if !s.next(c) {
		return false, false
	}
	if s.next(c + 2) { // '}' or ']'
		return false, true
	}
	return true, true
}

// after reads what follows a member: a comma (more follows) or close.
func (s *scanner) after(close byte) (more, ok bool) {
	if s.next(',') {
		return true, true
	}
	return false, s.next(close)
}

// key reads an object's key and the colon after it. Keys of fields are
// plain ASCII: an escaped or non-ASCII one is goccy's to match.
func (s *scanner) key() (string, bool) {
	raw, esc, ok := s.span()
	if !ok || esc || !s.next(':') {
		return "", false
	}
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return "", false
		}
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw)), true
}

// span reads a string's contents: raw (between the quotes) and whether it
// holds escapes, which are checked here. Like goccy, it takes control
// characters and invalid UTF-8 as they are.
func (s *scanner) span() (raw []byte, esc, ok bool) {
	s.space()
	raw, esc, end, ok := jsonlex.String(s.b, s.i, true)
	if ok {
		s.i = end
	}
	return raw, esc, ok
}

// str reads a string into v.
func (s *scanner) str(v *string) bool {
	raw, esc, ok := s.span()
	if !ok {
		return false
	}
	if !esc {
		*v = unsafe.String(unsafe.SliceData(raw), len(raw))
		return true
	}
	*v, ok = unescape(raw)
	return ok
}

// receivedURI reads the requestURI of a RequestReceived stage for the
// selection: when its path (before the query, which holds the escaped
// "&"s) is plainly not a namespace's pods collection, the path alone,
// without unescaping the query (the event stops there: select.go);
// otherwise the whole URI, as str.
func (s *scanner) receivedURI(v *string) bool {
	raw, esc, ok := s.span()
	if !ok {
		return false
	}
	if esc {
		path := raw
		if i := bytes.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if p := unsafe.String(unsafe.SliceData(path), len(path)); bytes.IndexByte(path, '\\') < 0 && !podsCollectionURI(p) {
			*v = p
			return true
		}
		*v, ok = unescape(raw)
		return ok
	}
	*v = unsafe.String(unsafe.SliceData(raw), len(raw))
	return true
}

// strings reads an array of strings into v (empty, not nil, for []).
func (s *scanner) strings(v *[]string) bool {
	more, ok := s.open('[')
	re, n := s.re, 0
	if re == nil {
		*v = make([]string, 0, 4)
	} else {
		if n = re.nstrs; n == len(re.strs) {
			re.strs = append(re.strs, make([]string, 0, 4))
		}
		*v = re.strs[n][:0]
		re.nstrs++
	}
	for ; ok && more; more, ok = s.after(']') {
		var e string
		if !s.str(&e) {
			return false
		}
		*v = append(*v, e)
	}
	if re != nil {
		re.strs[n] = *v // grown, for next time
	}
	return ok
}

// raw reads any value other than null into v, as it stands in the input.
func (s *scanner) raw(v *[]byte) bool {
	s.space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == 'n' || !s.skip(1) {
		return false
	}
	*v = s.b[start:s.i:s.i]
	return true
}

// time reads a string value and hands it, quoted, to t's UnmarshalJSON,
// as goccy does.
func (s *scanner) time(t *time.Time) bool {
	s.space()
	start := s.i
	raw, _, ok := s.span()
	if !ok {
		return false
	}
	if utc, ok := parseUTC(raw); ok {
		*t = utc
		return true
	}
	return t.UnmarshalJSON(s.b[start:s.i]) == nil
}

// parseUTC reads the apiserver's stamps, 2006-01-02T15:04:05.999999999Z,
// as time.Parse would; false for any other shape or a field out of range.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	nsec, frac := 0, b[19:len(b)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t, t.Day() == day // Feb 30 rolls over: time.Parse refuses it
}

// skip reads any value.
func (s *scanner) skip(depth int) bool {
	end, ok := jsonlex.Skip(s.b, s.i, depth, maxDepth, true)
	if ok {
		s.i = end
	}
	return ok
}

// number reads a number as JSON spells it.
func (s *scanner) number() bool {
	s.space()
	end, ok := jsonlex.Number(s.b, s.i)
	if ok {
		s.i = end
	}
	return ok
}

// unescape decodes a string's contents that hold escapes (checked by
// span). A lone surrogate is refused: goccy's rendering of it is its own.
func unescape(raw []byte) (string, bool) {
	out, ok := jsonlex.Unescape(make([]byte, 0, len(raw)), raw, false)
	return unsafe.String(unsafe.SliceData(out), len(out)), ok
}
