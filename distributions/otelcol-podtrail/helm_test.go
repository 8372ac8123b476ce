// SPDX-License-Identifier: Apache-2.0

package otelcolpodtrail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/testbed"
)

// The Helm tests render helm/values-*.yaml with the upstream
// opentelemetry-collector chart and check the manifests: `make helm-test`
// builds helm (bin/helm) and runs them with PODTRAIL_HELM set, and CI runs
// `make helm-test`. Without PODTRAIL_HELM (a plain `go test ./...`) they
// skip when helm or the chart is missing; with it, they fail.
//
//	PODTRAIL_HELM        the helm binary (default: bin/helm)
//	PODTRAIL_OTEL_CHART  the chart (default: ../shared/vendor/helm/opentelemetry-collector-0.170.0 from the repository)
//	KUBECONFIG           with it, the manifests also go through a server-side dry run (TestHelmServerDryRun)

const chartVersion = "0.170.0"

type helmEnv struct{ helm, chart string }

func helmSetup(t *testing.T) helmEnv {
	t.Helper()
	root := testbed.Root(t)
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("PODTRAIL_HELM") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (make helm-test runs these)", args...)
	}
	h := helmEnv{helm: os.Getenv("PODTRAIL_HELM"), chart: os.Getenv("PODTRAIL_OTEL_CHART")}
	if h.helm == "" {
		h.helm = filepath.Join(root, "bin", "helm")
	}
	// go test runs in this directory: relative paths are the repository's
	for _, p := range []*string{&h.helm, &h.chart} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	if _, err := os.Stat(h.helm); err != nil {
		missing("no helm: %v", err)
	}
	if h.chart == "" {
		h.chart = filepath.Join(root, "..", "shared", "vendor", "helm", "opentelemetry-collector-"+chartVersion)
	}
	chart, err := os.ReadFile(filepath.Join(h.chart, "Chart.yaml"))
	if err != nil {
		missing("no opentelemetry-collector chart: %v", err)
	}
	if !strings.Contains(string(chart), "\nversion: "+chartVersion+"\n") {
		t.Fatalf("%s is not opentelemetry-collector %s", h.chart, chartVersion)
	}
	return h
}

// object is one rendered manifest.
type object = map[string]any

func (h helmEnv) template(t *testing.T, release, namespace string, args ...string) []object {
	t.Helper()
	all := append([]string{"template", release, h.chart, "--namespace", namespace, "--kube-version", "1.33.0"}, args...)
	cmd := exec.Command(h.helm, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(all, " "), err, stderr.String())
	}
	return decodeAll(t, out)
}

func decodeAll(t *testing.T, data []byte) []object {
	t.Helper()
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests: %v", err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

// dig walks maps; "[name]" in a list of maps picks the element with that name.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		if strings.HasPrefix(k, "[") {
			l, _ := v.([]any)
			v = nil
			for _, e := range l {
				if m, ok := e.(map[string]any); ok && m["name"] == k[1:len(k)-1] {
					v = m
				}
			}
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, keys ...string) string { s, _ := dig(v, keys...).(string); return s }
func list(v any, keys ...string) []any { l, _ := dig(v, keys...).([]any); return l }

func kinds(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o["kind"].(string))
	}
	slices.Sort(out)
	return out
}

func only(t *testing.T, objs []object, kind string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o["kind"] == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s, want 1 (%v)", len(found), kind, kinds(objs))
	}
	return found[0]
}

// rendered is a workload of one release and what its pod runs.
type rendered struct {
	objs      []object
	workload  object
	pod       object // spec.template.spec
	container object
	relay     []byte         // the collector configuration (ConfigMap key relay)
	config    map[string]any // relay, decoded
	env       map[string]string
}

func (h helmEnv) render(t *testing.T, release, kind, values string) rendered {
	t.Helper()
	r := rendered{objs: h.template(t, release, "podtrail", "-f", values)}
	r.workload = only(t, r.objs, kind)
	r.pod = dig(r.workload, "spec", "template", "spec").(object)
	cs := list(r.pod, "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	r.container = cs[0].(object)
	cm := only(t, r.objs, "ConfigMap")
	if str(r.pod, "volumes", "[opentelemetry-collector-configmap]", "configMap", "name") != str(cm, "metadata", "name") {
		t.Fatal("the pod does not mount the rendered ConfigMap")
	}
	r.relay = []byte(str(cm, "data", "relay"))
	if err := yaml.Unmarshal(r.relay, &r.config); err != nil {
		t.Fatalf("relay: %v", err)
	}
	// The pod's environment: values, and stand-ins for the downward API.
	r.env = map[string]string{}
	for _, e := range list(r.container, "env") {
		name := str(e, "name")
		switch {
		case dig(e, "value") != nil:
			r.env[name] = fmt.Sprint(dig(e, "value"))
		case str(e, "valueFrom", "fieldRef", "fieldPath") == "status.podIP":
			r.env[name] = "127.0.0.1"
		case str(e, "valueFrom", "fieldRef", "fieldPath") == "spec.nodeName":
			r.env[name] = "node-a"
		default:
			r.env[name] = "x"
		}
	}
	return r
}

// checkCommon checks what agent and gateway share: the image and command,
// the configuration (the shipped config file, and valid in the pod's
// environment), probes on health_check, no host ports, no RBAC beyond want.
func (r rendered) checkCommon(t *testing.T, bin, configFile, tag string) {
	t.Helper()
	if img := str(r.container, "image"); img != "ghcr.io/podtrail/otelcol-podtrail:"+tag {
		t.Errorf("image %s", img)
	}
	if cmd := fmt.Sprint(list(r.container, "command")); cmd != "[/otelcol-podtrail]" {
		t.Errorf("command %s, want the image's /otelcol-podtrail", cmd)
	}
	// The relay is the shipped configuration, as parsed YAML.
	var want map[string]any
	if err := yaml.Unmarshal(mustRead(t, configFile), &want); err != nil {
		t.Fatal(err)
	}
	if got := normalize(r.config); !reflect.DeepEqual(got, normalize(want)) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(normalize(want))
		t.Errorf("the rendered configuration is not %s:\n--- rendered\n%s\n--- %s\n%s", configFile, g, configFile, w)
	}
	// Valid, with exactly the pod's environment.
	p := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(p, r.relay, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, bin, p, r.env); err != nil {
		t.Error(err)
	}
	// Probes on the health_check port.
	_, hcPort := splitEndpoint(str(r.config, "extensions", "health_check", "endpoint"))
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if port := fmt.Sprint(dig(r.container, probe, "httpGet", "port")); port != hcPort {
			t.Errorf("%s on port %s, health_check listens on %s", probe, port, hcPort)
		}
	}
	for _, port := range list(r.container, "ports") {
		if dig(port, "hostPort") != nil {
			t.Errorf("host port %v", port)
		}
	}
	for _, k := range []string{"ClusterRole", "ClusterRoleBinding"} {
		if slices.Contains(kinds(r.objs), k) {
			t.Errorf("renders a %s", k)
		}
	}
	if r.pod["hostNetwork"] == true || r.pod["hostPID"] == true {
		t.Error("host network or PID namespace")
	}
	sc := dig(r.container, "securityContext")
	if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false || dig(sc, "privileged") == true ||
		fmt.Sprint(list(sc, "capabilities", "drop")) != "[ALL]" || len(list(sc, "capabilities", "add")) > 0 {
		t.Errorf("container securityContext %v: want a read-only root, no privilege escalation, every capability dropped", sc)
	}
	if str(r.pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Error("no RuntimeDefault seccomp profile")
	}
	for _, m := range list(r.container, "volumeMounts") {
		if dig(m, "subPath") != nil {
			t.Errorf("volume mount with subPath %v: the kubelet's updates would not reach it", m)
		}
	}
}

// normalize makes numbers comparable (Helm's toYaml writes what it read as
// float64).
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	case int:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}

func splitEndpoint(ep string) (host, port string) {
	i := strings.LastIndex(ep, ":")
	if i < 0 {
		return ep, ""
	}
	return ep[:i], ep[i+1:]
}

// mountFor returns the volume mount under which p is, and its volume.
func (r rendered) mountFor(p string) (mount, volume object) {
	best := ""
	for _, m := range list(r.container, "volumeMounts") {
		mp := str(m, "mountPath")
		if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, mount = mp, m.(object)
		}
	}
	if mount == nil {
		return nil, nil
	}
	v, _ := dig(r.pod, "volumes", "["+str(mount, "name")+"]").(object)
	return mount, v
}

// globDir is the directory a glob's matches are in.
func globDir(p string) string {
	if i := strings.IndexAny(p, "*?[{"); i >= 0 {
		return path.Dir(p[:i] + "x")
	}
	return p
}

func TestHelmAgent(t *testing.T) {
	h := helmSetup(t)
	bin := testbed.Collector(t)
	for _, tc := range []struct{ values, config string }{
		{"helm/values-agent.yaml", "config/agent.yaml"},
		{"helm/values-agent-loadbalancing.yaml", "config/agent-loadbalancing.yaml"},
	} {
		t.Run(filepath.Base(tc.values), func(t *testing.T) {
			r := h.render(t, "podtrail-agent", "DaemonSet", tc.values)
			r.checkCommon(t, bin, tc.config, "0.1.0-agent")
			lb := strings.Contains(tc.values, "loadbalancing")
			want := []string{"ConfigMap", "DaemonSet", "PodMonitor", "ServiceAccount"}
			if lb {
				want = []string{"ConfigMap", "DaemonSet", "PodMonitor", "Role", "RoleBinding", "ServiceAccount"}
			}
			if got := kinds(r.objs); !slices.Equal(got, want) {
				t.Errorf("renders %v, want %v", got, want)
			}
			// On every node, whatever its taints (control-plane nodes
			// included): TestHelmTolerations.
			if !toleratesEveryTaint(r.pod) {
				t.Errorf("does not tolerate every taint: %v", list(r.pod, "tolerations"))
			}
			// The node's events reach the gateway in the order they were
			// read: one consumer of the disk queue.
			for name, exp := range dig(r.config, "exporters").(map[string]any) {
				if q := dig(exp, "sending_queue"); dig(q, "enabled") == true && fmt.Sprint(dig(q, "num_consumers")) != "1" {
					t.Errorf("exporter %s: sending_queue.num_consumers %v, want 1 (order)", name, dig(q, "num_consumers"))
				}
			}
			if str(r.container, "env", "[K8S_NODE_NAME]", "valueFrom", "fieldRef", "fieldPath") != "spec.nodeName" {
				t.Error("K8S_NODE_NAME is not the downward API's spec.nodeName")
			}
			if str(r.config, "receivers", "node_runtime", "node_name") != "${env:K8S_NODE_NAME}" {
				t.Error("node_runtime does not take its node name from K8S_NODE_NAME")
			}
			// To the gateway over TLS with the agents' token: the token from
			// the Secret the gateway reads, the gateway's certificate checked
			// with ca.crt of its Secret, mounted alone.
			checkAgentToken(t, r)
			otlp := dig(r.config, "exporters", "otlp_grpc")
			if lb {
				otlp = dig(r.config, "exporters", "load_balancing", "protocol", "otlp")
			}
			if str(otlp, "auth", "authenticator") != "bearertokenauth" || dig(otlp, "tls", "insecure") == true {
				t.Errorf("the exporter to the gateway does not send the token over TLS: %v", otlp)
			}
			caFile := str(otlp, "tls", "ca_file")
			if m, v := r.mountFor(caFile); m == nil || path.Base(caFile) != "ca.crt" || dig(m, "readOnly") != true ||
				str(v, "secret", "secretName") != "podtrail-gateway-tls" ||
				fmt.Sprint(list(v, "secret", "items")) != "[map[key:ca.crt path:ca.crt]]" {
				t.Errorf("the gateway's CA %q is not ca.crt alone of Secret podtrail-gateway-tls, read-only: %v %v", caFile, m, v)
			}
			// Every path the configuration reads or writes is the host's,
			// mounted at the same path: logs read-only, the state read-write.
			type need struct {
				path string
				rw   bool
			}
			needs := []need{{str(r.config, "extensions", "file_storage", "directory"), true}}
			for _, recv := range []string{"k8s_audit", "node_runtime"} {
				for _, inc := range list(r.config, "receivers", recv, "file", "include") {
					needs = append(needs, need{globDir(inc.(string)), false})
				}
			}
			if j := dig(r.config, "receivers", "node_runtime", "journald"); j != nil {
				switch {
				case str(j, "directory") != "":
					needs = append(needs, need{str(j, "directory"), false})
				case len(list(j, "files")) > 0:
					for _, f := range list(j, "files") {
						needs = append(needs, need{globDir(f.(string)), false})
					}
				default: // the local journal: journalctl reads these
					needs = append(needs, need{"/var/log/journal", false}, need{"/run/log/journal", false}, need{"/etc/machine-id", false})
				}
			}
			if len(needs) < 4 {
				t.Fatalf("the configuration reads too little: %v", needs)
			}
			for _, n := range needs {
				m, v := r.mountFor(n.path)
				if m == nil || v == nil {
					t.Errorf("%s: not mounted", n.path)
					continue
				}
				if hp := str(v, "hostPath", "path"); hp != str(m, "mountPath") {
					t.Errorf("%s: mounted from %q, want the host's %s", n.path, hp, str(m, "mountPath"))
				}
				if ro := dig(m, "readOnly") == true; ro == n.rw {
					t.Errorf("%s: readOnly=%v", n.path, ro)
				}
				if n.rw && str(v, "hostPath", "type") != "DirectoryOrCreate" {
					t.Errorf("%s: hostPath type %q, want DirectoryOrCreate", n.path, str(v, "hostPath", "type"))
				}
			}
			// The brief's host paths, all reachable (some through /var/log).
			for _, p := range []string{"/var/log/pods", "/var/log/containers", "/var/log/kubernetes/audit", "/var/log/journal", "/run/log/journal", "/etc/machine-id", "/var/lib/podtrail"} {
				if m, v := r.mountFor(p); m == nil || str(v, "hostPath", "path") != str(m, "mountPath") {
					t.Errorf("%s is not the host's", p)
				}
			}
			if !lb {
				if r.pod["automountServiceAccountToken"] != false {
					t.Error("the agent mounts a service account token it has no use for")
				}
				if r.env["PODTRAIL_GATEWAY"] != "podtrail-gateway:4317" {
					t.Errorf("PODTRAIL_GATEWAY %q", r.env["PODTRAIL_GATEWAY"])
				}
				return
			}
			// Scale-out: the k8s resolver reads the gateways' EndpointSlices,
			// with a Role of this namespace bound to the pod's account.
			if r.pod["automountServiceAccountToken"] != true {
				t.Error("the k8s resolver needs the service account token")
			}
			if r.env["PODTRAIL_GATEWAY_SERVICE"] != "podtrail-gateway" {
				t.Errorf("PODTRAIL_GATEWAY_SERVICE %q", r.env["PODTRAIL_GATEWAY_SERVICE"])
			}
			if fmt.Sprint(list(r.config, "exporters", "load_balancing", "routing_attributes")) != "[podtrail.affinity_key]" ||
				str(r.config, "exporters", "load_balancing", "routing_key") != "attributes" {
				t.Error("load_balancing does not route on podtrail.affinity_key")
			}
			role, binding := only(t, r.objs, "Role"), only(t, r.objs, "RoleBinding")
			rules := list(role, "rules")
			if len(rules) != 1 || fmt.Sprint(list(rules[0], "apiGroups"), list(rules[0], "resources"), list(rules[0], "verbs")) !=
				"[discovery.k8s.io] [endpointslices] [get list watch]" {
				t.Errorf("Role rules %v", rules)
			}
			if str(role, "metadata", "namespace") != "podtrail" || str(binding, "roleRef", "name") != str(role, "metadata", "name") ||
				str(list(binding, "subjects")[0], "name") != str(r.pod, "serviceAccountName") {
				t.Error("the RoleBinding does not bind the Role to the agent's service account in its namespace")
			}
		})
	}
	// The two agent values files differ only where scale-out needs it.
	var plain, lb map[string]any
	_ = yaml.Unmarshal(mustRead(t, "helm/values-agent.yaml"), &plain)
	_ = yaml.Unmarshal(mustRead(t, "helm/values-agent-loadbalancing.yaml"), &lb)
	for _, k := range []string{"alternateConfig", "extraEnvs", "extraManifests", "serviceAccount"} {
		delete(plain, k)
		delete(lb, k)
	}
	if !reflect.DeepEqual(plain, lb) {
		t.Error("values-agent.yaml and values-agent-loadbalancing.yaml differ beyond alternateConfig, extraEnvs, extraManifests and serviceAccount")
	}
}

func TestHelmGateway(t *testing.T) {
	h := helmSetup(t)
	bin := testbed.Collector(t)
	r := h.render(t, "podtrail-gateway", "StatefulSet", "helm/values-gateway.yaml")
	r.checkCommon(t, bin, "config/gateway.yaml", "0.1.0")
	if got, want := kinds(r.objs), []string{"ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor", "StatefulSet"}; !slices.Equal(got, want) {
		t.Errorf("renders %v, want %v", got, want)
	}
	if n := dig(r.workload, "spec", "replicas"); fmt.Sprint(n) != "1" {
		t.Errorf("replicas %v, want 1 (the webhook through one Service)", n)
	}
	// No Kubernetes API access at all.
	if r.pod["automountServiceAccountToken"] != false {
		t.Error("the gateway mounts a service account token")
	}
	// Not root.
	psc := dig(r.pod, "securityContext")
	if dig(psc, "runAsNonRoot") != true || fmt.Sprint(dig(psc, "runAsUser")) == "0" || dig(psc, "runAsUser") == nil || dig(psc, "fsGroup") == nil {
		t.Errorf("pod securityContext %v: want runAsNonRoot, a non-zero runAsUser and an fsGroup for the volume", psc)
	}
	// Rules and inventory: the podtrail-rules ConfigMap, mounted as a
	// directory where the configuration reads them.
	rules := path.Dir(str(r.config, "processors", "pod_creation", "rules_file"))
	if inv := path.Dir(str(r.config, "processors", "pod_creation", "inventory_file")); inv != rules {
		t.Errorf("rules in %s, inventory in %s: one ConfigMap holds both", rules, inv)
	}
	m, v := r.mountFor(rules + "/rules.yaml")
	if m == nil || str(m, "mountPath") != rules || str(v, "configMap", "name") != "podtrail-rules" || dig(v, "configMap", "items") != nil {
		t.Errorf("%s is not the podtrail-rules ConfigMap mounted as a directory: %v %v", rules, m, v)
	}
	if reload := str(r.config, "processors", "pod_creation", "reload_interval"); reload == "" || reload == "0" || reload == "0s" {
		t.Error("pod_creation does not reload the rules")
	}
	// TLS: the Secret, mounted as a directory where the webhook reads it.
	webhook := dig(r.config, "receivers", "k8s_audit", "webhook")
	tlsDir := path.Dir(str(webhook, "tls", "cert_file"))
	for _, f := range []string{"key_file", "client_ca_file"} {
		if d := path.Dir(str(webhook, "tls", f)); d != tlsDir {
			t.Errorf("tls %s in %s, cert_file in %s", f, d, tlsDir)
		}
	}
	m, v = r.mountFor(tlsDir + "/tls.crt")
	if m == nil || str(m, "mountPath") != tlsDir || str(v, "secret", "secretName") != "podtrail-gateway-tls" {
		t.Errorf("%s is not the podtrail-gateway-tls Secret: %v %v", tlsDir, m, v)
	}
	// The agents' OTLP: TLS with the same certificate, and their token.
	otlp := dig(r.config, "receivers", "otlp", "protocols", "grpc")
	if str(otlp, "tls", "cert_file") != str(webhook, "tls", "cert_file") || str(otlp, "tls", "key_file") != str(webhook, "tls", "key_file") ||
		str(otlp, "auth", "authenticator") != "bearertokenauth" {
		t.Errorf("the OTLP receiver does not take the agents' token over TLS with the gateway's certificate: %v", otlp)
	}
	if dig(r.config, "receivers", "otlp", "protocols", "http") != nil {
		t.Error("an OTLP/HTTP listener the agents do not use")
	}
	checkAgentToken(t, r)
	// State and queue on the replica's PersistentVolumeClaim.
	storage := str(r.config, "extensions", "file_storage", "directory")
	if str(r.config, "processors", "pod_creation", "correlation", "storage") != "file_storage" ||
		str(r.config, "exporters", "otlp_http", "sending_queue", "storage") != "file_storage" {
		t.Error("correlation state or export queue not in file_storage")
	}
	m, v = r.mountFor(storage)
	claim, _ := dig(r.workload, "spec", "volumeClaimTemplates").([]any)
	if m == nil || v != nil || len(claim) != 1 || str(claim[0], "metadata", "name") != str(m, "name") || dig(m, "readOnly") == true {
		t.Errorf("%s is not a volumeClaimTemplate of the StatefulSet: %v", storage, m)
	}
	// The Service: the webhook on 8443 and OTLP gRPC on 4317, where the
	// receivers listen.
	svc := only(t, r.objs, "Service")
	if str(svc, "metadata", "name") != "podtrail-gateway" {
		t.Errorf("Service %s: the agents' PODTRAIL_GATEWAY(_SERVICE) name podtrail-gateway", str(svc, "metadata", "name"))
	}
	for name, ep := range map[string]string{
		"webhook": str(webhook, "endpoint"),
		"otlp":    str(r.config, "receivers", "otlp", "protocols", "grpc", "endpoint"),
	} {
		_, port := splitEndpoint(ep)
		sp := dig(svc, "spec", "ports", "["+name+"]")
		if fmt.Sprint(dig(sp, "port")) != port || fmt.Sprint(dig(sp, "targetPort")) != port {
			t.Errorf("Service port %s: %v, the receiver listens on %s", name, sp, ep)
		}
		if host, _ := splitEndpoint(ep); host != "${env:MY_POD_IP}" {
			t.Errorf("%s listens on %s, not the pod's IP", name, ep)
		}
	}
	if fmt.Sprint(dig(svc, "spec", "ports", "[webhook]", "port")) != "8443" {
		t.Error("the webhook is not on Service port 8443")
	}
	if r.env["PODTRAIL_EXPORT_ENDPOINT"] == "" {
		t.Error("PODTRAIL_EXPORT_ENDPOINT unset")
	}
}

// checkAgentToken: PODTRAIL_AGENT_TOKEN comes from key token of Secret
// podtrail-agent-token, and the configuration's bearertokenauth reads it.
func checkAgentToken(t *testing.T, r rendered) {
	t.Helper()
	ref := dig(r.container, "env", "[PODTRAIL_AGENT_TOKEN]", "valueFrom", "secretKeyRef")
	if str(ref, "name") != "podtrail-agent-token" || str(ref, "key") != "token" || dig(ref, "optional") == true {
		t.Errorf("PODTRAIL_AGENT_TOKEN is not key token of Secret podtrail-agent-token: %v", dig(r.container, "env", "[PODTRAIL_AGENT_TOKEN]"))
	}
	if str(r.config, "extensions", "bearertokenauth", "token") != "${env:PODTRAIL_AGENT_TOKEN}" ||
		!slices.Contains(list(r.config, "service", "extensions"), any("bearertokenauth")) {
		t.Error("bearertokenauth does not hold PODTRAIL_AGENT_TOKEN, or is not started")
	}
}

// TestHelmSchema: helm template checks the values against the chart's
// values.schema.json; a value of the wrong type is refused.
func TestHelmSchema(t *testing.T) {
	h := helmSetup(t)
	cmd := exec.Command(h.helm, "template", "g", h.chart, "-f", "helm/values-gateway.yaml", "--set", "replicaCount=many")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "schema") {
		t.Fatalf("a string replicaCount was not refused by the chart's schema: %v\n%s", err, out)
	}
}

func TestHelmLint(t *testing.T) {
	h := helmSetup(t)
	for _, v := range []string{"helm/values-agent.yaml", "helm/values-agent-loadbalancing.yaml", "helm/values-gateway.yaml"} {
		out, err := exec.Command(h.helm, "lint", h.chart, "-f", v).CombinedOutput()
		if err != nil || strings.Contains(string(out), "[ERROR]") || strings.Contains(string(out), "[WARNING]") {
			t.Errorf("helm lint -f %s: %v\n%s", v, err, out)
		}
	}
}

// rulesConfigMap runs the generator as the README does.
func rulesConfigMap(t *testing.T, namespace string) []byte {
	t.Helper()
	cmd := exec.Command("go", "run", "./distributions/otelcol-podtrail/helm/rulesconfigmap", "-namespace", namespace)
	cmd.Dir = testbed.Root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rulesconfigmap: %v\n%s", err, stderr.String())
	}
	return out
}

// TestHelmRulesConfigMap: the generated ConfigMap holds the rules pack byte
// for byte, under the name the gateway mounts.
func TestHelmRulesConfigMap(t *testing.T) {
	helmSetup(t)
	objs := decodeAll(t, rulesConfigMap(t, "podtrail"))
	if len(objs) != 1 || objs[0]["kind"] != "ConfigMap" || str(objs[0], "metadata", "name") != "podtrail-rules" ||
		str(objs[0], "metadata", "namespace") != "podtrail" {
		t.Fatalf("not ConfigMap podtrail/podtrail-rules: %v", objs)
	}
	data, _ := dig(objs[0], "data").(map[string]any)
	if len(data) != 2 {
		t.Errorf("keys %v", data)
	}
	for _, f := range []string{"rules.yaml", "inventory.yaml"} {
		if data[f] != string(mustRead(t, filepath.Join("rules", f))) {
			t.Errorf("%s differs from rules/%s", f, f)
		}
	}
}

// TestHelmServerDryRun sends the rendered manifests and the rules ConfigMap
// to the kube-apiserver of KUBECONFIG (current context) as server-side apply
// dry runs (?dryRun=All): the API server's own validation and admission,
// nothing stored. Namespace: default, or PODTRAIL_DRYRUN_NAMESPACE.
func TestHelmServerDryRun(t *testing.T) {
	h := helmSetup(t)
	if os.Getenv("KUBECONFIG") == "" {
		t.Skip("KUBECONFIG not set: no API server to dry-run against")
	}
	api, err := newAPIClient(strings.Split(os.Getenv("KUBECONFIG"), string(os.PathListSeparator))[0])
	if err == nil {
		_, err = api.get("/version")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("KUBECONFIG: %v", err)
		}
		t.Skipf("KUBECONFIG set but the API server is not reachable: %v", err)
	}
	ns := os.Getenv("PODTRAIL_DRYRUN_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	var objs []object
	objs = append(objs, decodeAll(t, rulesConfigMap(t, ns))...)
	objs = append(objs, h.template(t, "podtrail-agent", ns, "-f", "helm/values-agent.yaml")...)
	objs = append(objs, h.template(t, "podtrail-agent", ns, "-f", "helm/values-agent-loadbalancing.yaml")...)
	objs = append(objs, h.template(t, "podtrail-gateway", ns, "-f", "helm/values-gateway.yaml")...)
	for _, o := range objs {
		name := fmt.Sprintf("%s %s", o["kind"], str(o, "metadata", "name"))
		if err := api.dryRunApply(o, ns); err != nil {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: accepted (dry run)", name)
		}
	}
}

// apiClient is the little of a Kubernetes client a dry run needs: a
// kubeconfig's current context (certificates or token; not exec plugins),
// discovery, and server-side apply.
type apiClient struct {
	server    string
	token     string
	http      *http.Client
	resources map[string][]apiResource // by group/version
}

type apiResource struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Namespaced bool   `json:"namespaced"`
}

func newAPIClient(kubeconfig string) (*apiClient, error) {
	var kc struct {
		CurrentContext string `yaml:"current-context"`
		Contexts       []struct {
			Name    string
			Context struct{ Cluster, User string }
		}
		Clusters []struct {
			Name    string
			Cluster struct {
				Server        string
				CA            string `yaml:"certificate-authority"`
				CAData        string `yaml:"certificate-authority-data"`
				Insecure      bool   `yaml:"insecure-skip-tls-verify"`
				TLSServerName string `yaml:"tls-server-name"`
			}
		}
		Users []struct {
			Name string
			User struct {
				Token     string
				TokenFile string `yaml:"tokenFile"`
				Cert      string `yaml:"client-certificate"`
				CertData  string `yaml:"client-certificate-data"`
				Key       string `yaml:"client-key"`
				KeyData   string `yaml:"client-key-data"`
				Exec      any
			}
		}
	}
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("%s: %w", kubeconfig, err)
	}
	rel := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			return filepath.Join(filepath.Dir(kubeconfig), p)
		}
		return p
	}
	// data fields are base64, file fields are paths
	load := func(b64, file string) ([]byte, error) {
		if b64 != "" {
			return base64.StdEncoding.DecodeString(b64)
		}
		if file != "" {
			return os.ReadFile(rel(file))
		}
		return nil, nil
	}
	c := &apiClient{resources: map[string][]apiResource{}}
	tlsConf := &tls.Config{}
	for _, ctx := range kc.Contexts {
		if ctx.Name != kc.CurrentContext {
			continue
		}
		for _, cl := range kc.Clusters {
			if cl.Name != ctx.Context.Cluster {
				continue
			}
			c.server = strings.TrimSuffix(cl.Cluster.Server, "/")
			tlsConf.InsecureSkipVerify = cl.Cluster.Insecure
			tlsConf.ServerName = cl.Cluster.TLSServerName
			ca, err := load(cl.Cluster.CAData, cl.Cluster.CA)
			if err != nil {
				return nil, err
			}
			if ca != nil {
				tlsConf.RootCAs = x509.NewCertPool()
				if !tlsConf.RootCAs.AppendCertsFromPEM(ca) {
					return nil, errors.New("certificate-authority: no certificate")
				}
			}
		}
		for _, u := range kc.Users {
			if u.Name != ctx.Context.User {
				continue
			}
			if u.User.Exec != nil {
				return nil, errors.New("exec credential plugins are not supported")
			}
			c.token = u.User.Token
			if u.User.TokenFile != "" {
				b, err := os.ReadFile(rel(u.User.TokenFile))
				if err != nil {
					return nil, err
				}
				c.token = strings.TrimSpace(string(b))
			}
			cert, err := load(u.User.CertData, u.User.Cert)
			if err != nil {
				return nil, err
			}
			key, err := load(u.User.KeyData, u.User.Key)
			if err != nil {
				return nil, err
			}
			if cert != nil {
				pair, err := tls.X509KeyPair(cert, key)
				if err != nil {
					return nil, err
				}
				tlsConf.Certificates = []tls.Certificate{pair}
			}
		}
	}
	if c.server == "" {
		return nil, fmt.Errorf("%s: no cluster for current-context %q", kubeconfig, kc.CurrentContext)
	}
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	return c, nil
}

func (c *apiClient) do(method, p, contentType string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.server+p, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		var status struct{ Message string }
		if json.Unmarshal(out, &status) == nil && status.Message != "" {
			return nil, fmt.Errorf("%s %s: %d %s", method, p, resp.StatusCode, status.Message)
		}
		return nil, fmt.Errorf("%s %s: %d %s", method, p, resp.StatusCode, out)
	}
	return out, nil
}

func (c *apiClient) get(p string) ([]byte, error) { return c.do(http.MethodGet, p, "", nil) }

// dryRunApply server-side applies o with dryRun=All.
func (c *apiClient) dryRunApply(o object, namespace string) error {
	gv, _ := o["apiVersion"].(string)
	prefix := "/apis/" + gv
	if !strings.Contains(gv, "/") {
		prefix = "/api/" + gv
	}
	if _, ok := c.resources[gv]; !ok {
		body, err := c.get(prefix)
		if err != nil {
			return err
		}
		var l struct{ Resources []apiResource }
		if err := json.Unmarshal(body, &l); err != nil {
			return err
		}
		c.resources[gv] = l.Resources
	}
	var res *apiResource
	for i, r := range c.resources[gv] {
		if r.Kind == o["kind"] && !strings.Contains(r.Name, "/") {
			res = &c.resources[gv][i]
		}
	}
	if res == nil {
		return fmt.Errorf("the API server serves no %s in %s", o["kind"], gv)
	}
	p := prefix
	if res.Namespaced {
		ns := str(o, "metadata", "namespace")
		if ns == "" {
			ns = namespace
		}
		p += "/namespaces/" + ns
	}
	p += "/" + res.Name + "/" + str(o, "metadata", "name") + "?dryRun=All&fieldManager=podtrail-helm-test&force=true"
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = c.do(http.MethodPatch, p, "application/apply-patch+yaml", body)
	return err
}

// TestHelmDryRunClient runs the dry-run client against a stand-in API server:
// kubeconfig with CA and token, discovery, the apply paths and parameters.
func TestHelmDryRunClient(t *testing.T) {
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/version":
			_, _ = w.Write([]byte(`{"gitVersion":"v1.33.0"}`))
		case "/api/v1":
			_, _ = w.Write([]byte(`{"resources":[{"name":"configmaps","kind":"ConfigMap","namespaced":true},{"name":"pods/status","kind":"Pod","namespaced":true}]}`))
		case "/apis/rbac.authorization.k8s.io/v1":
			_, _ = w.Write([]byte(`{"resources":[{"name":"clusterroles","kind":"ClusterRole","namespaced":false}]}`))
		default:
			if r.Method != http.MethodPatch || r.Header.Get("Content-Type") != "application/apply-patch+yaml" {
				http.Error(w, `{"message":"not an apply"}`, http.StatusBadRequest)
				return
			}
			got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
			if strings.Contains(r.URL.Path, "bad") {
				http.Error(w, `{"message":"ConfigMap \"bad\" is invalid"}`, http.StatusUnprocessableEntity)
				return
			}
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: test
contexts:
  - name: other
    context: {cluster: nowhere, user: nobody}
  - name: test
    context: {cluster: c, user: u}
clusters:
  - name: c
    cluster:
      server: %s
      certificate-authority-data: %s
users:
  - name: u
    user:
      token: s3cret
`, srv.URL, base64.StdEncoding.EncodeToString(ca))), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := newAPIClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get("/version"); err != nil {
		t.Fatal(err)
	}
	cm := object{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "podtrail-rules"}}
	cr := object{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "r"}}
	bad := object{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "bad", "namespace": "x"}}
	if err := c.dryRunApply(cm, "default"); err != nil {
		t.Error(err)
	}
	if err := c.dryRunApply(cr, "default"); err != nil {
		t.Error(err)
	}
	if err := c.dryRunApply(bad, "default"); err == nil || !strings.Contains(err.Error(), `ConfigMap "bad" is invalid`) {
		t.Errorf("an invalid object passed: %v", err)
	}
	if err := c.dryRunApply(object{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}}, "default"); err == nil {
		t.Error("a kind the server does not serve (only a subresource) passed")
	}
	q := "?dryRun=All&fieldManager=podtrail-helm-test&force=true"
	want := []string{
		"/api/v1/namespaces/default/configmaps/podtrail-rules" + q,
		"/apis/rbac.authorization.k8s.io/v1/clusterroles/r" + q,
		"/api/v1/namespaces/x/configmaps/bad" + q,
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests\n%v\nwant\n%v", got, want)
	}
}
