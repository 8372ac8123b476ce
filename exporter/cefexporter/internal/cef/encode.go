// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"net/netip"
	"strconv"
)

// Format selects the line format.
type Format uint8

const (
	// CEF is ArcSight Common Event Format, version 0.
	CEF Format = iota
	// LEEF is IBM QRadar Log Event Extended Format, version 2.0.
	LEEF
)

func (f Format) String() string {
	if f == LEEF {
		return "leef"
	}
	return "cef"
}

// LEEFTimeFormat is the devTimeFormat written with devTime (Java
// SimpleDateFormat), goLEEFTime the same layout for Go.
const (
	LEEFTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
	goLEEFTime     = "2006-01-02T15:04:05.000-0700"
)

// Encoder appends the CEF or LEEF line of an Event.
type Encoder struct {
	Format  Format
	Vendor  string // CEF Device Vendor / LEEF Vendor
	Product string // CEF Device Product / LEEF Product
	Version string // CEF Device Version / LEEF Version
	// Delimiter separates LEEF attributes; 0 means tab. It must not be a
	// letter, digit, '=', '\\', '|', CR or LF (ValidLEEFDelimiter).
	Delimiter byte
}

// ValidLEEFDelimiter reports whether c can delimit LEEF attributes.
func ValidLEEFDelimiter(c byte) bool {
	switch {
	case c == '\t':
		return true
	case c <= ' ' || c >= 0x7f:
		return false
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return false
	case c == '=', c == '\\', c == '|':
		return false
	}
	return true
}

// Append appends the line (no syslog header, no line end) to dst.
func (enc *Encoder) Append(dst []byte, e *Event) []byte {
	if enc.Format == LEEF {
		return enc.appendLEEF(dst, e)
	}
	return enc.appendCEF(dst, e)
}

// appendDevice writes the header fields CEF and LEEF share, each followed
// by '|': vendor, product, version and the event's id.
func (enc *Encoder) appendDevice(dst []byte, e *Event) []byte {
	for _, f := range [...]string{enc.Vendor, enc.Product, enc.Version, e.SignatureID()} {
		dst = append(AppendCEFHeader(dst, f), '|')
	}
	return dst
}

// appendCEF writes CEF:0|vendor|product|version|signatureId|name|severity|ext.
func (enc *Encoder) appendCEF(dst []byte, e *Event) []byte {
	sev := e.CEFSeverity()
	dst = enc.appendDevice(append(dst, "CEF:0|"...), e)
	dst = AppendCEFHeader(dst, e.Name())
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(sev), 10)
	dst = append(dst, '|')

	w := extWriter{b: dst, sep: ' '}
	if !e.Time.IsZero() {
		w.key("rt")
		w.b = strconv.AppendInt(w.b, e.Time.UnixMilli(), 10)
	}
	w.str("cat", e.EventName)
	w.str("externalId", e.AuditID)
	w.str("suser", e.User)
	w.str("suid", e.UserID)
	w.str("spriv", e.ActorKind)
	if e.Client != "" {
		switch ip, err := netip.ParseAddr(e.Client); {
		case err == nil && (ip.Is4() || ip.Is4In6()):
			w.str("src", e.Client)
		case err == nil:
			w.str("c6a2Label", "client.address")
			w.str("c6a2", e.Client)
		default:
			w.str("shost", e.Client)
		}
	}
	w.str("requestClientApplication", e.UserAgent)
	w.str("dvchost", e.Node)
	w.str("dhost", e.Cluster) // the cluster the pod was created in: the target
	w.str("act", e.Decision)
	w.str("outcome", e.Outcome())
	w.str("reason", e.Reason)
	if e.StatusCode != "" {
		w.str("cn1Label", "status_code")
		w.str("cn1", e.StatusCode)
	}
	w.labeled("cs1Label", "namespace", "cs1", e.Namespace)
	w.labeled("cs2Label", "pod", "cs2", e.Pod)
	w.labeled("cs3Label", "rule", "cs3", e.RuleID)
	w.labeled("cs4Label", "channel", "cs4", e.Channel)
	w.owner("cs5Label", "cs5", e)
	w.list("cs6Label", "images", "cs6", e.images())
	w.labeled("flexString1Label", "pod_uid", "flexString1", e.PodUID)
	w.list("flexString2Label", "mitre", "flexString2", e.MITRE)
	w.str("msg", e.Body)
	return w.b
}

// appendLEEF writes LEEF:2.0|vendor|product|version|eventId|delimiter|attrs.
func (enc *Encoder) appendLEEF(dst []byte, e *Event) []byte {
	delim := enc.Delimiter
	if delim == 0 {
		delim = '\t'
	}
	dst = enc.appendDevice(append(dst, "LEEF:2.0|"...), e)
	if delim == '\t' {
		dst = append(dst, "x09"...)
	} else {
		dst = append(dst, delim)
	}
	dst = append(dst, '|')

	w := extWriter{b: dst, sep: delim, leef: true}
	if !e.Time.IsZero() {
		w.key("devTime")
		w.b = e.Time.UTC().AppendFormat(w.b, goLEEFTime)
		w.str("devTimeFormat", LEEFTimeFormat)
	}
	w.str("cat", e.EventName)
	sev := e.CEFSeverity()
	if sev < 1 {
		sev = 1 // LEEF sev is 1-10
	}
	w.key("sev")
	w.b = strconv.AppendInt(w.b, int64(sev), 10)
	w.str("name", e.Name())
	w.str("auditId", e.AuditID)
	w.str("usrName", e.User)
	w.str("userId", e.UserID)
	w.str("role", e.ActorKind)
	if e.Client != "" {
		if _, err := netip.ParseAddr(e.Client); err == nil {
			w.str("src", e.Client)
		} else {
			w.str("clientAddress", e.Client)
		}
	}
	w.str("userAgent", e.UserAgent)
	w.str("node", e.Node)
	w.str("cluster", e.Cluster)
	w.str("action", e.Decision)
	w.str("outcome", e.Outcome())
	w.str("reason", e.Reason)
	w.str("statusCode", e.StatusCode)
	if e.Namespace != "" || e.Pod != "" {
		w.key("resource")
		w.value(e.Namespace)
		w.b = append(w.b, '/')
		w.value(e.Pod)
	}
	w.str("namespace", e.Namespace)
	w.str("pod", e.Pod)
	w.str("podUid", e.PodUID)
	w.str("policy", e.RuleID)
	w.str("channel", e.Channel)
	w.owner("", "owner", e)
	w.list("", "", "images", e.images())
	w.list("", "", "mitre", e.MITRE)
	w.str("msg", e.Body)
	return w.b
}

// extWriter appends key=value pairs separated by sep, escaping values for
// CEF extensions or LEEF attributes.
type extWriter struct {
	b    []byte
	sep  byte
	leef bool
	n    int
}

func (w *extWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, w.sep)
	}
	w.n++
	w.b = append(w.b, k...)
	w.b = append(w.b, '=')
}

func (w *extWriter) value(v string) {
	if w.leef {
		w.b = AppendLEEFValue(w.b, v, w.sep)
	} else {
		w.b = AppendCEFValue(w.b, v)
	}
}

// str writes k=v unless v is empty.
func (w *extWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.value(v)
}

// labeled writes a CEF custom field and its label: csNLabel=label csN=v.
func (w *extWriter) labeled(labelKey, label, k, v string) {
	if v == "" {
		return
	}
	w.key(labelKey)
	w.b = append(w.b, label...)
	w.key(k)
	w.value(v)
}

// owner writes Kind/name of a record's owner or a finding's owner output;
// labelKey (CEF) is written first with the label "owner".
func (w *extWriter) owner(labelKey, k string, e *Event) {
	if e.OwnerKind == "" && e.OwnerName == "" && e.FindingOwner == "" {
		return
	}
	if labelKey != "" {
		w.key(labelKey)
		w.b = append(w.b, "owner"...)
	}
	w.key(k)
	if e.OwnerKind != "" || e.OwnerName != "" {
		w.value(e.OwnerKind)
		w.b = append(w.b, '/')
		w.value(e.OwnerName)
		return
	}
	w.value(e.FindingOwner)
}

// list writes the non-empty elements joined by commas, nothing when there
// is none; labelKey (CEF) is written first with label.
func (w *extWriter) list(labelKey, label, k string, vs []string) {
	first := true
	for _, v := range vs {
		if v == "" {
			continue
		}
		if first {
			first = false
			if labelKey != "" {
				w.key(labelKey)
				w.b = append(w.b, label...)
			}
			w.key(k)
		} else {
			w.b = append(w.b, ',')
		}
		w.value(v)
	}
}

// AppendCEFHeader appends a CEF (or LEEF) header field: backslash and pipe
// are escaped with a backslash; CR and LF, which a header may not hold, become
// spaces.
func AppendCEFHeader(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if special[c]&headerSpecial == 0 {
			continue
		}
		switch c {
		case '\\', '|':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', c)
		case '\r', '\n':
			dst = append(dst, s[start:i]...)
			dst = append(dst, ' ')
		default:
			continue
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// AppendCEFValue appends a CEF extension value: backslash and equals sign
// are escaped with a backslash, LF and CR are written as \n and \r.
func AppendCEFValue(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if special[s[i]]&cefSpecial == 0 {
			continue
		}
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '=':
			esc = '='
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// special marks the bytes each escaping function rewrites.
var special = func() (t [256]uint8) {
	for _, c := range "\\|\r\n" {
		t[c] |= headerSpecial
	}
	for _, c := range "\\=\r\n" {
		t[c] |= cefSpecial
	}
	for _, c := range "\\\r\n\t" {
		t[c] |= leefSpecial
	}
	return t
}()

const (
	headerSpecial = 1 << iota
	cefSpecial
	leefSpecial
)

// AppendLEEFValue appends a LEEF attribute value. LEEF defines no escaping,
// and QRadar splits attributes at every delimiter, so the value is written
// without the delimiter, CR or LF: backslash becomes \\, LF \n, CR \r, tab
// \t, and a delimiter other than tab \xHH (its hex code). Equals signs stay
// as they are: a LEEF key ends at the first one.
func AppendLEEFValue(dst []byte, s string, delim byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if special[c]&leefSpecial == 0 && c != delim {
			continue
		}
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\t':
			esc = 't'
		default:
			if c != delim {
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		if esc != 0 {
			dst = append(dst, '\\', esc)
		} else {
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}
