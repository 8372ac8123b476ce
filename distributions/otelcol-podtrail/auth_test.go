// SPDX-License-Identifier: Apache-2.0

package otelcolpodtrail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/testbed"
)

// The agents' token in the tests (PODTRAIL_AGENT_TOKEN), and the next one
// of a rotation.
const (
	testAgentToken = "podtrail-test-agent-token-3f9c1e"
	nextAgentToken = "podtrail-next-agent-token-77d0a2"
)

// forgedAudit is what an attacker who reaches a gateway's OTLP port sends: one
// audit event as the k8s_audit receiver turns it into a log record (the
// event's JSON as body, the attributes pod_creation selects on), claiming
// that the DaemonSet controller created kube-system/<name>. pod_creation
// makes a pod-creation record of it if the gateway takes it.
func forgedAudit(t *testing.T, name string) plog.Logs {
	t.Helper()
	id := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}
	auditID, uid := id(), id()
	now := time.Now().UTC()
	ts := now.Format(time.RFC3339Nano)
	body := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":%q,"stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/kube-system/pods","verb":"create",`+
		`"user":{"username":"system:serviceaccount:kube-system:daemon-set-controller","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]},`+
		`"sourceIPs":["10.0.1.10"],"userAgent":"kube-controller-manager/v1.33.13 (linux/amd64) kubernetes/8adc0f0/system:serviceaccount:kube-system:daemon-set-controller",`+
		`"objectRef":{"resource":"pods","namespace":"kube-system","name":%q,"apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},`+
		`"responseObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":%q,"namespace":"kube-system","uid":%q,"creationTimestamp":%q},`+
		`"spec":{"containers":[{"name":"miner","image":"docker.io/attacker/miner:1"}]}},`+
		`"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":"allow"}}`,
		auditID, name, name, uid, now.Format(time.RFC3339), ts, ts)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(attr.EventAudit)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
	lr.Body().SetStr(body)
	a := lr.Attributes()
	a.PutStr(attr.AuditID, auditID)
	a.PutStr(attr.AuditStage, "ResponseComplete")
	a.PutStr(attr.AuditLevel, "RequestResponse")
	a.PutStr(attr.AuditVerb, "create")
	a.PutStr(attr.AuditResource, "pods")
	a.PutStr(attr.K8sNamespaceName, "kube-system")
	a.PutStr(attr.AuditObjectName, name)
	a.PutStr(attr.K8sPodName, name)
	a.PutStr(attr.K8sPodUID, uid)
	a.PutStr(attr.AffinityKey, podrecord.AffinityKey("kube-system", name))
	a.PutStr(attr.UserName, "system:serviceaccount:kube-system:daemon-set-controller")
	a.PutInt(attr.HTTPStatusCode, 201)
	a.PutStr(attr.AuditDecision, "allow")
	return ld
}

// exportGRPC sends ld to an OTLP/gRPC logs endpoint, with TLS when roots is
// set and an authorization header when auth is not empty, and returns the
// status code of the answer.
func exportGRPC(t *testing.T, addr string, roots *x509.CertPool, auth string, ld plog.Logs) codes.Code {
	t.Helper()
	creds := insecure.NewCredentials()
	if roots != nil {
		creds = credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if auth != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", auth)
	}
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	return status.Code(err)
}

// exportHTTP posts ld to an OTLP/HTTP logs URL (protobuf) with an
// authorization header when auth is not empty, and returns the status.
func exportHTTP(t *testing.T, url, auth string, ld plog.Logs) int {
	t.Helper()
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// recordPods are the pods of the pod-creation records a sink received.
func recordPods(sink *testbed.Sink) []string {
	var out []string
	for _, lr := range sink.Records(attr.EventPodCreation) {
		if name, ok := lr.Attributes().Get(attr.K8sPodName); ok {
			out = append(out, name.AsString())
		}
	}
	return out
}

// TestDefaultConfigAuth runs config/default.yaml (the images' default
// configuration, OTLP gRPC and HTTP without TLS) as shipped, with loopback
// ports, a sink in place of the debug exporter and records completed by the
// audit event alone: a forged audit record without the token or with a
// wrong one is refused on both ports (gRPC Unauthenticated, HTTP 401) and
// makes no record; with PODTRAIL_AGENT_TOKEN the same kind of record is
// taken. Without the variable the collector refuses to start. The variable
// holds two lines, as in the middle of a rotation (README, "Agents to
// gateway"): either token is taken.
func TestDefaultConfigAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := testbed.Collector(t)
	dir := t.TempDir()
	sink := testbed.NewSink(t)
	rules, _ := filepath.Abs("rules")
	grpcPort, httpPort, hcPort := freePort(t), freePort(t), freePort(t)
	s := string(mustRead(t, "config/default.yaml"))
	for _, r := range [][2]string{
		{"0.0.0.0:4317", "127.0.0.1:" + grpcPort},
		{"0.0.0.0:4318", "127.0.0.1:" + httpPort},
		{"0.0.0.0:13133", "127.0.0.1:" + hcPort},
		{"/etc/otelcol-podtrail/rules", rules},
		// a record as soon as its audit event is in: no 30 s window to wait
		{"inventory_file: " + rules + "/inventory.yaml\n", "inventory_file: " + rules + "/inventory.yaml\n    correlation:\n      expect: [audit]\n"},
		{"\nexporters:\n", "\nexporters:\n  otlp_http/sink:\n    endpoint: " + sink.URL + "\n    compression: none\n"},
		{"exporters: [debug]", "exporters: [otlp_http/sink]"},
		{"\nservice:\n", "\nservice:\n  telemetry:\n    metrics:\n      level: none\n"},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("config/default.yaml has no %q", r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	config := filepath.Join(dir, "default.yaml")
	if err := os.WriteFile(config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("no token, no start", func(t *testing.T) {
		p := testbed.Start(t, bin, config, "PODTRAIL_AGENT_TOKEN=")
		testbed.WaitFor(t, 60*time.Second, "the collector to refuse its configuration", func() bool {
			log, _ := os.ReadFile(p.LogPath)
			return strings.Contains(string(log), "no bearer token provided")
		})
	})

	testbed.StartReady(t, bin, config, "PODTRAIL_AGENT_TOKEN="+testAgentToken+"\n"+nextAgentToken)
	grpcAddr, httpURL := "127.0.0.1:"+grpcPort, "http://127.0.0.1:"+httpPort+"/v1/logs"
	var refused []string
	for _, c := range []struct{ name, auth string }{
		{"no credentials", ""},
		{"a wrong token", "Bearer not-the-agents-token"},
		{"the token without its scheme", testAgentToken},
	} {
		g, h := fmt.Sprintf("forged-grpc-%d", len(refused)), fmt.Sprintf("forged-http-%d", len(refused))
		if code := exportGRPC(t, grpcAddr, nil, c.auth, forgedAudit(t, g)); code != codes.Unauthenticated {
			t.Errorf("OTLP/gRPC with %s: %v, want Unauthenticated", c.name, code)
		}
		if code := exportHTTP(t, httpURL, c.auth, forgedAudit(t, h)); code != http.StatusUnauthorized {
			t.Errorf("OTLP/HTTP with %s: %d, want 401", c.name, code)
		}
		refused = append(refused, g, h)
	}
	// With the token: taken, and a record made, on both ports.
	if code := exportGRPC(t, grpcAddr, nil, "Bearer "+testAgentToken, forgedAudit(t, "agent-grpc")); code != codes.OK {
		t.Errorf("OTLP/gRPC with the token: %v", code)
	}
	if code := exportHTTP(t, httpURL, "Bearer "+testAgentToken, forgedAudit(t, "agent-http")); code != http.StatusOK {
		t.Errorf("OTLP/HTTP with the token: %d", code)
	}
	if code := exportHTTP(t, httpURL, "Bearer "+nextAgentToken, forgedAudit(t, "agent-next")); code != http.StatusOK {
		t.Errorf("OTLP/HTTP with the second token: %d", code)
	}
	testbed.WaitFor(t, 30*time.Second, "the records of the requests with the token", func() bool {
		pods := recordPods(sink)
		return slices.Contains(pods, "agent-grpc") && slices.Contains(pods, "agent-http") && slices.Contains(pods, "agent-next")
	})
	// The refused requests came first: had any been taken, its record
	// would be there by now.
	time.Sleep(time.Second)
	for _, pod := range recordPods(sink) {
		if slices.Contains(refused, pod) {
			t.Errorf("a refused request made a pod-creation record: kube-system/%s", pod)
		}
	}
	t.Logf("records: %v", recordPods(sink))
}
