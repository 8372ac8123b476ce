// SPDX-License-Identifier: Apache-2.0

// Package attr names the log record attributes podtrail writes. Keys that
// OpenTelemetry semantic conventions define are used as they are; podtrail's
// own keys all start with "podtrail.".
package attr

// Prefix starts every key and event name of podtrail's own.
const Prefix = "podtrail."

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
	// EventAuditHeartbeat: the k8s_audit receiver's sign that audit events
	// arrive while none is of the selection (Config.Heartbeat), with
	// AuditUnselected.
	EventAuditHeartbeat = "podtrail.audit.heartbeat"
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

// podtrail's own keys on audit event records that the k8s_audit receiver
// could read only in part.
const (
	// AuditPartial marks an audit event record whose event could be read
	// only in part: "oversize" (too large to take whole; the body is a
	// valid audit event salvaged from it: who, what, which object, the
	// answer and times when they could be read).
	AuditPartial = "podtrail.audit.partial"
	// AuditSize is the event's size in bytes, when it is known (the webhook
	// reads to its end; the file input stops at max_log_size).
	AuditSize = "podtrail.audit.size"
	// AuditUnselected, on an EventAuditHeartbeat record, is how many audit
	// events outside the selection arrived since the last record the
	// receiver sent.
	AuditUnselected = "podtrail.audit.unselected"
)

// podtrail's own keys on pod-creation records (EventPodCreation), beside
// the semantic-convention keys and AuditID; the pod_creation processor
// writes them, the cef exporter, the SIEM mappings
// (distributions/otelcol-podtrail/siem) and podtrail-rules baseline read
// them (processor/podcreationprocessor/README.md describes each).
const (
	PodGenerateName      = "podtrail.pod.generate_name"
	PodLabels            = "podtrail.pod.labels"
	PodOwnerKind         = "podtrail.pod.owner.kind"
	PodOwnerName         = "podtrail.pod.owner.name"
	PodOwnerUID          = "podtrail.pod.owner.uid"
	PodOwnerChain        = "podtrail.pod.owner.chain"
	PodServiceAccount    = "podtrail.pod.service_account"
	PodContainers        = "podtrail.pod.containers"
	PodImages            = "podtrail.pod.images"
	PodImagePullFailures = "podtrail.pod.image_pull_failures" // list of {image, container, error, reason}
	PodHostNamespaces    = "podtrail.pod.host_namespaces"
	ActorKind            = "podtrail.actor.kind"
	ActorGroups          = "podtrail.actor.groups"
	ActorServiceAccount  = "podtrail.actor.service_account"
	Channel              = "podtrail.channel"
	FieldManager         = "podtrail.field_manager"
	Managers             = "podtrail.managers"
	Decision             = "podtrail.decision"
	Allowed              = "podtrail.allowed"
	Outcome              = "podtrail.outcome" // created, forbidden, failed, unknown (podrecord.Outcome*); none without a create
	Reason               = "podtrail.reason"
	RequestedAt          = "podtrail.requested_at"
	Sources              = "podtrail.sources"
	Missing              = "podtrail.missing"
	Origin               = "podtrail.origin"
	Partial              = "podtrail.partial"
	Join                 = "podtrail.join"
	DeniedBefore         = "podtrail.denied_before" // list of {audit_id, namespace, name, at, code, reason}
	ScheduledAt          = "podtrail.scheduled_at"
	StartedAt            = "podtrail.started_at"
	DeletedAt            = "podtrail.deleted_at"
	// Update says what an update of a record emitted before adds
	// (EventPodCreationUpdate): digest.
	Update = "podtrail.update"
	// ImageMetadata is what the registries said of a record's images
	// (image_metadata): ok, pending, not_found, unavailable (the worst
	// container's); absent when the lookup is off or no container's digest
	// is known.
	ImageMetadata = "podtrail.image.metadata"
)

// The person or pipeline behind a controller-made pod (the owner chain's
// root): InitiatorPrefix + username, kind, channel, object, verb, at.
const (
	InitiatorPrefix   = "podtrail.initiator."
	InitiatorUsername = InitiatorPrefix + "username"
	InitiatorKind     = InitiatorPrefix + "kind"
	InitiatorChannel  = InitiatorPrefix + "channel"
	InitiatorObject   = InitiatorPrefix + "object"
	InitiatorVerb     = InitiatorPrefix + "verb"
	InitiatorAt       = InitiatorPrefix + "at"
)

// The pod's sandbox as the node reported it: SandboxPrefix + id, runtime,
// runtime_version, ready_at, attempts, error; and its timings in seconds:
// TimingsPrefix + scheduled, sandbox_ready, started, lifetime.
const (
	SandboxPrefix         = "podtrail.sandbox."
	SandboxID             = SandboxPrefix + "id"
	SandboxRuntime        = SandboxPrefix + "runtime"
	SandboxRuntimeVersion = SandboxPrefix + "runtime_version"
	SandboxReadyAt        = SandboxPrefix + "ready_at"
	SandboxAttempts       = SandboxPrefix + "attempts"
	SandboxError          = SandboxPrefix + "error"
	TimingsPrefix         = "podtrail.timings."
)

// The identity the request impersonated; user.name and podtrail.actor.* are
// who authenticated.
const (
	ImpersonatedUserName       = "podtrail.impersonated.user.name"
	ImpersonatedUserID         = "podtrail.impersonated.user.id"
	ImpersonatedGroups         = "podtrail.impersonated.groups"
	ImpersonatedKind           = "podtrail.impersonated.kind"
	ImpersonatedServiceAccount = "podtrail.impersonated.service_account"
)

// podtrail's own keys on findings (EventFinding), beside the record's
// identity (AuditID, the pod, user.name, ActorKind, ImpersonatedUserName,
// Channel).
const (
	RuleID          = "podtrail.rule.id"
	RuleTitle       = "podtrail.rule.title"
	RuleDescription = "podtrail.rule.description"
	RuleSeverity    = "podtrail.rule.severity"
	RuleMITRE       = "podtrail.rule.mitre"
	RuleTags        = "podtrail.rule.tags"
	// The rule's ATT&CK techniques and tactics (rules.ATTACKOf), apart from
	// the data component and analytic ids of RuleMITRE.
	RuleMITRETechniques       = "podtrail.rule.mitre.techniques"        // ids as the rule names them: T1036.005
	RuleMITRETechniqueID      = "podtrail.rule.mitre.technique.id"      // T1036 (a sub-technique's parent)
	RuleMITRETechniqueName    = "podtrail.rule.mitre.technique.name"    // Masquerading
	RuleMITRESubtechniqueID   = "podtrail.rule.mitre.subtechnique.id"   // T1036.005
	RuleMITRESubtechniqueName = "podtrail.rule.mitre.subtechnique.name" // Match Legitimate Resource Name or Location
	RuleMITRETacticID         = "podtrail.rule.mitre.tactic.id"         // TA0005
	RuleMITRETacticName       = "podtrail.rule.mitre.tactic.name"       // Defense Evasion
	RuleMITREAttacks          = "podtrail.rule.mitre.attacks"           // [{technique, sub_technique, tactic: {uid, name}, version}]
	// FindingPrefix + a rule output's name: what the rule says of the pod
	// (owner, images, imitates, ...); and of a suppression summary:
	// count, first_seen, last_seen.
	FindingPrefix    = "podtrail.finding."
	FindingOwner     = FindingPrefix + "owner"
	FindingImages    = FindingPrefix + "images"
	FindingCount     = FindingPrefix + "count"
	FindingFirstSeen = FindingPrefix + "first_seen"
	FindingLastSeen  = FindingPrefix + "last_seen"
)

// podtrail's own keys on blind-spot findings (the pod_creation processor's
// blind_spots): what podtrail cannot see.
const (
	BlindSpotKind   = "podtrail.blind_spot.kind"   // audit_silence, node_silence, evicted, rules_unreadable
	BlindSpotState  = "podtrail.blind_spot.state"  // blind, recovered
	BlindSpotSource = "podtrail.blind_spot.source" // audit, node_runtime, correlation, rules
	BlindSpotSince  = "podtrail.blind_spot.since"  // RFC 3339: last heard, or when it began
	BlindSpotUntil  = "podtrail.blind_spot.until"  // RFC 3339: when it recovered
	BlindSpotCount  = "podtrail.blind_spot.count"  // evictions; records without the node's events
	BlindSpotDetail = "podtrail.blind_spot.detail" // the load error; the pod that showed the node silent
)

// EventPodCreationUpdate names an update of a record emitted before
// (podrecord.Record.Update): digests the kubelet reported late.
const EventPodCreationUpdate = EventPodCreation + ".update"
