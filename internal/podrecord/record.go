// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"time"
)

// Actor kinds.
const (
	ActorUser           = "user"            // a person or a client certificate / token of one
	ActorServiceAccount = "service_account" // a workload's service account (CI, GitOps, operators)
	ActorController     = "controller"      // a kube-controller-manager controller service account
	ActorNode           = "node"            // system:node:<name> (kubelet: mirror pods)
	ActorSystem         = "system"          // other system: identities (scheduler, apiserver)
)

// Decisions.
const (
	DecisionAllow  = "allow"
	DecisionForbid = "forbid"
)

// Record is one pod creation. Field names in rules (expr) are the expr tags.
type Record struct {
	AuditID    string `json:"audit_id" expr:"audit_id"`
	AuditLevel string `json:"audit_level" expr:"audit_level"`

	Namespace    string            `json:"namespace" expr:"namespace"`
	Name         string            `json:"name,omitempty" expr:"name"`
	GenerateName string            `json:"generate_name,omitempty" expr:"generate_name"`
	UID          string            `json:"uid,omitempty" expr:"uid"`
	Labels       map[string]string `json:"labels,omitempty" expr:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty" expr:"annotations"`
	Owner        Owner             `json:"owner" expr:"owner"`

	Actor Actor `json:"actor" expr:"actor"`
	// Impersonated is the identity the request impersonated
	// (Impersonate-User, audit impersonatedUser); empty without
	// impersonation. Actor is always who authenticated.
	Impersonated Identity `json:"impersonated,omitzero" expr:"impersonated"`
	SourceIPs    []string `json:"source_ips,omitempty" expr:"source_ips"`
	UserAgent    string   `json:"user_agent,omitempty" expr:"user_agent"`
	// Channel is how the request was made: kubectl, helm, argocd, flux,
	// terraform, controller, kubelet, ci, client (another API client) or unknown.
	Channel      string   `json:"channel" expr:"channel"`
	FieldManager string   `json:"field_manager,omitempty" expr:"field_manager"`
	Managers     []string `json:"managers,omitempty" expr:"managers"`

	Containers     []Container `json:"containers,omitempty" expr:"containers"`
	ServiceAccount string      `json:"service_account,omitempty" expr:"service_account"`
	Node           string      `json:"node,omitempty" expr:"node"`
	HostNetwork    bool        `json:"host_network,omitempty" expr:"host_network"`
	HostPID        bool        `json:"host_pid,omitempty" expr:"host_pid"`
	HostIPC        bool        `json:"host_ipc,omitempty" expr:"host_ipc"`

	// Decision is the authorizer's decision: allow or forbid.
	Decision string `json:"decision" expr:"decision"`
	// Allowed is true when the pod was stored (2xx).
	Allowed bool   `json:"allowed" expr:"allowed"`
	Code    int    `json:"code" expr:"code"`
	Reason  string `json:"reason,omitempty" expr:"reason"`

	RequestedAt time.Time `json:"requested_at" expr:"requested_at"`
	CompletedAt time.Time `json:"completed_at" expr:"completed_at"`

	// DeniedBefore lists the same actor's pod creates that were forbidden
	// shortly before this allowed one (oldest first): a create retried
	// after a refusal, under another name, namespace or spec.
	DeniedBefore []Denial `json:"denied_before,omitempty" expr:"denied_before"`

	// Initiator is who last created or changed the pod template of the
	// pod's owner chain, when a controller made the pod. Chain lists the
	// owners from the pod's up, as Kind/name.
	Initiator *Initiator `json:"initiator,omitempty" expr:"initiator"`
	Chain     []string   `json:"chain,omitempty" expr:"chain"`

	// Origin is api (created through the API server), static (a kubelet
	// file/http pod joined with its mirror pod), node_only (the node ran it,
	// no audit event ever named it: a missing audit source or a bypass) or
	// preexisting (no create seen, but audit events name the pod: created
	// before podtrail started).
	Origin      string    `json:"origin" expr:"origin"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero" expr:"scheduled_at"`
	Sandbox     Sandbox   `json:"sandbox,omitzero" expr:"sandbox"`
	// PullFailures are the images the node could not pull for the pod
	// (ErrImagePull, ImagePullBackOff, ...), one per container and image,
	// the first failure's text: a pod that never started because of its
	// image still names the image.
	PullFailures []PullFailure `json:"pull_failures,omitempty" expr:"pull_failures"`
	StartedAt    time.Time     `json:"started_at,omitzero" expr:"started_at"`
	DeletedAt    time.Time     `json:"deleted_at,omitzero" expr:"deleted_at"`
	Timings      Timings       `json:"timings,omitzero" expr:"timings"`
	// Partial names why the record was emitted before its sources were
	// complete: window, evicted, shutdown; or oversize, when the pod
	// create's audit event was too large to read and the record holds what
	// the receiver salvaged of it. Empty for a complete record.
	Partial string `json:"partial,omitempty" expr:"partial"`
	// Join says how the parts were matched: uid, name, or
	// generate_name_prefix (namespace + generateName + time: weakest).
	Join string `json:"join,omitempty" expr:"join"`

	// Sources lists what contributed to the record (audit); Missing what
	// podtrail would use but has not seen, e.g. the generated name below
	// the RequestResponse audit level.
	Sources []string `json:"sources" expr:"sources"`
	Missing []string `json:"missing,omitempty" expr:"missing"`

	// Cluster is the cluster the pod create's audit event names (a managed
	// cloud's export: GKE, EKS, AKS); empty for native events, whose
	// cluster the pod_creation processor's cluster setting gives.
	Cluster Cluster `json:"cluster,omitzero" expr:"cluster"`

	// Update is set on an update of a record emitted before: what it adds
	// (UpdateDigest: Containers lists the containers whose digests came
	// late). An update carries the pod's identity and what it adds, no
	// more; rules do not run on it.
	Update string `json:"update,omitempty" expr:"update"`
}

// Cluster is the Kubernetes cluster a record comes from, as a managed
// cloud's audit export names it (audit.Cluster).
type Cluster struct {
	Name       string `json:"name,omitempty" expr:"name"`
	Provider   string `json:"provider,omitempty" expr:"provider"` // gcp, aws, azure
	Account    string `json:"account,omitempty" expr:"account"`   // GCP project, AWS account, Azure subscription
	Region     string `json:"region,omitempty" expr:"region"`
	Zone       string `json:"zone,omitempty" expr:"zone"`
	ResourceID string `json:"resource_id,omitempty" expr:"resource_id"`
}

// Denial is a forbidden pod create.
type Denial struct {
	AuditID   string    `json:"audit_id" expr:"audit_id"`
	Namespace string    `json:"namespace" expr:"namespace"`
	Name      string    `json:"name,omitempty" expr:"name"`
	At        time.Time `json:"at" expr:"at"`
	Code      int       `json:"code" expr:"code"`
	Reason    string    `json:"reason,omitempty" expr:"reason"`
}

// Origins (Record.Origin).
const (
	OriginAPI      = "api"
	OriginStatic   = "static"
	OriginNodeOnly = "node_only"
	// OriginPreexisting: no create was seen, but the API server knows the
	// pod (a kubelet status patch, a binding or a delete named it): it was
	// created before podtrail started, not created without the API.
	OriginPreexisting = "preexisting"
	// OriginCreateUnseen: no create was seen, but the API server knows the
	// pod and the scheduler bound it while podtrail was watching (its
	// pods/binding came later than the correlation window after podtrail
	// started): it was created then, or shortly before podtrail started
	// while it waited for a node, and its create event never arrived. A
	// gap in the audit collection, not a pod that existed before.
	OriginCreateUnseen = "create_unseen"
)

// Outcomes of a pod create (Record.Outcome).
const (
	// OutcomeCreated: the API server stored the pod (2xx).
	OutcomeCreated = "created"
	// OutcomeForbidden: the authorizer refused the request (decision forbid).
	OutcomeForbidden = "forbidden"
	// OutcomeFailed: the authorizer allowed the request, but the API server
	// refused it for another reason and stored nothing: the name is taken
	// (409 AlreadyExists), the pod is invalid (422), an admission plugin
	// denied it, the server failed (5xx). Not a creation, not a refusal by
	// the authorizer.
	OutcomeFailed = "failed"
	// OutcomeUnknown: the answer was not read (a create event salvaged in
	// part whose responseStatus was lost, and nothing says the pod exists).
	OutcomeUnknown = "unknown"
)

// Outcome says what became of the pod create the record is of: one of the
// Outcome* constants; "" for a record that is not of a create (node_only,
// preexisting) and for an update.
func (r *Record) Outcome() string {
	switch {
	case r.Update != "", r.Origin == OriginNodeOnly, r.Origin == OriginPreexisting, r.Origin == OriginCreateUnseen:
		return ""
	case r.Allowed:
		return OutcomeCreated
	case r.Decision == DecisionForbid:
		return OutcomeForbidden
	case r.Code == 0:
		return OutcomeUnknown
	}
	return OutcomeFailed
}

// Updates (Record.Update).
const (
	// UpdateDigest: the kubelet reported the image digests of containers
	// after the pod's record was emitted without them.
	UpdateDigest = "digest"
)

// Owner is the pod's controlling owner reference, empty when it has none.
type Owner struct {
	Kind string `json:"kind,omitempty" expr:"kind"`
	Name string `json:"name,omitempty" expr:"name"`
	UID  string `json:"uid,omitempty" expr:"uid"`
}

// Actor is who made the request: the identity that authenticated (audit
// user), also when it impersonated another (Record.Impersonated).
type Actor struct {
	Username string   `json:"username" expr:"username"`
	UID      string   `json:"uid,omitempty" expr:"uid"`
	Groups   []string `json:"groups,omitempty" expr:"groups"`
	Kind     string   `json:"kind" expr:"kind"`
	// ServiceAccount is namespace/name when the actor is a service account.
	ServiceAccount string `json:"service_account,omitempty" expr:"service_account"`
	// CloudPrincipal is the cloud identity the request was authenticated
	// as (managed clusters): a Google account, an IAM role or user ARN, an
	// Entra ID object id; CloudSession the AWS assumed-role session.
	CloudPrincipal string `json:"cloud_principal,omitempty" expr:"cloud_principal"`
	CloudSession   string `json:"cloud_session,omitempty" expr:"cloud_session"`
}

// Identity is a Kubernetes user as the request named it: an impersonated
// user (Record.Impersonated).
type Identity struct {
	Username string   `json:"username,omitempty" expr:"username"`
	UID      string   `json:"uid,omitempty" expr:"uid"`
	Groups   []string `json:"groups,omitempty" expr:"groups"`
	// Kind is an actor kind (ActorUser, ActorController, ...).
	Kind string `json:"kind,omitempty" expr:"kind"`
	// ServiceAccount is namespace/name when the identity is a service account.
	ServiceAccount string `json:"service_account,omitempty" expr:"service_account"`
}

// Container is one container of the pod spec.
type Container struct {
	Name string `json:"name" expr:"name"`
	// Image is the reference as the pod spec has it (tag, digest or both).
	Image string `json:"image" expr:"image"`
	// Type is container, init or ephemeral.
	Type       string `json:"type" expr:"type"`
	Privileged bool   `json:"privileged,omitempty" expr:"privileged"`
	// ID is the runtime's container id (no runtime:// prefix) of the first
	// attempt seen.
	ID        string    `json:"id,omitempty" expr:"id"`
	StartedAt time.Time `json:"started_at,omitzero" expr:"started_at"`
	// Digest is the repo digest (sha256:...) the node resolved the image to;
	// DigestSource says who told (Digest* constants): spec (pinned in the
	// image reference), kubelet_status (the kubelet's pods/status
	// imageID), runtime_pull (the runtime's pull line: containerd "Pulled
	// image ... repo digest", CRI-O "Pulled image: repo@sha256"),
	// image_create (containerd's ImageCreate of repo@sha256 during a pull,
	// containerd 1.6) or image_status (the runtime's image status: CRI-O
	// "Image status", docker "Image is up to date").
	Digest       string `json:"digest,omitempty" expr:"digest"`
	DigestSource string `json:"digest_source,omitempty" expr:"digest_source"`
	// ImageID is the image id (sha256:<config digest>) the kubelet reported
	// for an image that has no repo digest (built or imported locally
	// without one): not a digest a registry serves, but what ran.
	ImageID string `json:"image_id,omitempty" expr:"image_id"`
	// Error is the node's text of the container's first failure (an image
	// it could not pull, a create or start error, a crash loop, an OOM
	// kill), Reason the kubelet's reason for it (ErrImagePull,
	// CreateContainerError, CrashLoopBackOff, OOMKilled, ...).
	Error  string `json:"error,omitempty" expr:"error"`
	Reason string `json:"reason,omitempty" expr:"reason"`
	// meta is the image's registry metadata (SetMeta), when looked up; not
	// packed nor persisted: looked up again (cached) after a restart.
	meta *ImageMeta
}

// PullFailure is an image the node could not pull.
type PullFailure struct {
	// Image is the reference the node tried to pull; Container the
	// container it was for, when the line names it.
	Image     string `json:"image" expr:"image"`
	Container string `json:"container,omitempty" expr:"container"`
	Error     string `json:"error,omitempty" expr:"error"`
	Reason    string `json:"reason,omitempty" expr:"reason"`
}

// MaxPullFailures bounds Record.PullFailures.
const MaxPullFailures = 8

// Digest sources (Container.DigestSource).
const (
	DigestSpec          = "spec"
	DigestKubeletStatus = "kubelet_status"
	DigestRuntimePull   = "runtime_pull"
	DigestImageCreate   = "image_create"
	DigestImageStatus   = "image_status"
)

// Initiator is the person, service account or pipeline behind a
// controller-made pod.
type Initiator struct {
	Username string `json:"username" expr:"username"`
	Kind     string `json:"kind" expr:"kind"`
	Channel  string `json:"channel" expr:"channel"`
	// Object is the owner they created or changed, as Kind/name, and Verb how.
	Object string    `json:"object" expr:"object"`
	Verb   string    `json:"verb" expr:"verb"`
	At     time.Time `json:"at" expr:"at"`
}

// Sandbox is the pod sandbox the node's runtime made.
type Sandbox struct {
	ID             string    `json:"id,omitempty" expr:"id"`
	Runtime        string    `json:"runtime,omitempty" expr:"runtime"`
	RuntimeVersion string    `json:"runtime_version,omitempty" expr:"runtime_version"`
	RequestedAt    time.Time `json:"requested_at,omitzero" expr:"requested_at"`
	ReadyAt        time.Time `json:"ready_at,omitzero" expr:"ready_at"`
	Attempts       int       `json:"attempts,omitempty" expr:"attempts"`
	// Error is the failure text of the last failed sandbox request: a pod
	// whose sandbox the node could not make (CNI, cgroups, pod directory).
	Error string `json:"error,omitempty" expr:"error"`
}

// Timings are seconds from the API create (RequestedAt) to each step; 0
// when the step was not seen.
type Timings struct {
	Scheduled    float64 `json:"scheduled,omitempty" expr:"scheduled"`
	SandboxReady float64 `json:"sandbox_ready,omitempty" expr:"sandbox_ready"`
	Started      float64 `json:"started,omitempty" expr:"started"`
	Lifetime     float64 `json:"lifetime,omitempty" expr:"lifetime"`
}

// DisplayName is namespace/name, or namespace/generateName* when the
// generated name is not known.
func (r *Record) DisplayName() string {
	switch {
	case r.Name != "":
		return r.Namespace + "/" + r.Name
	case r.GenerateName != "":
		return r.Namespace + "/" + r.GenerateName + "*"
	default:
		return r.Namespace + "/?"
	}
}

// Images returns the image of every container, in spec order.
func (r *Record) Images() []string {
	out := make([]string, len(r.Containers))
	for i, c := range r.Containers {
		out[i] = c.Image
	}
	return out
}
