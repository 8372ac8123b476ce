// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"strings"
	"time"

	"github.com/podtrail/podtrail/internal/attr"
)

// The attribute keys the mapping reads are internal/attr's
// (processor/podcreationprocessor/README.md describes them).

// Event names podtrail emits; any other event name is mapped generically.
const (
	EventPodCreation = attr.EventPodCreation
	EventFinding     = attr.EventFinding
)

// SignatureIDPodCreation is the CEF Signature ID and LEEF EventID of a
// pod-creation record.
const SignatureIDPodCreation = "pod_creation"

// MaxNameLen is the longest CEF Name written (ArcSight's limit); a longer
// summary is cut at a rune boundary, msg carries it whole.
const MaxNameLen = 512

// Event is what one log record contributes to a CEF or LEEF line. Reset and
// fill it again for each record: its slices are reused.
type Event struct {
	EventName string    // LogRecord event name
	Time      time.Time // LogRecord timestamp (else observed timestamp)
	Severity  int       // LogRecord severity number (OpenTelemetry, 0-24)
	Body      string    // LogRecord body as text

	AuditID, User, UserID, ActorKind, Client, UserAgent, Node string
	Cluster                                                   string // k8s.cluster.name (a resource attribute)
	Decision, Allowed, Reason, StatusCode                     string
	Namespace, Pod, PodUID, Channel                           string
	OwnerKind, OwnerName, FindingOwner                        string
	RuleID, RuleTitle, RuleSeverity                           string

	Images, FindingImages, MITRE []string
}

// Reset empties the event, keeping the capacity of its lists.
func (e *Event) Reset() {
	images, fimages, mitre := e.Images[:0], e.FindingImages[:0], e.MITRE[:0]
	*e = Event{Images: images, FindingImages: fimages, MITRE: mitre}
}

// Wants reports whether Set or Add uses the attribute key, so that a caller
// converts only those values to text.
func (e *Event) Wants(key string) bool {
	return e.field(key) != nil || e.list(key) != nil
}

// Set records a scalar attribute (string, or a bool or number as text).
// Keys the mapping does not use are ignored.
func (e *Event) Set(key, value string) {
	if f := e.field(key); f != nil {
		*f = value
		return
	}
	if l := e.list(key); l != nil {
		*l = append(*l, value)
	}
}

// Add appends one element of a list attribute (podtrail.pod.images,
// podtrail.rule.mitre). Keys the mapping does not use are ignored.
func (e *Event) Add(key, elem string) {
	if l := e.list(key); l != nil {
		*l = append(*l, elem)
	}
}

func (e *Event) field(key string) *string {
	switch key {
	case attr.AuditID:
		return &e.AuditID
	case attr.UserName:
		return &e.User
	case attr.UserID:
		return &e.UserID
	case attr.ActorKind:
		return &e.ActorKind
	case attr.ClientAddress:
		return &e.Client
	case attr.UserAgentOriginal:
		return &e.UserAgent
	case attr.K8sNodeName:
		return &e.Node
	case attr.K8sClusterName:
		return &e.Cluster
	case attr.Decision:
		return &e.Decision
	case attr.Allowed:
		return &e.Allowed
	case attr.Reason:
		return &e.Reason
	case attr.HTTPStatusCode:
		return &e.StatusCode
	case attr.K8sNamespaceName:
		return &e.Namespace
	case attr.K8sPodName:
		return &e.Pod
	case attr.K8sPodUID:
		return &e.PodUID
	case attr.Channel:
		return &e.Channel
	case attr.PodOwnerKind:
		return &e.OwnerKind
	case attr.PodOwnerName:
		return &e.OwnerName
	case attr.FindingOwner:
		return &e.FindingOwner
	case attr.RuleID:
		return &e.RuleID
	case attr.RuleTitle:
		return &e.RuleTitle
	case attr.RuleSeverity:
		return &e.RuleSeverity
	}
	return nil
}

func (e *Event) list(key string) *[]string {
	switch key {
	case attr.PodImages:
		return &e.Images
	case attr.FindingImages:
		return &e.FindingImages
	case attr.RuleMITRE:
		return &e.MITRE
	}
	return nil
}

// IsFinding reports whether the event is a podtrail finding.
func (e *Event) IsFinding() bool { return e.EventName == EventFinding }

// IsRecord reports whether the event is a podtrail pod-creation record.
func (e *Event) IsRecord() bool { return e.EventName == EventPodCreation }

// SignatureID is the CEF Signature ID / LEEF EventID: the rule id of a
// finding, pod_creation for a record, else the event name (or "log").
func (e *Event) SignatureID() string {
	switch {
	case e.IsFinding() && e.RuleID != "":
		return e.RuleID
	case e.IsRecord():
		return SignatureIDPodCreation
	case e.EventName != "":
		return e.EventName
	}
	return "log"
}

// Name is the CEF Name: the rule title of a finding, else the body's first
// line (a record's body is its one-line summary), cut to MaxNameLen bytes.
func (e *Event) Name() string {
	n := e.Body
	if e.IsFinding() && e.RuleTitle != "" {
		n = e.RuleTitle
	}
	if i := strings.IndexAny(n, "\r\n"); i >= 0 {
		n = n[:i]
	}
	if n == "" {
		n = e.SignatureID()
	}
	return truncate(n, MaxNameLen)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-4 && s[i]&0xC0 == 0x80 { // continuation byte
		i--
	}
	return s[:i]
}

// CEFSeverity is the CEF severity, 0-10: a finding's rule severity (info 1,
// low 3, medium 5, high 8, critical 10), a record's decision (allowed 1,
// forbidden 5), else the OpenTelemetry severity number (trace, debug 0;
// info 1; warn 5; error 8; fatal 10).
func (e *Event) CEFSeverity() int {
	if e.IsFinding() {
		switch strings.ToLower(e.RuleSeverity) {
		case "info":
			return 1
		case "low":
			return 3
		case "medium":
			return 5
		case "high":
			return 8
		case "critical":
			return 10
		}
	}
	if e.IsRecord() {
		switch {
		case e.Allowed == "true", e.Allowed == "" && e.Decision == "allow":
			return 1
		case e.Allowed == "false", e.Allowed == "" && e.Decision == "forbid":
			return 5
		}
	}
	switch {
	case e.Severity >= 21:
		return 10
	case e.Severity >= 17:
		return 8
	case e.Severity >= 13:
		return 5
	case e.Severity >= 9:
		return 1
	}
	return 0
}

// SyslogSeverity maps a CEF severity to the syslog severity of the message:
// 0-2 informational (6), 3-4 notice (5), 5-6 warning (4), 7-8 error (3),
// 9-10 critical (2).
func SyslogSeverity(cefSeverity int) int {
	switch {
	case cefSeverity >= 9:
		return 2
	case cefSeverity >= 7:
		return 3
	case cefSeverity >= 5:
		return 4
	case cefSeverity >= 3:
		return 5
	}
	return 6
}

// Outcome is success or failure for a record with an authorization decision
// (allow, forbid), else "" (a pod a node ran without an API create has none).
func (e *Event) Outcome() string {
	if !e.IsRecord() {
		return ""
	}
	switch e.Decision {
	case "allow":
		return "success"
	case "forbid":
		return "failure"
	}
	return ""
}

// MsgID is the RFC 5424 MSGID: the event name without "podtrail."
// (pod_creation, finding), "-" when there is none.
func (e *Event) MsgID() string {
	id := strings.TrimPrefix(e.EventName, attr.Prefix)
	if id == "" {
		return "-"
	}
	return Header(id, MaxMsgID)
}

// images is a finding's podtrail.finding.images, else the record's podtrail.pod.images.
func (e *Event) images() []string {
	if len(e.FindingImages) > 0 {
		return e.FindingImages
	}
	return e.Images
}
