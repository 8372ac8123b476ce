// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
	"time"
)

// This file handles what wraps a daemon's own log line: journald/syslog
// prefixes (with localized month names), journalctl's "-- ... --" marker
// lines, paste artefacts (indentation, "# " bats prefixes, "> " quotes), and
// the timestamp forms shared by all payload formats.

// stamp is a broken-down timestamp. Year 0 means "not stated"; hasZone false
// means "local to Options.Location".
type stamp struct {
	year, month, day     int
	hour, min, sec, nsec int
	hasZone              bool
	offset               int // seconds east of UTC when hasZone
	utc                  bool
	valid                bool
}

// syslogPrefix is a parsed journald/syslog prefix.
type syslogPrefix struct {
	ts    stamp
	host  string
	ident string
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

// digits parses n decimal digits at s[i:].
func digits(s string, i, n int) (int, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseClock parses HH:MM:SS[.frac] at s[i:], returning the index after it.
func parseClock(s string, i int, st *stamp) (int, bool) {
	h, ok1 := digits(s, i, 2)
	m, ok2 := digits(s, i+3, 2)
	sec, ok3 := digits(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' {
		return i, false
	}
	if h > 23 || m > 59 || sec > 60 {
		return i, false
	}
	st.hour, st.min, st.sec = h, m, sec
	i += 8
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		j := i + 1
		ns, scale := 0, 100000000
		for j < len(s) && isDigit(s[j]) {
			if scale > 0 {
				ns += int(s[j]-'0') * scale
				scale /= 10
			}
			j++
		}
		if j == i+1 {
			return i, false
		}
		st.nsec = ns
		i = j
	}
	return i, true
}

// parseZone parses Z, +hh:mm, +hhmm or +hh at s[i:].
func parseZone(s string, i int, st *stamp) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case 'Z', 'z':
		st.hasZone, st.utc, st.offset = true, true, 0
		return i + 1
	case '+', '-':
		h, ok := digits(s, i+1, 2)
		if !ok {
			return i
		}
		j := i + 3
		m := 0
		if j < len(s) && s[j] == ':' {
			if mm, ok := digits(s, j+1, 2); ok {
				m, j = mm, j+3
			}
		} else if mm, ok := digits(s, j, 2); ok {
			m, j = mm, j+2
		}
		off := h*3600 + m*60
		if s[i] == '-' {
			off = -off
		}
		st.hasZone, st.offset = true, off
		st.utc = off == 0
		return j
	}
	return i
}

// parseISO parses YYYY-MM-DD[T ]HH:MM:SS[.frac][zone] at the start of s and
// returns the length consumed. A space before the zone (" +0000") is not
// consumed.
func parseISO(s string, st *stamp) (int, bool) {
	if len(s) < 19 {
		return 0, false
	}
	y, ok1 := digits(s, 0, 4)
	mo, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') {
		return 0, false
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1900 {
		return 0, false
	}
	*st = stamp{year: y, month: mo, day: d}
	i, ok := parseClock(s, 11, st)
	if !ok {
		return 0, false
	}
	i = parseZone(s, i, st)
	st.valid = true
	return i, true
}

// looksISO is a cheap check for a leading YYYY-MM-DD[T ]HH: date.
func looksISO(s string) bool {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12} {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// monthNames maps lowercase abbreviated month names as journalctl prints them
// in common glibc locales (trailing dots removed) to month numbers.
var monthNames = func() map[string]int {
	m := map[string]int{}
	add := func(month int, names ...string) {
		for _, n := range names {
			m[n] = month
		}
	}
	// en, de, fr, es, it, pt, nl, sv/da/nb, pl, cs, tr, ru, fi, ro, hu
	add(1, "jan", "january", "janv", "ene", "gen", "sty", "led", "oca", "янв", "tammi", "ian", "jän")
	add(2, "feb", "february", "févr", "fevr", "fév", "fev", "lut", "úno", "Úno", "şub", "Şub", "фев", "helmi")
	add(3, "mar", "march", "mär", "mrz", "mars", "mrt", "bře", "Bře", "мар", "maalis", "márc")
	add(4, "apr", "april", "avr", "avril", "abr", "kwi", "dub", "nis", "апр", "huhti", "ápr")
	add(5, "may", "mai", "mei", "mag", "maj", "kvě", "мая", "май", "touko", "máj")
	add(6, "jun", "june", "juin", "giu", "cze", "čen", "Čen", "haz", "июн", "kesä", "iun", "jún")
	add(7, "jul", "july", "juil", "lug", "lip", "črc", "Črc", "tem", "июл", "heinä", "iul", "júl")
	add(8, "aug", "august", "août", "aout", "ago", "sie", "srp", "ağu", "авг", "elo")
	add(9, "sep", "sept", "september", "set", "wrz", "zář", "Zář", "eyl", "сен", "syys", "szept")
	add(10, "oct", "october", "okt", "out", "ott", "paź", "říj", "Říj", "eki", "окт", "loka")
	add(11, "nov", "november", "lis", "kas", "ноя", "marras", "noi")
	add(12, "dec", "december", "dez", "déc", "dic", "des", "gru", "pro", "ara", "дек", "joulu")
	// Capitalised Cyrillic variants.
	for k, v := range map[string]int{"Янв": 1, "Фев": 2, "Мар": 3, "Апр": 4, "Мая": 5, "Май": 5, "Июн": 6, "Июл": 7, "Авг": 8, "Сен": 9, "Окт": 10, "Ноя": 11, "Дек": 12} {
		m[k] = v
	}
	return m
}()

// monthNum returns the month named by tok (1-12), or 0. It accepts English
// and localized abbreviations in any ASCII case, with or without a trailing
// dot, and the CJK forms "9月"/"9월".
func monthNum(tok string) int {
	if len(tok) == 3 {
		// Fast path for English.
		a, b, c := tok[0]|0x20, tok[1]|0x20, tok[2]|0x20
		switch a {
		case 'j':
			if b == 'a' && c == 'n' {
				return 1
			}
			if b == 'u' && c == 'n' {
				return 6
			}
			if b == 'u' && c == 'l' {
				return 7
			}
		case 'f':
			if b == 'e' && c == 'b' {
				return 2
			}
		case 'm':
			if b == 'a' && c == 'r' {
				return 3
			}
			if b == 'a' && c == 'y' {
				return 5
			}
		case 'a':
			if b == 'p' && c == 'r' {
				return 4
			}
			if b == 'u' && c == 'g' {
				return 8
			}
		case 's':
			if b == 'e' && c == 'p' {
				return 9
			}
		case 'o':
			if b == 'c' && c == 't' {
				return 10
			}
		case 'n':
			if b == 'o' && c == 'v' {
				return 11
			}
		case 'd':
			if b == 'e' && c == 'c' {
				return 12
			}
		}
	}
	if len(tok) == 0 || len(tok) > 16 {
		return 0
	}
	// CJK: 1-2 ASCII digits followed by 月 (zh, ja) or 월 (ko).
	if isDigit(tok[0]) {
		n, i := 0, 0
		for i < len(tok) && isDigit(tok[i]) {
			n = n*10 + int(tok[i]-'0')
			i++
		}
		if rest := tok[i:]; (rest == "月" || rest == "월") && n >= 1 && n <= 12 {
			return n
		}
		return 0
	}
	if tok[len(tok)-1] == '.' {
		tok = tok[:len(tok)-1]
	}
	var buf [16]byte
	n := copy(buf[:], tok)
	for i := 0; i < n; i++ {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 0x20
		}
	}
	return monthNames[string(buf[:n])] // no allocation for map lookups
}

// parseShortStamp parses "Mon DD HH:MM:SS[.frac]" (journalctl short and
// short-precise, RFC 3164 syslog) with a possibly localized month at s[0:].
func parseShortStamp(s string, st *stamp) (int, bool) {
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 || sp > 16 {
		return 0, false
	}
	mon := monthNum(s[:sp])
	if mon == 0 {
		return 0, false
	}
	i := sp + 1
	if i < len(s) && s[i] == ' ' { // space-padded day: "Dec  2"
		i++
	}
	if i >= len(s) || !isDigit(s[i]) {
		return 0, false
	}
	day := int(s[i] - '0')
	i++
	if i < len(s) && isDigit(s[i]) {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i >= len(s) || s[i] != ' ' {
		return 0, false
	}
	*st = stamp{month: mon, day: day}
	j, ok := parseClock(s, i+1, st)
	if !ok {
		return 0, false
	}
	st.valid = true
	return j, true
}

// parseIdent parses "host ident[pid]: " or "ident[pid]: " / "ident: " at s[i:]
// and returns the index of the message.
func parseIdent(s string, i int, pre *syslogPrefix) (int, bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	tok1End := indexByteFrom(s, ' ', i)
	if tok1End < 0 {
		// "ident:" with an empty message.
		tok1End = len(s)
	}
	tok1 := s[i:tok1End]
	if id, ok := identToken(tok1); ok {
		pre.ident = id
		return skipSpace1(s, tok1End), true
	}
	if len(tok1) == 0 {
		return i, false
	}
	j := tok1End + 1
	if j > len(s) {
		return i, false
	}
	tok2End := indexByteFrom(s, ' ', j)
	if tok2End < 0 {
		tok2End = len(s)
	}
	if id, ok := identToken(s[j:tok2End]); ok {
		pre.host = tok1
		pre.ident = id
		return skipSpace1(s, tok2End), true
	}
	return i, false
}

func skipSpace1(s string, i int) int {
	if i < len(s) && s[i] == ' ' {
		return i + 1
	}
	return i
}

// identToken accepts "name:", "name[pid]:" and returns name.
func identToken(t string) (string, bool) {
	if len(t) < 2 || t[len(t)-1] != ':' {
		return "", false
	}
	t = t[:len(t)-1]
	if t[len(t)-1] == ']' {
		b := strings.LastIndexByte(t, '[')
		if b <= 0 {
			return "", false
		}
		for k := b + 1; k < len(t)-1; k++ {
			if !isDigit(t[k]) {
				return "", false
			}
		}
		t = t[:b]
	}
	for k := 0; k < len(t); k++ {
		c := t[k]
		if c == ':' || c == '"' || c == '=' || c == '[' || c == ']' || c == '{' {
			return "", false
		}
	}
	return t, true
}

func indexByteFrom(s string, c byte, i int) int {
	if i >= len(s) {
		return -1
	}
	j := strings.IndexByte(s[i:], c)
	if j < 0 {
		return -1
	}
	return i + j
}

// parseSyslogPrefix recognises the journald/syslog prefixes:
//
//	Mon DD HH:MM:SS[.us] host ident[pid]: msg        journalctl short/short-precise, RFC 3164
//	YYYY-MM-DDTHH:MM:SS[.us]zone host ident[pid]: msg journalctl short-iso, rsyslog RFC 3339
//	Dow YYYY-MM-DD HH:MM:SS ZONE host ident[pid]: msg journalctl short-full
//	[ 1234.567890] host ident[pid]: msg                journalctl short-monotonic (no wall time)
//	<PRI>1 TIMESTAMP host app procid msgid [sd] msg    RFC 5424
//	<PRI> before any of the RFC 3164 forms
//
// host may be missing ("Mar 25 14:23:21 containerd: msg").
func parseSyslogPrefix(s string, pre *syslogPrefix) (string, bool) {
	if len(s) > 0 && s[0] == '<' {
		if j := strings.IndexByte(s, '>'); j > 1 && j <= 4 {
			if _, ok := digits(s, 1, j-1); ok {
				s = s[j+1:]
				if len(s) > 2 && s[0] == '1' && s[1] == ' ' {
					return parseRFC5424(s[2:], pre)
				}
			}
		}
	}
	if len(s) < 16 {
		return s, false
	}
	var i int
	var ok bool
	switch {
	case isDigit(s[0]) && looksISO(s):
		i, ok = parseISO(s, &pre.ts)
	case s[0] == '[':
		// short-monotonic: "[ 1234.567890]"
		e := strings.IndexByte(s, ']')
		if e < 3 || e > 20 {
			return s, false
		}
		for k := 1; k < e; k++ {
			if c := s[k]; !isDigit(c) && c != '.' && c != ' ' {
				return s, false
			}
		}
		i, ok = e+1, true
	default:
		if sp := strings.IndexByte(s, ' '); sp >= 2 && sp <= 5 && sp+20 < len(s) && looksISO(s[sp+1:]) {
			// short-full: "Fri 2024-11-29 18:13:11 UTC"
			i, ok = parseISO(s[sp+1:], &pre.ts)
			i += sp + 1
			if ok && !pre.ts.hasZone && i < len(s) && s[i] == ' ' {
				z := s[i+1:]
				if e := strings.IndexByte(z, ' '); e > 0 {
					if off, known := zoneAbbrev[z[:e]]; known {
						pre.ts.hasZone, pre.ts.offset, pre.ts.utc = true, off, off == 0
						i += 1 + e
					}
				}
			}
		} else {
			i, ok = parseShortStamp(s, &pre.ts)
		}
	}
	if !ok || i >= len(s) || s[i] != ' ' {
		return s, false
	}
	j, ok := parseIdent(s, i+1, pre)
	if !ok {
		return s, false
	}
	return s[j:], true
}

// parseRFC5424 parses "TIMESTAMP HOST APP PROCID MSGID SD MSG" (after "<PRI>1 ").
func parseRFC5424(s string, pre *syslogPrefix) (string, bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, false
	}
	if s[:i] != "-" {
		if n, ok := parseISO(s, &pre.ts); !ok || n != i {
			return s, false
		}
	}
	var f [4]string // host app procid msgid
	rest := s[i+1:]
	for k := range f {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return s, false
		}
		f[k], rest = rest[:sp], rest[sp+1:]
	}
	if len(rest) > 0 && rest[0] == '[' {
		_, e := scanBalanced(rest, 0)
		rest = rest[e:]
	} else if len(rest) > 0 && rest[0] == '-' {
		rest = rest[1:]
	}
	if f[0] != "-" {
		pre.host = f[0]
	}
	if f[1] != "-" {
		pre.ident = f[1]
	}
	return strings.TrimPrefix(strings.TrimPrefix(rest, " "), "\ufeff"), true
}

// stripWrappers removes paste artefacts before a record: indentation, "> "
// quote marks, bats "# " and "HH:MM:SS # " prefixes.
func stripWrappers(s string) string {
	for k := 0; k < 4; k++ {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
		switch {
		case len(s) >= 2 && (s[0] == '#' || s[0] == '>') && s[1] == ' ':
			s = s[2:]
		case len(s) >= 11 && s[2] == ':' && s[5] == ':' && s[8] == ' ' && s[9] == '#' && s[10] == ' ' &&
			isDigit(s[0]) && isDigit(s[1]) && isDigit(s[3]) && isDigit(s[4]) && isDigit(s[6]) && isDigit(s[7]):
			s = s[11:]
		default:
			return s
		}
	}
	return s
}

// journalMarker handles journalctl's own lines: "-- Logs begin at ... --",
// "-- Journal begins at ...", "-- Boot <id> --", "-- Reboot --",
// "-- No entries --". It returns true when s is one. Headers carrying dates
// move the parser's reference time and, without Options.Location, set the
// zone named there.
func (p *Parser) journalMarker(s string) bool {
	if len(s) < 4 || s[0] != '-' || s[1] != '-' || s[2] != ' ' {
		return false
	}
	// Prefer the "end at" date: it is nearest the records that follow.
	at := strings.LastIndex(s, " at ")
	for at >= 0 {
		rest := s[at+4:]
		// Skip a localized weekday ("Wed", "mer.").
		if sp := strings.IndexByte(rest, ' '); sp >= 0 && sp <= 12 && !isDigit(rest[0]) {
			rest = rest[sp+1:]
		}
		var st stamp
		if n, ok := parseISO(rest, &st); ok {
			if !st.hasZone && n < len(rest) && rest[n] == ' ' {
				zone := rest[n+1:]
				if e := strings.IndexAny(zone, ",. "); e >= 0 {
					zone = zone[:e]
				}
				if off, ok := zoneAbbrev[zone]; ok && p.opt.Location == nil {
					p.loc = p.fixedZone(off)
				}
			}
			t := p.stampTime(&st)
			if !t.IsZero() {
				p.setRef(t)
			}
			break
		}
		if at == 0 {
			break
		}
		at = strings.LastIndex(s[:at], " at ")
	}
	return true
}

// zoneAbbrev maps unambiguous time-zone abbreviations journalctl prints.
var zoneAbbrev = map[string]int{
	"UTC": 0, "GMT": 0, "WET": 0, "WEST": 3600, "BST": 3600,
	"CET": 3600, "CEST": 7200, "MET": 3600, "MEST": 7200,
	"EET": 7200, "EEST": 10800, "MSK": 10800,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CDT": -5 * 3600, "MST": -7 * 3600, "MDT": -6 * 3600,
	"PST": -8 * 3600, "PDT": -7 * 3600, "AKST": -9 * 3600, "AKDT": -8 * 3600, "HST": -10 * 3600,
	"JST": 9 * 3600, "KST": 9 * 3600, "HKT": 8 * 3600, "SGT": 8 * 3600, "AWST": 8 * 3600,
	"AEST": 10 * 3600, "AEDT": 11 * 3600, "ACST": 34200, "NZST": 12 * 3600, "NZDT": 13 * 3600,
}

// fixedZone returns a cached *time.Location for an offset.
func (p *Parser) fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	for i := range p.zones {
		if p.zones[i].loc != nil && p.zones[i].off == off {
			return p.zones[i].loc
		}
	}
	loc := time.FixedZone("", off)
	p.zones[p.zoneNext%len(p.zones)] = zoneEntry{off: off, loc: loc}
	p.zoneNext++
	return loc
}

// stampTime converts a stamp to a time. Year-less stamps get a year from
// Options.Year or the reference time; zone-less stamps are in the parser's
// location. Full dates move the reference.
func (p *Parser) stampTime(st *stamp) time.Time {
	if !st.valid {
		return time.Time{}
	}
	loc := p.loc
	if st.hasZone {
		if st.utc {
			loc = time.UTC
		} else {
			loc = p.fixedZone(st.offset)
		}
	}
	y := st.year
	if y == 0 {
		y = p.yearFor(st.month)
	}
	t := time.Date(y, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, loc)
	if st.year != 0 {
		p.setRef(t)
	}
	return t
}

// yearFor picks the year of a year-less date in month mon.
func (p *Parser) yearFor(mon int) int {
	if p.opt.Year > 0 {
		return p.opt.Year
	}
	ref := p.ref
	if ref.IsZero() {
		ref = time.Now().In(p.loc)
	}
	y := ref.Year()
	switch d := mon - int(ref.Month()); {
	case d > 1:
		y-- // e.g. December records read in January
	case d < -10:
		y++ // e.g. January records after a December reference
	}
	return y
}

func (p *Parser) setRef(t time.Time) {
	p.ref = t
	p.refY, p.refM = t.Year(), int(t.Month())
}
