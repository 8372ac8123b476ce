// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"time"
)

// Kind is the lifecycle step an Event reports.
type Kind string

// Event kinds. The string values are stable (they end up in logs and
// attributes) and snake_case.
const (
	// KindPodAdmitted: the kubelet accepted a pod from the API server
	// ("SyncLoop ADD" source="api", old `SyncLoop (ADD, "api")`, the
	// topology manager's admit handler).
	KindPodAdmitted Kind = "pod_admitted"
	// KindStaticPodSeen: the kubelet saw a pod that did not come from the API
	// server: SyncLoop ADD with source "file" or "http", "Generated pod name"
	// for a manifest, or "Creating a mirror pod for static pod".
	KindStaticPodSeen Kind = "static_pod_seen"
	// KindSandboxRequested: a pod sandbox is about to be created
	// (containerd "RunPodSandbox for ...", CRI-O "Running pod sandbox",
	// kubelet "No sandbox for pod can be found. Need to start a new one",
	// "Creating PodSandbox for pod", or a failed CreatePodSandbox, then with
	// Error set).
	KindSandboxRequested Kind = "sandbox_requested"
	// KindSandboxReady: the runtime returned a sandbox id
	// ("returns sandbox id", "Ran pod sandbox <id>", "Created PodSandbox").
	KindSandboxReady Kind = "sandbox_ready"
	// KindSandboxStopped: StopPodSandbox succeeded, or the sandbox task exited.
	KindSandboxStopped Kind = "sandbox_stopped"
	// KindSandboxRemoved: RemovePodSandbox succeeded.
	KindSandboxRemoved Kind = "sandbox_removed"
	// KindContainerCreated: CreateContainer returned a container id.
	KindContainerCreated Kind = "container_created"
	// KindContainerStarted: StartContainer succeeded, or the kubelet's PLEG saw
	// ContainerStarted (PLEG cannot tell the sandbox's own container from an
	// application container: ContainerID may be a sandbox id).
	KindContainerStarted Kind = "container_started"
	// KindContainerExited: StopContainer succeeded, a task exit was received,
	// or the PLEG saw ContainerDied.
	KindContainerExited Kind = "container_exited"
	// KindContainerRemoved: RemoveContainer succeeded, or PLEG ContainerRemoved.
	KindContainerRemoved Kind = "container_removed"
	// KindContainerFailed: a container could not be created or started, or
	// keeps failing (CreateContainer/StartContainer failed, the kubelet's
	// Failed, BackOff and FailedPostStartHook events, CrashLoopBackOff,
	// CreateContainerError, an OOM kill). Error holds the failure text,
	// Reason the kubelet's reason when stated.
	KindContainerFailed Kind = "container_failed"
	// KindImagePullStarted: an image pull began (the kubelet's Pulling event,
	// containerd "PullImage", CRI-O "Pulling image").
	KindImagePullStarted Kind = "image_pull_started"
	// KindImagePulled: an image pull finished.
	KindImagePulled Kind = "image_pulled"
	// KindImagePullFailed: an image could not be pulled (ErrImagePull,
	// ImagePullBackOff, ErrImageNeverPull, InvalidImageName, a runtime's
	// failed PullImage). Image is the image that failed, as requested;
	// Error the failure text, Reason the kubelet's reason when stated.
	KindImagePullFailed Kind = "image_pull_failed"
	// KindImagePresent: the runtime reported an image already on the node with
	// its id and digests (CRI-O "Image status" responses, docker "Image is up
	// to date", kubelet "already present on machine"). One event per repo
	// digest.
	KindImagePresent Kind = "image_present"
)

// Source is the daemon that wrote a record.
type Source string

// Sources. SourceCRIDockerd also covers the kubelet's built-in dockershim
// only when the line came from the cri-dockerd daemon; dockershim lines are
// kubelet lines.
const (
	SourceUnknown    Source = ""
	SourceKubelet    Source = "kubelet"
	SourceContainerd Source = "containerd"
	SourceCRIO       Source = "crio"
	SourceDocker     Source = "docker"
	SourceCRIDockerd Source = "cri-dockerd"
)

// sources lists the known sources in index order (see srcIndex).
var sources = [...]Source{SourceUnknown, SourceKubelet, SourceContainerd, SourceCRIO, SourceDocker, SourceCRIDockerd}

const nSources = len(sources)

func srcIndex(s Source) int {
	switch s {
	case SourceKubelet:
		return 1
	case SourceContainerd:
		return 2
	case SourceCRIO:
		return 3
	case SourceDocker:
		return 4
	case SourceCRIDockerd:
		return 5
	}
	return 0
}

// Event is one pod-lifecycle fact extracted from a node log record. Empty
// fields were not stated by the record. All strings are owned by the Event
// (they do not alias the caller's buffer).
type Event struct {
	Kind   Kind      `json:"kind"`
	Time   time.Time `json:"time,omitzero"`
	Source Source    `json:"source"`
	// Level is the record's severity normalised to debug, info, warning,
	// error or fatal ("" when the format has none).
	Level string `json:"level,omitempty"`
	// RuntimeVersion is the daemon version, when a record seen earlier by the
	// same Parser stated it (containerd "starting containerd" version=,
	// "Starting CRI-O, version:", dockerd "Docker daemon" version=,
	// "Starting cri-dockerd", kubelet "Kubelet version").
	RuntimeVersion string `json:"runtime_version,omitempty"`
	// CRIAPI is the CRI API version named by the record ("v1", "v1alpha2"),
	// from CRI-O's name=/runtime.v1.RuntimeService/... field.
	CRIAPI string `json:"cri_api,omitempty"`
	// Node is Options.Node, else the host name of the syslog/journald prefix.
	Node string `json:"node,omitempty"`

	PodNamespace string `json:"pod_namespace,omitempty"`
	PodName      string `json:"pod_name,omitempty"`
	PodUID       string `json:"pod_uid,omitempty"`
	// PodSource is the kubelet config source of the pod ("api", "file",
	// "http"), when stated.
	PodSource string `json:"pod_source,omitempty"`

	SandboxID     string `json:"sandbox_id,omitempty"`
	ContainerID   string `json:"container_id,omitempty"`
	ContainerName string `json:"container_name,omitempty"`
	// Attempt is the CRI metadata attempt (restart count); 0 when not stated.
	Attempt int `json:"attempt,omitempty"`

	Image      string `json:"image,omitempty"`       // image reference as requested
	ImageID    string `json:"image_id,omitempty"`    // config/image id, normalised to sha256:<hex>
	RepoDigest string `json:"repo_digest,omitempty"` // repo@sha256:...
	RequestID  string `json:"request_id,omitempty"`  // CRI-O id= (shared by a request and its response)

	// Error is the failure text of a failed operation, as logged (escapes
	// kept): a failed sandbox request (sandbox_requested), container_failed
	// and image_pull_failed.
	Error string `json:"error,omitempty"`
	// Reason is the kubelet's reason for the event, when the record states
	// one: an event reason (Pulled, Failed, BackOff, FailedCreatePodSandBox,
	// SandboxChanged, ...) or a container waiting reason (ErrImagePull,
	// ImagePullBackOff, CrashLoopBackOff, CreateContainerError,
	// CreatePodSandboxError, ...), or OOMKilled for a runtime's OOM event.
	Reason string `json:"reason,omitempty"`

	// Line is the original record; physical lines of a wrapped record are
	// joined with \n.
	Line string `json:"line"`
}

// Options configure a Parser.
type Options struct {
	// Year is used for timestamps without a year (klog, journald short
	// format). 0 means infer it from Reference.
	Year int
	// Reference is a time near the records (for a live tail: zero, meaning
	// time.Now()). Year-less timestamps get the year that puts them no more
	// than one month after the reference. The parser moves the reference to
	// every full date it reads (RFC 3339 payload times, journalctl
	// "-- Logs begin at" headers), so a mixed journal infers years from its
	// own dated lines.
	Reference time.Time
	// Location is the zone of timestamps that carry none (klog, journald
	// short format). nil means UTC, or the zone named by a journalctl header
	// line ("-- Logs begin at ... CEST") once one was read.
	Location *time.Location
	// Node overrides the host name taken from syslog/journald prefixes.
	Node string
	// Format is the source to assume when a record does not name its daemon
	// (no journald/syslog identifier, or an unknown one). "" detects the
	// source from the payload.
	Format Source
}

// SourceStats counts records by outcome.
type SourceStats struct {
	Records uint64 // records passed to Parse/ParseAll (non-blank)
	Events  uint64 // events produced
	NoEvent uint64 // recognised records without a lifecycle event
	Unknown uint64 // records rejected with an error
}

// Stats are a Parser's counters, in total and per detected source
// (SourceUnknown when the source could not be told).
type Stats struct {
	Total    SourceStats
	BySource map[Source]SourceStats
}

// Reason says why a record was rejected.
type Reason string

// Rejection reasons.
const (
	// ReasonNoFormat: no known timestamp/prefix/payload shape at all.
	ReasonNoFormat Reason = "unrecognised record format"
	// ReasonPayload: a syslog/journald prefix of a runtime or kubelet unit
	// was recognised, but not the payload after it.
	ReasonPayload Reason = "unrecognised payload after syslog prefix"
	// ReasonTimestamp: the record looks like a known format but its
	// timestamp is invalid.
	ReasonTimestamp Reason = "invalid timestamp"
)

var reasons = [...]Reason{ReasonNoFormat, ReasonPayload, ReasonTimestamp}

// ParseError is the error ParseAll returns for a rejected record. Callers
// count it per Source and drop the record. Values are shared: do not modify.
type ParseError struct {
	Source Source
	Reason Reason
}

func (e *ParseError) Error() string {
	if e.Source == SourceUnknown {
		return "noderuntime: " + string(e.Reason)
	}
	return "noderuntime: " + string(e.Source) + ": " + string(e.Reason)
}

// parseErrors are preallocated so that rejecting a record does not allocate.
var parseErrors = func() (t [nSources][len(reasons)]*ParseError) {
	for i, s := range sources {
		for j, r := range reasons {
			t[i][j] = &ParseError{Source: s, Reason: r}
		}
	}
	return t
}()

func parseError(s Source, r Reason) error {
	j := 0
	for k, rr := range reasons {
		if rr == r {
			j = k
		}
	}
	return parseErrors[srcIndex(s)][j]
}
