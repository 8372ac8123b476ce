// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSeeds adds every sample record (and a few synthetic edge cases) to f.
func fuzzSeeds(f *testing.F, add func(rec []byte)) {
	for _, dir := range sampleDirs {
		for _, rec := range allSampleRecords(f)[dir] {
			add(rec)
		}
	}
	for _, ex := range coverageExamples(f) {
		add([]byte(ex))
	}
	for _, s := range []string{
		"2025-11-20T09:15:18.4679Z stderr P I1120 09:15:18.467816 1 a.go:1] \"Created PodSandbox for pod\" podSandboxID=\"0123456789ab\"\n2025-11-20T09:15:18.4679Z stderr F  pod=\"a/b\"",
		`{"log":"I1120 09:15:18.467816 1 a.go:1] \"SyncLoop ADD\" source=\"api\" pods=[\"a/b\"]\n","stream":"stderr","time":"2025-11-20T09:15:18Z"}`,
		`{"__REALTIME_TIMESTAMP":"1763630118467900","_HOSTNAME":"n","SYSLOG_IDENTIFIER":"crio","MESSAGE":"level=info msg=\"Pulling image: x\" id=1\ud83d\ude00"}`,
		"E1120 09:15:18.467816 1 a.go:1] \"Error syncing pod, skipping\" err=<\n\tfailed to \"StartContainer\" for \"c\" with ErrImagePull: \"x\"\n > pod=\"a/b\"",
		`{"ts":1763630118467.816,"msg":"Error syncing pod, skipping","pod":{"name":"b","namespace":"a"},"err":"[failed to \"CreatePodSandbox\" for \"b_a(u)\" with CreatePodSandboxError: \"x\", failed to \"InitContainer\" for \"i\" with InvalidImageName: \"y\"]"}`,
		"", " ", "\n", "-- ", "<30>1 - - - - - -", `time="`, `level=info msg="`, "INFO[", "{", `{"msg":"\"`,
		"I0102 15:04:05.000000 1 a.go:1] \"SyncLoop ADD\" source=\"file\" pods=[",
		`msg="RunPodSandbox for name:\"`, `msg="CreateContainer within sandbox \"`, "k8s_POD____0",
		"févr. 31 25:61:61 h k:", "9月 20 16:41:05 node kubelet[1]: I0920",
	} {
		add([]byte(s))
	}
}

// coverageExamples returns the example lines of COVERAGE.md, one string per
// row (its lines joined by \n), as fuzz seeds.
func coverageExamples(tb testing.TB) []string {
	data, err := os.ReadFile("COVERAGE.md")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		cells := splitTableRow(line)
		if len(cells) != 7 || !coverageTestName.MatchString(cells[0]) {
			continue
		}
		out = append(out, strings.Join(codeSpans(cells[5]), "\n"))
	}
	return out
}

// eventsSnapshot renders events (all fields) for comparison.
func eventsSnapshot(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%#v\n", ev)
	}
	return b.String()
}

// checkParse runs ParseAll and checks the invariants every input must keep.
func checkParse(t *testing.T, p *Parser, data []byte) {
	in := bytes.Clone(data)
	evs, err := p.ParseAll(in, nil)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %T %v is not a *ParseError", err, err)
		}
		if len(evs) != 0 {
			t.Fatalf("events returned with an error")
		}
		return
	}
	before := eventsSnapshot(evs)
	for i := range in {
		in[i] ^= 0xff // callers reuse their buffers: events must not alias them
	}
	if after := eventsSnapshot(evs); after != before {
		t.Fatalf("events alias the input:\n%s\n%s", before, after)
	}
	for _, ev := range evs {
		if ev.Kind == "" || ev.Line != string(data) {
			t.Fatalf("bad event %+v", ev)
		}
		switch ev.Source {
		case SourceKubelet, SourceContainerd, SourceCRIO, SourceDocker, SourceCRIDockerd:
		default:
			t.Fatalf("bad source %q", ev.Source)
		}
		if y := ev.Time.Year(); !ev.Time.IsZero() && (y < 1 || y > 10000) {
			t.Fatalf("bad time %v", ev.Time)
		}
	}
}

// FuzzParse feeds arbitrary records to ParseAll (auto-detection) and checks
// that it never panics, returns only *ParseError errors, and emits owned,
// well-formed events; Parse must agree with ParseAll.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f, func(rec []byte) { f.Add(rec) })
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewParser(Options{Reference: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
		checkParse(t, p, data)
		q := NewParser(Options{Reference: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
		all, err1 := q.ParseAll(data, nil)
		r := NewParser(Options{Reference: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
		one, ok, err2 := r.Parse(data)
		if (err1 == nil) != (err2 == nil) || ok != (len(all) > 0) || (ok && eventsSnapshot([]Event{one}) != eventsSnapshot(all[:1])) {
			t.Fatalf("Parse and ParseAll disagree: %v %v %v / %v", all, err1, one, err2)
		}
	})
}

// FuzzParseFormat exercises the Options.Format entry (a tailer configured
// for one daemon's file) for every source, and Options.Year/Location.
func FuzzParseFormat(f *testing.F) {
	fuzzSeeds(f, func(rec []byte) {
		for i := range sources {
			f.Add(uint8(i), rec)
		}
	})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		src := sources[int(which)%len(sources)]
		p := NewParser(Options{Format: src, Year: 2023, Location: time.FixedZone("", 3600), Node: "n"})
		checkParse(t, p, data)
	})
}

// FuzzJoiner checks that the Joiner neither loses nor invents content: the
// records it emits are the non-blank input lines, in order.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte("a\n  b\nNov 06 09:58:48 h k[1]: x\n\n c"))
	for _, dir := range sampleDirs {
		for _, rec := range allSampleRecords(f)[dir] {
			f.Add(rec)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var j Joiner
		var got [][]byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if r, ok := j.Add(l); ok {
				got = append(got, bytes.Clone(r))
			}
		}
		if r, ok := j.Flush(); ok {
			got = append(got, bytes.Clone(r))
		}
		var want [][]byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			l = bytes.TrimRight(l, "\r")
			if len(bytes.TrimSpace(l)) > 0 {
				want = append(want, l)
			}
		}
		var flat [][]byte
		for _, r := range got {
			flat = append(flat, bytes.Split(r, []byte("\n"))...)
		}
		if len(flat) != len(want) {
			t.Fatalf("lines: got %q want %q", flat, want)
		}
		for i := range want {
			if !bytes.Equal(flat[i], want[i]) {
				t.Fatalf("line %d: got %q want %q", i, flat[i], want[i])
			}
		}
	})
}

var lineStartRE = regexp.MustCompile(LineStartPattern)

// FuzzIsRecordStart checks that LineStartPattern accepts every line
// IsRecordStart accepts (a tailer using the pattern never splits a record
// the parser would keep whole... nor merges two it would split, for the
// recognised forms).
func FuzzIsRecordStart(f *testing.F) {
	for _, dir := range sampleDirs {
		for _, rec := range allSampleRecords(f)[dir] {
			for _, l := range bytes.Split(rec, []byte("\n")) {
				f.Add(l)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 || len(line) > 512 {
			return // the RE2 check is slow on long runs of blanks; starts are short
		}
		if IsRecordStart(line) && !lineStartRE.Match(line) {
			t.Fatalf("IsRecordStart(%q) but LineStartPattern does not match", line)
		}
	})
}

// FuzzParseKubeName checks ParseKubeName round-trips what it accepts.
func FuzzParseKubeName(f *testing.F) {
	for _, s := range []string{"k8s_POD_nginx_default_uid_0", "k8s_web_nginx_default_uid_3", "k8s_p_ns_uid_1", "k8s_POD.abc_p_ns_uid_x", "k8s____"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := ParseKubeName(s)
		if !ok {
			return
		}
		if k.PodName == "" || k.PodNamespace == "" || k.PodUID == "" || strings.Contains(k.PodName, "_") {
			t.Fatalf("ParseKubeName(%q) = %+v", s, k)
		}
	})
}

// TestLineStartPatternOnSamples checks IsRecordStart and LineStartPattern
// agree on every physical line of the samples.
func TestLineStartPatternOnSamples(t *testing.T) {
	for _, dir := range sampleDirs {
		for _, rec := range allSampleRecords(t)[dir] {
			for i, l := range bytes.Split(rec, []byte("\n")) {
				if got, re := IsRecordStart(l), lineStartRE.Match(l); got != re || got != (i == 0) {
					t.Errorf("%q: IsRecordStart=%v pattern=%v first=%v", l, got, re, i == 0)
				}
			}
		}
	}
}

// FuzzParseStream parses the lines of an input with one parser, as a
// stream: the paths that depend on earlier records (CRI-O request ids, a
// containerd pull and its ImageCreate, the Joiner's CRI partial lines) keep
// the invariants of every record.
func FuzzParseStream(f *testing.F) {
	for _, ex := range coverageExamples(f) {
		f.Add([]byte(ex))
	}
	f.Add([]byte("time=\"2025-11-20T09:15:18Z\" level=info msg=\"Creating container: a/b/c\" id=r name=/runtime.v1.RuntimeService/CreateContainer\ntime=\"2025-11-20T09:15:18Z\" level=error msg=\"Container creation failed\" id=r name=/runtime.v1.RuntimeService/CreateContainer"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewParser(Options{Reference: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
		var j Joiner
		for _, l := range bytes.Split(data, []byte("\n")) {
			if rec, ok := j.Add(l); ok {
				checkParse(t, p, rec)
			}
		}
		if rec, ok := j.Flush(); ok {
			checkParse(t, p, rec)
		}
	})
}

// FuzzJSONUnescape holds appendJSONUnescaped (the Docker json-file and
// journal export messages) to encoding/json on valid JSON strings.
func FuzzJSONUnescape(f *testing.F) {
	for _, s := range []string{`a\"b`, `\n\t\\`, `\u00e9\ud83d\ude00`, `\ud800`, `\u12`, `x\`, `\/`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONUnescaped(nil, s)
		var want string
		if !utf8.ValidString(s) || json.Unmarshal([]byte(`"`+s+`"`), &want) != nil {
			return
		}
		if string(got) != want {
			t.Fatalf("%q: got %q, encoding/json %q", s, got, want)
		}
	})
}
