// SPDX-License-Identifier: Apache-2.0

package otelcolpodtrail

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/testbed"
)

// configEnv is what the example configurations read from the environment;
// in Kubernetes the chart and the values files set it.
func configEnv(t *testing.T) map[string]string {
	root := testbed.Root(t)
	return map[string]string{
		"MY_POD_IP":                "127.0.0.1",
		"K8S_NODE_NAME":            "node-a",
		"PODTRAIL_GATEWAY":         "127.0.0.1:4317",
		"PODTRAIL_GATEWAY_SERVICE": "podtrail-gateway",
		"PODTRAIL_EXPORT_ENDPOINT": "http://127.0.0.1:4318",
		"PODTRAIL_AGENT_TOKEN":     testAgentToken,
		// config/demo.yaml
		"PODTRAIL_HOME":  root,
		"PODTRAIL_OUT":   filepath.Join(t.TempDir(), "out.json"),
		"PODTRAIL_STATE": t.TempDir(),
	}
}

// envRef is a ${env:NAME} or ${env:NAME:-default} placeholder.
var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// requiredEnv lists the variables a configuration reads without a default.
func requiredEnv(config []byte) []string {
	var out []string
	for _, m := range envRef.FindAllSubmatch(config, -1) {
		if len(m[2]) == 0 && !slices.Contains(out, string(m[1])) {
			out = append(out, string(m[1]))
		}
	}
	sort.Strings(out)
	return out
}

// validate runs `otelcol-podtrail validate` on a configuration file with
// only env (and PATH) in the environment, so that no variable of the
// developer's leaks in.
func validate(t *testing.T, bin, config string, env map[string]string) error {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	// An unset variable expands to "" and validate may still pass: every
	// variable the configuration needs must be given.
	for _, v := range requiredEnv(data) {
		if _, ok := env[v]; !ok {
			return fmt.Errorf("%s reads ${env:%s}, which its environment does not set", filepath.Base(config), v)
		}
	}
	cmd := exec.Command(bin, "validate", "--config", "file:"+config)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("otelcol-podtrail validate --config %s: %v\n%s", filepath.Base(config), err, out)
	}
	return nil
}

// TestConfigs validates every configuration in config/ with the built
// collector's `validate` subcommand: components known, every option known
// and valid, pipelines well formed.
func TestConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole collector")
	}
	bin := testbed.Collector(t)
	configs, err := filepath.Glob("config/*.yaml")
	if err != nil || len(configs) == 0 {
		t.Fatalf("no configurations in config/: %v", err)
	}
	for _, want := range []string{"default.yaml", "agent.yaml", "agent-files.yaml", "agent-loadbalancing.yaml", "gateway.yaml", "audit-router.yaml"} {
		if !slices.Contains(configs, filepath.Join("config", want)) {
			t.Errorf("config/%s is missing", want)
		}
	}
	env := configEnv(t)
	for _, c := range configs {
		t.Run(filepath.Base(c), func(t *testing.T) {
			abs, _ := filepath.Abs(c)
			if err := validate(t, bin, abs, env); err != nil {
				t.Error(err)
			}
		})
	}
	// validate checks the components' own rules, not only the YAML: a
	// broken gateway configuration is refused.
	t.Run("refuses", func(t *testing.T) {
		abs, _ := filepath.Abs("config/gateway.yaml")
		broken := strings.Replace(string(mustRead(t, abs)), "window: 30s", "window: -30s", 1)
		p := filepath.Join(t.TempDir(), "gateway.yaml")
		if err := os.WriteFile(p, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		err := validate(t, bin, p, env)
		if err == nil || !strings.Contains(err.Error(), "window must be positive") {
			t.Fatalf("a negative correlation window passed validate: %v", err)
		}
	})
	// Every configuration that sends or takes OTLP between agents and
	// gateway authenticates it with the agents' token, and does not start
	// without one.
	t.Run("needs the agents' token", func(t *testing.T) {
		noToken := map[string]string{}
		for k, v := range env {
			noToken[k] = v
		}
		noToken["PODTRAIL_AGENT_TOKEN"] = ""
		for _, c := range configs {
			data := string(mustRead(t, c))
			// an otlp receiver, or an exporter to the gateways
			if !regexp.MustCompile(`(?m)^  otlp:$`).MatchString(data) && !strings.Contains(data, "podtrail-gateway") {
				continue // demo.yaml: files in, a file out
			}
			if !strings.Contains(data, "authenticator: bearertokenauth") || !strings.Contains(data, "token: ${env:PODTRAIL_AGENT_TOKEN}") {
				t.Errorf("%s: OTLP without the agents' token", c)
				continue
			}
			abs, _ := filepath.Abs(c)
			if err := validate(t, bin, abs, noToken); err == nil || !strings.Contains(err.Error(), "no bearer token provided") {
				t.Errorf("%s passed validate with an empty PODTRAIL_AGENT_TOKEN: %v", c, err)
			}
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGatewayAndAgent runs config/gateway.yaml and config/agent-files.yaml
// as shipped, with the paths of the pods moved into a scratch directory and
// loopback ports: the demo's audit events are posted to the gateway's
// webhook over mutual TLS, the demo's node logs appear as the agent's
// syslog files, and the gateway's OTLP/HTTP export carries pod-creation
// records that joined both. The agent reaches the gateway's OTLP port over
// TLS with the agents' token (PODTRAIL_AGENT_TOKEN); a forged audit record
// sent there without the token, with a wrong one or without TLS is refused
// (gRPC Unauthenticated) and makes no record.
func TestGatewayAndAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := testbed.Collector(t)
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "etc/podtrail/tls")
	client := writeTLS(t, tlsDir)
	sink := testbed.NewSink(t)
	export := gunzipTo(t, sink.URL)
	rules, _ := filepath.Abs("rules")

	gwPorts := map[string]string{}
	for _, p := range []string{"8443", "4317", "13133", "8888"} {
		gwPorts[p] = freePort(t)
	}
	gateway := derive(t, "config/gateway.yaml", dir, gwPorts, map[string]string{
		"/etc/podtrail/tls":   tlsDir,
		"/etc/podtrail/rules": rules,
		"/var/lib/podtrail":   filepath.Join(dir, "gateway-state"),
	})
	gw := testbed.Start(t, bin, gateway, "MY_POD_IP=127.0.0.1", "PODTRAIL_EXPORT_ENDPOINT="+export, "PODTRAIL_AGENT_TOKEN="+testAgentToken)

	agPorts := map[string]string{"13133": freePort(t), "8888": freePort(t)}
	varLog := filepath.Join(dir, "var/log")
	if err := os.MkdirAll(varLog, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := derive(t, "config/agent-files.yaml", dir, agPorts, map[string]string{
		"/var/log/":                varLog + "/",
		"/var/lib/podtrail":        filepath.Join(dir, "agent-state"),
		"/etc/podtrail/gateway-ca": tlsDir, // ca.crt of the gateway's Secret
	})
	// The node logs already hold a line when the agent starts, as on a
	// node: start_at: end skips what is there, and the test appends the
	// demo's lines once the agent watches the files.
	nodeLogs := map[string]string{"demo/nodes/node-a.log": "syslog", "demo/nodes/node-b.log": "messages"}
	for _, dst := range nodeLogs {
		if err := os.WriteFile(filepath.Join(varLog, dst), []byte("Nov 20 09:13:58 node-a systemd[1]: Started kubelet.service - kubelet: The Kubernetes Node Agent.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// K8S_NODE_NAME empty: the demo's two nodes share one agent here, each
	// line names its host.
	ag := testbed.Start(t, bin, agent, "MY_POD_IP=127.0.0.1", "K8S_NODE_NAME=",
		"PODTRAIL_GATEWAY=127.0.0.1:"+gwPorts["4317"], "PODTRAIL_AGENT_TOKEN="+testAgentToken)
	for _, p := range []*testbed.Process{gw, ag} {
		testbed.WaitFor(t, 60*time.Second, "the collectors to start", func() bool {
			log, _ := os.ReadFile(p.LogPath)
			return strings.Contains(string(log), "Everything is ready")
		})
	}
	for name, port := range map[string]string{"gateway": gwPorts["13133"], "agent": agPorts["13133"]} {
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s health_check: %v %v", name, resp, err)
		}
		resp.Body.Close()
	}

	// The node logs are appended to, once the agent has polled them (every
	// 200 ms; start_at: end logs nothing for the files it finds at start).
	time.Sleep(2 * time.Second)
	for src, dst := range nodeLogs {
		f, err := os.OpenFile(filepath.Join(varLog, dst), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(mustRead(t, src)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	// Audit events: the apiserver's webhook, mutual TLS.
	webhook := "https://127.0.0.1:" + gwPorts["8443"] + "/audit"
	body := eventList(t, mustRead(t, "demo/audit.log"))
	if resp, err := client.Post(webhook, "application/json", bytes.NewReader(body)); err != nil {
		t.Fatalf("posting the audit events: %v", err)
	} else {
		var answer struct{ Accepted, Rejected int }
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || answer.Accepted == 0 || answer.Rejected != 0 {
			t.Fatalf("webhook answered %d %+v", resp.StatusCode, answer)
		}
	}
	// Without the client certificate the handshake fails.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: client.Transport.(*http.Transport).TLSClientConfig.RootCAs}}}
	if resp, err := anon.Post(webhook, "application/json", bytes.NewReader(body)); err == nil {
		resp.Body.Close()
		t.Fatalf("the webhook accepted a client without a certificate: %d", resp.StatusCode)
	}

	// Forged audit records at the gateway's OTLP port: refused
	// without the agents' token, with a wrong one, and in clear; with the
	// token (what an agent sends) the same record is taken.
	otlpAddr := "127.0.0.1:" + gwPorts["4317"]
	roots := client.Transport.(*http.Transport).TLSClientConfig.RootCAs
	var refused []string
	for i, c := range []struct {
		name  string
		roots *x509.CertPool
		auth  string
		want  codes.Code
	}{
		{"TLS, no credentials", roots, "", codes.Unauthenticated},
		{"TLS, a wrong token", roots, "Bearer not-the-agents-token", codes.Unauthenticated},
		{"TLS, the token without its scheme", roots, testAgentToken, codes.Unauthenticated},
		{"no TLS, the token", nil, "Bearer " + testAgentToken, codes.Unavailable},
	} {
		pod := fmt.Sprintf("forged-%d", i)
		if code := exportGRPC(t, otlpAddr, c.roots, c.auth, forgedAudit(t, pod)); code != c.want {
			t.Errorf("OTLP/gRPC with %s: %v, want %v", c.name, code, c.want)
		}
		refused = append(refused, pod)
	}
	if code := exportGRPC(t, otlpAddr, roots, "Bearer "+testAgentToken, forgedAudit(t, "with-the-token")); code != codes.OK {
		t.Errorf("OTLP/gRPC over TLS with the token: %v", code)
	}

	// The pods whose audit events and node lines joined.
	joined := func() []string {
		var out []string
		for _, lr := range sink.Records(attr.EventPodCreation) {
			src, _ := lr.Attributes().Get("podtrail.sources")
			if s := src.AsString(); strings.Contains(s, "audit") && strings.Contains(s, "containerd") {
				ns, _ := lr.Attributes().Get(attr.K8sNamespaceName)
				name, _ := lr.Attributes().Get(attr.K8sPodName)
				out = append(out, ns.AsString()+"/"+name.AsString())
			}
		}
		return out
	}
	testbed.WaitFor(t, 90*time.Second, "records joining the webhook's audit events and the agent's node lines", func() bool {
		return slices.Contains(joined(), "shop/cart-6f7d9c8b4-ttp4z")
	})
	t.Logf("records joining audit and node: %v", joined())
	// The record taken with the token is emitted when its window (30 s)
	// ends; the refused ones were sent before it.
	testbed.WaitFor(t, 90*time.Second, "the record sent with the agents' token", func() bool {
		return slices.Contains(recordPods(sink), "with-the-token")
	})
	time.Sleep(time.Second)
	for _, pod := range recordPods(sink) {
		if slices.Contains(refused, pod) {
			t.Errorf("a refused OTLP request made a pod-creation record: kube-system/%s", pod)
		}
	}
	ag.Stop(t)
	gw.Stop(t)
	// file_storage: checkpoints, queue and correlation state are on disk.
	for _, d := range []string{"agent-state", "gateway-state"} {
		if entries, _ := os.ReadDir(filepath.Join(dir, d)); len(entries) == 0 {
			t.Errorf("%s: file_storage wrote nothing", d)
		}
	}
}

// gunzipTo is an OTLP/HTTP endpoint that passes what it receives on to
// target uncompressed: the gateway's exporter compresses (gzip, the
// default), the testbed's sink does not decompress.
func gunzipTo(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		resp, err := http.Post(target+r.URL.Path, r.Header.Get("Content-Type"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// derive writes a copy of a shipped configuration with its pod paths moved
// (old → new, longest first) and ${env:MY_POD_IP}:<port> and the telemetry
// port 8888 moved to the given loopback ports.
func derive(t *testing.T, config, dir string, ports, paths map[string]string) string {
	t.Helper()
	s := string(mustRead(t, config))
	var olds []string
	for old := range paths {
		olds = append(olds, old)
	}
	sort.Slice(olds, func(i, j int) bool { return len(olds[i]) > len(olds[j]) })
	for _, old := range olds {
		s = strings.ReplaceAll(s, old, paths[old])
	}
	for from, to := range ports {
		s = strings.ReplaceAll(s, "${env:MY_POD_IP}:"+from, "127.0.0.1:"+to)
		if from == "8888" {
			s = strings.ReplaceAll(s, "port: 8888", "port: "+to)
		}
	}
	if strings.Contains(s, "${env:MY_POD_IP}:") {
		t.Fatalf("%s: a listener is left on a fixed port", config)
	}
	p := filepath.Join(dir, filepath.Base(config))
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// eventList wraps the lines of an audit log into the EventList the
// apiserver's webhook backend posts.
func eventList(t *testing.T, log []byte) []byte {
	t.Helper()
	var items []json.RawMessage
	for _, l := range bytes.Split(log, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			items = append(items, json.RawMessage(l))
		}
	}
	b, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTLS writes what the gateway's Secret holds (tls.crt and tls.key for
// 127.0.0.1, ca.crt) and returns a client with the apiserver's side: a
// client certificate of that CA.
func writeTLS(t *testing.T, dir string) *http.Client {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "podtrail test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, names ...string) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: names,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	srvCert, srvKey := issue(2, "podtrail-gateway", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, "podtrail-gateway", "podtrail-gateway.podtrail.svc")
	cliCert, cliKey := issue(3, "kube-apiserver", x509.ExtKeyUsageClientAuth, nil)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{"tls.crt": srvCert, "tls.key": srvKey, "ca.crt": caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pair, err := tls.X509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
	}}
}

// TestDistBinary builds `make dist-binary` and checks it is what the images
// need: a static ELF for Linux (no program interpreter, no shared
// libraries), stripped, that runs.
func TestDistBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole collector")
	}
	root := testbed.Root(t)
	mk := exec.Command("make", "-C", root, "dist-binary")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make dist-binary: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "dist", "otelcol-podtrail")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("OS ABI %v", f.OSABI)
	}
	if f.Type != elf.ET_EXEC {
		t.Errorf("ELF type %v, want a fixed-address executable (ET_EXEC)", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("has a PT_INTERP program header: dynamically linked")
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Error("has a PT_DYNAMIC program header")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("not stripped: has .symtab (-ldflags '-s -w')")
	}
	if runtime.GOOS == "linux" && f.Machine == hostMachine() {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "otelcol-podtrail version") {
			t.Errorf("%s --version: %v %s", bin, err, out)
		}
	}
}

func hostMachine() elf.Machine {
	switch runtime.GOARCH {
	case "amd64":
		return elf.EM_X86_64
	case "arm64":
		return elf.EM_AARCH64
	}
	return elf.EM_NONE
}

// TestDockerfiles checks what the images are made of against the rest of
// the distribution: the binary make dist-binary writes, files that exist,
// the command the Helm values run, the non-root user, the ports the
// configurations listen on.
func TestDockerfiles(t *testing.T) {
	root := testbed.Root(t)
	for _, name := range []string{"Dockerfile", "Dockerfile.agent"} {
		t.Run(name, func(t *testing.T) {
			df := string(mustRead(t, name))
			var copied, exposed []string
			var user, entrypoint, cmd string
			for _, l := range strings.Split(df, "\n") {
				f := strings.Fields(l)
				if len(f) == 0 || strings.HasPrefix(f[0], "#") {
					continue
				}
				switch f[0] {
				case "COPY":
					copied = append(copied, f[1:len(f)-1]...)
				case "USER":
					user = f[1]
				case "EXPOSE":
					exposed = append(exposed, f[1:]...)
				case "ENTRYPOINT":
					entrypoint = strings.Join(f[1:], " ")
				case "CMD":
					cmd = strings.Join(f[1:], " ")
				}
			}
			if !slices.Contains(copied, "dist/otelcol-podtrail") {
				t.Error("does not copy dist/otelcol-podtrail (make dist-binary)")
			}
			for _, c := range copied {
				if c == "dist/otelcol-podtrail" {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, c)); err != nil {
					t.Errorf("COPY %s: %v", c, err)
				}
			}
			if user != "10001:10001" {
				t.Errorf("USER %q, want 10001:10001", user)
			}
			// the chart runs /<command.name>
			if entrypoint != `["/otelcol-podtrail"]` {
				t.Errorf("ENTRYPOINT %s", entrypoint)
			}
			if !strings.Contains(df, "config/default.yaml /etc/otelcol-podtrail/config.yaml") || !strings.Contains(cmd, `"/etc/otelcol-podtrail/config.yaml"`) {
				t.Errorf("the default configuration is not config/default.yaml at the CMD's path: CMD %s", cmd)
			}
			for _, p := range []string{"4317", "4318", "8443", "8888", "13133"} {
				if !slices.Contains(exposed, p) {
					t.Errorf("does not EXPOSE %s", p)
				}
			}
			if name == "Dockerfile.agent" && !regexp.MustCompile(`apt-get install[^\n]*\bsystemd\b`).MatchString(df) {
				t.Error("the agent image does not install journalctl (systemd)")
			}
			if name == "Dockerfile" && !strings.Contains(df, "FROM gcr.io/distroless/static") {
				t.Error("the base is not distroless/static")
			}
		})
	}
	// default.yaml reads the rules where the images put them.
	def := string(mustRead(t, "config/default.yaml"))
	for _, f := range []string{"/etc/otelcol-podtrail/rules/rules.yaml", "/etc/otelcol-podtrail/rules/inventory.yaml"} {
		if !strings.Contains(def, f) {
			t.Errorf("config/default.yaml does not read %s", f)
		}
	}
}
