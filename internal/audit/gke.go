// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// gkeLogEntry is the part of a Cloud Logging LogEntry that carries a GKE
// Kubernetes audit event (resource.type k8s_cluster, protoPayload
// google.cloud.audit.AuditLog, serviceName k8s.io).
type gkeLogEntry struct {
	InsertID  string            `json:"insertId"`
	Labels    map[string]string `json:"labels"`
	Operation *struct {
		ID    string `json:"id"`
		First bool   `json:"first"`
		Last  bool   `json:"last"`
	} `json:"operation"`
	ProtoPayload *gkeAuditLog `json:"protoPayload"`
	Resource     struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	Timestamp        time.Time `json:"timestamp"`
	ReceiveTimestamp time.Time `json:"receiveTimestamp"`
}

type gkeAuditLog struct {
	Type               string `json:"@type"`
	AuthenticationInfo struct {
		PrincipalEmail string `json:"principalEmail"`
	} `json:"authenticationInfo"`
	AuthorizationInfo []struct {
		Granted    bool   `json:"granted"`
		Permission string `json:"permission"`
	} `json:"authorizationInfo"`
	MethodName      string          `json:"methodName"`
	ResourceName    string          `json:"resourceName"`
	ServiceName     string          `json:"serviceName"`
	Request         json.RawMessage `json:"request"`
	Response        json.RawMessage `json:"response"`
	RequestMetadata struct {
		CallerIP                string `json:"callerIp"`
		CallerSuppliedUserAgent string `json:"callerSuppliedUserAgent"`
	} `json:"requestMetadata"`
	Status *struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

const gkeAuditLogType = "type.googleapis.com/google.cloud.audit.AuditLog"

// UnwrapPubSub returns the message data of a Pub/Sub push request body
// ({"message":{"data":"<base64>",...},"subscription":...}): for a log sink
// to Pub/Sub, one LogEntry as JSON.
func UnwrapPubSub(body []byte) ([]byte, error) {
	var push struct {
		Message *struct {
			Data string `json:"data"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	if err := json.Unmarshal(body, &push); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%w: Pub/Sub push: %v", ErrEnvelope, err)
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if push.Message == nil {
		return nil, fmt.Errorf("%w: Pub/Sub push without message", ErrEnvelope)
	}
	if push.Message.Data == "" {
		return nil, fmt.Errorf("%w: Pub/Sub message without data", ErrEnvelope)
	}
	data, err := decodeBase64(push.Message.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: Pub/Sub message data: %v", ErrEnvelope, err)
	}
	return data, nil
}

// decodeBase64 takes standard base64 with or without padding, and URL-safe.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
		s = strings.TrimRight(s, "=")
	}
	return enc.DecodeString(s)
}

func gkeItem(entry []byte) Item {
	ev, err := DecodeGKE(entry)
	if err != nil {
		return Item{Raw: entry, Err: err}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return Item{Raw: entry, Err: fmt.Errorf("%w: %v", ErrNotAuditEvent, err)}
	}
	return Item{Raw: raw, Event: ev}
}

// DecodeGKE builds an audit event from a GKE Cloud Audit Logs LogEntry (as
// JSON, the form log sinks write to Pub/Sub and Cloud Storage).
//
// The LogEntry has no inner Kubernetes event; it maps as follows: auditID =
// operation.id (else insertId); verb = the last part of methodName
// (io.k8s.core.v1.pods.create); objectRef from resourceName
// (core/v1/namespaces/<ns>/pods/<name>[/<subresource>]); user.username =
// authenticationInfo.principalEmail; sourceIPs = requestMetadata.callerIp;
// userAgent = callerSuppliedUserAgent; requestObject / responseObject =
// request / response without their "@type" (kind and apiVersion are taken
// from it when the object lacks them); responseStatus from a Status response,
// else from status (google.rpc code mapped to HTTP; OK is 201 for a create,
// 200 otherwise); annotations = labels; stage ResponseStarted for the first
// entry of an operation that has more, else ResponseComplete; both timestamps
// = timestamp (GKE keeps one); level inferred from what is present (response:
// RequestResponse, request: Request, else Metadata). A Google account
// (principalEmail with an @) is also the CloudPrincipal; resource.labels
// (cluster_name, project_id, location) are the Cluster.
func DecodeGKE(entry []byte) (*Event, error) {
	var le gkeLogEntry
	if err := json.Unmarshal(bytes.TrimSpace(entry), &le); err != nil {
		var typeErr *json.UnmarshalTypeError
		var timeErr *time.ParseError
		if errors.As(err, &typeErr) || errors.As(err, &timeErr) {
			return nil, fmt.Errorf("%w: GKE LogEntry: %v", ErrNotAuditEvent, err)
		}
		return nil, fmt.Errorf("invalid LogEntry JSON: %w", err)
	}
	p := le.ProtoPayload
	switch {
	case p == nil:
		return nil, fmt.Errorf("%w: LogEntry without protoPayload", ErrNotAuditEvent)
	case p.Type != "" && p.Type != gkeAuditLogType:
		return nil, fmt.Errorf("%w: protoPayload @type %q", ErrNotAuditEvent, p.Type)
	case le.Resource.Type != "" && le.Resource.Type != "k8s_cluster":
		return nil, fmt.Errorf("%w: resource.type %q is not k8s_cluster", ErrNotAuditEvent, le.Resource.Type)
	case p.ServiceName != "" && p.ServiceName != "k8s.io":
		return nil, fmt.Errorf("%w: serviceName %q is not k8s.io", ErrNotAuditEvent, p.ServiceName)
	case le.Resource.Type == "" && p.ServiceName == "":
		return nil, fmt.Errorf("%w: LogEntry is neither of resource k8s_cluster nor of service k8s.io", ErrNotAuditEvent)
	}
	ev := &Event{Kind: "Event", APIVersion: "audit.k8s.io/v1", Stage: StageResponseComplete}
	if op := le.Operation; op != nil {
		ev.AuditID = op.ID
		if op.First && !op.Last {
			ev.Stage = StageResponseStarted
		}
	}
	if ev.AuditID == "" {
		ev.AuditID = le.InsertID
	}
	if i := strings.LastIndexByte(p.MethodName, '.'); i >= 0 {
		ev.Verb = p.MethodName[i+1:]
	}
	if p.ResourceName != "" {
		if ref := parseGKEResource(p.ResourceName); ref != nil {
			ev.ObjectRef = ref
		} else if strings.HasPrefix(p.ResourceName, "/") {
			ev.RequestURI = p.ResourceName // a non-resource URL
		}
	}
	ev.User.Username = p.AuthenticationInfo.PrincipalEmail
	if e := ev.User.Username; strings.Contains(e, "@") && !strings.HasPrefix(e, "system:") {
		ev.CloudPrincipal = &CloudPrincipal{Provider: "gcp", ID: e}
	}
	if ip := p.RequestMetadata.CallerIP; ip != "" {
		ev.SourceIPs = []string{ip}
	}
	ev.UserAgent = p.RequestMetadata.CallerSuppliedUserAgent
	ev.RequestObject = gkeObject(p.Request)
	ev.ResponseObject = gkeObject(p.Response)
	switch {
	case len(ev.ResponseObject) > 0:
		ev.Level = "RequestResponse"
	case len(ev.RequestObject) > 0:
		ev.Level = "Request"
	default:
		ev.Level = "Metadata"
	}
	ev.ResponseStatus = gkeStatus(p, ev.ResponseObject, ev.Verb)
	if len(le.Labels) > 0 {
		ev.Annotations = make(map[string]string, len(le.Labels)+1)
		for k, v := range le.Labels {
			ev.Annotations[k] = v
		}
	}
	if _, ok := ev.Annotations[AnnotationDecision]; !ok && len(p.AuthorizationInfo) > 0 {
		decision := "allow"
		for _, a := range p.AuthorizationInfo {
			if !a.Granted {
				decision = "forbid"
			}
		}
		if ev.Annotations == nil {
			ev.Annotations = map[string]string{}
		}
		ev.Annotations[AnnotationDecision] = decision
	}
	ev.Cluster = gkeCluster(le.Resource.Labels)
	ev.StageTimestamp = le.Timestamp
	if ev.StageTimestamp.IsZero() {
		ev.StageTimestamp = le.ReceiveTimestamp
	}
	ev.RequestReceivedTimestamp = ev.StageTimestamp
	if err := ev.validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// gkeCluster is the cluster of a k8s_cluster monitored resource's labels;
// nil without cluster_name. A location that is a zone (us-central1-c)
// is the Zone, and its region the Region.
func gkeCluster(labels map[string]string) *Cluster {
	name := labels["cluster_name"]
	if name == "" {
		return nil
	}
	c := &Cluster{Name: name, Provider: "gcp", Account: labels["project_id"], Region: labels["location"]}
	if loc := c.Region; len(loc) > 2 && loc[len(loc)-2] == '-' && 'a' <= loc[len(loc)-1] && loc[len(loc)-1] <= 'z' &&
		strings.Count(loc, "-") == 2 {
		c.Zone, c.Region = loc, loc[:len(loc)-2]
	}
	return c
}

// parseGKEResource reads a resourceName such as
// core/v1/namespaces/default/pods/web/status or apps/v1/namespaces/a/deployments
// or rbac.authorization.k8s.io/v1/clusterroles/admin, following the
// apiserver's own rules for namespaces (RequestInfoFactory).
func parseGKEResource(name string) *ObjectReference {
	parts := strings.Split(strings.Trim(name, "/"), "/")
	if len(parts) < 3 || parts[0] == "" || len(parts[1]) < 2 || parts[1][0] != 'v' || parts[2] == "" {
		return nil
	}
	ref := &ObjectReference{APIGroup: parts[0], APIVersion: parts[1]}
	if ref.APIGroup == "core" {
		ref.APIGroup = ""
	}
	rest := parts[2:]
	if rest[0] == "namespaces" && len(rest) > 1 {
		ref.Namespace = rest[1]
		if len(rest) > 2 && rest[2] != "status" && rest[2] != "finalize" {
			rest = rest[2:]
		}
	}
	ref.Resource = rest[0]
	if len(rest) > 1 {
		ref.Name = rest[1]
	}
	if len(rest) > 2 {
		ref.Subresource = rest[2]
	}
	return ref
}

// gkeObject returns a request or response object as the apiserver logs it:
// without the "@type" Cloud Logging adds, with kind and apiVersion taken from
// that type when the object lacks them (core.k8s.io/v1.Pod, apps.k8s.io/v1.
// Deployment, meta.k8s.io/v1.Status).
func gkeObject(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' || !bytes.Contains(raw, []byte(`"@type"`)) {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	t, ok := m["@type"]
	if !ok {
		return raw
	}
	delete(m, "@type")
	var typ string
	_ = json.Unmarshal(t, &typ)
	if apiVersion, kind := gkeTypeKind(typ); kind != "" {
		if _, ok := m["kind"]; !ok {
			m["kind"], _ = json.Marshal(kind)
		}
		if _, ok := m["apiVersion"]; !ok {
			m["apiVersion"], _ = json.Marshal(apiVersion)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// gkeTypeKind reads apiVersion and kind from a GKE object @type such as
// core.k8s.io/v1.Pod, apps.k8s.io/v1.Deployment or
// rbac.authorization.k8s.io/v1.Role. It returns "" for other types
// (k8s.io/Patch, k8s.io/Delete).
func gkeTypeKind(typ string) (apiVersion, kind string) {
	slash := strings.LastIndexByte(typ, '/')
	if slash <= 0 {
		return "", ""
	}
	group, vk := typ[:slash], typ[slash+1:]
	version, kind, ok := strings.Cut(vk, ".")
	if !ok || kind == "" || len(version) < 2 || version[0] != 'v' {
		return "", ""
	}
	switch group {
	case "core.k8s.io", "meta.k8s.io":
		return version, kind
	case "apps.k8s.io", "batch.k8s.io", "autoscaling.k8s.io", "policy.k8s.io", "extensions.k8s.io":
		group = strings.TrimSuffix(group, ".k8s.io")
	}
	return group + "/" + version, kind
}

// grpcToHTTP is google.rpc.Code's documented HTTP mapping.
var grpcToHTTP = map[int32]int32{
	1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
	9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}

func gkeStatus(p *gkeAuditLog, response json.RawMessage, verb string) *Status {
	if len(response) > 0 {
		var s struct {
			Kind    string `json:"kind"`
			Status  string `json:"status"`
			Message string `json:"message"`
			Reason  string `json:"reason"`
			Code    int32  `json:"code"`
		}
		if json.Unmarshal(response, &s) == nil && s.Kind == "Status" && s.Code != 0 {
			return &Status{Status: s.Status, Message: s.Message, Reason: s.Reason, Code: s.Code}
		}
	}
	if p.Status == nil {
		return nil
	}
	if p.Status.Code == 0 {
		if verb == "create" {
			return &Status{Code: 201}
		}
		return &Status{Code: 200}
	}
	code, ok := grpcToHTTP[p.Status.Code]
	if !ok {
		code = 500
	}
	return &Status{Status: "Failure", Message: p.Status.Message, Code: code}
}
