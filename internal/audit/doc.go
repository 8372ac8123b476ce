// Package audit decodes kube-apiserver audit events (audit.k8s.io/v1 and
// v1beta1) as the log backend writes them and as the webhook backend posts
// them (EventList batches or single events). It knows nothing of the
// collector: the k8s_audit receiver and the pod_creation processor use it.
package audit
