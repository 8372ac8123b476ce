// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// goldenLine is one line of a golden file: an event, or the rejection of a
// record, with the physical line of the sample where the record starts.
type goldenLine struct {
	Record     int    `json:"record"`
	ParseError string `json:"parse_error,omitempty"`
	*Event
}

// TestGolden parses every record of every node-log sample and compares the
// events with testdata/golden/<dir>/<file>.golden.jsonl (go test -update
// rewrites them; review the diff line by line against the sample).
func TestGolden(t *testing.T) {
	for _, dir := range sampleDirs {
		for _, path := range sampleFiles(t, dir) {
			sf := loadSample(t, path)
			t.Run(sf.rel, func(t *testing.T) {
				got, counts := goldenOutput(t, sf)
				t.Logf("%d records, %d events, %d rejected", len(sf.records), counts[0], counts[1])
				golden := filepath.Join("testdata", "golden", sf.rel+".golden.jsonl")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (new sample? run go test -update and review the golden file)", err)
				}
				if !bytes.Equal(got, want) {
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
					t.Errorf("%s differs; run go test -update and review the diff", golden)
				}
			})
		}
	}
}

// goldenOutput renders a sample's events as JSON lines; counts are events
// and rejected records.
func goldenOutput(t *testing.T, sf sampleFile) ([]byte, [2]int) {
	p := NewParser(sf.opts)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var counts [2]int
	var evs []Event
	for _, r := range sf.records {
		var err error
		evs, err = p.ParseAll(r.text, evs[:0])
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("record at line %d: error %v is not a *ParseError", r.line, err)
			}
			counts[1]++
			if err := enc.Encode(goldenLine{Record: r.line, ParseError: err.Error()}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for i := range evs {
			counts[0]++
			if err := enc.Encode(goldenLine{Record: r.line, Event: &evs[i]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.Bytes(), counts
}

// TestPodObjectsYieldNoEvents runs the parser over the pod-objects samples
// (pod manifests and status JSON, no node log lines) as a negative control.
func TestPodObjectsYieldNoEvents(t *testing.T) {
	for _, path := range sampleFiles(t, "pod-objects") {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := NewParser(Options{})
		for i, l := range bytes.Split(data, []byte("\n")) {
			evs, _ := p.ParseAll(l, nil)
			if len(evs) > 0 {
				t.Errorf("%s:%d: unexpected events %+v", filepath.Base(path), i+1, evs)
			}
		}
	}
}
