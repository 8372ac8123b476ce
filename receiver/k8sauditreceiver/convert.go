// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"encoding/json"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

// newLogs starts a plog.Logs for one batch of audit events.
func newLogs(input string) (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().Attributes().PutStr(attr.AuditInput, input)
	return ld, sl.LogRecords()
}

// appendEvent adds one audit event: its JSON as body (audit.Item.Raw: as
// received, or rebuilt for GKE), the fields that correlation and rules need
// as attributes, and the form it arrived in. The body and attributes share
// raw's memory (no copy): raw must not change afterwards.
func appendEvent(lrs plog.LogRecordSlice, raw []byte, ev *audit.Event, form audit.Form, observed pcommon.Timestamp) {
	lr := lrs.AppendEmpty()
	lr.SetEventName(attr.EventAudit)
	lr.SetObservedTimestamp(observed)
	if !ev.StageTimestamp.IsZero() { // a salvaged event may have none
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.StageTimestamp))
	}
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("Info")
	lr.Body().SetStr(unsafe.String(unsafe.SliceData(raw), len(raw)))

	a := lr.Attributes()
	a.EnsureCapacity(attributeCount(ev))
	a.PutStr(attr.AuditID, ev.AuditID)
	a.PutStr(attr.AuditStage, ev.Stage)
	putNonEmpty(a, attr.AuditLevel, ev.Level)
	a.PutStr(attr.AuditVerb, ev.Verb)
	putNonEmpty(a, attr.AuditRequestURI, ev.RequestURI)
	if r := ev.ObjectRef; r != nil {
		putNonEmpty(a, attr.AuditResource, r.Resource)
		putNonEmpty(a, attr.AuditSubresource, r.Subresource)
		putNonEmpty(a, attr.AuditAPIGroup, r.APIGroup)
		putNonEmpty(a, attr.K8sNamespaceName, r.Namespace)
		putNonEmpty(a, attr.AuditObjectName, r.Name)
		if r.Resource == "pods" && r.APIGroup == "" {
			putNonEmpty(a, attr.K8sPodName, r.Name)
			putNonEmpty(a, attr.K8sPodUID, r.UID)
		}
		putNonEmpty(a, attr.AffinityKey, affinityKey(ev))
	}
	putNonEmpty(a, attr.UserName, ev.User.Username)
	if len(ev.User.Groups) > 0 {
		putStrings(a, attr.AuditUserGroups, ev.User.Groups)
	}
	if ev.ImpersonatedUser != nil {
		putNonEmpty(a, attr.AuditImpersonUser, ev.ImpersonatedUser.Username)
	}
	if len(ev.SourceIPs) > 0 {
		a.PutStr(attr.ClientAddress, ev.SourceIPs[0])
		if len(ev.SourceIPs) > 1 { // through proxies; a slice costs 4 allocations
			putStrings(a, attr.AuditSourceIPs, ev.SourceIPs)
		}
	}
	putNonEmpty(a, attr.UserAgentOriginal, ev.UserAgent)
	if c := ev.Code(); c != 0 {
		a.PutInt(attr.HTTPStatusCode, int64(c))
	}
	putNonEmpty(a, attr.AuditDecision, ev.Decision())
	putNonEmpty(a, attr.AuditReason, ev.Annotations[audit.AnnotationReason])
	a.PutStr(attr.AuditSourceForm, string(form))
	if p := ev.CloudPrincipal; p != nil {
		putNonEmpty(a, attr.AuditCloudPrincipal, p.ID)
		putNonEmpty(a, attr.AuditCloudSession, p.Session)
	}
	if c := ev.Cluster; c != nil {
		putNonEmpty(a, attr.K8sClusterName, c.Name)
		putNonEmpty(a, attr.CloudProvider, c.Provider)
		putNonEmpty(a, attr.CloudPlatform, c.Platform())
		putNonEmpty(a, attr.CloudAccountID, c.Account)
		putNonEmpty(a, attr.CloudRegion, c.Region)
		putNonEmpty(a, attr.CloudAvailabilityZone, c.Zone)
		putNonEmpty(a, attr.CloudResourceID, c.ResourceID)
	}
}

// attributeCount is how many attributes appendEvent puts for ev, at most:
// the map is made that size once rather than grown (a copy and twice the
// memory) while the attributes go in.
func attributeCount(ev *audit.Event) int {
	n := 14 // the event's own fields, the user's and the client's, the form
	if ev.ObjectRef != nil {
		n += 8
	}
	if ev.ImpersonatedUser != nil {
		n++
	}
	if ev.CloudPrincipal != nil {
		n += 2
	}
	if ev.Cluster != nil {
		n += 7
	}
	return n
}

func putNonEmpty(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

func putStrings(m pcommon.Map, k string, vs []string) {
	s := m.PutEmptySlice(k)
	s.EnsureCapacity(len(vs))
	for _, v := range vs {
		s.AppendEmpty().SetStr(v)
	}
}

func now() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }

// affinityKey is podrecord.AffinityKey of the object the event is about;
// "" for cluster-scoped objects. A create by generateName names no object:
// its request (or response) object's generateName gives the key; at the
// Metadata level, with no object, the key is the namespace's ("ns/").
func affinityKey(ev *audit.Event) string {
	r := ev.ObjectRef
	if r == nil || r.Namespace == "" {
		return ""
	}
	if r.Name != "" {
		return podrecord.AffinityKey(r.Namespace, r.Name)
	}
	if ev.Verb == "create" {
		// The response's name is the one the node will report; the
		// request has only the generateName (Request level).
		generateName := ""
		for _, raw := range []json.RawMessage{ev.ResponseObject, ev.RequestObject} {
			o, err := audit.DecodeObject(raw)
			if err != nil || o == nil {
				continue
			}
			if o.Metadata.Name != "" {
				return podrecord.AffinityKey(r.Namespace, o.Metadata.Name)
			}
			if generateName == "" {
				generateName = o.Metadata.GenerateName
			}
		}
		if generateName != "" {
			return podrecord.AffinityKeyGenerateName(r.Namespace, generateName)
		}
	}
	return r.Namespace + "/"
}
