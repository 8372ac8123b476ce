// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/internal/storagetest"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

// testBootID is the _BOOT_ID of the test journal entries.
const testBootID = "a1ac0b1141674ec4ac6b2dfc2c1baa33"

// syslogLineRE splits a journald short line: stamp, host, identifier, pid,
// message.
var syslogLineRE = regexp.MustCompile(`^([A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?) (\S+) ([^\[: ]+)(?:\[(\d+)\])?: (.*)$`)

// unitOf is the systemd unit of a sample daemon.
var unitOf = map[string]string{
	"containerd": "containerd.service", "kubelet": "kubelet.service", "kubenswrapper": "kubelet.service",
	"crio": "crio.service", "systemd": "init.scope",
}

// testYear dates the samples' year-less stamps in the receiver and in the
// expected events alike.
const testYear = 2024

type harness struct {
	r       *nodeReceiver
	sink    *consumertest.LogsSink
	tel     *componenttest.Telemetry
	logs    *observer.ObservedLogs
	stopped bool
}

// startReceiver starts a receiver with real telemetry and an observed logger.
// prepare, if set, adjusts it before Start.
func startReceiver(t *testing.T, cfg *Config, host component.Host, prepare func(*nodeReceiver)) *harness {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // checkpoints are keyed by the receiver id
	set.TelemetrySettings = tel.NewTelemetrySettings()
	core, logs := observer.New(zapcore.DebugLevel)
	set.Logger = zap.New(core)
	h := &harness{sink: new(consumertest.LogsSink), tel: tel, logs: logs}
	r, err := newReceiver(set, cfg, h.sink)
	require.NoError(t, err)
	if prepare != nil {
		prepare(r)
	}
	require.NoError(t, r.Start(context.Background(), host))
	h.r = r
	t.Cleanup(func() { h.stop(t) })
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	if !h.stopped {
		h.stopped = true
		require.NoError(t, h.r.Shutdown(context.Background()))
	}
}

// counter sums a counter's points whose attributes include match.
func (h *harness) counter(t *testing.T, name string, match map[string]string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
outer:
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		for k, v := range match {
			if got, ok := dp.Attributes.Value(attribute.Key(k)); !ok || got.AsString() != v {
				continue outer
			}
		}
		n += dp.Value
	}
	return n
}

// rec is what the tests compare of a log record or an event.
type rec struct {
	Name, Kind, Source, Time, Node, NS, Pod, UID, Sandbox, Container, CtrName, Image, ImageID, Digest, Error, Body string
	Attempt                                                                                                        int64
}

func (r rec) String() string {
	return fmt.Sprintf("%s %s t=%s node=%s %s/%s uid=%s sb=%.12s cid=%.12s ctr=%s", r.Kind, r.Source, r.Time, r.Node, r.NS, r.Pod, r.UID, r.Sandbox, r.Container, r.CtrName)
}

func recOfRecord(lr plog.LogRecord) rec {
	get := func(k string) string {
		v, ok := lr.Attributes().Get(k)
		if !ok {
			return ""
		}
		return v.AsString()
	}
	r := rec{
		Name: lr.EventName(), Kind: get(attr.NodeEventKind), Source: get(attr.NodeSource), Node: get(attr.K8sNodeName),
		NS: get(attr.K8sNamespaceName), Pod: get(attr.K8sPodName), UID: get(attr.K8sPodUID), Sandbox: get(attr.NodeSandboxID),
		Container: get(attr.ContainerID), CtrName: get(attr.ContainerName), ImageID: get(attr.NodeImageID),
		Digest: get(attr.NodeRepoDigest), Error: get(attr.NodeError), Body: lr.Body().Str(),
	}
	if img := get(attr.ContainerImage); img != "" {
		r.Image = img
		if tags, ok := lr.Attributes().Get(attr.ContainerImageTags); ok && tags.Slice().Len() > 0 {
			r.Image += ":" + tags.Slice().At(0).Str()
		}
	}
	if v, ok := lr.Attributes().Get(attr.NodeAttempt); ok {
		r.Attempt = v.Int()
	}
	if lr.Timestamp() != 0 {
		r.Time = lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)
	}
	return r
}

func recOfEvent(ev noderuntime.Event) rec {
	r := rec{
		Name: attr.EventNodePrefix + string(ev.Kind), Kind: string(ev.Kind), Source: string(ev.Source), Node: ev.Node,
		NS: ev.PodNamespace, Pod: ev.PodName, UID: ev.PodUID, Sandbox: ev.SandboxID, Container: ev.ContainerID,
		CtrName: ev.ContainerName, Image: ev.Image, ImageID: ev.ImageID, Digest: ev.RepoDigest, Error: ev.Error,
		Body: nodeevent.ValidUTF8(ev.Line), Attempt: int64(ev.Attempt),
	}
	if ev.Image != "" {
		name, tag := nodeevent.SplitImageRef(ev.Image) // container.image.name and .tags
		r.Image = name
		if tag != "" {
			r.Image += ":" + tag
		}
	}
	if !ev.Time.IsZero() {
		r.Time = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	return r
}

// records returns the sink's records in delivery order.
func records(sink *consumertest.LogsSink) []rec {
	var out []rec
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, recOfRecord(lrs.At(k)))
				}
			}
		}
	}
	return out
}

// parseText is what internal/noderuntime yields for a file's content read
// with its Joiner: the expected events, and the number of rejected records.
func parseText(t *testing.T, data []byte, opts noderuntime.Options) ([]rec, int) {
	t.Helper()
	p := noderuntime.NewParser(opts)
	var j noderuntime.Joiner
	var out []rec
	unparsed := 0
	handle := func(r []byte) {
		evs, err := p.ParseAll(bytes.TrimRight(r, " \t\r\n"), nil)
		if err != nil {
			unparsed++
		}
		for _, ev := range evs {
			out = append(out, recOfEvent(ev))
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if r, ok := j.Add(sc.Bytes()); ok {
			handle(r)
		}
	}
	if r, ok := j.Flush(); ok {
		handle(r)
	}
	return out, unparsed
}

func fileConfig(include ...string) *Config {
	fc := defaultFileConfig()
	fc.Include = include
	fc.StartAt = "beginning"
	fc.PollInterval = 20 * time.Millisecond
	return &Config{File: configoptional.Some(fc), Year: testYear}
}

// sampleLogs lists the plain node-log samples (not the YAML fixtures) of the
// corpus folders.
func sampleLogs(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		root := samples.Dir(t, dir)
		ents, err := os.ReadDir(root)
		require.NoError(t, err)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".log") {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func waitRecords(t *testing.T, h *harness, want int) {
	t.Helper()
	require.Eventually(t, func() bool { return h.sink.LogRecordCount() >= want }, 20*time.Second, 10*time.Millisecond,
		"got %d of %d records", h.sink.LogRecordCount(), want)
}

// TestFileSamplesMatchParser writes every node-log sample into a file, tails
// it, and checks the records are the events internal/noderuntime yields for
// the same content, in order, with nothing rejected.
func TestFileSamplesMatchParser(t *testing.T) {
	for _, src := range sampleLogs(t, "containerd", "crio", "docker", "kubelet") {
		t.Run(filepath.Base(filepath.Dir(src))+"/"+filepath.Base(src), func(t *testing.T) {
			data, err := os.ReadFile(src)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "node.log")
			writeFile(t, path, data)
			want, wantUnparsed := parseText(t, data, noderuntime.Options{Year: testYear})
			for i := range want {
				want[i].Body = strings.TrimRight(want[i].Body, " \t")
			}

			h := startReceiver(t, fileConfig(path), componenttest.NewNopHost(), nil)
			require.Eventually(t, func() bool {
				return h.sink.LogRecordCount() >= len(want) &&
					h.counter(t, "otelcol_node_runtime_unparsed", nil) >= int64(wantUnparsed)
			}, 20*time.Second, 10*time.Millisecond)
			h.stop(t)
			assert.Equal(t, want, records(h.sink))
			assert.Equal(t, int64(len(want)), h.counter(t, "otelcol_node_runtime_events", nil))
			assert.Equal(t, int64(wantUnparsed), h.counter(t, "otelcol_node_runtime_unparsed", nil))
		})
	}
}

// TestFileWrappedRecord reads the kubeadm-507 sample, one kubelet record
// hard-wrapped over seven indented lines, and expects one event.
func TestFileWrappedRecord(t *testing.T) {
	data := samples.Read(t, "docker", "issue-kubernetes-kubeadm-507.log")
	require.Equal(t, 7, bytes.Count(bytes.TrimRight(data, "\n"), []byte("\n"))+1, "the sample is 7 physical lines")
	path := filepath.Join(t.TempDir(), "kubelet.log")
	writeFile(t, path, data)
	h := startReceiver(t, fileConfig(path), componenttest.NewNopHost(), nil)
	waitRecords(t, h, 1)
	h.stop(t)
	got := records(h.sink)
	require.Len(t, got, 1)
	ev := got[0]
	assert.Equal(t, "podtrail.node.sandbox_requested", ev.Name)
	assert.Equal(t, "kubelet", ev.Source)
	assert.Equal(t, "kube-system", ev.NS)
	assert.Equal(t, "kube-dns-545bc4bfd4-mjn49", ev.Pod)
	assert.Equal(t, "2ffdece1-c2d0-11e7-98cb-005056008ce3", ev.UID)
	assert.Equal(t, "2024-11-06T09:58:48.855639Z", ev.Time)
	assert.Contains(t, ev.Error, "failed to start sandbox container")
	assert.Equal(t, 7, strings.Count(ev.Body, "\n")+1, "the body is the original record, lines joined by newlines")
	lr := h.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	p, _ := lr.Attributes().Get(attr.LogFilePath)
	assert.Equal(t, path, p.Str())
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
}

// TestFileRotation renames the file being read and creates a new one (the
// usual log rotation): the lines written just before the rename and those of
// the new file all arrive, once.
func TestFileRotation(t *testing.T) {
	c65 := samples.Read(t, "containerd", "repo-VijayRod-demo-k8s-pod_container_logs-container-c65a36.log")
	crio := samples.Read(t, "crio", "repo-redhat-performance-BugZooka-test_node_log_analyzer-minimal-journal.log")
	lines := bytes.SplitAfter(c65, []byte("\n"))
	// b ends with an event (line 19, RemoveContainer ... returns
	// successfully): the record a rotated-out file ends with must not wait
	// for a next line that never comes.
	a, b := bytes.Join(lines[:12], nil), bytes.Join(lines[12:19], nil)

	dir := t.TempDir()
	path := filepath.Join(dir, "node.log")
	writeFile(t, path, a)
	wantA, _ := parseText(t, a, noderuntime.Options{Year: testYear})
	require.NotEmpty(t, wantA)
	h := startReceiver(t, fileConfig(path), componenttest.NewNopHost(), nil)
	waitRecords(t, h, len(wantA))

	appendFile(t, path, b)
	require.NoError(t, os.Rename(path, path+".1"))
	writeFile(t, path, crio)

	wantAB, _ := parseText(t, append(a, b...), noderuntime.Options{Year: testYear})
	require.Equal(t, "container_removed", wantAB[len(wantAB)-1].Kind)
	wantC, _ := parseText(t, crio, noderuntime.Options{Year: testYear})
	want := append(wantAB, wantC...)
	waitRecords(t, h, len(want))
	h.stop(t)
	assert.ElementsMatch(t, keys(want), keys(records(h.sink)))
}

// keys drops what depends on the order two files were read in.
func keys(rs []rec) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}

// TestFileCheckpointWithFileStorage restarts the receiver on the real
// file_storage extension: the second run reads only what was appended.
func TestFileCheckpointWithFileStorage(t *testing.T) {
	data := samples.Read(t, "containerd", "repo-VijayRod-demo-k8s-pod_container_logs-container-c65a36.log")
	lines := bytes.SplitAfter(data, []byte("\n"))
	first, second := bytes.Join(lines[:10], nil), bytes.Join(lines[10:], nil)
	wantFirst, _ := parseText(t, first, noderuntime.Options{Year: testYear})
	wantSecond, _ := parseText(t, second, noderuntime.Options{Year: testYear})
	require.NotEmpty(t, wantFirst)
	require.NotEmpty(t, wantSecond)

	dir := t.TempDir()
	path := filepath.Join(dir, "containerd.log")
	writeFile(t, path, first)
	host, storageID := storagetest.NewFileStorageHost(t, filepath.Join(dir, "storage"))
	run := func(want []rec) []rec {
		cfg := fileConfig(path)
		cfg.File.Get().StorageID = &storageID
		h := startReceiver(t, cfg, host, nil)
		last := want[len(want)-1]
		require.Eventually(t, func() bool { return slices.Contains(records(h.sink), last) }, 20*time.Second, 10*time.Millisecond)
		h.stop(t)
		return records(h.sink)
	}
	assert.Equal(t, wantFirst, run(wantFirst))
	appendFile(t, path, second)
	assert.Equal(t, wantSecond, run(wantSecond), "after a restart only the appended lines are read, and all of them")
}

// TestFileUnparsedCounted mixes lines no parser knows among sample lines:
// they are counted by source and reason, logged once at warn level, and the
// events around them are delivered.
func TestFileUnparsedCounted(t *testing.T) {
	data := samples.Read(t, "containerd", "repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log")
	lines := strings.SplitAfter(string(data), "\n")
	content := strings.Join([]string{
		"panic: send on closed channel\n", // no known format (first record of the file)
		lines[1],
		"Nov 29 18:33:25 aks-nodepool1-23707431-vmss000000 kubelet[2983]: Flag --pod-infra-container-image has been deprecated, will be removed in a future release.\n",
		lines[2],
		"Nov 29 18:33:26 aks-nodepool1-23707431-vmss000000 kubelet[2983]: I1399 25:61:26.509801    2983 kubelet.go:2465] \"SyncLoop (PLEG): event for pod\"\n",
		"Nov 29 18:33:26 aks-nodepool1-23707431-vmss000000 kubelet[2983]: Flag --cgroup-driver has been deprecated\n",
		strings.Join(lines[3:], ""),
	}, "")
	want, wantUnparsed := parseText(t, []byte(content), noderuntime.Options{Year: testYear})
	require.Equal(t, 4, wantUnparsed)
	path := filepath.Join(t.TempDir(), "node.log")
	writeFile(t, path, []byte(content))

	h := startReceiver(t, fileConfig(path), componenttest.NewNopHost(), nil)
	require.Eventually(t, func() bool {
		return h.sink.LogRecordCount() >= len(want) && h.counter(t, "otelcol_node_runtime_unparsed", nil) >= 4
	}, 20*time.Second, 10*time.Millisecond)
	h.stop(t)
	assert.Len(t, records(h.sink), len(want))
	tests := []struct {
		source, reason string
		n              int64
	}{
		{sourceUnknown, reasonFormat, 1},
		{"kubelet", reasonPayload, 2},
		{"kubelet", reasonTimestamp, 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.n, h.counter(t, "otelcol_node_runtime_unparsed", map[string]string{"source": tt.source, "reason": tt.reason}), "%s/%s", tt.source, tt.reason)
	}
	warns := h.logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("dropped a node log record").All()
	assert.Len(t, warns, 3, "one warning per source and reason")
	debug := h.logs.FilterLevelExact(zapcore.DebugLevel).FilterMessageSnippet("dropped a node log record").All()
	assert.Empty(t, debug, "the second payload rejection within a minute is only counted")
}

func TestSampler(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSampler(zap.New(core))
	clock := time.Date(2024, 11, 29, 18, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	rec := []byte("Nov 29 18:33:25 aks-nodepool1-23707431-vmss000000 kubelet[2983]: Flag --x has been deprecated")
	steps := []struct {
		advance time.Duration
		source  string
		want    zapcore.Level // -2: nothing logged
	}{
		{0, "kubelet", zapcore.WarnLevel},
		{time.Second, "kubelet", -2},
		{30 * time.Second, "containerd", zapcore.WarnLevel},
		{28 * time.Second, "kubelet", -2}, // 59s after the first
		{2 * time.Second, "kubelet", zapcore.DebugLevel},
		{time.Second, "kubelet", -2},
		{time.Minute, "kubelet", zapcore.DebugLevel},
	}
	for i, st := range steps {
		clock = clock.Add(st.advance)
		before := logs.Len()
		s.log(inputFile, st.source, reasonPayload, &noderuntime.ParseError{Reason: noderuntime.ReasonPayload}, rec)
		got := logs.All()[before:]
		if st.want == -2 {
			assert.Empty(t, got, "step %d", i)
			continue
		}
		require.Len(t, got, 1, "step %d", i)
		assert.Equal(t, st.want, got[0].Level, "step %d", i)
		assert.Equal(t, string(rec), got[0].ContextMap()["record"], "step %d", i)
	}
}

func TestRecordShape(t *testing.T) {
	ev := noderuntime.Event{
		Kind: noderuntime.KindImagePulled, Time: time.Date(2023, 9, 4, 18, 35, 49, 209312106, time.UTC), Source: noderuntime.SourceContainerd,
		Level: "info", RuntimeVersion: "v1.7.5", Node: "u7s-usernetes-compute-001",
		Image:      "registry.k8s.io/kube-controller-manager:v1.27.5",
		ImageID:    "sha256:ae819fd2a0d75d119af03d7b933ab72df32a42360ef607ba36106575fae38e18",
		RepoDigest: "registry.k8s.io/kube-controller-manager@sha256:2f3d44a2ef081468a43e3d3481c78c798bb97cd819ca181d34f6b05f33017a5c",
		Line:       "Sep 04 18:35:49 u7s-usernetes-compute-001 containerd[132]: time=\"2023-09-04T18:35:49.209312106Z\" level=info msg=\"Pulled image ...\"\xff",
	}
	ld, lrs := newLogs(inputFile)
	lr := nodeevent.Append(lrs, &ev, now(), "")
	assert.Equal(t, "podtrail.node.image_pulled", lr.EventName())
	assert.Equal(t, "2023-09-04T18:35:49.209312106Z", lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano))
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	assert.True(t, strings.HasSuffix(lr.Body().Str(), "\uFFFD"), "invalid UTF-8 is replaced")
	assert.Equal(t, map[string]any{
		attr.NodeEventKind: "image_pulled", attr.NodeSource: "containerd", attr.K8sNodeName: "u7s-usernetes-compute-001",
		attr.ContainerImage: "registry.k8s.io/kube-controller-manager", attr.ContainerImageTags: []any{"v1.27.5"},
		attr.NodeImageID: ev.ImageID, attr.NodeRepoDigest: ev.RepoDigest, attr.NodeRuntimeVersion: "v1.7.5",
	}, lr.Attributes().AsRaw())
	scope := ld.ResourceLogs().At(0).ScopeLogs().At(0)
	assert.Equal(t, metadata.ScopeName, scope.Scope().Name())
	in, _ := scope.Scope().Attributes().Get(attr.NodeInput)
	assert.Equal(t, inputFile, in.Str())
}

// TestFailureRecordShape: a failure event carries the image that failed,
// the error and the kubelet's reason.
func TestFailureRecordShape(t *testing.T) {
	p := noderuntime.NewParser(noderuntime.Options{Year: 2025})
	evs, err := p.ParseAll([]byte(`Nov 20 09:15:18 node-a kubelet[2775]: E1120 09:15:18.467816    2775 pod_workers.go:1301] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"cart\" with ImagePullBackOff: \"Back-off pulling image \\\"ghcr.io/acme-corp/cart:1.2.0\\\"\"" pod="shop/cart-6f7d9c8b4-ttp4z" podUID="3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10"`), nil)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	_, lrs := newLogs(inputFile)
	lr := nodeevent.Append(lrs, &evs[0], now(), "shop/cart-6f7d9c8b4-ttp4z")
	assert.Equal(t, "podtrail.node.image_pull_failed", lr.EventName())
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
	assert.Equal(t, map[string]any{
		attr.NodeEventKind: "image_pull_failed", attr.NodeSource: "kubelet", attr.K8sNodeName: "node-a",
		attr.K8sNamespaceName: "shop", attr.K8sPodName: "cart-6f7d9c8b4-ttp4z", attr.K8sPodUID: "3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10",
		attr.ContainerName: "cart", attr.ContainerImage: "ghcr.io/acme-corp/cart", attr.ContainerImageTags: []any{"1.2.0"},
		attr.NodeError: `Back-off pulling image \\\"ghcr.io/acme-corp/cart:1.2.0\\\"`, attr.NodeReason: "ImagePullBackOff",
		attr.AffinityKey: "shop/cart-6f7d9c8b4-ttp4z",
	}, lr.Attributes().AsRaw())
}

func TestSplitImageRef(t *testing.T) {
	tests := []struct{ ref, name, tag string }{
		{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause", "3.9"},
		{"nginx", "nginx", ""},
		{"localhost:5000/app", "localhost:5000/app", ""},
		{"localhost:5000/app:v1", "localhost:5000/app", "v1"},
		{"docker.io/jc21/nginx-proxy-manager@sha256:b7168e5f", "docker.io/jc21/nginx-proxy-manager", ""},
		{"quay.io/x/y:v2@sha256:abc", "quay.io/x/y", "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			n, tag := nodeevent.SplitImageRef(tt.ref)
			assert.Equal(t, tt.name, n)
			assert.Equal(t, tt.tag, tag)
		})
	}
}

func TestNodeNameFromEnvironment(t *testing.T) {
	t.Setenv(envNodeName, "node-from-env")
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), &Config{}, new(consumertest.LogsSink))
	require.NoError(t, err)
	assert.Equal(t, "node-from-env", r.opts.Node)
	r, err = newReceiver(receivertest.NewNopSettings(metadata.Type), &Config{NodeName: "configured"}, new(consumertest.LogsSink))
	require.NoError(t, err)
	assert.Equal(t, "configured", r.opts.Node)
}
