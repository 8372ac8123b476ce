// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// attrsOf converts r as the processor emits it and returns the record's
// attributes as strings (lists and maps in their JSON form).
func attrsOf(t *testing.T, r *podrecord.Record) (plog.LogRecord, map[string]string) {
	t.Helper()
	lrs := plog.NewLogRecordSlice()
	appendRecord(lrs, r)
	if lrs.Len() != 1 {
		t.Fatalf("%d log records", lrs.Len())
	}
	lr := lrs.At(0)
	m := map[string]string{}
	lr.Attributes().Range(func(k string, v pcommon.Value) bool {
		m[k] = v.AsString()
		return true
	})
	return lr, m
}

// TestRecordAttributes: what the record's attributes say about who made the
// request, and that an unknown actor leaves no empty attribute behind.
func TestRecordAttributes(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		rec    podrecord.Record
		want   map[string]string // "" : absent
		absent []string
	}{
		{
			name: "impersonation: the actor is who authenticated",
			rec: podrecord.Record{
				AuditID: "a1", Namespace: "shop", Name: "cart-x", Allowed: true, Decision: "allow", Code: 201, RequestedAt: at,
				Actor: podrecord.Actor{Username: "mallory", Kind: podrecord.ActorUser, Groups: []string{"dev"}},
				Impersonated: podrecord.Identity{Username: "system:serviceaccount:kube-system:replicaset-controller",
					Kind: podrecord.ActorController, ServiceAccount: "kube-system/replicaset-controller", Groups: []string{"system:serviceaccounts"}},
				Channel: podrecord.ChannelKubectl, Origin: podrecord.OriginAPI,
			},
			want: map[string]string{
				"user.name": "mallory", "podtrail.actor.kind": "user", "podtrail.actor.groups": `["dev"]`, "podtrail.channel": "kubectl",
				"podtrail.impersonated.user.name":       "system:serviceaccount:kube-system:replicaset-controller",
				"podtrail.impersonated.kind":            "controller",
				"podtrail.impersonated.service_account": "kube-system/replicaset-controller",
				"podtrail.impersonated.groups":          `["system:serviceaccounts"]`,
			},
			absent: []string{"podtrail.actor.impersonated_by", "podtrail.actor.service_account", "podtrail.impersonated.user.id"},
		},
		{
			name: "no impersonation",
			rec: podrecord.Record{AuditID: "a2", Namespace: "shop", Name: "web", Allowed: true, RequestedAt: at,
				Actor: podrecord.Actor{Username: "alice", Kind: podrecord.ActorUser}, Channel: "kubectl", Origin: podrecord.OriginAPI},
			want:   map[string]string{"user.name": "alice"},
			absent: []string{"podtrail.impersonated.user.name", "podtrail.impersonated.kind", "podtrail.impersonated.groups"},
		},
		{
			name: "outcome: created",
			rec: podrecord.Record{AuditID: "a3", Namespace: "shop", Name: "web", Allowed: true, Decision: "allow", Code: 201, RequestedAt: at,
				Actor: podrecord.Actor{Username: "alice", Kind: podrecord.ActorUser}, Origin: podrecord.OriginAPI},
			want: map[string]string{"podtrail.outcome": "created", "podtrail.allowed": "true"},
		},
		{
			name: "outcome: forbidden",
			rec: podrecord.Record{AuditID: "a4", Namespace: "shop", Decision: "forbid", Code: 403, RequestedAt: at,
				Actor: podrecord.Actor{Username: "bob", Kind: podrecord.ActorUser}, Origin: podrecord.OriginAPI},
			want: map[string]string{"podtrail.outcome": "forbidden", "podtrail.allowed": "false", "podtrail.decision": "forbid"},
		},
		{
			name: "outcome: failed (409 AlreadyExists), allowed by the authorizer",
			rec: podrecord.Record{AuditID: "a5", Namespace: "shop", Name: "web", Decision: "allow", Code: 409, Reason: `pods "web" already exists`,
				RequestedAt: at, Actor: podrecord.Actor{Username: "alice", Kind: podrecord.ActorUser}, Origin: podrecord.OriginAPI},
			want: map[string]string{"podtrail.outcome": "failed", "podtrail.allowed": "false", "podtrail.decision": "allow",
				"http.response.status_code": "409", "podtrail.reason": `pods "web" already exists`},
		},
		{
			name:   "pre-existing: no outcome",
			rec:    podrecord.Record{Namespace: "shop", Name: "old", Node: "node-a", Origin: podrecord.OriginPreexisting},
			want:   map[string]string{"podtrail.origin": "preexisting"},
			absent: []string{"podtrail.outcome"},
		},
		{
			name: "node-only record: no actor, no empty actor attributes",
			rec: podrecord.Record{Namespace: "kube-system", Name: "miner", Node: "node-b", Origin: podrecord.OriginNodeOnly,
				Sandbox: podrecord.Sandbox{ID: "s1", Runtime: "containerd", ReadyAt: at}},
			want:   map[string]string{"podtrail.origin": "node_only", "k8s.node.name": "node-b"},
			absent: []string{"user.name", "podtrail.actor.kind", "podtrail.channel", "podtrail.impersonated.user.name", "podtrail.outcome"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := attrsOf(t, &tt.rec)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
		})
	}
}

// TestSummary: the body names only what is known; a record without an API
// create or with a create that could not be read has no empty actor, kind
// or channel (a node-only record once read "FORBIDDEN for  () via").
func TestSummary(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	alice := podrecord.Actor{Username: "alice@example.com", Kind: podrecord.ActorUser}
	tests := []struct {
		name string
		rec  podrecord.Record
		want string
	}{
		{"allowed create", podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-x7b2q", Actor: alice, Channel: "kubectl", Allowed: true,
			Decision: "allow", Code: 201, Node: "node-a", Origin: "api", Containers: []podrecord.Container{{Name: "c", Image: "docker.io/alpine:3.20"}}},
			"pod kube-system/kube-proxy-x7b2q created by alice@example.com (user) via kubectl images=docker.io/alpine:3.20 node=node-a decision=allow code=201"},
		{"impersonated create", podrecord.Record{Namespace: "apps", Name: "imp-sa", Actor: podrecord.Actor{Username: "erin", Kind: "user"},
			Impersonated: podrecord.Identity{Username: "system:serviceaccount:apps:builder"}, Channel: "kubectl", Allowed: true, Decision: "allow", Code: 201, Origin: "api"},
			"pod apps/imp-sa created by erin (user) as system:serviceaccount:apps:builder via kubectl decision=allow code=201"},
		{"forbidden create", podrecord.Record{Namespace: "kube-system", Actor: podrecord.Actor{Username: "mallory", Kind: "user"}, Channel: "kubectl",
			Decision: "forbid", Code: 403, Origin: "api"},
			"pod kube-system/? FORBIDDEN for mallory (user) via kubectl decision=forbid code=403"},
		{"create allowed by the authorizer, name taken: failed, not forbidden", podrecord.Record{Namespace: "default", Name: "static-web-e2e-node-1",
			Actor: podrecord.Actor{Username: "system:node:e2e-node-1", Kind: "node"}, Channel: "kubelet", Decision: "allow", Code: 409,
			Reason: `pods "static-web-e2e-node-1" already exists`, Origin: "api", Owner: podrecord.Owner{Kind: "Node", Name: "e2e-node-1"}},
			"pod default/static-web-e2e-node-1 CREATE FAILED (409 AlreadyExists) by system:node:e2e-node-1 (node) via kubelet owner=Node/e2e-node-1 decision=allow code=409"},
		{"retry after a refusal whose name was not read", podrecord.Record{Namespace: "team-b", Name: "probe", Actor: podrecord.Actor{Username: "bob", Kind: "user"},
			Channel: "kubectl", Allowed: true, Decision: "allow", Code: 201, Origin: "api",
			DeniedBefore: []podrecord.Denial{{Namespace: "team-b", Code: 403}}},
			"pod team-b/probe created by bob (user) via kubectl decision=allow code=201 after 1 forbidden (first in team-b)"},
		{"retry after a named refusal", podrecord.Record{Namespace: "team-b", Name: "probe", Actor: podrecord.Actor{Username: "bob", Kind: "user"},
			Channel: "kubectl", Allowed: true, Decision: "allow", Code: 201, Origin: "api",
			DeniedBefore: []podrecord.Denial{{Namespace: "team-b", Name: "probe-0", Code: 403}}},
			"pod team-b/probe created by bob (user) via kubectl decision=allow code=201 after 1 forbidden (first team-b/probe-0)"},
		{"node-only", podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-debug", Node: "node-b", Origin: "node_only",
			Sandbox: podrecord.Sandbox{Runtime: "containerd"}, Missing: []string{"audit", "scheduler"}, Partial: "window"},
			"pod kube-system/kube-proxy-debug RAN ON node-b WITHOUT AN API CREATE (containerd) missing=audit,scheduler partial=window"},
		{"static pod whose mirror pod never came", podrecord.Record{Namespace: "default", Name: "static-web-node-a", UID: "6d3c", Node: "node-a", Origin: "node_only",
			Sandbox: podrecord.Sandbox{Runtime: "containerd"}, Missing: []string{"audit", "mirror_pod"}, Partial: "window"},
			"pod default/static-web-node-a RAN ON node-a WITHOUT AN API CREATE (containerd) static pod without a mirror pod missing=audit,mirror_pod partial=window"},
		{"pre-existing pod", podrecord.Record{Namespace: "shop", Name: "old-1", Node: "node-a", Origin: "preexisting", Missing: []string{"audit"}, Partial: "window"},
			"pod shop/old-1 existed before podtrail started (no create seen; the API server knows it) node=node-a missing=audit partial=window"},
		{"oversize create, outcome unknown", podrecord.Record{Namespace: "apps", Name: "big-env", Actor: alice, Channel: "kubectl", Origin: "api",
			Missing: []string{"pod_spec"}, Partial: "oversize"},
			"pod apps/big-env create, outcome unknown, by alice@example.com (user) via kubectl missing=pod_spec partial=oversize"},
		{"oversize create the node ran", podrecord.Record{Namespace: "apps", Name: "big-env", Actor: alice, Channel: "kubectl", Origin: "api", Allowed: true,
			Node: "node-a", Missing: []string{"pod_spec"}, Partial: "oversize"},
			"pod apps/big-env created by alice@example.com (user) via kubectl node=node-a missing=pod_spec partial=oversize"},
		{"digest update", podrecord.Record{Namespace: "shop", Name: "web", Update: "digest", Node: "node-a",
			Containers: []podrecord.Container{{Name: "app", Digest: "sha256:5be1", DigestSource: "kubelet_status"}, {Name: "tool", ImageID: "sha256:99", DigestSource: "kubelet_status"}}},
			"pod shop/web digests reported after its record: app=sha256:5be1 (kubelet_status) tool=image sha256:99 (kubelet_status) node=node-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.RequestedAt = at
			got := Summary(&tt.rec)
			if got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			for _, bad := range []string{"()", "  ", " via  ", "for  ", "by  ", "/)", "/ "} {
				if strings.Contains(got, bad) {
					t.Errorf("%q in %s", bad, got)
				}
			}
		})
	}
}
