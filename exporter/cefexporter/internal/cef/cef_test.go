// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef/ceftest"
	"github.com/podtrail/podtrail/internal/attr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// newEvent fills an Event as the exporter does: scalars with Set, list
// elements with Add.
func newEvent(name, body string, ts time.Time, sev int, attrs map[string]any) *Event {
	e := &Event{}
	fill(e, name, body, ts, sev, attrs)
	return e
}

func fill(e *Event, name, body string, ts time.Time, sev int, attrs map[string]any) {
	e.Reset()
	e.EventName, e.Body, e.Time, e.Severity = name, body, ts, sev
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := attrs[k].(type) {
		case string:
			e.Set(k, v)
		case bool:
			e.Set(k, strconv.FormatBool(v))
		case int:
			e.Set(k, strconv.Itoa(v))
		case []string:
			for _, s := range v {
				e.Add(k, s)
			}
		default:
			panic(fmt.Sprintf("%s: %T", k, v))
		}
	}
}

var t0 = time.Date(2026, 11, 20, 9, 14, 5, 906705000, time.UTC)

// events are the golden cases: records and findings as the pod_creation
// processor writes them (the demo's), and values that need escaping.
var events = []struct {
	name string
	ev   *Event
}{
	{"record_allowed", newEvent(EventPodCreation,
		"pod kube-system/kube-proxy-7mzqv created by system:serviceaccount:kube-system:daemon-set-controller (controller) via controller owner=DaemonSet/kube-proxy images=registry.k8s.io/kube-proxy:v1.33.13 node=node-b decision=allow code=201 missing=initiator",
		t0, 9, map[string]any{
			"podtrail.audit.id":         "766de7bc-4648-4fd9-a009-16416ba95396",
			"k8s.namespace.name":        "kube-system",
			"k8s.pod.name":              "kube-proxy-7mzqv",
			"k8s.pod.uid":               "6887c1a1-e311-4669-9949-acd753cd17b7",
			"user.name":                 "system:serviceaccount:kube-system:daemon-set-controller",
			"user.id":                   "ecf5df7a-5721-4275-9a69-d3bfbf856355",
			"podtrail.actor.kind":       "controller",
			"podtrail.channel":          "controller",
			"podtrail.pod.owner.kind":   "DaemonSet",
			"podtrail.pod.owner.name":   "kube-proxy",
			"k8s.node.name":             "node-b",
			"podtrail.pod.images":       []string{"registry.k8s.io/kube-proxy:v1.33.13"},
			"client.address":            "172.18.0.2",
			"user_agent.original":       "kube-controller-manager/v1.33.1 (linux/amd64) kubernetes/8adc0f0/system:serviceaccount:kube-system:daemon-set-controller",
			"podtrail.decision":         "allow",
			"podtrail.allowed":          true,
			"http.response.status_code": 201,
			"podtrail.pod.labels":       "ignored: a map is not mapped",
		})},
	{"record_forbidden", newEvent(EventPodCreation,
		"pod shop/miner FORBIDDEN for mallory (user) via kubectl images=docker.io/xmrig/xmrig:latest decision=forbid code=403",
		t0, 13, map[string]any{
			"podtrail.audit.id":         "a0c1b6f4-1d7e-4b8e-9a55-1f0e8c6f2b11",
			"k8s.namespace.name":        "shop",
			"k8s.pod.name":              "miner",
			"user.name":                 "mallory",
			"podtrail.actor.kind":       "user",
			"podtrail.channel":          "kubectl",
			"podtrail.pod.images":       []string{"docker.io/xmrig/xmrig:latest", "busybox:1.36"},
			"client.address":            "2001:db8::7",
			"user_agent.original":       "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
			"podtrail.decision":         "forbid",
			"podtrail.allowed":          false,
			"http.response.status_code": 403,
			"podtrail.reason":           `pods "miner" is forbidden: User "mallory" cannot create resource "pods" in API group "" in the namespace "shop"`,
		})},
	{"finding_critical", newEvent(EventFinding,
		"finding CRITICAL PT-0002 Pod name imitates a system or approved workload: pod kube-system/kube-proxy-x7b2q actor=alice@example.com imitates=kube-system/kube-proxy owner=none",
		t0, 21, map[string]any{
			"podtrail.audit.id":         "03db2542-0c3f-4c9d-b6b3-3cc2a373c591",
			"k8s.namespace.name":        "kube-system",
			"k8s.pod.name":              "kube-proxy-x7b2q",
			"k8s.pod.uid":               "1fd08881-4702-4e21-947b-fdd55ce7bb17",
			"user.name":                 "alice@example.com",
			"podtrail.actor.kind":       "user",
			"podtrail.channel":          "kubectl",
			"podtrail.rule.id":          "PT-0002",
			"podtrail.rule.title":       "Pod name imitates a system or approved workload",
			"podtrail.rule.description": "The pod's name is, derives from, or is a near miss of the name of an approved or system workload.\n",
			"podtrail.rule.severity":    "critical",
			"podtrail.rule.mitre":       []string{"DC0019", "AN0986", "T1036.005"},
			"podtrail.rule.tags":        []string{"masquerading", "lookalike-name"},
			"podtrail.finding.actor":    "alice@example.com",
			"podtrail.finding.imitates": "kube-system/kube-proxy",
			"podtrail.finding.owner":    "none",
			"k8s.cluster.name":          "prod-eu-1",
		})},
	{"finding_medium", newEvent(EventFinding,
		"finding MEDIUM PT-0003 Image not in the approved inventory: pod shop/cart-6f7d9c8b4-ttp4z images=ghcr.io/acme-corp/cart:1.2.0",
		t0, 13, map[string]any{
			"podtrail.audit.id":       "5b1e2f4a-7c3d-4e8f-9a0b-1c2d3e4f5a6b",
			"k8s.namespace.name":      "shop",
			"k8s.pod.name":            "cart-6f7d9c8b4-ttp4z",
			"user.name":               "system:serviceaccount:kube-system:replicaset-controller",
			"podtrail.actor.kind":     "controller",
			"podtrail.channel":        "controller",
			"podtrail.rule.id":        "PT-0003",
			"podtrail.rule.title":     "Image not in the approved inventory",
			"podtrail.rule.severity":  "medium",
			"podtrail.rule.mitre":     []string{"DC0019", "T1610"},
			"podtrail.finding.images": "ghcr.io/acme-corp/cart:1.2.0",
		})},
	{"escaping", newEvent(EventFinding,
		"finding HIGH PT-9999 a|b\\c=d\nsecond line\r\tend ^caret é",
		t0, 17, map[string]any{
			"podtrail.audit.id":       `id=1\2|3`,
			"k8s.namespace.name":      "ns",
			"k8s.pod.name":            "pod=x y",
			"user.name":               "CN=Jane Doe,OU=ops\\eu",
			"client.address":          "api.internal.example",
			"user_agent.original":     "curl/8.5.0\r\nX-Injected: 1",
			"podtrail.channel":        "tab\there",
			"podtrail.rule.id":        "PT|9999",
			"podtrail.rule.title":     "Title with | pipe, \\ backslash\nand a newline",
			"podtrail.rule.severity":  "HIGH",
			"podtrail.rule.mitre":     []string{"T1=1", "T2^2"},
			"podtrail.finding.owner":  "Job/a=b",
			"podtrail.finding.images": "img:1,img:2",
		})},
	{"other_event", newEvent("k8s.audit.event", "some audit line", time.Time{}, 17, map[string]any{
		"podtrail.audit.id": "x",
	})},
}

func enc(f Format, delim byte) *Encoder {
	return &Encoder{Format: f, Vendor: "podtrail", Product: "podtrail", Version: "0.1.0", Delimiter: delim}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n got: %q\nwant: %q", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	for _, c := range events {
		t.Run(c.name, func(t *testing.T) {
			line := enc(CEF, 0).Append(nil, c.ev)
			golden(t, c.name+".cef", append(line, '\n'))
			checkCEF(t, c.ev, string(line))

			line = enc(LEEF, 0).Append(nil, c.ev)
			golden(t, c.name+".leef", append(line, '\n'))
			checkLEEF(t, c.ev, string(line), '\t')

			line = enc(LEEF, '^').Append(nil, c.ev)
			golden(t, c.name+".leef-caret", append(line, '\n'))
			checkLEEF(t, c.ev, string(line), '^')
		})
	}
}

// wantCEF is the mapping of the README, written again independently of
// encode.go: CEF key -> value expected after unescaping.
func wantCEF(e *Event) map[string]string {
	m := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if !e.Time.IsZero() {
		m["rt"] = strconv.FormatInt(e.Time.UnixMilli(), 10)
	}
	put("cat", e.EventName)
	put("externalId", e.AuditID)
	put("suser", e.User)
	put("suid", e.UserID)
	put("spriv", e.ActorKind)
	ip, err := netip.ParseAddr(e.Client)
	switch {
	case e.Client == "":
	case err == nil && ip.Unmap().Is4():
		m["src"] = e.Client
	case err == nil:
		m["c6a2"], m["c6a2Label"] = e.Client, "client.address"
	default:
		m["shost"] = e.Client
	}
	put("requestClientApplication", e.UserAgent)
	put("dvchost", e.Node)
	put("dhost", e.Cluster)
	put("act", e.Decision)
	if e.IsRecord() {
		switch e.Decision {
		case "allow":
			m["outcome"] = "success"
		case "forbid":
			m["outcome"] = "failure"
		}
	}
	put("reason", e.Reason)
	if e.StatusCode != "" {
		m["cn1"], m["cn1Label"] = e.StatusCode, "status_code"
	}
	label := func(k, l, v string) {
		if v != "" {
			m[k], m[k+"Label"] = v, l
		}
	}
	label("cs1", "namespace", e.Namespace)
	label("cs2", "pod", e.Pod)
	label("cs3", "rule", e.RuleID)
	label("cs4", "channel", e.Channel)
	switch {
	case e.OwnerKind != "":
		label("cs5", "owner", e.OwnerKind+"/"+e.OwnerName)
	default:
		label("cs5", "owner", e.FindingOwner)
	}
	imgs := e.Images
	if len(e.FindingImages) > 0 {
		imgs = e.FindingImages
	}
	label("cs6", "images", joinNonEmpty(imgs))
	label("flexString1", "pod_uid", e.PodUID)
	label("flexString2", "mitre", joinNonEmpty(e.MITRE))
	put("msg", e.Body)
	return m
}

func joinNonEmpty(vs []string) string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return strings.Join(out, ",")
}

func wantSeverity(e *Event) string {
	if e.IsFinding() {
		if s, ok := map[string]string{"info": "1", "low": "3", "medium": "5", "high": "8", "critical": "10"}[strings.ToLower(e.RuleSeverity)]; ok {
			return s
		}
	}
	if e.IsRecord() && e.Allowed != "" {
		return map[string]string{"true": "1", "false": "5"}[e.Allowed]
	}
	switch n := e.Severity; {
	case n >= 21:
		return "10"
	case n >= 17:
		return "8"
	case n >= 13:
		return "5"
	case n >= 9:
		return "1"
	}
	return "0"
}

func flat(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

func checkCEF(t *testing.T, e *Event, line string) {
	t.Helper()
	if strings.ContainsAny(line, "\r\n") {
		t.Errorf("CEF line holds CR or LF: %q", line)
	}
	l, err := ceftest.ParseCEF(line)
	if err != nil {
		t.Fatalf("ceftest.ParseCEF(%q): %v", line, err)
	}
	name := e.Body
	if e.IsFinding() && e.RuleTitle != "" {
		name = e.RuleTitle
	}
	name, _, _ = strings.Cut(name, "\n")
	name, _, _ = strings.Cut(name, "\r")
	sig := e.EventName
	switch {
	case e.IsFinding() && e.RuleID != "":
		sig = e.RuleID
	case e.IsRecord():
		sig = "pod_creation"
	case sig == "":
		sig = "log"
	}
	if name == "" {
		name = sig
	}
	want := ceftest.Line{Format: "CEF", Version: "0", Vendor: "podtrail", Product: "podtrail", DeviceVersion: "0.1.0",
		SignatureID: flat(sig), Name: flat(truncate(name, MaxNameLen)), Severity: wantSeverity(e)}
	got := l
	got.Fields = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CEF header\n got %+v\nwant %+v", got, want)
	}
	if g, w := l.Map(), wantCEF(e); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("CEF extension\n got %q\nwant %q", g, w)
	}
	if len(l.Map()) != len(l.Fields) {
		t.Errorf("CEF extension repeats a key: %q", l.Fields)
	}
}

func checkLEEF(t *testing.T, e *Event, line string, delim byte) {
	t.Helper()
	if strings.ContainsAny(line, "\r\n") {
		t.Errorf("LEEF line holds CR or LF: %q", line)
	}
	l, err := ceftest.ParseLEEF(line, ParseLEEFDelimiter)
	if err != nil {
		t.Fatalf("ceftest.ParseLEEF(%q, ParseLEEFDelimiter): %v", line, err)
	}
	if l.Version != "2.0" || l.Vendor != "podtrail" || l.Delimiter != delim || l.SignatureID != flat(e.SignatureID()) {
		t.Errorf("LEEF header %+v", l)
	}
	c := wantCEF(e) // same values, LEEF keys
	w := map[string]string{}
	for cefKey, leefKey := range map[string]string{"cat": "cat", "externalId": "auditId", "suser": "usrName",
		"suid": "userId", "spriv": "role", "requestClientApplication": "userAgent", "dvchost": "node", "dhost": "cluster",
		"act": "action", "outcome": "outcome", "reason": "reason", "cn1": "statusCode", "cs1": "namespace",
		"cs2": "pod", "flexString1": "podUid", "cs3": "policy", "cs4": "channel", "cs5": "owner", "cs6": "images",
		"flexString2": "mitre", "msg": "msg", "src": "src", "c6a2": "src", "shost": "clientAddress"} {
		if v, ok := c[cefKey]; ok {
			w[leefKey] = v
		}
	}
	if !e.Time.IsZero() {
		w["devTime"] = e.Time.UTC().Format("2006-01-02T15:04:05.000-0700")
		w["devTimeFormat"] = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
	}
	w["sev"] = wantSeverity(e)
	if w["sev"] == "0" {
		w["sev"] = "1"
	}
	w["name"] = e.Name()
	if e.Namespace != "" || e.Pod != "" {
		w["resource"] = e.Namespace + "/" + e.Pod
	}
	if g := l.Map(); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("LEEF attributes\n got %q\nwant %q", g, w)
	}
	if len(l.Map()) != len(l.Fields) {
		t.Errorf("LEEF attributes repeat a key: %q", l.Fields)
	}
	if _, attrs, _ := ceftest.SplitHeader(line[len("LEEF:"):], 6); strings.Count(attrs, string(delim)) != len(l.Fields)-1 {
		t.Errorf("LEEF attributes hold %d delimiters for %d attributes", strings.Count(attrs, string(delim)), len(l.Fields))
	}
}

func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		name, key, val string
		otel, want     int
		syslog         int
	}{
		{EventFinding, attr.RuleSeverity, "info", 9, 1, 6},
		{EventFinding, attr.RuleSeverity, "low", 9, 3, 5},
		{EventFinding, attr.RuleSeverity, "medium", 13, 5, 4},
		{EventFinding, attr.RuleSeverity, "high", 17, 8, 3},
		{EventFinding, attr.RuleSeverity, "critical", 21, 10, 2},
		{EventFinding, attr.RuleSeverity, "bogus", 13, 5, 4},
		{EventPodCreation, attr.Allowed, "true", 13, 1, 6},
		{EventPodCreation, attr.Allowed, "false", 9, 5, 4},
		{EventPodCreation, attr.Decision, "allow", 13, 1, 6},
		{EventPodCreation, attr.Decision, "forbid", 9, 5, 4},
		{"other", "", "", 0, 0, 6},
		{"other", "", "", 5, 0, 6},
		{"other", "", "", 9, 1, 6},
		{"other", "", "", 13, 5, 4},
		{"other", "", "", 17, 8, 3},
		{"other", "", "", 24, 10, 2},
	} {
		e := &Event{EventName: c.name, Severity: c.otel}
		e.Set(c.key, c.val)
		if got := e.CEFSeverity(); got != c.want {
			t.Errorf("%s %s=%s otel %d: CEF severity %d, want %d", c.name, c.key, c.val, c.otel, got, c.want)
		}
		if got := SyslogSeverity(e.CEFSeverity()); got != c.syslog {
			t.Errorf("%s %s=%s: syslog severity %d, want %d", c.name, c.key, c.val, got, c.syslog)
		}
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, header, cef, leefTab, leefCaret string }{
		{"plain", "plain", "plain", "plain", "plain"},
		{`a|b`, `a\|b`, `a|b`, `a|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`, `a=b`, `a=b`},
		{"a\nb", "a b", `a\nb`, `a\nb`, `a\nb`},
		{"a\r\nb", "a  b", `a\r\nb`, `a\r\nb`, `a\r\nb`},
		{"a\tb", "a\tb", "a\tb", `a\tb`, `a\tb`},
		{"a^b", "a^b", "a^b", "a^b", `a\x5eb`},
		{`\=|^`, `\\=\|^`, `\\\=|^`, `\\=|^`, `\\=|\x5e`},
		{"", "", "", "", ""},
		{"é€", "é€", "é€", "é€", "é€"},
	} {
		if got := string(AppendCEFHeader(nil, c.in)); got != c.header {
			t.Errorf("AppendCEFHeader(%q) = %q, want %q", c.in, got, c.header)
		}
		if got := string(AppendCEFValue(nil, c.in)); got != c.cef {
			t.Errorf("AppendCEFValue(%q) = %q, want %q", c.in, got, c.cef)
		}
		if got := string(AppendLEEFValue(nil, c.in, '\t')); got != c.leefTab {
			t.Errorf("AppendLEEFValue(%q, tab) = %q, want %q", c.in, got, c.leefTab)
		}
		if got := string(AppendLEEFValue(nil, c.in, '^')); got != c.leefCaret {
			t.Errorf("AppendLEEFValue(%q, ^) = %q, want %q", c.in, got, c.leefCaret)
		}
		if got := ceftest.UnescapeCEFValue(c.cef); got != c.in {
			t.Errorf("ceftest.UnescapeCEFValue(%q) = %q, want %q", c.cef, got, c.in)
		}
		if got := ceftest.UnescapeLEEFValue(c.leefCaret); got != c.in {
			t.Errorf("ceftest.UnescapeLEEFValue(%q) = %q, want %q", c.leefCaret, got, c.in)
		}
		if got := ceftest.UnescapeCEFHeader(c.header); got != flat(c.in) {
			t.Errorf("ceftest.UnescapeCEFHeader(%q) = %q, want %q", c.header, got, flat(c.in))
		}
	}
}

func TestParseCEF(t *testing.T) {
	for _, c := range []struct {
		in     string
		fields string
		err    string
	}{
		{`CEF:0|a|b|c|d|e|1|`, `[]`, ""},
		{`CEF:0|a|b|c|d|e|1|k=v`, `[{k v}]`, ""},
		{`CEF:0|a|b|c|d|e|1|k=v w x k2=\= y\\ k3=`, `[{k v w x} {k2 = y\} {k3 }]`, ""},
		{`CEF:0|a\|b|c|d|e|f|1|k=v`, `[{k v}]`, ""},
		{`CEF:0|a|b|c|d|e|1`, ``, "header has 6 of 7 fields"},
		{`CEF:0|a|b|c|d|e|1|novalue`, ``, "without key=value"},
		{`CEF:0|a|b|c|d|e|1|k=a=b`, ``, "no space before the key"},
		{`CEF:0|a|b|c|d|e|1| k=v`, ``, "extension key"},
		{`LEEF:2.0|a|b|c|d|^|k=v`, ``, "no CEF: prefix"},
	} {
		l, err := ceftest.ParseCEF(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ceftest.ParseCEF(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ceftest.ParseCEF(%q): %v", c.in, err)
			continue
		}
		if got := fmt.Sprint(l.Fields); got != c.fields && !(c.fields == "[]" && l.Fields == nil) {
			t.Errorf("ceftest.ParseCEF(%q) fields %s, want %s", c.in, got, c.fields)
		}
	}
}

func TestParseLEEF(t *testing.T) {
	for _, c := range []struct {
		in     string
		delim  byte
		fields string
		err    string
	}{
		{"LEEF:2.0|a|b|c|d|^|k=v^k2=a=b", '^', `[{k v} {k2 a=b}]`, ""},
		{"LEEF:2.0|a|b|c|d|x09|k=v\tk2=\\x5e", '\t', `[{k v} {k2 ^}]`, ""},
		{"LEEF:2.0|a|b|c|d|0x5E|k=v^k2=w", '^', `[{k v} {k2 w}]`, ""},
		{"LEEF:1.0|a|b|c|d|k=v\tk2=w", '\t', `[{k v} {k2 w}]`, ""},
		{"LEEF:2.0|a|b|c|d|=|k=v", 0, ``, "LEEF delimiter"},
		{"LEEF:2.0|a|b|c|d|xZZ|k=v", 0, ``, "LEEF delimiter"},
		{"LEEF:2.0|a|b|c|d|^|kv", 0, ``, "not key=value"},
		{"LEEF:2.0|a|b|c", 0, ``, "header has"},
	} {
		l, err := ceftest.ParseLEEF(c.in, ParseLEEFDelimiter)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ceftest.ParseLEEF(%q, ParseLEEFDelimiter) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ceftest.ParseLEEF(%q, ParseLEEFDelimiter): %v", c.in, err)
			continue
		}
		if l.Delimiter != c.delim || fmt.Sprint(l.Fields) != c.fields {
			t.Errorf("ceftest.ParseLEEF(%q, ParseLEEFDelimiter) = %q %s, want %q %s", c.in, l.Delimiter, fmt.Sprint(l.Fields), c.delim, c.fields)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	e := &Event{EventName: EventPodCreation, Body: long}
	n := e.Name()
	if len(n) > MaxNameLen || len(n) < MaxNameLen-3 || !strings.HasPrefix(long, n) {
		t.Fatalf("Name() is %d bytes, want at most %d on a rune boundary", len(n), MaxNameLen)
	}
	if n != strings.Repeat("é", 256) {
		t.Fatalf("Name() cut inside a rune")
	}
	line := enc(CEF, 0).Append(nil, e)
	l, err := ceftest.ParseCEF(string(line))
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := l.Get("msg"); msg != long {
		t.Fatalf("msg does not carry the whole body")
	}
}

func TestSyslogGolden(t *testing.T) {
	var ev []*Event
	for _, c := range events[:3] {
		ev = append(ev, c.ev)
	}
	for _, c := range []struct {
		name    string
		proto   Protocol
		framing Framing
		format  Format
	}{
		{"syslog-rfc5424-octet-cef", RFC5424, FramingOctetCounting, CEF},
		{"syslog-rfc5424-newline-leef", RFC5424, FramingNewline, LEEF},
		{"syslog-rfc3164-newline-cef", RFC3164, FramingNewline, CEF},
		{"syslog-rfc3164-udp-leef", RFC3164, FramingNone, LEEF},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Syslog{Protocol: c.proto, Facility: 16, Hostname: "gw-1", AppName: "podtrail", Location: time.UTC}
			var out, msg []byte
			for _, e := range ev {
				msg = s.AppendHeader(msg[:0], SyslogSeverity(e.CEFSeverity()), e.Time, e.MsgID())
				msg = enc(c.format, 0).Append(msg, e)
				out = c.framing.Append(out, msg)
				if c.framing == FramingNone {
					out = append(out, '\n') // one datagram per line in the golden file
				}
			}
			golden(t, c.name+".golden", out)
			checkFrames(t, out, c.framing, len(ev))
		})
	}
}

// checkFrames reads the messages back as a receiver would.
func checkFrames(t *testing.T, out []byte, f Framing, n int) {
	t.Helper()
	var msgs []string
	for len(out) > 0 {
		switch f {
		case FramingOctetCounting:
			sp := strings.IndexByte(string(out), ' ')
			size, err := strconv.Atoi(string(out[:sp]))
			if err != nil || sp+1+size > len(out) {
				t.Fatalf("bad octet count at %q", out)
			}
			msgs = append(msgs, string(out[sp+1:sp+1+size]))
			out = out[sp+1+size:]
		default:
			i := strings.IndexByte(string(out), '\n')
			msgs = append(msgs, string(out[:i]))
			out = out[i+1:]
		}
	}
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for _, m := range msgs {
		if !strings.HasPrefix(m, "<13") {
			t.Errorf("PRI of local0: %q", m[:5])
		}
		i := strings.Index(m, "CEF:0|")
		if i < 0 {
			i = strings.Index(m, "LEEF:2.0|")
		}
		if i < 0 {
			t.Errorf("no CEF or LEEF line in %q", m)
		}
	}
}

func TestSyslogHeader(t *testing.T) {
	s := &Syslog{Protocol: RFC5424, Facility: 16, Hostname: Header("my host\n", MaxHostname), AppName: "podtrail"}
	got := string(s.AppendHeader(nil, 4, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), "finding"))
	if want := "<132>1 2026-01-02T02:04:05.000006Z my_host_ podtrail - finding - "; got != want {
		t.Errorf("RFC 5424 header %q, want %q", got, want)
	}
	got = string(s.AppendHeader(nil, 6, time.Time{}, "-"))
	if want := "<134>1 - my_host_ podtrail - - - "; got != want {
		t.Errorf("RFC 5424 header %q, want %q", got, want)
	}
	s = &Syslog{Protocol: RFC3164, Facility: 4, AppName: "podtrail", Location: time.UTC}
	got = string(s.AppendHeader(nil, 2, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "x"))
	if want := "<34>Jan  2 03:04:05 - podtrail: "; got != want {
		t.Errorf("RFC 3164 header %q, want %q", got, want)
	}
	if f, err := ParseFacility("LOCAL4"); err != nil || f != 20 {
		t.Errorf("ParseFacility(LOCAL4) = %d, %v", f, err)
	}
	if f, err := ParseFacility("13"); err != nil || f != 13 {
		t.Errorf("ParseFacility(13) = %d, %v", f, err)
	}
	if _, err := ParseFacility("24"); err == nil {
		t.Errorf("ParseFacility(24) accepted")
	}
	if got := (&Event{EventName: "a very long event name with spaces that goes on"}).MsgID(); got != "a_very_long_event_name_with_spac" {
		t.Errorf("MsgID %q", got)
	}
}
