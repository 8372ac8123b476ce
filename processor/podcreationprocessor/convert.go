// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

// auditPartial is the podtrail.audit.partial attribute of an audit event
// log record, "" when it is whole.
func auditPartial(a pcommon.Map) string {
	if v, ok := a.Get(attr.AuditPartial); ok {
		return v.AsString()
	}
	return ""
}

func appendRecord(lrs plog.LogRecordSlice, r *podrecord.Record) {
	lr := lrs.AppendEmpty()
	lr.SetEventName(attr.EventPodCreation)
	if r.Update != "" {
		lr.SetEventName(attr.EventPodCreationUpdate)
	}
	lr.SetTimestamp(pcommon.NewTimestampFromTime(recordTime(r)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	if r.Allowed || r.Update != "" || r.Origin == podrecord.OriginPreexisting {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("Info")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("Warn")
	}
	lr.Body().SetStr(Summary(r))

	a := lr.Attributes()
	a.EnsureCapacity(32)
	putPodIdentity(a, r)
	put(a, attr.PodGenerateName, r.GenerateName)
	if len(r.Labels) > 0 {
		m := a.PutEmptyMap(attr.PodLabels)
		for _, k := range sortedKeys(r.Labels) {
			m.PutStr(k, r.Labels[k])
		}
	}
	put(a, attr.PodOwnerKind, r.Owner.Kind)
	put(a, attr.PodOwnerName, r.Owner.Name)
	put(a, attr.PodOwnerUID, r.Owner.UID)
	put(a, attr.PodServiceAccount, r.ServiceAccount)
	put(a, attr.K8sNodeName, r.Node)
	if len(r.Containers) > 0 {
		cs := a.PutEmptySlice(attr.PodContainers)
		imgs := make([]string, 0, len(r.Containers))
		for _, c := range r.Containers {
			m := cs.AppendEmpty().SetEmptyMap()
			m.PutStr("name", c.Name)
			m.PutStr("image", c.Image)
			m.PutStr("type", c.Type)
			if c.Privileged {
				m.PutBool("privileged", true)
			}
			put(m, "id", c.ID)
			put(m, "digest", c.Digest)
			put(m, "image_id", c.ImageID)
			put(m, "digest_source", c.DigestSource)
			putTime(m, "started_at", c.StartedAt)
			put(m, "error", c.Error)
			put(m, "reason", c.Reason)
			imgs = append(imgs, c.Image)
		}
		putStrings(a, attr.PodImages, imgs)
	}
	if len(r.PullFailures) > 0 {
		fs := a.PutEmptySlice(attr.PodImagePullFailures)
		for _, f := range r.PullFailures {
			m := fs.AppendEmpty().SetEmptyMap()
			m.PutStr("image", f.Image)
			put(m, "container", f.Container)
			put(m, "error", f.Error)
			put(m, "reason", f.Reason)
		}
	}
	var hostNS []string
	for name, on := range map[string]bool{"network": r.HostNetwork, "pid": r.HostPID, "ipc": r.HostIPC} {
		if on {
			hostNS = append(hostNS, name)
		}
	}
	sort.Strings(hostNS)
	putStrings(a, attr.PodHostNamespaces, hostNS)
	put(a, attr.UserID, r.Actor.UID)
	putStrings(a, attr.ActorGroups, r.Actor.Groups)
	put(a, attr.ActorServiceAccount, r.Actor.ServiceAccount)
	put(a, attr.ImpersonatedUserID, r.Impersonated.UID)
	putStrings(a, attr.ImpersonatedGroups, r.Impersonated.Groups)
	put(a, attr.ImpersonatedKind, r.Impersonated.Kind)
	put(a, attr.ImpersonatedServiceAccount, r.Impersonated.ServiceAccount)
	put(a, attr.AuditCloudPrincipal, r.Actor.CloudPrincipal)
	put(a, attr.AuditCloudSession, r.Actor.CloudSession)
	if len(r.SourceIPs) > 0 {
		a.PutStr(attr.ClientAddress, r.SourceIPs[0])
		putStrings(a, attr.AuditSourceIPs, r.SourceIPs)
	}
	put(a, attr.UserAgentOriginal, r.UserAgent)
	put(a, attr.FieldManager, r.FieldManager)
	putStrings(a, attr.Managers, r.Managers)
	put(a, attr.Decision, r.Decision)
	put(a, attr.Outcome, r.Outcome())
	if r.Update == "" {
		a.PutBool(attr.Allowed, r.Allowed)
	}
	if r.Code != 0 {
		a.PutInt(attr.HTTPStatusCode, int64(r.Code))
	}
	put(a, attr.Reason, r.Reason)
	put(a, attr.AuditLevel, r.AuditLevel)
	putTime(a, attr.RequestedAt, r.RequestedAt)
	put(a, attr.Update, r.Update)
	putStrings(a, attr.Sources, r.Sources)
	putStrings(a, attr.Missing, r.Missing)
	put(a, attr.Origin, r.Origin)
	put(a, attr.Partial, r.Partial)
	put(a, attr.Join, r.Join)
	putStrings(a, attr.PodOwnerChain, r.Chain)
	if len(r.DeniedBefore) > 0 {
		ds := a.PutEmptySlice(attr.DeniedBefore)
		for _, d := range r.DeniedBefore {
			m := ds.AppendEmpty().SetEmptyMap()
			m.PutStr("audit_id", d.AuditID)
			m.PutStr("namespace", d.Namespace)
			put(m, "name", d.Name)
			putTime(m, "at", d.At)
			m.PutInt("code", int64(d.Code))
			put(m, "reason", d.Reason)
		}
	}
	if in := r.Initiator; in != nil {
		a.PutStr(attr.InitiatorPrefix+"username", in.Username)
		a.PutStr(attr.InitiatorPrefix+"kind", in.Kind)
		a.PutStr(attr.InitiatorPrefix+"channel", in.Channel)
		put(a, attr.InitiatorPrefix+"object", in.Object)
		put(a, attr.InitiatorPrefix+"verb", in.Verb)
		putTime(a, attr.InitiatorPrefix+"at", in.At)
	}
	putTime(a, attr.ScheduledAt, r.ScheduledAt)
	putTime(a, attr.StartedAt, r.StartedAt)
	putTime(a, attr.DeletedAt, r.DeletedAt)
	sb := r.Sandbox
	put(a, attr.SandboxPrefix+"id", sb.ID)
	put(a, attr.SandboxPrefix+"runtime", sb.Runtime)
	put(a, attr.SandboxPrefix+"runtime_version", sb.RuntimeVersion)
	putTime(a, attr.SandboxPrefix+"ready_at", sb.ReadyAt)
	if sb.Attempts > 0 {
		a.PutInt(attr.SandboxPrefix+"attempts", int64(sb.Attempts))
		put(a, attr.SandboxPrefix+"error", sb.Error)
	}
	for k, v := range map[string]float64{"scheduled": r.Timings.Scheduled, "sandbox_ready": r.Timings.SandboxReady,
		"started": r.Timings.Started, "lifetime": r.Timings.Lifetime} {
		if v != 0 {
			a.PutDouble(attr.TimingsPrefix+k, v)
		}
	}
}

// recordTime is when the pod was created as far as the record knows: the
// API request's completion, else (a pod the node ran without an API
// create) the first thing the node said about it.
func recordTime(r *podrecord.Record) time.Time {
	for _, t := range []time.Time{r.CompletedAt, r.RequestedAt, r.Sandbox.RequestedAt, r.Sandbox.ReadyAt, r.StartedAt} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Now()
}

func putTime(m pcommon.Map, k string, t time.Time) {
	if !t.IsZero() {
		m.PutStr(k, t.UTC().Format(time.RFC3339Nano))
	}
}

// putPodIdentity writes what records and findings share, so that a finding
// can be joined to its record (podtrail.audit.id) and read on its own.
func putPodIdentity(a pcommon.Map, r *podrecord.Record) {
	a.PutStr(attr.AuditID, r.AuditID)
	a.PutStr(attr.K8sNamespaceName, r.Namespace)
	put(a, attr.K8sPodName, r.Name)
	put(a, attr.K8sPodUID, r.UID)
	put(a, attr.UserName, r.Actor.Username)
	put(a, attr.ActorKind, r.Actor.Kind)
	put(a, attr.ImpersonatedUserName, r.Impersonated.Username)
	put(a, attr.Channel, r.Channel)
}

var severityNumbers = map[string]plog.SeverityNumber{
	"info": plog.SeverityNumberInfo, "low": plog.SeverityNumberInfo2, "medium": plog.SeverityNumberWarn,
	"high": plog.SeverityNumberError, "critical": plog.SeverityNumberFatal,
}

func appendFinding(lrs plog.LogRecordSlice, r *podrecord.Record, f *rules.Finding) {
	lr := lrs.AppendEmpty()
	lr.SetEventName(attr.EventFinding)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(recordTime(r)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetSeverityNumber(severityNumbers[f.Severity])
	lr.SetSeverityText(strings.ToUpper(f.Severity))
	lr.Body().SetStr(FindingSummary(r, f))

	a := lr.Attributes()
	putPodIdentity(a, r)
	// what a SIEM's alert needs beside the identity: where the pod runs,
	// where the request came from, what a pod without a name was called
	put(a, attr.K8sNodeName, r.Node)
	if len(r.SourceIPs) > 0 {
		a.PutStr(attr.ClientAddress, r.SourceIPs[0])
	}
	if r.Name == "" {
		put(a, attr.PodGenerateName, r.GenerateName)
	}
	a.PutStr(attr.RuleID, f.RuleID)
	a.PutStr(attr.RuleTitle, f.Title)
	put(a, attr.RuleDescription, f.Description)
	a.PutStr(attr.RuleSeverity, f.Severity)
	putStrings(a, attr.RuleMITRE, f.MITRE)
	putATTACK(a, rules.ATTACKOf(f.MITRE))
	putStrings(a, attr.RuleTags, f.Tags)
	for _, o := range f.Output {
		a.PutStr(attr.FindingPrefix+o.Key, o.Value)
	}
	if f.Count > 0 {
		// a summary of findings kept back by the suppression window
		a.PutInt(attr.FindingPrefix+"count", int64(f.Count))
		a.PutStr(attr.FindingPrefix+"first_seen", f.Since.UTC().Format(time.RFC3339Nano))
		a.PutStr(attr.FindingPrefix+"last_seen", f.Until.UTC().Format(time.RFC3339Nano))
		lr.Body().SetStr(lr.Body().Str() + " count=" + strconv.Itoa(f.Count) + " since=" + f.Since.UTC().Format(time.RFC3339))
	}
}

// putATTACK writes a rule's ATT&CK techniques and tactics: parallel lists
// of ids and names (a name is empty for an id podtrail's table lacks), and
// each technique with each of its tactics as a map shaped as OCSF's attack
// object.
func putATTACK(a pcommon.Map, at rules.ATTACK) {
	if len(at.IDs) == 0 && len(at.Tactics) == 0 {
		return
	}
	putStrings(a, attr.RuleMITRETechniques, at.IDs)
	refs := func(idKey, nameKey string, rs []rules.ATTACKRef) {
		if len(rs) == 0 {
			return
		}
		ids, names := a.PutEmptySlice(idKey), a.PutEmptySlice(nameKey)
		for _, r := range rs {
			ids.AppendEmpty().SetStr(r.ID)
			names.AppendEmpty().SetStr(r.Name)
		}
	}
	refs(attr.RuleMITRETechniqueID, attr.RuleMITRETechniqueName, at.Techniques)
	refs(attr.RuleMITRESubtechniqueID, attr.RuleMITRESubtechniqueName, at.SubTechniques)
	refs(attr.RuleMITRETacticID, attr.RuleMITRETacticName, at.Tactics)
	if len(at.Entries) == 0 {
		return
	}
	es := a.PutEmptySlice(attr.RuleMITREAttacks)
	for _, e := range at.Entries {
		m := es.AppendEmpty().SetEmptyMap()
		for _, x := range []struct {
			k string
			r rules.ATTACKRef
		}{{"technique", e.Technique}, {"sub_technique", e.SubTechnique}, {"tactic", e.Tactic}} {
			if x.r.ID == "" {
				continue
			}
			o := m.PutEmptyMap(x.k)
			o.PutStr("uid", x.r.ID)
			put(o, "name", x.r.Name)
		}
		m.PutStr("version", rules.ATTACKVersion)
	}
}

// Summary is the one line a person reads: what was created, by whom, how.
// It names only what is known: a record without an API create (node-only,
// pre-existing) or whose create could not be read (oversize) has no empty
// actor, kind or channel in it.
func Summary(r *podrecord.Record) string {
	var b strings.Builder
	b.WriteString("pod ")
	b.WriteString(r.DisplayName())
	oversizeUnknown := r.Partial == correlate.PartialOversize && r.Code == 0 && !r.Allowed
	switch {
	case r.Update == podrecord.UpdateDigest:
		b.WriteString(" digests reported after its record:")
		for _, c := range r.Containers {
			d := c.Digest
			if d == "" {
				d = "image " + c.ImageID
			}
			b.WriteString(" " + c.Name + "=" + d)
			if c.DigestSource != "" {
				b.WriteString(" (" + c.DigestSource + ")")
			}
		}
		if r.Node != "" {
			b.WriteString(" node=" + r.Node)
		}
		return b.String()
	case r.Origin == podrecord.OriginNodeOnly:
		if r.Node != "" {
			b.WriteString(" RAN ON " + r.Node + " WITHOUT AN API CREATE")
		} else {
			b.WriteString(" RAN WITHOUT AN API CREATE")
		}
		if r.Sandbox.Runtime != "" {
			b.WriteString(" (" + r.Sandbox.Runtime + ")")
		}
		if slices.Contains(r.Missing, podrecord.MissingMirrorPod) {
			b.WriteString(" static pod without a mirror pod")
		}
	case r.Origin == podrecord.OriginPreexisting:
		b.WriteString(" existed before podtrail started (no create seen; the API server knows it)")
	case r.Origin == podrecord.OriginCreateUnseen:
		// Bound while podtrail watched: created then, its create lost.
		b.WriteString(" CREATE NOT RECEIVED: scheduled while podtrail watched, no create event arrived (creator unknown)")
	case r.Allowed:
		b.WriteString(" created")
		writeActor(&b, " by ", r)
	case oversizeUnknown:
		b.WriteString(" create, outcome unknown,")
		writeActor(&b, " by ", r)
	case r.Outcome() == podrecord.OutcomeFailed:
		// Allowed by the authorizer, refused by the API server for another
		// reason: nothing was created, nothing was forbidden.
		fmt.Fprintf(&b, " CREATE FAILED (%d", r.Code)
		if reason := statusReason(r.Code); reason != "" {
			b.WriteString(" " + reason)
		}
		b.WriteString(")")
		writeActor(&b, " by ", r)
	default:
		b.WriteString(" FORBIDDEN")
		writeActor(&b, " for ", r)
	}
	if r.Owner.Kind != "" {
		b.WriteString(" owner=" + r.Owner.Kind + "/" + r.Owner.Name)
	}
	if in := r.Initiator; in != nil {
		b.WriteString(" initiator=" + in.Username + " via " + in.Channel)
	}
	var imgs []string
	for _, im := range r.Images() {
		if im != "" {
			imgs = append(imgs, im)
		}
	}
	if len(imgs) > 0 {
		b.WriteString(" images=" + strings.Join(imgs, ","))
	}
	if r.Node != "" && r.Origin != podrecord.OriginNodeOnly {
		b.WriteString(" node=" + r.Node)
	}
	if r.Decision != "" {
		b.WriteString(" decision=" + r.Decision)
	}
	if r.Code != 0 {
		fmt.Fprintf(&b, " code=%d", r.Code)
	}
	if n := len(r.DeniedBefore); n > 0 {
		// A refused create's name is often unknown (refused before its body
		// was read): only what is known.
		first := r.DeniedBefore[0]
		where := "in " + first.Namespace
		if first.Name != "" {
			where = first.Namespace + "/" + first.Name
		}
		fmt.Fprintf(&b, " after %d forbidden (first %s)", n, where)
	}
	if len(r.Missing) > 0 {
		b.WriteString(" missing=" + strings.Join(r.Missing, ","))
	}
	if r.Partial != "" {
		b.WriteString(" partial=" + r.Partial)
	}
	return b.String()
}

// statusReason is the Kubernetes status reason the API server answers a
// create with for code (metav1.StatusReason), "" for a code it has none for.
func statusReason(code int) string {
	switch code {
	case 400:
		return "BadRequest"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "NotFound"
	case 409:
		return "AlreadyExists"
	case 410:
		return "Gone"
	case 413:
		return "RequestEntityTooLarge"
	case 415:
		return "UnsupportedMediaType"
	case 422:
		return "Invalid"
	case 429:
		return "TooManyRequests"
	case 500:
		return "InternalError"
	case 503:
		return "ServiceUnavailable"
	case 504:
		return "Timeout"
	}
	return ""
}

// writeActor writes who made the request, as far as it is known: "by
// alice (user) as bob via kubectl"; nothing for an unknown actor.
func writeActor(b *strings.Builder, prep string, r *podrecord.Record) {
	if r.Actor.Username != "" {
		b.WriteString(prep + r.Actor.Username)
		if r.Actor.Kind != "" {
			b.WriteString(" (" + r.Actor.Kind + ")")
		}
	}
	if r.Impersonated.Username != "" {
		b.WriteString(" as " + r.Impersonated.Username)
	}
	if r.Channel != "" && (r.Actor.Username != "" || r.Channel != podrecord.ChannelUnknown) {
		b.WriteString(" via " + r.Channel)
	}
}

// FindingSummary is the one line a person reads about a finding.
func FindingSummary(r *podrecord.Record, f *rules.Finding) string {
	var b strings.Builder
	b.WriteString("finding " + strings.ToUpper(f.Severity) + " " + f.RuleID + " " + f.Title + ": pod " + r.DisplayName())
	for _, o := range f.Output {
		b.WriteString(" " + o.Key + "=" + o.Value)
	}
	return b.String()
}

func put(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

func putStrings(m pcommon.Map, k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	s := m.PutEmptySlice(k)
	s.EnsureCapacity(len(vs))
	for _, v := range vs {
		s.AppendEmpty().SetStr(v)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clusterOf is the cluster a record is about: the one its audit event
// names (a managed cloud's export), else the configured one; with
// Override, the configured name always. The uid goes with the configured
// name only.
func (c ClusterConfig) clusterOf(r *podrecord.Record) (cl podrecord.Cluster, uid string) {
	cl = r.Cluster
	switch {
	case cl.Name == "" && cl.Provider == "":
		cl.Name = c.Name
	case c.Override && c.Name != "":
		cl.Name = c.Name
	}
	if c.UID != "" && (cl.Name == c.Name || cl.Name == "") {
		uid = c.UID
	}
	return cl, uid
}

// output is what the processor hands on: one ResourceLogs per cluster
// (resource attributes k8s.cluster.name, k8s.cluster.uid and, for a
// managed cloud's cluster, cloud.*), each with one scope holding the
// records and findings of that cluster in order.
type output struct {
	cfg ClusterConfig
	ld  plog.Logs
	by  map[clusterKey]plog.LogRecordSlice
}

type clusterKey struct {
	podrecord.Cluster
	uid string
}

func newOutput(cfg ClusterConfig) *output {
	return &output{cfg: cfg, ld: plog.NewLogs()}
}

// logs is where the records and findings of r go.
func (o *output) logs(r *podrecord.Record) plog.LogRecordSlice {
	cl, uid := o.cfg.clusterOf(r)
	k := clusterKey{cl, uid}
	if lrs, ok := o.by[k]; ok {
		return lrs
	}
	rl := o.ld.ResourceLogs().AppendEmpty()
	putCluster(rl.Resource().Attributes(), cl, uid)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	if o.by == nil {
		o.by = make(map[clusterKey]plog.LogRecordSlice, 1)
	}
	o.by[k] = sl.LogRecords()
	return sl.LogRecords()
}

// putCluster writes the cluster's resource attributes.
func putCluster(a pcommon.Map, cl podrecord.Cluster, uid string) {
	put(a, attr.K8sClusterName, cl.Name)
	put(a, attr.K8sClusterUID, uid)
	put(a, attr.CloudProvider, cl.Provider)
	put(a, attr.CloudPlatform, (&audit.Cluster{Provider: cl.Provider}).Platform())
	put(a, attr.CloudAccountID, cl.Account)
	put(a, attr.CloudRegion, cl.Region)
	put(a, attr.CloudAvailabilityZone, cl.Zone)
	put(a, attr.CloudResourceID, cl.ResourceID)
}
