// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// owner is a workload (Deployment, ReplicaSet, ...) as the audit log showed
// it: its controlling owner and the last person, service account or
// pipeline that created it or changed its pod template.
type owner struct {
	Key    string               `json:"key"` // namespace/Kind/name
	Parent string               `json:"parent,omitempty"`
	Change *podrecord.Initiator `json:"change,omitempty"`
	seq    uint64
}

type ownerPos struct {
	key string
	seq uint64
}

// owners is a bounded map of workloads; the least recently changed is
// forgotten first.
type owners struct {
	max   int
	m     map[string]*owner
	order []ownerPos // oldest first; positions whose seq is stale are skipped
	seq   uint64
	dirty map[string]bool
	ids   shardSet
	// persistent: track dirty and ids for Persist
	persistent bool
}

func newOwners(max int, persistent bool) *owners {
	return &owners{max: max, m: map[string]*owner{}, dirty: map[string]bool{}, persistent: persistent}
}

func (o *owners) len() int { return len(o.m) }

func ownerKey(ns, kind, name string) string { return ns + "/" + kind + "/" + name }

// observe records a create, update or patch of a workload.
func (o *owners) observe(ev *audit.Event) {
	_, _, ns, name := ev.Resource()
	kind := podrecord.WorkloadKinds[ev.ObjectRef.Resource]
	obj, _ := audit.DecodeObject(ev.ResponseObject)
	// The request body is read when there is no response object, and for
	// a patch, to tell whether it touches the pod template.
	var req *audit.Object
	if obj == nil || ev.Verb == "patch" {
		req, _ = audit.DecodeObject(ev.RequestObject)
	}
	if obj == nil {
		obj = req
	}
	if name == "" && obj != nil {
		name = obj.Metadata.Name
	}
	if name == "" {
		return
	}
	key := ownerKey(ns, kind, name)
	w := o.m[key]
	if w == nil {
		w = &owner{Key: key}
		o.m[key] = w
		if o.persistent {
			o.ids.add(key)
		}
	}
	o.seq++
	w.seq = o.seq
	o.order = append(o.order, ownerPos{key, o.seq})
	if o.persistent {
		o.dirty[key] = true
	}
	if obj != nil {
		for _, ref := range obj.Metadata.OwnerReferences {
			if ref.Controller != nil && *ref.Controller {
				w.Parent = ownerKey(ns, ref.Kind, ref.Name)
			}
		}
	}
	actor := podrecord.InitiatorOf(ev, obj)
	if actor.Kind == podrecord.ActorController || actor.Kind == podrecord.ActorSystem || actor.Kind == podrecord.ActorNode {
		o.trim()
		return
	}
	// A patch that does not touch the pod template (scale, labels) does not
	// change what the pods run. Without a request body we cannot tell: count it.
	if ev.Verb == "patch" && req != nil && req.PodTemplate() == nil {
		o.trim()
		return
	}
	// Copies: the event's strings may be pieces of its whole JSON, which
	// the workload would hold for as long as it is remembered. The last
	// change's strings serve again when equal (the same actor again).
	var last podrecord.Initiator
	if w.Change != nil {
		last = *w.Change
	}
	keep := func(old, s string) string {
		if s == old {
			return old
		}
		return strings.Clone(s)
	}
	w.Change = &podrecord.Initiator{Username: keep(last.Username, actor.Username), Kind: keep(last.Kind, actor.Kind),
		Channel: keep(last.Channel, actor.Channel), Object: keep(last.Object, actor.Object), Verb: keep(last.Verb, actor.Verb), At: actor.At}
	o.trim()
}

func (o *owners) trim() {
	for len(o.m) > o.max && len(o.order) > 0 {
		p := o.order[0]
		o.order = o.order[1:]
		if w := o.m[p.key]; w != nil && w.seq == p.seq {
			delete(o.m, p.key)
			if o.persistent {
				o.ids.remove(p.key)
				o.dirty[p.key] = true
			}
		}
	}
	if len(o.order) > 2*len(o.m)+1024 {
		// Drop stale positions so that updates of the same workloads do
		// not grow order without bound.
		live := o.order[:0]
		for _, p := range o.order {
			if w := o.m[p.key]; w != nil && w.seq == p.seq {
				live = append(live, p)
			}
		}
		o.order = append([]ownerPos(nil), live...)
	}
}

// chain walks a pod's owner references up; the initiator is the change
// nearest the pod made by someone other than a controller.
func (o *owners) chain(ns, kind, name string) ([]string, *podrecord.Initiator) {
	var chain []string
	var who *podrecord.Initiator
	key := ownerKey(ns, kind, name)
	for i := 0; i < 8 && key != ""; i++ {
		_, rest, _ := cut(key)
		chain = append(chain, rest)
		w := o.m[key]
		if w == nil {
			break
		}
		if who == nil && w.Change != nil {
			c := *w.Change
			who = &c
		}
		key = w.Parent
		if key == "" {
			key = o.parentByName(ns, rest)
		}
	}
	return chain, who
}

// parentByName guesses the owner of a ReplicaSet or Job whose event did
// not carry its ownerReferences (Metadata audit level): Deployment web owns
// ReplicaSet web-796cf5c97c, CronJob report owns Job report-29919435. Only a
// workload the log showed is returned.
func (o *owners) parentByName(ns, kindName string) string {
	kind, name, _ := cut(kindName)
	parentKind := map[string]string{"ReplicaSet": "Deployment", "Job": "CronJob"}[kind]
	i := strings.LastIndex(name, "-")
	if parentKind == "" || i <= 0 {
		return ""
	}
	k := ownerKey(ns, parentKind, name[:i])
	if o.m[k] == nil {
		return ""
	}
	return k
}

// cut splits namespace/Kind/name into the namespace and Kind/name.
func cut(key string) (ns, rest string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}
