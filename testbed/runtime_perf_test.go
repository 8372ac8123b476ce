// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/noderuntime"
)

var perfPprof = flag.String("perf.pprof", "", "folder for CPU profiles of TestAuditThroughput's and TestRuntimeThroughput's collectors (pprof extension, <pipeline>.prof; the last run's); empty: none")

// podtrailRuntime is podtrail's runtime-log path: the node log file read,
// grouped into records, parsed and normalised by the node_runtime receiver,
// one log record per pod-lifecycle event to a file.
const podtrailRuntime = `
receivers:
  node_runtime:
    year: 2024
    file:
      include:
        - ${env:INPUT}
      start_at: beginning
      poll_interval: 50ms
exporters:
  file:
    path: ${env:OUT}
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [node_runtime]
      exporters: [file]
`

// The contrib pipeline's regexes. rtPrefixRE, rtLogrusRE and rtKlogRE split
// the syslog/journald prefix and the containerd (logrus) and kubelet (klog)
// formats; rtEvents are, per daemon, the lifecycle messages (routed on their
// first words) and the regex extracting what node_runtime extracts from
// them. They cover exactly the lines of WriteRuntimeLoad that node_runtime
// has events for (the test checks it), not the many other forms the parser
// knows: that favours the regexes.
const (
	rtPrefixRE = `^(?P<syslog_time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) (?P<ident>[^\[\s:]+)(?:\[(?P<pid>\d+)\])?: (?P<message>.*)`
	rtLogrusRE = `^time="(?P<time>[^"]+)" level=(?P<level>\w+) msg="(?P<msg>(?:[^"\\]|\\.)*)"`
	rtKlogRE   = `^(?P<klog_level>[IWEF])(?P<klog_time>\d{4} \d\d:\d\d:\d\d\.\d+) +\d+ (?P<klog_src>[^\]]+)\] (?P<msg>.*)`
	rtImage    = `\\"(?P<image_name>[^\\"]+?)(?::(?P<image_tag>\w[\w.-]*))?\\"`
)

var rtEvents = []struct {
	id, daemon string
	prefixes   []string
	re         string
}{
	{"run_pod_sandbox", "containerd", []string{"RunPodSandbox for "},
		`^(?P<op>RunPodSandbox) for &PodSandboxMetadata\{Name:(?P<pod_name>[^,]*),Uid:(?P<pod_uid>[^,]*),Namespace:(?P<pod_namespace>[^,]*),Attempt:(?P<attempt>\d+),\}(?: (?P<result>returns) sandbox id \\"(?P<sandbox_id>[0-9a-f]+)\\")?`},
	{"create_container", "containerd", []string{"CreateContainer within sandbox "},
		`^(?P<op>CreateContainer) within sandbox \\"(?P<sandbox_id>[0-9a-f]+)\\" for &ContainerMetadata\{Name:(?P<container_name>[^,]*),Attempt:(?P<attempt>\d+),\} returns container id \\"(?P<container_id>[0-9a-f]+)\\"`},
	{"container", "containerd", []string{"StartContainer for ", "StopContainer for ", "RemoveContainer for "},
		`^(?P<op>StartContainer|StopContainer|RemoveContainer) for \\"(?P<container_id>[0-9a-f]+)\\" returns successfully`},
	{"pod_sandbox", "containerd", []string{"StopPodSandbox for ", "RemovePodSandbox for "},
		`^(?P<op>StopPodSandbox|RemovePodSandbox) for \\"(?P<sandbox_id>[0-9a-f]+)\\" returns successfully`},
	{"pulled_image", "containerd", []string{"Pulled image "},
		`^(?P<op>Pulled image) ` + rtImage + ` with image id \\"(?P<image_id>sha256:[0-9a-f]+)\\", repo tag \\"[^\\"]*\\", repo digest \\"(?P<repo_digest>[^\\"]+)\\"`},
	{"pull_image", "containerd", []string{"PullImage "},
		`^(?P<op>PullImage) ` + rtImage + `(?: returns image reference \\"(?P<image_id>sha256:[0-9a-f]+)\\")?`}, // the pull's start too
	{"pleg", "kubelet", []string{`"SyncLoop (PLEG): event for pod"`},
		`^"SyncLoop \(PLEG\): event for pod" pod="(?P<pod_namespace>[^/]+)/(?P<pod_name>[^"]+)" event=\{"ID":"(?P<pod_uid>[^"]+)","Type":"(?P<op>\w+)","Data":"(?P<container_id>[0-9a-f]+)"\}`},
	{"pleg_finished", "kubelet", []string{`"Generic (PLEG): container finished"`},
		`^"Generic \(PLEG\): (?P<op>container finished)" podID="(?P<pod_uid>[^"]+)" containerID="(?P<container_id>[0-9a-f]+)"`},
	{"admit", "kubelet", []string{`"Topology Admit Handler"`},
		`^"(?P<op>Topology Admit Handler)" podUID="(?P<pod_uid>[^"]+)" podNamespace="(?P<pod_namespace>[^"]+)" podName="(?P<pod_name>[^"]+)"`},
	{"no_sandbox", "kubelet", []string{`"No sandbox for pod can be found.`},
		`^"(?P<op>No sandbox for pod can be found)\. Need to start a new one" pod="(?P<pod_namespace>[^/]+)/(?P<pod_name>[^"]+)"`},
}

// contribRuntime is the do-it-yourself pipeline from contrib components
// only, as a user who cares about cost writes it: file_log with a
// regex_parser for the prefix, a router per daemon to the logrus or klog
// regex_parser, a router per message shape to one regex_parser per lifecycle
// message (everything else, and requests whose outcome is logged later, are
// dropped in the receiver, as node_runtime drops them), time_parser and
// severity_parser on what is left, and transform putting the fields under
// the keys node_runtime uses.
func contribRuntime() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	q := strconv.Quote
	p(`receivers:
  file_log:
    include:
      - ${env:INPUT}
    start_at: beginning
    poll_interval: 50ms
    include_file_name: false
    include_file_path: true
    operators:
      - {type: regex_parser, id: prefix, regex: '%s', on_error: send_quiet}
      - type: router
        id: daemon
        default: drop
        routes:
          - {expr: 'attributes.ident == "containerd"', output: logrus}
          - {expr: 'attributes.ident == "kubelet"', output: klog}
      - {type: regex_parser, id: logrus, parse_from: attributes.message, regex: '%s', on_error: drop_quiet, output: containerd}
      - {type: regex_parser, id: klog, parse_from: attributes.message, regex: '%s', on_error: drop_quiet, output: kubelet}`,
		rtPrefixRE, rtLogrusRE, rtKlogRE)
	for _, daemon := range []string{"containerd", "kubelet"} {
		p("      - type: router\n        id: %s\n        default: drop\n        routes:", daemon)
		for _, e := range rtEvents {
			if e.daemon != daemon {
				continue
			}
			var conds []string
			for _, pre := range e.prefixes {
				conds = append(conds, "attributes.msg startsWith "+q(pre))
			}
			p("          - {expr: '%s', output: %s}", strings.Join(conds, " or "), e.id)
		}
	}
	for _, e := range rtEvents {
		p("      - {type: regex_parser, id: %s, parse_from: attributes.msg, regex: '%s', on_error: drop_quiet, output: time}", e.id, e.re)
	}
	p(`      - {type: filter, id: drop, expr: 'true'}
      - {type: time_parser, id: time, if: 'attributes.time != nil', parse_from: attributes.time, layout_type: gotime, layout: '2006-01-02T15:04:05.999999999Z07:00'}
      - {type: time_parser, if: 'attributes.klog_time != nil', parse_from: attributes.klog_time, layout_type: gotime, layout: '0102 15:04:05.999999'}
      - {type: severity_parser, if: 'attributes.level != nil', parse_from: attributes.level}
      - {type: severity_parser, if: 'attributes.klog_level != nil', parse_from: attributes.klog_level, mapping: {info: I, warn: W, error: E, fatal: F}}
processors:
  transform:
    error_mode: ignore
    log_statements:
      - context: log
        statements:
          - set(attributes["podtrail.node.event.kind"], attributes["op"])
          - set(attributes["podtrail.node.source"], attributes["ident"])
          - set(attributes["k8s.node.name"], attributes["host"])
          - set(attributes["k8s.namespace.name"], attributes["pod_namespace"])
          - set(attributes["k8s.pod.name"], attributes["pod_name"])
          - set(attributes["k8s.pod.uid"], attributes["pod_uid"])
          - set(attributes["podtrail.node.sandbox_id"], attributes["sandbox_id"])
          - set(attributes["container.id"], attributes["container_id"])
          - set(attributes["container.name"], attributes["container_name"])
          - set(attributes["podtrail.node.attempt"], Int(attributes["attempt"]))
          - set(attributes["container.image.name"], attributes["image_name"])
          - set(attributes["container.image.tags"], [attributes["image_tag"]]) where attributes["image_tag"] != nil
          - set(attributes["podtrail.node.image_id"], attributes["image_id"])
          - set(attributes["podtrail.node.repo_digest"], attributes["repo_digest"])
          - keep_keys(attributes, ["log.file.path", "podtrail.node.event.kind", "podtrail.node.source", "k8s.node.name", "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "podtrail.node.sandbox_id", "container.id", "container.name", "podtrail.node.attempt", "container.image.name", "container.image.tags", "podtrail.node.image_id", "podtrail.node.repo_digest"])
exporters:
  file:
    path: ${env:OUT}
service:
` + promTelemetry + `  pipelines:
    logs:
      receivers: [file_log]
      processors: [transform]
      exporters: [file]`)
	return b.String()
}

// rtRegexes are rtPrefixRE, rtLogrusRE, rtKlogRE and rtEvents compiled, for
// the in-process loop.
type rtRegexes struct {
	prefix, logrus, klog *regexp.Regexp
	events               []*regexp.Regexp
	prefixes             [][][]byte
}

func compileRuntimeRegexes() *rtRegexes {
	r := &rtRegexes{prefix: regexp.MustCompile(rtPrefixRE), logrus: regexp.MustCompile(rtLogrusRE), klog: regexp.MustCompile(rtKlogRE)}
	for _, e := range rtEvents {
		r.events = append(r.events, regexp.MustCompile(e.re))
		var pres [][]byte
		for _, pre := range e.prefixes {
			pres = append(pres, []byte(pre))
		}
		r.prefixes = append(r.prefixes, pres)
	}
	return r
}

// match runs line through the regexes as the contrib pipeline's operators
// do and returns the lifecycle regex that kept it and its submatch indexes
// into msg, or a nil re when the pipeline drops the line.
func (r *rtRegexes) match(line []byte) (re *regexp.Regexp, msg []byte, m []int) {
	pm := r.prefix.FindSubmatchIndex(line)
	if pm == nil {
		return nil, nil, nil
	}
	msg = line[pm[10]:pm[11]]
	var daemon string
	var fmtRE *regexp.Regexp
	switch string(line[pm[6]:pm[7]]) { // ident
	case "containerd":
		daemon, fmtRE = "containerd", r.logrus
	case "kubelet":
		daemon, fmtRE = "kubelet", r.klog
	default:
		return nil, nil, nil
	}
	dm := fmtRE.FindSubmatchIndex(msg)
	if dm == nil {
		return nil, nil, nil
	}
	i := 2 * fmtRE.SubexpIndex("msg")
	msg = msg[dm[i]:dm[i+1]]
	for i, e := range rtEvents {
		if e.daemon != daemon {
			continue
		}
		for _, pre := range r.prefixes[i] {
			if bytes.HasPrefix(msg, pre) {
				// The router's first matching route decides.
				if m = r.events[i].FindSubmatchIndex(msg); m == nil {
					return nil, nil, nil
				}
				return r.events[i], msg, m
			}
		}
	}
	return nil, nil, nil
}

// checkRuntimeRegexes checks that the contrib pipeline is a fair
// comparison on lines: it keeps exactly the lines node_runtime has events
// for, and every field it extracts is one those events carry.
func checkRuntimeRegexes(t *testing.T, r *rtRegexes, lines [][]byte) {
	p := noderuntime.NewParser(noderuntime.Options{Year: 2024})
	for _, l := range lines {
		evs, err := p.ParseAll(l, nil)
		if err != nil {
			t.Fatalf("node_runtime does not parse %s: %v", l, err)
		}
		re, msg, m := r.match(l)
		if (re != nil) != (len(evs) > 0) {
			t.Fatalf("the contrib regexes keep the line: %v, node_runtime has %d events for it: %s", re != nil, len(evs), l)
		}
		if re == nil {
			continue
		}
		have := map[string]bool{}
		for _, ev := range evs {
			for _, v := range []string{ev.PodNamespace, ev.PodName, ev.PodUID, ev.SandboxID, ev.ContainerID, ev.ContainerName, ev.ImageID, ev.RepoDigest} {
				have[v] = true
			}
		}
		for i, name := range re.SubexpNames() {
			switch name {
			case "pod_namespace", "pod_name", "pod_uid", "sandbox_id", "container_id", "container_name", "image_id", "repo_digest":
				if m[2*i] >= 0 && !have[string(msg[m[2*i]:m[2*i+1]])] {
					t.Fatalf("the contrib regex %s extracts %s=%s, node_runtime's events do not: %s", re, name, msg[m[2*i]:m[2*i+1]], l)
				}
			}
		}
	}
}

// withPprof adds the pprof extension saving a CPU profile to file when
// -perf.pprof is set.
func withPprof(t *testing.T, config, name string) string {
	if *perfPprof == "" {
		return config
	}
	if err := os.MkdirAll(*perfPprof, 0o755); err != nil {
		t.Fatal(err)
	}
	file, _ := filepath.Abs(filepath.Join(*perfPprof, name+".prof"))
	config = strings.Replace(config, "\nservice:\n", "\nservice:\n  extensions: [pprof]\n", 1)
	return config + fmt.Sprintf("\nextensions:\n  pprof:\n    endpoint: %s\n    save_to_file: %s\n", freePort(t), file)
}

// TestRuntimeThroughput is the runtime-log path comparison: the
// shared samples' kubelet, containerd and systemd syslog lines
// (WriteRuntimeLoad), repeated with new pods to -perf.events lines, through
// podtrail's node_runtime receiver and through the contrib-only pipeline
// (file_log with regex_parser operators extracting the same fields), each a
// separate collector process started from the same binary, and through
// in-process loops (noderuntime.Parser; the contrib pipeline's regexes
// alone, Go regexp).
//
// Both pipelines drop the lines that are not lifecycle events, so each is
// awaited on its own count: podtrail until otelcol_node_runtime_events (one
// per event; log records can be more, as an image pull is sent once per
// recent pod) reaches the events noderuntime.Parser finds in the file, contrib
// until otelcol_receiver_accepted_log_records reaches the lines its regexes
// keep (the same lines: checkRuntimeRegexes). Events per CPU-second are
// input lines per CPU-second for every row, so the rows compare. Like
// TestAuditThroughput it asserts nothing about speed.
func TestRuntimeThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := Collector(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "input.log")
	n := WriteRuntimeLoad(t, input, *perfEvents)
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	res := compileRuntimeRegexes()
	checkRuntimeRegexes(t, res, lines[:min(len(lines), 1000)])

	// The in-process loops first: they give each pipeline's count.
	parser := noderuntime.NewParser(noderuntime.Options{Year: 2024})
	var evs []noderuntime.Event
	events, kept := 0, 0
	ceilParser := decodeLoop(t, "noderuntime.Parser (podtrail's parser, in-process, 1 core)", data, func(l []byte) error {
		var perr error
		evs, perr = parser.ParseAll(l, evs[:0])
		events += len(evs)
		return perr
	})
	ceilRegex := decodeLoop(t, "Go regexp, the contrib pipeline's regexes alone (in-process, 1 core)", data, func(l []byte) error {
		if re, _, _ := res.match(l); re != nil {
			kept++
		}
		return nil
	})
	t.Logf("%d lines: node_runtime events %d, lines the contrib regexes keep %d", n, events, kept)

	var runs []Run
	for _, p := range []struct{ name, slug, config, metric string }{
		{"podtrail node_runtime", "podtrail", podtrailRuntime, "otelcol_node_runtime_events"},
		{"contrib filelog+regex_parser+transform", "contrib", contribRuntime(), "otelcol_receiver_accepted_log_records"},
	} {
		want := events
		if p.slug == "contrib" {
			want = kept
		}
		sub := t.TempDir()
		cfg := writeConfig(t, sub, "config.yaml", withPprof(t, p.config, p.slug))
		in := filepath.Join(sub, "syslog")
		r := MeasurePipeline(t, *perfRuns, p.name, bin, cfg, p.metric, want, data, in, "INPUT="+in, "OUT="+filepath.Join(sub, "out.json"))
		t.Logf("%s: %d events, %d log records", p.name, want, r.Records)
		r.Events, r.PerCPUSecond = n, float64(n)/r.CPUSeconds
		runs = append(runs, r)
	}
	report(t, "runtime", "Runtime-log path", "input lines", append(runs, ceilParser, ceilRegex))
}
