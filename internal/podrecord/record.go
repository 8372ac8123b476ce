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

	Actor     Actor    `json:"actor" expr:"actor"`
	SourceIPs []string `json:"source_ips,omitempty" expr:"source_ips"`
	UserAgent string   `json:"user_agent,omitempty" expr:"user_agent"`
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

	// Sources lists what contributed to the record (audit); Missing what
	// podtrail would use but has not seen, e.g. the generated name below
	// the RequestResponse audit level.
	Sources []string `json:"sources" expr:"sources"`
	Missing []string `json:"missing,omitempty" expr:"missing"`
}

// Owner is the pod's controlling owner reference, empty when it has none.
type Owner struct {
	Kind string `json:"kind,omitempty" expr:"kind"`
	Name string `json:"name,omitempty" expr:"name"`
	UID  string `json:"uid,omitempty" expr:"uid"`
}

// Actor is who made the request. When the request was impersonated, the
// impersonated user is the actor and ImpersonatedBy names the real one.
type Actor struct {
	Username string   `json:"username" expr:"username"`
	UID      string   `json:"uid,omitempty" expr:"uid"`
	Groups   []string `json:"groups,omitempty" expr:"groups"`
	Kind     string   `json:"kind" expr:"kind"`
	// ServiceAccount is namespace/name when the actor is a service account.
	ServiceAccount string `json:"service_account,omitempty" expr:"service_account"`
	ImpersonatedBy string `json:"impersonated_by,omitempty" expr:"impersonated_by"`
}

// Container is one container of the pod spec.
type Container struct {
	Name string `json:"name" expr:"name"`
	// Image is the reference as the pod spec has it (tag, digest or both).
	Image string `json:"image" expr:"image"`
	// Type is container, init or ephemeral.
	Type       string `json:"type" expr:"type"`
	Privileged bool   `json:"privileged,omitempty" expr:"privileged"`
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
