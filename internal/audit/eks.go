// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxDecompressed bounds what the gzip'd CloudWatch payloads of one body may
// expand to, together.
const MaxDecompressed = 64 << 20

// EKSAuditStreamPrefix starts the name of the CloudWatch log streams that
// hold an EKS cluster's audit events (its log group /aws/eks/<cluster>/cluster
// also holds kube-apiserver-*, authenticator-*, kube-controller-manager-* ...).
const EKSAuditStreamPrefix = "kube-apiserver-audit"

// CloudWatchPayload is what a CloudWatch Logs subscription filter delivers,
// once gunzipped.
type CloudWatchPayload struct {
	MessageType string `json:"messageType"` // DATA_MESSAGE or CONTROL_MESSAGE
	Owner       string `json:"owner,omitempty"`
	LogGroup    string `json:"logGroup"`
	LogStream   string `json:"logStream"`
	LogEvents   []struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"` // ms since the epoch
		Message   string `json:"message"`
	} `json:"logEvents"`
}

// UnwrapAWSLogs returns the CloudWatch Logs payload (JSON) of an awslogs
// envelope {"awslogs":{"data":"<base64 of gzip>"}}, as a subscription filter
// hands it to Lambda.
func UnwrapAWSLogs(body []byte) ([]byte, error) {
	var env struct {
		AWSLogs *struct {
			Data string `json:"data"`
		} `json:"awslogs"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: awslogs: %v", ErrEnvelope, err)
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if env.AWSLogs == nil || env.AWSLogs.Data == "" {
		return nil, fmt.Errorf("%w: awslogs without data", ErrEnvelope)
	}
	zipped, err := decodeBase64(env.AWSLogs.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: awslogs data: %v", ErrEnvelope, err)
	}
	payload, err := gunzipMaybe(zipped)
	if err != nil {
		return nil, err
	}
	if p := bytes.TrimSpace(payload); len(p) == 0 || p[0] != '{' {
		return nil, fmt.Errorf("%w: awslogs data is neither gzip nor JSON", ErrEnvelope)
	}
	return payload, nil
}

// gunzipMaybe gunzips data that starts with the gzip magic, and returns other
// data as it is.
func gunzipMaybe(data []byte) ([]byte, error) {
	return gunzipWithin(data, MaxDecompressed)
}

// gunzipWithin is gunzipMaybe for at most limit bytes of output.
func gunzipWithin(data []byte, limit int) ([]byte, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrEnvelope, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrEnvelope, err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: gzip payloads over %d bytes in one body", ErrEnvelope, MaxDecompressed)
	}
	return out, nil
}

// DecodeEKS decodes a CloudWatch Logs subscription payload (gzip'd or not)
// of an EKS cluster's log group: one item per log event of the audit streams.
// Control messages and other streams are skipped (counted in skipped).
func DecodeEKS(payload []byte) (items []Item, skipped int, err error) {
	return cloudWatchItems(payload)
}

func cloudWatchItems(payload []byte) ([]Item, int, error) {
	payload, err := gunzipMaybe(payload)
	if err != nil {
		return nil, 0, err
	}
	var p CloudWatchPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, 0, fmt.Errorf("%w: CloudWatch payload: %v", ErrEnvelope, err)
		}
		return nil, 0, fmt.Errorf("invalid CloudWatch payload JSON: %w", err)
	}
	switch p.MessageType {
	case "CONTROL_MESSAGE":
		return nil, len(p.LogEvents), nil
	case "DATA_MESSAGE", "":
	default:
		return nil, 0, fmt.Errorf("%w: CloudWatch messageType %q", ErrEnvelope, p.MessageType)
	}
	if p.LogStream != "" && !strings.HasPrefix(p.LogStream, EKSAuditStreamPrefix) {
		return nil, len(p.LogEvents), nil
	}
	cluster := eksCluster(p.LogGroup, p.Owner)
	items := make([]Item, 0, len(p.LogEvents))
	for _, le := range p.LogEvents {
		it := nativeItem([]byte(strings.TrimSpace(le.Message)))
		addCluster(&it, cluster)
		items = append(items, it)
	}
	return items, 0, nil
}

// eksCluster is the cluster whose log group is group (/aws/eks/<name>/cluster)
// in the AWS account owner; nil for another log group.
func eksCluster(group, owner string) *Cluster {
	name, ok := strings.CutPrefix(group, "/aws/eks/")
	if !ok {
		return nil
	}
	name, ok = strings.CutSuffix(name, "/cluster")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil
	}
	c := &Cluster{Name: name, Provider: "aws"}
	if isDigits(owner) {
		c.Account = owner
	}
	return c
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// firehoseItems decodes a Kinesis Data Firehose HTTP endpoint delivery. Each
// record's data is base64 of what the stream carries: for a CloudWatch Logs
// subscription a gzip'd payload, or, with Firehose's decompression and
// message extraction, the log messages one per line. A broken record is one
// failed item; the others are kept.
func firehoseItems(body []byte) (requestID string, items []Item, skipped int, err error) {
	var req struct {
		RequestID string            `json:"requestId"`
		Records   []json.RawMessage `json:"records"`
	}
	if uerr := json.Unmarshal(body, &req); uerr != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(uerr, &typeErr) {
			return "", nil, 0, fmt.Errorf("%w: Firehose delivery: %v", ErrEnvelope, uerr)
		}
		// Cut short: keep the complete records.
		req.Records, err = splitArray(body, "records")
		if err == nil {
			err = fmt.Errorf("invalid JSON: %w", uerr)
		}
	}
	budget := MaxDecompressed
	for i, rec := range req.Records {
		its, skip, rerr := firehoseRecord(rec, &budget)
		if rerr != nil {
			items = append(items, Item{Raw: rec, Err: fmt.Errorf("record %d: %w", i, rerr)})
			continue
		}
		items = append(items, its...)
		skipped += skip
	}
	return req.RequestID, items, skipped, err
}

// firehoseRecord decodes one record, its decompressed size taken from budget.
func firehoseRecord(rec json.RawMessage, budget *int) ([]Item, int, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		return nil, 0, fmt.Errorf("%w: Firehose record: %v", ErrEnvelope, err)
	}
	data, err := decodeBase64(r.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: Firehose record data: %v", ErrEnvelope, err)
	}
	if data, err = gunzipWithin(data, *budget); err != nil {
		return nil, 0, err
	}
	*budget -= len(data)
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, 0, fmt.Errorf("%w: empty Firehose record", ErrEnvelope)
	}
	if env, _ := detect(data); env == EnvelopeCloudWatch {
		return cloudWatchItems(data)
	}
	// Decompressed and extracted: the messages, one per line.
	var items []Item
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			items = append(items, eksLineItem(line))
		}
	}
	return items, 0, nil
}

// eksLineItem decodes one message line: an event, or an export line.
func eksLineItem(line []byte) Item {
	if _, rest, ok := cutExportTime(line); ok {
		return nativeItem(rest)
	}
	return nativeItem(line)
}

// eksExportItem decodes a line of a CloudWatch Logs export to S3:
// "<RFC 3339 time> <message>".
func eksExportItem(line []byte) Item {
	_, rest, _ := cutExportTime(line)
	return nativeItem(rest)
}

// eksLogEventItem decodes one CloudWatch log event {"id","timestamp","message"}.
func eksLogEventItem(data []byte) Item {
	var le struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(data, &le); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Item{Raw: data, Err: fmt.Errorf("%w: CloudWatch log event: %v", ErrEnvelope, err)}
		}
		return Item{Raw: data, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	return nativeItem([]byte(strings.TrimSpace(le.Message)))
}

// cutExportTime cuts the leading RFC 3339 timestamp of an exported line.
func cutExportTime(line []byte) (time.Time, []byte, bool) {
	if len(line) < 20 || line[4] != '-' || line[10] != 'T' {
		return time.Time{}, line, false
	}
	sp := bytes.IndexAny(line, " \t")
	if sp < 0 {
		return time.Time{}, line, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return time.Time{}, line, false
	}
	return t, bytes.TrimLeft(line[sp:], " \t"), true
}
