// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// Watcher keeps an Engine compiled from a rules file and an inventory file
// and recompiles it when either changes, without a collector. See design.md.
//
// Every Interval it reads both files and hashes their contents; when the
// hash differs from the running set's, and a second read Settle later sees
// the same contents (a file being written in place is not taken half
// written), it compiles a new Engine. On success
// it swaps the Engine in with an atomic store: an evaluation already running
// finishes on the Engine it started with, the next one uses the new set, and
// no record is dropped or evaluated twice. On failure it keeps the last good
// Engine, counts the failure, reports it to OnReload, and does not retry
// the same contents until they change again.
//
// Reading contents rather than watching events also covers Kubernetes
// ConfigMap volumes, which update by swapping the ..data symlink (the files'
// own modification times do not change), and editors that replace files.
type Watcher struct {
	src  Sources
	opts WatcherOptions

	cur atomic.Pointer[Engine]

	mu         sync.Mutex // serializes Poll and guards what follows
	failedHash string
	lastErr    error
	lastReload time.Time

	reloads, failures atomic.Uint64
}

// WatcherOptions tune a Watcher.
type WatcherOptions struct {
	// Interval between polls in Run; 0 means 2 s.
	Interval time.Duration
	// Settle is how long changed contents must stay the same before they
	// are compiled; 0 means 100 ms.
	Settle time.Duration
	// OnReload, if set, is called after every reload attempt, from the
	// goroutine that polled: with the new Engine and a nil error, or with the
	// kept Engine and the error.
	OnReload func(ReloadEvent)
}

// ReloadEvent is a reload attempt.
type ReloadEvent struct {
	Engine *Engine // the Engine in use after the attempt
	Hash   string  // content hash of the files read
	Err    error   // why the new contents were not taken; nil on success
}

// WatcherStats are a Watcher's counters.
type WatcherStats struct {
	Reloads    uint64 // successful reloads after the first load
	Failures   uint64 // reload attempts that kept the last good set
	Hash       string // content hash of the running set
	Rules      int    // enabled rules of the running set
	LastError  string // of the latest failed attempt; "" after a success or once the files hold the running set again
	LastReload time.Time
}

// DefaultInterval is how often Run polls when Options.Interval is 0.
const DefaultInterval = 2 * time.Second

// NewWatcher loads the rules and inventory; it fails when they do not
// compile (there is no last good set yet). Either may be a directory.
func NewWatcher(rulesFile, inventoryFile string, opts WatcherOptions) (*Watcher, error) {
	return NewSourcesWatcher(Sources{Rules: []string{rulesFile}, Inventory: []string{inventoryFile}}, opts)
}

// NewSourcesWatcher is NewWatcher for several rules and inventory files
// and directories (layered and merged as LoadSources does). A directory is
// listed again at every poll: a file added, changed or removed there is a
// change.
func NewSourcesWatcher(src Sources, opts WatcherOptions) (*Watcher, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Settle <= 0 {
		opts.Settle = 100 * time.Millisecond
	}
	w := &Watcher{src: src, opts: opts}
	e, err := LoadSources(src)
	if err != nil {
		return nil, err
	}
	w.cur.Store(e)
	w.lastReload = time.Now()
	return w, nil
}

// Engine is the running rule set. Evaluate with it once per record: a
// reload swaps the Watcher's Engine, not the one a caller holds.
func (w *Watcher) Engine() *Engine { return w.cur.Load() }

// Evaluate evaluates r with the running rule set.
func (w *Watcher) Evaluate(r *podrecord.Record) ([]Finding, []error) {
	return w.cur.Load().Evaluate(r)
}

// Poll checks the files once, as Run does every Interval. It reports
// whether a new set was taken, and the error of a failed attempt. Unchanged
// files, and contents that already failed, are not compiled again.
func (w *Watcher) Poll() (reloaded bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rules, inv, err := w.src.Read()
	if err != nil {
		key := "read:" + err.Error()
		if key == w.failedHash {
			return false, nil
		}
		w.failedHash = key
		return false, w.fail(key, err)
	}
	hash := hashSources(rules, inv, w.src.Strict)
	if hash == w.cur.Load().Hash() {
		// The files hold the running set (again, after a failed edit was
		// reverted): nothing to compile, and nothing stale. The same broken
		// contents written again are a new failure.
		w.failedHash, w.lastErr = "", nil
		return false, nil
	}
	if hash == w.failedHash {
		return false, nil
	}
	// Changed. An editor or `cp` writing in place truncates, then writes:
	// a read in between sees a partial file, which may even compile (an
	// empty rules file is a valid, empty set). Take the contents only when
	// a second read a moment later sees the same.
	time.Sleep(w.opts.Settle)
	rules2, inv2, err := w.src.Read()
	if err != nil || hashSources(rules2, inv2, w.src.Strict) != hash {
		return false, nil // still being written: the next poll looks again
	}
	e, err := CompileSources(rules, inv, w.src.Strict)
	if err != nil {
		w.failedHash = hash
		return false, w.fail(hash, err)
	}
	w.cur.Store(e)
	w.failedHash, w.lastErr, w.lastReload = "", nil, time.Now()
	w.reloads.Add(1)
	if w.opts.OnReload != nil {
		w.opts.OnReload(ReloadEvent{Engine: e, Hash: hash})
	}
	return true, nil
}

func (w *Watcher) fail(hash string, err error) error {
	w.lastErr = err
	w.failures.Add(1)
	if w.opts.OnReload != nil {
		w.opts.OnReload(ReloadEvent{Engine: w.cur.Load(), Hash: hash, Err: err})
	}
	return err
}

// Run polls every Interval until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = w.Poll()
		}
	}
}

// Stats returns the counters.
func (w *Watcher) Stats() WatcherStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.cur.Load()
	s := WatcherStats{Reloads: w.reloads.Load(), Failures: w.failures.Load(), Hash: e.Hash(), Rules: e.Len(),
		LastReload: w.lastReload}
	if w.lastErr != nil {
		s.LastError = w.lastErr.Error()
	}
	return s
}
