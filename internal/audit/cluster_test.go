// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"fmt"
	"testing"
)

// TestClusterFromClouds: each cloud's wrapper names the cluster (GKE
// resource labels, the EKS log group and its owner, the AKS resourceId);
// the item's Event has it and its Raw carries it, so that the record body
// decoded again (fast path and goccy alike) still tells it. Wrappers that
// do not name it (a bare event, a CloudWatch export line) give none.
func TestClusterFromClouds(t *testing.T) {
	inner := []byte(fmt.Sprintf(evJSON, "c1", `{"username":"u"}`))
	zonal := []byte(`{"insertId":"z","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"k8s.io",` +
		`"methodName":"io.k8s.core.v1.pods.create","resourceName":"core/v1/namespaces/default/pods/web","authenticationInfo":{"principalEmail":"a@example.com"}},` +
		`"resource":{"type":"k8s_cluster","labels":{"cluster_name":"zonal-1","location":"us-central1-c","project_id":"proj-7"}},"timestamp":"2024-05-01T10:00:00Z"}`)
	tests := []struct {
		name string
		body []byte
		want *Cluster
	}{
		{"gke pubsub", pubSubPush([]byte(gkeCreate)), &Cluster{Name: "c", Provider: "gcp", Account: "p", Region: "europe-west1"}},
		{"gke entry zonal", zonal, &Cluster{Name: "zonal-1", Provider: "gcp", Account: "proj-7", Region: "us-central1", Zone: "us-central1-c"}},
		{"eks cloudwatch", cwPayload(EKSAuditStreamPrefix+"-1", inner), &Cluster{Name: "tgw", Provider: "aws", Account: "12345678912"}},
		{"eks awslogs", awsLogs(t, cwPayload(EKSAuditStreamPrefix+"-1", inner)), &Cluster{Name: "tgw", Provider: "aws", Account: "12345678912"}},
		{"eks firehose", firehose(gzipBytes(t, cwPayload(EKSAuditStreamPrefix+"-1", inner))), &Cluster{Name: "tgw", Provider: "aws", Account: "12345678912"}},
		{"eks firehose extracted", firehose(inner), nil},
		{"eks export line", append([]byte("2021-09-27T08:36:44.021Z "), inner...), nil},
		{"aks record", azRecord(AKSCategoryAudit, inner), &Cluster{Name: "AKS", Provider: "azure", Account: "00000000-0000-0000-0000-000000000000",
			ResourceID: "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS"}},
		{"aks records", azRecords(azRecord(AKSCategoryAuditAdmin, inner)), &Cluster{Name: "AKS", Provider: "azure", Account: "00000000-0000-0000-0000-000000000000",
			ResourceID: "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS"}},
		{"native", inner, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := DecodeBody(tt.body, FormAuto)
			if b.Err != nil || len(b.Items) != 1 || b.Items[0].Err != nil {
				t.Fatalf("%+v", b)
			}
			it := b.Items[0]
			if !sameCluster(it.Event.Cluster, tt.want) {
				t.Fatalf("cluster %+v, want %+v", it.Event.Cluster, tt.want)
			}
			back, err := Decode(it.Raw)
			if err != nil || !sameCluster(back.Cluster, tt.want) {
				t.Fatalf("the body loses the cluster: %s: %+v %v", it.Raw, back, err)
			}
			var slow Event
			if err := unmarshal(it.Raw, &slow); err != nil || !sameCluster(slow.Cluster, tt.want) {
				t.Fatalf("goccy reads another cluster: %+v %v", slow.Cluster, err)
			}
			var d Decoder
			if ev, err := d.Decode(it.Raw); err != nil || !sameCluster(ev.Cluster, tt.want) {
				t.Fatalf("Decoder: %+v %v", ev, err)
			}
		})
	}
}

// TestClusterNotTwice: an event that already names a cluster keeps it; the
// wrapper's is not added as a second member.
func TestClusterNotTwice(t *testing.T) {
	inner := []byte(fmt.Sprintf(evJSON, "c2", `{"username":"u"}`))
	inner = withCluster(inner, &Cluster{Name: "own"})
	b := DecodeBody(cwPayload(EKSAuditStreamPrefix+"-1", inner), FormAuto)
	if len(b.Items) != 1 || b.Items[0].Err != nil || b.Items[0].Event.Cluster.Name != "own" {
		t.Fatalf("%+v", b)
	}
	if back, err := Decode(b.Items[0].Raw); err != nil || back.Cluster.Name != "own" {
		t.Fatalf("%s: %v", b.Items[0].Raw, err)
	}
}

func TestClusterParsers(t *testing.T) {
	for _, g := range []string{"/aws/eks/prod/cluster", "/aws/eks/prod-eu_1/cluster"} {
		if c := eksCluster(g, "123"); c == nil || c.Account != "123" {
			t.Errorf("eksCluster(%q) = %+v", g, c)
		}
	}
	for _, g := range []string{"", "/aws/eks//cluster", "/aws/eks/a/b/cluster", "/aws/lambda/x", "/aws/eks/prod/other"} {
		if c := eksCluster(g, "123"); c != nil {
			t.Errorf("eksCluster(%q) = %+v, want nil", g, c)
		}
	}
	if c := eksCluster("/aws/eks/prod/cluster", "CloudwatchLogs"); c == nil || c.Account != "" {
		t.Errorf("owner that is no account: %+v", c)
	}
	if c := aksCluster("/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/Prod-Aks"); c == nil || c.Name != "Prod-Aks" || c.Account != "s-1" {
		t.Errorf("aksCluster mixed case = %+v", c)
	}
	for _, id := range []string{"", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "/subscriptions/s/managedClusters"} {
		if c := aksCluster(id); c != nil {
			t.Errorf("aksCluster(%q) = %+v, want nil", id, c)
		}
	}
	for loc, want := range map[string][2]string{"europe-west1": {"europe-west1", ""}, "us-central1-c": {"us-central1", "us-central1-c"}, "": {"", ""}} {
		c := gkeCluster(map[string]string{"cluster_name": "x", "location": loc})
		if c.Region != want[0] || c.Zone != want[1] {
			t.Errorf("gkeCluster location %q = %q %q, want %q", loc, c.Region, c.Zone, want)
		}
	}
	if gkeCluster(map[string]string{"location": "x"}) != nil {
		t.Error("gkeCluster without cluster_name")
	}
}

func sameCluster(a, b *Cluster) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
