// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/samples"
)

// sampleDirs are the corpus folders holding node logs.
var sampleDirs = []string{"containerd", "crio", "docker", "kubelet"}

// sampleReference is the date each sample was captured (from the issue or
// commit it was copied from, see samples/SOURCES.md). It anchors year-less
// klog/journald stamps the way a live tail's clock would. Files not listed
// (a header or the records themselves date them, or they are new) use no
// reference.
var sampleReference = map[string]string{
	"kubelet/issue-cilium-cilium-19499.log":                                 "2022-04-20",
	"kubelet/issue-kubernetes-110181.log":                                   "2022-05-18",
	"kubelet/issue-kubernetes-88440.log":                                    "2020-02-26",
	"kubelet/issue-kubernetes-92613.log":                                    "2020-06-29",
	"kubelet/repo-VijayRod-demo-k8s-pod_container_logs-azurecni-create.log": "2024-12-02",
	"kubelet/repo-VijayRod-demo-k8s-pod_container_logs-delete.log":          "2024-11-29",
	// kubelet/issue-kubernetes-68885.log: its journalctl header dates it (2018, CEST).
	"containerd/issue-containerd-containerd-10906.log":                          "2024-11-01",
	"containerd/issue-containerd-containerd-6704.log":                           "2022-03-21",
	"containerd/issue-containerd-cri-545.log":                                   "2018-01-16",
	"containerd/issue-k3s-io-k3s-2149.log":                                      "2021-02-26",
	"containerd/issue-k3s-io-k3s-6119.log":                                      "2022-09-14",
	"containerd/issue-kubernetes-118675.log":                                    "2023-06-15",
	"containerd/issue-rootless-containers-usernetes-287-pull.log":               "2023-09-04",
	"containerd/repo-VijayRod-demo-k8s-pod_container_logs-container-c65a36.log": "2024-11-29",
	"containerd/repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log":      "2024-11-29",
	"crio/issue-cri-o-cri-o-3022.log":                                           "2019-12-11",
	"crio/issue-cri-o-cri-o-5134.log":                                           "2021-07-28",
	"crio/issue-cri-o-cri-o-5841.log":                                           "2022-05-05",
	"crio/issue-cri-o-cri-o-7802.log":                                           "2024-02-20",
	"crio/issue-cri-o-cri-o-8844.log":                                           "2024-12-12",
	// crio/issue-kubernetes-minikube-10182.log: dated by its journalctl header.
	"crio/repo-redhat-performance-BugZooka-test_node_log_analyzer-minimal-journal.log": "2026-05-27",
	"docker/issue-coreos-coreos-kubernetes-440.log":                                    "2016-04-27",
	"docker/issue-kubernetes-kubeadm-507.log":                                          "2017-11-06",
	"docker/issue-kubernetes-minikube-9770.log":                                        "2020-11-25",
	"docker/issue-moby-moby-44300.log":                                                 "2022-10-14",
}

// sampleRecord is one record of a sample file as a tailer would deliver it.
type sampleRecord struct {
	line int    // 1-based physical line where the record starts
	text []byte // the record (wrapped lines joined with \n)
}

// sampleFile is a sample's records with the parser options a deployment
// reading it would use.
type sampleFile struct {
	rel     string // <dir>/<file>
	opts    Options
	records []sampleRecord
}

// sampleFiles lists the node-log samples of dir.
func sampleFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	root := samples.Dir(tb, dir)
	ents, err := os.ReadDir(root)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// loadSample reads a sample. Plain logs are grouped into records with the
// Joiner; KHI YAML fixtures (GKE LogEntry) yield their jsonPayload.MESSAGE,
// with the entry's SYSLOG_IDENTIFIER as Format, node_name as Node and
// timestamp as Reference, as a test of those fixtures would.
func loadSample(tb testing.TB, path string) sampleFile {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	rel := filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))
	sf := sampleFile{rel: rel}
	if d, ok := sampleReference[rel]; ok {
		ref, err := time.Parse("2006-01-02", d)
		if err != nil {
			tb.Fatal(err)
		}
		sf.opts.Reference = ref
	}
	if strings.HasSuffix(path, ".yaml") {
		loadYAMLEntry(tb, data, &sf)
		return sf
	}
	var j Joiner
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n, start := 0, 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		wasStart := IsRecordStart(line) || !j.have
		if rec, ok := j.Add(line); ok {
			sf.records = append(sf.records, sampleRecord{line: start, text: bytes.Clone(rec)})
		}
		if wasStart && len(bytes.TrimSpace(line)) > 0 {
			start = n
		}
	}
	if rec, ok := j.Flush(); ok {
		sf.records = append(sf.records, sampleRecord{line: start, text: bytes.Clone(rec)})
	}
	return sf
}

func loadYAMLEntry(tb testing.TB, data []byte, sf *sampleFile) {
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "  MESSAGE: "):
			sf.records = append(sf.records, sampleRecord{line: i + 1, text: []byte(yamlScalar(tb, l[len("  MESSAGE: "):]))})
		case strings.HasPrefix(l, "  SYSLOG_IDENTIFIER: "):
			if src, ok := identSource(yamlScalar(tb, l[len("  SYSLOG_IDENTIFIER: "):])); ok {
				sf.opts.Format = src
			}
		case strings.HasPrefix(l, "    node_name: "):
			sf.opts.Node = yamlScalar(tb, l[len("    node_name: "):])
		case strings.HasPrefix(l, "timestamp: "):
			ts, err := time.Parse(time.RFC3339Nano, yamlScalar(tb, l[len("timestamp: "):]))
			if err != nil {
				tb.Fatal(err)
			}
			sf.opts.Reference = ts
		}
	}
}

// yamlScalar decodes a one-line YAML scalar (plain, 'single' or "double").
func yamlScalar(tb testing.TB, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		u, err := strconv.Unquote(s)
		if err != nil {
			tb.Fatalf("yaml scalar %s: %v", s, err)
		}
		return u
	}
	return s
}

// allSampleRecords returns the records of every node-log sample, for fuzz
// seeds and benchmarks, keyed by corpus folder.
func allSampleRecords(tb testing.TB) map[string][][]byte {
	out := map[string][][]byte{}
	for _, dir := range sampleDirs {
		for _, path := range sampleFiles(tb, dir) {
			for _, r := range loadSample(tb, path).records {
				out[dir] = append(out[dir], r.text)
			}
		}
	}
	return out
}
