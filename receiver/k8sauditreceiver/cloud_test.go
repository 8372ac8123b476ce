// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// Cloud samples (../shared/samples/cloud-audit) wrapped the way each cloud
// delivers them.

func cloudSample(t *testing.T, name string) []byte {
	return samples.Read(t, "cloud-audit", name)
}

// gkeEntry is the GKE sample (a LogEntry kept in YAML by KHI) as the JSON
// line a log sink writes.
func gkeEntry(t *testing.T) []byte {
	var v any
	require.NoError(t, yaml.Unmarshal(cloudSample(t, "repo-GoogleCloudPlatform-khi-k8s_audit-container_recorder_test_1_3.yaml"), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func eksMessage(t *testing.T) []byte {
	return bytes.TrimSpace(cloudSample(t, "repo-overdrive3000-go-lambda-eks-logs-README-eks-audit.log"))
}

// aksLogs are the two kube-audit properties.log payloads of the AKS sample.
func aksLogs(t *testing.T) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(cloudSample(t, "repo-denniszielke-container_demos-Security_RBAC-aks-audit.log"), []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, l)
		}
	}
	require.Len(t, out, 2)
	return out
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func pubSub(entry []byte) string {
	return `{"message":{"data":"` + b64(entry) + `","messageId":"8849481934120617","publishTime":"2024-01-01T01:00:01.5Z"},"subscription":"projects/sample-project/subscriptions/podtrail"}`
}

func cwPayload(stream string, msgs ...[]byte) []byte {
	var evs []string
	for _, m := range msgs {
		evs = append(evs, `{"id":"36655495918468532879255735200970000","timestamp":1632731804021,"message":`+jsonStr(string(m))+`}`)
	}
	return []byte(`{"messageType":"DATA_MESSAGE","owner":"12345678912","logGroup":"/aws/eks/tgw/cluster","logStream":"` + stream +
		`","subscriptionFilters":["podtrail"],"logEvents":[` + strings.Join(evs, ",") + `]}`)
}

const cwControl = `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1632731804021,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`

func firehoseBody(records ...[]byte) string {
	var rs []string
	for _, r := range records {
		rs = append(rs, `{"data":"`+b64(r)+`"}`)
	}
	return `{"requestId":"ed4acda5-034f-9f42-bba1-f29aea6d7d8f","timestamp":1632731805000,"records":[` + strings.Join(rs, ",") + `]}`
}

func aksRecord(category string, log []byte) string {
	return `{"time":"2019-09-20T11:52:19.0690000Z","resourceId":"/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS","category":"` + category +
		`","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{"log":` + jsonStr(string(log)+"\n") + `,"stream":"stdout","pod":"kube-apiserver-7d9c5b6f4-x2x7p"}}`
}

func records(ls plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for i := 0; i < ls.ResourceLogs().Len(); i++ {
		sls := ls.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, lrs.At(k))
			}
		}
	}
	return out
}

func allRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		out = append(out, records(ld)...)
	}
	return out
}

func attrStr(lr plog.LogRecord, k string) string {
	v, ok := lr.Attributes().Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func startWebhookWith(t *testing.T, mod func(*WebhookConfig)) *harness {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	w := defaultWebhookConfig()
	w.NetAddr.Endpoint = "127.0.0.1:0"
	w.MaxRequestBodySize = 1 << 20
	mod(&w)
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(set, &Config{Webhook: configoptional.Some(w)}, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return &harness{r: r, tel: tel, sink: sink, url: "http://" + r.addr.String() + "/audit"}
}

func (h *harness) postWith(t *testing.T, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.String()
}

// TestWebhookCloudForms posts each cloud's delivery of its sample over HTTP
// and checks the records: the event's identity, the form, the principal.
func TestWebhookCloudForms(t *testing.T) {
	aks := aksLogs(t)
	eksPayload := cwPayload("kube-apiserver-audit-6a1d2f3c", eksMessage(t))
	eksAttrs := map[string]string{
		attr.AuditID: "0e507148-8b16-4dfb-934b-9b05dba50974", attr.AuditVerb: "patch", attr.AuditSubresource: "status",
		attr.K8sPodName: "stress-83-tbnq2", attr.UserName: "system:node:ip-00-00-00-00.eu-west-1.compute.internal",
		attr.ClientAddress: "54.75.17.171", attr.AuditSourceForm: "eks",
		attr.AuditCloudPrincipal: "arn:aws:iam::12345678912:role/eksctl-tgw-eu-west-1-nodegroup-tg-NodeInstanceRole-SP426AQ4NC1Y",
		attr.AuditCloudSession:   "i-00000000000000",
		attr.K8sClusterName:      "tgw", attr.CloudProvider: "aws", attr.CloudPlatform: "aws_eks", attr.CloudAccountID: "12345678912",
	}
	tests := []struct {
		name     string
		format   string
		body     string
		header   map[string]string
		records  int
		skipped  int64
		attrs    map[string]string
		firehose bool
	}{
		{name: "GKE Pub/Sub push", body: pubSub(gkeEntry(t)), records: 1, attrs: map[string]string{
			attr.AuditID: "7bf65423-5d85-43a0-aaf7-30a2ce7475df", attr.AuditVerb: "patch", attr.AuditResource: "pods", attr.AuditSubresource: "status",
			attr.K8sNamespaceName: "1-2-deployment-update", attr.K8sPodName: "nginx-deployment-surge-8655b4b8c5-xf5f4",
			attr.UserName: "system:node:gke-sample-cluster-default-abcdefgh-abcd", attr.ClientAddress: "10.146.0.7",
			attr.UserAgentOriginal: "kubelet/v1.28.14 (linux/amd64) kubernetes/a4ef1a6", attr.HTTPStatusCode: "200",
			attr.AuditDecision: "allow", attr.AuditSourceForm: "gke", attr.AuditLevel: "Request",
			attr.K8sClusterName: "sample-cluster", attr.CloudProvider: "gcp", attr.CloudPlatform: "gcp_kubernetes_engine",
			attr.CloudAccountID: "sample-project", attr.CloudRegion: "us-central1", attr.CloudAvailabilityZone: "us-central1-a",
		}},
		{name: "GKE Pub/Sub push, format gke", format: "gke", body: pubSub(gkeEntry(t)), records: 1, attrs: map[string]string{attr.AuditSourceForm: "gke"}},
		{name: "EKS awslogs envelope", body: `{"awslogs":{"data":"` + b64(gz(t, eksPayload)) + `"}}`, records: 1, attrs: eksAttrs},
		{name: "EKS Firehose delivery", format: "eks", body: firehoseBody(gz(t, eksPayload), gz(t, []byte(cwControl))),
			header:  map[string]string{"X-Amz-Firehose-Request-Id": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f", "X-Amz-Firehose-Protocol-Version": "1.0"},
			records: 1, skipped: 1, attrs: eksAttrs, firehose: true},
		{name: "AKS Event Hubs records", body: `{"records":[` + aksRecord("kube-audit", aks[0]) + `,` + aksRecord("kube-apiserver", []byte("I0920 log line")) + `,` + aksRecord("kube-audit", aks[1]) + `]}`,
			records: 2, skipped: 1, attrs: map[string]string{attr.AuditID: "130ba120-d9b1-4b35-9e91-3366568bfd8d", attr.UserName: "masterclient", attr.HTTPStatusCode: "404", attr.AuditSourceForm: "aks",
				attr.K8sClusterName: "AKS", attr.CloudProvider: "azure", attr.CloudPlatform: "azure.aks", attr.CloudAccountID: "0",
				attr.CloudResourceID: "/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS"}},
		{name: "native event", format: "native", body: string(aks[0]), records: 1, attrs: map[string]string{attr.AuditSourceForm: "native", attr.K8sClusterName: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startWebhookWith(t, func(w *WebhookConfig) {
				if tt.format != "" {
					w.Format = tt.format
				}
			})
			resp, body := h.postWith(t, tt.body, tt.header)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			if tt.firehose {
				var fa map[string]any
				require.NoError(t, json.Unmarshal([]byte(body), &fa), body)
				assert.Equal(t, "ed4acda5-034f-9f42-bba1-f29aea6d7d8f", fa["requestId"])
				ts, ok := fa["timestamp"].(float64)
				require.True(t, ok, body)
				assert.InDelta(t, float64(time.Now().UnixMilli()), ts, 60e3)
				assert.NotContains(t, fa, "errorMessage")
			}
			recs := allRecords(h.sink)
			require.Len(t, recs, tt.records)
			for k, v := range tt.attrs {
				assert.Equal(t, v, attrStr(recs[0], k), k)
			}
			// The body is an audit event the processor can decode.
			ev, err := audit.Decode([]byte(recs[0].Body().Str()))
			require.NoError(t, err)
			assert.Equal(t, attrStr(recs[0], attr.AuditID), ev.AuditID)
			if name := attrStr(recs[0], attr.K8sClusterName); name != "" {
				require.NotNil(t, ev.Cluster, "the body carries the cluster to the processor")
				assert.Equal(t, name, ev.Cluster.Name)
			}
			assert.Equal(t, tt.skipped, h.counter(t, "otelcol_k8s_audit_skipped", ""))
			assert.Zero(t, h.counter(t, "otelcol_k8s_audit_rejected", ""))
			assert.Equal(t, int64(tt.records), h.counter(t, "otelcol_k8s_audit_accepted", ""))
		})
	}
}

func TestWebhookCloudErrors(t *testing.T) {
	msg := eksMessage(t)
	tests := []struct {
		name      string
		format    string
		body      string
		header    map[string]string
		status    int
		delivered int
		reason    string
		rejected  int64
		hint      string
	}{
		{name: "awslogs bad base64", body: `{"awslogs":{"data":"%%%"}}`, status: 400, reason: reasonBadEnvelope, rejected: 1, hint: "awslogs data"},
		{name: "awslogs not gzip", body: `{"awslogs":{"data":"` + b64([]byte("hello")) + `"}}`, status: 400, reason: reasonBadEnvelope, rejected: 1},
		{name: "Pub/Sub message without data", body: `{"message":{"messageId":"1"},"subscription":"s"}`, status: 400, reason: reasonBadEnvelope, rejected: 1},
		{name: "Pub/Sub message that is no LogEntry", body: pubSub([]byte(`{"textPayload":"hi","resource":{"type":"gce_instance"}}`)), status: 400, reason: reasonNotAuditEvent, rejected: 1, hint: "protoPayload"},
		{name: "Firehose with a broken record", body: firehoseBody(gz(t, cwPayload("kube-apiserver-audit-1", msg)), []byte("garbage")),
			header: map[string]string{"X-Amz-Firehose-Request-Id": "r-1"}, status: 200, delivered: 1, reason: reasonInvalidJSON, rejected: 1},
		{name: "Firehose all broken", body: firehoseBody([]byte("garbage")), header: map[string]string{"X-Amz-Firehose-Request-Id": "r-2"},
			status: 400, reason: reasonInvalidJSON, rejected: 1, hint: `"errorMessage"`},
		{name: "AKS records cut short", body: `{"records":[` + aksRecord("kube-audit", msg) + `,{"category":"kube-au`, status: 400, delivered: 1, reason: reasonTruncated, rejected: 1},
		{name: "forced native, EKS body", format: "native", body: `{"awslogs":{"data":"H4sI"}}`, status: 400, reason: reasonNotAuditEvent, rejected: 1, hint: "the form is set to native"},
		{name: "forced gke, AKS body", format: "gke", body: `{"records":[]}`, status: 400, reason: reasonNotAuditEvent, rejected: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startWebhookWith(t, func(w *WebhookConfig) {
				if tt.format != "" {
					w.Format = tt.format
				}
			})
			resp, body := h.postWith(t, tt.body, tt.header)
			assert.Equal(t, tt.status, resp.StatusCode, body)
			assert.Equal(t, tt.delivered, h.sink.LogRecordCount())
			assert.Equal(t, tt.rejected, h.counter(t, "otelcol_k8s_audit_rejected", tt.reason), body)
			if tt.hint != "" {
				assert.Contains(t, body, tt.hint)
			}
		})
	}
}

func TestWebhookFirehoseAccessKey(t *testing.T) {
	h := startWebhookWith(t, func(w *WebhookConfig) { w.FirehoseAccessKey = "s3cr3t" })
	body := firehoseBody(gz(t, cwPayload("kube-apiserver-audit-1", eksMessage(t))))
	for _, tt := range []struct {
		key    string
		status int
	}{{"", 401}, {"wrong", 401}, {"s3cr3t", 200}} {
		resp, answer := h.postWith(t, body, map[string]string{"X-Amz-Firehose-Request-Id": "r-9", "X-Amz-Firehose-Access-Key": tt.key})
		assert.Equal(t, tt.status, resp.StatusCode, answer)
		var fa firehoseAnswer
		require.NoError(t, json.Unmarshal([]byte(answer), &fa), answer)
		assert.Equal(t, "r-9", fa.RequestID)
		assert.Equal(t, tt.status != 200, fa.ErrorMessage != "", answer)
	}
	assert.Equal(t, 1, h.sink.LogRecordCount())
	assert.Equal(t, int64(2), h.counter(t, "otelcol_k8s_audit_rejected", reasonUnauthorized))
	// The key guards Firehose deliveries only: the apiserver's own webhook
	// (mTLS) posts without it.
	resp, _ := h.postWith(t, string(eksMessage(t)), nil)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestWebhookFirehosePipelineRefuses(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	w := defaultWebhookConfig()
	w.NetAddr.Endpoint = "127.0.0.1:0"
	r, err := newReceiver(set, &Config{Webhook: configoptional.Some(w)}, consumertest.NewErr(assert.AnError))
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
	h := &harness{r: r, tel: tel, url: "http://" + r.addr.String() + "/audit"}
	resp, body := h.postWith(t, firehoseBody(gz(t, cwPayload("kube-apiserver-audit-1", eksMessage(t)))), map[string]string{"X-Amz-Firehose-Request-Id": "r-3"})
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var fa firehoseAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &fa), body)
	assert.Equal(t, "r-3", fa.RequestID)
	assert.Contains(t, fa.ErrorMessage, "retry later")
}

// TestFileCloudForms tails one file per cloud form.
func TestFileCloudForms(t *testing.T) {
	aks := aksLogs(t)
	msg := eksMessage(t)
	tests := []struct {
		name    string
		format  string
		lines   []string
		want    int
		form    string
		rejects int64
	}{
		{name: "GKE log sink file", lines: []string{string(gkeEntry(t)), `{"insertId":"x","resource":{"type":"gce_instance"},"protoPayload":{}}`}, want: 1, form: "gke", rejects: 1},
		{name: "EKS CloudWatch export", lines: []string{"2021-09-27T08:36:44.021Z " + string(msg), "2021-09-27T08:36:44.022Z {\"auditID\":"}, want: 1, form: "eks", rejects: 1},
		{name: "EKS messages, format eks", format: "eks", lines: []string{string(msg)}, want: 1, form: "eks"},
		{name: "AKS storage account, one record per line", lines: []string{aksRecord("kube-audit", aks[0]), aksRecord("guard", []byte("x")), aksRecord("kube-audit-admin", aks[1])}, want: 2, form: "aks"},
		{name: "AKS records per line", format: "aks", lines: []string{`{"records":[` + aksRecord("kube-audit", aks[0]) + `,` + aksRecord("kube-audit", aks[1]) + `]}`}, want: 2, form: "aks"},
		{name: "native", format: "native", lines: []string{string(aks[0]), "", "  ", string(aks[1])}, want: 2, form: "native"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			require.NoError(t, os.WriteFile(path, []byte(strings.Join(tt.lines, "\n")+"\n"), 0o600))
			tel := componenttest.NewTelemetry()
			defer func() { _ = tel.Shutdown(context.Background()) }()
			set := receivertest.NewNopSettings(metadata.Type)
			set.TelemetrySettings = tel.NewTelemetrySettings()
			cfg := fileConfig(path)
			if tt.format != "" {
				cfg.File.Get().Format = tt.format
			}
			sink := new(consumertest.LogsSink)
			r, err := newReceiver(set, cfg, sink)
			require.NoError(t, err)
			require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
			h := &harness{tel: tel}
			require.Eventually(t, func() bool {
				return sink.LogRecordCount() >= tt.want && h.counter(t, "otelcol_k8s_audit_rejected", "") >= tt.rejects
			}, 10*time.Second, 10*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			require.NoError(t, r.Shutdown(context.Background()))
			recs := allRecords(sink)
			require.Len(t, recs, tt.want)
			for _, lr := range recs {
				assert.Equal(t, tt.form, attrStr(lr, attr.AuditSourceForm))
				assert.Equal(t, inputFile, func() string {
					v, _ := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).Scope().Attributes().Get(attr.AuditInput)
					return v.Str()
				}())
			}
			assert.Equal(t, tt.rejects, h.counter(t, "otelcol_k8s_audit_rejected", ""))
		})
	}
}

func TestRecordCarriesPrincipal(t *testing.T) {
	h := startWebhookWith(t, func(*WebhookConfig) {})
	inner := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"p-1","stage":"ResponseComplete","verb":"create","user":{"username":"aad:6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11"},"objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},"stageTimestamp":"2024-05-01T10:00:00Z"}`
	resp, body := h.postWith(t, `{"records":[`+aksRecord("kube-audit", []byte(inner))+`]}`, nil)
	require.Equal(t, 200, resp.StatusCode, body)
	lr := allRecords(h.sink)[0]
	assert.Equal(t, "aad:6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11", attrStr(lr, attr.UserName), "the event's own user is kept")
	assert.Equal(t, "6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11", attrStr(lr, attr.AuditCloudPrincipal))
	ev, err := audit.Decode([]byte(lr.Body().Str()))
	require.NoError(t, err)
	require.NotNil(t, ev.CloudPrincipal, "the body carries the principal to the processor")
	assert.Equal(t, "azure", ev.CloudPrincipal.Provider)
}
