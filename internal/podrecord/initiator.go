// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"github.com/podtrail/podtrail/internal/audit"
)

// InitiatorOf returns who made a create or change of a workload (the
// event) and through which channel; obj is the workload as the event carries
// it, nil below the Request level.
func InitiatorOf(ev *audit.Event, obj *audit.Object) Initiator {
	r := Record{Actor: actorOf(ev), UserAgent: ev.UserAgent, FieldManager: fieldManager(ev.RequestURI)}
	object := ""
	if ev.ObjectRef != nil {
		object = kindOf(ev.ObjectRef.Resource) + "/" + ev.ObjectRef.Name
	}
	if obj != nil {
		r.Labels, r.Annotations = obj.Metadata.Labels, obj.Metadata.Annotations
		for _, f := range obj.Metadata.ManagedFields {
			r.Managers = append(r.Managers, f.Manager)
		}
		if obj.Kind != "" && obj.Metadata.Name != "" {
			object = obj.Kind + "/" + obj.Metadata.Name
		}
	}
	return Initiator{
		Username: r.Actor.Username, Kind: r.Actor.Kind, Channel: channelOf(&r),
		Object: object, Verb: ev.Verb, At: ev.StageTimestamp,
	}
}

// WorkloadKinds maps the workload resources whose objects own pods to their kinds.
var WorkloadKinds = map[string]string{
	"deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
	"daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob",
	"replicationcontrollers": "ReplicationController",
}

func kindOf(resource string) string {
	if k, ok := WorkloadKinds[resource]; ok {
		return k
	}
	return resource
}
