// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer/attrs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
)

// fileInput tails node log files with contrib's file consumer. Each file
// (by path) has its own Parser: a Parser learns from its stream (reference
// year, daemon versions, CRI-O pull requests), and the file consumer reads
// files concurrently.
type fileInput struct {
	r       *nodeReceiver
	cfg     *FileConfig
	manager *fileconsumer.Manager
	storage storage.Client

	mu      sync.Mutex
	streams map[string]*fileStream
}

type fileStream struct {
	mu       sync.Mutex
	parser   *noderuntime.Parser
	evs      []noderuntime.Event
	keys     []string // affinity keys of one event
	lastUsed time.Time
}

// Streams idle for streamIdle are forgotten once more than maxStreams exist
// (rotated files the include globs match come and go).
const (
	maxStreams = 256
	streamIdle = time.Hour
)

func newFileInput(r *nodeReceiver, cfg *FileConfig) *fileInput {
	return &fileInput{r: r, cfg: cfg, streams: map[string]*fileStream{}}
}

func (in *fileInput) start(ctx context.Context, host component.Host) error {
	client, err := getStorageClient(ctx, host, in.cfg.StorageID, in.r.set, inputFile)
	if err != nil {
		return fmt.Errorf("node_runtime file: %w", err)
	}
	in.storage = client
	fc := in.cfg.Config
	var opts []fileconsumer.Option
	if split, ok := recordSplitter(&fc); ok {
		opts = append(opts, fileconsumer.WithSplitFunc(split))
	} else if fc.SplitConfig.LineStartPattern == "" && fc.SplitConfig.LineEndPattern == "" && !nopEncoding(fc.Encoding) {
		// An encoding the record splitter cannot read byte-wise: group
		// records with the file consumer's multiline splitter instead.
		fc.SplitConfig.LineStartPattern = noderuntime.LineStartPattern
	}
	m, err := fc.Build(in.r.set.TelemetrySettings, in.emit, opts...)
	if err == nil {
		err = m.Start(client)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("node_runtime file: %w", err), in.stop(ctx))
	}
	in.manager = m
	return nil
}

func (in *fileInput) stop(ctx context.Context) error {
	var errs []error
	if in.manager != nil {
		errs = append(errs, in.manager.Stop())
		in.manager = nil
	}
	if in.storage != nil {
		errs = append(errs, in.storage.Close(ctx))
		in.storage = nil
	}
	return errors.Join(errs...)
}

// recordSplitter returns the receiver's record splitter when the file
// consumer would otherwise split plain lines of an ASCII-compatible encoding
// (no multiline option set).
func recordSplitter(c *fileconsumer.Config) (func([]byte, bool) (int, []byte, error), bool) {
	if c.SplitConfig.LineStartPattern != "" || c.SplitConfig.LineEndPattern != "" {
		return nil, false
	}
	switch strings.ToLower(c.Encoding) {
	case "", "utf-8", "utf8", "utf8-raw", "ascii", "us-ascii":
		return splitRecords, true
	}
	return nil, false
}

func nopEncoding(enc string) bool { return strings.EqualFold(enc, "nop") }

// splitRecords is a bufio.SplitFunc returning one record per token: a line
// and the continuation lines after it (lines that do not start a record,
// see noderuntime.IsRecordStart), as they are in the file. A blank line ends
// a record and yields an empty token. It reproduces noderuntime.Joiner's
// records.
//
// A record is complete when the next line starts another record, when a
// blank line follows, or at the end of the file when the file ends with a
// complete line: writers write a wrapped record at once, and a rotated file
// is read to its end only once, so a record held back there would be lost.
// A partial last line waits for its newline (or for the file consumer's
// force_flush_period, whose wrapper returns the pending bytes).
func splitRecords(data []byte, atEOF bool) (int, []byte, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return 0, nil, nil
	}
	if isBlank(data[:nl]) {
		return nl + 1, data[:0], nil
	}
	// A CRI log line tagged P (partial) is continued by the next CRI line.
	partial := noderuntime.CRITag(bytes.TrimRight(data[:nl], "\r")) == 'P'
	pos := nl + 1
	for {
		if pos == len(data) {
			if atEOF {
				return pos, data[:pos-1], nil
			}
			return 0, nil, nil
		}
		n := bytes.IndexByte(data[pos:], '\n')
		if n < 0 {
			// The next line is incomplete: the record is over if that line
			// visibly starts another one, else it may continue it.
			if !partial && noderuntime.IsRecordStart(data[pos:]) {
				return pos, data[:pos-1], nil
			}
			return 0, nil, nil
		}
		line := bytes.TrimRight(data[pos:pos+n], "\r")
		if isBlank(line) {
			return pos + n + 1, data[:pos-1], nil
		}
		tag := noderuntime.CRITag(line)
		if !(partial && tag != 0) && noderuntime.IsRecordStart(line) {
			return pos, data[:pos-1], nil
		}
		partial = tag == 'P'
		pos += n + 1
	}
}

// isBlank is the Joiner's blank line.
func isBlank(line []byte) bool { return len(bytes.TrimSpace(line)) == 0 }

// trimBlank drops blank lines and the line break around a token (the flush
// of a pending record can carry them).
func trimBlank(tok []byte) []byte {
	for {
		nl := bytes.IndexByte(tok, '\n')
		if nl < 0 || !isBlank(tok[:nl]) {
			break
		}
		tok = tok[nl+1:]
	}
	return bytes.TrimRight(tok, " \t\r\n")
}

// stream returns the parser state of a file.
func (in *fileInput) stream(path string) *fileStream {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	st, ok := in.streams[path]
	if !ok {
		if len(in.streams) >= maxStreams {
			for p, s := range in.streams {
				if s.mu.TryLock() {
					if now.Sub(s.lastUsed) > streamIdle {
						delete(in.streams, p)
					}
					s.mu.Unlock()
				}
			}
		}
		st = &fileStream{parser: noderuntime.NewParser(in.r.opts)}
		in.streams[path] = st
	}
	st.lastUsed = now
	return st
}

// emit is the file consumer's callback: each token is one record of a file.
func (in *fileInput) emit(ctx context.Context, tokens [][]byte, fileAttrs map[string]any, _ int64, _ []int64) error {
	path, _ := fileAttrs[attrs.LogFilePath].(string)
	if path == "" {
		path, _ = fileAttrs[attrs.LogFileName].(string)
	}
	st := in.stream(path)
	ld, lrs := newLogs(inputFile)
	observed := now()

	var counts batchCounts
	st.mu.Lock()
	for _, tok := range tokens {
		tok = trimBlank(tok)
		if len(tok) == 0 {
			continue
		}
		var err error
		st.evs, err = st.parser.ParseAll(tok, st.evs[:0])
		if err != nil {
			in.r.unparsed(inputFile, err, tok, &counts)
			continue
		}
		for i := range st.evs {
			st.keys = in.r.affinity.keys(&st.evs[i], st.keys[:0])
			for j := 0; j == 0 || j < len(st.keys); j++ {
				lr := nodeevent.Append(lrs, &st.evs[i], observed, keyAt(st.keys, j))
				a := lr.Attributes()
				for k, v := range fileAttrs {
					if s, ok := v.(string); ok {
						a.PutStr(k, nodeevent.ValidUTF8(s))
					}
				}
			}
			counts.event(st.evs[i].Kind)
		}
	}
	clear(st.evs) // do not keep the records' strings alive
	st.mu.Unlock()
	return in.r.consume(ctx, in.r.obsFile, inputFile, ld, &counts)
}
