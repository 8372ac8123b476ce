// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// podtrail started on a running node, then the kubelet restarted: the lines
// below are what a v1.33 kubelet and containerd 1.6 wrote then (make e2e,
// phase 2), under a journald prefix. The kubelet names every pod it runs
// again: by uid alone (PLEG "container finished"), by name alone ("SyncLoop
// ADD" source="api" or "file"), by both (PLEG ContainerStarted); it tries
// to create the static pod's mirror pod, which is there (409). A pod
// sandbox run through the CRI, not the API (debug-shell), is the bypass.
const (
	webUID     = "2a2eda24-794f-4b3d-bdb7-4b1c43f327da"
	restartUID = "5c8e6a53-7d0b-4a65-9f0e-0d6c1e8a9b21"
	e2eHash    = "6a599432adb6d81f53a397256da6cfc5"
	e2eMirror  = "1081a064-8a25-497f-8b01-5c59d4906412"
	bypassUID  = "856d7724-f66a-4876-99db-b902713f7112"
	bypassSB   = "394e46f236da90a842ceea269be1bd2412eb283bbd57da2901190e4b6c08ff8a"
)

func kubeletRestartLines() []string {
	k := "Dec  6 20:27:12 e2e-node-1 kubelet[15895]: "
	return []string{
		k + `I1206 20:27:12.795219   15895 generic.go:358] "Generic (PLEG): container finished" podID="` + webUID + `" containerID="27907e59df6ccd4e01eb5ffafad9d1ca013cf5ea9c80479cc990946e202d8da6" exitCode=137`,
		k + `I1206 20:27:12.956207   15895 kubelet.go:2522] "SyncLoop ADD" source="file" pods=["default/static-web-e2e-node-1"]`,
		k + `I1206 20:27:12.957773   15895 kubelet.go:3309] "Creating a mirror pod for static pod" pod="default/static-web-e2e-node-1"`,
		k + `I1206 20:27:12.958177   15895 kubelet.go:2554] "SyncLoop (PLEG): event for pod" pod="default/static-web-e2e-node-1" event={"ID":"` + e2eHash + `","Type":"ContainerStarted","Data":"e95ff4f2c5b420b5f0763a60d155f1877c92deb082e58b026cc81a089f33d3c2"}`,
		k + `E1206 20:27:12.966987   15895 kubelet.go:3311] "Failed creating a mirror pod" err="pods \"static-web-e2e-node-1\" already exists" pod="default/static-web-e2e-node-1"`,
		"Dec  6 20:27:13 e2e-node-1 kubelet[15895]: " + `I1206 20:27:13.628700   15895 kubelet.go:2522] "SyncLoop ADD" source="api" pods=["apps/web-dbcd7b888-ckjc2","apps/chart-helm","default/static-web-e2e-node-1","apps/after-restart"]`,
		"Dec  6 20:27:14 e2e-node-1 kubelet[15895]: " + `I1206 20:27:14.907947   15895 kubelet.go:2554] "SyncLoop (PLEG): event for pod" pod="apps/web-dbcd7b888-ckjc2" event={"ID":"` + webUID + `","Type":"ContainerStarted","Data":"7fb1ccf37d981bb31cc10b09c4a6eb615abc8f7752544bb2c68d679ac8c94561"}`,
	}
}

func bypassLines() []string {
	c := "Dec  6 20:27:13 e2e-node-1 containerd[15011]: "
	return []string{
		c + `time="2026-12-06T20:27:13.054655141Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:debug-shell,Uid:` + bypassUID + `,Namespace:kube-system,Attempt:0,}"`,
		c + `time="2026-12-06T20:27:13.308906561Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:debug-shell,Uid:` + bypassUID + `,Namespace:kube-system,Attempt:0,} returns sandbox id \"` + bypassSB + `\""`,
		c + `time="2026-12-06T20:27:13.311481315Z" level=info msg="CreateContainer within sandbox \"` + bypassSB + `\" for container &ContainerMetadata{Name:shell,Attempt:0,}"`,
		c + `time="2026-12-06T20:27:13.327408132Z" level=info msg="CreateContainer within sandbox \"` + bypassSB + `\" for &ContainerMetadata{Name:shell,Attempt:0,} returns container id \"cd38dd0a37cd5319853a1e9816c5d29563f7db7e489d6c78d67ba39fbf46194e\""`,
		c + `time="2026-12-06T20:27:13.527889225Z" level=info msg="StartContainer for \"cd38dd0a37cd5319853a1e9816c5d29563f7db7e489d6c78d67ba39fbf46194e\" returns successfully"`,
	}
}

func parseInputs(t *testing.T, lines []string) []input {
	t.Helper()
	p := noderuntime.NewParser(noderuntime.Options{Reference: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	var out []input
	for _, l := range lines {
		evs, err := p.ParseAll([]byte(l), nil)
		if err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for i := range evs {
			out = append(out, input{node: &evs[i]})
		}
	}
	return out
}

func decodeAll(t *testing.T, events ...string) []input {
	t.Helper()
	var out []input
	for _, js := range events {
		ev, err := audit.Decode([]byte(js))
		if err != nil {
			t.Fatalf("%v: %s", err, js)
		}
		out = append(out, input{audit: ev})
	}
	return out
}

var (
	e2eAt     = time.Date(2026, 12, 6, 20, 27, 12, 0, time.UTC)
	webOld    = pod{ns: "apps", name: "web-dbcd7b888-ckjc2", uid: webUID, ctrs: []ctr{{"nginx", "docker.io/library/nginx:1.27"}}}
	afterPod  = pod{ns: "apps", name: "after-restart", uid: restartUID, ctrs: []ctr{{"after-restart", "docker.io/library/nginx:1.27"}}}
	staticE2E = pod{ns: "default", name: "static-web-e2e-node-1", uid: e2eMirror, node: "e2e-node-1",
		ctrs:        []ctr{{"web", "docker.io/library/nginx:1.27"}},
		annotations: map[string]string{"kubernetes.io/config.hash": e2eHash, "kubernetes.io/config.mirror": e2eHash, "kubernetes.io/config.source": "file"},
		owner:       map[string]any{"apiVersion": "v1", "kind": "Node", "name": "e2e-node-1", "uid": "dbbd1fc7-2dde-4970-b930-5bd1eb60b6b7", "controller": true}}
)

// failedCreate is p's create answered with code (409 AlreadyExists, 422
// Invalid, ...) though the authorizer allowed it: a Status, no pod, as the
// apiserver logs it at RequestResponse.
func failedCreate(p pod, id string, user map[string]any, code int, reason, message string, at time.Time) string {
	meta := p.meta()
	meta["uid"] = p.uid
	ev := event(id, "RequestResponse", "create", "/api/v1/namespaces/"+p.ns+"/pods", user,
		map[string]any{"resource": "pods", "namespace": p.ns, "name": p.name, "uid": p.uid, "apiVersion": "v1"}, code, at)
	status := map[string]any{"metadata": map[string]any{}, "status": "Failure", "message": message, "reason": reason,
		"details": map[string]any{"name": p.name, "kind": "pods"}, "code": code}
	ev["responseStatus"] = status
	ev["requestObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": p.spec()}
	resp := map[string]any{"kind": "Status", "apiVersion": "v1"}
	for k, v := range status {
		resp[k] = v
	}
	ev["responseObject"] = resp
	return js(ev)
}

// TestKubeletRestart: every pod that ran before podtrail has at most one
// record, pre-existing, whichever way the kubelet named it and in whatever
// order the lines and the audit events came; the kubelet's lines alone
// (a uid in a PLEG line) make no record; the mirror pod's 409 makes none;
// the CRI-run sandbox is the one node_only record; the pod created after
// the restart is created.
func TestKubeletRestart(t *testing.T) {
	nodeIn := parseInputs(t, kubeletRestartLines())
	runtimeIn := parseInputs(t, bypassLines())
	at := e2eAt.Add(time.Second)
	auditIn := decodeAll(t,
		failedCreate(staticE2E, "m409-1", nodeUser("e2e-node-1"), 409, "AlreadyExists", `pods "static-web-e2e-node-1" already exists`, e2eAt),
		webOld.statusPatch("st-web", "Request", "e2e-node-1", at,
			status{"nginx", "docker.io/library/nginx:1.27", "docker.io/library/nginx@" + sha('1'), "7fb1ccf37d981bb31cc10b09c4a6eb615abc8f7752544bb2c68d679ac8c94561", at}),
		staticE2E.statusPatch("st-static", "Request", "e2e-node-1", at,
			status{"web", "docker.io/library/nginx:1.27", "docker.io/library/nginx@" + sha('1'), "e95ff4f2c5b420b5f0763a60d155f1877c92deb082e58b026cc81a089f33d3c2", e2eAt}),
		afterPod.create("c-after", person("alice@example.com"), at),
		afterPod.binding("b-after", "e2e-node-1", at),
	)
	// the same create again (webhook and file input): no second record
	auditIn = append(auditIn, decodeAll(t, failedCreate(staticE2E, "m409-1", nodeUser("e2e-node-1"), 409, "AlreadyExists",
		`pods "static-web-e2e-node-1" already exists`, e2eAt))...)
	afterRuns := func() []input {
		var out []input
		for _, ev := range afterPod.runs("e2e-node-1", restartUID, sandboxID('9'), at) {
			ev := ev
			out = append(out, input{node: &ev})
		}
		return out
	}()
	nodeAll := append(append(append([]input(nil), nodeIn...), runtimeIn...), afterRuns...)
	type got struct{ origin, uid, missing string }
	want := map[string]got{
		"apps/web-dbcd7b888-ckjc2":      {podrecord.OriginPreexisting, webUID, "audit"},
		"apps/chart-helm":               {podrecord.OriginPreexisting, "", "audit"},
		"default/static-web-e2e-node-1": {podrecord.OriginPreexisting, e2eMirror, "audit"},
		"kube-system/debug-shell":       {podrecord.OriginNodeOnly, bypassUID, "audit,digest,scheduler"},
		"apps/after-restart":            {podrecord.OriginAPI, restartUID, "digest"},
	}
	for _, tt := range []struct {
		name string
		in   []input
	}{
		{"as logged", interleave(0, auditIn, nodeAll)},
		{"audit first", append(append([]input(nil), auditIn...), nodeAll...)},
		{"node first", append(append([]input(nil), nodeAll...), auditIn...)},
		{"interleaved 1", interleave(1, auditIn, nodeIn, runtimeIn, afterRuns)},
		{"interleaved 2", interleave(2, auditIn, nodeIn, runtimeIn, afterRuns)},
		{"interleaved 3", interleave(3, auditIn, nodeIn, runtimeIn, afterRuns)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			recs := run(c, tt.in)
			seen := map[string]int{}
			for _, r := range recs {
				k := r.Namespace + "/" + r.Name
				seen[k]++
				w, ok := want[k]
				g := got{r.Origin, r.UID, strings.Join(r.Missing, ",")}
				if !ok || g != w {
					t.Errorf("%s: %+v, want %+v\n%s", k, g, w, js(r))
				}
				if r.Origin == podrecord.OriginPreexisting && (r.Allowed || r.Actor.Username != "" || r.Outcome() != "") {
					t.Errorf("%s: pre-existing, yet allowed %v actor %q outcome %q", k, r.Allowed, r.Actor.Username, r.Outcome())
				}
			}
			for k := range want {
				if seen[k] != 1 {
					t.Errorf("%s: %d records, want 1", k, seen[k])
				}
			}
			if r := find(recs, "kube-system", "debug-shell"); r != nil && (r.Sandbox.ID != bypassSB || len(r.Containers) != 1 || r.Containers[0].StartedAt.IsZero()) {
				t.Errorf("bypass: sandbox %q containers %+v", r.Sandbox.ID, r.Containers)
			}
			st := c.Stats()
			if st.MirrorExists != 2 || st.FailedCreates != 0 || st.Preexisting != 3 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func find(recs []*podrecord.Record, ns, name string) *podrecord.Record {
	for _, r := range recs {
		if r.Namespace == ns && r.Name == name {
			return r
		}
	}
	return nil
}

// TestKubeletLinesAlone: lines of the kubelet alone never read as a pod run
// without the API: a pod it names by uid alone, or by name and uid in a
// PLEG line, makes no record (it ran before podtrail); one it got from the
// API server ("SyncLoop ADD" source="api") is pre-existing; one from a file
// (a static pod) with no mirror pod is node_only, as a sandbox a runtime
// started with no API pod is.
func TestKubeletLinesAlone(t *testing.T) {
	k := "Dec  6 20:27:12 e2e-node-1 kubelet[15895]: "
	pleg := k + `I1206 20:27:12.795219   15895 generic.go:358] "Generic (PLEG): container finished" podID="` + webUID + `" containerID="27907e59df6ccd4e01eb5ffafad9d1ca013cf5ea9c80479cc990946e202d8da6" exitCode=137`
	started := k + `I1206 20:27:14.907947   15895 kubelet.go:2554] "SyncLoop (PLEG): event for pod" pod="apps/web-dbcd7b888-ckjc2" event={"ID":"` + webUID + `","Type":"ContainerStarted","Data":"7fb1ccf37d981bb31cc10b09c4a6eb615abc8f7752544bb2c68d679ac8c94561"}`
	noSandbox := k + `I1206 20:27:39.448873   15895 util.go:48] "No ready sandbox for pod can be found. Need to start a new one" pod="apps/web-dbcd7b888-ckjc2"`
	addAPI := k + `I1206 20:27:13.628700   15895 kubelet.go:2522] "SyncLoop ADD" source="api" pods=["apps/web-dbcd7b888-ckjc2"]`
	addFile := k + `I1206 20:27:12.956207   15895 kubelet.go:2522] "SyncLoop ADD" source="file" pods=["default/static-web-e2e-node-1"]`
	staticStarted := k + `I1206 20:27:12.958177   15895 kubelet.go:2554] "SyncLoop (PLEG): event for pod" pod="default/static-web-e2e-node-1" event={"ID":"` + e2eHash + `","Type":"ContainerStarted","Data":"e95ff4f2c5b420b5f0763a60d155f1877c92deb082e58b026cc81a089f33d3c2"}`
	for _, tt := range []struct {
		name   string
		lines  []string
		origin string // "": no record
	}{
		{"PLEG by uid", []string{pleg}, ""},
		{"PLEG by uid, by name and uid, a sandbox to start again", []string{pleg, started, noSandbox}, ""},
		{"SyncLoop ADD from the API server", []string{addAPI}, podrecord.OriginPreexisting},
		{"by uid, then the API server's ADD by name: one record", []string{pleg, addAPI, started}, podrecord.OriginPreexisting},
		{"the API server's ADD by name, then by uid", []string{addAPI, started, pleg}, podrecord.OriginPreexisting},
		{"a static pod from a file, no mirror pod", []string{addFile, staticStarted}, podrecord.OriginNodeOnly},
		{"a sandbox containerd started, no API pod", bypassLines(), podrecord.OriginNodeOnly},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultConfig())
			recs := run(c, parseInputs(t, tt.lines))
			if tt.origin == "" {
				if len(recs) != 0 || c.Stats().SeenRunning == 0 {
					t.Fatalf("%d records, SeenRunning %d: %s", len(recs), c.Stats().SeenRunning, js(recs))
				}
				return
			}
			if len(recs) != 1 || recs[0].Origin != tt.origin {
				t.Fatalf("want one %s record: %s", tt.origin, js(recs))
			}
			if tt.origin == podrecord.OriginPreexisting && (recs[0].UID != "" && recs[0].UID != webUID || strings.Join(recs[0].Missing, ",") != "audit") {
				t.Errorf("uid %q missing %v", recs[0].UID, recs[0].Missing)
			}
		})
	}
}

// TestFailedCreate: a create the authorizer allowed and the API server
// refused for another reason (409 AlreadyExists, 422 Invalid, 500) is one
// record of outcome failed, at once, that joins nothing: the pod of that
// name keeps its own record, the node's lines stay with it. It is no
// refusal for the actor's next create (DeniedBefore); a 403 is.
func TestFailedCreate(t *testing.T) {
	alice := person("alice@example.com")
	existing := pod{ns: "apps", name: "web", uid: "0d8c7b6a-5e4f-4a3b-9c2d-1e0f9a8b7c6d", ctrs: []ctr{{"web", "docker.io/library/nginx@" + sha('2')}}}
	sb := sandboxID('4')
	for _, code := range []int{409, 422, 500} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newSim(t, DefaultConfig())
			s.node(existing.runs("node-a", existing.uid, sb, t0)...)
			again := existing
			again.uid = ""
			reason := map[int]string{409: "AlreadyExists", 422: "Invalid", 500: "InternalError"}[code]
			ev := failedCreate(again, "f1", alice, code, reason, "refused", t0.Add(time.Second))
			s.audit(ev)
			s.audit(ev) // re-delivered
			if len(s.out) != 1 {
				t.Fatalf("%d records at once, want 1:\n%s", len(s.out), dump(s.out))
			}
			r := s.out[0].rec
			if r.Outcome() != podrecord.OutcomeFailed || r.Allowed || r.Decision != podrecord.DecisionAllow || r.Code != code ||
				r.Sandbox.ID != "" || len(r.Sources) != 1 || r.Join != "" || r.Origin != podrecord.OriginAPI {
				t.Errorf("failed create: %s", js(r))
			}
			s.audit(existing.create("c1", alice, t0))
			s.audit(existing.binding("b1", "node-a", t0))
			s.wait(40 * time.Second)
			r = s.records("apps", "web")[1].rec
			if r.Outcome() != podrecord.OutcomeCreated || r.Sandbox.ID != sb || len(r.DeniedBefore) != 0 || r.AuditID != "c1" {
				t.Errorf("the pod's record: %s", js(r))
			}
			if st := s.c.Stats(); st.FailedCreates != 1 || st.Duplicates != 1 || st.Emitted != 2 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("403 is a refusal", func(t *testing.T) {
		s := newSim(t, DefaultConfig())
		s.audit(failedCreate(existing, "f2", alice, 403, "Forbidden", "forbidden", t0))
		s.audit(existing.create("c2", alice, t0.Add(time.Second)))
		s.wait(40 * time.Second)
		if rs := s.records("apps", "web"); len(rs) != 2 || len(rs[1].rec.DeniedBefore) != 1 || rs[0].rec.Outcome() != podrecord.OutcomeFailed {
			t.Errorf("%s", dump(s.out))
		}
	})
}

// TestDeletedBeforeItsUID: a pre-existing pod the kubelet named by name
// ("SyncLoop ADD" source="api") and the API deleted goes out at the delete,
// known by its name alone; the kubelet's lines of its end name it by uid
// (PLEG "container finished"), and its status patch by both: still one
// record (make e2e, phase 2: the Deployment pod it deletes).
func TestDeletedBeforeItsUID(t *testing.T) {
	k := "Dec  6 20:51:12 e2e-node-1 kubelet[15895]: "
	add := k + `I1206 20:51:12.154000   15895 kubelet.go:2522] "SyncLoop ADD" source="api" pods=["apps/web-dbcd7b888-ckjc2"]`
	finished := k + `I1206 20:51:13.870000   15895 generic.go:358] "Generic (PLEG): container finished" podID="` + webUID + `" containerID="27907e59df6ccd4e01eb5ffafad9d1ca013cf5ea9c80479cc990946e202d8da6" exitCode=0`
	at := e2eAt.Add(2 * time.Second)
	del := webOld.deleteEv("d1", person("kubernetes-admin"), at)
	st := webOld.statusPatch("st1", "Request", "e2e-node-1", at.Add(time.Second),
		status{"nginx", "docker.io/library/nginx:1.27", "docker.io/library/nginx@" + sha('1'), "27907e59df6ccd4e01eb5ffafad9d1ca013cf5ea9c80479cc990946e202d8da6", at})
	in := append(parseInputs(t, []string{add}), decodeAll(t, del)...)
	in = append(in, parseInputs(t, []string{finished})...)
	in = append(in, decodeAll(t, st, webOld.deleteEv("d2", person("kubernetes-admin"), at.Add(2*time.Second)))...)
	c := New(DefaultConfig())
	recs := run(c, in)
	if len(recs) != 1 || recs[0].Origin != podrecord.OriginPreexisting || recs[0].DeletedAt.IsZero() {
		t.Fatalf("want one pre-existing record: %s", js(recs))
	}
	if st := c.Stats(); st.Preexisting != 1 || st.SeenRunning != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestBypassUnderAnOldName: a sandbox containerd runs under the name of a
// pod whose pre-existing record went out by its name alone is another pod,
// not a late line of the old one: node_only.
func TestBypassUnderAnOldName(t *testing.T) {
	k := "Dec  6 20:27:13 e2e-node-1 kubelet[15895]: "
	add := k + `I1206 20:27:13.628700   15895 kubelet.go:2522] "SyncLoop ADD" source="api" pods=["kube-system/kube-proxy-x7b2q"]`
	var lines []string
	for _, l := range bypassLines() {
		lines = append(lines, strings.ReplaceAll(l, "Name:debug-shell", "Name:kube-proxy-x7b2q"))
	}
	c := New(DefaultConfig())
	recs := run(c, parseInputs(t, []string{add}))
	recs = append(recs, run(c, parseInputs(t, lines))...)
	if len(recs) != 2 || recs[0].Origin != podrecord.OriginPreexisting || recs[1].Origin != podrecord.OriginNodeOnly ||
		recs[1].UID != bypassUID || recs[1].Sandbox.ID != bypassSB || len(recs[1].Containers) != 1 {
		t.Fatalf("want a pre-existing record, then the bypass: %s", js(recs))
	}
}
