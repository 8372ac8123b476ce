package testbed

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/attr"
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
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation, transform/ecs]
      exporters: [file/ecs]
    logs/cim:
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation, transform/cim]
      exporters: [file/cim]
    logs/ocsf:
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation, transform/ocsf]
      exporters: [file/ocsf]
`

// TestSIEMMappings runs the demo through the shipped field mappings
// (distributions/otelcol-podtrail/siem: ECS, Splunk CIM, OCSF) and checks
// that person-made kube-proxy-x7b2q's record and its PT-0002 finding carry
// each vocabulary's fields with the right values.
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
	procs := cfg["processors"].(map[string]any)
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
	p := Start(t, bin, path, "OUT="+dir, "DEMO="+distPath(t, "demo"), "RULES="+distPath(t, "rules"))
	WaitFor(t, 60*time.Second, "the three outputs", func() bool {
		for _, m := range []string{"ecs", "cim", "ocsf"} {
			if len(readOTLPFile(t, filepath.Join(dir, m+".json"))) < 36 {
				return false
			}
		}
		return true
	})
	p.Stop(t)

	want := map[string]struct{ record, finding map[string]string }{
		"ecs": {
			record: map[string]string{"event.kind": "event", "event.action": "pod-create", "event.outcome": "success", "event.category": `["configuration"]`,
				"orchestrator.namespace": "kube-system", "orchestrator.resource.name": "kube-proxy-x7b2q", "host.name": "node-a", "source.ip": "203.0.113.45"},
			finding: map[string]string{"event.kind": "alert", "rule.id": "PT-0002", "rule.name": "Pod name imitates a system or approved workload", "event.severity": "99"},
		},
		"cim": {
			record:  map[string]string{"action": "created", "status": "success", "object": "kube-proxy-x7b2q", "object_path": "kube-system/kube-proxy-x7b2q", "user": "alice@example.com", "vendor_product": "podtrail"},
			finding: map[string]string{"type": "alert", "signature_id": "PT-0002", "severity": "critical", "object_path": "kube-system/kube-proxy-x7b2q"},
		},
		"ocsf": {
			record: map[string]string{"class_uid": "6003", "type_uid": "600301", "activity_id": "1", "status_id": "1", "actor.user.name": "alice@example.com",
				"api.operation": "create", "resources.name": "kube-proxy-x7b2q"},
			finding: map[string]string{"class_uid": "2004", "type_uid": "200401", "severity_id": "5", "finding_info.analytic.uid": "PT-0002"},
		},
	}
	for m, w := range want {
		var rec, fin plog.LogRecord
		var gotRec, gotFin bool
		for _, lr := range readOTLPFile(t, filepath.Join(dir, m+".json")) {
			name, _ := lr.Attributes().Get(attr.K8sPodName)
			if name.Str() != "kube-proxy-x7b2q" {
				continue
			}
			rule, _ := lr.Attributes().Get("podtrail.rule.id")
			switch {
			case lr.EventName() == attr.EventPodCreation:
				rec, gotRec = lr, true
			case rule.Str() == "PT-0002":
				fin, gotFin = lr, true
			}
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

// readOTLPFile reads the file exporter's OTLP JSON lines.
func readOTLPFile(t *testing.T, path string) []plog.LogRecord {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []plog.LogRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(sc.Bytes())
		if err != nil {
			continue // a line being written
		}
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}
