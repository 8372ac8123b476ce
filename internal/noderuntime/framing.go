// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
	"time"
	"unicode/utf8"
)

// This file unwraps the framings a daemon's line gets when it is not read
// from the journal or a syslog file, where its writer, host or time come in
// a wrapper instead of a prefix:
//
//	2025-11-20T09:15:18.467816000Z stderr F I1120 09:15:18.467816 ...    CRI container log file (/var/log/pods, /var/log/containers)
//	{"log":"I1120 09:15:18.467816 ...\n","stream":"stderr","time":"..."}  Docker json-file (a kubelet run in a container, RKE1)
//	{"__REALTIME_TIMESTAMP":"...","_HOSTNAME":"..","SYSLOG_IDENTIFIER":"kubelet","MESSAGE":"..."}  journalctl -o json saved to a file
//
// The message is then parsed as a journal entry's MESSAGE with the
// wrapper's time (and, for the journal, host, identifier and unit) as Meta.

// criPrefix recognises the CRI log file prefix "<RFC 3339 time> stdout|stderr
// F|P " and returns its length, its time and its tag ('F' full line, 'P' a
// partial line the next one continues).
func criPrefix(s string) (n int, st stamp, tag byte, ok bool) {
	if len(s) < 30 || !looksISO(s) {
		return 0, stamp{}, 0, false
	}
	i, ok := parseISO(s, &st)
	if !ok || !st.hasZone || i+9 > len(s) || s[i] != ' ' {
		return 0, stamp{}, 0, false
	}
	if s[i+1:i+8] != "stdout " && s[i+1:i+8] != "stderr " {
		return 0, stamp{}, 0, false
	}
	tag = s[i+8]
	if tag != 'F' && tag != 'P' {
		return 0, stamp{}, 0, false
	}
	n = i + 9
	if n < len(s) {
		if s[n] != ' ' {
			return 0, stamp{}, 0, false
		}
		n++
	}
	return n, st, tag, true
}

// CRITag returns the tag of a CRI container log line ('F' for a full line,
// 'P' for a partial one, which the next CRI line continues), or 0 for a line
// of another form. A record splitter keeps the line after a 'P' line in the
// same record, as Joiner does.
func CRITag(line []byte) byte {
	if len(line) < 30 || !isDigit(line[0]) {
		return 0
	}
	_, _, tag, ok := criPrefix(unsafeString(line))
	if !ok {
		return 0
	}
	return tag
}

// unwrap recognises the framings above. It returns the message (unescaped
// into p.unwrapBuf when the wrapper is JSON, else a part of text) and the
// Meta that stands for the wrapper.
func (p *Parser) unwrap(text []byte) ([]byte, Meta, bool) {
	s := unsafeString(text)
	lead := len(s) - len(strings.TrimLeft(s, " \t"))
	s = s[lead:]
	if len(s) == 0 {
		return nil, Meta{}, false
	}
	if s[0] == '{' {
		return p.unwrapJSON(s)
	}
	n, st, _, ok := criPrefix(s)
	if !ok {
		return nil, Meta{}, false
	}
	return text[lead+n:], Meta{Time: p.stampTime(&st)}, true
}

// unwrapJSON handles the Docker json-file and journal export objects.
func (p *Parser) unwrapJSON(s string) ([]byte, Meta, bool) {
	var m Meta
	var msg string
	switch {
	case strings.HasPrefix(s, `{"log":"`):
		v, ok := jsonField(s, "log")
		if !ok || len(v) < 2 {
			return nil, m, false
		}
		msg = v[1 : len(v)-1]
		if t := jsonString(s, "time"); t != "" {
			var st stamp
			if _, ok := parseISO(t, &st); ok {
				m.Time = p.stampTime(&st)
			}
		}
	case strings.Contains(s, `"MESSAGE":`) && (strings.Contains(s, `"__REALTIME_TIMESTAMP":`) || strings.Contains(s, `"SYSLOG_IDENTIFIER":`) || strings.Contains(s, `"_SYSTEMD_UNIT":`)):
		v, ok := jsonField(s, "MESSAGE")
		if !ok || len(v) < 2 || v[0] != '"' {
			return nil, m, false // null (over journald's size limit) or bytes: the journald input decodes those
		}
		msg = v[1 : len(v)-1]
		m.Ident = jsonString(s, "SYSLOG_IDENTIFIER")
		if m.Ident == "" {
			m.Ident = jsonString(s, "_COMM")
		}
		m.Unit = jsonString(s, "_SYSTEMD_UNIT")
		if h := jsonString(s, "_HOSTNAME"); h != "" {
			m.Host = strings.Clone(h) // events keep it; s is the caller's buffer
		}
		if us := jsonString(s, "__REALTIME_TIMESTAMP"); len(us) > 6 {
			var n int64
			for i := 0; i < len(us) && i < 19; i++ {
				if !isDigit(us[i]) {
					n = 0
					break
				}
				n = n*10 + int64(us[i]-'0')
			}
			if n > 0 {
				m.Time = time.UnixMicro(n).UTC()
			}
		}
	default:
		return nil, m, false
	}
	b := appendJSONUnescaped(p.unwrapBuf[:0], msg)
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	p.unwrapBuf = b
	return b, m, true
}

// appendJSONUnescaped appends the value of a JSON string's content (without
// its quotes) to dst; an invalid escape is kept as written.
func appendJSONUnescaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
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
			r, ok := hex4(s, i+1)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, ok := hex4(s, i+3); ok && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return dst
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
