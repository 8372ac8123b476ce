// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/samples"
)

// The shared samples hold the events of each cloud as the cloud shows them
// (a GKE LogEntry as KHI keeps it in YAML, the message of an EKS CloudWatch
// log event, the properties.log of AKS records); these helpers wrap them the
// way each cloud delivers them.

const (
	sampleGKE  = "repo-GoogleCloudPlatform-khi-k8s_audit-container_recorder_test_1_3.yaml"
	sampleEKS  = "repo-overdrive3000-go-lambda-eks-logs-README-eks-audit.log"
	sampleAKS  = "repo-denniszielke-container_demos-Security_RBAC-aks-audit.log"
	sampleGDCH = "docs-google-gdch-audit-rm.log"
)

// gkeEntryJSON is the GKE sample LogEntry as one line of JSON, the form log
// sinks write.
func gkeEntryJSON(tb testing.TB) []byte {
	tb.Helper()
	y := samples.Read(tb, "cloud-audit", sampleGKE)
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sampleLines returns the non-blank lines of a cloud-audit sample.
func sampleLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	return records(samples.Read(tb, "cloud-audit", name))
}

func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func pubSubPush(entry []byte) []byte {
	return []byte(`{"message":{"attributes":{"logging.googleapis.com/timestamp":"2024-01-01T01:00:00Z"},"data":"` + b64(entry) +
		`","messageId":"8849481934120617","publishTime":"2024-01-01T01:00:01.5Z"},"subscription":"projects/sample-project/subscriptions/podtrail-audit"}`)
}

// cwPayload is a CloudWatch Logs subscription payload for stream.
func cwPayload(stream string, messages ...[]byte) []byte {
	var evs []string
	for i, m := range messages {
		evs = append(evs, fmt.Sprintf(`{"id":"3665549591846853287925573520097%05d","timestamp":1632731804021,"message":%s}`, i, jsonString(string(m))))
	}
	return []byte(`{"messageType":"DATA_MESSAGE","owner":"12345678912","logGroup":"/aws/eks/tgw/cluster","logStream":"` + stream +
		`","subscriptionFilters":["podtrail"],"logEvents":[` + strings.Join(evs, ",") + `]}`)
}

const cwControl = `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1632731804021,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`

func awsLogs(tb testing.TB, payload []byte) []byte {
	return []byte(`{"awslogs":{"data":"` + b64(gzipBytes(tb, payload)) + `"}}`)
}

// firehose is a Firehose HTTP endpoint delivery whose records carry data.
func firehose(records ...[]byte) []byte {
	var rs []string
	for _, r := range records {
		rs = append(rs, `{"data":"`+b64(r)+`"}`)
	}
	return []byte(`{"requestId":"ed4acda5-034f-9f42-bba1-f29aea6d7d8f","timestamp":1632731805000,"records":[` + strings.Join(rs, ",") + `]}`)
}

func azRecord(category string, log []byte) []byte {
	return []byte(`{"time":"2019-09-20T11:52:19.0690000Z","resourceId":"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS",` +
		`"category":"` + category + `","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",` +
		`"properties":{"log":` + jsonString(string(log)+"\n") + `,"stream":"stdout","pod":"kube-apiserver-7d9c5b6f4-x2x7p"}}`)
}

func azRecords(records ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i, r := range records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}
