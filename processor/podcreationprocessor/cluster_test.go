// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
)

// clusterOfEvents maps each record's and finding's pod name to its
// resource attributes.
func clusterOfEvents(sink *consumertest.LogsSink) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := rls.At(i).Resource().Attributes().AsRaw()
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					name, _ := lrs.At(k).Attributes().Get(attr.K8sPodName)
					out[lrs.At(k).EventName()+" "+name.Str()] = res
				}
			}
		}
	}
	return out
}

// withCluster adds a "cluster" member to an audit event's JSON, as the
// k8s_audit receiver does for a managed cloud's export.
func withCluster(t *testing.T, body string, cluster map[string]string) string {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	m["cluster"] = cluster
	return mustJSON(m)
}

// TestClusterIdentity: records and findings carry k8s.cluster.name (and
// uid) as resource attributes: the configured cluster for native events,
// the one a cloud export names for its events (with cloud.*), in one
// resource per cluster; override puts the configured name on all.
func TestClusterIdentity(t *testing.T) {
	alice := map[string]any{"username": "alice@example.com", "groups": []string{"system:authenticated"}}
	native := createEvent("n-1", "kube-system", "kube-proxy-abcde", "u-n1", alice, "docker.io/alpine:3.20")
	gke := withCluster(t, createEvent("g-1", "kube-system", "kube-proxy-fghij", "u-g1", alice, "docker.io/alpine:3.20"),
		map[string]string{"name": "gke-prod", "provider": "gcp", "account": "acme-prod", "region": "europe-west1", "zone": "europe-west1-b"})

	run := func(t *testing.T, cl ClusterConfig) map[string]map[string]any {
		cfg := withRules(packDir+"/rules.yaml", packDir+"/inventory.yaml")
		cfg.Cluster = cl
		require.NoError(t, cfg.Validate())
		p, sink := newTestProcessor(t, cfg, nil)
		for _, b := range []string{native, gke} {
			require.NoError(t, p.ConsumeLogs(context.Background(), auditLog(t, b, nil)))
		}
		require.Eventually(t, func() bool { return len(byEvent(sink, attr.EventPodCreation)) == 2 }, 5*time.Second, 10*time.Millisecond)
		require.NotEmpty(t, byEvent(sink, attr.EventFinding))
		return clusterOfEvents(sink)
	}
	gkeRes := map[string]any{attr.K8sClusterName: "gke-prod", attr.CloudProvider: "gcp", attr.CloudPlatform: "gcp_kubernetes_engine",
		attr.CloudAccountID: "acme-prod", attr.CloudRegion: "europe-west1", attr.CloudAvailabilityZone: "europe-west1-b"}

	got := run(t, ClusterConfig{Name: "onprem-1", UID: "7c1b8b5e-2b1a-4c5e-9a0e-3f4d5e6f7a8b"})
	for k, res := range got {
		switch k {
		case attr.EventPodCreation + " kube-proxy-abcde", attr.EventFinding + " kube-proxy-abcde":
			assert.Equal(t, map[string]any{attr.K8sClusterName: "onprem-1", attr.K8sClusterUID: "7c1b8b5e-2b1a-4c5e-9a0e-3f4d5e6f7a8b"}, res, k)
		default:
			assert.Equal(t, gkeRes, res, k)
		}
	}

	over := run(t, ClusterConfig{Name: "prod", UID: "u", Override: true})
	for k, res := range over {
		assert.Equal(t, "prod", res[attr.K8sClusterName], k)
		assert.Equal(t, "u", res[attr.K8sClusterUID], k)
	}

	none := run(t, ClusterConfig{})
	for k, res := range none {
		if k == attr.EventPodCreation+" kube-proxy-abcde" || k == attr.EventFinding+" kube-proxy-abcde" {
			assert.Empty(t, res, k)
		} else {
			assert.Equal(t, gkeRes, res, k)
		}
	}
}

// TestClusterFromEnvironment: the cluster setting defaults to
// PODTRAIL_CLUSTER_NAME and PODTRAIL_CLUSTER_UID; override needs a name.
func TestClusterFromEnvironment(t *testing.T) {
	t.Setenv(EnvClusterName, "from-env")
	t.Setenv(EnvClusterUID, "uid-env")
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, "from-env", cfg.Cluster.Name)
	assert.Equal(t, "uid-env", cfg.Cluster.UID)
	cfg.Cluster = ClusterConfig{Override: true}
	assert.ErrorContains(t, cfg.Validate(), "override needs a name")
}

// TestFindingATTACK: a finding carries its rule's ATT&CK techniques and
// tactics apart from the data component and analytic ids.
func TestFindingATTACK(t *testing.T) {
	lrs := plog.NewLogRecordSlice()
	r := &podrecord.Record{AuditID: "a1", Namespace: "kube-system", Name: "kube-proxy-x", Node: "node-a", SourceIPs: []string{"203.0.113.45", "10.0.0.1"}}
	appendFinding(lrs, r, &rules.Finding{RuleID: "PT-0002", Title: "t", Severity: "critical", MITRE: []string{"DC0019", "AN0986", "T1036.005", "T1610"}})
	got := lrs.At(0).Attributes().AsRaw()
	want := map[string]any{
		"podtrail.rule.mitre":                   []any{"DC0019", "AN0986", "T1036.005", "T1610"},
		"podtrail.rule.mitre.techniques":        []any{"T1036.005", "T1610"},
		"podtrail.rule.mitre.technique.id":      []any{"T1036", "T1610"},
		"podtrail.rule.mitre.technique.name":    []any{"Masquerading", "Deploy Container"},
		"podtrail.rule.mitre.subtechnique.id":   []any{"T1036.005"},
		"podtrail.rule.mitre.subtechnique.name": []any{"Match Legitimate Resource Name or Location"},
		"podtrail.rule.mitre.tactic.id":         []any{"TA0005", "TA0002"},
		"podtrail.rule.mitre.tactic.name":       []any{"Defense Evasion", "Execution"},
		"podtrail.rule.mitre.attacks": []any{
			map[string]any{"technique": map[string]any{"uid": "T1036", "name": "Masquerading"},
				"sub_technique": map[string]any{"uid": "T1036.005", "name": "Match Legitimate Resource Name or Location"},
				"tactic":        map[string]any{"uid": "TA0005", "name": "Defense Evasion"}, "version": "18.1"},
			map[string]any{"technique": map[string]any{"uid": "T1610", "name": "Deploy Container"},
				"tactic": map[string]any{"uid": "TA0005", "name": "Defense Evasion"}, "version": "18.1"},
			map[string]any{"technique": map[string]any{"uid": "T1610", "name": "Deploy Container"},
				"tactic": map[string]any{"uid": "TA0002", "name": "Execution"}, "version": "18.1"},
		},
	}
	for k, v := range want {
		assert.Equal(t, v, got[k], k)
	}
	// what an alert needs: where the pod runs, where the request came from
	assert.Equal(t, "node-a", got[attr.K8sNodeName])
	assert.Equal(t, "203.0.113.45", got[attr.ClientAddress])
	lrs = plog.NewLogRecordSlice()
	appendFinding(lrs, r, &rules.Finding{RuleID: "PT-0035", Title: "t", Severity: "critical", MITRE: []string{"DC0019"}})
	for k := range want {
		if k != "podtrail.rule.mitre" {
			_, ok := lrs.At(0).Attributes().Get(k)
			assert.False(t, ok, k)
		}
	}
}
