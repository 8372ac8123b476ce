// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
)

// TestDamagedState: while the collector is stopped its state directory is
// damaged, every database file truncated to a quarter or four of its pages
// overwritten in the middle (a full disk, a copy cut short, a bad block).
// Before, the collector died at every start (SIGBUS or a bbolt assertion in
// bbolt.Open's own goroutine). Now it starts: each damaged file is moved
// aside with an error log, the components start empty, and it works: the
// file input reads the demo's audit log anew and every record comes again.
func TestDamagedState(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	data, err := os.ReadFile(distPath(t, "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	want := createsIn(bytes.SplitAfter(data, []byte("\n")))
	bin := Collector(t)
	ps := os.Getpagesize()
	for _, damage := range []struct {
		name string
		fn   func(path string, size int64) error
	}{
		{"truncated", func(path string, size int64) error { return os.Truncate(path, size/4) }},
		{"overwritten", func(path string, size int64) error {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			junk := make([]byte, 4*ps)
			rnd := rand.New(rand.NewPCG(uint64(size), 7))
			for i := range junk {
				junk[i] = byte(rnd.Uint32())
			}
			// pages 3 to 6: past the two meta pages and the first tree pages,
			// in the middle of a small file
			_, err = f.WriteAt(junk, int64(3*ps))
			return err
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "config.yaml", restartConfig)
			auditLog, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
			for _, err := range []error{os.Mkdir(state, 0o700), os.WriteFile(auditLog, data, 0o600)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			sink := NewSink(t)
			env := []string{"STATE=" + state, "AUDIT_LOG=" + auditLog, "SINK=" + sink.URL, "RULES=" + distPath(t, "rules")}

			p := Start(t, bin, cfg, env...)
			WaitFor(t, 60*time.Second, fmt.Sprintf("%d records", want), func() bool {
				return len(sink.Records(attr.EventPodCreation)) >= want
			})
			time.Sleep(500 * time.Millisecond) // the checkpoint and the state written
			p.Stop(t)

			files, _ := filepath.Glob(filepath.Join(state, "*"))
			if len(files) < 2 {
				t.Fatalf("state files: %v", files)
			}
			for _, f := range files {
				info, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := damage.fn(f, info.Size()); err != nil {
					t.Fatal(err)
				}
			}

			p = Start(t, bin, cfg, env...)
			p.WaitReady(t, "the collector on the damaged state")
			WaitFor(t, 60*time.Second, fmt.Sprintf("%d records again", 2*want), func() bool {
				return len(sink.Records(attr.EventPodCreation)) >= 2*want
			})
			select {
			case <-p.exited:
				t.Fatal("the collector exited")
			default:
			}
			log, _ := os.ReadFile(p.LogPath)
			moved := strings.Count(string(log), "damaged storage database moved aside")
			aside, _ := filepath.Glob(filepath.Join(state, "*.damaged"))
			backups, _ := filepath.Glob(filepath.Join(state, "*.backup"))
			t.Logf("%d state files %s: %d moved aside (%d .damaged files, %d recreate backups); %d records before, %d after",
				len(files), damage.name, moved, len(aside), len(backups), want, len(sink.Records(attr.EventPodCreation))-want)
			if moved == 0 || len(aside) != moved {
				t.Errorf("%d moved aside in the log, %d .damaged files", moved, len(aside))
			}
			p.Stop(t)
		})
	}
}
