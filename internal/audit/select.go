// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"errors"
	"strings"
)

// The pod-creation selection is the audit events the pod_creation
// processor reads (internal/correlate): the final stage (ResponseComplete,
// Panic) of a change (create, update, patch, delete) of a pod or of one of
// its subresources (binding, status, ephemeralcontainers, ...) or of a
// workload that owns pods; and the RequestReceived stage of a pod create
// (ReceivedPodCreate), which the processor pairs by auditID with that
// request's final stage to tell when the audit pipeline lost it (the
// audit_stage_gap blind spot). Everything else (reads, the other
// RequestReceived and the ResponseStarted stages, other resources: most of
// an audit log) makes no record and no finding. The k8s_audit receiver
// builds log records only for these events unless its events setting is
// "all"; the processor decodes no other event's body either.

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

// ReceivedPodCreate reports whether an event is the RequestReceived stage
// of a pod create (objectRef resource pods of the core group, no
// subresource): the one non-final stage in the selection.
func ReceivedPodCreate(stage, verb string, ref *ObjectReference) bool {
	return stage == StageRequestReceived && verb == "create" && ref != nil && podRef(ref)
}

// podRef: the objectRef is a pod itself (not a subresource of one).
func podRef(ref *ObjectReference) bool {
	return ref.Resource == "pods" && ref.Subresource == "" && ref.APIGroup == ""
}

// podsCollectionURI: uri can be that of a pod create (a namespace's pods
// collection, /api/v1/namespaces/<ns>/pods, query aside), or is empty.
func podsCollectionURI(uri string) bool {
	if uri == "" {
		return true
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	uri = strings.TrimSuffix(uri, "/")
	return strings.HasPrefix(uri, "/api/v1/namespaces/") && strings.HasSuffix(uri, "/pods") && strings.Count(uri, "/") == 5
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
	if ev.Stage == StageRequestReceived {
		return ReceivedPodCreate(ev.Stage, ev.Verb, ev.ObjectRef)
	}
	return SelectedStage(ev.Stage) && SelectedVerb(ev.Verb) && ev.ObjectRef != nil && SelectedResource(ev.ObjectRef.Resource)
}

// unselected reports whether decodeFast, having just read field f of ev,
// can stop: that field already puts ev outside the selection. The
// apiserver writes stage, verb and objectRef before the user, the request
// and the response objects, so most events outside it are read no further
// than their stage or verb. A RequestReceived stage goes on to its verb
// (create, or it stops) and objectRef (pods), whichever order they come in:
// a field not read yet is empty (verb) or nil (objectRef).
func unselected(ev *Event, f int) bool {
	switch f {
	case fStage:
		if ev.Stage == StageRequestReceived {
			return ev.Verb != "" && ev.Verb != "create" || ev.ObjectRef != nil && !podRef(ev.ObjectRef)
		}
		return !SelectedStage(ev.Stage)
	case fRequestURI:
		// the apiserver writes requestURI before verb and user: a
		// RequestReceived stage not of the pods collection stops here
		return ev.Stage == StageRequestReceived && !podsCollectionURI(ev.RequestURI)
	case fVerb:
		if ev.Stage == StageRequestReceived {
			return ev.Verb != "create"
		}
		return !SelectedVerb(ev.Verb)
	case fObjectRef:
		if ev.Stage == StageRequestReceived {
			return !podRef(ev.ObjectRef)
		}
		return !SelectedResource(ev.ObjectRef.Resource)
	}
	return false
}
