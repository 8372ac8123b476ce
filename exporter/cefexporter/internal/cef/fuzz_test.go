// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef/ceftest"
	"github.com/podtrail/podtrail/internal/attr"
)

var fuzzSeeds = []string{
	"", "plain", `a|b`, `a\b`, `a=b`, "a\nb", "a\r\nb", "a\tb", "a^b", `\`, `\\=`, `=`, " ", " k=v ",
	"trailing space ", " leading", "x \\= y", `\x5e`, `\n`, "é€\x00\xff", "k=v k2=v2", "a|b|c|d|e|f|g|",
}

// FuzzCEFValue: an escaped extension value holds no CR, LF or unescaped
// '=', and reads back unchanged whatever surrounds it.
func FuzzCEFValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "second")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea := string(AppendCEFValue(nil, a))
		if strings.ContainsAny(ea, "\r\n") {
			t.Fatalf("escaped %q holds CR or LF: %q", a, ea)
		}
		ext := "k1=" + ea + " k2=" + string(AppendCEFValue(nil, b)) + " k3=end"
		fields, err := ceftest.ParseCEFExtension(ext)
		if err != nil {
			t.Fatalf("parse %q: %v", ext, err)
		}
		if len(fields) != 3 || fields[0] != (ceftest.Field{Key: "k1", Value: a}) || fields[1] != (ceftest.Field{Key: "k2", Value: b}) || fields[2] != (ceftest.Field{Key: "k3", Value: "end"}) {
			t.Fatalf("%q, %q read back as %q", a, b, fields)
		}
	})
}

// FuzzCEFHeader: an escaped header field holds no CR, LF or unescaped '|',
// and reads back equal with CR and LF as spaces.
func FuzzCEFHeader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := string(AppendCEFHeader(nil, s))
		line := "CEF:0|" + h + "|" + h + "|v|" + h + "|" + h + "|5|k=v"
		l, err := ceftest.ParseCEF(line)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		want := flat(s)
		if l.Vendor != want || l.Product != want || l.SignatureID != want || l.Name != want || l.Severity != "5" {
			t.Fatalf("%q read back as %+v", s, l)
		}
		if v, _ := l.Get("k"); v != "v" || len(l.Fields) != 1 {
			t.Fatalf("extension after %q read back as %q", s, l.Fields)
		}
	})
}

// FuzzLEEFValue: an escaped attribute value holds no CR, LF or delimiter, so
// a split at the delimiter finds the attributes, and it reads back unchanged.
func FuzzLEEFValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "b", byte('\t'))
		f.Add(s, "b", byte('^'))
	}
	f.Fuzz(func(t *testing.T, a, b string, delim byte) {
		if !ValidLEEFDelimiter(delim) {
			delim = '\t'
		}
		ea := string(AppendLEEFValue(nil, a, delim))
		if strings.ContainsAny(ea, "\r\n"+string(delim)) {
			t.Fatalf("escaped %q holds CR, LF or the delimiter %q: %q", a, delim, ea)
		}
		e := &Encoder{Format: LEEF, Delimiter: delim}
		line := string(e.appendLEEF(nil, &Event{EventName: "x", Body: a, User: b}))
		l, err := ceftest.ParseLEEF(line, ParseLEEFDelimiter)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		if m, _ := l.Get("msg"); m != a && a != "" {
			t.Fatalf("msg %q read back as %q", a, m)
		}
		if u, _ := l.Get("usrName"); u != b && b != "" {
			t.Fatalf("usrName %q read back as %q", b, u)
		}
	})
}

// FuzzEvent: whatever the attribute values, the CEF and LEEF lines parse and
// every mapped value reads back equal (checkCEF, checkLEEF).
func FuzzEvent(f *testing.F) {
	f.Add("podtrail.finding", "body", "user", "ns", "pod", "PT-0001", "title", "high", "img", "10.0.0.1", "allow", "true", int64(1795166045906))
	f.Add("podtrail.pod_creation", "a|b\\c=d\ne", "u=v", "n s", "p|q", "", "", "", "x^y", "::1", "forbid", "false", int64(0))
	f.Add("other", "", "", "", "", "", "", "", "", "host", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, name, body, user, ns, pod, rule, title, sev, image, client, decision, allowed string, ms int64) {
		var ts time.Time
		if ms > 0 && ms < 1<<50 {
			ts = time.UnixMilli(ms)
		}
		e := &Event{EventName: name, Body: body, Time: ts, Severity: int(ms & 31)}
		for k, v := range map[string]string{"user.name": user, "k8s.namespace.name": ns, "k8s.pod.name": pod,
			attr.RuleID: rule, attr.RuleTitle: title, attr.RuleSeverity: sev, "client.address": client,
			attr.Decision: decision, attr.Allowed: allowed} {
			if v != "" {
				e.Set(k, v)
			}
		}
		if image != "" {
			e.Add(attr.PodImages, image)
			e.Add(attr.PodImages, image)
		}
		if allowed != "" && allowed != "true" && allowed != "false" {
			return // the processor writes a bool; wantSeverity knows only those
		}
		if e.IsRecord() && e.Allowed == "" && decision != "" {
			return // decision fallback: covered by TestSeverity
		}
		checkCEF(t, e, string(enc(CEF, 0).Append(nil, e)))
		checkLEEF(t, e, string(enc(LEEF, 0).Append(nil, e)), '\t')
		checkLEEF(t, e, string(enc(LEEF, '^').Append(nil, e)), '^')
	})
}

// FuzzParse: the parsers never panic, and a header they accept re-encodes
// to a line they read back the same.
func FuzzParse(f *testing.F) {
	f.Add("CEF:0|a|b|c|d|e|1|k=v k2=w\\=x")
	f.Add("LEEF:2.0|a|b|c|d|^|k=v^k2=w")
	f.Add("LEEF:1.0|a|b|c|d|k=v\tk2=w")
	f.Add("CEF:0|a\\|b|c|d|e|f|1|")
	f.Fuzz(func(t *testing.T, s string) {
		if l, err := ceftest.ParseCEF(s); err == nil {
			var b []byte
			b = append(b, "CEF:0|"...)
			for _, h := range []string{l.Vendor, l.Product, l.DeviceVersion, l.SignatureID, l.Name, l.Severity} {
				b = AppendCEFHeader(b, h)
				b = append(b, '|')
			}
			w := extWriter{b: b, sep: ' '}
			for _, fl := range l.Fields {
				w.key(fl.Key)
				w.value(fl.Value)
			}
			l2, err := ceftest.ParseCEF(string(w.b))
			if err != nil {
				t.Fatalf("re-encoded %q: %v", w.b, err)
			}
			l.Version = "0"
			if !sameLine(l, l2) {
				t.Fatalf("%q re-encoded as %q: %+v != %+v", s, w.b, l, l2)
			}
		}
		_, _ = ceftest.ParseLEEF(s, ParseLEEFDelimiter)
		_, _ = ParseLEEFDelimiter(s)
		_ = ceftest.UnescapeCEFValue(s)
		_ = ceftest.UnescapeLEEFValue(s)
	})
}

func sameLine(a, b ceftest.Line) bool {
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			return false
		}
	}
	a.Fields, b.Fields = nil, nil
	return flat(a.Vendor) == b.Vendor && flat(a.Product) == b.Product && flat(a.DeviceVersion) == b.DeviceVersion &&
		flat(a.SignatureID) == b.SignatureID && flat(a.Name) == b.Name && flat(a.Severity) == b.Severity
}
