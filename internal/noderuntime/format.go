// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
)

// This file recognises the payload formats the daemons write:
//
//	klog:       I0102 15:04:05.000000    1234 file.go:123] msg key=value ...
//	logrus kv:  time="..." level=info msg="..." key=value ...   (containerd, CRI-O, dockerd, cri-dockerd)
//	logrus TTY: INFO[2022-03-21T12:38:16.93+08:00] msg          key=value
//	JSON:       {"ts":...,"msg":"...",...} (kubelet --logging-format=json), {"level":..,"msg":..,"time":..}
//
// Message text is never unescaped: matchers use escape-agnostic helpers
// (qtok) so that `"id"`, `\"id\"` and `\\\"id\\\"` read the same.

type payloadForm uint8

const (
	formNone payloadForm = iota
	formKlog
	formLogrus
	formTTY
	formJSON
	formDockerEvent
)

// rec is one decoded record.
type rec struct {
	form     payloadForm
	src      Source       // from the ident, Options.Format, or the payload
	srcSure  bool         // src came from the ident or Options.Format
	ts       stamp        // payload timestamp
	pre      syslogPrefix // valid when hasPre
	hasPre   bool
	level    string // normalised
	msg      string // raw message (escapes kept)
	fields   string // raw key=value region (or the JSON object)
	klogFile string // klog file:line
	msgOnly  bool   // klog unstructured: no key=value fields
}

// field returns the raw value of key (quotes removed, escapes kept).
func (r *rec) field(key string) (string, bool) {
	if r.form == formJSON {
		v, ok := jsonField(r.fields, key)
		if ok && len(v) >= 2 && v[0] == '"' {
			return v[1 : len(v)-1], true
		}
		return v, ok
	}
	if r.msgOnly {
		return "", false
	}
	return kvField(r.fields, key)
}

func normLevel(l string) string {
	switch l {
	case "info", "INFO", "I":
		return "info"
	case "debug", "DEBU", "DEBUG", "trace", "TRAC", "TRACE":
		return "debug"
	case "warning", "warn", "WARN", "WARNING", "W":
		return "warning"
	case "error", "ERRO", "ERROR", "E":
		return "error"
	case "fatal", "FATA", "FATAL", "panic", "PANI", "F":
		return "fatal"
	}
	return ""
}

// parseKlog recognises "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg".
func parseKlog(s string, r *rec) bool {
	if len(s) < 22 {
		return false
	}
	switch s[0] {
	case 'I', 'W', 'E', 'F':
	default:
		return false
	}
	mo, ok1 := digits(s, 1, 2)
	d, ok2 := digits(s, 3, 2)
	if !ok1 || !ok2 || s[5] != ' ' || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return false
	}
	st := stamp{month: mo, day: d}
	i, ok := parseClock(s, 6, &st)
	if !ok {
		return false
	}
	st.valid = true
	// thread id
	for i < len(s) && s[i] == ' ' {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i || j >= len(s) || s[j] != ' ' {
		// Some wrapped or hand-trimmed pastes lose the rest of the header:
		// accept a bare time when the line ends there.
		if strings.TrimSpace(s[i:]) == "" {
			r.form, r.ts, r.level, r.msg, r.msgOnly = formKlog, st, normLevel(s[:1]), "", true
			return true
		}
		return false
	}
	j++
	// file:line]
	k := j
	for k < len(s) && k-j < 128 && s[k] != ']' && s[k] != ' ' {
		k++
	}
	if k >= len(s) || s[k] != ']' {
		return false
	}
	r.form = formKlog
	r.ts = st
	r.level = normLevel(s[:1])
	r.klogFile = s[j:k]
	msg := s[k+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	if len(msg) > 0 && msg[0] == '"' {
		// Structured: "msg" key=value...
		content, end := scanQuoted(msg, 0)
		r.msg = content
		r.fields = msg[end:]
		r.msgOnly = false
	} else {
		r.msg = msg
		r.msgOnly = true
	}
	return true
}

// parseLogrus recognises logrus text lines: time="..." level=... msg="..."
// with the keys in any order, a missing time (hand-trimmed pastes), or a bare
// quoted timestamp instead of time=.
func parseLogrus(s string, r *rec) bool {
	i := 0
	if len(s) > 20 && s[0] == '"' && isDigit(s[1]) && looksISO(s[1:]) {
		n, ok := parseISO(s[1:], &r.ts)
		if !ok || 1+n >= len(s) || s[1+n] != '"' {
			return false
		}
		i = n + 2
	} else if !strings.HasPrefix(s, "time=") && !strings.HasPrefix(s, "level=") && !strings.HasPrefix(s, "msg=") {
		return false
	}
	sawMsg := false
	for i < len(s) {
		key, val, next, ok := nextKV(s, i)
		if !ok {
			break
		}
		switch key {
		case "time", "ts":
			v := val
			if len(v) > 0 && looksISO(v) {
				if _, ok := parseISO(v, &r.ts); !ok {
					r.ts = stamp{}
				}
			}
		case "level", "lvl":
			r.level = normLevel(val)
		case "msg":
			r.msg = val
			r.fields = s[next:]
			sawMsg = true
		}
		i = next
		if sawMsg {
			break
		}
	}
	if !sawMsg {
		return false
	}
	r.form = formLogrus
	return true
}

// parseTTY recognises the logrus TTY form "INFO[<time or seconds>] msg  k=v".
func parseTTY(s string, r *rec) bool {
	if len(s) < 7 || s[4] != '[' {
		return false
	}
	lvl := normLevel(s[:4])
	if lvl == "" {
		return false
	}
	end := strings.IndexByte(s, ']')
	if end < 6 {
		return false
	}
	inner := s[5:end]
	if looksISO(inner) {
		if _, ok := parseISO(inner, &r.ts); !ok {
			return false
		}
	} else {
		for k := 0; k < len(inner); k++ {
			if !isDigit(inner[k]) {
				return false
			}
		}
	}
	r.form = formTTY
	r.level = lvl
	rest := s[end+1:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	r.msg = rest
	r.fields = rest
	return true
}

// parseJSON recognises a flat JSON log object.
func parseJSON(s string, r *rec) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	r.form = formJSON
	r.fields = s
	if v, ok := jsonField(s, "msg"); ok && len(v) >= 2 && v[0] == '"' {
		r.msg = v[1 : len(v)-1]
	} else if v, ok := jsonField(s, "message"); ok && len(v) >= 2 && v[0] == '"' {
		r.msg = v[1 : len(v)-1]
	}
	if v, ok := jsonField(s, "level"); ok {
		r.level = normLevel(strings.Trim(v, `"`))
	}
	if v, ok := jsonField(s, "ts"); ok && len(v) > 0 && isDigit(v[0]) {
		// klog JSON (component-base/logs/json): milliseconds since the
		// epoch ("ts":1732904418242.8123); seconds in other writers.
		r.ts = unixStampAuto(v)
	} else if v, ok := jsonField(s, "time"); ok && len(v) > 2 && v[0] == '"' {
		parseISO(v[1:len(v)-1], &r.ts)
	}
	if r.level == "" {
		// klog JSON has no level: "v" (the verbosity) marks an info record,
		// an error record has "err" and no "v".
		if _, ok := jsonField(s, "v"); ok {
			r.level = "info"
		} else if _, ok := jsonField(s, "err"); ok {
			r.level = "error"
		}
	}
	return true
}

// unixStampAuto converts a JSON number of seconds or, with 12 digits or
// more before the point (after 1973 in milliseconds, after 33658 in
// seconds), of milliseconds since the epoch.
func unixStampAuto(v string) stamp {
	n := 0
	for n < len(v) && isDigit(v[n]) {
		n++
	}
	if n < 12 {
		return unixStamp(v)
	}
	var ms int64
	for i := 0; i < n && i < 18; i++ {
		ms = ms*10 + int64(v[i]-'0')
	}
	if n > 18 {
		return stamp{}
	}
	ns := int(ms%1000) * 1000000
	if n < len(v) && v[n] == '.' {
		scale := 100000
		for i := n + 1; i < len(v) && isDigit(v[i]); i++ {
			if scale > 0 {
				ns += int(v[i]-'0') * scale
				scale /= 10
			}
		}
	}
	st := unixStamp(v[:n-3])
	st.nsec = ns
	return st
}

// unixStamp converts a JSON float of Unix seconds ("1580306777.04728").
func unixStamp(v string) stamp {
	sec, i := int64(0), 0
	for i < len(v) && isDigit(v[i]) {
		sec = sec*10 + int64(v[i]-'0')
		i++
	}
	ns := 0
	if i < len(v) && v[i] == '.' {
		scale := 100000000
		for i++; i < len(v) && isDigit(v[i]); i++ {
			if scale > 0 {
				ns += int(v[i]-'0') * scale
				scale /= 10
			}
		}
	}
	if sec <= 0 || sec > 1<<40 {
		return stamp{}
	}
	days := sec / 86400
	rem := sec % 86400
	y, m, d := civilFromDays(days)
	return stamp{year: y, month: m, day: d, hour: int(rem / 3600), min: int(rem % 3600 / 60), sec: int(rem % 60),
		nsec: ns, hasZone: true, utc: true, valid: true}
}

// civilFromDays converts days since 1970-01-01 to a date (H. Hinnant's algorithm).
func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// parseDockerEvent recognises `docker events` text output:
// "2024-01-02T15:04:05.000000000Z container start <id> (k=v, k=v)".
func parseDockerEvent(s string, r *rec) bool {
	if !looksISO(s) {
		return false
	}
	n, ok := parseISO(s, &r.ts)
	if !ok || n >= len(s) || s[n] != ' ' {
		return false
	}
	rest := s[n+1:]
	for _, typ := range [...]string{"container ", "image "} {
		if strings.HasPrefix(rest, typ) {
			r.form = formDockerEvent
			r.msg = rest
			if b := strings.IndexByte(rest, '('); b >= 0 {
				r.fields = rest[b:]
			}
			return true
		}
	}
	return false
}

// scanQuoted reads a double-quoted string starting at s[i] == '"'. It
// returns the raw content (escapes kept) and the index after the closing
// quote; an unterminated string runs to the end of s.
func scanQuoted(s string, i int) (string, int) {
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\\':
			j += 2
			continue
		case '"':
			return s[i+1 : j], j + 1
		}
		j++
	}
	return s[i+1:], len(s)
}

// scanBalanced reads a {...} or [...] value, respecting quoted strings.
func scanBalanced(s string, i int) (string, int) {
	depth := 0
	j := i
	for j < len(s) {
		switch s[j] {
		case '"':
			_, j = scanQuoted(s, j)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return s[i : j+1], j + 1
			}
		}
		j++
	}
	return s[i:], len(s)
}

// scanValue reads a key=value value at s[i].
func scanValue(s string, i int) (string, int) {
	if i >= len(s) {
		return "", i
	}
	switch s[i] {
	case '"':
		return scanQuoted(s, i)
	case '{', '[':
		return scanBalanced(s, i)
	case '<':
		// klog's multi-line string: key=<\n\tline\n\tline\n > (the lines
		// joined by ParseAll: key=<\tline\tline >)
		if i+1 == len(s) || s[i+1] == '\t' || s[i+1] == '\n' || s[i+1] == ' ' {
			for from := i + 1; ; {
				e := strings.Index(s[from:], " >")
				if e < 0 {
					return s[i+1:], len(s)
				}
				e += from
				if e+2 == len(s) || s[e+2] == ' ' {
					return s[i+1 : e], e + 2
				}
				from = e + 2
			}
		}
	case '&':
		// Go %+v of a struct pointer: &{ID:x Type:y Data:z}
		if i+1 < len(s) && s[i+1] == '{' {
			v, e := scanBalanced(s, i+1)
			return s[i : i+1+len(v)], e
		}
	}
	j := i
	for j < len(s) && s[j] != ' ' {
		j++
	}
	return s[i:j], j
}

// nextKV finds the next key=value token at or after s[i], skipping words and
// quoted strings that are not part of one.
func nextKV(s string, i int) (key, val string, next int, ok bool) {
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		if s[i] == '"' {
			_, i = scanQuoted(s, i)
			continue
		}
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '"' {
			i++
		}
		if i < len(s) && s[i] == '=' && i > start {
			key = s[start:i]
			val, next = scanValue(s, i+1)
			return key, val, next, true
		}
		for i < len(s) && s[i] != ' ' {
			if s[i] == '"' {
				_, i = scanQuoted(s, i)
				continue
			}
			i++
		}
	}
	return "", "", len(s), false
}

// kvField returns the value of key in a key=value region.
func kvField(s, key string) (string, bool) {
	i := 0
	for i < len(s) {
		k, v, next, ok := nextKV(s, i)
		if !ok {
			return "", false
		}
		if k == key {
			return v, true
		}
		i = next
	}
	return "", false
}

// jsonField returns the raw JSON value (strings keep their quotes) of a
// top-level key of object s.
func jsonField(s, key string) (string, bool) {
	i := 1
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == ',' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		k, j := scanQuoted(s, i)
		for j < len(s) && (s[j] == ' ' || s[j] == ':') {
			j++
		}
		if j >= len(s) {
			return "", false
		}
		var v string
		switch s[j] {
		case '"':
			_, e := scanQuoted(s, j)
			v, i = s[j:e], e
		case '{', '[':
			v, i = scanBalanced(s, j)
		default:
			e := j
			for e < len(s) && s[e] != ',' && s[e] != '}' && s[e] != ' ' {
				e++
			}
			v, i = s[j:e], e
		}
		if k == key {
			return v, true
		}
	}
	return "", false
}

// jsonString returns the unquoted raw string value of key in object s.
func jsonString(s, key string) string {
	v, ok := jsonField(s, key)
	if !ok || len(v) < 2 || v[0] != '"' {
		return ""
	}
	return v[1 : len(v)-1]
}

// qtok reads a token quoted with any level of backslash escaping starting at
// s[i] (`"x"`, `\"x\"`, `\\\"x\\\"`), or an unquoted token ending at a space,
// comma or closing bracket. It returns the token and the index after it.
// Tokens read this way (ids, names, image references) contain no quotes.
func qtok(s string, i int) (string, int, bool) {
	j := i
	for j < len(s) && s[j] == '\\' {
		j++
	}
	if j < len(s) && s[j] == '"' {
		j++
		k := j
		for k < len(s) && s[k] != '"' && s[k] != '\\' {
			k++
		}
		if k >= len(s) {
			return "", len(s), false // unterminated: truncated record
		}
		v := s[j:k]
		for k < len(s) && s[k] == '\\' {
			k++
		}
		if k < len(s) && s[k] == '"' {
			k++
		}
		return v, k, v != ""
	}
	if j != i {
		return "", i, false
	}
	k := i
	for k < len(s) && s[k] != ' ' && s[k] != ',' && s[k] != '}' && s[k] != ')' && s[k] != ']' {
		k++
	}
	return s[i:k], k, k > i
}

// hasPrefixAt reports whether s[i:] starts with p.
func hasPrefixAt(s string, i int, p string) bool {
	return i >= 0 && i <= len(s) && strings.HasPrefix(s[i:], p)
}

// isHexID reports whether s is a 64-character hex container/sandbox id (or
// a shorter hex id of at least 12 characters).
func isHexID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// normImageID prefixes a bare 64-hex image id with "sha256:".
func normImageID(id string) string {
	if len(id) == 64 && isHexID(id) {
		return "sha256:" + id
	}
	return id
}

// atoiSafe parses a small non-negative decimal.
func atoiSafe(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 9; i++ {
		if !isDigit(s[i]) {
			return n
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
