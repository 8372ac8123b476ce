// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"strings"
	"time"
	"unsafe"
)

type zoneEntry struct {
	off int
	loc *time.Location
}

type pullEntry struct {
	id, image string
}

// Parser turns node log records into Events. It keeps options, counters and a
// little state learned from earlier records (reference time for year-less
// stamps, daemon versions, CRI-O pull requests), so records of one stream
// should go through one Parser in order. A Parser is not safe for concurrent
// use; use one per stream (they are cheap).
type Parser struct {
	opt       Options
	loc       *time.Location
	ref       time.Time
	refY      int // year and month of ref, for a cheap "did it move" check
	refM      int
	zones     [4]zoneEntry
	zoneNext  int
	versions  [nSources]string
	pulls     [16]pullEntry // CRI-O "Pulling image" by request id
	pullNext  int
	reqs      [32]pullEntry // CRI-O sandbox and container requests by id: description or container id
	reqNext   int
	unwrapBuf []byte // the unescaped message of a JSON-framed record
	scratch   []byte
	one       []Event
	stats     [nSources]SourceStats
	total     SourceStats
}

// NewParser returns a Parser.
func NewParser(o Options) *Parser {
	p := &Parser{opt: o, loc: o.Location}
	if p.loc == nil {
		p.loc = time.UTC
	}
	if !o.Reference.IsZero() {
		p.setRef(o.Reference.In(p.loc))
	}
	return p
}

// Stats returns the parser's counters.
func (p *Parser) Stats() Stats {
	st := Stats{Total: p.total, BySource: make(map[Source]SourceStats, nSources)}
	for i, s := range sources {
		if p.stats[i] != (SourceStats{}) {
			st.BySource[s] = p.stats[i]
		}
	}
	return st
}

// Version returns the daemon version the parser learned for a source ("" if
// no record stated it yet).
func (p *Parser) Version(s Source) string { return p.versions[srcIndex(s)] }

// Parse parses one logical record and returns its first event. ok=false with
// a nil error means the record was recognised but states no lifecycle event
// (or is blank); a non-nil error (a *ParseError) means the record's format
// is unknown or garbled: count it per source and drop it. Use ParseAll for
// records that carry several events.
func (p *Parser) Parse(line []byte) (ev Event, ok bool, err error) {
	p.one, err = p.ParseAll(line, p.one[:0])
	if len(p.one) == 0 {
		return Event{}, false, err
	}
	ev = p.one[0]
	clear(p.one)
	return ev, true, err
}

// ParseAll parses one logical record and appends its events to dst: a
// kubelet "SyncLoop ADD" names several pods, a CRI-O image status names
// several repo digests. line is one record with an optional journald/syslog
// prefix and no trailing newline; a record hard-wrapped over several
// physical lines is passed with the lines joined by '\n' (see Joiner) and
// is parsed as their concatenation. ParseAll does not retain line.
func (p *Parser) ParseAll(line []byte, dst []Event) ([]Event, error) {
	return p.parse(line, nil, dst)
}

// parse is ParseAll (m == nil) and ParseMessage (m != nil): it joins a
// wrapped record, parses it, keeps the counters and gives the events owned
// strings.
func (p *Parser) parse(line []byte, m *Meta, dst []Event) ([]Event, error) {
	if len(line) == 0 {
		return dst, nil
	}
	text := line
	wrapped := bytes.IndexByte(line, '\n') >= 0
	if wrapped {
		text = p.join(line)
		if len(text) == 0 {
			return dst, nil
		}
	}
	// A CRI log file prefix, a Docker json-file or journal export object:
	// the message inside with the wrapper's time (and host, identifier).
	var um Meta
	unwrapped := false
	if m == nil {
		if t, meta, ok := p.unwrap(text); ok {
			if len(t) == 0 {
				return dst, nil
			}
			text, um, unwrapped = t, meta, true
			m = &um
		}
	}
	// s aliases the caller's buffer while parsing; the strings of emitted
	// events are re-pointed into owned copies below (own).
	s := unsafe.String(unsafe.SliceData(text), len(text))
	n0 := len(dst)
	var src Source
	var err error
	if m != nil {
		dst, src, err = p.parseMessage(s, m, dst)
	} else {
		dst, src, err = p.parseRecord(s, dst)
	}
	si := srcIndex(src)
	switch {
	case err != nil:
		p.stats[si].Records++
		p.stats[si].Unknown++
		p.total.Records++
		p.total.Unknown++
		return dst[:n0], err
	case len(dst) == n0:
		if src != SourceUnknown || strings.TrimSpace(s) != "" {
			p.stats[si].Records++
			p.stats[si].NoEvent++
			p.total.Records++
			p.total.NoEvent++
		}
		return dst, nil
	}
	p.stats[si].Records++
	p.total.Records++
	for i := n0; i < len(dst); i++ {
		es := srcIndex(dst[i].Source)
		p.stats[es].Events++
		p.total.Events++
	}
	lineStr := string(line)
	owned := lineStr
	if wrapped || unwrapped {
		owned = string(text)
	}
	for i := n0; i < len(dst); i++ {
		own(&dst[i], s, owned)
		dst[i].Line = lineStr
	}
	return dst, nil
}

// join concatenates the physical lines of a wrapped record into p.scratch:
// a continuation line loses the indentation the first line had (pastes
// indent every line alike) and is appended without a separator, which
// restores terminal/pager hard wraps.
func (p *Parser) join(line []byte) []byte {
	buf := p.scratch[:0]
	indent := -1
	cri := false // CRI log lines: a partial line (P) continues in the next line's message
	for len(line) > 0 {
		var l []byte
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			l, line = line[:i], line[i+1:]
		} else {
			l, line = line, nil
		}
		l = bytes.TrimRight(l, "\r")
		if indent < 0 {
			indent = len(l) - len(bytes.TrimLeft(l, " \t"))
			_, _, _, cri = criPrefix(unsafeString(l[indent:]))
			buf = append(buf, l...)
			continue
		}
		if cri {
			if n, _, _, ok := criPrefix(unsafeString(l)); ok {
				buf = append(buf, l[n:]...)
				continue
			}
		}
		k := 0
		for k < indent && k < len(l) && (l[k] == ' ' || l[k] == '\t') {
			k++
		}
		buf = append(buf, l[k:]...)
	}
	p.scratch = buf
	return buf
}

// unsafeString views b as a string without copying (b must not change while
// the string is used).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// own re-points every string of ev that aliases s into the same bytes of
// owned (an immutable copy of s).
func own(ev *Event, s, owned string) {
	base := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	end := base + uintptr(len(s))
	fix := func(f *string) {
		if len(*f) == 0 {
			return
		}
		ptr := uintptr(unsafe.Pointer(unsafe.StringData(*f)))
		if ptr >= base && ptr < end {
			off := int(ptr - base)
			*f = owned[off : off+len(*f)]
		}
	}
	fix(&ev.RuntimeVersion)
	fix(&ev.CRIAPI)
	fix(&ev.Node)
	fix(&ev.PodNamespace)
	fix(&ev.PodName)
	fix(&ev.PodUID)
	fix(&ev.PodSource)
	fix(&ev.SandboxID)
	fix(&ev.ContainerID)
	fix(&ev.ContainerName)
	fix(&ev.Image)
	fix(&ev.ImageID)
	fix(&ev.RepoDigest)
	fix(&ev.RequestID)
	fix(&ev.Error)
	fix(&ev.Reason)
	fix(&ev.Level)
}

// identSource maps a journald/syslog identifier to a source.
func identSource(id string) (Source, bool) {
	switch id {
	case "kubelet", "kubenswrapper", "hyperkube", "kubelite", "atomic-openshift-node", "origin-node":
		return SourceKubelet, true
	case "containerd", "cri-containerd", "k3s-containerd":
		return SourceContainerd, true
	case "crio", "cri-o":
		return SourceCRIO, true
	case "dockerd", "docker":
		return SourceDocker, true
	case "cri-dockerd":
		return SourceCRIDockerd, true
	}
	switch {
	case strings.HasSuffix(id, ".daemon-kubelite"), strings.HasSuffix(id, ".daemon-kubelet"), strings.HasSuffix(id, "-kubelet"):
		return SourceKubelet, true
	case strings.HasSuffix(id, ".daemon-containerd"), strings.HasSuffix(id, "-containerd"):
		return SourceContainerd, true
	}
	return SourceUnknown, false
}

// mixedIdent lists identifiers of processes that embed the kubelet and a
// runtime (their payload tells which one wrote the record).
func mixedIdent(id string) bool {
	switch id {
	case "k3s", "rke2", "k0s", "microk8s", "k3s-agent", "k3s-server", "kubelite":
		return true
	}
	return false
}

// parseRecord parses one record (already joined) and returns the source it
// was attributed to.
func (p *Parser) parseRecord(s string, dst []Event) ([]Event, Source, error) {
	s = strings.TrimRight(s, " \t\r\n")
	s = stripWrappers(s)
	if s == "" {
		return dst, SourceUnknown, nil
	}
	if p.journalMarker(s) {
		return dst, SourceUnknown, nil
	}
	var r rec
	payload, hasPre := parseSyslogPrefix(s, &r.pre)
	if hasPre {
		r.hasPre = true
		pre := &r.pre
		if src, ok := identSource(pre.ident); ok {
			r.src, r.srcSure = src, true
		} else if !mixedIdent(pre.ident) && !looksLikeDaemonPayload(payload) {
			// Another unit (systemd, kernel, ...): recognised, no event.
			return dst, SourceUnknown, nil
		}
		payload = stripWrappers(payload)
	}
	return p.parsePayload(payload, &r, hasPre, dst)
}

// parsePayload decodes the payload of a record whose prefix (or journal
// metadata) is in r, and dispatches it. named says whether a prefix or
// identifier named the record's writer: an unknown payload of an unnamed
// writer is ReasonNoFormat, of a daemon ReasonPayload, and of any other
// writer no error (another unit's line).
func (p *Parser) parsePayload(payload string, r *rec, named bool, dst []Event) ([]Event, Source, error) {
	if !r.srcSure && p.opt.Format != SourceUnknown {
		r.src, r.srcSure = p.opt.Format, true
	}
	switch {
	case parseKlog(payload, r):
	case parseLogrus(payload, r):
	case parseTTY(payload, r):
	case parseJSON(payload, r):
	case parseDockerEvent(payload, r):
	default:
		if klogShaped(payload) {
			return dst, r.src, parseError(r.src, ReasonTimestamp)
		}
		if named {
			if !r.srcSure {
				return dst, SourceUnknown, nil
			}
			return dst, r.src, parseError(r.src, ReasonPayload)
		}
		return dst, r.src, parseError(r.src, ReasonNoFormat)
	}
	if r.ts.valid && r.ts.year != 0 && (r.ts.year != p.refY || r.ts.month != p.refM) {
		p.stampTime(&r.ts) // moves the reference for later year-less records
	}
	return p.dispatch(r, dst)
}

// klogShaped reports whether s has a klog header's shape (its stamp was
// rejected, e.g. "I1399 25:00:00").
func klogShaped(s string) bool {
	if len(s) < 12 || (s[0] != 'I' && s[0] != 'W' && s[0] != 'E' && s[0] != 'F') || s[5] != ' ' || s[8] != ':' {
		return false
	}
	_, ok := digits(s, 1, 4)
	return ok
}

// looksLikeDaemonPayload reports whether a record from an unknown unit still
// carries a daemon log format worth reading (e.g. a renamed kubelet unit).
func looksLikeDaemonPayload(s string) bool {
	var r rec
	return parseKlog(s, &r) || strings.HasPrefix(s, "time=\"") || strings.HasPrefix(s, "{\"")
}

// dispatch routes a decoded record to the source's message rules.
func (p *Parser) dispatch(r *rec, dst []Event) ([]Event, Source, error) {
	n0 := len(dst)
	src := r.src
	if !r.srcSure {
		switch r.form {
		case formKlog:
			src = SourceKubelet
		case formJSON:
			if _, ok := jsonField(r.fields, "ts"); ok {
				src = SourceKubelet
			} else if _, ok := jsonField(r.fields, "Action"); ok {
				src = SourceDocker
			}
		case formDockerEvent:
			src = SourceDocker
		}
	}
	switch src {
	case SourceKubelet:
		dst = p.kubeletMsg(r, dst)
		if !r.srcSure && len(dst) == n0 && r.form != formKlog {
			dst, src = p.runtimeGuess(r, dst)
		}
	case SourceContainerd:
		dst, _ = p.containerdMsg(r, dst)
	case SourceCRIO:
		dst, _ = p.crioMsg(r, dst)
	case SourceDocker, SourceCRIDockerd:
		dst, _ = p.dockerMsg(r, src, dst)
	default:
		dst, src = p.runtimeGuess(r, dst)
	}
	return dst, src, nil
}

// runtimeGuess tries every runtime's rules on a record of unknown source.
func (p *Parser) runtimeGuess(r *rec, dst []Event) ([]Event, Source) {
	var ok bool
	if dst, ok = p.containerdMsg(r, dst); ok {
		return dst, SourceContainerd
	}
	if dst, ok = p.crioMsg(r, dst); ok {
		return dst, SourceCRIO
	}
	n := len(dst)
	if dst, ok = p.dockerMsg(r, SourceUnknown, dst); ok {
		if len(dst) > n {
			return dst, dst[n].Source // docker or cri-dockerd
		}
		return dst, SourceDocker
	}
	if r.form == formJSON {
		dst = p.kubeletMsg(r, dst)
		if len(dst) > n {
			return dst, SourceKubelet
		}
	}
	return dst, SourceUnknown
}

// newEvent starts an event with the record's time, level, node and version.
func (p *Parser) newEvent(r *rec, src Source, k Kind) Event {
	ev := Event{Kind: k, Source: src, Level: r.level}
	ev.Time = p.recTime(r)
	ev.Node = p.opt.Node
	if ev.Node == "" && r.hasPre {
		ev.Node = r.pre.host
	}
	ev.RuntimeVersion = p.versions[srcIndex(src)]
	return ev
}

// recTime picks the record's time: the payload's own timestamp when it has
// one (RFC 3339 with zone, or klog's microseconds), else the prefix's.
//
// A zone-less payload stamp (klog) is local time of the writing process,
// which need not be the zone of the syslog/journald prefix (Location): when
// both are present and differ by 30 minutes or more, the payload stamp is
// shifted by the difference rounded to a quarter hour, keeping its
// sub-second precision.
func (p *Parser) recTime(r *rec) time.Time {
	hasPre := r.hasPre && r.pre.ts.valid
	if r.ts.valid {
		t := p.stampTime(&r.ts)
		if !r.ts.hasZone && hasPre {
			d := p.stampTime(&r.pre.ts).Sub(t)
			if d >= 30*time.Minute || d <= -30*time.Minute {
				t = t.Add(d.Round(15 * time.Minute))
			}
		}
		return t
	}
	if hasPre {
		return p.stampTime(&r.pre.ts)
	}
	return time.Time{}
}

// setVersion records a daemon version stated by a record.
func (p *Parser) setVersion(src Source, v string) {
	v = strings.Trim(v, `"\ `)
	if v == "" || len(v) > 64 {
		return
	}
	i := srcIndex(src)
	if p.versions[i] != v {
		p.versions[i] = strings.Clone(v)
	}
}
