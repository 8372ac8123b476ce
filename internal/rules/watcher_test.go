// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

const (
	rulesA  = "rules:\n  - id: A\n    condition: pod.namespace == \"kube-system\"\n"
	rulesB  = "rules:\n  - id: B\n    condition: pod.namespace == \"kube-system\"\n    output: {who: pod.actor.username}\n"
	rulesV3 = "lists:\n  ns: [kube-system]\nrules:\n  - id: C\n    condition: pod.namespace in ns\n"
	// a misspelt field: does not compile
	rulesBad = "rules:\n  - id: BAD\n    condition: pod.namespce == \"kube-system\"\n"
)

var sysPod = &podrecord.Record{Namespace: "kube-system", Name: "x", Actor: podrecord.Actor{Username: "alice"}}

func write(t testing.TB, file, data string) {
	t.Helper()
	// write then rename, as editors and kubectl cp do: a reader never sees
	// half a file
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

func fired(t testing.TB, w *Watcher) []string {
	t.Helper()
	fs, errs := w.Evaluate(sysPod)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return ids(fs)
}

// TestWatcherReload edits the rules three times, valid, invalid, valid, and
// the inventory once, and checks what each poll takes, keeps and counts.
func TestWatcherReload(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesA)
	write(t, inv, "")
	var events []ReloadEvent
	w, err := NewWatcher(rules, inv, WatcherOptions{OnReload: func(ev ReloadEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	first := w.Stats().Hash
	steps := []struct {
		name     string
		rules    string
		inv      string
		reloaded bool
		failed   bool
		fires    []string
		reloads  uint64
		failures uint64
	}{
		{"unchanged", rulesA, "", false, false, []string{"A"}, 0, 0},
		{"valid edit", rulesB, "", true, false, []string{"B"}, 1, 0},
		{"invalid edit keeps the last good set", rulesBad, "", false, true, []string{"B"}, 1, 1},
		{"the same invalid contents are not retried", rulesBad, "", false, false, []string{"B"}, 1, 1},
		{"valid again", rulesV3, "", true, false, []string{"C"}, 2, 1},
		{"invalid inventory", rulesV3, "workloadz: []\n", false, true, []string{"C"}, 2, 2},
		{"valid inventory", rulesV3, "system_namespaces: [kube-system]\n", true, false, []string{"C"}, 3, 2},
	}
	for _, s := range steps {
		write(t, rules, s.rules)
		write(t, inv, s.inv)
		reloaded, err := w.Poll()
		if reloaded != s.reloaded || (err != nil) != s.failed {
			t.Fatalf("%s: reloaded %v, err %v", s.name, reloaded, err)
		}
		if got := fired(t, w); !reflect.DeepEqual(got, s.fires) {
			t.Fatalf("%s: fired %v, want %v", s.name, got, s.fires)
		}
		st := w.Stats()
		if st.Reloads != s.reloads || st.Failures != s.failures {
			t.Fatalf("%s: stats %+v", s.name, st)
		}
		if s.failed && !strings.Contains(st.LastError, "rules.yaml:2") && !strings.Contains(st.LastError, "inventory") {
			t.Fatalf("%s: last error %q", s.name, st.LastError)
		}
	}
	if st := w.Stats(); st.Hash == first || st.LastError != "" || st.Rules != 1 {
		t.Fatalf("final stats %+v", st)
	}
	// OnReload saw every attempt: 3 successes, 2 failures, each with the
	// engine in use afterwards
	if len(events) != 5 || events[1].Err == nil || events[1].Engine.Hash() != events[0].Engine.Hash() {
		t.Fatalf("events %+v", events)
	}
}

// TestWatcherConfigMap updates the files the way the kubelet updates a
// ConfigMap volume: the files are symlinks through ..data to a timestamped
// directory, and an update swaps ..data atomically.
func TestWatcherConfigMap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, rules string) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "rules.yaml"), rules)
		write(t, filepath.Join(d, "inventory.yaml"), "")
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_11_20_09_14_00.1", rulesA)
	for _, f := range []string{"rules.yaml", "inventory.yaml"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := NewWatcher(filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml"), WatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	version("..2026_11_20_09_15_00.2", rulesB)
	if reloaded, err := w.Poll(); !reloaded || err != nil {
		t.Fatalf("after the swap: reloaded %v, %v", reloaded, err)
	}
	if got := fired(t, w); !reflect.DeepEqual(got, []string{"B"}) {
		t.Fatalf("fired %v", got)
	}
}

// TestWatcherNoRecordLost evaluates records from several goroutines while
// the rules change valid, invalid, valid: every record is evaluated exactly
// once, by one complete rule set (its findings are those of A, B or C,
// never a mix), and after each valid edit the next records see it. Run it
// with -race.
func TestWatcherNoRecordLost(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesA)
	write(t, inv, "")
	w, err := NewWatcher(rules, inv, WatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sent, evaluated atomic.Int64
	seen := map[string]*atomic.Int64{"A": {}, "B": {}, "C": {}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				fs, errs := w.Evaluate(sysPod)
				if len(errs) > 0 || len(fs) != 1 || seen[fs[0].RuleID] == nil {
					t.Errorf("findings %v %v", ids(fs), errs)
					return
				}
				seen[fs[0].RuleID].Add(1)
				evaluated.Add(1)
			}
		}()
	}
	waitFor := func(id string) {
		t.Helper()
		n := seen[id].Load()
		for seen[id].Load() < n+100 && !t.Failed() {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("A")
	for _, step := range []struct{ rules, want string }{{rulesB, "B"}, {rulesBad, "B"}, {rulesV3, "C"}} {
		write(t, rules, step.rules)
		_, _ = w.Poll()
		if got := fired(t, w); !reflect.DeepEqual(got, []string{step.want}) {
			t.Fatalf("after the edit the next record fires %v, want %s", got, step.want)
		}
		waitFor(step.want)
	}
	close(stop)
	wg.Wait()
	if sent.Load() != evaluated.Load() {
		t.Fatalf("%d records sent, %d evaluated", sent.Load(), evaluated.Load())
	}
	t.Logf("%d records: A %d, B %d, C %d", evaluated.Load(), seen["A"].Load(), seen["B"].Load(), seen["C"].Load())
}

// TestWatcherRun polls in the background and reports through OnReload.
func TestWatcherRun(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesA)
	write(t, inv, "")
	events := make(chan ReloadEvent, 10)
	w, err := NewWatcher(rules, inv, WatcherOptions{Interval: 5 * time.Millisecond, OnReload: func(ev ReloadEvent) { events <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	write(t, rules, rulesBad)
	if ev := <-events; ev.Err == nil || !strings.Contains(ev.Err.Error(), "namespce") {
		t.Fatalf("event %+v", ev)
	}
	write(t, rules, rulesB)
	if ev := <-events; ev.Err != nil || ev.Engine != w.Engine() {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	<-done
	if got := fired(t, w); !reflect.DeepEqual(got, []string{"B"}) {
		t.Fatalf("fired %v", got)
	}
}

func TestWatcherFirstLoadFails(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesBad)
	write(t, inv, "")
	if _, err := NewWatcher(rules, inv, WatcherOptions{}); err == nil || !strings.Contains(err.Error(), "namespce") {
		t.Fatalf("got %v", err)
	}
	if _, err := NewWatcher(filepath.Join(dir, "nope.yaml"), inv, WatcherOptions{}); err == nil {
		t.Fatal("a missing file is an error")
	}
	// a file that disappears later keeps the last good set
	write(t, rules, rulesA)
	w, err := NewWatcher(rules, inv, WatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(rules); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Poll(); err == nil {
		t.Fatal("want the read error")
	}
	if _, err := w.Poll(); err != nil || w.Stats().Failures != 1 {
		t.Fatalf("the same read error is counted once: %v %+v", err, w.Stats())
	}
	if got := fired(t, w); !reflect.DeepEqual(got, []string{"A"}) {
		t.Fatalf("fired %v", got)
	}
}

// TestWatcherPartialWrite: a file written in place is read while half
// written (here: truncated to a valid but empty rule set); the contents
// change again before Settle passes, so that read is not taken, and the
// next poll takes the finished file. No moment runs without the rules.
func TestWatcherPartialWrite(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesA)
	write(t, inv, "")
	w, err := NewWatcher(rules, inv, WatcherOptions{Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte("rules:\n"), 0o600); err != nil { // truncated, in place
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() {
		reloaded, _ := w.Poll()
		done <- reloaded
	}()
	time.Sleep(50 * time.Millisecond)
	if err := os.WriteFile(rules, []byte(rulesB), 0o600); err != nil { // the rest arrives
		t.Fatal(err)
	}
	if <-done {
		t.Fatal("the half-written file was taken")
	}
	if got := fired(t, w); !reflect.DeepEqual(got, []string{"A"}) {
		t.Fatalf("after the half-written read: %v, want the old set [A]", got)
	}
	if reloaded, err := w.Poll(); !reloaded || err != nil {
		t.Fatalf("the finished file: reloaded %v, %v", reloaded, err)
	}
	if got := fired(t, w); !reflect.DeepEqual(got, []string{"B"}) {
		t.Fatalf("after the finished file: %v, want [B]", got)
	}
}

// TestWatcherRevertClearsError: after a failed edit, putting the files back
// to the running contents is not a reload (nothing to compile) but the
// running set is no longer stale: LastError is empty again, and the same
// broken contents written once more fail again.
func TestWatcherRevertClearsError(t *testing.T) {
	dir := t.TempDir()
	rules, inv := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "inventory.yaml")
	write(t, rules, rulesA)
	write(t, inv, "")
	w, err := NewWatcher(rules, inv, WatcherOptions{Settle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	write(t, rules, rulesBad)
	if _, err := w.Poll(); err == nil || w.Stats().LastError == "" {
		t.Fatalf("broken edit: %v, stats %+v", err, w.Stats())
	}
	write(t, rules, rulesA)
	if reloaded, err := w.Poll(); reloaded || err != nil {
		t.Fatalf("revert: reloaded %v, %v", reloaded, err)
	}
	if st := w.Stats(); st.LastError != "" || st.Reloads != 0 || st.Failures != 1 {
		t.Fatalf("after the revert the running set is not stale: %+v", st)
	}
	write(t, rules, rulesBad)
	if _, err := w.Poll(); err == nil || w.Stats().LastError == "" || w.Stats().Failures != 2 {
		t.Fatalf("the broken edit again: %v, stats %+v", err, w.Stats())
	}
	// A file that cannot be read, then is back: not stale either.
	if err := os.Remove(inv); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Poll(); err == nil {
		t.Fatal("missing inventory: no error")
	}
	write(t, rules, rulesA)
	write(t, inv, "")
	if _, err := w.Poll(); err != nil || w.Stats().LastError != "" {
		t.Fatalf("files back: %v, stats %+v", err, w.Stats())
	}
}
