// SPDX-License-Identifier: Apache-2.0

//go:build linux

package noderuntimereceiver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/internal/storagetest"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

// journalTools returns journalctl and systemd-journal-remote (which writes a
// real journal file from journal export format). Without them the test is
// skipped on a developer machine and fails when CI is set.
func journalTools(t *testing.T) (journalctl, remote string) {
	t.Helper()
	missing := func(what string) {
		msg := what + " not found (Debian/Ubuntu: apt-get install systemd systemd-journal-remote)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set")
		}
		t.Skip(msg)
	}
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		missing("journalctl")
	}
	for _, p := range []string{"/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return journalctl, p
		}
	}
	if p, err := exec.LookPath("systemd-journal-remote"); err == nil {
		return journalctl, p
	}
	missing("systemd-journal-remote")
	return "", ""
}

// journalEntry is one entry as journald would store a daemon's line.
type journalEntry struct {
	Time    time.Time
	Host    string
	Ident   string
	PID     string
	Unit    string
	Message []byte
	// Line is the same record as a syslog/journalctl short line, for the
	// expected events (parsed by ParseAll, not by ParseMessage).
	Line []byte
}

// writeJournal appends entries to a journal file with systemd-journal-remote
// reading journal export format.
func writeJournal(t *testing.T, remote, path string, entries []journalEntry) {
	t.Helper()
	var buf bytes.Buffer
	field := func(name string, v []byte) {
		if utf8.Valid(v) && !bytes.ContainsAny(v, "\n") {
			fmt.Fprintf(&buf, "%s=%s\n", name, v)
			return
		}
		buf.WriteString(name + "\n") // binary field: little-endian length, then the bytes
		_ = binary.Write(&buf, binary.LittleEndian, uint64(len(v)))
		buf.Write(v)
		buf.WriteByte('\n')
	}
	for _, e := range entries {
		us := e.Time.UnixMicro()
		field("__REALTIME_TIMESTAMP", []byte(strconv.FormatInt(us, 10)))
		field("__MONOTONIC_TIMESTAMP", []byte(strconv.FormatInt(us-1_700_000_000_000_000, 10)))
		field("_BOOT_ID", []byte(testBootID))
		field("_TRANSPORT", []byte("stdout"))
		field("_HOSTNAME", []byte(e.Host))
		field("SYSLOG_IDENTIFIER", []byte(e.Ident))
		if e.PID != "" {
			field("_PID", []byte(e.PID))
		}
		if e.Unit != "" {
			field("_SYSTEMD_UNIT", []byte(e.Unit))
		}
		field("MESSAGE", e.Message)
		buf.WriteByte('\n')
	}
	cmd := exec.Command(remote, "--output="+path, "-")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// sampleEntries turns the journald short lines of a sample into the entries
// journald stored them from (year testYear).
func sampleEntries(t *testing.T, data []byte) []journalEntry {
	t.Helper()
	var out []journalEntry
	for line := range bytes.Lines(data) {
		line = bytes.TrimRight(line, "\r\n")
		m := syslogLineRE.FindSubmatch(line)
		require.NotNil(t, m, "not a journald short line: %q", line)
		ts, err := time.Parse("Jan _2 15:04:05.999999999 2006", string(m[1])+" "+strconv.Itoa(testYear))
		require.NoError(t, err)
		ident := string(m[3])
		out = append(out, journalEntry{Time: ts, Host: string(m[2]), Ident: ident, PID: string(m[4]), Unit: unitOf[ident],
			Message: bytes.Clone(m[5]), Line: bytes.Clone(line)})
	}
	return out
}

// khiEntries reads a GoogleCloudPlatform/khi k8s_node fixture: a journald
// entry as GKE exports it (jsonPayload = the journal fields).
func khiEntries(t *testing.T, data []byte) []journalEntry {
	t.Helper()
	var doc struct {
		JSONPayload map[string]string `yaml:"jsonPayload"`
		Timestamp   time.Time         `yaml:"timestamp"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc))
	p := doc.JSONPayload
	e := journalEntry{Time: doc.Timestamp, Host: p["_HOSTNAME"], Ident: p["SYSLOG_IDENTIFIER"], PID: p["_PID"], Unit: p["_SYSTEMD_UNIT"], Message: []byte(p["MESSAGE"])}
	e.Line = fmt.Appendf(nil, "%s %s %s[%s]: %s", e.Time.UTC().Format(time.StampMicro), e.Host, e.Ident, e.PID, e.Message)
	return []journalEntry{e}
}

// expectedJournal is what internal/noderuntime's text path (ParseAll over
// the same records as journalctl short lines) yields.
func expectedJournal(t *testing.T, entries []journalEntry) []rec {
	t.Helper()
	p := noderuntime.NewParser(noderuntime.Options{Year: testYear})
	var out []rec
	for _, e := range entries {
		evs, err := p.ParseAll(e.Line, nil)
		require.NoError(t, err, "%s", e.Line)
		for _, ev := range evs {
			r := recOfEvent(ev)
			r.Body = nodeevent.ValidUTF8(string(e.Message)) // the journald input's body is MESSAGE
			out = append(out, r)
		}
	}
	return out
}

// journalSamples are the entries of the test journal: the first part is
// written before the receiver starts, the second while it runs or between
// runs. Sorted by time (a journal is appended in time order).
func journalSamples(t *testing.T) (first, second []journalEntry) {
	t.Helper()
	first = append(first, khiEntries(t, samples.Read(t, "containerd", "repo-GoogleCloudPlatform-khi-k8s_node-containerd_create_container.yaml"))...)
	first = append(first, khiEntries(t, samples.Read(t, "kubelet", "repo-GoogleCloudPlatform-khi-k8s_node-kubelet_only_pod_name.yaml"))...)
	first = append(first, sampleEntries(t, samples.Read(t, "crio", "repo-redhat-performance-BugZooka-test_node_log_analyzer-minimal-journal.log"))...)
	first = append(first, sampleEntries(t, samples.Read(t, "containerd", "repo-VijayRod-demo-k8s-pod_container_logs-container-c65a36.log"))...)
	multi := sampleEntries(t, samples.Read(t, "containerd", "repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log"))
	// One message that is not valid UTF-8 (journalctl prints it as a byte
	// array): a sample line with a Latin-1 byte in a trailing field.
	bin := multi[1]
	bin.Message = append(bytes.Clone(bin.Message), []byte(" note=\"caf\xe9\"")...)
	bin.Line = append(bytes.Clone(bin.Line), []byte(" note=\"caf\xe9\"")...)
	multi[1] = bin
	first = append(first, multi...)
	second = sampleEntries(t, samples.Read(t, "kubelet", "repo-VijayRod-demo-k8s-pod_container_logs-azurecni-create.log"))
	sortEntries := func(es []journalEntry) {
		slices.SortStableFunc(es, func(a, b journalEntry) int { return a.Time.Compare(b.Time) })
	}
	sortEntries(first)
	sortEntries(second)
	require.True(t, first[len(first)-1].Time.Before(second[0].Time))
	return first, second
}

func journaldConfig(journalctl string, files ...string) *Config {
	j := defaultJournaldConfig()
	j.JournalctlPath = journalctl
	j.Files = files
	j.StartAt = "beginning"
	return &Config{Journald: configoptional.Some(j), Year: testYear}
}

func waitFor(t *testing.T, h *harness, want []rec) {
	t.Helper()
	require.Eventually(t, func() bool { return h.sink.LogRecordCount() >= len(want) }, 20*time.Second, 10*time.Millisecond,
		"got %d of %d records", h.sink.LogRecordCount(), len(want))
}

// TestJournaldResumesAfterStoredCursor reads a real journal file (built from
// sample lines and GKE journal entries), compares the events with the text
// path's, restarts on the real file_storage extension and checks that only
// the entries appended meanwhile arrive.
func TestJournaldResumesAfterStoredCursor(t *testing.T) {
	journalctl, remote := journalTools(t)
	first, second := journalSamples(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "node.journal")
	writeJournal(t, remote, path, first)
	host, storageID := storagetest.NewFileStorageHost(t, filepath.Join(dir, "storage"))

	run := func(want []rec, write []journalEntry) *harness {
		cfg := journaldConfig(journalctl, path)
		cfg.Journald.Get().StorageID = &storageID
		h := startReceiver(t, cfg, host, nil)
		if write != nil {
			writeJournal(t, remote, path, write)
		}
		waitFor(t, h, want)
		// The last entry of the run is the last record to arrive; wait for
		// its batch's cursor to be saved before stopping.
		h.stop(t)
		return h
	}
	wantFirst := expectedJournal(t, first)
	require.GreaterOrEqual(t, len(wantFirst), 15)
	h := run(wantFirst, nil)
	assert.ElementsMatch(t, wantFirst, records(h.sink))
	assert.Zero(t, h.counter(t, "otelcol_node_runtime_unparsed", nil))
	assert.Equal(t, int64(len(wantFirst)), h.counter(t, "otelcol_node_runtime_events", nil))
	var ready int64
	for _, r := range wantFirst {
		if r.Kind == "sandbox_ready" {
			ready++
		}
	}
	assert.Equal(t, int64(2), ready, "multiple-sandbox and BugZooka each have one")
	assert.Equal(t, ready, h.counter(t, "otelcol_node_runtime_events", map[string]string{"kind": "sandbox_ready"}))

	lr := h.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0)
	in, _ := lr.Scope().Attributes().Get(attr.NodeInput)
	assert.Equal(t, inputJournald, in.Str())
	unit, _ := lr.LogRecords().At(0).Attributes().Get(attr.NodeJournalUnit)
	assert.Equal(t, "containerd.service", unit.Str(), "the GKE containerd entry comes first")

	wantSecond := expectedJournal(t, second)
	require.NotEmpty(t, wantSecond)
	h = run(wantSecond, second)
	assert.Equal(t, wantSecond, records(h.sink), "after a restart only the entries after the stored cursor arrive, in order")
}

// TestJournaldRestartsJournalctl kills journalctl while the receiver runs
// with start_at: end: it is restarted after the last consumed entry, the
// entries written meanwhile arrive once, and the old ones never.
func TestJournaldRestartsJournalctl(t *testing.T) {
	journalctl, remote := journalTools(t)
	first, second := journalSamples(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "node.journal")
	writeJournal(t, remote, path, first)
	host, storageID := storagetest.NewFileStorageHost(t, filepath.Join(dir, "storage"))
	cfg := journaldConfig(journalctl, path)
	cfg.Journald.Get().StartAt = "end"
	cfg.Journald.Get().StorageID = &storageID
	h := startReceiver(t, cfg, host, func(r *nodeReceiver) { r.journalRestart = 10 * time.Millisecond })

	require.Eventually(t, func() bool { return h.r.journal.pid() != 0 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, syscall.Kill(h.r.journal.pid(), syscall.SIGKILL))
	writeJournal(t, remote, path, second[:4])
	require.Eventually(t, func() bool { return h.r.journal.runs.Load() >= 2 }, 10*time.Second, 5*time.Millisecond)
	writeJournal(t, remote, path, second[4:])

	want := expectedJournal(t, second)
	waitFor(t, h, want)
	h.stop(t)
	assert.Equal(t, want, records(h.sink))
	assert.NotEmpty(t, h.logs.FilterMessageSnippet("journalctl exited").All())
}

// TestJournaldFilters runs journalctl with unit and identifier matches.
func TestJournaldFilters(t *testing.T) {
	journalctl, remote := journalTools(t)
	first, _ := journalSamples(t)
	path := filepath.Join(t.TempDir(), "node.journal")
	writeJournal(t, remote, path, first)
	all := expectedJournal(t, first)
	tests := []struct {
		name        string
		units, ids  []string
		wantSources []string
	}{
		{name: "unit", units: []string{"crio.service"}, wantSources: []string{"crio"}},
		{name: "identifier", ids: []string{"kubenswrapper"}, wantSources: []string{"kubelet"}},
		{name: "units", units: []string{"containerd.service", "crio.service"}, wantSources: []string{"containerd", "crio"}},
		// journalctl ANDs --unit with --identifier: kubenswrapper entries of kubelet.service (not the kubelet ones).
		{name: "unit and identifier", units: []string{"kubelet.service"}, ids: []string{"kubenswrapper"}, wantSources: []string{"kubelet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kept []journalEntry
			for _, e := range first {
				if (tt.units == nil || slices.Contains(tt.units, e.Unit)) && (tt.ids == nil || slices.Contains(tt.ids, e.Ident)) {
					kept = append(kept, e)
				}
			}
			want := expectedJournal(t, kept)
			require.NotEmpty(t, want)
			var sources []string
			for _, r := range want {
				if !slices.Contains(sources, r.Source) {
					sources = append(sources, r.Source)
				}
			}
			assert.ElementsMatch(t, tt.wantSources, sources)
			assert.Less(t, len(want), len(all))
			cfg := journaldConfig(journalctl, path)
			cfg.Journald.Get().Units = tt.units
			cfg.Journald.Get().Identifiers = tt.ids
			h := startReceiver(t, cfg, componenttest.NewNopHost(), nil)
			waitFor(t, h, want)
			h.stop(t)
			assert.ElementsMatch(t, want, records(h.sink))
		})
	}
}

func TestJournaldMissingJournalctl(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{path: "/nonexistent/bin/journalctl", want: `journalctl_path "/nonexistent/bin/journalctl"`},
		{path: "journalctl-not-installed", want: `journalctl_path "journalctl-not-installed"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			cfg := journaldConfig(tt.path, "/var/log/journal/x.journal")
			r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
			require.NoError(t, err)
			err = r.Start(t.Context(), componenttest.NewNopHost())
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "node_runtime journald: cannot run")
			require.NoError(t, r.Shutdown(t.Context()))
		})
	}
}
