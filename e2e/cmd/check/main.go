// SPDX-License-Identifier: Apache-2.0

// Command check holds the end-to-end test's assertions. It reads the OTLP
// JSON files podtrail's gateway exported (records and findings) in the two
// phases of the run (the first gateway saw the cluster from its start; the
// second was started with empty state on the running cluster), the pods the
// API server listed and watched, the runtime's containers (cmd/cri), the
// audit log and the registry's log, and checks each scenario's record and
// findings. It prints one line per assertion and ends with
// "N passed, N failed"; exit 1 when any failed.
//
//	check -wait 1 ...   wait until phase 1's records are all there (or -timeout), assert nothing
//	check -wait 2 ...   the same for phase 2
//	check ...           every assertion, on the files as they are (podtrail stopped)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ---- expectations ---------------------------------------------------------------

// want is what one scenario's record must say. Empty fields are not checked.
type want struct {
	what       string
	match      func(*record) bool
	count      int // records that match (default 1)
	actor      string
	actorKind  string
	channel    string
	group      string            // podtrail.actor.groups lists it
	attrs      map[string]string // attribute = value
	onNode     bool              // k8s.node.name is the node
	ran        bool              // sandbox id, and every container has an id
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
	extra      func(res *result, id string, r *record)
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

func or(fs ...func(*record) bool) func(*record) bool {
	return func(r *record) bool {
		for _, f := range fs {
			if f(r) {
				return true
			}
		}
		return false
	}
}

func inNamespace(ns string) func(*record) bool {
	return func(r *record) bool { return r.str("k8s.namespace.name") == ns }
}

func decided(d string) func(*record) bool {
	return func(r *record) bool { return r.str("podtrail.decision") == d }
}

func withUID(uids ...string) func(*record) bool {
	return func(r *record) bool {
		for _, u := range uids {
			if u != "" && r.uid() == u {
				return true
			}
		}
		return false
	}
}

const (
	alice = "alice@example.com"
	admin = "kubernetes-admin"
	bob   = "bob@example.com"
	erin  = "erin@example.com"
	carol = "carol@example.com"
	bot   = "deploy-bot"
	rsc   = "system:serviceaccount:kube-system:replicaset-controller"
	dsc   = "system:serviceaccount:kube-system:daemon-set-controller"
	dave  = "dave@example.com"                         // team-a, applies with kubectl
	ci    = "system:serviceaccount:team-b:ci-deployer" // team-b's CI, a token of its own
	// the impersonation rule (rules.yaml)
	ruleImpersonation = "PT-0027"
	ruleNodeOnly      = "PT-0035"
)

// staticPod is the static pod's mirror pod in the API: its uid and the
// kubelet's config hash, which is the pod uid the runtime knows it by.
type staticPod struct{ uid, hash string }

func wantsPhase1(node string, n names, st staticPod, listed map[string]bool) []want {
	system := []string{"PT-0001", "PT-0002", "PT-0005", "PT-0011", ruleNodeOnly}
	// a controller's pods the API lists at the end: a controller may delete
	// one it made at once (the DaemonSet that adopted alice's labelled pod
	// and found two on the node deleted both and made a third); those have
	// their records too, by the one-record-per-pod and listed-uid checks
	ctrl := func(ns, prefix, kind string) func(*record) bool {
		return and(prefixed(ns, prefix, kind), func(r *record) bool { return listed[r.uid()] })
	}
	return []want{
		{what: "kube-proxy DaemonSet pod", match: ctrl("kube-system", "kube-proxy-", "DaemonSet"),
			actor: "system:serviceaccount:kube-system:daemon-set-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, chain: []string{"DaemonSet/kube-proxy"},
			initiator: admin, initChan: "kubectl", origin: n.originAPI, noFindings: system},
		{what: "coredns Deployment pod", match: ctrl("kube-system", "coredns-", "ReplicaSet"),
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain:     []string{"ReplicaSet/coredns-*", "Deployment/coredns"},
			initiator: admin, initChan: "kubectl", noFindings: system},
		// add-ons as their upstream manifests have them, applied by the
		// cluster admin as an installer would (scenarios.sh)
		{what: "flannel DaemonSet pod (kube-flannel.yml)", match: ctrl("kube-flannel", "kube-flannel-ds-", "DaemonSet"),
			actor: dsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain: []string{"DaemonSet/kube-flannel-ds"}, initiator: admin, initChan: "kubectl", origin: n.originAPI},
		{what: "metrics-server Deployment pod (components.yaml)", match: ctrl("kube-system", "metrics-server-", "ReplicaSet"),
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain:     []string{"ReplicaSet/metrics-server-*", "Deployment/metrics-server"},
			initiator: admin, initChan: "kubectl", origin: n.originAPI},
		// two teams' ordinary workloads
		{what: "team-a Deployment storefront (a person, kubectl)", match: ctrl("team-a", "storefront-", "ReplicaSet"), count: 2,
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain:     []string{"ReplicaSet/storefront-*", "Deployment/storefront"},
			initiator: dave, initChan: "kubectl", origin: n.originAPI},
		{what: "team-b Deployment orders (a CI service account)", match: ctrl("team-b", "orders-", "ReplicaSet"),
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain:     []string{"ReplicaSet/orders-*", "Deployment/orders"},
			initiator: ci, origin: n.originAPI},
		{what: "alice's lookalike kube-proxy-x7b2q (bare, runs)", match: named("kube-system", "kube-proxy-x7b2q"),
			actor: alice, actorKind: "user", channel: "kubectl", onNode: true, ran: true,
			origin: n.originAPI, findings: []string{"PT-0001", "PT-0002"}},
		{what: "alice's lookalike kube-proxy-m4k9z (DaemonSet labels: adopted and deleted)", match: named("kube-system", "kube-proxy-m4k9z"),
			actor: alice, actorKind: "user", channel: "kubectl", findings: []string{"PT-0001", "PT-0002", "PT-0005"}},
		{what: "Deployment web's pods", match: ctrl("apps", "web-", "ReplicaSet"), count: 2,
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true,
			chain:     []string{"ReplicaSet/web-*", "Deployment/web"},
			initiator: alice, initChan: "kubectl", noFindings: []string{"PT-0001", "PT-0002"}},
		{what: "Job migrate's pod", match: ctrl("apps", "migrate-", "Job"),
			actor: "system:serviceaccount:kube-system:job-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, chain: []string{"Job/migrate"}, initiator: alice, initChan: "kubectl"},
		{what: "CronJob report's pod", match: ctrl("apps", "report-", "Job"),
			actor: "system:serviceaccount:kube-system:job-controller", actorKind: "controller", channel: "controller",
			onNode: true, ran: true, chain: []string{"Job/report-*", "CronJob/report"}, initiator: alice, initChan: "kubectl"},
		// one record: the mirror pod joined with the sandbox the runtime runs
		// under the config hash; none under the hash alone
		{what: "static pod static-web (mirror pod and sandbox in one record)",
			match: or(named("default", "static-web-"+node), named("default", "static-web"), withUID(st.uid, st.hash)),
			actor: "system:node:" + node, actorKind: "node", channel: "kubelet", onNode: true, ran: true,
			origin: n.originStatic, findings: []string{"PT-0032"}, noFindings: []string{"PT-0033", ruleNodeOnly},
			extra: func(res *result, id string, r *record) {
				res.check(r.uid() != st.hash || st.hash == "", "%s: k8s.pod.uid=%q is not the config hash %q", id, r.uid(), st.hash)
			}},
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
		{what: "image by tag", match: named("apps", "img-tag"), actor: alice, onNode: true, ran: true},
		{what: "image by digest", match: named("apps", "img-digest"), actor: alice, onNode: true, ran: true},
		{what: "kubectl --field-manager=helm with Helm labels", match: named("apps", "chart-kubectl"),
			actor: bot, actorKind: "user", channel: "kubectl", fieldMgr: "helm", onNode: true, ran: true},
		{what: "Helm client (user agent Helm/3, fieldManager=helm)", match: named("apps", "chart-helm"),
			actor: bot, channel: "helm", fieldMgr: "helm", onNode: true, ran: true},
		{what: "Argo CD client and labels", match: named("apps", "guestbook"),
			actor: bot, channel: "argocd", onNode: true, ran: true},
		// the image was imported into containerd before the agent ran: no pull
		// line; the second pod finds it "already present" too
		{what: "image imported before (no pull), first pod", match: named("apps", "preloaded-1"),
			actor: alice, actorKind: "user", channel: "kubectl", onNode: true, ran: true, origin: n.originAPI},
		{what: "image imported before (no pull), second pod", match: named("apps", "preloaded-2"),
			actor: alice, actorKind: "user", channel: "kubectl", onNode: true, ran: true, origin: n.originAPI},
		// the actor is who authenticated; the impersonated identity has attributes of its own
		{what: "erin impersonating service account apps/builder", match: named("apps", "imp-sa"),
			actor: erin, actorKind: "user", group: "sre", channel: "kubectl", onNode: true, ran: true,
			attrs: map[string]string{"podtrail.impersonated.user.name": "system:serviceaccount:apps:builder",
				"podtrail.impersonated.kind": n.actorSA, "podtrail.impersonated.service_account": "apps/builder"},
			findings: []string{ruleImpersonation}},
		{what: "erin impersonating user carol@example.com", match: named("apps", "imp-user"),
			actor: erin, actorKind: "user", group: "sre", channel: "kubectl", onNode: true, ran: true,
			attrs:    map[string]string{"podtrail.impersonated.user.name": carol, "podtrail.impersonated.kind": n.actorUser},
			findings: []string{ruleImpersonation}},
		// big-env: see checkOversize
		{what: "pod whose create event is over 2 MiB", match: named("apps", "big-env"), actor: alice,
			extra: func(res *result, id string, r *record) {
				if n.oversize != "" && r.partial(n.oversize) {
					res.check(len(n.oversizeRule) > 0 && hasAny(r.findings, n.oversizeRule),
						"%s: partial=%s with a finding of an oversize rule %v (findings %v)", id, n.oversize, n.oversizeRule, r.findings)
					return
				}
				res.check(r.str("podtrail.partial") == "" && r.str("podtrail.sandbox.id") != "" && containerIDs(r),
					"%s: a whole record (partial=%q sandbox=%q containers %v), or partial=oversize with a finding (the code names no oversize partial reason: %q)",
					id, r.str("podtrail.partial"), short(r.str("podtrail.sandbox.id")), r.list("podtrail.pod.containers"), n.oversize)
				res.check(r.str("k8s.node.name") == node && r.str("podtrail.channel") == "kubectl",
					"%s: k8s.node.name=%q podtrail.channel=%q", id, r.str("k8s.node.name"), r.str("podtrail.channel"))
			}},
	}
}

// bypass is the pod sandbox the scenario ran through the CRI, not the API.
type bypass struct{ namespace, name, uid, sandbox, container string }

func wantsPhase2(node string, n names, old map[string]bool, bp bypass) []want {
	isNew := func(r *record) bool { return r.uid() != "" && !old[r.uid()] }
	ws := []want{
		{what: "phase 2: pod created after the restart", match: named("apps", "after-restart"),
			actor: alice, actorKind: "user", channel: "kubectl", onNode: true, ran: true, origin: n.originAPI},
		{what: "phase 2: Deployment web's replacement pod", match: and(prefixed("apps", "web-", "ReplicaSet"), isNew),
			actor: rsc, actorKind: "controller", channel: "controller", onNode: true, ran: true, origin: n.originAPI},
	}
	if bp.uid != "" {
		ws = append(ws, want{what: "phase 2: pod sandbox run through the CRI, not the API (bypass)", match: withUID(bp.uid),
			onNode: true, ran: bp.container != "", origin: n.originNode, findings: []string{ruleNodeOnly},
			extra: func(res *result, id string, r *record) {
				res.check(r.str("podtrail.sandbox.id") == bp.sandbox, "%s: podtrail.sandbox.id=%q, want %q", id,
					short(r.str("podtrail.sandbox.id")), short(bp.sandbox))
			}})
	}
	return ws
}

// ---- checking ---------------------------------------------------------------------

type result struct{ pass, fail int }

func (res *result) check(ok bool, format string, a ...any) {
	if ok {
		res.pass++
		fmt.Printf("ok    %s\n", fmt.Sprintf(format, a...))
	} else {
		res.fail++
		fmt.Printf("FAIL  %s\n", fmt.Sprintf(format, a...))
	}
}

func section(s string) { fmt.Printf("-- %s\n", s) }

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

func hasAny(l, some []string) bool {
	for _, s := range some {
		if has(l, s) {
			return true
		}
	}
	return false
}

func containerIDs(r *record) bool {
	cs := r.containers()
	for _, c := range cs {
		if id, _ := c["id"].(string); id == "" {
			return false
		}
	}
	return len(cs) > 0
}

func matching(recs []*record, f func(*record) bool) []*record {
	var got []*record
	for _, r := range recs {
		if f(r) {
			got = append(got, r)
		}
	}
	return got
}

func checkWant(res *result, w want, recs []*record, node string) {
	got := matching(recs, w.match)
	n := max(w.count, 1)
	names := []string{}
	for _, r := range got {
		names = append(names, r.key()+" uid="+r.uid())
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
		if w.group != "" {
			res.check(has(r.strs("podtrail.actor.groups"), w.group), "%s: podtrail.actor.groups %v lists %q", id, r.strs("podtrail.actor.groups"), w.group)
		}
		for _, k := range sortedKeys(w.attrs) {
			eq(k, w.attrs[k])
		}
		if w.onNode {
			eq("k8s.node.name", node)
		}
		if w.ran {
			res.check(r.str("podtrail.sandbox.id") != "", "%s: podtrail.sandbox.id=%q set", id, short(r.str("podtrail.sandbox.id")))
			ids := []string{}
			for _, c := range r.containers() {
				cid, _ := c["id"].(string)
				ids = append(ids, short(cid))
			}
			res.check(containerIDs(r), "%s: container ids %v", id, ids)
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
		if w.extra != nil {
			w.extra(res, id, r)
		}
	}
}

// complete reports whether every expectation and every listed pod has its
// records (a pod by its uid, or by its name when the record is partial for
// an oversize event, which may not carry the uid).
func complete(recs []*record, ws []want, pods []apiPod) bool {
	byUID, byName := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		byUID[r.uid()] = true
		byName[r.key()] = true
	}
	for _, p := range pods {
		if !byUID[p.Metadata.UID] && !byName[p.key()] {
			return false
		}
	}
	for _, w := range ws {
		if len(matching(recs, w.match)) < max(w.count, 1) {
			return false
		}
	}
	return true
}

// emptyField finds a field the record's one-line body prints empty
// ("FORBIDDEN for  () via", "node= "), "" when there is none.
var emptyFieldRe = regexp.MustCompile(`  |\(\)|=( |,|$)| via$|/ |/$|/\)`)

func emptyField(body string) string {
	if loc := emptyFieldRe.FindStringIndex(body); loc != nil {
		from, to := max(loc[0]-20, 0), min(loc[1]+20, len(body))
		return body[from:to]
	}
	return ""
}

func printRecords(recs []*record) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].key() < recs[j].key() })
	for _, r := range recs {
		fmt.Printf("  %s\n", r.body)
		if len(r.findings) > 0 {
			fmt.Printf("      findings: %s\n", strings.Join(r.findings, " "))
		}
	}
}

func wait(label, path string, timeout time.Duration, done func([]*record) bool) {
	start := time.Now()
	var recs []*record
	for {
		var err error
		recs, err = readRecords(path)
		if err == nil && done(recs) {
			time.Sleep(2 * time.Second) // the findings of the last records may be a flush behind
			break
		}
		if time.Since(start) > timeout {
			fmt.Printf("%s: not all records after %.0f s\n", label, time.Since(start).Seconds())
			return
		}
		time.Sleep(time.Second)
	}
	recs, _ = readRecords(path)
	fmt.Printf("%s: records after %.0f s: %d\n", label, time.Since(start).Seconds(), len(recs))
}

func main() {
	var (
		waitPhase   = flag.String("wait", "", "1 or 2: wait for that phase's records, assert nothing")
		records1    = flag.String("records", "", "phase 1: OTLP JSON file of the gateway's records and findings")
		records2    = flag.String("records2", "", "phase 2: the same, from the gateway started on the running cluster")
		events1     = flag.String("events", "", "phase 1: OTLP JSON file of every event the gateway received")
		events2     = flag.String("events2", "", "phase 2: the same")
		pods1       = flag.String("pods", "", "kubectl get pods -A -o json at the end of phase 1")
		pods2       = flag.String("pods2", "", "the same at the end of phase 2")
		watchPath   = flag.String("watch", "", "kubectl get pods -A --watch --output-watch-events -o json over the run")
		cri1        = flag.String("cri", "", "cmd/cri containers at the end of phase 1")
		cri2        = flag.String("cri2", "", "the same at the end of phase 2")
		digestsPath = flag.String("digests", "", "lines of <repository> <manifest digest> the registry serves")
		auditLog    = flag.String("audit-log", "", "the apiserver's audit log")
		registryLog = flag.String("registry-log", "", "the registry's log")
		bypassPath  = flag.String("bypass", "", "namespace name uid sandbox [container] of the pod run through the CRI")
		imagesPath  = flag.String("images", "", "ctr -n k8s.io images ls at the end of phase 1")
		repo        = flag.String("repo", "..", "podtrail's repository (names of origins and attributes)")
		node        = flag.String("node", "", "the node's name")
		timeout     = flag.Duration("timeout", 2*time.Minute, "how long -wait waits for the records")
		records3    = flag.String("records3", "", "phase 3 (lineage.go): records and findings of the gateway with image_metadata and blind_spots")
		lineageImgs = flag.String("lineage-images", "", "phase 3: e2e/tools/lineage's images.txt")
		window3     = flag.Duration("window3", 20*time.Second, "phase 3: the gateway's correlation window")
	)
	flag.Parse()
	n := readNames(*repo)

	podsA, err := readPods(*pods1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	var st staticPod
	for _, p := range podsA {
		if _, ok := p.Metadata.Annotations["kubernetes.io/config.mirror"]; ok && strings.HasPrefix(p.Metadata.Name, "static-web") {
			st = staticPod{uid: p.Metadata.UID, hash: p.Metadata.Annotations["kubernetes.io/config.hash"]}
		}
	}
	listedA := map[string]bool{}
	for _, p := range podsA {
		listedA[p.Metadata.UID] = true
	}
	ws1 := wantsPhase1(*node, n, st, listedA)

	var bp bypass
	if b, err := os.ReadFile(*bypassPath); err == nil {
		f := strings.Fields(string(b))
		for len(f) < 5 {
			f = append(f, "")
		}
		bp = bypass{f[0], f[1], f[2], f[3], f[4]}
	}
	// phase 2's old pods: what the API listed and the runtime ran at the end of phase 1
	dumpA, errA := readCRI(*cri1)
	old, oldSandbox, oldName := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range podsA {
		old[p.Metadata.UID] = true
		oldName[p.key()] = true
		if h := p.Metadata.Annotations["kubernetes.io/config.hash"]; h != "" {
			old[h] = true
		}
	}
	for _, s := range dumpA.Sandboxes {
		old[s.PodUID] = true
		oldSandbox[s.ID] = true
		oldName[s.Namespace+"/"+s.PodName] = true
	}
	ws2 := wantsPhase2(*node, n, old, bp)

	switch *waitPhase {
	case "1":
		wait("phase 1", *records1, *timeout, func(recs []*record) bool { return complete(recs, ws1, podsA) })
		return
	case "2":
		wait("phase 2", *records2, *timeout, func(recs []*record) bool { return complete(recs, ws2, nil) })
		return
	case "3":
		imgs := readLineageImages(*lineageImgs)
		wait("phase 3", *records3, *timeout, func(recs []*record) bool { return phase3Complete(recs, imgs) })
		return
	}

	recsA, err := readRecords(*records1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	recsB, _ := readRecords(*records2)
	podsB, _ := readPods(*pods2)
	dumpB, errB := readCRI(*cri2)
	watched, errW := readWatch(*watchPath)
	digests := map[string]string{}
	if b, err := os.ReadFile(*digestsPath); err == nil {
		for _, l := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				digests[f[0]] = f[1]
			}
		}
	}

	fmt.Printf("names in podtrail's code: origin api=%q static=%q node_only=%q pre-existing=%q; partial oversize=%q, oversize rules %v\n",
		n.originAPI, n.originStatic, n.originNode, n.originPre, n.oversize, n.oversizeRule)
	fmt.Printf("phase 1 (gateway from the cluster's start): %d records\n", len(recsA))
	printRecords(recsA)
	fmt.Printf("phase 2 (gateway restarted with empty state on the running cluster): %d records\n", len(recsB))
	printRecords(recsB)

	res := &result{}

	section("the run's own inputs")
	res.check(errA == nil && len(dumpA.Containers) > 0, "the runtime's containers at the end of phase 1: %d (%v)", len(dumpA.Containers), errA)
	res.check(errB == nil && len(dumpB.Containers) > 0, "the runtime's containers at the end of phase 2: %d (%v)", len(dumpB.Containers), errB)
	unwatched := []string{}
	for _, p := range append(append([]apiPod{}, podsA...), podsB...) {
		if _, ok := watched[p.Metadata.UID]; !ok {
			unwatched = append(unwatched, p.key())
		}
	}
	res.check(errW == nil && len(watched) > 0 && len(unwatched) == 0, "the API watch saw %d pods, every listed one (missing %v, %v)", len(watched), unwatched, errW)
	// the registry and containerd agree on every image's digest
	byRepo := map[string]map[string]bool{}
	for _, c := range append(append([]criContainer{}, dumpA.Containers...), dumpB.Containers...) {
		repo, _, _ := strings.Cut(c.ImageRef, "@")
		if _, ok := digests[repo]; ok {
			if byRepo[repo] == nil {
				byRepo[repo] = map[string]bool{}
			}
			byRepo[repo][c.digest()] = true
		}
	}
	for _, repo := range sortedKeys(digests) {
		if ds, ok := byRepo[repo]; ok {
			res.check(len(ds) == 1 && ds[digests[repo]], "containerd resolves %s to the registry's %s (%v)", repo, short(digests[repo][7:]), sortedKeys(ds))
		}
	}
	res.check(bp.uid != "" && bp.sandbox != "" && bp.container != "", "the bypass debug-shell ran through the CRI: uid %s sandbox %s container %s (logs/cri-run.log)",
		bp.uid, short(bp.sandbox), short(bp.container))
	served, err := registryServed(*registryLog, "library/preloaded")
	res.check(err == nil && !served, "the imported image docker.io/library/preloaded was never pulled (registry log: served=%v %v)", served, err)
	bigSize, bigAudit, err := auditCreateSize(*auditLog, "apps", "big-env")
	res.check(err == nil && bigSize > 2<<20, "big-env's create event in the audit log: %d bytes > 2 MiB (%v)", bigSize, err)
	if bigAudit != "" {
		inputs := map[string]bool{}
		_ = readEvents(*events1, func(ev event) {
			if id, _ := ev.attrs["podtrail.audit.id"].(string); id == bigAudit {
				inputs[fmt.Sprint(ev.scope["podtrail.audit.input"])] = true
			}
		})
		res.check(inputs["webhook"] && inputs["file"], "big-env's create event (%d bytes) reached the gateway through the webhook and the file input %v",
			bigSize, sortedKeys(inputs))
	}

	section("phase 1: one record per pod")
	byUID := map[string]int{}
	for _, r := range recsA {
		if u := r.uid(); u != "" {
			byUID[u]++
		}
	}
	for _, p := range podsA {
		if byUID[p.Metadata.UID] == 0 && n.oversize != "" && len(matching(recsA, and(named(p.Metadata.Namespace, p.Metadata.Name),
			func(r *record) bool { return r.partial(n.oversize) }))) == 1 {
			res.check(true, "pod %s (uid %s): 1 record (partial=%s, by name)", p.key(), p.Metadata.UID, n.oversize)
			continue
		}
		res.check(byUID[p.Metadata.UID] == 1, "pod %s (uid %s): %d record(s), want 1", p.key(), p.Metadata.UID, byUID[p.Metadata.UID])
	}
	dups := []string{}
	for u, c := range byUID {
		if c > 1 {
			dups = append(dups, u)
		}
	}
	sort.Strings(dups)
	res.check(len(dups) == 0, "no pod uid in two records %v", dups)

	section("every record is of a pod the API listed, or a node-only record the scenarios made")
	listed := func(r *record) (bool, string) {
		u := r.uid()
		switch {
		case n.outcomeFailed != "" && r.str("podtrail.outcome") == n.outcomeFailed:
			return true, "a failed create (no pod)"
		case u != "" && bp.uid != "" && u == bp.uid:
			return true, "the scenario's bypass"
		case u != "":
			_, ok := watched[u]
			for _, p := range append(append([]apiPod{}, podsA...), podsB...) {
				ok = ok || p.Metadata.UID == u
			}
			return ok, "a uid the API never had"
		case r.str("podtrail.decision") == "forbid":
			return true, "a refused create (no pod)"
		case n.oversize != "" && r.partial(n.oversize):
			return true, "partial for an oversize event"
		}
		return false, "no uid"
	}
	// phase 2's records of pre-existing pods are judged below (not created), not here
	isOld := func(uid, key, sandbox string) bool {
		return old[uid] || oldSandbox[sandbox] || (uid == "" && oldName[key])
	}
	for phase, recs := range [][]*record{recsA, recsB} {
		bad, judged := 0, 0
		for _, r := range recs {
			if phase == 1 && isOld(r.uid(), r.key(), r.str("podtrail.sandbox.id")) {
				continue
			}
			judged++
			if ok, why := listed(r); !ok {
				bad++
				res.check(false, "phase %d: record %s uid=%q origin=%q: %s", phase+1, r.key(), r.uid(), r.str("podtrail.origin"), why)
			}
		}
		if bad == 0 {
			res.check(true, "phase %d: all %d records (but those of pre-existing pods, judged below) are of pods the API listed, refused creates or the scenario's bypass",
				phase+1, judged)
		}
	}
	for phase, recs := range [][]*record{recsA, recsB} {
		empty := []string{}
		for _, r := range recs {
			if s := emptyField(r.body); s != "" {
				empty = append(empty, fmt.Sprintf("%q", s))
			}
		}
		res.check(len(empty) == 0, "phase %d: no record body prints an empty field %v", phase+1, empty)
		// the one line a person reads says FORBIDDEN exactly when the authorizer forbade
		wrong := []string{}
		for _, r := range recs {
			if strings.Contains(r.body, " FORBIDDEN ") != (r.str("podtrail.decision") == "forbid") {
				wrong = append(wrong, fmt.Sprintf("%q (decision=%s)", r.body, r.str("podtrail.decision")))
			}
		}
		res.check(len(wrong) == 0, "phase %d: a body says FORBIDDEN only for a forbidden create %v", phase+1, wrong)
		// a create the API server answered with an error stored no pod:
		// forbidden by the authorizer, or failed (409 AlreadyExists, 422,
		// 5xx), never read as a creation
		failed := []string{}
		for _, r := range recs {
			code, _ := r.attrs["http.response.status_code"].(int64)
			if code == 0 || code >= 200 && code < 300 {
				continue
			}
			allowed, _ := r.attrs["podtrail.allowed"].(bool)
			outcome := r.str("podtrail.outcome")
			ok := !allowed && !strings.Contains(r.body, " created ") && r.str("podtrail.origin") != n.originStatic &&
				(outcome != "" && outcome == n.outcomeForbidden && r.str("podtrail.decision") == "forbid" && strings.Contains(r.body, " FORBIDDEN ") ||
					outcome != "" && outcome == n.outcomeFailed && strings.Contains(r.body, fmt.Sprintf(" CREATE FAILED (%d", code)))
			if !ok {
				failed = append(failed, fmt.Sprintf("%q (outcome=%q allowed=%v origin=%q)", r.body, outcome, allowed, r.str("podtrail.origin")))
			}
		}
		res.check(len(failed) == 0, "phase %d: no failed create read as a creation: every record of a create answered with an error says forbidden (outcome %q) or failed (outcome %q) %v",
			phase+1, n.outcomeForbidden, n.outcomeFailed, failed)
		// a delete joined by name to another pod of the same name (a
		// StatefulSet's replacement) says it was deleted before it was created
		before := []string{}
		for _, r := range recs {
			req, err1 := time.Parse(time.RFC3339Nano, r.str("podtrail.requested_at"))
			del, err2 := time.Parse(time.RFC3339Nano, r.str("podtrail.deleted_at"))
			if err1 == nil && err2 == nil && del.Before(req) {
				before = append(before, fmt.Sprintf("%s uid %s requested %s deleted %s", r.key(), r.uid(), r.str("podtrail.requested_at"), r.str("podtrail.deleted_at")))
			}
		}
		res.check(len(before) == 0, "phase %d: no record's pod deleted before it was requested %v", phase+1, before)
	}
	// phase 1's gateway read every audit event from the cluster's start (the
	// log file from its beginning): no pod was there before it
	pre := []string{}
	for _, r := range recsA {
		if n.originPre != "" && r.str("podtrail.origin") == n.originPre {
			pre = append(pre, fmt.Sprintf("%s uid %s deleted_at %q", r.key(), r.uid(), r.str("podtrail.deleted_at")))
		}
	}
	res.check(len(pre) == 0, "phase 1: no record reads as pre-existing (origin %q): the gateway saw the cluster from its start %v", n.originPre, pre)

	section("phase 1: scenarios")
	for _, w := range ws1 {
		checkWant(res, w, recsA, *node)
	}
	if st.hash != "" {
		under := matching(recsA, withUID(st.hash))
		res.check(len(under) == 0, "static pod: no record under the config hash %s (%d)", st.hash, len(under))
	} else {
		res.check(false, "static pod: the API lists a mirror pod static-web-%s with kubernetes.io/config.hash", *node)
	}

	section("legitimate add-on and team pods, and the scenarios that must fire")
	legitimate := checkLegitimate(res, recsA, listedA)
	firing, firingOf := scenariosFiring(recsA, ws1)
	f2, t2 := scenariosFiring(recsB, ws2)
	firing, firingOf = firing+f2, firingOf+t2
	fmt.Printf("legitimate add-on/team pods: %d findings >= medium (want 0); lookalike scenarios firing: %d/%d\n", legitimate, firing, firingOf)
	res.check(legitimate == 0, "legitimate add-on/team pods: %d findings of severity medium or above (want 0)", legitimate)
	res.check(firingOf > 0 && firing == firingOf, "lookalike scenarios firing: %d/%d", firing, firingOf)

	section("phase 1: every container's digest is the one containerd reports")
	images := readImages(*imagesPath)
	checkDigests(res, dumpA.Containers, recsA, images, func(c criContainer) bool { return c.PodUID != bp.uid })

	latency(recsA)

	section("phase 2: podtrail started on a running cluster")
	for _, w := range ws2 {
		checkWant(res, w, recsB, *node)
	}
	inA := map[string]bool{}
	for _, c := range dumpA.Containers {
		inA[c.ID] = true
	}
	// new containers of the pods the API listed; the bypass's image was pulled
	// before this agent read the node's logs: no source of podtrail's can know
	// its digest, which is shown, not asserted
	listedB := map[string]bool{}
	for _, p := range podsB {
		listedB[p.Metadata.UID] = true
	}
	checkDigests(res, dumpB.Containers, recsB, images, func(c criContainer) bool { return !inA[c.ID] && !old[c.PodUID] && listedB[c.PodUID] })
	for _, c := range dumpB.Containers {
		if bp.uid != "" && c.PodUID == bp.uid {
			for _, r := range matching(recsB, withUID(bp.uid)) {
				for _, e := range r.containers() {
					fmt.Printf("info  bypass container %s: digest %v (digest_source %v), containerd %q\n", c.what(), e["digest"], e["digest_source"], c.ImageRef)
				}
			}
		}
	}
	// the old pods' traffic reached the new gateway, so their records (or their absence) mean something
	nodeEv, auditEv := map[string]bool{}, map[string]bool{}
	_ = readEvents(*events2, func(ev event) {
		s := func(k string) string { v, _ := ev.attrs[k].(string); return v }
		key := s("k8s.namespace.name") + "/" + s("k8s.pod.name")
		if !isOld(s("k8s.pod.uid"), key, s("podtrail.node.sandbox_id")) {
			return
		}
		if strings.HasPrefix(ev.name, "podtrail.node.") {
			nodeEv[key] = true
		} else {
			auditEv[key] = true
		}
	})
	res.check(len(nodeEv) > 0 && len(auditEv) > 0, "phase 2: the new gateway got node events of %d and audit events of %d pre-existing pods",
		len(nodeEv), len(auditEv))
	oldRecs := 0
	perPod := map[string]int{}
	for _, r := range recsB {
		if !isOld(r.uid(), r.key(), r.str("podtrail.sandbox.id")) {
			continue
		}
		oldRecs++
		perPod[r.key()]++
		ok := n.originPre != "" && r.str("podtrail.origin") == n.originPre && !has(r.findings, ruleNodeOnly) &&
			!strings.Contains(r.body, "WITHOUT AN API CREATE")
		res.check(ok, "phase 2: pre-existing pod %s (uid %s) not reported as created: origin=%q missing=%v partial=%q findings=%v; want origin=%q (pre-existing; the code names it %q) or no record, no %s",
			r.key(), r.uid(), r.str("podtrail.origin"), r.strs("podtrail.missing"), r.str("podtrail.partial"), r.findings,
			or2(n.originPre, "preexisting"), n.originPre, ruleNodeOnly)
	}
	if oldRecs == 0 {
		res.check(true, "phase 2: no record for any of the %d pre-existing pods", len(podsA))
	}
	twice := []string{}
	for _, k := range sortedKeys(perPod) {
		if perPod[k] > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d)", k, perPod[k]))
		}
	}
	res.check(len(twice) == 0, "phase 2: no pre-existing pod has two records (%d records of %d pods) %v", oldRecs, len(perPod), twice)

	if *records3 != "" {
		checkPhase3(res, *records3, *lineageImgs, *node, *window3)
	}

	fmt.Printf("%d passed, %d failed\n", res.pass, res.fail)
	if res.fail > 0 {
		os.Exit(1)
	}
}

// checkDigests: every container the runtime ran (first attempt) is in a
// record, and each record that lists it has the digest containerd resolved
// its image to, and says where the digest came from. For an image of which
// the CRI knows no repo digest (imported with ctr: the CRI and the kubelet
// report the image id sha256:<config>), the record's image_id equal to that
// id is right, and so is a digest equal to the manifest digest containerd's
// image store has for its name (`ctr images ls`); a digest equal to the
// image id is not (digest holds manifest digests only: the inventory
// compares those), nor neither.
func checkDigests(res *result, cs []criContainer, recs []*record, images map[string]string, include func(criContainer) bool) {
	byID := map[string][]map[string]any{}
	owner := map[string]*record{}
	for _, r := range recs {
		for _, c := range r.containers() {
			if id, _ := c["id"].(string); id != "" {
				byID[id] = append(byID[id], c)
				owner[id] = r
			}
		}
	}
	for _, c := range cs {
		if !include(c) || c.Attempt > 0 {
			continue
		}
		entries := byID[c.ID]
		if len(entries) == 0 {
			res.check(false, "container %s (%s, %s) is in no record", c.what(), c.State, c.Image)
			continue
		}
		for _, e := range entries {
			d, _ := e["digest"].(string)
			id, _ := e["image_id"].(string)
			src, _ := e["digest_source"].(string)
			if d == "" && id == "" { // told after the record went out: its update record
				for _, u := range owner[c.ID].updates {
					if u["id"] == c.ID || u["id"] == nil && u["name"] == e["name"] {
						d, _ = u["digest"].(string)
						id, _ = u["image_id"].(string)
						src, _ = u["digest_source"].(string)
						src += ", in an update record"
					}
				}
			}
			var ok bool
			var want string
			if rd := c.digest(); rd != "" {
				want = "digest " + rd
				ok = d == rd
			} else {
				// no repo digest: the image id, or the manifest digest of its name
				want = "image_id " + or2(c.imageID(), "(none)")
				ok = id != "" && id == c.imageID() && (d == "" || d == images[c.Image])
				if m := images[c.Image]; m != "" {
					want += " or digest " + m + " (ctr images ls)"
					ok = ok || d == m && (id == "" || id == c.imageID())
				}
			}
			res.check(ok && src != "", "container %s of %s: digest %q image_id %q (digest_source %q), containerd (%s): %s",
				c.what(), owner[c.ID].key(), d, id, src, or2(c.ImageRef, c.Image), want)
		}
	}
}

// latency prints how long after its last container started each record
// went out (the wait for digests is part of it), p50 and p99, for all
// records and for those whose digest came from the kubelet's status patch.
func latency(recs []*record) {
	var all, status []float64
	for _, r := range recs {
		var last time.Time
		fromStatus := false
		for _, c := range r.containers() {
			s, _ := c["started_at"].(string)
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.After(last) {
				last = t
			}
			src, _ := c["digest_source"].(string)
			fromStatus = fromStatus || strings.Contains(src, "status")
		}
		if last.IsZero() || r.observed.Unix() <= 0 {
			continue
		}
		d := r.observed.Sub(last).Seconds()
		all = append(all, d)
		if fromStatus {
			status = append(status, d)
		}
	}
	pct := func(v []float64, p float64) float64 {
		sort.Float64s(v)
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	for _, l := range []struct {
		what string
		v    []float64
	}{{"all records", all}, {"records with a digest from the kubelet's status", status}} {
		if len(l.v) > 0 {
			fmt.Printf("info  record out after its last container started, %s: p50 %.2f s, p99 %.2f s, max %.2f s (%d records)\n",
				l.what, pct(l.v, 0.5), pct(l.v, 0.99), pct(l.v, 1), len(l.v))
		}
	}
}

func or2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// legitimateWorkloads are the pods of the add-ons deployed as their upstream
// manifests deploy them and of the two teams' ordinary workloads (scenarios.sh):
// the default rules with the shipped inventory must raise nothing of
// severity medium or above on them.
var legitimateWorkloads = []struct{ what, ns, prefix, ownerKind string }{
	{"kube-proxy DaemonSet (kubeadm)", "kube-system", "kube-proxy-", "DaemonSet"},
	{"coredns Deployment (kubeadm)", "kube-system", "coredns-", "ReplicaSet"},
	{"flannel DaemonSet (kube-flannel.yml)", "kube-flannel", "kube-flannel-ds-", "DaemonSet"},
	{"metrics-server Deployment (components.yaml)", "kube-system", "metrics-server-", "ReplicaSet"},
	{"team-a Deployment storefront", "team-a", "storefront-", "ReplicaSet"},
	{"team-b Deployment orders (CI)", "team-b", "orders-", "ReplicaSet"},
}

var severityRank = map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// checkLegitimate prints every finding of severity medium or above (or of a
// severity it does not know) on the legitimate pods' records and returns
// their number; each workload must have records.
func checkLegitimate(res *result, recs []*record, listed map[string]bool) int {
	n := 0
	for _, l := range legitimateWorkloads {
		got := matching(recs, and(prefixed(l.ns, l.prefix, l.ownerKind), func(r *record) bool { return listed[r.uid()] }))
		res.check(len(got) > 0, "legitimate %s: %d record(s)", l.what, len(got))
		for _, r := range got {
			for _, f := range r.findings {
				sev := r.severity[f]
				if rank, ok := severityRank[strings.ToLower(sev)]; ok && rank < severityRank["medium"] {
					continue
				}
				n++
				fmt.Printf("finding on legitimate %s: %s %s (severity %q), user.name=%q actor.kind=%q sa=%q images=%v labels=%v\n",
					l.what, r.key(), f, sev, r.str("user.name"), r.str("podtrail.actor.kind"), r.attrs["podtrail.pod.service_account"],
					r.attrs["podtrail.pod.images"], r.attrs["podtrail.pod.labels"])
			}
		}
	}
	return n
}

// scenariosFiring counts the scenarios that expect findings whose records
// all have every one of them, printing those that do not.
func scenariosFiring(recs []*record, ws []want) (firing, of int) {
	for _, w := range ws {
		if len(w.findings) == 0 {
			continue
		}
		of++
		got := matching(recs, w.match)
		ok := len(got) > 0
		for _, r := range got {
			for _, f := range w.findings {
				ok = ok && has(r.findings, f)
			}
		}
		if ok {
			firing++
		} else {
			fmt.Printf("scenario not firing: %s: want %v on %d record(s)\n", w.what, w.findings, len(got))
		}
	}
	return firing, of
}
