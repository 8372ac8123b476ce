// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef/ceftest"
	"github.com/podtrail/podtrail/internal/attr"
)

// The exporter's hot path per record: syslog header, CEF or LEEF line,
// framing, into reused buffers.
func benchmarkMessage(b *testing.B, f Format, p Protocol, fr Framing) {
	s := &Syslog{Protocol: p, Facility: 16, Hostname: "gw-1", AppName: "podtrail", Location: time.UTC}
	e := enc(f, 0)
	var msg, out []byte
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := events[i%4].ev // two records, two findings
		msg = s.AppendHeader(msg[:0], SyslogSeverity(ev.CEFSeverity()), ev.Time, ev.MsgID())
		msg = e.Append(msg, ev)
		out = fr.Append(out[:0], msg)
		n += len(out)
	}
	b.SetBytes(int64(n / b.N))
}

func BenchmarkMessageCEF5424Octet(b *testing.B) {
	benchmarkMessage(b, CEF, RFC5424, FramingOctetCounting)
}

func BenchmarkMessageLEEF3164Newline(b *testing.B) {
	benchmarkMessage(b, LEEF, RFC3164, FramingNewline)
}

// Filling the Event from attributes as the exporter does (Reset, Set, Add).
func BenchmarkFillEvent(b *testing.B) {
	type kv struct{ k, v string }
	var attrs []kv
	for _, k := range []string{"podtrail.audit.id", "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "user.name",
		"podtrail.actor.kind", "podtrail.channel", "podtrail.pod.generate_name", "podtrail.pod.owner.kind",
		"podtrail.pod.owner.name", "podtrail.pod.owner.uid", "podtrail.pod.service_account", "k8s.node.name",
		"user.id", "client.address", "user_agent.original", "podtrail.decision", "podtrail.allowed",
		"http.response.status_code", "podtrail.audit.level", "podtrail.requested_at", "podtrail.origin",
		"podtrail.join", "podtrail.scheduled_at", "podtrail.started_at", "podtrail.sandbox.id"} {
		attrs = append(attrs, kv{k, "value-of-" + k})
	}
	var e Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Reset()
		for _, a := range attrs {
			if e.Wants(a.k) {
				e.Set(a.k, a.v)
			}
		}
		e.Add(attr.PodImages, "registry.k8s.io/kube-proxy:v1.33.13")
	}
}

func BenchmarkAppendCEFValue(b *testing.B) {
	plain := strings.Repeat("registry.k8s.io/kube-proxy:v1.33.13 ", 8)
	escaped := strings.Repeat(`a=b\c`+"\n", 48)
	for _, c := range []struct{ name, s string }{{"plain", plain}, {"escaped", escaped}} {
		b.Run(c.name, func(b *testing.B) {
			var out []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(c.s)))
			for i := 0; i < b.N; i++ {
				out = AppendCEFValue(out[:0], c.s)
			}
		})
	}
}

func BenchmarkParseCEF(b *testing.B) {
	line := string(enc(CEF, 0).Append(nil, events[0].ev))
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		if _, err := ceftest.ParseCEF(line); err != nil {
			b.Fatal(err)
		}
	}
}
