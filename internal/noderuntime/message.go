// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
	"time"
)

// Meta is what a structured log transport states beside a message: for the
// systemd journal, the fields SYSLOG_IDENTIFIER, _SYSTEMD_UNIT, _HOSTNAME
// and __REALTIME_TIMESTAMP of the entry whose MESSAGE is parsed. It plays the
// part a syslog prefix plays for a text line.
type Meta struct {
	// Ident is the syslog identifier (journald SYSLOG_IDENTIFIER, else
	// _COMM): "kubelet", "kubenswrapper", "containerd", "crio", "dockerd",
	// "cri-dockerd", ...
	Ident string
	// Unit is the systemd unit (_SYSTEMD_UNIT, e.g. "containerd.service"),
	// consulted when Ident names no known daemon.
	Unit string
	// Host is the host name (_HOSTNAME). Options.Node overrides it. Events
	// keep the string as given (it is not copied).
	Host string
	// Time is when the entry was logged (__REALTIME_TIMESTAMP). It stands in
	// for a syslog prefix's stamp: it dates records without a time of their
	// own, gives year-less klog stamps their year (unless Options.Year is
	// set), and klog stamps written in another zone are aligned to it.
	Time time.Time
}

// ParseMessage parses one message whose writer, host and time arrive as
// separate fields (a journal entry's MESSAGE and Meta) and appends its
// events to dst. The source is Meta.Ident if it names a known daemon, else
// Meta.Unit, else Options.Format, else detected from the message; a message
// of another identifier or unit (systemd, kernel, ...) that does not carry a
// daemon log format is recognised without events, like such a line after a
// syslog prefix. msg has no syslog prefix; a message spanning several lines
// is parsed like a wrapped record (see ParseAll). Event.Line is msg.
// ParseMessage does not retain msg.
func (p *Parser) ParseMessage(msg []byte, m Meta, dst []Event) ([]Event, error) {
	return p.parse(msg, &m, dst)
}

// UnitSource returns the source a systemd unit name stands for
// ("kubelet.service", "containerd.service", "crio.service",
// "docker.service", "cri-docker.service",
// "snap.microk8s.daemon-containerd.service", ...).
func UnitSource(unit string) (Source, bool) {
	stem := unitStem(unit)
	if stem == "cri-docker" {
		return SourceCRIDockerd, true
	}
	return identSource(stem)
}

// unitStem strips the unit type suffix and a template instance:
// "kubelet.service" → "kubelet", "foo@bar.service" → "foo".
func unitStem(unit string) string {
	if i := strings.LastIndexByte(unit, '.'); i > 0 {
		switch unit[i+1:] {
		case "service", "scope", "socket":
			unit = unit[:i]
		}
	}
	if i := strings.IndexByte(unit, '@'); i > 0 {
		unit = unit[:i]
	}
	return unit
}

// parseMessage is parseRecord for a message whose prefix fields came apart
// from it (see Meta).
func (p *Parser) parseMessage(s string, m *Meta, dst []Event) ([]Event, Source, error) {
	s = strings.TrimRight(s, " \t\r\n")
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return dst, SourceUnknown, nil
	}
	var r rec
	r.hasPre = true
	r.pre.host = m.Host
	r.pre.ident = m.Ident
	if !m.Time.IsZero() {
		t := m.Time.UTC()
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		r.pre.ts = stamp{year: y, month: int(mo), day: d, hour: h, min: mi, sec: sec, nsec: t.Nanosecond(),
			hasZone: true, utc: true, valid: true}
		if y != p.refY || int(mo) != p.refM {
			p.setRef(t.In(p.loc)) // year-less stamps follow the journal's dates
		}
	}
	named := m.Ident != "" || m.Unit != ""
	if src, ok := identSource(m.Ident); ok {
		r.src, r.srcSure = src, true
	} else if src, ok := UnitSource(m.Unit); ok {
		r.src, r.srcSure = src, true
	} else if named && !mixedIdent(m.Ident) && !mixedIdent(unitStem(m.Unit)) && !looksLikeDaemonPayload(s) {
		// Another unit (systemd, kernel, ...): recognised, no event.
		return dst, SourceUnknown, nil
	}
	return p.parsePayload(s, &r, named, dst)
}
