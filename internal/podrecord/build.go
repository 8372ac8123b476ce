// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"errors"
	"net/url"
	"strings"

	"github.com/podtrail/podtrail/internal/audit"
)

// ErrNotPodCreate is returned by FromAudit for an event that is not the final
// stage of a pod create.
var ErrNotPodCreate = errors.New("not the final stage of a pod create")

// Names of sources and of missing parts in Record.Sources and Record.Missing.
const (
	SourceAudit = "audit"

	MissingGeneratedName = "generated_name" // generateName pod below RequestResponse level
	MissingUID           = "uid"            // only responseObject carries it
	MissingPodSpec       = "pod_spec"       // Metadata level: no images, labels or owner
	MissingDigest        = "digest"         // a container ran and no source told its image digest
	MissingMirrorPod     = "mirror_pod"     // a static pod whose mirror pod the API never reported
)

// Annotations podtrail reads.
const (
	AnnotationMirror      = "kubernetes.io/config.mirror"
	AnnotationConfigHash  = "kubernetes.io/config.hash"
	annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// FromAudit builds the record of a pod create from the final stage
// (ResponseComplete or Panic) of its audit event.
func FromAudit(ev *audit.Event) (*Record, error) {
	if !ev.IsPodCreate() || !ev.IsFinal() {
		return nil, ErrNotPodCreate
	}
	r := &Record{
		AuditID:     ev.AuditID,
		AuditLevel:  ev.Level,
		Namespace:   ev.ObjectRef.Namespace,
		Name:        ev.ObjectRef.Name,
		SourceIPs:   ev.SourceIPs,
		UserAgent:   ev.UserAgent,
		Code:        int(ev.Code()),
		Decision:    ev.Decision(),
		RequestedAt: ev.RequestReceivedTimestamp,
		CompletedAt: ev.StageTimestamp,
		Sources:     []string{SourceAudit},
	}
	if c := ev.Cluster; c != nil {
		r.Cluster = Cluster{Name: c.Name, Provider: c.Provider, Account: c.Account, Region: c.Region, Zone: c.Zone, ResourceID: c.ResourceID}
	}
	r.Allowed = r.Code >= 200 && r.Code < 300
	if ev.ResponseStatus != nil && !r.Allowed {
		r.Reason = ev.ResponseStatus.Message
		if r.Reason == "" {
			r.Reason = ev.ResponseStatus.Reason
		}
	}
	if r.Decision == "" && r.Code == 403 {
		r.Decision = DecisionForbid
	}
	r.Actor = actorOf(ev)
	r.Impersonated = impersonatedOf(ev)
	r.FieldManager = fieldManager(ev.RequestURI)

	// responseObject is what was stored (after mutating admission, with the
	// generated name and uid); requestObject what was sent.
	pod, err := audit.DecodePod(ev.ResponseObject)
	if err != nil || pod == nil {
		pod, err = audit.DecodePod(ev.RequestObject)
	}
	if err != nil {
		return nil, err
	}
	if pod != nil {
		fillFromPod(r, pod)
	} else if r.Allowed {
		r.Missing = append(r.Missing, MissingPodSpec)
	}
	if r.Allowed && r.Name == "" {
		r.Missing = append(r.Missing, MissingGeneratedName)
	}
	if r.Allowed && r.UID == "" {
		r.Missing = append(r.Missing, MissingUID)
	}
	r.Channel = channelOf(r)
	r.Origin = OriginAPI
	if r.Annotations[AnnotationMirror] != "" {
		r.Origin = OriginStatic
	}
	if _, ok := r.Annotations[annotationLastApplied]; ok {
		// The whole manifest again, often kilobytes: not worth its memory.
		a := make(map[string]string, len(r.Annotations)-1)
		for k, v := range r.Annotations {
			if k != annotationLastApplied {
				a[k] = v
			}
		}
		r.Annotations = a
	}
	return r, nil
}

func fillFromPod(r *Record, p *audit.Pod) {
	m := &p.Metadata
	if m.Name != "" {
		r.Name = m.Name
	}
	if m.Namespace != "" && r.Namespace == "" {
		r.Namespace = m.Namespace
	}
	r.GenerateName = m.GenerateName
	r.UID = m.UID
	r.Labels = m.Labels
	r.Annotations = m.Annotations
	for _, o := range m.OwnerReferences {
		if o.Controller != nil && *o.Controller || r.Owner.Kind == "" {
			r.Owner = Owner{Kind: o.Kind, Name: o.Name, UID: o.UID}
		}
	}
	for _, f := range m.ManagedFields {
		if f.Manager != "" && !contains(r.Managers, f.Manager) {
			r.Managers = append(r.Managers, f.Manager)
		}
	}
	s := &p.Spec
	r.ServiceAccount = s.ServiceAccountName
	r.Node = s.NodeName
	r.HostNetwork, r.HostPID, r.HostIPC = s.HostNetwork, s.HostPID, s.HostIPC
	r.Containers = make([]Container, 0, len(s.InitContainers)+len(s.Containers)+len(s.EphemeralContainers))
	add := func(cs []audit.Container, typ string) {
		for _, c := range cs {
			priv := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
			r.Containers = append(r.Containers, Container{Name: c.Name, Image: c.Image, Type: typ, Privileged: priv})
		}
	}
	add(s.InitContainers, "init")
	add(s.Containers, "container")
	add(s.EphemeralContainers, "ephemeral")
}

func actorOf(ev *audit.Event) Actor {
	u := ev.User
	a := Actor{Username: u.Username, UID: u.UID, Groups: u.Groups}
	a.Kind, a.ServiceAccount = ClassifyUser(u.Username)
	if cp := ev.CloudPrincipal; cp != nil {
		a.CloudPrincipal, a.CloudSession = cp.ID, cp.Session
	}
	return a
}

// impersonatedOf is the identity the request impersonated, empty if none.
func impersonatedOf(ev *audit.Event) Identity {
	iu := ev.ImpersonatedUser
	if iu == nil || iu.Username == "" && len(iu.Groups) == 0 {
		return Identity{}
	}
	id := Identity{Username: iu.Username, UID: iu.UID, Groups: iu.Groups}
	if iu.Username != "" {
		id.Kind, id.ServiceAccount = ClassifyUser(iu.Username)
	}
	return id
}

// ClassifyUser returns the actor kind of a Kubernetes username and, for a
// service account, its namespace/name.
func ClassifyUser(username string) (kind, serviceAccount string) {
	switch {
	case strings.HasPrefix(username, "system:serviceaccount:"):
		sa := strings.TrimPrefix(username, "system:serviceaccount:")
		ns, name, _ := strings.Cut(sa, ":")
		if ns == "kube-system" && strings.HasSuffix(name, "-controller") {
			return ActorController, ns + "/" + name
		}
		return ActorServiceAccount, ns + "/" + name
	case strings.HasPrefix(username, "system:node:"):
		return ActorNode, ""
	case username == "system:kube-controller-manager":
		return ActorController, ""
	case strings.HasPrefix(username, "system:"):
		return ActorSystem, ""
	default:
		return ActorUser, ""
	}
}

func fieldManager(requestURI string) string {
	_, q, ok := strings.Cut(requestURI, "?")
	if !ok {
		return ""
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	return v.Get("fieldManager")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
