// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type variant struct {
	name string
	body []byte
	form Form
}

// cloudVariants wraps each cloud-audit sample the ways its cloud delivers it.
func cloudVariants(t testing.TB, sample string) []variant {
	switch sample {
	case sampleGKE:
		entry := gkeEntryJSON(t)
		return []variant{
			{"log sink file line (auto)", entry, FormAuto},
			{"log sink file line (gke)", entry, FormGKE},
			{"Pub/Sub push (auto)", pubSubPush(entry), FormAuto},
			{"Pub/Sub push (gke)", pubSubPush(entry), FormGKE},
		}
	case sampleEKS:
		msg := sampleLines(t, sample)[0]
		payload := cwPayload("kube-apiserver-audit-6a1d2f3c4b5e6a7b8c9d0e1f2a3b4c5d", msg)
		return []variant{
			{"CloudWatch message as is (auto)", msg, FormAuto},
			{"CloudWatch message as is (eks)", msg, FormEKS},
			{"awslogs envelope (auto)", awsLogs(t, payload), FormAuto},
			{"awslogs envelope (eks)", awsLogs(t, payload), FormEKS},
			{"subscription payload gzip'd (auto)", gzipBytes(t, payload), FormAuto},
			{"subscription payload (auto)", payload, FormAuto},
			{"Firehose, gzip'd payload + control message (auto)", firehose(gzipBytes(t, payload), gzipBytes(t, []byte(cwControl))), FormAuto},
			{"Firehose, decompressed and extracted (eks)", firehose(append(append([]byte{}, msg...), '\n')), FormEKS},
			{"Firehose, other log stream (auto)", firehose(gzipBytes(t, cwPayload("kube-apiserver-6a1d2f3c4b5e", []byte("I0927 08:36:44.021638 1 trace.go:205] Trace")))), FormAuto},
			{"CloudWatch export line (auto)", append([]byte("2021-09-27T08:36:44.021Z "), msg...), FormAuto},
			{"CloudWatch log event (auto)", []byte(`{"id":"36655495918468532879255735200970000","timestamp":1632731804021,"message":` + jsonString(string(msg)) + `}`), FormAuto},
		}
	case sampleAKS:
		lines := sampleLines(t, sample)
		var recs [][]byte
		for _, l := range lines {
			recs = append(recs, azRecord(AKSCategoryAudit, l))
		}
		other := azRecord("kube-apiserver", []byte("I0920 11:52:19.062985 1 get.go:251] GET /api/v1/namespaces/default/pods/nginx"))
		vs := []variant{
			{"Event Hubs records + a kube-apiserver record (auto)", azRecords(append(recs, other)...), FormAuto},
			{"Event Hubs records (aks)", azRecords(recs...), FormAKS},
			{"kube-audit-admin record (auto)", azRecord(AKSCategoryAuditAdmin, lines[1]), FormAuto},
		}
		for i, r := range recs {
			vs = append(vs, variant{fmt.Sprintf("storage account line %d (auto)", i+1), r, FormAuto})
		}
		for i, l := range lines {
			vs = append(vs, variant{fmt.Sprintf("properties.log as is %d (auto)", i+1), l, FormAuto})
			vs = append(vs, variant{fmt.Sprintf("properties.log as is %d (aks)", i+1), l, FormAKS})
		}
		return vs
	case sampleGDCH:
		line := sampleLines(t, sample)[0]
		return []variant{{"fluent-bit forwarded line (auto)", line, FormAuto}}
	}
	t.Fatalf("no variants for %s", sample)
	return nil
}

// TestCloudSamplesGolden decodes each cloud-audit sample in each of its
// cloud's delivery forms and compares the decoded events with a reviewed
// golden file. The events of one sample must decode the same in every form.
func TestCloudSamplesGolden(t *testing.T) {
	for _, sample := range []string{sampleGKE, sampleEKS, sampleAKS, sampleGDCH} {
		t.Run(sample, func(t *testing.T) {
			var out bytes.Buffer
			want := map[string]string{} // auditID -> summary in the first form
			for _, v := range cloudVariants(t, sample) {
				b := DecodeBody(v.body, v.form)
				fmt.Fprintf(&out, "== %s: form=%s envelope=%s items=%d skipped=%d", v.name, b.Form, b.Envelope, len(b.Items), b.Skipped)
				if b.Err != nil {
					fmt.Fprintf(&out, " error=%v", b.Err)
				}
				out.WriteString("\n")
				for _, it := range b.Items {
					if it.Err != nil {
						fmt.Fprintf(&out, "ERROR %v\n", it.Err)
						continue
					}
					s := cloudSummary(it.Event)
					out.WriteString(s)
					if w, ok := want[it.Event.AuditID]; ok && w != s {
						t.Errorf("%s: event decodes differently from the first form:\n got %s\nwant %s", v.name, s, w)
					}
					want[it.Event.AuditID] = s
					back, err := Decode(it.Raw)
					if err != nil {
						t.Errorf("%s: the record body does not decode: %v", v.name, err)
					} else if cloudSummary(back) != s {
						t.Errorf("%s: the record body decodes differently:\n got %s\nwant %s", v.name, cloudSummary(back), s)
					}
				}
			}
			golden(t, filepath.Join("testdata", "golden", "cloud-audit", sample+".golden"), out.Bytes())
		})
	}
}

func cloudSummary(ev *Event) string {
	res, sub, ns, name := ev.Resource()
	if sub != "" {
		res += "/" + sub
	}
	group := ""
	if ev.ObjectRef != nil {
		group = ev.ObjectRef.APIGroup
	}
	p := ""
	if c := ev.CloudPrincipal; c != nil {
		p = c.Provider + ":" + c.ID
		if c.Session != "" {
			p += " session=" + c.Session
		}
		if c.AccessKeyID != "" {
			p += " key=" + c.AccessKeyID
		}
	}
	const ts = "2006-01-02T15:04:05.000000Z"
	return fmt.Sprintf("%s %s %s %s %s group=%q ns=%q name=%q user=%q groups=%q ips=%q ua=%q code=%d decision=%q received=%s at=%s principal=%q req=%d resp=%d\n",
		ev.AuditID, ev.Stage, ev.Level, ev.Verb, res, group, ns, name, ev.User.Username, ev.User.Groups, ev.SourceIPs, ev.UserAgent,
		ev.Code(), ev.Decision(), ev.RequestReceivedTimestamp.UTC().Format(ts), ev.StageTimestamp.UTC().Format(ts), p,
		len(ev.RequestObject), len(ev.ResponseObject))
}

func TestDetectForm(t *testing.T) {
	tests := []struct {
		body     string
		form     Form
		envelope string
	}{
		{`{"kind":"EventList","items":[]}`, FormNative, EnvelopeEventList},
		{`{"kind":"Event","auditID":"a"}`, FormNative, EnvelopeEvent},
		{`{"level":"Metadata","auditID":"a"}`, FormNative, EnvelopeEvent},
		{`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"auditID"`, FormNative, EnvelopeEventList},
		{`{"insertId":"x","protoPayload":{}}`, FormGKE, EnvelopeLogEntry},
		{`{"message":{"data":"e30="},"subscription":"s"}`, FormGKE, EnvelopePubSubPush},
		{`{"awslogs":{"data":"H4sI"}}`, FormEKS, EnvelopeAWSLogs},
		{`{"messageType":"DATA_MESSAGE","logEvents":[]}`, FormEKS, EnvelopeCloudWatch},
		{`{"requestId":"r","timestamp":1,"records":[]}`, FormEKS, EnvelopeFirehose},
		{`{"records":[],"requestId":"r"}`, FormEKS, EnvelopeFirehose},
		{`{"id":"1","timestamp":1,"message":"{}"}`, FormEKS, EnvelopeCWEvent},
		{`2021-09-27T08:36:44.021Z {"auditID":"a"}`, FormEKS, EnvelopeCWExport},
		{`{"records":[{"category":"kube-audit"}]}`, FormAKS, EnvelopeAzureList},
		{`{"time":"2019-09-20T11:52:19Z","category":"kube-audit","properties":{"log":"{}"}}`, FormAKS, EnvelopeAzureRecord},
		{`{"_gdch_cluster":"root-admin","stage":"ResponseComplete"}`, FormNative, EnvelopeEvent},
		{`hello`, FormNative, EnvelopeEvent},
		{``, FormNative, EnvelopeEvent},
	}
	for _, tt := range tests {
		env, form := detect([]byte(tt.body))
		if form != tt.form || env != tt.envelope {
			t.Errorf("detect(%.40q) = %s/%s, want %s/%s", tt.body, form, env, tt.form, tt.envelope)
		}
		if f := DetectForm([]byte(tt.body)); f != tt.form {
			t.Errorf("DetectForm(%.40q) = %s", tt.body, f)
		}
	}
}

func TestParseForm(t *testing.T) {
	for in, want := range map[string]Form{"": FormAuto, "auto": FormAuto, "GKE": FormGKE, " eks ": FormEKS, "aks": FormAKS, "native": FormNative} {
		if got, err := ParseForm(in); err != nil || got != want {
			t.Errorf("ParseForm(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseForm("cloudtrail"); err == nil {
		t.Error("unknown form accepted")
	}
}

func TestForcedFormMismatch(t *testing.T) {
	ev := []byte(`{"auditID":"a","stage":"ResponseComplete","verb":"get"}`)
	awslogs := []byte(`{"awslogs":{"data":"H4sI"}}`)
	for _, tt := range []struct {
		body []byte
		form Form
		ok   bool
	}{
		{ev, FormNative, true},
		{ev, FormEKS, true},
		{ev, FormAKS, true},
		{ev, FormGKE, false},
		{awslogs, FormNative, false},
		{awslogs, FormAKS, false},
	} {
		b := DecodeBody(tt.body, tt.form)
		if (b.Err == nil) != tt.ok {
			t.Errorf("%s under %s: err %v", tt.body, tt.form, b.Err)
		}
		if !tt.ok && !errors.Is(b.Err, ErrNotAuditEvent) {
			t.Errorf("mismatch error %v does not wrap ErrNotAuditEvent", b.Err)
		}
		if tt.ok && b.Form != tt.form {
			t.Errorf("form %s, want %s", b.Form, tt.form)
		}
	}
}

func TestParseGKEResource(t *testing.T) {
	tests := []struct {
		in   string
		want *ObjectReference
	}{
		{"core/v1/namespaces/default/pods/web", &ObjectReference{Resource: "pods", Namespace: "default", Name: "web", APIVersion: "v1"}},
		{"core/v1/namespaces/default/pods/web/status", &ObjectReference{Resource: "pods", Namespace: "default", Name: "web", APIVersion: "v1", Subresource: "status"}},
		{"core/v1/namespaces/default/pods", &ObjectReference{Resource: "pods", Namespace: "default", APIVersion: "v1"}},
		{"apps/v1/namespaces/a/deployments/d", &ObjectReference{Resource: "deployments", Namespace: "a", Name: "d", APIGroup: "apps", APIVersion: "v1"}},
		{"rbac.authorization.k8s.io/v1/clusterroles/admin", &ObjectReference{Resource: "clusterroles", Name: "admin", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1"}},
		{"core/v1/namespaces/team-a", &ObjectReference{Resource: "namespaces", Namespace: "team-a", Name: "team-a", APIVersion: "v1"}},
		{"core/v1/namespaces/team-a/finalize", &ObjectReference{Resource: "namespaces", Namespace: "team-a", Name: "team-a", APIVersion: "v1", Subresource: "finalize"}},
		{"core/v1/nodes/node-1/proxy/metrics", &ObjectReference{Resource: "nodes", Name: "node-1", APIVersion: "v1", Subresource: "proxy"}},
		{"core/v1/pods", &ObjectReference{Resource: "pods", APIVersion: "v1"}},
		{"/healthz", nil},
		{"projects/p/zones/z/clusters/c", nil},
		{"core", nil},
	}
	for _, tt := range tests {
		got := parseGKEResource(tt.in)
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("parseGKEResource(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

const gkeCreate = `{"insertId":"i1","labels":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"access granted by IAM permissions."},` +
	`"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity","operation":{"first":true,"id":"aaaa-1","last":true,"producer":"k8s.io"},` +
	`"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"alice@example.com"},` +
	`"authorizationInfo":[{"granted":true,"permission":"io.k8s.core.v1.pods.create","resource":"core/v1/namespaces/default/pods/web"}],` +
	`"methodName":"io.k8s.core.v1.pods.create","request":{"@type":"core.k8s.io/v1.Pod","metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"web","image":"nginx"}]}},` +
	`"requestMetadata":{"callerIp":"203.0.113.7","callerSuppliedUserAgent":"kubectl/v1.30.1 (darwin/arm64) kubernetes/9bd9a5b"},` +
	`"resourceName":"core/v1/namespaces/default/pods/web","response":{"@type":"core.k8s.io/v1.Pod","apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"web","image":"nginx"}]}},` +
	`"serviceName":"k8s.io","status":{}},"receiveTimestamp":"2024-05-01T10:00:01.2Z","resource":{"labels":{"cluster_name":"c","location":"europe-west1","project_id":"p"},"type":"k8s_cluster"},` +
	`"severity":"NOTICE","timestamp":"2024-05-01T10:00:00.123456Z"}`

func TestDecodeGKE(t *testing.T) {
	ev, err := DecodeGKE([]byte(gkeCreate))
	if err != nil {
		t.Fatal(err)
	}
	if !ev.IsPodCreate() || ev.Code() != 201 || ev.User.Username != "alice@example.com" || ev.Level != "RequestResponse" ||
		ev.CloudPrincipal == nil || ev.CloudPrincipal.ID != "alice@example.com" || ev.Decision() != "allow" {
		t.Fatalf("bad decode: %s", cloudSummary(ev))
	}
	p, err := DecodePod(ev.ResponseObject)
	if err != nil || p == nil || p.Metadata.UID != "u-1" {
		t.Fatalf("response pod %+v %v", p, err)
	}
	req, err := DecodePod(ev.RequestObject)
	if err != nil || req == nil || req.Kind != "Pod" || req.APIVersion != "v1" || bytes.Contains(ev.RequestObject, []byte("@type")) {
		t.Fatalf("request object %s: %+v %v", ev.RequestObject, req, err)
	}

	denied := strings.NewReplacer(`"granted":true`, `"granted":false`, `"status":{}`, `"status":{"code":7,"message":"Forbidden"}`,
		`"response":{"@type":"core.k8s.io/v1.Pod","apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"web","image":"nginx"}]}},`,
		`"response":{"@type":"meta.k8s.io/v1.Status","status":"Failure","message":"pods \"web\" is forbidden","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403},`,
		`"labels":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"access granted by IAM permissions."},`, ``).Replace(gkeCreate)
	ev, err = DecodeGKE([]byte(denied))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Code() != 403 || ev.ResponseStatus.Reason != "Forbidden" || ev.Decision() != "forbid" {
		t.Fatalf("denied create: %s %+v", cloudSummary(ev), ev.ResponseStatus)
	}
	if p, err := DecodePod(ev.ResponseObject); p != nil || err != nil {
		t.Fatalf("a Status response is no pod: %v %v", p, err)
	}

	noResp := strings.Replace(gkeCreate, `"status":{}`, `"status":{"code":5,"message":"not found"}`, 1)
	noResp = strings.Replace(noResp, `"response":{"@type":"core.k8s.io/v1.Pod","apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u-1"},"spec":{"containers":[{"name":"web","image":"nginx"}]}},`, ``, 1)
	if ev, err = DecodeGKE([]byte(noResp)); err != nil || ev.Code() != 404 || ev.ResponseStatus.Status != "Failure" || ev.Level != "Request" {
		t.Fatalf("gRPC NOT_FOUND: %v %+v", err, ev)
	}

	watchStart := strings.Replace(gkeCreate, `"last":true`, `"last":false`, 1)
	if ev, err = DecodeGKE([]byte(watchStart)); err != nil || ev.Stage != StageResponseStarted {
		t.Fatalf("first of a long operation: %v %+v", err, ev)
	}
	node := strings.Replace(gkeCreate, `alice@example.com`, `system:node:gke-c-pool-1`, 1)
	if ev, err = DecodeGKE([]byte(node)); err != nil || ev.CloudPrincipal != nil {
		t.Fatalf("a Kubernetes identity is no cloud principal: %v %+v", err, ev.CloudPrincipal)
	}

	for name, in := range map[string]string{
		"gke_cluster resource":  strings.Replace(gkeCreate, `"type":"k8s_cluster"`, `"type":"gke_cluster"`, 1),
		"other service":         strings.Replace(gkeCreate, `"serviceName":"k8s.io"`, `"serviceName":"container.googleapis.com"`, 1),
		"no protoPayload":       `{"insertId":"x","resource":{"type":"k8s_cluster"},"textPayload":"hello"}`,
		"other payload type":    strings.Replace(gkeCreate, `google.cloud.audit.AuditLog`, `google.cloud.audit.Other`, 1),
		"no method":             strings.Replace(gkeCreate, `"methodName":"io.k8s.core.v1.pods.create",`, ``, 1),
		"no operation, no id":   strings.NewReplacer(`"operation":{"first":true,"id":"aaaa-1","last":true,"producer":"k8s.io"},`, ``, `"insertId":"i1",`, ``).Replace(gkeCreate),
		"mistyped protoPayload": `{"insertId":"x","resource":{"type":"k8s_cluster"},"protoPayload":"x"}`,
		"bad timestamp":         strings.Replace(gkeCreate, `"timestamp":"2024-05-01T10:00:00.123456Z"`, `"timestamp":"yesterday"`, 1),
	} {
		if _, err := DecodeGKE([]byte(in)); !errors.Is(err, ErrNotAuditEvent) {
			t.Errorf("%s: err = %v, want ErrNotAuditEvent", name, err)
		}
	}
	if _, err := DecodeGKE([]byte(`{"protoPayload":`)); err == nil || errors.Is(err, ErrNotAuditEvent) {
		t.Errorf("cut JSON: err = %v, want invalid JSON", err)
	}
}

func TestGKETypeKind(t *testing.T) {
	for typ, want := range map[string]string{
		"core.k8s.io/v1.Pod":                         "v1 Pod",
		"apps.k8s.io/v1.Deployment":                  "apps/v1 Deployment",
		"batch.k8s.io/v1.Job":                        "batch/v1 Job",
		"meta.k8s.io/v1.Status":                      "v1 Status",
		"rbac.authorization.k8s.io/v1.RoleBinding":   "rbac.authorization.k8s.io/v1 RoleBinding",
		"networking.k8s.io/v1.NetworkPolicy":         "networking.k8s.io/v1 NetworkPolicy",
		"k8s.io/Patch":                               " ",
		"type.googleapis.com/google.protobuf.Struct": " ",
	} {
		v, k := gkeTypeKind(typ)
		if v+" "+k != want {
			t.Errorf("gkeTypeKind(%q) = %q %q, want %q", typ, v, k, want)
		}
	}
}

func TestPubSubErrors(t *testing.T) {
	for name, body := range map[string]string{
		"no message":    `{"subscription":"s"}`,
		"no data":       `{"message":{"messageId":"1"},"subscription":"s"}`,
		"bad base64":    `{"message":{"data":"!!!"},"subscription":"s"}`,
		"mistyped data": `{"message":{"data":5},"subscription":"s"}`,
	} {
		b := DecodeBody([]byte(body), FormAuto)
		if !errors.Is(b.Err, ErrEnvelope) || len(b.Items) != 0 {
			t.Errorf("%s: err = %v, items %d", name, b.Err, len(b.Items))
		}
	}
	b := DecodeBody(pubSubPush([]byte(`{"hello":"world"}`)), FormAuto)
	if b.Err != nil || len(b.Items) != 1 || !errors.Is(b.Items[0].Err, ErrNotAuditEvent) {
		t.Fatalf("a message that is no LogEntry: %+v", b)
	}
	// Unpadded and URL-safe base64 are taken too.
	entry := []byte(gkeCreate)
	for _, data := range []string{strings.TrimRight(b64(entry), "="), strings.NewReplacer("+", "-", "/", "_").Replace(b64(entry))} {
		b := DecodeBody([]byte(`{"message":{"data":"`+data+`"},"subscription":"s"}`), FormGKE)
		if b.Err != nil || len(b.Items) != 1 || b.Items[0].Err != nil {
			t.Fatalf("base64 variant: %+v", b)
		}
	}
}

const evJSON = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":%s,"sourceIPs":["192.0.2.1"],"objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestReceivedTimestamp":"2024-05-01T10:00:00.000001Z","stageTimestamp":"2024-05-01T10:00:00.000002Z"}`

func TestEKSPrincipal(t *testing.T) {
	tests := []struct {
		user string
		want string
	}{
		{`{"username":"kubernetes-admin","uid":"aws-iam-authenticator:111122223333:AROAEXAMPLE","groups":["system:masters"],"extra":{"accessKeyId":["ASIAEXAMPLE"],"arn":["arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com"],"canonicalArn":["arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef"],"principalId":["AROAEXAMPLE"],"sessionName":["alice@example.com"]}}`,
			"aws:arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef session=alice@example.com key=ASIAEXAMPLE"},
		{`{"username":"kubernetes-admin","extra":{"arn":["arn:aws-cn:sts::111122223333:assumed-role/ci-deployer/gitlab-1234"]}}`,
			"aws:arn:aws-cn:iam::111122223333:role/ci-deployer session=gitlab-1234"},
		{`{"username":"bob","extra":{"arn":["arn:aws:iam::111122223333:user/bob"]}}`, "aws:arn:aws:iam::111122223333:user/bob"},
		{`{"username":"carol@contoso.com","extra":{"oid":["6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11"]}}`, "azure:6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11"},
		{`{"username":"system:serviceaccount:kube-system:replicaset-controller"}`, ""},
	}
	for _, tt := range tests {
		ev, err := Decode([]byte(fmt.Sprintf(evJSON, "a", tt.user)))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if c := ev.CloudPrincipal; c != nil {
			got = c.Provider + ":" + c.ID
			if c.Session != "" {
				got += " session=" + c.Session
			}
			if c.AccessKeyID != "" {
				got += " key=" + c.AccessKeyID
			}
		}
		if got != tt.want {
			t.Errorf("principal of %s = %q, want %q", tt.user, got, tt.want)
		}
	}
	if got := IAMARN("arn:aws:sts::1:assumed-role/"); got != "arn:aws:sts::1:assumed-role/" {
		t.Errorf("IAMARN of a broken ARN = %q", got)
	}
}

func TestAKSPrincipalTravelsInBody(t *testing.T) {
	for _, user := range []string{"aad:6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11", "6B2F5C1E-1D0A-4A4B-9D0B-2F1F0B7C1A11"} {
		inner := []byte(fmt.Sprintf(evJSON, "a", `{"username":"`+user+`","groups":["system:authenticated"]}`))
		b := DecodeBody(azRecords(azRecord(AKSCategoryAudit, inner)), FormAuto)
		if b.Err != nil || len(b.Items) != 1 || b.Items[0].Err != nil {
			t.Fatalf("%+v", b)
		}
		it := b.Items[0]
		if it.Event.CloudPrincipal == nil || it.Event.CloudPrincipal.Provider != "azure" || it.Event.User.Username != user {
			t.Fatalf("AKS object id: %+v %+v", it.Event.User, it.Event.CloudPrincipal)
		}
		back, err := Decode(it.Raw)
		if err != nil || back.CloudPrincipal == nil || *back.CloudPrincipal != *it.Event.CloudPrincipal {
			t.Fatalf("the record body loses the principal: %s %v", it.Raw, err)
		}
		if !json.Valid(it.Raw) {
			t.Fatalf("invalid body %s", it.Raw)
		}
	}
	// The same username outside AKS names no cloud principal.
	ev, err := Decode([]byte(fmt.Sprintf(evJSON, "a", `{"username":"6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11"}`)))
	if err != nil || ev.CloudPrincipal != nil {
		t.Fatalf("native GUID user: %v %+v", err, ev.CloudPrincipal)
	}
}

func TestAKSRecords(t *testing.T) {
	good := azRecord(AKSCategoryAudit, []byte(fmt.Sprintf(evJSON, "a1", `{"username":"u"}`)))
	admin := azRecord(AKSCategoryAuditAdmin, []byte(fmt.Sprintf(evJSON, "a2", `{"username":"u"}`)))
	guard := azRecord("guard", []byte(`level=info msg="authenticated"`))
	notEvent := azRecord(AKSCategoryAudit, []byte(`{"kind":"Pod"}`))
	noLog := []byte(`{"category":"kube-audit","properties":{}}`)
	logObject := []byte(`{"category":"kube-audit","properties":{"log":` + fmt.Sprintf(evJSON, "a3", `{"username":"u"}`) + `}}`)
	b := DecodeBody(azRecords(good, guard, notEvent, admin, noLog, []byte(`42`), logObject), FormAuto)
	if b.Err != nil || b.Skipped != 1 || len(b.Items) != 6 {
		t.Fatalf("err %v skipped %d items %d", b.Err, b.Skipped, len(b.Items))
	}
	var ok, bad int
	for _, it := range b.Items {
		if it.Err != nil {
			bad++
		} else {
			ok++
		}
	}
	if ok != 3 || bad != 3 {
		t.Fatalf("ok %d bad %d", ok, bad)
	}
	cut := azRecords(good, admin)
	cut = cut[:len(cut)-len(admin)/2]
	b = DecodeBody(cut, FormAKS)
	if !errors.Is(b.Err, ErrTruncated) || len(b.Items) != 1 || b.Items[0].Err != nil {
		t.Fatalf("cut records: %v %d", b.Err, len(b.Items))
	}
	if b := DecodeBody([]byte(`{"records":{}}`), FormAKS); !errors.Is(b.Err, ErrEnvelope) {
		t.Fatalf("records not an array: %v", b.Err)
	}
}

func TestEKSEnvelopes(t *testing.T) {
	msg := []byte(fmt.Sprintf(evJSON, "e1", `{"username":"u"}`))
	payload := cwPayload("kube-apiserver-audit-1", msg, []byte(`{"kind":"Pod"}`), []byte(fmt.Sprintf(evJSON, "e2", `{"username":"u"}`)))
	tests := []struct {
		name            string
		body            []byte
		ok, bad, skip   int
		errIs           error
		requestID       string
		anyBodyErr      bool
		wantNoBodyError bool
	}{
		{name: "awslogs", body: awsLogs(t, payload), ok: 2, bad: 1},
		{name: "awslogs control message", body: awsLogs(t, []byte(cwControl)), skip: 1},
		{name: "awslogs bad base64", body: []byte(`{"awslogs":{"data":"%%%"}}`), errIs: ErrEnvelope},
		{name: "awslogs not gzip", body: []byte(`{"awslogs":{"data":"` + b64([]byte("hello")) + `"}}`), errIs: ErrEnvelope},
		{name: "awslogs cut gzip", body: []byte(`{"awslogs":{"data":"` + b64(gzipBytes(t, payload)[:40]) + `"}}`), errIs: ErrEnvelope},
		{name: "awslogs no data", body: []byte(`{"awslogs":{}}`), errIs: ErrEnvelope},
		{name: "unknown message type", body: []byte(`{"messageType":"OTHER","logEvents":[]}`), errIs: ErrEnvelope},
		{name: "mistyped log events", body: []byte(`{"messageType":"DATA_MESSAGE","logEvents":{}}`), errIs: ErrEnvelope},
		{name: "firehose with one broken record", body: firehose(gzipBytes(t, payload), []byte("not gzip, not json"), gzipBytes(t, []byte(cwControl))), ok: 2, bad: 2, skip: 1, requestID: "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"},
		{name: "firehose bad base64 record", body: []byte(`{"requestId":"r","records":[{"data":"%%%"},{"data":"` + b64(msg) + `"}]}`), ok: 1, bad: 1, requestID: "r"},
		{name: "firehose mistyped record", body: []byte(`{"requestId":"r","records":[{"data":5}]}`), bad: 1, requestID: "r"},
		{name: "firehose mistyped records", body: []byte(`{"requestId":"r","records":5}`), errIs: ErrEnvelope},
		{name: "firehose cut", body: firehose(msg, msg)[:len(firehose(msg, msg))-20], ok: 1, errIs: ErrTruncated},
		{name: "export line, bad JSON", body: []byte(`2021-09-27T08:36:44.021Z {"auditID":`), bad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := DecodeBody(tt.body, FormEKS)
			var ok, bad int
			for _, it := range b.Items {
				if it.Err != nil {
					bad++
				} else {
					ok++
				}
			}
			if ok != tt.ok || bad != tt.bad || b.Skipped != tt.skip {
				t.Fatalf("ok %d bad %d skipped %d (err %v)", ok, bad, b.Skipped, b.Err)
			}
			if tt.errIs != nil && !errors.Is(b.Err, tt.errIs) {
				t.Fatalf("err = %v, want %v", b.Err, tt.errIs)
			}
			if tt.errIs == nil && b.Err != nil {
				t.Fatalf("unexpected body error %v", b.Err)
			}
			if b.RequestID != tt.requestID {
				t.Fatalf("requestId %q", b.RequestID)
			}
		})
	}
}

func TestGunzipLimit(t *testing.T) {
	big := gzipBytes(t, bytes.Repeat([]byte{' '}, MaxDecompressed+10))
	if _, err := gunzipMaybe(big); !errors.Is(err, ErrEnvelope) {
		t.Fatalf("a payload over the limit: %v", err)
	}
	// The limit is for the body: records under it one by one, over it
	// together, fail from the one that goes over.
	rec := gzipBytes(t, append(bytes.Repeat([]byte{' '}, MaxDecompressed/2), []byte(fmt.Sprintf(evJSON, "z", `{"username":"u"}`))...))
	b := DecodeBody(firehose(rec, rec, rec), FormEKS)
	if len(b.Items) != 3 || b.Items[0].Err != nil || !errors.Is(b.Items[1].Err, ErrEnvelope) || !errors.Is(b.Items[2].Err, ErrEnvelope) {
		t.Fatalf("budget: %+v", b.Err)
	}
}

func TestCutExportTime(t *testing.T) {
	ts, rest, ok := cutExportTime([]byte("2021-09-27T08:36:44.021Z  {\"a\":1}"))
	if !ok || string(rest) != `{"a":1}` || !ts.Equal(time.Date(2021, 9, 27, 8, 36, 44, 21e6, time.UTC)) {
		t.Fatalf("%v %q %v", ts, rest, ok)
	}
	for _, in := range []string{"2021-09-27 08:36:44 {}", "not a time at all {}", "2021-09-27T08:36:44.021Z"} {
		if _, _, ok := cutExportTime([]byte(in)); ok {
			t.Errorf("%q cut", in)
		}
	}
}
