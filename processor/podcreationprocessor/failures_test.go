// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// TestNodeEventFailures: the node_runtime receiver's failure events read
// back with their reason, error and the image that failed (kubelet#20 of
// the node runtime golden testdata).
func TestNodeEventFailures(t *testing.T) {
	const errText = `rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/acme-corp/cart:1.2.0\": failed to resolve reference \"ghcr.io/acme-corp/cart:1.2.0\": ghcr.io/acme-corp/cart:1.2.0: not found`
	tests := []struct {
		name  string
		attrs map[string]string
		tag   string
		want  noderuntime.Event
	}{
		{"image_pull_failed: ErrImagePull", map[string]string{
			attr.NodeEventKind: "image_pull_failed", attr.NodeSource: "kubelet", attr.K8sNamespaceName: "shop",
			attr.K8sPodName: "cart-6f7d9c8b4-ttp4z", attr.K8sPodUID: "3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10", attr.ContainerName: "cart",
			attr.ContainerImage: "ghcr.io/acme-corp/cart", attr.NodeError: errText, attr.NodeReason: "ErrImagePull",
		}, "1.2.0", noderuntime.Event{Kind: noderuntime.KindImagePullFailed, Source: noderuntime.SourceKubelet, PodNamespace: "shop",
			PodName: "cart-6f7d9c8b4-ttp4z", PodUID: "3f0e8a52-8c7d-4d36-9b0e-2a1c5d7e9f10", ContainerName: "cart",
			Image: "ghcr.io/acme-corp/cart:1.2.0", Error: errText, Reason: "ErrImagePull"}},
		{"container_failed: OOMKilled", map[string]string{
			attr.NodeEventKind: "container_failed", attr.NodeSource: "containerd",
			attr.ContainerID: "14fc7e6f2d112f1f5b7f96a55ab7763b41962853ee4a1f1d64549061b57af2f8", attr.NodeReason: "OOMKilled",
		}, "", noderuntime.Event{Kind: noderuntime.KindContainerFailed, Source: noderuntime.SourceContainerd,
			ContainerID: "14fc7e6f2d112f1f5b7f96a55ab7763b41962853ee4a1f1d64549061b57af2f8", Reason: "OOMKilled"}},
		{"sandbox_requested that failed", map[string]string{
			attr.NodeEventKind: "sandbox_requested", attr.NodeSource: "kubelet", attr.K8sNamespaceName: "shop",
			attr.K8sPodName: "cart-6f7d9c8b4-ttp4z", attr.NodeError: "open /etc/resolv.conf: no such file or directory",
		}, "", noderuntime.Event{Kind: noderuntime.KindSandboxRequested, Source: noderuntime.SourceKubelet, PodNamespace: "shop",
			PodName: "cart-6f7d9c8b4-ttp4z", Error: "open /etc/resolv.conf: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			lr.SetEventName(attr.EventNodePrefix + tt.attrs[attr.NodeEventKind])
			for k, v := range tt.attrs {
				lr.Attributes().PutStr(k, v)
			}
			if tt.tag != "" {
				lr.Attributes().PutEmptySlice(attr.ContainerImageTags).AppendEmpty().SetStr(tt.tag)
			}
			ev, ok := nodeevent.Decode(lr)
			ev.Time = time.Time{}
			if !ok || ev != tt.want {
				t.Errorf("got %+v, %v\nwant %+v", ev, ok, tt.want)
			}
		})
	}
}

// TestFailureAttributes: the failures a record carries, as attributes.
func TestFailureAttributes(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	base := func() podrecord.Record {
		return podrecord.Record{AuditID: "a1", Namespace: "shop", Name: "cart-6f7d9c8b4-ttp4z", Allowed: true, Decision: "allow", Code: 201,
			RequestedAt: at, Origin: podrecord.OriginAPI, Partial: "window"}
	}
	pull := base()
	pull.Containers = []podrecord.Container{{Name: "cart", Image: "ghcr.io/acme-corp/cart:1.2.0", Type: "container",
		Error: "rpc error: code = NotFound", Reason: "ErrImagePull"}}
	pull.PullFailures = []podrecord.PullFailure{{Image: "ghcr.io/acme-corp/cart:1.2.0", Container: "cart", Error: "rpc error: code = NotFound", Reason: "ErrImagePull"}}
	sandbox := base()
	sandbox.Sandbox = podrecord.Sandbox{Attempts: 2, Error: `plugin type="calico" failed (add)`}
	tests := []struct {
		name   string
		rec    podrecord.Record
		want   map[string]string
		absent []string
	}{
		{"image pull failure", pull, map[string]string{
			"podtrail.pod.image_pull_failures": `[{"container":"cart","error":"rpc error: code = NotFound","image":"ghcr.io/acme-corp/cart:1.2.0","reason":"ErrImagePull"}]`,
			"podtrail.pod.containers":          `[{"error":"rpc error: code = NotFound","image":"ghcr.io/acme-corp/cart:1.2.0","name":"cart","reason":"ErrImagePull","type":"container"}]`,
		}, []string{"podtrail.sandbox.error", "podtrail.sandbox.attempts"}},
		{"sandbox failure", sandbox, map[string]string{
			"podtrail.sandbox.error": `plugin type="calico" failed (add)`, "podtrail.sandbox.attempts": "2",
		}, []string{"podtrail.pod.image_pull_failures"}},
		{"no failure", base(), nil, []string{"podtrail.pod.image_pull_failures", "podtrail.sandbox.error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, m := attrsOf(t, &tt.rec)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %s, want %s", k, m[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := m[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}
