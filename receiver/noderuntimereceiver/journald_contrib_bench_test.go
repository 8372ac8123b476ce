// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/entry"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/input/journald"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/storagetest"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

// BenchmarkJournaldVsStanzaJournald measures the journald input against the
// contrib stanza journald operator (what receiver/journaldreceiver runs), end
// to end on the same journalctl output: a stand-in journalctl prints
// `journalctl --output=json` lines of the sample records (repeated) and
// exits; each side reads them, decodes each entry, runs noderuntime's parser
// on its MESSAGE and builds the events' log records. node_runtime: its own
// journal decoder, the cursor kept per batch, batches of up to 1,000 entries
// to the pipeline. stanza: goccy/go-json into map[string]any per entry, an
// entry.Entry per line, the cursor written to the persister per entry (an
// in-memory one here: a file_storage write per entry in the receiver), one
// entry at a time to the next operator, which parses MESSAGE as node_runtime
// does. It prints lines/s of both and the ratio (the node_runtime README's
// journald section quotes it).
func BenchmarkJournaldVsStanzaJournald(b *testing.B) {
	const repeat = 200
	lines := journalBenchLines(b)
	dir := b.TempDir()
	data := filepath.Join(dir, "journal.json")
	f, err := os.Create(data)
	require.NoError(b, err)
	n := 0
	for i := 0; i < repeat; i++ {
		for _, l := range lines {
			_, _ = f.Write(l)
			_, _ = f.Write([]byte{'\n'})
			n++
		}
	}
	require.NoError(b, f.Close())
	fake := filepath.Join(dir, "journalctl")
	require.NoError(b, os.WriteFile(fake, []byte("#!/bin/sh\nexec cat "+data+"\n"), 0o755))

	// how many events the lines give (the parser's answer: both sides must reach it)
	p := noderuntime.NewParser(noderuntime.Options{Year: testYear})
	want := 0
	for _, l := range lines {
		var m map[string]string
		require.NoError(b, json.Unmarshal(l, &m))
		evs, _ := p.ParseMessage([]byte(m["MESSAGE"]), noderuntime.Meta{Ident: m["SYSLOG_IDENTIFIER"], Unit: m["_SYSTEMD_UNIT"], Host: m["_HOSTNAME"]}, nil)
		want += len(evs) * repeat
	}
	require.Positive(b, want)

	rates := map[string]float64{}
	// once returns the events and how long the lines took from the first one
	// handed on (journalctl started, its first output decoded) to the last
	// event: the stanza operator's Start waits a fixed second, which is not
	// its cost per line
	run := func(name string, once func(b *testing.B) (int, time.Duration)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var busy time.Duration
			for b.Loop() {
				got, d := once(b)
				if got != want {
					b.Fatalf("%d events, want %d", got, want)
				}
				busy += d
			}
			rate := float64(b.N*n) / busy.Seconds()
			b.ReportMetric(rate, "lines/s")
			rates[name] = rate
		})
	}

	for _, withStorage := range []bool{false, true} {
		suffix := ""
		if withStorage {
			suffix = "/file_storage"
		}
		run("node_runtime"+suffix, func(b *testing.B) (int, time.Duration) {
			var events atomic.Int64
			var first, last atomic.Int64
			sink, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
				first.CompareAndSwap(0, time.Now().UnixNano())
				events.Add(int64(ld.LogRecordCount()))
				last.Store(time.Now().UnixNano())
				return nil
			})
			require.NoError(b, err)
			cfg := journaldConfig(fake)
			var host component.Host = componenttest.NewNopHost()
			if withStorage {
				h, id := storagetest.NewFileStorageHost(b, b.TempDir())
				host = h
				j := cfg.Journald.Get()
				j.StorageID = &id
			}
			r, err := createLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(b, err)
			start := time.Now()
			require.NoError(b, r.Start(context.Background(), host))
			waitEvents(b, &events, want, nil)
			busy := time.Duration(last.Load() - start.UnixNano())
			require.NoError(b, r.Shutdown(context.Background()))
			return int(events.Load()), busy
		})

		run("stanza_journald"+suffix, func(b *testing.B) (int, time.Duration) {
			cfg := journald.NewConfigWithID("journald")
			cfg.JournalctlPath = fake
			cfg.StartAt = "beginning"
			cfg.OutputIDs = []string{"parse"}
			op, err := cfg.Build(componenttest.NewNopTelemetrySettings())
			require.NoError(b, err)
			out := &parseOutput{parser: noderuntime.NewParser(noderuntime.Options{Year: testYear}), logs: plog.NewLogs()}
			out.lrs = out.logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			require.NoError(b, op.SetOutputs([]operator.Operator{out}))
			var persister operator.Persister = memPersister{}
			if withStorage {
				// the contrib receiver's persister: a client of the storage extension
				h, id := storagetest.NewFileStorageHost(b, b.TempDir())
				client, err := h.GetExtensions()[id].(storage.Extension).GetClient(context.Background(), component.KindReceiver, component.MustNewID("journald"), "")
				require.NoError(b, err)
				defer client.Close(context.Background())
				persister = client
			}
			require.NoError(b, op.Start(persister))
			waitEvents(b, &out.events, want, &out.entries)
			busy := time.Duration(out.last.Load() - out.first.Load())
			require.NoError(b, op.Stop())
			return int(out.events.Load()), busy
		})
	}

	for _, suffix := range []string{"", "/file_storage"} {
		if ours, theirs := rates["node_runtime"+suffix], rates["stanza_journald"+suffix]; ours > 0 && theirs > 0 {
			fmt.Printf("journald%s, %d journalctl lines (%d events): node_runtime %.0f lines/s, stanza journald + the same parser %.0f lines/s, ratio %.1fx\n",
				suffix, n, want, ours, theirs, ours/theirs)
		}
	}
}

func waitEvents(b *testing.B, events *atomic.Int64, want int, entries *atomic.Int64) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for events.Load() < int64(want) {
		if time.Now().After(deadline) {
			if entries != nil {
				b.Logf("%d entries reached the next operator", entries.Load())
			}
			b.Fatalf("%d events after a minute, want %d", events.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// journalBenchLines are the sample records as journalctl --output=json lines
// (as BenchmarkJournaldPerLine makes them).
func journalBenchLines(tb testing.TB) [][]byte {
	var lines [][]byte
	for i, r := range benchRecords(tb) {
		m := syslogLineRE.FindSubmatch(r)
		if m == nil {
			continue
		}
		j, err := json.Marshal(map[string]string{
			"__CURSOR":             "s=41265c37a56e4de1bff7162bbef76d26;i=" + strconv.Itoa(i) + ";b=" + testBootID + ";m=3e8;t=628116f3ac0c6;x=3c9d17bd62b82dbd",
			"__REALTIME_TIMESTAMP": "1732905205940422", "__MONOTONIC_TIMESTAMP": "1000", "_BOOT_ID": testBootID,
			"_HOSTNAME": string(m[2]), "SYSLOG_IDENTIFIER": string(m[3]), "_PID": string(m[4]), "_SYSTEMD_UNIT": unitOf[string(m[3])],
			"_TRANSPORT": "stdout", "MESSAGE": string(m[5]),
		})
		require.NoError(tb, err)
		lines = append(lines, j)
	}
	return lines
}

// parseOutput is the stanza operator after the journald input: MESSAGE
// through noderuntime's parser, the events as log records, as node_runtime's
// journald input does with an entry.
type parseOutput struct {
	parser  *noderuntime.Parser
	evs     []noderuntime.Event
	logs    plog.Logs
	lrs     plog.LogRecordSlice
	events  atomic.Int64
	entries atomic.Int64
	first   atomic.Int64 // UnixNano of the first entry
	last    atomic.Int64 // and of the last one's events
}

func (o *parseOutput) ID() string                           { return "parse" }
func (o *parseOutput) Type() string                         { return "parse" }
func (o *parseOutput) Start(operator.Persister) error       { return nil }
func (o *parseOutput) Stop() error                          { return nil }
func (o *parseOutput) CanOutput() bool                      { return false }
func (o *parseOutput) Outputs() []operator.Operator         { return nil }
func (o *parseOutput) GetOutputIDs() []string               { return nil }
func (o *parseOutput) SetOutputs([]operator.Operator) error { return nil }
func (o *parseOutput) SetOutputIDs([]string)                {}
func (o *parseOutput) CanProcess() bool                     { return true }
func (o *parseOutput) Logger() *zap.Logger                  { return zap.NewNop() }
func (o *parseOutput) ProcessBatch(ctx context.Context, es []*entry.Entry) error {
	for _, e := range es {
		_ = o.Process(ctx, e)
	}
	return nil
}

func (o *parseOutput) Process(_ context.Context, e *entry.Entry) error {
	o.entries.Add(1)
	o.first.CompareAndSwap(0, time.Now().UnixNano())
	body, _ := e.Body.(map[string]any)
	str := func(k string) string { s, _ := body[k].(string); return s }
	meta := noderuntime.Meta{Ident: str("SYSLOG_IDENTIFIER"), Unit: str("_SYSTEMD_UNIT"), Host: str("_HOSTNAME"), Time: e.Timestamp}
	var err error
	o.evs, err = o.parser.ParseMessage([]byte(str("MESSAGE")), meta, o.evs[:0])
	if err != nil {
		return err
	}
	for i := range o.evs {
		lr := nodeevent.Append(o.lrs, &o.evs[i], 0, "")
		if meta.Unit != "" {
			lr.Attributes().PutStr(attr.NodeJournalUnit, meta.Unit)
		}
	}
	o.events.Add(int64(len(o.evs)))
	o.last.Store(time.Now().UnixNano())
	if o.lrs.Len() >= 1000 {
		o.lrs.RemoveIf(func(plog.LogRecord) bool { return true })
	}
	return nil
}

// memPersister keeps the stanza operator's cursor in memory (the contrib
// receiver's persister without a storage extension).
type memPersister map[string][]byte

func (m memPersister) Get(_ context.Context, k string) ([]byte, error) { return m[k], nil }
func (m memPersister) Set(_ context.Context, k string, v []byte) error {
	m[k] = append(m[k][:0], v...)
	return nil
}
func (m memPersister) Delete(_ context.Context, k string) error { delete(m, k); return nil }
func (m memPersister) Batch(_ context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = m[op.Key]
		case storage.Set:
			m[op.Key] = op.Value
		case storage.Delete:
			delete(m, op.Key)
		}
	}
	return nil
}
