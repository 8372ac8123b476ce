// SPDX-License-Identifier: Apache-2.0

package audit

import "errors"

// The pod-creation selection is the audit events the pod_creation
// processor reads (internal/correlate): the final stage (ResponseComplete,
// Panic) of a change (create, update, patch, delete) of a pod or of one of
// its subresources (binding, status, ephemeralcontainers, ...) or of a
// workload that owns pods. Everything else (reads, the RequestReceived and
// ResponseStarted stages, other resources: most of an audit log) makes no
// record and no finding. The k8s_audit receiver builds log records only for
// these events unless its events setting is "all"; the processor looks at
// no other event's body either.

// ErrNotSelected is an Item's error for an event outside the Decoder's
// selection (Decoder.SelectPodCreation): not an error of the input. Such an
// event is read only as far as needed to tell (its stage, verb and
// resource), so the rest of its line is not checked.
var ErrNotSelected = errors.New("audit event not selected")

// WorkloadResources are the objectRef resources of the workloads that own
// pods, as podrecord.WorkloadKinds names them (a test holds the two equal).
var WorkloadResources = map[string]bool{
	"deployments": true, "replicasets": true, "statefulsets": true, "daemonsets": true,
	"jobs": true, "cronjobs": true, "replicationcontrollers": true,
}

// SelectedStage reports whether stage is one the pod-creation selection
// takes: the final one of a request.
func SelectedStage(stage string) bool {
	return stage == StageResponseComplete || stage == StagePanic
}

// SelectedVerb reports whether verb is one the pod-creation selection
// takes: a change.
func SelectedVerb(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete":
		return true
	}
	return false
}

// SelectedResource reports whether an objectRef resource is one the
// pod-creation selection takes: pods and the workloads that own them.
func SelectedResource(resource string) bool {
	return resource == "pods" || WorkloadResources[resource]
}

// Selected reports whether ev is in the pod-creation selection.
func Selected(ev *Event) bool {
	return SelectedStage(ev.Stage) && SelectedVerb(ev.Verb) && ev.ObjectRef != nil && SelectedResource(ev.ObjectRef.Resource)
}

// unselected reports whether decodeFast, having just read field f of ev,
// can stop: that field already puts ev outside the selection. The
// apiserver writes stage, verb and objectRef before the user, the request
// and the response objects, so most events outside it are read no further
// than their stage or verb.
func unselected(ev *Event, f int) bool {
	switch f {
	case fStage:
		return !SelectedStage(ev.Stage)
	case fVerb:
		return !SelectedVerb(ev.Verb)
	case fObjectRef:
		return !SelectedResource(ev.ObjectRef.Resource)
	}
	return false
}
