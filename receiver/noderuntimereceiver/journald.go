// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/journal"
)

const (
	// cursorKey is the storage key of the last consumed entry's cursor.
	cursorKey = "journald.cursor"
	// maxJournalLine caps one JSON entry; larger ones are dropped and counted.
	maxJournalLine = 4 << 20
	// maxJournalBatch caps the entries handed to the pipeline at once.
	maxJournalBatch = 1000
	// Restart backoff of journalctl: doubling from the first to the max delay,
	// back to the first after a run that read entries.
	restartFirst = time.Second
	restartMax   = 30 * time.Second
)

// journalInput runs journalctl --output=json --follow and turns its entries
// into events. One goroutine reads and parses (the journal is one ordered
// stream, with one Parser); the cursor of the last entry of every consumed
// batch is saved in the storage extension, and journalctl is restarted after
// it (--after-cursor) when it exits.
type journalInput struct {
	r        *nodeReceiver
	cfg      *JournaldConfig
	path     string // journalctl as found
	args     []string
	storage  storage.Client
	parser   *noderuntime.Parser
	cancel   context.CancelFunc
	done     chan struct{}
	first    time.Duration // restart backoff
	max      time.Duration
	mu       sync.Mutex
	cmd      *exec.Cmd // the running journalctl (tests kill it)
	runs     atomic.Int64
	badSeek  atomic.Bool
	entry    journal.Entry
	evs      []noderuntime.Event
	keys     []string // affinity keys of one event
	cursor   []byte
	long     []byte
	interned [3]map[string]string
}

// maxInterned bounds each intern table (identifiers, units, hosts).
const maxInterned = 256

func newJournalInput(r *nodeReceiver, cfg *JournaldConfig) *journalInput {
	in := &journalInput{r: r, cfg: cfg, parser: noderuntime.NewParser(r.opts), first: restartFirst, max: restartMax}
	if r.journalRestart > 0 {
		in.first = r.journalRestart
	}
	return in
}

func (in *journalInput) start(ctx context.Context, host component.Host) error {
	path, err := exec.LookPath(in.cfg.JournalctlPath)
	if err != nil {
		return fmt.Errorf("node_runtime journald: cannot run journalctl_path %q: %w (install journalctl, or set journalctl_path to its absolute path)", in.cfg.JournalctlPath, err)
	}
	in.path = path
	if in.args, err = journalctlArgs(in.cfg); err != nil {
		return fmt.Errorf("node_runtime journald: %w", err)
	}
	client, err := getStorageClient(ctx, host, in.cfg.StorageID, in.r.set, inputJournald)
	if err != nil {
		return fmt.Errorf("node_runtime journald: %w", err)
	}
	in.storage = client
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.cancel = cancel
	in.done = make(chan struct{})
	go in.run(runCtx)
	return nil
}

func (in *journalInput) stop(ctx context.Context) error {
	if in.cancel != nil {
		in.cancel()
		select {
		case <-in.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if in.storage != nil {
		err := in.storage.Close(ctx)
		in.storage = nil
		return err
	}
	return nil
}

// journalctlArgs are journalctl's arguments without the start position.
// Journal file paths are made absolute: journalctl 252 cannot follow a
// relative --file ("Failed to get journal fd").
func journalctlArgs(cfg *JournaldConfig) ([]string, error) {
	args := []string{"--output=json", "--follow", "--no-pager", "--utc", "--all"}
	if cfg.Directory != "" {
		dir, err := filepath.Abs(cfg.Directory)
		if err != nil {
			return nil, err
		}
		args = append(args, "--directory="+dir)
	}
	for _, f := range cfg.Files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		args = append(args, "--file="+abs)
	}
	for _, u := range cfg.Units {
		args = append(args, "--unit="+u)
	}
	for _, id := range cfg.Identifiers {
		args = append(args, "--identifier="+id)
	}
	return args, nil
}

// startArgs adds where to start: after the stored cursor, else start_at.
// (journalctl ignores --after-cursor when --lines=0 is given too.)
func (in *journalInput) startArgs(cursor []byte) []string {
	args := append([]string(nil), in.args...)
	switch {
	case len(cursor) > 0:
		return append(args, "--after-cursor="+string(cursor))
	case in.cfg.StartAt == "beginning":
		return append(args, "--no-tail")
	default:
		return append(args, "--lines=0")
	}
}

func (in *journalInput) run(ctx context.Context) {
	defer close(in.done)
	logger := in.r.set.Logger
	delay := in.first
	for {
		cursor, err := in.storage.Get(ctx, cursorKey)
		if err != nil {
			logger.Warn("node_runtime journald: cannot read the stored cursor; starting per start_at", zap.Error(err))
			cursor = nil
		}
		if len(cursor) == 0 && in.cfg.StartAt == "end" {
			// Pin "end" to the current last entry, so that a restart of
			// journalctl (or of the collector) before the first entry is
			// consumed does not skip what was logged in between.
			cursor = in.tailCursor(ctx)
			if len(cursor) > 0 {
				if err := in.storage.Set(ctx, cursorKey, cursor); err != nil {
					logger.Warn("node_runtime journald: cannot save the cursor", zap.Error(err))
				}
			}
		}
		started := time.Now()
		n, err := in.runOnce(ctx, in.startArgs(cursor))
		if ctx.Err() != nil {
			return
		}
		if in.badSeek.Swap(false) && len(cursor) > 0 {
			logger.Warn("node_runtime journald: journalctl rejected the stored cursor; dropping it and starting per start_at",
				zap.ByteString("cursor", cursor))
			if err := in.storage.Delete(ctx, cursorKey); err != nil {
				logger.Warn("node_runtime journald: cannot delete the stored cursor", zap.Error(err))
			}
		}
		if n > 0 {
			delay = in.first
		}
		logger.Warn("node_runtime journald: journalctl exited; restarting it after the last consumed entry",
			zap.Error(err), zap.Int("entries_read", n), zap.Duration("ran", time.Since(started)), zap.Duration("restart_in", delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, in.max)
	}
}

// tailCursor returns the cursor of the last entry journalctl selects (nil
// when there is none or journalctl fails: then --lines=0 is used).
func (in *journalInput) tailCursor(ctx context.Context) []byte {
	args := make([]string, 0, len(in.args)+1)
	for _, a := range in.args {
		if a != "--follow" {
			args = append(args, a)
		}
	}
	cmd := exec.CommandContext(ctx, in.path, append(args, "--lines=1")...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		in.r.set.Logger.Debug("node_runtime journald: cannot read the last entry's cursor", zap.Error(err))
		return nil
	}
	var e journal.Entry
	for line := range bytes.Lines(out) {
		if e.Decode(bytes.TrimSpace(line)) == nil && len(e.Cursor()) > 0 {
			return bytes.Clone(e.Cursor())
		}
	}
	return nil
}

// runOnce runs journalctl until it exits (or ctx ends) and returns the
// number of entries read.
func (in *journalInput) runOnce(ctx context.Context, args []string) (int, error) {
	cmd := exec.CommandContext(ctx, in.path, args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", in.path, err)
	}
	in.mu.Lock()
	in.cmd = cmd
	in.mu.Unlock()
	in.runs.Add(1)
	in.r.set.Logger.Debug("node_runtime journald: journalctl started", zap.String("path", in.path), zap.Strings("args", args))

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.readStderr(stderr)
	}()
	n := in.readEntries(ctx, stdout)
	wg.Wait()
	err = cmd.Wait()
	in.mu.Lock()
	in.cmd = nil
	in.mu.Unlock()
	return n, err
}

func (in *journalInput) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "seek to cursor") {
			in.badSeek.Store(true)
		}
		in.r.set.Logger.Warn("node_runtime journald: journalctl: " + line)
	}
}

// readEntries reads entries until journalctl closes its output, handing a
// batch to the pipeline whenever no more output is buffered (or
// maxJournalBatch entries are pending), and saving the batch's last cursor.
func (in *journalInput) readEntries(ctx context.Context, stdout io.Reader) int {
	br := bufio.NewReaderSize(stdout, 64<<10)
	// A batch read before journalctl was stopped is still delivered and
	// checkpointed during shutdown.
	flushCtx := context.WithoutCancel(ctx)
	var (
		ld       plog.Logs
		lrs      plog.LogRecordSlice
		counts   batchCounts
		pending  int
		total    int
		observed = now()
	)
	ld, lrs = newLogs(inputJournald)
	flush := func() {
		if pending == 0 {
			return
		}
		if err := in.r.consume(flushCtx, in.r.obsJourn, inputJournald, ld, &counts); err != nil {
			in.r.set.Logger.Error("node_runtime journald: the pipeline refused a batch; its entries are dropped", zap.Error(err))
		}
		if len(in.cursor) > 0 {
			if err := in.storage.Set(flushCtx, cursorKey, in.cursor); err != nil {
				in.r.set.Logger.Warn("node_runtime journald: cannot save the cursor", zap.Error(err))
			}
		}
		ld, lrs = newLogs(inputJournald)
		counts.reset()
		pending = 0
	}
	for {
		line, err := in.readLine(br)
		if line != nil {
			if pending == 0 {
				observed = now()
			}
			in.entryToEvents(line, lrs, &counts, observed)
			pending++
			total++
		}
		if err != nil || br.Buffered() == 0 || pending >= maxJournalBatch {
			flush()
		}
		if err != nil {
			return total
		}
	}
}

// readLine returns the next line without its newline (nil when it was too
// large and dropped), or an error at the end of the output.
func (in *journalInput) readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(bytes.TrimSpace(line)) > 0 {
			return line, nil // last line without a newline; err follows on the next call
		}
		return nil, err
	}
	in.long = append(in.long[:0], line...)
	tooLarge := false
	for {
		line, err = br.ReadSlice('\n')
		if !tooLarge {
			in.long = append(in.long, line...)
			if len(in.long) > maxJournalLine {
				tooLarge = true
				in.long = in.long[:0]
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLarge {
			var counts batchCounts
			in.r.unparsed(inputJournald, errTooLarge, nil, &counts)
			in.r.tel.addUnparsed(context.Background(), &counts)
			return nil, err
		}
		if err == nil {
			return in.long[:len(in.long)-1], nil
		}
		return in.long, nil
	}
}

var errTooLarge = fmt.Errorf("journal entry larger than %d bytes", maxJournalLine)

// entryToEvents decodes one journalctl line and appends its events.
func (in *journalInput) entryToEvents(line []byte, lrs plog.LogRecordSlice, counts *batchCounts, observed pcommon.Timestamp) {
	e := &in.entry
	if err := e.Decode(line); err != nil {
		in.r.unparsed(inputJournald, err, line, counts)
		return
	}
	if c := e.Cursor(); len(c) > 0 {
		in.cursor = append(in.cursor[:0], c...)
	}
	ident, _ := e.Get(journal.FieldIdent)
	if len(ident) == 0 {
		ident, _ = e.Get(journal.FieldComm)
	}
	unit, _ := e.Get(journal.FieldUnit)
	host, _ := e.Get(journal.FieldHostname)
	meta := noderuntime.Meta{Ident: in.intern(0, ident), Unit: in.intern(1, unit), Host: in.intern(2, host)}
	meta.Time, _ = e.Realtime()
	msg := e.Message()
	var err error
	in.evs, err = in.parser.ParseMessage(msg, meta, in.evs[:0])
	if err != nil {
		in.r.unparsed(inputJournald, err, msg, counts)
		return
	}
	for i := range in.evs {
		in.keys = in.r.affinity.keys(&in.evs[i], in.keys[:0])
		for j := 0; j == 0 || j < len(in.keys); j++ {
			lr := nodeevent.Append(lrs, &in.evs[i], observed, keyAt(in.keys, j))
			if meta.Unit != "" {
				lr.Attributes().PutStr(attr.NodeJournalUnit, nodeevent.ValidUTF8(meta.Unit))
			}
		}
		counts.event(in.evs[i].Kind)
	}
	clear(in.evs)
}

// intern returns b as a string, reusing the string made for the same bytes
// before: identifiers, units and hosts repeat, and events keep them.
func (in *journalInput) intern(i int, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	t := in.interned[i]
	if s, ok := t[string(b)]; ok {
		return s
	}
	if t == nil || len(t) >= maxInterned {
		t = make(map[string]string)
		in.interned[i] = t
	}
	s := string(b)
	t[s] = s
	return s
}

// pid returns the process id of the running journalctl (0 if none).
func (in *journalInput) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return 0
	}
	return in.cmd.Process.Pid
}
