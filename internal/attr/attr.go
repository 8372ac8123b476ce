// Package attr names the log record attributes podtrail writes. Keys that
// OpenTelemetry semantic conventions define are used as they are; podtrail's
// own keys all start with "podtrail.".
package attr

// Semantic-convention keys.
const (
	K8sNamespaceName   = "k8s.namespace.name"
	K8sPodName         = "k8s.pod.name"
	K8sPodUID          = "k8s.pod.uid"
	K8sNodeName        = "k8s.node.name"
	ContainerID        = "container.id"
	ContainerName      = "container.name"
	ContainerImage     = "container.image.name"
	ContainerImageTags = "container.image.tags"
	UserName           = "user.name"
	UserID             = "user.id"
	UserAgentOriginal  = "user_agent.original"
	ClientAddress      = "client.address"
	HTTPStatusCode     = "http.response.status_code"
	LogFilePath        = "log.file.path"
)

// Semantic-convention keys of the cluster (resource attributes of the
// pod_creation processor's records and findings; log record attributes of
// the k8s_audit receiver's events from a managed cloud's export).
const (
	K8sClusterName        = "k8s.cluster.name"
	K8sClusterUID         = "k8s.cluster.uid"
	CloudProvider         = "cloud.provider"   // gcp, aws, azure
	CloudPlatform         = "cloud.platform"   // gcp_kubernetes_engine, aws_eks, azure.aks
	CloudAccountID        = "cloud.account.id" // GCP project, AWS account, Azure subscription
	CloudRegion           = "cloud.region"
	CloudAvailabilityZone = "cloud.availability_zone"
	CloudResourceID       = "cloud.resource_id"
)

// AffinityKey is set by both receivers on every event about a pod or a
// workload: the same value for a pod, its owners up the controller chain,
// and every audit and node event about them (podrecord.AffinityKey). Route
// on it (load_balancing routing_key: attributes) to spread correlation over
// several gateways without splitting a pod's record.
const AffinityKey = "podtrail.affinity_key"

// Event names (LogRecord.EventName) of what podtrail emits.
const (
	EventAudit       = "k8s.audit.event"
	EventPodCreation = "podtrail.pod_creation"
	EventFinding     = "podtrail.finding"
	// EventNodePrefix starts the event names of node runtime records (the
	// node_runtime receiver): EventNodePrefix + kind, e.g.
	// "podtrail.node.sandbox_ready", "podtrail.node.container_started".
	EventNodePrefix = "podtrail.node."
)

// podtrail's own keys on audit event records (k8s_audit receiver).
const (
	AuditID           = "podtrail.audit.id"
	AuditStage        = "podtrail.audit.stage"
	AuditLevel        = "podtrail.audit.level"
	AuditVerb         = "podtrail.audit.verb"
	AuditRequestURI   = "podtrail.audit.request_uri"
	AuditResource     = "podtrail.audit.resource"
	AuditSubresource  = "podtrail.audit.subresource"
	AuditAPIGroup     = "podtrail.audit.api_group"
	AuditObjectName   = "podtrail.audit.object.name"
	AuditUserGroups   = "podtrail.audit.user.groups"
	AuditImpersonUser = "podtrail.audit.impersonated_user.name"
	AuditSourceIPs    = "podtrail.audit.source_ips"
	AuditDecision     = "podtrail.audit.decision"
	AuditReason       = "podtrail.audit.reason"
	AuditInput        = "podtrail.audit.input"
	// AuditSourceForm is the form the event arrived in: native (the
	// apiserver's own), gke, eks or aks (a managed cloud's export).
	AuditSourceForm = "podtrail.audit.source_form"
	// AuditCloudPrincipal is the cloud identity behind user.name: a Google
	// account, an IAM role or user ARN, an Entra ID object id.
	AuditCloudPrincipal = "podtrail.audit.cloud.principal"
	// AuditCloudSession is the AWS assumed-role session name of the principal.
	AuditCloudSession = "podtrail.audit.cloud.session"
)

// podtrail's own keys on node runtime event records (node_runtime receiver),
// beside the semantic-convention keys K8sPodUID, K8sPodName,
// K8sNamespaceName, K8sNodeName, ContainerID, ContainerName, ContainerImage
// and LogFilePath.
const (
	NodeEventKind      = "podtrail.node.event.kind"      // sandbox_ready, container_started, ...
	NodeSource         = "podtrail.node.source"          // kubelet, containerd, crio, docker, cri-dockerd
	NodeInput          = "podtrail.node.input"           // file or journald (scope attribute)
	NodePodSource      = "podtrail.node.pod_source"      // kubelet config source: api, file, http
	NodeSandboxID      = "podtrail.node.sandbox_id"      // pod sandbox id
	NodeAttempt        = "podtrail.node.attempt"         // CRI metadata attempt (int, only when > 0)
	NodeImageID        = "podtrail.node.image_id"        // sha256:<hex>
	NodeRepoDigest     = "podtrail.node.repo_digest"     // repo@sha256:<hex>
	NodeRuntimeVersion = "podtrail.node.runtime_version" // daemon version learned from the stream
	NodeCRIAPI         = "podtrail.node.cri_api"         // v1, v1alpha2
	NodeRequestID      = "podtrail.node.request_id"      // CRI-O id=
	NodeError          = "podtrail.node.error"           // failure text of a failed sandbox request, container or image pull
	NodeReason         = "podtrail.node.reason"          // kubelet reason: ErrImagePull, CrashLoopBackOff, FailedCreatePodSandBox, ...; OOMKilled
	NodeJournalUnit    = "podtrail.node.journal.unit"    // _SYSTEMD_UNIT of a journald entry
)
