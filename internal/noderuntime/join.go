// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"strings"
	"unsafe"
)

// LineStartPattern is a regular expression (RE2) matching the first physical
// line of a record, for file tailers that group lines themselves (e.g. the
// filelog receiver's multiline.line_start_pattern). It approximates
// IsRecordStart: leading indentation and "# ", "> ", "HH:MM:SS # " paste
// prefixes, then a journald/syslog short stamp (any month token), an
// ISO-8601 date (optionally after a weekday: journalctl short-full), a
// short-monotonic "[ 123.456]" stamp, a klog header, logrus time=/level=/msg= keys or a quoted
// time, a logrus TTY tag (INFO[...]), a JSON object, a journalctl "-- "
// marker or a syslog <PRI>.
const LineStartPattern = `^(?:[ \t]*(?:(?:[0-9]{2}:[0-9]{2}:[0-9]{2} )?# |> )){0,4}[ \t]*(?:` +
	`[^ ]{1,16} {1,2}[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2}` +
	`|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:` +
	`|[^ ]{1,5} [0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:` +
	`|\[[0-9. ]+\]` +
	`|[IWEF][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}` +
	`|(?:time|level|msg)=` +
	`|"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]` +
	`|(?:INFO|WARN|ERRO|DEBU|FATA|PANI|TRAC|info|warn)\[` +
	`|\{` +
	`|-- ` +
	`|<[0-9]{1,3}>)`

// IsRecordStart reports whether a physical line begins a new record (see
// LineStartPattern). Blank lines are not record starts.
func IsRecordStart(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	s := stripWrappers(unsafe.String(unsafe.SliceData(line), len(line)))
	if len(s) == 0 {
		return false
	}
	c := s[0]
	switch {
	case c == '{':
		return true
	case c == '<':
		j := 1
		for j < len(s) && j < 4 && isDigit(s[j]) {
			j++
		}
		return j > 1 && j < len(s) && s[j] == '>'
	case c == '-':
		return len(s) >= 3 && s[1] == '-' && s[2] == ' '
	case c == '"':
		return len(s) > 1 && looksISO(s[1:])
	case isDigit(c):
		if looksISO(s) {
			return true
		}
		var st stamp
		_, ok := parseShortStamp(s, &st) // CJK month "9月 20 16:41:05"
		return ok
	}
	if hasAnyPrefix(s, "time=", "level=", "msg=") {
		return true
	}
	if len(s) >= 5 && s[4] == '[' && normLevel(s[:4]) != "" {
		return true
	}
	var r rec
	if parseKlog(s, &r) {
		return true
	}
	if c == '[' {
		var pre syslogPrefix
		_, ok := parseSyslogPrefix(s, &pre) // short-monotonic "[ 123.456] host ident:"
		return ok
	}
	var st stamp
	if _, ok := parseShortStamp(s, &st); ok {
		return true
	}
	// short-full: "Fri 2024-11-29 18:13:11 UTC"
	sp := strings.IndexByte(s, ' ')
	return sp >= 2 && sp <= 5 && looksISO(s[sp+1:])
}

func hasAnyPrefix(s string, ps ...string) bool {
	for _, p := range ps {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// IsContinuation reports whether a physical line continues the previous
// record: it is not blank and does not start a record (a hard-wrapped
// paste, a pager-wrapped journal line, a klog multi-line value, a stack
// trace).
func IsContinuation(line []byte) bool {
	return len(bytes.TrimSpace(line)) > 0 && !IsRecordStart(line)
}

// Joiner groups physical lines into records: a record is a start line (see
// IsRecordStart) followed by its continuation lines, joined with '\n' (the
// form ParseAll expects). In a CRI container log file, a line tagged P
// (partial) is continued by the next line, which ParseAll appends without
// its prefix. Blank lines end a record and are dropped. The zero
// value is ready to use; MaxBytes (default 64 KiB) caps a record, further
// continuation lines are dropped.
//
//	var j noderuntime.Joiner
//	for sc.Scan() {
//		if rec, ok := j.Add(sc.Bytes()); ok {
//			events, err = p.ParseAll(rec, events[:0])
//		}
//	}
//	if rec, ok := j.Flush(); ok { ... }
type Joiner struct {
	MaxBytes int
	cur      []byte
	out      []byte
	have     bool
	partial  bool // the last line was a CRI log line tagged P: the next CRI line continues it
}

// Add feeds one physical line (without its newline). When line starts a new
// record, the previous record is returned; the returned slice is valid until
// the next call.
func (j *Joiner) Add(line []byte) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return j.Flush()
	}
	tag := CRITag(line)
	partial := j.partial
	if j.have && (partial && tag != 0 || !IsRecordStart(line)) {
		j.partial = tag == 'P'
		max := j.MaxBytes
		if max <= 0 {
			max = 64 << 10
		}
		if len(j.cur)+1+len(line) <= max {
			j.cur = append(j.cur, '\n')
			j.cur = append(j.cur, line...)
		}
		return nil, false
	}
	rec, ok := j.Flush()
	j.cur = append(j.cur[:0], line...)
	j.have = true
	j.partial = tag == 'P'
	return rec, ok
}

// Flush returns the pending record, if any.
func (j *Joiner) Flush() ([]byte, bool) {
	j.partial = false
	if !j.have {
		return nil, false
	}
	j.out, j.cur = j.cur, j.out[:0]
	j.have = false
	return j.out, true
}
