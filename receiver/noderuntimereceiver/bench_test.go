// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/entry"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/helper"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/parser/regex"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/pipeline"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

// benchRecords are the records of the containerd, CRI-O and kubelet node-log
// samples, grouped with the Joiner as the file input groups them.
func benchRecords(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, dir := range []string{"containerd", "crio", "kubelet"} {
		root := samples.Dir(tb, dir)
		ents, err := os.ReadDir(root)
		require.NoError(tb, err)
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".log") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, e.Name()))
			require.NoError(tb, err)
			var j noderuntime.Joiner
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if r, ok := j.Add(sc.Bytes()); ok {
					out = append(out, bytes.Clone(r))
				}
			}
			if r, ok := j.Flush(); ok {
				out = append(out, bytes.Clone(r))
			}
		}
	}
	require.NotEmpty(tb, out)
	return out
}

// stanzaRegexes is what a filelog receiver needs to extract the pod, sandbox
// and container identifiers of the same records with regex_parser
// operators: the journald/syslog prefix (with its timestamp), the logrus or
// klog payload, then one anchored regex per message shape, all with
// on_error: send_quiet so that a line goes on when a regex does not match.
// It covers only the prefixed forms of the commonest shapes (the parser
// covers many more); that favours regex_parser.
var stanzaRegexes = []struct{ id, from, re string }{
	{"prefix", "body", `^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)(?:\.\d+)? (?P<host>\S+) (?P<ident>[^\[\s:]+)(?:\[\d+\])?: (?P<message>.*)$`},
	{"logrus", "message", `^time="(?P<time>[^"]+)" level=(?P<level>\w+) msg="(?P<msg>(?:[^"\\]|\\.)*)"`},
	{"klog", "message", `^(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ (?P<src>[^\]]+)\] (?P<msg>.*)$`},
	{"containerd_sandbox", "msg", `^RunPodSandbox for &PodSandboxMetadata\{Name:(?P<pod_name>[^,]*),Uid:(?P<pod_uid>[^,]*),Namespace:(?P<pod_namespace>[^,]*),Attempt:(?P<attempt>\d+),\}(?: returns sandbox id \\"(?P<sandbox_id>[0-9a-f]+)\\")?`},
	{"containerd_create", "msg", `^CreateContainer within sandbox \\"(?P<sandbox_id>[0-9a-f]+)\\" for &ContainerMetadata\{Name:(?P<container_name>[^,]*),Attempt:(?P<attempt>\d+),\} returns container id \\"(?P<container_id>[0-9a-f]+)\\"`},
	{"containerd_container", "msg", `^(?P<op>StartContainer|StopContainer|RemoveContainer) for \\"(?P<container_id>[0-9a-f]+)\\" returns successfully`},
	{"containerd_podsandbox", "msg", `^(?P<op>StopPodSandbox|RemovePodSandbox) for \\"(?P<sandbox_id>[0-9a-f]+)\\" returns successfully`},
	{"crio_running", "msg", `^Running pod sandbox: (?P<pod_namespace>[^/]+)/(?P<pod_name>[^/]+)/POD`},
	{"crio_ran", "msg", `^Ran pod sandbox (?P<sandbox_id>[0-9a-f]+) with infra container: (?P<pod_namespace>[^/]+)/(?P<pod_name>[^/]+)/POD`},
	{"crio_container", "msg", `^(?P<op>Created|Started|Stopped|Removed) container (?P<container_id>[0-9a-f]+): (?P<pod_namespace>[^/]+)/(?P<pod_name>[^/]+)/(?P<container_name>.+)$`},
	{"kubelet_pleg", "msg", `^"SyncLoop \(PLEG\): event for pod" pod="(?P<pod_namespace>[^/]+)/(?P<pod_name>[^"]+)" event=\{"ID":"(?P<pod_uid>[^"]+)","Type":"(?P<pleg>\w+)","Data":"(?P<container_id>[0-9a-f]+)"\}`},
	{"kubelet_add", "msg", `^"SyncLoop ADD" source="(?P<pod_source>\w+)" pods=\["(?P<pod_namespace>[^/]+)/(?P<pod_name>[^"]+)"`},
	{"kubelet_admit", "msg", `^"Topology Admit Handler" podUID="(?P<pod_uid>[^"]+)" podNamespace="(?P<pod_namespace>[^"]+)" podName="(?P<pod_name>[^"]+)"`},
	{"kubelet_nosandbox", "msg", `^"No sandbox for pod can be found\. Need to start a new one" pod="(?P<pod_namespace>[^/]+)/(?P<pod_name>[^"]+)"`},
	{"kubelet_finished", "msg", `^"Generic \(PLEG\): container finished" podID="(?P<pod_uid>[^"]+)" containerID="(?P<container_id>[0-9a-f]+)"`},
}

// sinkOutput is the pipeline's last operator: it keeps the last entry.
type sinkOutput struct {
	helper.OutputOperator
	last *entry.Entry
	n    int
}

func (o *sinkOutput) Process(_ context.Context, e *entry.Entry) error {
	o.last = e
	o.n++
	return nil
}

func (o *sinkOutput) ProcessBatch(ctx context.Context, es []*entry.Entry) error {
	for _, e := range es {
		_ = o.Process(ctx, e)
	}
	return nil
}

// stanzaPipeline builds regex_parser operators from their configs with a zap
// logger, as the filelog receiver does, and returns the first one and the
// output. prefixOnly keeps only the prefix operator (a lower bound).
func stanzaPipeline(tb testing.TB, prefixOnly bool) (operator.Operator, *sinkOutput) {
	tb.Helper()
	set := componenttest.NewNopTelemetrySettings()
	set.Logger = zap.NewNop()
	var cfgs []operator.Config
	for i, r := range stanzaRegexes {
		if prefixOnly && i > 0 {
			break
		}
		c := regex.NewConfigWithID(r.id)
		c.Regex = r.re
		c.OnError = helper.SendOnErrorQuiet
		if r.from != "body" {
			c.ParseFrom = entry.NewAttributeField(r.from)
		}
		if r.id == "prefix" {
			tp := helper.NewTimeParser()
			from := entry.NewAttributeField("ts")
			tp.ParseFrom = &from
			tp.LayoutType = helper.GotimeKey
			tp.Layout = "Jan _2 15:04:05"
			c.TimeParser = &tp
		}
		cfgs = append(cfgs, operator.NewConfig(c))
	}
	outOp, err := helper.NewOutputConfig("sink", "sink").Build(set)
	require.NoError(tb, err)
	out := &sinkOutput{OutputOperator: outOp}
	p, err := pipeline.Config{Operators: cfgs, DefaultOutput: out}.Build(set)
	require.NoError(tb, err)
	ops := p.Operators()
	require.Equal(tb, cfgs[0].ID(), ops[0].ID())
	return ops[0], out
}

// runStanza processes one record as filelog would (a new entry per token).
func runStanza(ctx context.Context, first operator.Operator, rec []byte) error {
	e := entry.New()
	e.Body = string(rec)
	return first.Process(ctx, e)
}

var idFields = []string{"pod_uid", "pod_name", "pod_namespace", "sandbox_id", "container_id", "container_name"}

// TestStanzaBaselineExtractsTheSameIDs checks the comparison is fair: every
// identifier the regex_parser chain extracts from a record is one the
// parser's events for that record carry, and the chain extracts identifiers
// from most records the parser has events for.
func TestStanzaBaselineExtractsTheSameIDs(t *testing.T) {
	first, out := stanzaPipeline(t, false)
	p := noderuntime.NewParser(noderuntime.Options{Year: testYear})
	var withIDs, withEvents int
	for _, r := range benchRecords(t) {
		require.NoError(t, runStanza(t.Context(), first, r))
		evs, _ := p.ParseAll(r, nil)
		ours := map[string]bool{}
		for _, ev := range evs {
			for _, v := range []string{ev.PodUID, ev.PodName, ev.PodNamespace, ev.SandboxID, ev.ContainerID, ev.ContainerName} {
				ours[v] = true
			}
		}
		found := false
		for _, f := range idFields {
			v, ok := out.last.Attributes[f].(string)
			if !ok || v == "" {
				continue
			}
			found = true
			require.True(t, ours[v], "regex_parser found %s=%q in a record the parser gives no such value for: %s", f, v, r)
		}
		if found {
			withIDs++
		}
		if len(evs) > 0 {
			withEvents++
		}
	}
	t.Logf("%d records: regex_parser extracted ids from %d, the parser has events for %d", len(benchRecords(t)), withIDs, withEvents)
	require.Greater(t, withIDs, withEvents/2)
}

// rates of the last runs of BenchmarkParserVsRegexParser's sub-benchmarks.
var benchRates = map[string]float64{}

// BenchmarkParserVsRegexParser runs the same records through
// noderuntime.Parser and through contrib's stanza regex_parser operators
// (stanzaRegexes; prefix_only is the syslog-prefix regex alone, a lower
// bound of any regex_parser set-up) and logs lines/s and the ratio.
func BenchmarkParserVsRegexParser(b *testing.B) {
	recs := benchRecords(b)
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	run := func(name string, parse func(rec []byte)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range recs {
					parse(r)
				}
			}
			rate := float64(b.N*len(recs)) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "lines/s")
			benchRates[name] = rate
		})
	}
	p := noderuntime.NewParser(noderuntime.Options{Year: testYear})
	dst := make([]noderuntime.Event, 0, 8)
	run("noderuntime", func(r []byte) { dst, _ = p.ParseAll(r, dst[:0]) })
	ctx := context.Background()
	first, _ := stanzaPipeline(b, false)
	run("stanza_regex_parser", func(r []byte) { _ = runStanza(ctx, first, r) })
	prefix, _ := stanzaPipeline(b, true)
	run("stanza_prefix_only", func(r []byte) { _ = runStanza(ctx, prefix, r) })

	ours, theirs, floor := benchRates["noderuntime"], benchRates["stanza_regex_parser"], benchRates["stanza_prefix_only"]
	if ours > 0 && theirs > 0 && floor > 0 {
		fmt.Printf("%d records: noderuntime %.0f lines/s, stanza regex_parser chain %.0f lines/s, ratio ours/theirs %.1fx (prefix regex alone: %.0f lines/s, %.1fx)",
			len(recs), ours, theirs, ours/theirs, floor, ours/floor)
		fmt.Println()
	}
}

// reportPerLine reports lines/s and allocations per line.
func reportPerLine(b *testing.B, lines int, body func()) {
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		body()
	}
	runtime.ReadMemStats(&m1)
	n := float64(b.N * lines)
	b.ReportMetric(n/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/line")
}

func benchReceiver(b *testing.B) *nodeReceiver {
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), &Config{Year: testYear}, consumertest.NewNop())
	require.NoError(b, err)
	return r
}

// BenchmarkFilePerLine is the file input's path after the file consumer:
// records → parser → log records → pipeline (a no-op consumer), in batches of
// all sample records (containerd, CRI-O, kubelet).
func BenchmarkFilePerLine(b *testing.B) {
	recs := benchRecords(b)
	r := benchReceiver(b)
	in := newFileInput(r, &FileConfig{})
	attrs := map[string]any{"log.file.path": "/var/log/syslog"}
	ctx := context.Background()
	reportPerLine(b, len(recs), func() {
		if err := in.emit(ctx, recs, attrs, 0, nil); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkJournaldPerLine is the journald input's path: journalctl JSON
// lines → decoder → parser → log records → pipeline.
func BenchmarkJournaldPerLine(b *testing.B) {
	var lines [][]byte
	for i, r := range benchRecords(b) {
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
		require.NoError(b, err)
		lines = append(lines, j)
	}
	r := benchReceiver(b)
	in := newJournalInput(r, &JournaldConfig{})
	ctx := context.Background()
	reportPerLine(b, len(lines), func() {
		ld, lrs := newLogs(inputJournald)
		var counts batchCounts
		for _, l := range lines {
			in.entryToEvents(l, lrs, &counts, 0)
		}
		if err := r.consume(ctx, r.obsJourn, inputJournald, ld, &counts); err != nil {
			b.Fatal(err)
		}
	})
}
