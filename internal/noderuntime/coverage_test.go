// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// coverageRow is one statement of COVERAGE.md.
type coverageRow struct {
	test      string   // "containerd#7"
	statement string   // as coveragegen prints it
	lines     []string // the example: earlier lines feed parser state, the last is the statement
	kinds     []Kind   // the events the last line must give; nil = none
	why       string   // for a statement not parsed
}

var coverageTestName = regexp.MustCompile(`^(kubelet|containerd|crio|cri-dockerd)#([0-9]+)$`)

// readCoverage reads the statement tables of COVERAGE.md.
func readCoverage(t *testing.T) []coverageRow {
	t.Helper()
	data, err := os.ReadFile("COVERAGE.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []coverageRow
	next := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		cells := splitTableRow(line)
		if len(cells) != 7 {
			continue
		}
		m := coverageTestName.FindStringSubmatch(cells[0])
		if m == nil {
			continue
		}
		next[m[1]]++
		if want := fmt.Sprintf("%s#%d", m[1], next[m[1]]); cells[0] != want {
			t.Errorf("COVERAGE.md:%d: test %s, want %s (rows are numbered in order)", n+1, cells[0], want)
		}
		stmt := codeSpans(cells[2])
		ex := codeSpans(cells[5])
		if len(stmt) != 1 || len(ex) == 0 {
			t.Errorf("COVERAGE.md:%d: want one statement and at least one example line in backquotes", n+1)
			continue
		}
		r := coverageRow{test: cells[0], statement: stmt[0], lines: ex}
		if ev := cells[6]; strings.HasPrefix(ev, "—") {
			r.why = strings.TrimSpace(strings.TrimPrefix(ev, "—"))
			if r.why == "" {
				t.Errorf("COVERAGE.md:%d: a statement not parsed says why", n+1)
			}
		} else {
			for _, k := range strings.Split(ev, ",") {
				r.kinds = append(r.kinds, Kind(strings.TrimSpace(k)))
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("COVERAGE.md has no statement rows")
	}
	return rows
}

// splitTableRow splits a markdown table row into its cells ("\|" is a
// literal bar inside a cell).
func splitTableRow(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	var cells []string
	var cur strings.Builder
	for i := 1; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return cells
}

// codeSpans returns the `code` spans of a cell.
func codeSpans(cell string) []string {
	var out []string
	for {
		i := strings.IndexByte(cell, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(cell[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, cell[i+1:i+1+j])
		cell = cell[i+2+j:]
	}
}

// TestCoverage parses the example line of every statement of COVERAGE.md
// (the statements coveragegen finds in the kubelet, containerd, CRI-O and
// cri-dockerd sources) and checks the events it gives against the table's
// event column, and their fields against
// testdata/golden/coverage/COVERAGE.md.golden.jsonl (go test -update
// rewrites it; review the diff). A statement the table says is not parsed
// must be recognised without an event.
func TestCoverage(t *testing.T) {
	rows := readCoverage(t)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	seen := map[string]string{}
	for _, r := range rows {
		rt, _, _ := strings.Cut(r.test, "#")
		if prev, ok := seen[rt+" "+r.statement]; ok {
			t.Errorf("%s: statement also in %s", r.test, prev)
		}
		seen[rt+" "+r.statement] = r.test
		t.Run(r.test, func(t *testing.T) {
			p := NewParser(Options{Year: 2025})
			var evs []Event
			var err error
			for _, l := range r.lines {
				evs, err = p.ParseAll([]byte(l), evs[:0])
			}
			if err != nil {
				t.Fatalf("%s: %v", r.lines[len(r.lines)-1], err)
			}
			var got []Kind
			for i := range evs {
				got = append(got, evs[i].Kind)
				if err := enc.Encode(struct {
					Test string `json:"test"`
					*Event
				}{r.test, &evs[i]}); err != nil {
					t.Fatal(err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(r.kinds) {
				t.Errorf("%s\n events %v, COVERAGE.md says %v", r.lines[len(r.lines)-1], got, r.kinds)
			}
		})
	}
	golden := filepath.Join("testdata", "golden", "coverage", "COVERAGE.md.golden.jsonl")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update and review the golden file)", err)
	}
	if got := buf.Bytes(); !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s line %d:\n got: %s\nwant: %s", golden, i+1, g, w)
				break
			}
		}
	}
}
