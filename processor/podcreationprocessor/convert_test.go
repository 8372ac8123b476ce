package podcreationprocessor

import (
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
			name: "node-only record: no actor, no empty actor attributes",
			rec: podrecord.Record{Namespace: "kube-system", Name: "miner", Node: "node-b", Origin: podrecord.OriginNodeOnly,
				Sandbox: podrecord.Sandbox{ID: "s1", Runtime: "containerd", ReadyAt: at}},
			want:   map[string]string{"podtrail.origin": "node_only", "k8s.node.name": "node-b"},
			absent: []string{"user.name", "podtrail.actor.kind", "podtrail.channel", "podtrail.impersonated.user.name"},
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
