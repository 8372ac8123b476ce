// SPDX-License-Identifier: Apache-2.0

// Package nodeevent is the log record form of a node runtime event
// (noderuntime.Event): Append writes it (the node_runtime receiver), Decode
// reads it back (the pod_creation processor). One place for both, so that
// a field added to one is added to the other (TestRoundTrip).
package nodeevent // import "github.com/podtrail/podtrail/internal/nodeevent"

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/noderuntime"
)

// EventName is the log record event name of a node event of kind k:
// attr.EventNodePrefix + k.
func EventName(k noderuntime.Kind) string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return attr.EventNodePrefix + string(k)
}

// Kinds are the event kinds this version knows, in a fixed order (the
// node_runtime receiver counts its events by index).
var Kinds = [...]noderuntime.Kind{
	noderuntime.KindPodAdmitted, noderuntime.KindStaticPodSeen,
	noderuntime.KindSandboxRequested, noderuntime.KindSandboxReady, noderuntime.KindSandboxStopped, noderuntime.KindSandboxRemoved,
	noderuntime.KindContainerCreated, noderuntime.KindContainerStarted, noderuntime.KindContainerExited, noderuntime.KindContainerRemoved,
	noderuntime.KindContainerFailed,
	noderuntime.KindImagePullStarted, noderuntime.KindImagePulled, noderuntime.KindImagePullFailed, noderuntime.KindImagePresent,
}

// eventNames are the known kinds' event names, built once.
var eventNames = func() map[noderuntime.Kind]string {
	m := make(map[noderuntime.Kind]string, len(Kinds))
	for _, k := range Kinds {
		m[k] = attr.EventNodePrefix + string(k)
	}
	return m
}()

// Append adds ev as a node event log record: the original line as body,
// its time as timestamp, its level as severity, its fields as attributes
// (attr.Node*, the semantic-convention pod, container and image keys), and
// key as attr.AffinityKey when it is not empty. Decode reads it back.
func Append(lrs plog.LogRecordSlice, ev *noderuntime.Event, observed pcommon.Timestamp, key string) plog.LogRecord {
	lr := lrs.AppendEmpty()
	lr.SetEventName(EventName(ev.Kind))
	lr.SetObservedTimestamp(observed)
	if !ev.Time.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
	}
	if n, t := severity(ev.Level); n != plog.SeverityNumberUnspecified {
		lr.SetSeverityNumber(n)
		lr.SetSeverityText(t)
	}
	lr.Body().SetStr(ValidUTF8(ev.Line))

	a := lr.Attributes()
	a.EnsureCapacity(12)
	a.PutStr(attr.NodeEventKind, string(ev.Kind))
	putNonEmpty(a, attr.NodeSource, string(ev.Source))
	putNonEmpty(a, attr.K8sNodeName, ev.Node)
	putNonEmpty(a, attr.K8sNamespaceName, ev.PodNamespace)
	putNonEmpty(a, attr.K8sPodName, ev.PodName)
	putNonEmpty(a, attr.K8sPodUID, ev.PodUID)
	putNonEmpty(a, attr.NodePodSource, ev.PodSource)
	putNonEmpty(a, attr.NodeSandboxID, ev.SandboxID)
	putNonEmpty(a, attr.ContainerID, ev.ContainerID)
	putNonEmpty(a, attr.ContainerName, ev.ContainerName)
	if ev.Attempt > 0 {
		a.PutInt(attr.NodeAttempt, int64(ev.Attempt))
	}
	if ev.Image != "" {
		name, tag := SplitImageRef(ev.Image)
		putNonEmpty(a, attr.ContainerImage, name)
		if tag != "" {
			a.PutEmptySlice(attr.ContainerImageTags).AppendEmpty().SetStr(ValidUTF8(tag))
		}
	}
	putNonEmpty(a, attr.NodeImageID, ev.ImageID)
	putNonEmpty(a, attr.NodeRepoDigest, ev.RepoDigest)
	putNonEmpty(a, attr.NodeRuntimeVersion, ev.RuntimeVersion)
	putNonEmpty(a, attr.NodeCRIAPI, ev.CRIAPI)
	putNonEmpty(a, attr.NodeRequestID, ev.RequestID)
	putNonEmpty(a, attr.NodeError, ev.Error)
	putNonEmpty(a, attr.NodeReason, ev.Reason)
	putNonEmpty(a, attr.AffinityKey, key)
	return lr
}

// Decode reads back a node event log record (Append's, the node_runtime
// receiver's): every field, but an image referenced by digest comes back
// as its repository (container.image.name holds no digest; RepoDigest does
// when the runtime said it).
func Decode(lr plog.LogRecord) (noderuntime.Event, bool) {
	a := lr.Attributes()
	str := func(k string) string {
		if v, ok := a.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	var kind noderuntime.Kind
	if k, ok := strings.CutPrefix(lr.EventName(), attr.EventNodePrefix); ok {
		kind = noderuntime.Kind(k)
	}
	if k := str(attr.NodeEventKind); k != "" {
		kind = noderuntime.Kind(k)
	}
	if kind == "" {
		return noderuntime.Event{}, false
	}
	ev := noderuntime.Event{
		Kind: kind, Source: noderuntime.Source(str(attr.NodeSource)),
		RuntimeVersion: str(attr.NodeRuntimeVersion), Node: str(attr.K8sNodeName),
		PodNamespace: str(attr.K8sNamespaceName), PodName: str(attr.K8sPodName), PodUID: str(attr.K8sPodUID),
		PodSource: str(attr.NodePodSource), SandboxID: str(attr.NodeSandboxID),
		ContainerID: str(attr.ContainerID), ContainerName: str(attr.ContainerName),
		Image: str(attr.ContainerImage), ImageID: str(attr.NodeImageID), RepoDigest: str(attr.NodeRepoDigest),
		Error: str(attr.NodeError), Reason: str(attr.NodeReason),
		CRIAPI: str(attr.NodeCRIAPI), RequestID: str(attr.NodeRequestID),
		Level: level(lr.SeverityNumber()), Line: lr.Body().AsString(),
	}
	if ts := lr.Timestamp(); ts != 0 { // none: the line had no time (not 1970)
		ev.Time = ts.AsTime()
	}
	if v, ok := a.Get(attr.NodeAttempt); ok {
		ev.Attempt = int(v.Int())
	}
	// container.image.name is the repository; the tag is apart.
	if v, ok := a.Get(attr.ContainerImageTags); ok && v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() > 0 && ev.Image != "" {
		ev.Image += ":" + v.Slice().At(0).Str()
	}
	return ev, true
}

// SplitImageRef splits an image reference into the semantic-convention
// container.image.name (repository, without tag or digest) and its tag:
// "registry.k8s.io/pause:3.9" → "registry.k8s.io/pause", "3.9";
// "localhost:5000/app@sha256:..." → "localhost:5000/app", "".
func SplitImageRef(ref string) (name, tag string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// severity maps noderuntime's normalised levels.
func severity(level string) (plog.SeverityNumber, string) {
	switch level {
	case "debug":
		return plog.SeverityNumberDebug, "Debug"
	case "info":
		return plog.SeverityNumberInfo, "Info"
	case "warning":
		return plog.SeverityNumberWarn, "Warning"
	case "error":
		return plog.SeverityNumberError, "Error"
	case "fatal":
		return plog.SeverityNumberFatal, "Fatal"
	}
	return plog.SeverityNumberUnspecified, ""
}

// level is severity's inverse.
func level(n plog.SeverityNumber) string {
	switch n {
	case plog.SeverityNumberDebug:
		return "debug"
	case plog.SeverityNumberInfo:
		return "info"
	case plog.SeverityNumberWarn:
		return "warning"
	case plog.SeverityNumberError:
		return "error"
	case plog.SeverityNumberFatal:
		return "fatal"
	}
	return ""
}

func putNonEmpty(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, ValidUTF8(v))
	}
}

// ValidUTF8 replaces invalid UTF-8 (a journal message that was not UTF-8, a
// file in another encoding) so that the record can be exported.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
