// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"testing"

	"github.com/podtrail/podtrail/internal/audit"
)

// TestClusterFromAudit: a pod create from a managed cloud's export names its
// cluster in the record; a native one names none.
func TestClusterFromAudit(t *testing.T) {
	entry := `{"insertId":"i1","operation":{"first":true,"id":"op-1","last":true},` +
		`"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"k8s.io","authenticationInfo":{"principalEmail":"alice@example.com"},` +
		`"methodName":"io.k8s.core.v1.pods.create","resourceName":"core/v1/namespaces/default/pods/web","status":{},` +
		`"response":{"@type":"core.k8s.io/v1.Pod","metadata":{"name":"web","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}},` +
		`"resource":{"type":"k8s_cluster","labels":{"cluster_name":"prod-eu","location":"europe-west1-b","project_id":"acme-prod"}},"timestamp":"2024-05-01T10:00:00Z"}`
	b := audit.DecodeBody([]byte(entry), audit.FormAuto)
	if b.Err != nil || len(b.Items) != 1 || b.Items[0].Err != nil {
		t.Fatalf("%+v", b)
	}
	// As the processor reads it: from the record body.
	ev, err := audit.Decode(b.Items[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromAudit(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Name: "prod-eu", Provider: "gcp", Account: "acme-prod", Region: "europe-west1", Zone: "europe-west1-b"}
	if r.Cluster != want {
		t.Fatalf("cluster %+v, want %+v", r.Cluster, want)
	}
	ev.Cluster = nil
	if r, _ := FromAudit(ev); r.Cluster != (Cluster{}) {
		t.Fatalf("native event: cluster %+v", r.Cluster)
	}
}
