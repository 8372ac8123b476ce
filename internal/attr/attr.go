// Package attr names the log record attributes podtrail writes. Keys that
// OpenTelemetry semantic conventions define are used as they are; podtrail's
// own keys all start with "podtrail.".
package attr

// Semantic-convention keys.
const (
	K8sNamespaceName  = "k8s.namespace.name"
	K8sPodName        = "k8s.pod.name"
	K8sPodUID         = "k8s.pod.uid"
	K8sNodeName       = "k8s.node.name"
	ContainerID       = "container.id"
	ContainerName     = "container.name"
	ContainerImage    = "container.image.name"
	UserName          = "user.name"
	UserID            = "user.id"
	UserAgentOriginal = "user_agent.original"
	ClientAddress     = "client.address"
	HTTPStatusCode    = "http.response.status_code"
	LogFilePath       = "log.file.path"
)

// Event names (LogRecord.EventName) of what podtrail emits.
const (
	EventAudit       = "k8s.audit.event"
	EventPodCreation = "podtrail.pod_creation"
	EventFinding     = "podtrail.finding"
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
)
