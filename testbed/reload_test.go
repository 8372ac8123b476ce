// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
)

const reloadConfig = `
` + webhookReceiver + `processors:
` + podCreation + `    reload_interval: 200ms
    correlation:
      expect: [audit]
exporters:
  otlphttp:
    logs_endpoint: ${env:SINK}/v1/logs
    compression: none
    sending_queue:
      enabled: false
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [k8s_audit]
      processors: [pod_creation]
      exporters: [otlphttp]
`

// configMap is a directory laid out as the kubelet mounts a ConfigMap:
// rules.yaml -> ..data/rules.yaml, ..data -> ..<version>, and an update
// writes a new version directory and renames a new ..data symlink over the
// old one (the kubelet's AtomicWriter). The files' own paths never change.
type configMap struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMap(t *testing.T, files map[string][]byte) *configMap {
	c := &configMap{t: t, dir: t.TempDir()}
	c.update(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(c.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *configMap) update(files map[string][]byte) {
	c.n++
	version := fmt.Sprintf("..2026_11_23_10_00_%02d.%d", c.n, c.n)
	if err := os.Mkdir(filepath.Join(c.dir, version), 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.dir, version, name), data, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
}

// podCreates returns the audit events of kubectl-style pod creates named
// prefix-0 .. prefix-(n-1), one JSON event per element: the demo's
// `default/tf-smoke` create (terraform-ci), renamed, with fresh uid and
// audit ID.
func podCreates(t *testing.T, prefix string, n int) [][]byte {
	t.Helper()
	data, err := os.ReadFile(distPath(t, "demo", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var tmpl string
	for _, l := range bytes.Split(data, []byte("\n")) {
		if ev, err := audit.Decode(l); err == nil && ev.IsPodCreate() && ev.IsFinal() && bytes.Contains(l, []byte(`"tf-smoke"`)) {
			tmpl = string(l)
		}
	}
	if tmpl == "" {
		t.Fatal("no tf-smoke create in the demo audit log")
	}
	out := make([][]byte, n)
	for i := range out {
		id := fmt.Sprintf("%08x-%04x-4000-8000-%012x", len(prefix), i, time.Now().UnixNano()+int64(i))
		out[i] = []byte(strings.NewReplacer("tf-smoke", fmt.Sprintf("%s-%d", prefix, i),
			"d4c08ba3-c8bd-43e6-b56d-53765b7cb525", "a"+id[1:], // pod uid
		).Replace(strings.ReplaceAll(tmpl, mustAuditID(t, tmpl), "b"+id[1:])))
	}
	return out
}

func mustAuditID(t *testing.T, event string) string {
	ev, err := audit.Decode([]byte(event))
	if err != nil {
		t.Fatal(err)
	}
	return ev.AuditID
}

// TestRulesHotReload is the hot-reload bar: the rules file of a running
// collector, mounted as a ConfigMap, is edited three times (valid, invalid,
// valid). Pods created after each edit get the findings of the set then
// running: the new rule, then the last good set (the invalid edit is logged
// and the collector's rules_stale metric is 1), then the second new rule.
// Meanwhile a stream of creates goes on through every edit: each of its
// pods has exactly one record.
func TestRulesHotReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	pack := distPath(t, "rules")
	rules, err := os.ReadFile(filepath.Join(pack, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	inventory, err := os.ReadFile(filepath.Join(pack, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	custom := func(id, cond string) []byte {
		return append(append([]byte(nil), rules...), fmt.Sprintf(`
  - id: %s
    title: Reload test rule %s
    description: Fires on the pods of the hot-reload test.
    severity: low
    condition: %s
`, id, id, cond)...)
	}
	cm := newConfigMap(t, map[string][]byte{"rules.yaml": rules, "inventory.yaml": inventory})

	bin := Collector(t)
	cfg := writeConfig(t, t.TempDir(), "config.yaml", reloadConfig)
	sink := NewSink(t)
	webhook, metrics := freePort(t), freePort(t)
	_, metricsPort, _ := net.SplitHostPort(metrics)
	p := StartReady(t, bin, cfg, "WEBHOOK="+webhook, "SINK="+sink.URL, "RULES="+cm.dir, "METRICS_PORT="+metricsPort)
	post := func(ev []byte) {
		t.Helper()
		for try := 0; ; try++ {
			resp, err := http.Post("http://"+webhook+"/audit", "application/json", bytes.NewReader(ev))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("posting an audit event: %s", resp.Status)
					return
				}
				err = fmt.Errorf("status %s", resp.Status)
			}
			if try == 100 {
				t.Errorf("posting an audit event: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	logHas := func(s string, n int) func() bool {
		return func() bool {
			log, _ := os.ReadFile(p.LogPath)
			return bytes.Count(log, []byte(s)) >= n
		}
	}

	// The stream: a create every 20 ms until the last edit is checked.
	stream := podCreates(t, "stream", 5000)
	streamed := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, ev := range stream {
			select {
			case <-done:
				return
			default:
			}
			post(ev)
			streamed++
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// findingsFor returns the rule ids that fired for the pods of prefix,
	// after waiting for all n records.
	findingsFor := func(prefix string, n int) map[string]int {
		t.Helper()
		for _, ev := range podCreates(t, prefix, n) {
			post(ev)
		}
		WaitFor(t, 30*time.Second, fmt.Sprintf("%d records of %s pods", n, prefix), func() bool {
			return count(sink.Records(attr.EventPodCreation), prefix) >= n
		})
		time.Sleep(200 * time.Millisecond) // findings travel with their record
		ids := map[string]int{}
		for _, lr := range sink.Records(attr.EventFinding) {
			if name, _ := lr.Attributes().Get(attr.K8sPodName); strings.HasPrefix(name.Str(), prefix+"-") {
				id, _ := lr.Attributes().Get("podtrail.rule.id")
				ids[id.Str()]++
			}
		}
		return ids
	}
	const n = 5
	steps := []struct {
		name          string
		rules         []byte
		logLine       string
		want, notWant []string
		stale         string
	}{
		{name: "pack", want: []string{}, notWant: []string{"PT-9001", "PT-9002"}, stale: "0"},
		{name: "valid edit adds PT-9001", rules: custom("PT-9001", `pod.name startsWith "reload"`),
			logLine: "detection rules reloaded", want: []string{"PT-9001"}, notWant: []string{"PT-9002"}, stale: "0"},
		{name: "invalid edit keeps the last good set", rules: custom("PT-9002", `pod.nmae startsWith "reload"`),
			logLine: "detection rules not reloaded", want: []string{"PT-9001"}, notWant: []string{"PT-9002"}, stale: "1"},
		{name: "valid edit replaces PT-9001 with PT-9003", rules: custom("PT-9003", `pod.name startsWith "reload"`),
			logLine: "detection rules reloaded", want: []string{"PT-9003"}, notWant: []string{"PT-9001", "PT-9002"}, stale: "0"},
	}
	reloaded := 0
	for i, st := range steps {
		if st.rules != nil {
			if st.logLine == "detection rules reloaded" {
				reloaded++
			}
			cm.update(map[string][]byte{"rules.yaml": st.rules, "inventory.yaml": inventory})
			want := reloaded
			if st.logLine != "detection rules reloaded" {
				want = 1
			}
			WaitFor(t, 10*time.Second, fmt.Sprintf("%q in the collector log", st.logLine), logHas(st.logLine, want))
		}
		prefix := fmt.Sprintf("reload%d", i)
		got := findingsFor(prefix, n)
		for _, id := range st.want {
			if got[id] != n {
				t.Errorf("%s: %s fired on %d of %d pods (%v)", st.name, id, got[id], n, got)
			}
		}
		for _, id := range st.notWant {
			if got[id] != 0 {
				t.Errorf("%s: %s fired (%v)", st.name, id, got)
			}
		}
		if v := Metric(metrics, "otelcol_pod_creation_rules_stale"); fmt.Sprint(v) != st.stale {
			t.Errorf("%s: otelcol_pod_creation_rules_stale = %v, want %s", st.name, v, st.stale)
		}
		t.Logf("%s: findings on %d %s pods: %v", st.name, n, prefix, got)
	}
	log, _ := os.ReadFile(p.LogPath)
	if !bytes.Contains(log, []byte("nmae")) {
		t.Error("the failed reload's log does not say what is wrong")
	}

	close(done)
	wg.Wait()
	t.Logf("%d pods streamed through the edits", streamed)
	WaitFor(t, 30*time.Second, "every streamed pod's record", func() bool {
		return count(sink.Records(attr.EventPodCreation), "stream") >= streamed
	})
	time.Sleep(500 * time.Millisecond)
	p.Stop(t)
	seen := map[string]int{}
	for _, lr := range sink.Records(attr.EventPodCreation) {
		if name, _ := lr.Attributes().Get(attr.K8sPodName); strings.HasPrefix(name.Str(), "stream-") {
			seen[name.Str()]++
		}
	}
	for name, c := range seen {
		if c != 1 {
			t.Errorf("%s: %d records", name, c)
		}
	}
	if len(seen) != streamed {
		t.Errorf("%d streamed pods have records, want %d", len(seen), streamed)
	}
}

// count returns how many of recs are about pods named prefix-<n>.
func count(recs []plog.LogRecord, prefix string) int {
	n := 0
	for _, lr := range recs {
		if name, _ := lr.Attributes().Get(attr.K8sPodName); strings.HasPrefix(name.Str(), prefix+"-") {
			n++
		}
	}
	return n
}
