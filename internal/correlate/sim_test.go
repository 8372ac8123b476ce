// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// This file builds the events of one pod's life as a v1.33 apiserver and a
// containerd node log them, for scenario tests that need what the demo does
// not have (images already on the node, kubelet status patches, static
// pods, pods older than podtrail).

// t0 is when the scenarios' pods are created (event time).
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// sim feeds a correlator, advancing the processing clock, and keeps what it
// emitted with the processing time of each.
type sim struct {
	t   *testing.T
	c   *Correlator
	now time.Time
	out []emitted
}

type emitted struct {
	rec *podrecord.Record
	at  time.Time // processing time
}

func newSim(t *testing.T, cfg Config) *sim {
	return &sim{t: t, c: New(cfg), now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
}

func (s *sim) keep(recs []*podrecord.Record) {
	for _, r := range recs {
		s.out = append(s.out, emitted{r, s.now})
	}
}

// audit feeds an audit event given as JSON.
func (s *sim) audit(js string) {
	s.t.Helper()
	ev, err := audit.Decode([]byte(js))
	if err != nil {
		s.t.Fatalf("%v: %s", err, js)
	}
	s.keep(s.c.AddAudit(ev, s.now))
}

func (s *sim) node(evs ...noderuntime.Event) {
	for i := range evs {
		s.keep(s.c.AddNode(&evs[i], s.now))
	}
}

// parse feeds node log lines through the node runtime parser.
func (s *sim) parse(lines ...string) {
	s.t.Helper()
	p := noderuntime.NewParser(noderuntime.Options{Reference: t0})
	for _, l := range lines {
		evs, err := p.ParseAll([]byte(l), nil)
		if err != nil {
			s.t.Fatalf("%v: %s", err, l)
		}
		s.node(evs...)
	}
}

// wait advances the processing clock by d, expiring every 100 ms as the
// processor's loop does (every 250 ms).
func (s *sim) wait(d time.Duration) {
	for end := s.now.Add(d); s.now.Before(end); {
		s.now = s.now.Add(min(100*time.Millisecond, end.Sub(s.now)))
		s.keep(s.c.Expire(s.now))
	}
}

// records returns what was emitted for ns/name (records and updates).
func (s *sim) records(ns, name string) []emitted {
	var out []emitted
	for _, e := range s.out {
		if e.rec.Namespace == ns && e.rec.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// one returns the one record (not update) emitted for ns/name.
func (s *sim) one(ns, name string) emitted {
	s.t.Helper()
	var got []emitted
	for _, e := range s.records(ns, name) {
		if e.rec.Update == "" {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		s.t.Fatalf("%s/%s: %d records, want 1:\n%s", ns, name, len(got), dump(s.out))
	}
	return got[0]
}

func dump(es []emitted) string {
	var b strings.Builder
	for _, e := range es {
		j, _ := json.Marshal(e.rec)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ctr is a container of a pod spec: name and image.
type ctr struct{ name, image string }

// pod describes a pod for the event builders.
type pod struct {
	ns, name, uid string
	node          string
	ctrs          []ctr
	annotations   map[string]string
	owner         map[string]any // an ownerReference
}

func (p pod) spec() map[string]any {
	var cs []map[string]any
	for _, c := range p.ctrs {
		cs = append(cs, map[string]any{"name": c.name, "image": c.image})
	}
	spec := map[string]any{"containers": cs}
	if p.node != "" {
		spec["nodeName"] = p.node
	}
	return spec
}

func (p pod) meta() map[string]any {
	m := map[string]any{"name": p.name, "namespace": p.ns, "uid": p.uid, "creationTimestamp": ts(t0)}
	if p.annotations != nil {
		m["annotations"] = p.annotations
	}
	if p.owner != nil {
		m["ownerReferences"] = []any{p.owner}
	}
	return m
}

// event is an audit event's common part.
func event(id, level, verb, uri string, user map[string]any, ref map[string]any, code int, at time.Time) map[string]any {
	return map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": id, "stage": "ResponseComplete",
		"requestURI": uri, "verb": verb, "user": user, "sourceIPs": []string{"10.0.0.5"},
		"userAgent": "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0", "objectRef": ref,
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": code},
		"requestReceivedTimestamp": ts(at), "stageTimestamp": ts(at.Add(8 * time.Millisecond)),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
	}
}

func person(name string) map[string]any {
	return map[string]any{"username": name, "groups": []string{"system:authenticated"}}
}

func nodeUser(node string) map[string]any {
	return map[string]any{"username": "system:node:" + node, "groups": []string{"system:nodes", "system:authenticated"}}
}

// create is the RequestResponse ResponseComplete event of p's create by user.
func (p pod) create(id string, user map[string]any, at time.Time) string {
	ev := event(id, "RequestResponse", "create", "/api/v1/namespaces/"+p.ns+"/pods?fieldManager=kubectl-create", user,
		map[string]any{"resource": "pods", "namespace": p.ns, "name": p.name, "apiVersion": "v1"}, 201, at)
	ev["requestObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": p.name, "namespace": p.ns}, "spec": p.spec()}
	ev["responseObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": p.meta(), "spec": p.spec()}
	return js(ev)
}

// binding is the scheduler's pods/binding of p to node.
func (p pod) binding(id, node string, at time.Time) string {
	ev := event(id, "Request", "create", "/api/v1/namespaces/"+p.ns+"/pods/"+p.name+"/binding", map[string]any{"username": "system:kube-scheduler"},
		map[string]any{"resource": "pods", "namespace": p.ns, "name": p.name, "apiVersion": "v1", "subresource": "binding"}, 201, at)
	ev["userAgent"] = "kube-scheduler/v1.33.13 (linux/amd64) kubernetes/8adc0f0/scheduler"
	ev["requestObject"] = map[string]any{"kind": "Binding", "apiVersion": "v1", "metadata": map[string]any{"name": p.name, "namespace": p.ns, "uid": p.uid},
		"target": map[string]any{"kind": "Node", "name": node}}
	return js(ev)
}

// status is one container status as the kubelet reports it.
type status struct {
	name, image, imageID, id string
	started                  time.Time // zero: waiting
}

// statusPatch is the kubelet's pods/status patch of p at level (Request:
// the strategic merge patch, with the uid precondition and the whole
// containerStatuses list; RequestResponse: the stored pod too).
func (p pod) statusPatch(id, level, node string, at time.Time, sts ...status) string {
	var cs []map[string]any
	for _, s := range sts {
		st := map[string]any{"waiting": map[string]any{"reason": "ContainerCreating"}}
		if !s.started.IsZero() {
			st = map[string]any{"running": map[string]any{"startedAt": s.started.UTC().Format(time.RFC3339)}}
		}
		c := map[string]any{"name": s.name, "image": s.image, "imageID": s.imageID, "lastState": map[string]any{},
			"ready": !s.started.IsZero(), "restartCount": 0, "started": !s.started.IsZero(), "state": st}
		if s.id != "" {
			c["containerID"] = "containerd://" + s.id
		}
		cs = append(cs, c)
	}
	ev := event(id, level, "patch", "/api/v1/namespaces/"+p.ns+"/pods/"+p.name+"/status", nodeUser(node),
		map[string]any{"resource": "pods", "namespace": p.ns, "name": p.name, "apiVersion": "v1", "subresource": "status"}, 200, at)
	ev["userAgent"] = "kubelet/v1.33.13 (linux/amd64) kubernetes/8adc0f0"
	if level != "Metadata" {
		ev["requestObject"] = map[string]any{"metadata": map[string]any{"uid": p.uid},
			"status": map[string]any{"$setElementOrder/conditions": []any{map[string]any{"type": "Ready"}}, "containerStatuses": cs, "phase": "Running"}}
	}
	if level == "RequestResponse" {
		ev["responseObject"] = map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": p.meta(), "spec": p.spec(),
			"status": map[string]any{"phase": "Running", "containerStatuses": cs}}
	}
	return js(ev)
}

// deleteEv is a delete of p by user.
func (p pod) deleteEv(id string, user map[string]any, at time.Time) string {
	ev := event(id, "Metadata", "delete", "/api/v1/namespaces/"+p.ns+"/pods/"+p.name, user,
		map[string]any{"resource": "pods", "namespace": p.ns, "name": p.name, "apiVersion": "v1"}, 200, at)
	return js(ev)
}

// runs returns containerd's events for p on node: sandbox requested and
// ready, then each container created and started, ids from the sandbox id.
// uid is the CRI pod uid (a static pod's is its config hash).
func (p pod) runs(node, uid, sandbox string, at time.Time) []noderuntime.Event {
	base := noderuntime.Event{Source: noderuntime.SourceContainerd, Node: node, RuntimeVersion: "1.7.24"}
	ev := func(k noderuntime.Kind, d time.Duration) noderuntime.Event {
		e := base
		e.Kind, e.Time = k, at.Add(d)
		return e
	}
	req := ev(noderuntime.KindSandboxRequested, 0)
	req.PodNamespace, req.PodName, req.PodUID = p.ns, p.name, uid
	ready := req
	ready.Kind, ready.Time, ready.SandboxID = noderuntime.KindSandboxReady, at.Add(300*time.Millisecond), sandbox
	out := []noderuntime.Event{req, ready}
	for i, c := range p.ctrs {
		id := ctrID(sandbox, i)
		cr := ev(noderuntime.KindContainerCreated, time.Duration(400+100*i)*time.Millisecond)
		cr.SandboxID, cr.ContainerID, cr.ContainerName = sandbox, id, c.name
		st := ev(noderuntime.KindContainerStarted, time.Duration(450+100*i)*time.Millisecond)
		st.ContainerID = id
		out = append(out, cr, st)
	}
	return out
}

func ctrID(sandbox string, i int) string { return strings.Repeat(string(rune('a'+i)), 8) + sandbox[8:] }

// pulled is containerd 1.7's pull of image with its repo digest on node.
func pulled(node, image, repoDigest string, at time.Time) noderuntime.Event {
	return noderuntime.Event{Kind: noderuntime.KindImagePulled, Source: noderuntime.SourceContainerd, Node: node, Time: at,
		Image: image, ImageID: "sha256:" + strings.Repeat("c", 64), RepoDigest: repoDigest}
}

func sha(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func sandboxID(c byte) string { return strings.Repeat(string(c), 64) }
