// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/json"
	"time"
)

// Pod is the part of a core/v1 Pod that pod-creation records and rules use.
type Pod struct {
	Kind       string      `json:"kind,omitempty"`
	APIVersion string      `json:"apiVersion,omitempty"`
	Metadata   ObjectMeta  `json:"metadata"`
	Spec       PodSpec     `json:"spec"`
	Status     PodStatusV1 `json:"status"`
}

// ObjectMeta is the part of metav1.ObjectMeta podtrail reads.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	CreationTimestamp *time.Time        `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	OwnerReferences   []OwnerReference  `json:"ownerReferences,omitempty"`
	ManagedFields     []ManagedField    `json:"managedFields,omitempty"`
}

// OwnerReference is metav1.OwnerReference.
type OwnerReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	UID        string `json:"uid,omitempty"`
	Controller *bool  `json:"controller,omitempty"`
}

// ManagedField is the part of metav1.ManagedFieldsEntry that names who wrote.
type ManagedField struct {
	Manager   string `json:"manager,omitempty"`
	Operation string `json:"operation,omitempty"`
}

// PodSpec is the part of core/v1 PodSpec podtrail reads.
type PodSpec struct {
	Containers          []Container       `json:"containers,omitempty"`
	InitContainers      []Container       `json:"initContainers,omitempty"`
	EphemeralContainers []Container       `json:"ephemeralContainers,omitempty"`
	ServiceAccountName  string            `json:"serviceAccountName,omitempty"`
	NodeName            string            `json:"nodeName,omitempty"`
	HostNetwork         bool              `json:"hostNetwork,omitempty"`
	HostPID             bool              `json:"hostPID,omitempty"`
	HostIPC             bool              `json:"hostIPC,omitempty"`
	NodeSelector        map[string]string `json:"nodeSelector,omitempty"`
	PriorityClassName   string            `json:"priorityClassName,omitempty"`
}

// Container is the part of core/v1 Container podtrail reads.
type Container struct {
	Name            string           `json:"name"`
	Image           string           `json:"image,omitempty"`
	Command         []string         `json:"command,omitempty"`
	Args            []string         `json:"args,omitempty"`
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
}

// SecurityContext is the part of core/v1 SecurityContext podtrail reads.
type SecurityContext struct {
	Privileged               *bool  `json:"privileged,omitempty"`
	AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation,omitempty"`
	RunAsUser                *int64 `json:"runAsUser,omitempty"`
}

// PodStatusV1 is the part of core/v1 PodStatus podtrail reads.
type PodStatusV1 struct {
	Phase                      string            `json:"phase,omitempty"`
	ContainerStatuses          []ContainerStatus `json:"containerStatuses,omitempty"`
	InitContainerStatuses      []ContainerStatus `json:"initContainerStatuses,omitempty"`
	EphemeralContainerStatuses []ContainerStatus `json:"ephemeralContainerStatuses,omitempty"`
}

// ContainerStatus is the part of core/v1 ContainerStatus that resolves digests.
type ContainerStatus struct {
	Name        string `json:"name"`
	Image       string `json:"image,omitempty"`
	ImageID     string `json:"imageID,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
	State       struct {
		Running *struct {
			StartedAt *time.Time `json:"startedAt,omitempty"`
		} `json:"running,omitempty"`
		// Terminated: a container that ran and ended before the kubelet
		// reported it running (a Job's, a failing one's).
		Terminated *struct {
			StartedAt *time.Time `json:"startedAt,omitempty"`
		} `json:"terminated,omitempty"`
	} `json:"state"`
}

// Started returns when the container started, running or since ended; nil
// when it has not.
func (cs *ContainerStatus) Started() *time.Time {
	switch {
	case cs.State.Running != nil && cs.State.Running.StartedAt != nil:
		return cs.State.Running.StartedAt
	case cs.State.Terminated != nil && cs.State.Terminated.StartedAt != nil && !cs.State.Terminated.StartedAt.IsZero():
		return cs.State.Terminated.StartedAt
	}
	return nil
}

// DecodePod decodes a Pod from a requestObject or responseObject. It returns
// nil for an empty object and for an object of another kind (a Status on a
// failed create).
func DecodePod(raw json.RawMessage) (*Pod, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	p := new(Pod)
	if err := unmarshal(raw, p); err != nil {
		// A failed create logs the Status it answered with, whose fields
		// (status: "Failure") do not fit a Pod: not a pod, not an error.
		var k struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(raw, &k) == nil && k.Kind != "" && k.Kind != "Pod" {
			return nil, nil
		}
		return nil, err
	}
	if p.Kind != "" && p.Kind != "Pod" {
		return nil, nil
	}
	return p, nil
}
