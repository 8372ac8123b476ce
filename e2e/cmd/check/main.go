// Command check holds the end-to-end test's assertions: it reads the OTLP JSON
// file podtrail's gateway exported (records and findings), the pods the API
// server listed at the end of the scenarios (kubectl get pods -A -o json) and
// the images' digests, waits until every expected record is there (or the
// timeout), and checks each scenario's record and findings. It prints one line
// per assertion and ends with "N passed, N failed"; exit 1 when any failed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ---- OTLP JSON --------------------------------------------------------------

type anyValue struct {
	StringValue *string  `json:"stringValue"`
	BoolValue   *bool    `json:"boolValue"`
	IntValue    *string  `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	ArrayValue  *struct {
		Values []anyValue `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []keyValue `json:"values"`
	} `json:"kvlistValue"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

func (v anyValue) native() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.IntValue != nil:
		n, _ := strconv.ParseInt(*v.IntValue, 10, 64)
		return n
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.ArrayValue != nil:
		out := []any{}
		for _, e := range v.ArrayValue.Values {
			out = append(out, e.native())
		}
		return out
	case v.KvlistValue != nil:
		return kvs(v.KvlistValue.Values)
	}
	return nil
}

func kvs(in []keyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range in {
		m[kv.Key] = kv.Value.native()
	}
	return m
}

type logsData struct {
	ResourceLogs []struct {
		ScopeLogs []struct {
			LogRecords []struct {
				EventName  string     `json:"eventName"`
				Body       anyValue   `json:"body"`
				Attributes []keyValue `json:"attributes"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type record struct {
	attrs    map[string]any
	body     string
	findings []string // rule ids
}

func (r *record) str(k string) string { s, _ := r.attrs[k].(string); return s }

func (r *record) list(k string) []any { l, _ := r.attrs[k].([]any); return l }

func (r *record) strs(k string) []string {
	var out []string
	for _, e := range r.list(k) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func (r *record) containers() []map[string]any {
	var out []map[string]any
	for _, e := range r.list("podtrail.pod.containers") {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (r *record) key() string { return r.str("k8s.namespace.name") + "/" + r.str("k8s.pod.name") }

func readRecords(path string) ([]*record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []*record
	byAudit := map[string]*record{}
	var findings []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var ld logsData
		if err := json.Unmarshal(sc.Bytes(), &ld); err != nil {
			continue // a line being written
		}
		for _, rl := range ld.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					a := kvs(lr.Attributes)
					switch lr.EventName {
					case "podtrail.pod_creation":
						body, _ := lr.Body.native().(string)
						r := &record{attrs: a, body: body}
						recs = append(recs, r)
						if id, _ := a["podtrail.audit.id"].(string); id != "" {
							byAudit[id] = r
						}
					case "podtrail.finding":
						findings = append(findings, a)
					}
				}
			}
		}
	}
	for _, fa := range findings {
		id, _ := fa["podtrail.audit.id"].(string)
		rule, _ := fa["podtrail.rule.id"].(string)
		if r := byAudit[id]; r != nil {
			r.findings = append(r.findings, rule)
			continue
		}
		// a record without an audit id (node only): join on the pod
		for _, r := range recs {
			if r.str("podtrail.audit.id") == "" && r.str("k8s.namespace.name") == fa["k8s.namespace.name"] && r.str("k8s.pod.name") == fa["k8s.pod.name"] {
				r.findings = append(r.findings, rule)
			}
		}
	}
	return recs, nil
}

// ---- the API's pods ---------------------------------------------------------------

type apiPod struct {
	Metadata struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		UID       string `json:"uid"`
	} `json:"metadata"`
}

func readPods(path string) ([]apiPod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []apiPod `json:"items"`
	}
	return l.Items, json.Unmarshal(b, &l)
}

// ---- expectations ---------------------------------------------------------------

// want is what one scenario's record must say. Empty fields are not checked.
type want struct {
	what       string
	match      func(*record) bool
	count      int // records that match (default 1)
	actor      string
	actorKind  string
	channel    string
	onNode     bool   // k8s.node.name is the node
	ran        bool   // sandbox id, and every container has an id
	digestRepo string // every container's digest is this repository's
	chain      []string
	initiator  string
	initChan   string
	origin     string
	decision   string
	fieldMgr   string
	genName    string
	deleted    bool
	denied     bool // podtrail.denied_before lists a refusal
	findings   []string
	noFindings []string
}

func named(ns, name string) func(*record) bool {
	return func(r *record) bool { return r.str("k8s.namespace.name") == ns && r.str("k8s.pod.name") == name }
}

func prefixed(ns, prefix, ownerKind string) func(*record) bool {
	return func(r *record) bool {
		return r.str("k8s.namespace.name") == ns && strings.HasPrefix(r.str("k8s.pod.name"), prefix) &&
			r.str("podtrail.pod.owner.kind") == ownerKind
	}
}

func and(fs ...func(*record) bool) func(*record) bool {
	return func(r *record) bool {
		for _, f := range fs {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

func inNamespace(ns string) func(*record) bool {
	return func(r *record) bool { return r.str("k8s.namespace.name") == ns }
}

func decided(d string) func(*record) bool {
	return func(r *record) bool { return r.str("podtrail.decision") == d }
}

func wants(node string) []want {
	const (
		alice = "alice@example.com"
		admin = "kubernetes-admin"
		bob   = "bob@example.com"
		bot   = "deploy-bot"
		rsc   = "system:serviceaccount:kube-system:replicaset-controller"
	)
	system := []string{"PT-0001", "PT-0002", "PT-0005", "PT-0011", "PT-0035"}
	return []want{
		{what: "kube-proxy DaemonSet pod", match: prefixed("kube-system", "kube-proxy-", "DaemonSet"),
			actor: "system:serviceaccount:kube-system:daemon-set-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, digestRepo: "registry.k8s.io/kube-proxy", chain: []string{"DaemonSet/kube-proxy"},
			initiator: admin, initChan: "kubectl", origin: "api", noFindings: system},
		{what: "coredns Deployment pod", match: prefixed("kube-system", "coredns-", "ReplicaSet"),
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			digestRepo: "registry.k8s.io/coredns/coredns", chain: []string{"ReplicaSet/coredns-*", "Deployment/coredns"},
			initiator: admin, initChan: "kubectl", noFindings: system},
		{what: "alice's lookalike kube-proxy-x7b2q (bare, runs)", match: named("kube-system", "kube-proxy-x7b2q"),
			actor: alice, actorKind: "user", channel: "kubectl", onNode: true, ran: true,
			digestRepo: "registry.k8s.io/kube-proxy", origin: "api", findings: []string{"PT-0001", "PT-0002"}},
		{what: "alice's lookalike kube-proxy-m4k9z (DaemonSet labels: adopted and deleted)", match: named("kube-system", "kube-proxy-m4k9z"),
			actor: alice, actorKind: "user", channel: "kubectl", findings: []string{"PT-0001", "PT-0002", "PT-0005"}},
		{what: "Deployment web's pods", match: prefixed("apps", "web-", "ReplicaSet"), count: 2,
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			digestRepo: "docker.io/library/nginx", chain: []string{"ReplicaSet/web-*", "Deployment/web"},
			initiator: alice, initChan: "kubectl", noFindings: []string{"PT-0001", "PT-0002"}},
		{what: "Job migrate's pod", match: prefixed("apps", "migrate-", "Job"),
			actor: "system:serviceaccount:kube-system:job-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, chain: []string{"Job/migrate"}, initiator: alice, initChan: "kubectl"},
		{what: "CronJob report's pod", match: prefixed("apps", "report-", "Job"),
			actor: "system:serviceaccount:kube-system:job-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, chain: []string{"Job/report-*", "CronJob/report"}, initiator: alice, initChan: "kubectl"},
		{what: "static pod static-web (mirror pod)", match: named("default", "static-web-"+node),
			actor: "system:node:" + node, actorKind: "node", channel: "kubelet", onNode: true, ran: true,
			origin: "static", findings: []string{"PT-0032"}, noFindings: []string{"PT-0033", "PT-0035"}},
		// a refused create's body is not read: the record knows namespace and actor, not the name
		{what: "bob's forbidden create", match: and(inNamespace("team-b"), decided("forbid")),
			actor: bob, actorKind: "user", decision: "forbid", findings: []string{"PT-0004"}},
		{what: "bob's allowed retry", match: and(named("team-b", "probe"), decided("allow")),
			actor: bob, actorKind: "user", channel: "kubectl", decision: "allow", onNode: true, ran: true,
			denied: true, findings: []string{"PT-0038"}, noFindings: []string{"PT-0004"}},
		{what: "generateName pods", match: prefixed("apps", "gen-", ""), count: 2,
			actor: alice, channel: "kubectl", genName: "gen-", onNode: true, ran: true},
		{what: "pod created and deleted within a second", match: named("kube-system", "blink"),
			actor: alice, channel: "kubectl", deleted: true, findings: []string{"PT-0001", "PT-0034"}},
		{what: "image by tag", match: named("apps", "img-tag"),
			actor: alice, onNode: true, ran: true, digestRepo: "docker.io/library/nginx"},
		{what: "image by digest", match: named("apps", "img-digest"),
			actor: alice, onNode: true, ran: true, digestRepo: "docker.io/library/busybox"},
		{what: "kubectl --field-manager=helm with Helm labels", match: named("apps", "chart-kubectl"),
			actor: bot, actorKind: "user", channel: "kubectl", fieldMgr: "helm", onNode: true, ran: true},
		{what: "Helm client (user agent Helm/3, fieldManager=helm)", match: named("apps", "chart-helm"),
			actor: bot, channel: "helm", fieldMgr: "helm", onNode: true, ran: true},
		{what: "Argo CD client and labels", match: named("apps", "guestbook"),
			actor: bot, channel: "argocd", onNode: true, ran: true},
	}
}

// pullsLogDigests: the node's containerd logs the repo digest of a pull
// (1.7: `Pulled image "x:t" with image id ..., repo digest "x@sha256:..."`).
// 1.6 logs it only as `ImageCreate event &ImageCreate{Name:x@sha256:...}`, which
// node_runtime does not read as a pull: a pod whose image is named by tag then
// has no digest (unless the audit policy logs the kubelet's pods/status bodies).
var pullsLogDigests = true

const noPullDigests = "containerd 1.6 does not log pulls with repo digests; node_runtime reads no ImageCreate events"

// containerd 1.x.y from `containerd --version`
func containerdBefore17(version string) bool {
	for _, f := range strings.Fields(version) {
		f = strings.TrimPrefix(f, "v")
		var major, minor int
		if n, _ := fmt.Sscanf(f, "%d.%d", &major, &minor); n == 2 {
			return major < 1 || major == 1 && minor < 7
		}
	}
	return false
}

// ---- checking ---------------------------------------------------------------------

type result struct{ pass, fail, skip int }

func (res *result) skipped(format string, a ...any) {
	res.skip++
	fmt.Printf("SKIP  %s\n", fmt.Sprintf(format, a...))
}

func (res *result) check(ok bool, format string, a ...any) {
	if ok {
		res.pass++
		fmt.Printf("ok    %s\n", fmt.Sprintf(format, a...))
	} else {
		res.fail++
		fmt.Printf("FAIL  %s\n", fmt.Sprintf(format, a...))
	}
}

func globMatch(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

func has(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func checkWant(res *result, w want, recs []*record, node string, digests map[string]string) {
	var got []*record
	for _, r := range recs {
		if w.match(r) {
			got = append(got, r)
		}
	}
	n := w.count
	if n == 0 {
		n = 1
	}
	names := []string{}
	for _, r := range got {
		names = append(names, r.key())
	}
	res.check(len(got) == n, "%s: %d record(s), want %d %v", w.what, len(got), n, names)
	for _, r := range got {
		id := w.what + " " + r.key()
		eq := func(attr, want string) {
			if want != "" {
				res.check(r.str(attr) == want, "%s: %s=%q, want %q", id, attr, r.str(attr), want)
			}
		}
		eq("user.name", w.actor)
		eq("podtrail.actor.kind", w.actorKind)
		eq("podtrail.channel", w.channel)
		eq("podtrail.origin", w.origin)
		eq("podtrail.decision", w.decision)
		eq("podtrail.field_manager", w.fieldMgr)
		eq("podtrail.pod.generate_name", w.genName)
		eq("podtrail.initiator.username", w.initiator)
		eq("podtrail.initiator.channel", w.initChan)
		if w.onNode {
			eq("k8s.node.name", node)
		}
		if w.ran {
			res.check(r.str("podtrail.sandbox.id") != "", "%s: podtrail.sandbox.id=%q set", id, r.str("podtrail.sandbox.id"))
			cs := r.containers()
			ids := []string{}
			all := len(cs) > 0
			for _, c := range cs {
				cid, _ := c["id"].(string)
				ids = append(ids, cid)
				all = all && cid != ""
			}
			res.check(all, "%s: container ids %v", id, ids)
		}
		if w.digestRepo != "" {
			want := digests[w.digestRepo]
			cs := r.containers()
			ds := []string{}
			all, none := len(cs) > 0 && want != "", true
			byTag := false
			for _, c := range cs {
				d, _ := c["digest"].(string)
				src, _ := c["digest_source"].(string)
				img, _ := c["image"].(string)
				ds = append(ds, d+" ("+src+")")
				all = all && d == want
				none = none && d == ""
				byTag = byTag || !strings.Contains(img, "@")
			}
			if none && byTag && !pullsLogDigests {
				res.skipped("%s: container digests %v, want %s: %s", id, ds, want, noPullDigests)
			} else {
				res.check(all, "%s: container digests %v, want %s", id, ds, want)
			}
		}
		if len(w.chain) > 0 {
			chain := r.strs("podtrail.pod.owner.chain")
			ok := len(chain) == len(w.chain)
			for i := 0; ok && i < len(chain); i++ {
				ok = globMatch(w.chain[i], chain[i])
			}
			res.check(ok, "%s: owner chain %v, want %v", id, chain, w.chain)
		}
		if w.deleted {
			res.check(r.str("podtrail.deleted_at") != "", "%s: podtrail.deleted_at=%q set", id, r.str("podtrail.deleted_at"))
		}
		if w.denied {
			res.check(len(r.list("podtrail.denied_before")) > 0, "%s: podtrail.denied_before lists %d refusal(s)", id, len(r.list("podtrail.denied_before")))
		}
		for _, f := range w.findings {
			res.check(has(r.findings, f), "%s: finding %s (findings %v)", id, f, r.findings)
		}
		for _, f := range w.noFindings {
			res.check(!has(r.findings, f), "%s: no finding %s (findings %v)", id, f, r.findings)
		}
	}
}

// complete reports whether every expectation and every listed pod has its records.
func complete(recs []*record, ws []want, pods []apiPod) bool {
	byUID := map[string]bool{}
	for _, r := range recs {
		byUID[r.str("k8s.pod.uid")] = true
	}
	for _, p := range pods {
		if !byUID[p.Metadata.UID] {
			return false
		}
	}
	for _, w := range ws {
		n, c := w.count, 0
		if n == 0 {
			n = 1
		}
		for _, r := range recs {
			if w.match(r) {
				c++
			}
		}
		if c < n {
			return false
		}
	}
	return true
}

func main() {
	recordsPath := flag.String("records", "", "OTLP JSON file of the gateway's records and findings")
	podsPath := flag.String("pods", "", "kubectl get pods -A -o json at the end of the scenarios")
	digestsPath := flag.String("digests", "", "lines of <repository> <manifest digest>")
	node := flag.String("node", "", "the node's name")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the records")
	ctrd := flag.String("containerd", "", "`containerd --version` of the node")
	flag.Parse()
	pullsLogDigests = !containerdBefore17(*ctrd)

	pods, err := readPods(*podsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	digests := map[string]string{}
	if b, err := os.ReadFile(*digestsPath); err == nil {
		for _, l := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				digests[f[0]] = f[1]
			}
		}
	}
	ws := wants(*node)

	var recs []*record
	start := time.Now()
	deadline := start.Add(*timeout)
	for {
		recs, err = readRecords(*recordsPath)
		if err == nil && complete(recs, ws, pods) {
			// the findings of the last records may be a flush behind
			time.Sleep(2 * time.Second)
			recs, _ = readRecords(*recordsPath)
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	fmt.Printf("records after %.0f s: %d\n", time.Since(start).Seconds(), len(recs))
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].key() < recs[j].key() })
	for _, r := range recs {
		fmt.Printf("  %s\n", r.body)
		if len(r.findings) > 0 {
			fmt.Printf("      findings: %s\n", strings.Join(r.findings, " "))
		}
	}

	res := &result{}
	// one record per pod: every pod the API lists, and no uid twice
	byUID := map[string]int{}
	for _, r := range recs {
		if u := r.str("k8s.pod.uid"); u != "" {
			byUID[u]++
		}
	}
	for _, p := range pods {
		res.check(byUID[p.Metadata.UID] == 1, "pod %s/%s (uid %s): %d record(s), want 1",
			p.Metadata.Namespace, p.Metadata.Name, p.Metadata.UID, byUID[p.Metadata.UID])
	}
	dups := []string{}
	for u, n := range byUID {
		if n > 1 {
			dups = append(dups, u)
		}
	}
	res.check(len(dups) == 0, "no pod uid in two records %v", dups)
	for _, w := range ws {
		checkWant(res, w, recs, *node, digests)
	}
	if res.skip > 0 {
		fmt.Printf("%d passed, %d failed, %d skipped\n", res.pass, res.fail, res.skip)
	} else {
		fmt.Printf("%d passed, %d failed\n", res.pass, res.fail)
	}
	if res.fail > 0 {
		os.Exit(1)
	}
}
