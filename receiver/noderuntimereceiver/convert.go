package noderuntimereceiver

import (
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

const (
	inputFile     = "file"
	inputJournald = "journald"
)

// kinds are the event kinds in a fixed order (index of per-batch counters).
var kinds = [...]noderuntime.Kind{
	noderuntime.KindPodAdmitted, noderuntime.KindStaticPodSeen,
	noderuntime.KindSandboxRequested, noderuntime.KindSandboxReady, noderuntime.KindSandboxStopped, noderuntime.KindSandboxRemoved,
	noderuntime.KindContainerCreated, noderuntime.KindContainerStarted, noderuntime.KindContainerExited, noderuntime.KindContainerRemoved,
	noderuntime.KindContainerFailed,
	noderuntime.KindImagePullStarted, noderuntime.KindImagePulled, noderuntime.KindImagePullFailed, noderuntime.KindImagePresent,
}

const nKinds = len(kinds)

// eventNames are attr.EventNodePrefix + kind, built once.
var eventNames = func() map[noderuntime.Kind]string {
	m := make(map[noderuntime.Kind]string, nKinds)
	for _, k := range kinds {
		m[k] = attr.EventNodePrefix + string(k)
	}
	return m
}()

func kindIndex(k noderuntime.Kind) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return nKinds // a kind added to noderuntime later
}

func eventName(k noderuntime.Kind) string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return attr.EventNodePrefix + string(k)
}

// newLogs starts a plog.Logs for one batch of events from input.
func newLogs(input string) (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().Attributes().PutStr(attr.NodeInput, input)
	return ld, sl.LogRecords()
}

// appendEvent adds one event: the original record as body, its time as
// timestamp, its fields as attributes.
func appendEvent(lrs plog.LogRecordSlice, ev *noderuntime.Event, observed pcommon.Timestamp, key string) plog.LogRecord {
	lr := lrs.AppendEmpty()
	lr.SetEventName(eventName(ev.Kind))
	lr.SetObservedTimestamp(observed)
	if !ev.Time.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
	}
	if n, t := severity(ev.Level); n != plog.SeverityNumberUnspecified {
		lr.SetSeverityNumber(n)
		lr.SetSeverityText(t)
	}
	lr.Body().SetStr(validUTF8(ev.Line))

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
		name, tag := splitImageRef(ev.Image)
		putNonEmpty(a, attr.ContainerImage, name)
		if tag != "" {
			a.PutEmptySlice(attr.ContainerImageTags).AppendEmpty().SetStr(validUTF8(tag))
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

// splitImageRef splits an image reference into the semantic-convention
// container.image.name (repository, without tag or digest) and its tag:
// "registry.k8s.io/pause:3.9" → "registry.k8s.io/pause", "3.9";
// "localhost:5000/app@sha256:..." → "localhost:5000/app", "".
func splitImageRef(ref string) (name, tag string) {
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

func putNonEmpty(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, validUTF8(v))
	}
}

// validUTF8 replaces invalid UTF-8 (a journal message that was not UTF-8, a
// file in another encoding) so that the record can be exported.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func now() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }
