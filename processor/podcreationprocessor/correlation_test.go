// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/noderuntime"
)

// auditLog is an audit event as the k8s_audit receiver emits it: the JSON
// body and the lifted attributes the processor filters on; extra adds
// attributes (podtrail.audit.partial).
func auditLog(t *testing.T, body string, extra map[string]string) plog.Logs {
	t.Helper()
	ev, err := audit.Decode([]byte(body))
	require.NoError(t, err, body)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(attr.EventAudit)
	lr.Body().SetStr(body)
	a := lr.Attributes()
	a.PutStr(attr.AuditID, ev.AuditID)
	a.PutStr(attr.AuditStage, ev.Stage)
	a.PutStr(attr.AuditVerb, ev.Verb)
	if ev.ObjectRef != nil {
		a.PutStr(attr.AuditResource, ev.ObjectRef.Resource)
		if ev.ObjectRef.Subresource != "" {
			a.PutStr(attr.AuditSubresource, ev.ObjectRef.Subresource)
		}
	}
	for k, v := range extra {
		a.PutStr(k, v)
	}
	return ld
}

// nodeLog is a node event as the node_runtime receiver emits it.
func nodeLog(ev noderuntime.Event) plog.Logs {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(attr.EventNodePrefix + string(ev.Kind))
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
	a := lr.Attributes()
	for k, v := range map[string]string{attr.NodeSource: string(ev.Source), attr.K8sNodeName: ev.Node, attr.K8sNamespaceName: ev.PodNamespace,
		attr.K8sPodName: ev.PodName, attr.K8sPodUID: ev.PodUID, attr.NodeSandboxID: ev.SandboxID, attr.ContainerID: ev.ContainerID,
		attr.ContainerName: ev.ContainerName} {
		if v != "" {
			a.PutStr(k, v)
		}
	}
	return ld
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var at0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func createEvent(id, ns, name, uid string, user map[string]any, image string) string {
	pod := map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": name, "namespace": ns, "uid": uid},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}
	return mustJSON(map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": id,
		"stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/" + ns + "/pods", "verb": "create", "user": user,
		"sourceIPs": []string{"10.0.0.5"}, "userAgent": "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
		"objectRef":      map[string]any{"resource": "pods", "namespace": ns, "name": name, "apiVersion": "v1"},
		"responseStatus": map[string]any{"code": 201}, "requestObject": pod, "responseObject": pod,
		"requestReceivedTimestamp": at0, "stageTimestamp": at0.Add(5 * time.Millisecond),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}})
}

func statusEvent(id, ns, name, uid, node, imageID string) string {
	return mustJSON(map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": id,
		"stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/" + ns + "/pods/" + name + "/status", "verb": "patch",
		"user":           map[string]any{"username": "system:node:" + node, "groups": []string{"system:nodes"}},
		"userAgent":      "kubelet/v1.33.13 (linux/amd64) kubernetes/8adc0f0",
		"objectRef":      map[string]any{"resource": "pods", "namespace": ns, "name": name, "apiVersion": "v1", "subresource": "status"},
		"responseStatus": map[string]any{"code": 200},
		"requestObject": map[string]any{"metadata": map[string]any{"uid": uid}, "status": map[string]any{"containerStatuses": []any{
			map[string]any{"name": "app", "image": "docker.io/library/nginx:1.27", "imageID": imageID, "containerID": "containerd://" + strings.Repeat("c", 64),
				"state": map[string]any{"running": map[string]any{"startedAt": "2026-11-24T10:00:02Z"}}}}}},
		"requestReceivedTimestamp": at0.Add(3 * time.Second), "stageTimestamp": at0.Add(3 * time.Second)})
}

// TestDigestUpdateRecord: a kubelet status patch with the digest of a pod
// whose record went out without it gives one podtrail.pod_creation.update
// log record: the pod's identity, the container's digest and its source;
// no finding, and it is not counted as a record.
func TestDigestUpdateRecord(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	p, sink := newTestProcessor(t, cfg, tel)
	ctx := context.Background()
	uid := "5d0c7a3e-1f9b-4d2a-9c61-6e0f4b2a8d11"
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent("a1", "team-a", "web", uid, map[string]any{"username": "alice"}, "nginx:1.27"), nil)))
	recs := byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, 1)
	findings := len(byEvent(sink, attr.EventFinding))
	digest := "sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"
	for i := range 2 { // the second patch tells nothing new: late
		require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, statusEvent("s"+string(rune('1'+i)), "team-a", "web", uid, "node-a", "docker.io/library/nginx@"+digest), nil)))
	}
	ups := byEvent(sink, "podtrail.pod_creation.update")
	require.Len(t, ups, 1)
	u := ups[0]
	assert.Equal(t, "a1", str(u, attr.AuditID), "joins its record")
	assert.Equal(t, "team-a", str(u, attr.K8sNamespaceName))
	assert.Equal(t, "web", str(u, attr.K8sPodName))
	assert.Equal(t, uid, str(u, attr.K8sPodUID))
	assert.Equal(t, "node-a", str(u, attr.K8sNodeName))
	assert.Equal(t, "digest", str(u, "podtrail.update"))
	assert.Equal(t, "", str(u, attr.UserName))
	cs, _ := u.Attributes().Get(attr.PodContainers)
	require.Equal(t, 1, cs.Slice().Len())
	c := cs.Slice().At(0).Map().AsRaw()
	assert.Equal(t, digest, c["digest"])
	assert.Equal(t, "kubelet_status", c["digest_source"])
	assert.Equal(t, "pod team-a/web digests reported after its record: app="+digest+" (kubelet_status) node=node-a", u.Body().Str())
	assert.Equal(t, findings, len(byEvent(sink, attr.EventFinding)), "no finding for an update")
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_records"))
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_late"))
}

// salvagedCreate is the body the k8s_audit receiver emits for a pod create
// too large to read: a valid audit event without its objects.
const salvagedCreate = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"big-1","stage":"ResponseComplete",` +
	`"requestURI":"/api/v1/namespaces/kube-system/pods?fieldManager=kubectl-create","verb":"create",` +
	`"user":{"username":"mallory","groups":["system:authenticated"]},"sourceIPs":["192.0.2.77"],` +
	`"userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",` +
	`"objectRef":{"resource":"pods","namespace":"kube-system","name":"big-env","apiVersion":"v1"},` +
	`"responseStatus":{"metadata":{},"code":201},` +
	`"requestReceivedTimestamp":"2026-11-24T10:00:00.000000Z","stageTimestamp":"2026-11-24T10:00:00.350000Z",` +
	`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`

// TestOversizeRecord: an audit log record marked podtrail.audit.partial=
// oversize is read even without the lifted attributes the processor
// filters on, and gives a record marked podtrail.partial=oversize from
// what was salvaged, with the PT-0040 finding.
func TestOversizeRecord(t *testing.T) {
	for _, lifted := range []bool{true, false} {
		t.Run(map[bool]string{true: "with the lifted attributes", false: "partial attribute only"}[lifted], func(t *testing.T) {
			cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
			p, sink := newTestProcessor(t, cfg, nil)
			ld := auditLog(t, salvagedCreate, map[string]string{"podtrail.audit.partial": "oversize"})
			if !lifted {
				a := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
				for _, k := range []string{attr.AuditStage, attr.AuditVerb, attr.AuditResource} {
					a.Remove(k)
				}
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
			recs := byEvent(sink, attr.EventPodCreation)
			require.Len(t, recs, 1)
			r := recs[0]
			assert.Equal(t, "oversize", str(r, attr.Partial))
			assert.Equal(t, "big-1", str(r, attr.AuditID))
			assert.Equal(t, "kube-system", str(r, attr.K8sNamespaceName))
			assert.Equal(t, "big-env", str(r, attr.K8sPodName))
			assert.Equal(t, "mallory", str(r, attr.UserName))
			assert.Equal(t, "kubectl", str(r, attr.Channel))
			assert.Equal(t, "pod kube-system/big-env created by mallory (user) via kubectl decision=allow code=201 missing=pod_spec,uid partial=oversize", r.Body().Str())
			var ids []string
			for _, f := range byEvent(sink, attr.EventFinding) {
				ids = append(ids, str(f, attr.RuleID))
			}
			assert.Contains(t, ids, "PT-0040")
			assert.Contains(t, ids, "PT-0001", "a person's create in kube-system, read in part")
		})
	}
}

// failedCreateEvent is a pod create the authorizer allowed and the API
// server answered with code (409 AlreadyExists: the name is taken), as a
// v1.33 apiserver logs it at RequestResponse: a Status, no pod stored.
func failedCreateEvent(id, ns, name string, user map[string]any, annotations map[string]string, code int, reason, message string) string {
	meta := map[string]any{"name": name, "namespace": ns}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	pod := map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": meta,
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.k8s.io/kube-proxy:v1.33.13"}}}}
	status := map[string]any{"metadata": map[string]any{}, "status": "Failure", "message": message, "reason": reason,
		"details": map[string]any{"name": name, "kind": "pods"}, "code": code}
	resp := map[string]any{"kind": "Status", "apiVersion": "v1"}
	for k, v := range status {
		resp[k] = v
	}
	return mustJSON(map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": id,
		"stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/" + ns + "/pods", "verb": "create", "user": user,
		"sourceIPs": []string{"127.0.0.1"}, "userAgent": "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
		"objectRef":      map[string]any{"resource": "pods", "namespace": ns, "name": name, "apiVersion": "v1"},
		"responseStatus": status, "requestObject": pod, "responseObject": resp,
		"requestReceivedTimestamp": at0, "stageTimestamp": at0.Add(3 * time.Millisecond),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}})
}

// TestFailedCreateRecord: a person's create of a taken name in kube-system
// (409) is a record of outcome failed, at once, whose body says CREATE
// FAILED, never created or FORBIDDEN, and no rule of a creation or a
// refusal fires on it (the lookalike name is not a lookalike pod); the
// kubelet's create of its static pod's mirror pod that finds it there
// makes no record.
func TestFailedCreateRecord(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	cfg := withRules(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	p, sink := newTestProcessor(t, cfg, tel)
	ctx := context.Background()
	alice := map[string]any{"username": "alice@example.com", "groups": []string{"system:authenticated"}}
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, failedCreateEvent("f1", "kube-system", "kube-proxy-x7b2q", alice, nil,
		409, "AlreadyExists", `pods "kube-proxy-x7b2q" already exists`), nil)))
	hash := "6a599432adb6d81f53a397256da6cfc5"
	node := map[string]any{"username": "system:node:e2e-node-1", "groups": []string{"system:nodes", "system:authenticated"}}
	require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, failedCreateEvent("m1", "default", "static-web-e2e-node-1", node,
		map[string]string{"kubernetes.io/config.hash": hash, "kubernetes.io/config.mirror": hash, "kubernetes.io/config.source": "file"},
		409, "AlreadyExists", `pods "static-web-e2e-node-1" already exists`), nil)))
	recs := byEvent(sink, attr.EventPodCreation)
	require.Len(t, recs, 1, "the mirror pod's 409 makes no record")
	r := recs[0]
	assert.Equal(t, "pod kube-system/kube-proxy-x7b2q CREATE FAILED (409 AlreadyExists) by alice@example.com (user) via kubectl images=registry.k8s.io/kube-proxy:v1.33.13 decision=allow code=409", r.Body().Str())
	assert.Equal(t, "failed", str(r, "podtrail.outcome"))
	assert.Equal(t, "allow", str(r, "podtrail.decision"))
	v, _ := r.Attributes().Get("podtrail.allowed")
	assert.False(t, v.Bool())
	for _, f := range byEvent(sink, attr.EventFinding) {
		assert.Fail(t, "no finding on a failed create", f.Body().Str())
	}
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_no_record"), "the mirror pod's 409")
	assert.Equal(t, int64(1), sum(t, tel, "otelcol_pod_creation_records"))
}
