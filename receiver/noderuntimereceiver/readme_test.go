// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"os"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/noderuntime"
)

// TestReadmeExamples parses every line of the README's table "Example lines
// per runtime and version" and checks the event it gives.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "### Example lines per runtime and version")
	if start < 0 {
		t.Fatal("README has no example table")
	}
	text = text[start:]
	if end := strings.Index(text[4:], "\n#"); end >= 0 {
		text = text[:end+4]
	}
	n := 0
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 || !strings.HasPrefix(cells[3], "`") {
			continue
		}
		var lines []string
		for _, span := range strings.Split(cells[3], "<br>") {
			lines = append(lines, strings.Trim(span, "`"))
		}
		want := noderuntime.Kind(cells[4])
		n++
		t.Run(cells[0]+" "+cells[1]+" "+cells[2], func(t *testing.T) {
			p := noderuntime.NewParser(noderuntime.Options{Year: 2025})
			var evs []noderuntime.Event
			var err error
			for _, l := range lines {
				evs, err = p.ParseAll([]byte(l), evs[:0])
			}
			if err != nil || len(evs) == 0 || evs[0].Kind != want {
				t.Errorf("%s\n events %v, %v; README says %s", lines[len(lines)-1], evs, err, want)
			}
		})
	}
	if n < 20 {
		t.Errorf("%d example lines in the README table", n)
	}
}
