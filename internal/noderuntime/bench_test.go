// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"regexp"
	"testing"
	"time"
)

// benchParse parses the records of the corpus folders dirs per iteration.
func benchParse(b *testing.B, dirs ...string) {
	var recs [][]byte
	for _, dir := range dirs {
		recs = append(recs, allSampleRecords(b)[dir]...)
	}
	if len(recs) == 0 {
		b.Skip("no records")
	}
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	p := NewParser(Options{Reference: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
	dst := make([]Event, 0, 8)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range recs {
			dst, _ = p.ParseAll(r, dst[:0])
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseKubelet(b *testing.B)    { benchParse(b, "kubelet") }
func BenchmarkParseContainerd(b *testing.B) { benchParse(b, "containerd") }
func BenchmarkParseCRIO(b *testing.B)       { benchParse(b, "crio") }
func BenchmarkParseDocker(b *testing.B)     { benchParse(b, "docker") }

// BenchmarkRegexpBaseline approximates what a filelog receiver with a
// regex_parser pipeline does per line (a syslog prefix regex, then a klog
// or logrus regex on the message, all with named captures), on the same
// records, for comparison with the benchmarks above. It does less work than
// ParseAll (no event extraction), so it flatters the regexp path.
func BenchmarkRegexpBaseline(b *testing.B) {
	syslogRE := regexp.MustCompile(`^(?P<time>\S+ +\d+ \d\d:\d\d:\d\d(?:\.\d+)?) (?P<host>\S+) (?P<ident>[^\[: ]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$`)
	klogRE := regexp.MustCompile(`^(?P<sev>[IWEF])(?P<md>\d{4}) (?P<clock>\d\d:\d\d:\d\d\.\d+) +(?P<tid>\d+) (?P<file>[^ \]]+)\] (?P<body>.*)$`)
	logrusRE := regexp.MustCompile(`^time="(?P<time>[^"]+)" level=(?P<level>\w+) msg="(?P<m>(?:[^"\\]|\\.)*)"(?P<rest>.*)$`)
	var recs [][]byte
	for _, dir := range sampleDirs {
		recs = append(recs, allSampleRecords(b)[dir]...)
	}
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range recs {
			msg := r
			if m := syslogRE.FindSubmatchIndex(r); m != nil {
				msg = r[m[10]:m[11]]
			}
			if klogRE.FindSubmatchIndex(msg) == nil {
				logrusRE.FindSubmatchIndex(msg)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseAll parses all corpus folders, for comparison with
// BenchmarkRegexpBaseline.
func BenchmarkParseAll(b *testing.B) { benchParse(b, sampleDirs...) }
