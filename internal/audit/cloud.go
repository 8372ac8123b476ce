// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Form is the shape in which audit events arrive: as the apiserver writes and
// posts them, or as a managed cloud exports them.
type Form string

// Forms of audit input. FormAuto is not a form: it asks DecodeBody to detect.
const (
	FormAuto   Form = "auto"
	FormNative Form = "native" // audit.k8s.io Event / EventList
	FormGKE    Form = "gke"    // Cloud Audit Logs LogEntry (k8s_cluster), bare or in a Pub/Sub push
	FormEKS    Form = "eks"    // CloudWatch Logs (awslogs envelope, subscription payload, Firehose delivery, export line)
	FormAKS    Form = "aks"    // Azure Monitor diagnostic records (kube-audit, kube-audit-admin)
)

// ParseForm accepts "", auto, native, gke, eks and aks ("" is auto).
func ParseForm(s string) (Form, error) {
	switch f := Form(strings.ToLower(strings.TrimSpace(s))); f {
	case "", FormAuto:
		return FormAuto, nil
	case FormNative, FormGKE, FormEKS, FormAKS:
		return f, nil
	default:
		return "", fmt.Errorf("unknown audit form %q (want auto, native, gke, eks or aks)", s)
	}
}

// Envelopes: what wraps the events of a body, finer than its Form.
const (
	EnvelopeEvent       = "event"             // one audit Event (native, or the inner event of eks/aks)
	EnvelopeEventList   = "eventlist"         // audit EventList
	EnvelopeLogEntry    = "log_entry"         // GKE LogEntry
	EnvelopePubSubPush  = "pubsub_push"       // {"message":{"data":<base64 LogEntry>},"subscription":...}
	EnvelopeAWSLogs     = "awslogs"           // {"awslogs":{"data":<base64 gzip CloudWatch payload>}}
	EnvelopeCloudWatch  = "cloudwatch"        // CloudWatch Logs subscription payload {messageType, logEvents, ...}
	EnvelopeFirehose    = "firehose"          // Kinesis Data Firehose HTTP endpoint delivery {requestId, records}
	EnvelopeCWExport    = "cloudwatch_export" // "<RFC 3339 time> <event JSON>" (CloudWatch export to S3)
	EnvelopeCWEvent     = "cloudwatch_event"  // one CloudWatch log event {"id","timestamp","message":<event JSON>}
	EnvelopeAzureList   = "azure_records"     // {"records":[...]} (Event Hubs, storage account)
	EnvelopeAzureRecord = "azure_record"      // one diagnostic record (storage account, one per line)
)

// ErrEnvelope is wrapped by the errors of a cloud wrapper that is not what it
// claims: bad base64, bad gzip, a Pub/Sub, CloudWatch, Firehose or Azure
// wrapper with missing or mistyped fields.
var ErrEnvelope = errors.New("bad cloud envelope")

// CloudPrincipal is the cloud identity behind a Kubernetes user, when the
// event or its cloud wrapper names one.
type CloudPrincipal struct {
	// Provider is gcp, aws or azure.
	Provider string `json:"provider"`
	// ID is the Google account (user or service account email), the IAM
	// role or user ARN (arn:aws:iam::<account>:role/<name>), or the Entra
	// ID (AAD) object id.
	ID string `json:"id"`
	// Session is the AWS assumed-role session name (for an SSO role, the
	// person's login).
	Session string `json:"session,omitempty"`
	// AccessKeyID is the AWS access key the request was signed with.
	AccessKeyID string `json:"accessKeyId,omitempty"`
}

// Cluster is the Kubernetes cluster a managed cloud's audit export names:
// GKE's LogEntry resource labels (cluster_name, project_id, location), an
// EKS CloudWatch log group (/aws/eks/<cluster>/cluster, with the account
// that owns it), an AKS diagnostic record's resourceId
// (.../subscriptions/<id>/.../managedClusters/<name>). Native events name
// no cluster: the pod_creation processor's cluster setting does.
type Cluster struct {
	// Name is the cluster's name in its cloud.
	Name string `json:"name"`
	// Provider is gcp, aws or azure.
	Provider string `json:"provider,omitempty"`
	// Account is the GCP project id, the AWS account id or the Azure
	// subscription id.
	Account string `json:"account,omitempty"`
	// Region is the cloud region (GKE: the location's region).
	Region string `json:"region,omitempty"`
	// Zone is a zonal GKE cluster's location.
	Zone string `json:"zone,omitempty"`
	// ResourceID is the cloud's id of the cluster resource (AKS: the ARM
	// resource id, as the diagnostic record writes it).
	ResourceID string `json:"resourceId,omitempty"`
}

// Platform is the cluster's OpenTelemetry cloud.platform: gcp_kubernetes_engine,
// aws_eks or azure.aks; "" for another provider.
func (c *Cluster) Platform() string {
	switch c.Provider {
	case "gcp":
		return "gcp_kubernetes_engine"
	case "aws":
		return "aws_eks"
	case "azure":
		return "azure.aks"
	}
	return ""
}

// Item is one audit event of a body, decoded or not.
type Item struct {
	// Raw is the audit event's JSON: as received for native, EKS and AKS
	// (plus "cloudPrincipal" when the AKS wrapper knew more than the
	// event), rebuilt from the LogEntry for GKE. Decode(Raw) gives Event
	// back.
	Raw   []byte
	Event *Event
	// Err says why this item is not an audit event; Event is nil then.
	Err error
}

// Body is a request body or a file line decoded in any form.
type Body struct {
	Form     Form
	Envelope string
	// RequestID is a Firehose delivery's requestId (Firehose wants it back).
	RequestID string
	Items     []Item
	// Skipped counts records that are not audit events and are not errors:
	// CloudWatch control messages and other log streams of the cluster's
	// log group, Azure records of other categories.
	Skipped int
	// Err is an error of the body as a whole (not JSON, not any form, cut
	// short, a broken envelope). Items holds what could be read before it.
	Err error
}

// DecodeBody decodes what the webhook receives, or one line of an audit file,
// in the given form (FormAuto detects it). One bad item never costs the
// others: each Item has its own Err, and Body.Err is kept for what concerns the
// body as a whole. Items' Raw and Events share data's memory (as
// DecodeShared): data must never change afterwards.
func DecodeBody(data []byte, form Form) Body { return decodeBody(data, form, nil, nil) }

// DecodeBody is the package's DecodeBody, handing each item, with the
// body's form, to each instead of Body.Items, with native events decoded
// into d's reused Event: an Item's Event is valid only during its call.
func (d *Decoder) DecodeBody(data []byte, form Form, each func(Form, Item)) Body {
	return decodeBody(data, form, d, each)
}

func decodeBody(data []byte, form Form, d *Decoder, each func(Form, Item)) (b Body) {
	if each != nil {
		defer func() {
			for _, it := range b.Items {
				each(b.Form, it)
			}
			b.Items = nil
		}()
	}
	return decodeForm(data, form, d, each)
}

func decodeForm(data []byte, form Form, d *Decoder, each func(Form, Item)) Body {
	if lead := bytes.TrimLeft(data, " \t\r\n"); len(lead) > 1 && lead[0] == 0x1f && lead[1] == 0x8b {
		// A gzip'd CloudWatch payload posted as it is (without
		// Content-Encoding, which confighttp would have undone).
		var err error
		if data, err = gunzipMaybe(lead); err != nil {
			return Body{Form: FormEKS, Envelope: EnvelopeCloudWatch, Err: err}
		}
	}
	data = bytes.TrimSpace(data)
	env, detected := detect(data)
	b := Body{Form: detected, Envelope: env}
	if form != FormAuto && form != "" && form != detected {
		// The events inside EKS and AKS wrappers are native: a bare event
		// (or list) is accepted under a forced eks or aks.
		if detected == FormNative && (form == FormEKS || form == FormAKS) {
			b.Form = form
		} else {
			b.Err = fmt.Errorf("%w: body looks like %s (%s), the form is set to %s", ErrNotAuditEvent, detected, env, form)
			return b
		}
	}
	switch env {
	case EnvelopeLogEntry:
		b.Items = []Item{gkeItem(data)}
	case EnvelopePubSubPush:
		entry, err := UnwrapPubSub(data)
		if err != nil {
			b.Err = err
			return b
		}
		b.Items = []Item{gkeItem(entry)}
	case EnvelopeAWSLogs:
		payload, err := UnwrapAWSLogs(data)
		if err != nil {
			b.Err = err
			return b
		}
		b.Items, b.Skipped, b.Err = cloudWatchItems(payload)
	case EnvelopeCloudWatch:
		b.Items, b.Skipped, b.Err = cloudWatchItems(data)
	case EnvelopeFirehose:
		b.RequestID, b.Items, b.Skipped, b.Err = firehoseItems(data)
	case EnvelopeCWExport:
		b.Items = []Item{eksExportItem(data)}
	case EnvelopeCWEvent:
		b.Items = []Item{eksLogEventItem(data)}
	case EnvelopeAzureList:
		var records []json.RawMessage
		records, b.Err = splitArray(data, "records")
		for _, rec := range records {
			it, skip := aksItem(rec)
			if skip {
				b.Skipped++
				continue
			}
			b.Items = append(b.Items, it)
		}
	case EnvelopeAzureRecord:
		it, skip := aksItem(data)
		if skip {
			b.Skipped++
		} else {
			b.Items = []Item{it}
		}
	default: // native event or list
		var items []json.RawMessage
		if env == EnvelopeEvent && len(data) > 0 && data[0] == '{' {
			items = []json.RawMessage{data} // Decode checks it whole
		} else {
			items, b.Err = SplitBody(data)
		}
		if each == nil {
			b.Items = make([]Item, 0, len(items))
		}
		for _, it := range items {
			item := Item{Raw: it}
			if item.Event, item.Err = decode(it, d); item.Err != nil {
				item.Event = nil
			}
			if b.Form == FormAKS && item.Event != nil && addAADPrincipal(item.Event) {
				item.Raw = withPrincipal(item.Raw, item.Event.CloudPrincipal)
			}
			if each != nil {
				each(b.Form, item) // one by one: d's Event is reused
				continue
			}
			b.Items = append(b.Items, item)
		}
	}
	return b
}

func nativeItem(raw []byte) Item {
	ev, err := DecodeShared(raw)
	if err != nil {
		return Item{Raw: raw, Err: err}
	}
	return Item{Raw: raw, Event: ev}
}

// DetectForm tells the form of a body or line (FormNative when it is none of
// the cloud forms: Decode then says what is wrong with it).
func DetectForm(data []byte) Form {
	_, f := detect(bytes.TrimSpace(data))
	return f
}

// DetectEnvelope tells the envelope and form of a body or line from its
// beginning (it stops at the first top-level key that tells them, so a
// prefix of the body is enough).
func DetectEnvelope(data []byte) (envelope string, form Form) {
	return detect(bytes.TrimSpace(data))
}

// detect looks at the top-level keys of a JSON object, stopping at the first
// one that tells the envelope, so that a cut body is still told.
func detect(data []byte) (envelope string, form Form) {
	if len(data) == 0 {
		return EnvelopeEvent, FormNative
	}
	if singleEvent(data) {
		// The apiserver writes "kind" first: most lines and single posts
		// are told without a tokenizer.
		return EnvelopeEvent, FormNative
	}
	if data[0] != '{' {
		if _, rest, ok := cutExportTime(data); ok && len(rest) > 0 && rest[0] == '{' {
			return EnvelopeCWExport, FormEKS
		}
		return EnvelopeEvent, FormNative
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return EnvelopeEvent, FormNative
	}
	sawRecords, sawRequestID, list := false, false, false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := t.(string)
		switch key {
		case "items":
			return EnvelopeEventList, FormNative
		case "auditID", "stage", "verb", "requestURI", "requestReceivedTimestamp", "stageTimestamp", "objectRef", "sourceIPs":
			if list {
				return EnvelopeEventList, FormNative
			}
			return EnvelopeEvent, FormNative
		case "protoPayload", "logName", "insertId", "receiveTimestamp":
			return EnvelopeLogEntry, FormGKE
		case "subscription":
			return EnvelopePubSubPush, FormGKE
		case "message":
			// Pub/Sub's message is an object; a CloudWatch log event's a string.
			if t, err := dec.Token(); err == nil {
				if _, ok := t.(string); ok {
					return EnvelopeCWEvent, FormEKS
				}
			}
			return EnvelopePubSubPush, FormGKE
		case "awslogs":
			return EnvelopeAWSLogs, FormEKS
		case "messageType", "logEvents", "logGroup", "logStream", "subscriptionFilters":
			return EnvelopeCloudWatch, FormEKS
		case "requestId":
			if sawRecords {
				return EnvelopeFirehose, FormEKS
			}
			sawRequestID = true
		case "records":
			if sawRequestID {
				return EnvelopeFirehose, FormEKS
			}
			sawRecords = true
		case "category", "properties", "operationName", "resourceId":
			return EnvelopeAzureRecord, FormAKS
		case "kind":
			var kind string
			if err := dec.Decode(&kind); err != nil {
				return EnvelopeEvent, FormNative
			}
			switch kind {
			case "Event":
				return EnvelopeEvent, FormNative
			case "EventList":
				list = true
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	switch {
	case sawRecords:
		return EnvelopeAzureList, FormAKS
	case list:
		return EnvelopeEventList, FormNative
	}
	return EnvelopeEvent, FormNative
}

// splitArray returns the elements of the top-level array key of a JSON
// object, undecoded. A body cut inside the array returns the complete
// elements with an error wrapping ErrTruncated.
func splitArray(body []byte, key string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var out []json.RawMessage
	seen := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return out, cutErr(seen, len(out), err)
		}
		if k, _ := t.(string); k != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return out, cutErr(seen, len(out), err)
			}
			continue
		}
		seen = true
		t, err = dec.Token()
		if err != nil {
			return out, cutErr(true, len(out), err)
		}
		if d, ok := t.(json.Delim); !ok || d != '[' {
			if t == nil {
				continue
			}
			return nil, fmt.Errorf("%w: %s is not an array", ErrEnvelope, key)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return out, cutErr(true, len(out), err)
			}
			out = append(out, raw)
		}
		if _, err := dec.Token(); err != nil {
			return out, cutErr(true, len(out), err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return out, cutErr(seen, len(out), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, errors.New("invalid JSON: data after the top-level object")
	}
	if !seen {
		return nil, fmt.Errorf("%w: no %s", ErrEnvelope, key)
	}
	return out, nil
}

func cutErr(inArray bool, n int, err error) error {
	if inArray && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return fmt.Errorf("%w after %d complete records", ErrTruncated, n)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// withPrincipal returns raw with a "cloudPrincipal" member added, so that
// Decode of the record's body gives back what the cloud wrapper knew.
func withPrincipal(raw []byte, p *CloudPrincipal) []byte {
	if p == nil {
		return bytes.TrimSpace(raw)
	}
	return withMember(raw, "cloudPrincipal", p)
}

// withCluster returns raw with a "cluster" member added, as withPrincipal.
func withCluster(raw []byte, c *Cluster) []byte {
	if c == nil {
		return bytes.TrimSpace(raw)
	}
	return withMember(raw, "cluster", c)
}

// withMember returns the JSON object raw with the member key: v added at its
// end (raw as it is when it is not an object or v does not marshal).
func withMember(raw []byte, key string, v any) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[len(raw)-1] != '}' {
		return raw
	}
	vj, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	body := bytes.TrimSpace(raw[:len(raw)-1])
	out := make([]byte, 0, len(raw)+len(key)+len(vj)+4)
	out = append(out, body...)
	if len(body) > 1 { // not "{"
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, key...)
	out = append(out, '"', ':')
	out = append(out, vj...)
	return append(out, '}')
}

// addCluster gives a decoded item the cluster its cloud wrapper names, in
// its Event and its Raw, unless the event names one already.
func addCluster(it *Item, c *Cluster) {
	if c == nil || it.Event == nil || it.Event.Cluster != nil {
		return
	}
	it.Event.Cluster = c
	it.Raw = withCluster(it.Raw, c)
}
