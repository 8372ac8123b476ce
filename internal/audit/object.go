// SPDX-License-Identifier: Apache-2.0

package audit

import "encoding/json"

// Object is the kind and metadata of any object in a requestObject or
// responseObject: enough to follow ownerReferences between workloads.
type Object struct {
	Kind     string     `json:"kind,omitempty"`
	Metadata ObjectMeta `json:"metadata"`
	// Spec.Template.Spec is decoded for workloads (Deployment, ReplicaSet,
	// DaemonSet, StatefulSet, Job); CronJob's is under jobTemplate.
	Spec struct {
		Template    *PodTemplate `json:"template,omitempty"`
		JobTemplate *struct {
			Spec struct {
				Template *PodTemplate `json:"template,omitempty"`
			} `json:"spec"`
		} `json:"jobTemplate,omitempty"`
	} `json:"spec"`
}

// PodTemplate is a workload's pod template.
type PodTemplate struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
}

// PodTemplate returns the object's pod template, or nil.
func (o *Object) PodTemplate() *PodTemplate {
	if o.Spec.Template != nil {
		return o.Spec.Template
	}
	if o.Spec.JobTemplate != nil {
		return o.Spec.JobTemplate.Spec.Template
	}
	return nil
}

// DecodeObject decodes the kind and metadata of a request or response
// object. It returns nil for an empty object and for a Status.
func DecodeObject(raw json.RawMessage) (*Object, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	o := new(Object)
	if err := unmarshal(raw, o); err != nil {
		return nil, err
	}
	if o.Kind == "Status" {
		return nil, nil
	}
	return o, nil
}

// Binding is a core/v1 Binding: the scheduler's placement of a pod.
type Binding struct {
	Metadata ObjectMeta `json:"metadata"`
	Target   struct {
		Kind string `json:"kind,omitempty"`
		Name string `json:"name,omitempty"`
	} `json:"target"`
}

// DecodeBinding decodes the requestObject of a pods/binding create.
func DecodeBinding(raw json.RawMessage) (*Binding, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	b := new(Binding)
	if err := unmarshal(raw, b); err != nil {
		return nil, err
	}
	return b, nil
}
