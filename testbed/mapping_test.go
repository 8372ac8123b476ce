// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/samples"
)

const mappingBase = `
` + demoCorrelated + `exporters:
  file/ecs:
    path: ${env:OUT}/ecs.json
  file/cim:
    path: ${env:OUT}/cim.json
  file/ocsf:
    path: ${env:OUT}/ocsf.json
service:
` + quietTelemetry + `  pipelines:
    logs/ecs:
      receivers: [k8s_audit, k8s_audit/gke, node_runtime]
      processors: [pod_creation, transform/ecs]
      exporters: [file/ecs]
    logs/cim:
      receivers: [k8s_audit, k8s_audit/gke, node_runtime]
      processors: [pod_creation, transform/cim]
      exporters: [file/cim]
    logs/ocsf:
      receivers: [k8s_audit, k8s_audit/gke, node_runtime]
      processors: [pod_creation, transform/ocsf]
      exporters: [file/ocsf]
`

// gkeReceiver reads a GKE log sink file (one LogEntry per line) at OUT.
const gkeReceiver = `
file:
  include:
    - ${env:OUT}/gke.log
  start_at: beginning
`

// gkeCreate is a person's pod create in kube-system of GKE cluster
// gke-prod, as a log sink writes it: a managed cluster's record and
// findings, with its own cluster and cloud, beside the demo's.
const gkeCreate = `{"insertId":"gke-1","labels":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"access granted by IAM permissions."},` +
	`"logName":"projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity","operation":{"first":true,"id":"9d0f3c1e-5b7a-4e2d-8c6b-1a2b3c4d5e6f","last":true,"producer":"k8s.io"},` +
	`"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"mallory@example.com"},` +
	`"authorizationInfo":[{"granted":true,"permission":"io.k8s.core.v1.pods.create","resource":"core/v1/namespaces/kube-system/pods/kube-proxy-gke7q"}],` +
	`"methodName":"io.k8s.core.v1.pods.create","request":{"@type":"core.k8s.io/v1.Pod","metadata":{"name":"kube-proxy-gke7q","namespace":"kube-system"},"spec":{"containers":[{"name":"proxy","image":"docker.io/alpine:3.20"}]}},` +
	`"requestMetadata":{"callerIp":"198.51.100.77","callerSuppliedUserAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0"},` +
	`"resourceName":"core/v1/namespaces/kube-system/pods/kube-proxy-gke7q","response":{"@type":"core.k8s.io/v1.Pod","apiVersion":"v1","kind":"Pod","metadata":{"name":"kube-proxy-gke7q","namespace":"kube-system","uid":"7b1e2d3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e"},"spec":{"containers":[{"name":"proxy","image":"docker.io/alpine:3.20"}]}},` +
	`"serviceName":"k8s.io","status":{}},"receiveTimestamp":"2026-11-20T09:20:01.2Z","resource":{"labels":{"cluster_name":"gke-prod","location":"europe-west1-b","project_id":"acme-prod"},"type":"k8s_cluster"},` +
	`"severity":"NOTICE","timestamp":"2026-11-20T09:20:00.123456Z"}
`

// demoCluster is the cluster name and uid TestSIEMMappings gives the
// collector (PODTRAIL_CLUSTER_NAME, PODTRAIL_CLUSTER_UID).
const (
	demoClusterName = "demo-cluster"
	demoClusterUID  = "5f0c3a52-7d1e-4c8a-9b2f-1e6d4a7c9b30"
)

// TestSIEMMappings runs the demo through the shipped field mappings
// (distributions/otelcol-podtrail/siem: ECS, Splunk CIM, OCSF) with the
// cluster's name and uid set, and checks every record and finding of each
// against the official schema (testdata/siem): ECS 9.4.0 field names,
// types and allowed values; OCSF 1.3.0 API Activity and Detection Finding
// (attributes, types, enums, required attributes, classification);
// CIM's Change and Alerts data models (fields, required fields, expected
// values). Findings must carry their ATT&CK technique and tactic in each
// vocabulary and every output its cluster; person-made
// kube-system/kube-proxy-x7b2q's record and PT-0002 finding have the
// values expected.
func TestSIEMMappings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := Collector(t)
	dir := t.TempDir()
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(mappingBase), &cfg); err != nil {
		t.Fatal(err)
	}
	var gke map[string]any
	if err := yaml.Unmarshal([]byte(gkeReceiver), &gke); err != nil {
		t.Fatal(err)
	}
	cfg["receivers"].(map[string]any)["k8s_audit/gke"] = gke
	if err := os.WriteFile(filepath.Join(dir, "gke.log"), []byte(gkeCreate), 0o600); err != nil {
		t.Fatal(err)
	}
	procs := cfg["processors"].(map[string]any)
	// a blind spot: the demo's audit file read, the stream is quiet; its
	// finding has no pod and goes through the mappings as any other
	procs["pod_creation"].(map[string]any)["blind_spots"] = map[string]any{"audit_silence": "3s", "audit_stage_gap": "1s"}
	// and an audit stage gap: a pod create's RequestReceived stage of the
	// live capture whose ResponseComplete never comes
	var received string
	for _, l := range strings.Split(string(samples.Read(t, "k8s-audit-live", "levels", "audit.log")), "\n") {
		if strings.Contains(l, `"stage":"RequestReceived"`) && strings.Contains(l, `"verb":"create"`) && strings.Contains(l, `"objectRef":{"resource":"pods"`) {
			received = l + "\n"
			break
		}
	}
	if received == "" {
		t.Fatal("no RequestReceived stage of a pod create in the live capture")
	}
	if err := os.WriteFile(filepath.Join(dir, "gap.log"), []byte(received), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg["receivers"].(map[string]any)["k8s_audit/gap"] = map[string]any{"file": map[string]any{"include": []any{"${env:OUT}/gap.log"}, "start_at": "beginning"}}
	for _, pl := range cfg["service"].(map[string]any)["pipelines"].(map[string]any) {
		pl := pl.(map[string]any)
		pl["receivers"] = append(pl["receivers"].([]any), "k8s_audit/gap")
	}
	for _, m := range []string{"ecs", "cim", "ocsf"} {
		data, err := os.ReadFile(distPath(t, "siem", m+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var mc map[string]map[string]any
		if err := yaml.Unmarshal(data, &mc); err != nil {
			t.Fatal(err)
		}
		for k, v := range mc["processors"] {
			procs[k] = v
		}
	}
	out, _ := yaml.Marshal(cfg)
	path := writeConfig(t, dir, "config.yaml", string(out))
	p := Start(t, bin, path, "OUT="+dir, "DEMO="+distPath(t, "demo"), "RULES="+distPath(t, "rules"),
		"PODTRAIL_CLUSTER_NAME="+demoClusterName, "PODTRAIL_CLUSTER_UID="+demoClusterUID)
	// The demo makes 12 records (11 pods created, 1 run without a create),
	// the GKE create one, each with its findings.
	WaitFor(t, 60*time.Second, "the three outputs", func() bool {
		for _, m := range []string{"ecs", "cim", "ocsf"} {
			n, blind := 0, map[string]bool{}
			for _, r := range readOTLPRecords(t, filepath.Join(dir, m+".json")) {
				if r.EventName() == attr.EventPodCreation {
					n++
				}
				if k, ok := r.Attributes().Get(attr.BlindSpotKind); ok {
					blind[k.Str()] = true
				}
			}
			if n < 13 || !blind["audit_silence"] || !blind["audit_stage_gap"] {
				return false
			}
		}
		return true
	})
	p.Stop(t)

	want := map[string]struct{ record, finding map[string]string }{
		"ecs": {
			record: map[string]string{"event.kind": "event", "event.action": "pod-create", "event.outcome": "success", "event.category": `["configuration"]`,
				"orchestrator.namespace": "kube-system", "orchestrator.resource.name": "kube-proxy-x7b2q", "orchestrator.cluster.name": demoClusterName,
				"orchestrator.cluster.id": demoClusterUID, "host.name": "node-a", "source.ip": "203.0.113.45"},
			finding: map[string]string{"event.kind": "alert", "rule.id": "PT-0002", "rule.name": "Pod name imitates a system or approved workload", "event.severity": "99",
				"threat.framework": "MITRE ATT&CK", "threat.technique.id": `["T1036"]`, "threat.technique.name": `["Masquerading"]`,
				"threat.technique.subtechnique.id": `["T1036.005"]`, "threat.technique.subtechnique.name": `["Match Legitimate Resource Name or Location"]`,
				"threat.tactic.id": `["TA0005"]`, "threat.tactic.name": `["Defense Evasion"]`, "orchestrator.cluster.name": demoClusterName},
		},
		"cim": {
			record: map[string]string{"action": "created", "status": "success", "object": "kube-proxy-x7b2q", "object_path": "kube-system/kube-proxy-x7b2q",
				"user": "alice@example.com", "vendor_product": "podtrail", "dest": demoClusterName},
			finding: map[string]string{"type": "alert", "signature_id": "PT-0002", "severity": "critical", "mitre_technique_id": `["T1036.005"]`,
				"dest": demoClusterName, "src": "203.0.113.45", "user": "alice@example.com"},
		},
		"ocsf": {
			record: map[string]string{"class_uid": "6003", "type_uid": "600301", "activity_id": "1", "status_id": "1", "actor.user.name": "alice@example.com",
				"api.operation": "create"},
			finding: map[string]string{"class_uid": "2004", "type_uid": "200401", "severity_id": "5", "finding_info.analytic.uid": "PT-0002",
				"finding_info.analytic.type_id": "1"},
		},
	}
	gkeRes := map[string]any{attr.K8sClusterName: "gke-prod", attr.CloudProvider: "gcp", attr.CloudPlatform: "gcp_kubernetes_engine",
		attr.CloudAccountID: "acme-prod", attr.CloudRegion: "europe-west1", attr.CloudAvailabilityZone: "europe-west1-b"}
	demoRes := map[string]any{attr.K8sClusterName: demoClusterName, attr.K8sClusterUID: demoClusterUID}
	schemas := map[string]func(lr plog.LogRecord, mapped map[string]any) []string{}
	ecs := loadECS(t)
	schemas["ecs"] = func(_ plog.LogRecord, m map[string]any) []string { return ecs.check(m) }
	alerts, change := loadCIM(t, "Alerts.json", "Alerts"), loadCIM(t, "Change.json", "All_Changes")
	schemas["cim"] = func(lr plog.LogRecord, m map[string]any) []string {
		if lr.EventName() == attr.EventFinding {
			return checkCIM(alerts, m)
		}
		return checkCIM(change, m)
	}
	ocsf := loadOCSF(t)
	schemas["ocsf"] = func(_ plog.LogRecord, m map[string]any) []string { return ocsf.check(m) }

	for _, m := range []string{"ecs", "cim", "ocsf"} {
		w := want[m]
		targets := mappingTargets(t, distPath(t, "siem", m+".yaml"))
		var rec, fin plog.LogRecord
		var gotRec, gotFin bool
		records, findings, gkeOut, blindSpots := 0, 0, 0, 0
		for _, r := range readOTLPRecords(t, filepath.Join(dir, m+".json")) {
			lr := r.LogRecord
			a := lr.Attributes()
			name, _ := a.Get(attr.K8sPodName)
			rule, _ := a.Get("podtrail.rule.id")
			what := fmt.Sprintf("%s %s %s/%s", m, lr.EventName(), name.Str(), rule.Str())
			switch lr.EventName() {
			case attr.EventPodCreation:
				records++
			case attr.EventFinding:
				findings++
			default:
				continue
			}
			res := r.Resource.AsRaw()
			if res[attr.K8sClusterName] == "gke-prod" {
				gkeOut++
				if !reflect.DeepEqual(res, gkeRes) {
					t.Errorf("%s: resource %v, want %v", what, res, gkeRes)
				}
			} else if !reflect.DeepEqual(res, demoRes) {
				t.Errorf("%s: resource %v, want %v", what, res, demoRes)
			}
			mapped := mappedAttrs(a.AsRaw(), targets)
			if _, ok := a.Get(attr.BlindSpotKind); ok {
				// a blind spot has no pod: its id is the rule, the state and since when
				idKey := map[string]string{"ecs": "event.id", "cim": "id", "ocsf": "finding_info.uid"}[m]
				prefix := map[string]string{"audit_silence": "PT-0901:blind:", "audit_stage_gap": "PT-0905:blind:"}[fmt.Sprint(a.AsRaw()[attr.BlindSpotKind])]
				if id := fmt.Sprint(mapped[idKey]); prefix == "" || !strings.HasPrefix(id, prefix) || strings.Contains(id, "<nil>") {
					t.Errorf("%s: blind spot %s = %q", what, idKey, id)
				}
				if m == "ecs" && mapped["event.action"] != "podtrail-blind-spot" {
					t.Errorf("%s: blind spot event.action = %v", what, mapped["event.action"])
				}
				blindSpots++
			}
			for _, e := range schemas[m](lr, mapped) {
				t.Errorf("%s: %s", what, e)
			}
			for _, e := range vocabulary(m, lr, res, mapped) {
				t.Errorf("%s: %s", what, e)
			}
			if name.Str() != "kube-proxy-x7b2q" {
				continue
			}
			switch {
			case lr.EventName() == attr.EventPodCreation:
				rec, gotRec = lr, true
			case rule.Str() == "PT-0002":
				fin, gotFin = lr, true
			}
		}
		t.Logf("%s: %d records and %d findings checked against the schema (%d of GKE cluster gke-prod)", m, records, findings, gkeOut)
		if records != 13 || findings < 20 || gkeOut < 2 {
			t.Errorf("%s: %d records, %d findings, %d of the GKE cluster (a record and its findings)", m, records, findings, gkeOut)
		}
		if blindSpots == 0 {
			t.Errorf("%s: no blind-spot finding checked", m)
		}
		if !gotRec || !gotFin {
			t.Fatalf("%s: record %v, PT-0002 finding %v", m, gotRec, gotFin)
		}
		for _, c := range []struct {
			lr   plog.LogRecord
			want map[string]string
		}{{rec, w.record}, {fin, w.finding}} {
			for k, v := range c.want {
				got, ok := c.lr.Attributes().Get(k)
				if !ok || got.AsString() != v {
					t.Errorf("%s %s: %s = %q, want %q", m, c.lr.EventName(), k, got.AsString(), v)
				}
			}
		}
	}
}

// vocabulary checks what each SIEM mapping must carry beyond the schema:
// the cluster on every output; on a finding, its ATT&CK technique and
// tactic in the SIEM's own fields whenever the rule names a technique, the
// alert's kind, severity and target.
func vocabulary(m string, lr plog.LogRecord, res, mapped map[string]any) []string {
	var errs []string
	a := lr.Attributes().AsRaw()
	finding := lr.EventName() == attr.EventFinding
	hasTechnique := a["podtrail.rule.mitre.technique.id"] != nil
	need := func(keys ...string) {
		for _, k := range keys {
			if isEmpty(mapped[k]) {
				errs = append(errs, k+" missing")
			}
		}
	}
	equal := func(k string, v any) {
		if fmt.Sprint(mapped[k]) != fmt.Sprint(v) {
			errs = append(errs, fmt.Sprintf("%s = %v, want %v", k, mapped[k], v))
		}
	}
	switch m {
	case "ecs":
		equal("orchestrator.cluster.name", res[attr.K8sClusterName])
		if res[attr.K8sClusterUID] != nil {
			equal("orchestrator.cluster.id", res[attr.K8sClusterUID])
		}
		if res[attr.CloudProvider] != nil {
			equal("cloud.provider", res[attr.CloudProvider])
			equal("cloud.account.id", res[attr.CloudAccountID])
			equal("cloud.availability_zone", res[attr.CloudAvailabilityZone])
		}
		need("event.kind", "event.category", "event.type")
		if finding {
			equal("event.kind", "alert")
			need("rule.id", "rule.name", "event.severity")
			if hasTechnique {
				need("threat.framework", "threat.technique.id", "threat.technique.name", "threat.tactic.id", "threat.tactic.name")
				equal("threat.technique.id", a["podtrail.rule.mitre.technique.id"])
			}
		}
	case "cim":
		equal("dest", res[attr.K8sClusterName])
		if res[attr.CloudAccountID] != nil {
			equal("vendor_account", res[attr.CloudAccountID])
			equal("vendor_region", res[attr.CloudRegion])
		}
		if finding {
			need("severity", "dest")
			if hasTechnique {
				need("mitre_technique_id")
				equal("mitre_technique_id", a["podtrail.rule.mitre.techniques"])
			}
		}
	case "ocsf":
		need("time", "severity_id", "resources", "metadata.version")
		resources, _ := mapped["resources"].([]any)
		cluster := false
		for _, r := range resources {
			if r, ok := r.(map[string]any); ok && r["type"] == "kubernetes_cluster" && r["name"] == res[attr.K8sClusterName] && r["uid"] == res[attr.K8sClusterUID] {
				cluster = true
			}
		}
		if !cluster {
			errs = append(errs, fmt.Sprintf("resources %v: no kubernetes_cluster %v", resources, res[attr.K8sClusterName]))
		}
		if res[attr.CloudProvider] != nil {
			equal("cloud.provider", res[attr.CloudProvider])
			equal("cloud.zone", res[attr.CloudAvailabilityZone])
			if !slices.Contains(asList(mapped["metadata.profiles"]), any("cloud")) {
				errs = append(errs, fmt.Sprintf("metadata.profiles %v without cloud", mapped["metadata.profiles"]))
			}
		}
		if finding {
			need("finding_info.uid", "finding_info.title", "finding_info.analytic.uid", "finding_info.analytic.name")
			if hasTechnique {
				need("finding_info.attacks")
				for _, x := range asList(mapped["finding_info.attacks"]) {
					at, _ := x.(map[string]any)
					if at["technique"] == nil || at["tactic"] == nil {
						errs = append(errs, fmt.Sprintf("finding_info.attacks: %v without technique and tactic", at))
					}
				}
			}
		}
	}
	return errs
}

// otlpRecord is a log record with its resource's attributes.
type otlpRecord struct {
	plog.LogRecord
	Resource pcommon.Map
}

// readOTLPRecords reads the file exporter's OTLP JSON lines, each log
// record with its resource.
func readOTLPRecords(t *testing.T, path string) []otlpRecord {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []otlpRecord
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(line))
		if err != nil {
			continue // a line being written
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, otlpRecord{lrs.At(k), rl.Resource().Attributes()})
				}
			}
		}
	}
	return out
}
