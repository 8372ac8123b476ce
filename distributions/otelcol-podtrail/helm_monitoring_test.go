// SPDX-License-Identifier: Apache-2.0

package otelcolpodtrail

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/testbed"
)

// What users expect of the chart values besides the collector: labels,
// tolerations, Prometheus Operator objects whose alerts use the metric names
// the components really emit, a PodDisruptionBudget and a NetworkPolicy that
// admits each port's own clients. make helm-test runs these (TestHelm*).

// toleratesEveryTaint: a toleration without key, of operator Exists and
// without effect, matches every taint (Kubernetes' ToleratesTaint).
func toleratesEveryTaint(pod object) bool {
	for _, taint := range []struct{ key, value, effect string }{
		{"node-role.kubernetes.io/control-plane", "", "NoSchedule"},
		{"node-role.kubernetes.io/master", "", "NoSchedule"},
		{"nvidia.com/gpu", "present", "NoSchedule"},
		{"dedicated", "payments", "NoExecute"},
		{"node.kubernetes.io/not-ready", "", "NoExecute"},
		{"node.kubernetes.io/disk-pressure", "", "NoSchedule"},
		{"spot", "true", "PreferNoSchedule"},
	} {
		ok := false
		for _, tol := range list(pod, "tolerations") {
			effect, key, op := str(tol, "effect"), str(tol, "key"), str(tol, "operator")
			if effect != "" && effect != taint.effect {
				continue
			}
			if key != "" && key != taint.key {
				continue
			}
			switch op {
			case "Exists":
				ok = ok || dig(tol, "tolerationSeconds") == nil
			case "", "Equal":
				ok = ok || key != "" && str(tol, "value") == taint.value && dig(tol, "tolerationSeconds") == nil
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestHelmTolerations(t *testing.T) {
	h := helmSetup(t)
	for _, v := range []string{"helm/values-agent.yaml", "helm/values-agent-loadbalancing.yaml"} {
		r := h.template(t, "podtrail-agent", "podtrail", "-f", v)
		pod := dig(only(t, r, "DaemonSet"), "spec", "template", "spec").(object)
		if !toleratesEveryTaint(pod) {
			t.Errorf("%s: the agent does not tolerate every taint (control plane, GPU, dedicated NoExecute, not-ready, spot): %v", v, list(pod, "tolerations"))
		}
	}
}

// TestHelmLabels: every object carries the chart's labels naming podtrail,
// and the pods podtrail's part-of, component and version (the image's tag).
func TestHelmLabels(t *testing.T) {
	h := helmSetup(t)
	for _, tc := range []struct{ values, release, kind, component string }{
		{"helm/values-gateway.yaml", "podtrail-gateway", "StatefulSet", "gateway"},
		{"helm/values-agent.yaml", "podtrail-agent", "DaemonSet", "agent"},
		{"helm/values-agent-loadbalancing.yaml", "podtrail-agent", "DaemonSet", "agent"},
	} {
		t.Run(filepath.Base(tc.values), func(t *testing.T) {
			objs := h.template(t, tc.release, "podtrail", "-f", tc.values)
			for _, o := range objs {
				l := dig(o, "metadata", "labels")
				want := map[string]string{
					"helm.sh/chart":                "opentelemetry-collector-" + chartVersion,
					"app.kubernetes.io/name":       "podtrail",
					"app.kubernetes.io/instance":   tc.release,
					"app.kubernetes.io/managed-by": "Helm",
				}
				for k, v := range want {
					if got := str(l, k); got != v {
						t.Errorf("%s %s: label %s=%q, want %q", o["kind"], str(o, "metadata", "name"), k, got, v)
					}
				}
			}
			w := only(t, objs, tc.kind)
			pl := dig(w, "spec", "template", "metadata", "labels")
			c := list(dig(w, "spec", "template", "spec"), "containers")[0]
			_, tag, _ := strings.Cut(str(c, "image"), ":")
			for k, v := range map[string]string{
				"app.kubernetes.io/name":      "podtrail",
				"app.kubernetes.io/instance":  tc.release,
				"app.kubernetes.io/part-of":   "podtrail",
				"app.kubernetes.io/component": tc.component,
				"app.kubernetes.io/version":   tag,
			} {
				if got := str(pl, k); got != v {
					t.Errorf("pod label %s=%q, want %q", k, got, v)
				}
			}
			// the workload selects its pods by the chart's selector labels
			for k, v := range dig(w, "spec", "selector", "matchLabels").(map[string]any) {
				if str(pl, k) != v {
					t.Errorf("selector %s=%v does not match the pod's labels", k, v)
				}
			}
		})
	}
}

// metricRef is an otelcol_* name in a PromQL expression.
var metricRef = regexp.MustCompile(`\botelcol_[a-z0-9_]+`)

// componentMetrics reads the telemetry metrics of every component's
// metadata.yaml: name (without otelcol_) → monotonic sum or not.
func componentMetrics(t *testing.T, root string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "metadata.yaml"))
	out := map[string]bool{}
	for _, f := range files {
		var md struct {
			Telemetry struct {
				Metrics map[string]struct {
					Sum *struct {
						Monotonic bool `yaml:"monotonic"`
					} `yaml:"sum"`
				} `yaml:"metrics"`
			} `yaml:"telemetry"`
		}
		if err := yaml.Unmarshal(mustRead(t, f), &md); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for name, m := range md.Telemetry.Metrics {
			// mdatagen names them with or without the otelcol_ prefix the
			// collector's telemetry adds
			out[strings.TrimPrefix(name, "otelcol_")] = m.Sum != nil && m.Sum.Monotonic
		}
	}
	if len(out) == 0 {
		t.Fatal("no component metrics found in */*/metadata.yaml")
	}
	return out
}

// componentSources is the Go source of the receivers and processors (not
// tests), where a metric not (yet) in metadata.yaml is registered by name.
func componentSources(t *testing.T, root string) []byte {
	t.Helper()
	var all []byte
	for _, pattern := range []string{"receiver/*/*.go", "processor/*/*.go", "receiver/*/internal/*/*.go", "processor/*/internal/*/*.go"} {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				all = append(all, mustRead(t, f)...)
			}
		}
	}
	return all
}

// TestHelmMonitoring: the gateway's ServiceMonitor and the agents'
// PodMonitor scrape the port the collector's metrics listen on; every alert
// of podtrail's PrometheusRule group names metrics the components (their
// metadata.yaml or code) or the collector emit, by the name a running
// collector's /metrics has: counters without _total.
func TestHelmMonitoring(t *testing.T) {
	h := helmSetup(t)
	root := testbed.Root(t)
	bin := testbed.Collector(t)

	gw := h.render(t, "podtrail-gateway", "StatefulSet", "helm/values-gateway.yaml")
	readerPort := func(r rendered) string {
		return fmt.Sprint(dig(list(r.config, "service", "telemetry", "metrics", "readers")[0], "pull", "exporter", "prometheus", "port"))
	}
	svc := only(t, gw.objs, "Service")
	sm := only(t, gw.objs, "ServiceMonitor")
	for k, v := range dig(sm, "spec", "selector", "matchLabels").(map[string]any) {
		if str(svc, "metadata", "labels", k) != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the gateway's Service does not have", k, v)
		}
	}
	for _, ep := range list(sm, "spec", "endpoints") {
		sp := dig(svc, "spec", "ports", "["+str(ep, "port")+"]")
		if sp == nil || fmt.Sprint(dig(sp, "targetPort")) != readerPort(gw) {
			t.Errorf("ServiceMonitor endpoint %v: Service port %v, the collector's metrics listen on %s", ep, sp, readerPort(gw))
		}
	}
	for _, v := range []string{"helm/values-agent.yaml", "helm/values-agent-loadbalancing.yaml"} {
		ag := h.render(t, "podtrail-agent", "DaemonSet", v)
		pm := only(t, ag.objs, "PodMonitor")
		podLabels := dig(ag.workload, "spec", "template", "metadata", "labels")
		for k, val := range dig(pm, "spec", "selector", "matchLabels").(map[string]any) {
			if str(podLabels, k) != val {
				t.Errorf("%s: the PodMonitor selects %s=%v, which the agent's pods do not have", v, k, val)
			}
		}
		for _, ep := range list(pm, "spec", "podMetricsEndpoints") {
			cp := dig(ag.container, "ports", "["+str(ep, "port")+"]")
			if cp == nil || fmt.Sprint(dig(cp, "containerPort")) != readerPort(ag) {
				t.Errorf("%s: PodMonitor endpoint %v: container port %v, the metrics listen on %s", v, ep, cp, readerPort(ag))
			}
		}
	}

	// The alerts and the metric names in them.
	pr := only(t, gw.objs, "PrometheusRule")
	var podtrail []any
	groups := map[string]bool{}
	for _, g := range list(pr, "spec", "groups") {
		groups[str(g, "name")] = true
		if str(g, "name") == "podtrail" {
			podtrail = list(g, "rules")
		}
	}
	// the chart's defaultRules name otelcol_*_total series, which the
	// collector does not export (checked against /metrics below)
	if groups["collectorRules"] {
		t.Error("the chart's collectorRules are on: their otelcol_*_total series do not exist")
	}
	alerts := map[string]string{}
	for _, r := range podtrail {
		alerts[str(r, "alert")] = str(r, "expr")
		if sev := str(r, "labels", "severity"); sev != "warning" && sev != "critical" {
			t.Errorf("alert %s: severity %q", str(r, "alert"), sev)
		}
		if str(r, "annotations", "description") == "" || str(r, "annotations", "summary") == "" {
			t.Errorf("alert %s without summary or description", str(r, "alert"))
		}
	}
	for _, a := range []string{"PodtrailRulesStale", "PodtrailWebhookRefusals", "PodtrailPendingEvicted", "PodtrailLateEvents",
		"PodtrailRecordsDropped", "PodtrailReceiverRefused", "PodtrailExportFailing"} {
		if alerts[a] == "" {
			t.Errorf("no alert %s (alerts: %v)", a, alerts)
		}
	}
	known := componentMetrics(t, root)
	code := componentSources(t, root)
	used := map[string]bool{}
	for a, expr := range alerts {
		for _, m := range metricRef.FindAllString(expr, -1) {
			used[m] = true
			base := strings.TrimSuffix(strings.TrimPrefix(m, "otelcol_"), "_total")
			_, ok := known[base]
			core := strings.HasPrefix(m, "otelcol_receiver_") || strings.HasPrefix(m, "otelcol_exporter_")
			switch {
			case strings.HasSuffix(m, "_total"):
				t.Errorf("alert %s: %s: the collector exports counters without _total", a, m)
			case !ok && !core && !bytes.Contains(code, []byte(`"otelcol_`+base+`"`)) && !bytes.Contains(code, []byte(`"`+base+`"`)):
				t.Errorf("alert %s: %s is no component's metric (metadata.yaml, or registered in its code)", a, m)
			}
		}
	}

	// A real collector: the demo through the audit file and node_runtime,
	// max_pending 1 (evictions, late events), a body the webhook cannot read
	// (a refusal), and its /metrics scraped.
	dir := t.TempDir()
	webhook, metrics, closed := freeAddr(t), freeAddr(t), freeAddr(t)
	mhost, mport, _ := net.SplitHostPort(metrics)
	cfg := filepath.Join(dir, "config.yaml")
	demo := filepath.Join(root, "distributions", "otelcol-podtrail")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
receivers:
  k8s_audit:
    webhook:
      endpoint: %s
      path: /audit
    file:
      include: [%s/demo/audit.log]
      start_at: beginning
  node_runtime:
    file:
      include: [%s/demo/nodes/*.log]
      start_at: beginning
    year: 2026
processors:
  pod_creation:
    rules_file: %s/rules/rules.yaml
    inventory_file: %s/rules/inventory.yaml
    correlation:
      expect: [audit, scheduler, node]
      window: 2s
      max_pending: 1
exporters:
  debug:
    verbosity: basic
  # a backend that is not there: queue size and capacity, failed sends
  otlp_http:
    endpoint: http://%s
    sending_queue:
      enabled: true
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: %s
                port: %s
  pipelines:
    logs:
      receivers: [k8s_audit, node_runtime]
      processors: [pod_creation]
      exporters: [debug, otlp_http]
`, webhook, demo, demo, demo, demo, closed, mhost, mport)), 0o600); err != nil {
		t.Fatal(err)
	}
	testbed.StartReady(t, bin, cfg)
	resp, err := http.Post("http://"+webhook+"/audit", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	scraped := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for !func() bool {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		sc := bufio.NewScanner(&body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "otelcol_") {
				name, _, _ := strings.Cut(l, "{")
				name, _, _ = strings.Cut(name, " ")
				scraped[name] = true
				if strings.Contains(l, `reason="evicted"`) {
					scraped[name+`{reason="evicted"}`] = true
				}
				if strings.Contains(l, `input="webhook"`) {
					scraped[name+`{input="webhook"}`] = true
				}
			}
		}
		return scraped["otelcol_pod_creation_late"] && scraped[`otelcol_pod_creation_partial{reason="evicted"}`] &&
			scraped[`otelcol_k8s_audit_rejected{input="webhook"}`] && scraped["otelcol_receiver_refused_log_records"] &&
			scraped["otelcol_exporter_send_failed_log_records"]
	}() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	names := []string{}
	for m := range scraped {
		names = append(names, m)
	}
	slices.Sort(names)
	t.Logf("otelcol_ names in the running collector's /metrics: %v", names)
	seen := 0
	for _, m := range slices.Sorted(func(yield func(string) bool) {
		for m := range used {
			if !yield(m) {
				return
			}
		}
	}) {
		if scraped[m] {
			seen++
			t.Logf("%s: in the running collector's /metrics", m)
		} else {
			t.Logf("%s: not produced by this run (named by its component's metadata.yaml or code, or the collector's)", m)
		}
	}
	for _, m := range []string{"otelcol_pod_creation_rules_stale", "otelcol_pod_creation_records", "otelcol_pod_creation_late",
		`otelcol_pod_creation_partial{reason="evicted"}`, `otelcol_k8s_audit_rejected{input="webhook"}`, "otelcol_receiver_refused_log_records",
		"otelcol_exporter_send_failed_log_records", "otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity"} {
		if !scraped[m] {
			t.Errorf("%s not in the running collector's /metrics", m)
		}
	}
	for m := range scraped {
		if strings.HasSuffix(m, "_total") {
			t.Errorf("%s: the collector exports a _total name after all; the alerts name them without", m)
		}
	}
	fmt.Printf("PrometheusRule podtrail: %d alerts, %d metric names, %d of them seen in a running collector's /metrics, none unknown\n",
		len(alerts), len(used), seen)
}

// TestHelmNetworkPolicy: the gateway's NetworkPolicy admits the webhook's
// port from an ipBlock only (the kube-apiserver), OTLP from the agents' pods
// only, the metrics from the monitoring namespace, nothing else; and the
// chart's own (every port from the same sources) is off.
func TestHelmNetworkPolicy(t *testing.T) {
	h := helmSetup(t)
	gw := h.render(t, "podtrail-gateway", "StatefulSet", "helm/values-gateway.yaml")
	np := only(t, gw.objs, "NetworkPolicy")
	podLabels := dig(gw.workload, "spec", "template", "metadata", "labels")
	for k, v := range dig(np, "spec", "podSelector", "matchLabels").(map[string]any) {
		if str(podLabels, k) != v {
			t.Errorf("the NetworkPolicy selects %s=%v, which the gateway's pods do not have", k, v)
		}
	}
	if fmt.Sprint(list(np, "spec", "policyTypes")) != "[Ingress]" {
		t.Errorf("policyTypes %v", list(np, "spec", "policyTypes"))
	}
	agent := h.render(t, "podtrail-agent", "DaemonSet", "helm/values-agent.yaml")
	agentLabels := dig(agent.workload, "spec", "template", "metadata", "labels")
	_, webhookPort := splitEndpoint(str(gw.config, "receivers", "k8s_audit", "webhook", "endpoint"))
	_, otlpPort := splitEndpoint(str(gw.config, "receivers", "otlp", "protocols", "grpc", "endpoint"))
	byPort := map[string][]any{}
	for _, rule := range list(np, "spec", "ingress") {
		ports := list(rule, "ports")
		if len(ports) != 1 || len(list(rule, "from")) == 0 {
			t.Errorf("ingress rule %v: want one port and its sources", rule)
			continue
		}
		byPort[fmt.Sprint(dig(ports[0], "port"))] = list(rule, "from")
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for p := range byPort {
			if !yield(p) {
				return
			}
		}
	}); !slices.Equal(got, []string{otlpPort, webhookPort, "8888"}) {
		t.Errorf("ports admitted %v, want the webhook's %s, OTLP's %s and the metrics' 8888", got, webhookPort, otlpPort)
	}
	for _, from := range byPort[webhookPort] {
		if dig(from, "ipBlock", "cidr") == nil || dig(from, "podSelector") != nil || dig(from, "namespaceSelector") != nil {
			t.Errorf("webhook source %v: the kube-apiserver (host network) is an ipBlock", from)
		}
	}
	for _, from := range byPort[otlpPort] {
		sel, _ := dig(from, "podSelector", "matchLabels").(map[string]any)
		if len(sel) == 0 || dig(from, "ipBlock") != nil || dig(from, "namespaceSelector") != nil {
			t.Errorf("OTLP source %v: want the agents' pods of this namespace only", from)
		}
		for k, v := range sel {
			if str(agentLabels, k) != v {
				t.Errorf("OTLP source selects %s=%v, which the agents' pods do not have", k, v)
			}
		}
		if str(podLabels, "app.kubernetes.io/component") == str(sel, "app.kubernetes.io/component") {
			t.Error("the OTLP source selects the gateway's own pods")
		}
	}
	for _, o := range gw.objs {
		if o["kind"] == "NetworkPolicy" && str(o, "metadata", "name") != "podtrail-gateway" {
			t.Errorf("a second NetworkPolicy %s", str(o, "metadata", "name"))
		}
	}
	pdb := only(t, gw.objs, "PodDisruptionBudget")
	if fmt.Sprint(dig(pdb, "spec", "maxUnavailable")) != "1" {
		t.Errorf("PodDisruptionBudget %v: want maxUnavailable 1", dig(pdb, "spec"))
	}
	for k, v := range dig(pdb, "spec", "selector", "matchLabels").(map[string]any) {
		if str(podLabels, k) != v {
			t.Errorf("the PodDisruptionBudget selects %s=%v, which the gateway's pods do not have", k, v)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
