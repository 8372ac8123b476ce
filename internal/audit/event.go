// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"
)

// Stages of an audit event (audit.k8s.io Stage).
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// Annotation keys the apiserver's authorizer sets on every event.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// UserInfo is authentication.k8s.io UserInfo.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectReference is audit.k8s.io ObjectReference.
type ObjectReference struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// Status is the part of metav1.Status an audit event carries in responseStatus.
type Status struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Code    int32  `json:"code,omitempty"`
}

// Event is one audit event. RequestObject and ResponseObject stay raw: only
// the consumers that need them (pod creates) decode them.
type Event struct {
	Kind                     string            `json:"kind,omitempty"`
	APIVersion               string            `json:"apiVersion,omitempty"`
	Level                    string            `json:"level,omitempty"`
	AuditID                  string            `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI,omitempty"`
	Verb                     string            `json:"verb"`
	User                     UserInfo          `json:"user"`
	ImpersonatedUser         *UserInfo         `json:"impersonatedUser,omitempty"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	UserAgent                string            `json:"userAgent,omitempty"`
	ObjectRef                *ObjectReference  `json:"objectRef,omitempty"`
	ResponseStatus           *Status           `json:"responseStatus,omitempty"`
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceivedTimestamp time.Time         `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time         `json:"stageTimestamp"`
	Timestamp                time.Time         `json:"timestamp,omitzero"` // v1beta1 only
	Annotations              map[string]string `json:"annotations,omitempty"`
	// CloudPrincipal is not part of audit.k8s.io: it is the cloud identity
	// behind User, read from User.Extra (EKS, AKS) or from the cloud's
	// wrapper (GKE, AKS), where it then travels in the event's JSON.
	CloudPrincipal *CloudPrincipal `json:"cloudPrincipal,omitempty"`
	// Cluster is not part of audit.k8s.io either: the cluster a managed
	// cloud's wrapper names (GKE, EKS, AKS), travelling in the event's JSON
	// as cloudPrincipal does.
	Cluster *Cluster `json:"cluster,omitempty"`
}

// ErrNotAuditEvent is wrapped by every error for input that is JSON but not an
// audit event.
var ErrNotAuditEvent = errors.New("not an audit event")

// Decode decodes one audit event. It accepts events with or without
// kind/apiVersion (EventList items and Falco traces omit them) and fills
// RequestReceivedTimestamp and StageTimestamp from v1beta1's timestamp.
func Decode(data []byte) (*Event, error) {
	owned := string(data)
	return DecodeShared(unsafe.Slice(unsafe.StringData(owned), len(owned)))
}

// DecodeShared is Decode without the copy: the event's strings and raw
// objects share data's memory, so data must never change afterwards (a
// string's bytes, a buffer read for this event alone).
func DecodeShared(data []byte) (*Event, error) {
	return decode(data, nil)
}

// Decoder decodes events one after another into one Event it reuses, with
// its maps and arrays: no allocation for most events. An event it returns
// is valid until its next Decode; like DecodeShared, it shares data's
// memory. Events goccy decodes (decodeFast's exceptions) are new.
type Decoder struct {
	ev          Event
	ref         ObjectReference
	status      Status
	annotations map[string]string
	extra       map[string][]string
	strs        [][]string // arrays, handed out in order
	nstrs       int

	// SelectPodCreation makes Decode return ErrNotSelected for an event
	// outside the pod-creation selection (Selected), reading it only as far
	// as its stage, verb or resource tells (select.go).
	SelectPodCreation bool
	stopped           bool // decodeFast stopped at an unselected field
}

// Decode is DecodeShared into d's Event.
func (d *Decoder) Decode(data []byte) (*Event, error) {
	return decode(data, d)
}

func decode(data []byte, d *Decoder) (*Event, error) {
	var ev *Event
	if d != nil {
		ev = &d.ev
		*ev = Event{}
	} else {
		ev = new(Event)
	}
	if decodeFast(data, ev, d) {
		if err := ev.validate(); err != nil {
			return nil, err
		}
		return selected(ev, d)
	}
	if d != nil && d.stopped {
		d.stopped = false
		return nil, ErrNotSelected
	}
	ev = new(Event)
	if err := unmarshal(data, ev); err != nil {
		if isTypeError(err) || notAnObject(data) {
			return nil, fmt.Errorf("%w: %v", ErrNotAuditEvent, err)
		}
		return nil, fmt.Errorf("invalid audit event JSON: %w", err)
	}
	if err := ev.validate(); err != nil {
		return nil, err
	}
	return selected(ev, d)
}

// selected is ev, or ErrNotSelected when d selects and ev is outside the
// selection.
func selected(ev *Event, d *Decoder) (*Event, error) {
	if d != nil && d.SelectPodCreation && !Selected(ev) {
		return nil, ErrNotSelected
	}
	return ev, nil
}

func (ev *Event) validate() error {
	if ev.Kind != "" && ev.Kind != "Event" {
		return fmt.Errorf("%w: kind %q", ErrNotAuditEvent, ev.Kind)
	}
	if ev.APIVersion != "" && !strings.HasPrefix(ev.APIVersion, "audit.k8s.io/") {
		return fmt.Errorf("%w: apiVersion %q", ErrNotAuditEvent, ev.APIVersion)
	}
	switch {
	case ev.AuditID == "":
		return fmt.Errorf("%w: no auditID", ErrNotAuditEvent)
	case ev.Stage == "":
		return fmt.Errorf("%w: no stage", ErrNotAuditEvent)
	case ev.Verb == "":
		return fmt.Errorf("%w: no verb", ErrNotAuditEvent)
	}
	if ev.StageTimestamp.IsZero() {
		ev.StageTimestamp = ev.Timestamp
	}
	if ev.RequestReceivedTimestamp.IsZero() {
		ev.RequestReceivedTimestamp = ev.StageTimestamp
	}
	if ev.CloudPrincipal == nil {
		ev.CloudPrincipal = principalFromUser(&ev.User)
	}
	return nil
}

// Decision is the authorizer's decision annotation ("allow", "forbid"), or ""
// when the event has none.
func (ev *Event) Decision() string { return ev.Annotations[AnnotationDecision] }

// Code is responseStatus.code, or 0 before the response.
func (ev *Event) Code() int32 {
	if ev.ResponseStatus == nil {
		return 0
	}
	return ev.ResponseStatus.Code
}

// Resource returns objectRef resource, subresource, namespace and name.
func (ev *Event) Resource() (resource, subresource, namespace, name string) {
	if ev.ObjectRef == nil {
		return "", "", "", ""
	}
	r := ev.ObjectRef
	return r.Resource, r.Subresource, r.Namespace, r.Name
}

// IsPodCreate reports whether the event is a create of a pod (not of a pod
// subresource such as pods/exec or pods/binding).
func (ev *Event) IsPodCreate() bool {
	return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "pods" &&
		ev.ObjectRef.Subresource == "" && ev.ObjectRef.APIGroup == ""
}

// IsFinal reports whether the stage is the last one of its request.
func (ev *Event) IsFinal() bool {
	return ev.Stage == StageResponseComplete || ev.Stage == StagePanic
}
