package noderuntime

import (
	"strings"
)

// Kubelet records (klog text, and klog JSON with --logging-format=json).
//
// Structured logging (k8s >= 1.21) quotes the message and references pods as
// pod="ns/name"; older releases print unstructured messages with pods as
// "name_ns(uid)". Both are handled.

func (p *Parser) kubeletMsg(r *rec, dst []Event) []Event {
	m := r.msg
	if len(m) < 8 {
		return dst
	}
	if r.msgOnly {
		return p.kubeletUnstructured(r, m, dst)
	}
	switch m[0] {
	case 'S':
		switch {
		case m == "SyncLoop ADD":
			src, _ := r.field("source")
			pods, _ := r.field("pods")
			return p.kubeletPodList(r, src, pods, dst)
		case m == "SyncLoop (PLEG): event for pod":
			pod, _ := r.field("pod")
			e, _ := r.field("event")
			if strings.HasPrefix(e, "&{") {
				// k8s 1.21-1.26: event=&{ID:<uid> Type:ContainerStarted Data:<id>}
				id, _ := metaVal(e, "ID:", "ID:")
				typ, _ := metaVal(e, "Type:", "Type:")
				data, _ := metaVal(e, "Data:", "Data:")
				return p.kubeletPLEG(r, pod, id, typ, data, dst)
			}
			return p.kubeletPLEG(r, pod, jsonString(e, "ID"), jsonString(e, "Type"), jsonString(e, "Data"), dst)
		}
	case 'N':
		// "No ready sandbox for pod can be found. Need to start a new one" is
		// logged on every pod teardown too (the sandbox is gone, nothing is
		// started): it is not read as a request; the runtime's RunPodSandbox
		// record shows a re-created sandbox.
		if strings.HasPrefix(m, "No sandbox for pod can be found") {
			return p.kubeletPodEvent(r, KindSandboxRequested, dst)
		}
	case 'C':
		switch {
		case m == "Creating PodSandbox for pod":
			return p.kubeletPodEvent(r, KindSandboxRequested, dst)
		case m == "Created PodSandbox for pod":
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindSandboxReady, dst)
			if len(dst) > n {
				dst[n].SandboxID, _ = r.field("podSandboxID")
			}
			return dst
		case m == "Creating a mirror pod for static pod":
			return p.kubeletPodEvent(r, KindStaticPodSeen, dst)
		case m == "CreatePodSandbox for pod failed":
			return p.kubeletFailed(r, dst)
		}
	case 'F':
		if m == "Failed to create sandbox for pod" {
			return p.kubeletFailed(r, dst)
		}
	case 'T':
		switch m {
		case "Topology Admit Handler":
			name, _ := r.field("podName")
			ns, _ := r.field("podNamespace")
			if name == "" {
				return dst // pre-1.22 form without pod fields
			}
			ev := p.newEvent(r, SourceKubelet, KindPodAdmitted)
			ev.PodName, ev.PodNamespace = name, ns
			ev.PodUID, _ = r.field("podUID")
			return append(dst, ev)
		case "Topology manager admission check":
			return p.kubeletPodEvent(r, KindPodAdmitted, dst)
		}
	case 'G':
		switch m {
		case "Generic (PLEG): container finished":
			ev := p.newEvent(r, SourceKubelet, KindContainerExited)
			ev.PodUID, _ = r.field("podID")
			ev.ContainerID, _ = r.field("containerID")
			if ev.ContainerID == "" {
				return dst
			}
			return append(dst, ev)
		case "Generated pod name":
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindStaticPodSeen, dst)
			if len(dst) > n {
				dst[n].PodUID, _ = r.field("podUID")
				src, _ := r.field("source")
				dst[n].PodSource = configSource(src)
			}
			return dst
		}
	case 'E':
		if m == "Event occurred" {
			return p.kubeletStructuredEvent(r, dst)
		}
	case 'K':
		if m == "Kubelet version" {
			if v, ok := r.field("kubeletVersion"); ok {
				p.setVersion(SourceKubelet, v)
			}
		}
	}
	return dst
}

// configSource maps the kubelet's "source" of a static pod (a path or URL)
// to the config source name.
func configSource(s string) string {
	switch {
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return "http"
	case strings.HasPrefix(s, "/"):
		return "file"
	}
	return s
}

// podValue parses a pod reference value: "ns/name", "name_ns(uid)" or, in
// JSON logs, {"name":"x","namespace":"y"}.
func podValue(v string) (ns, name, uid string, ok bool) {
	if len(v) > 0 && v[0] == '{' {
		name, ns = jsonString(v, "name"), jsonString(v, "namespace")
		return ns, name, "", name != ""
	}
	return splitPodRef(v)
}

// kubeletPodEvent emits kind for the record's pod="..." field.
func (p *Parser) kubeletPodEvent(r *rec, k Kind, dst []Event) []Event {
	v, _ := r.field("pod")
	ns, name, uid, ok := podValue(v)
	if !ok {
		return dst
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
	if k == KindPodAdmitted || k == KindStaticPodSeen {
		if u, ok := r.field("podUID"); ok && ev.PodUID == "" {
			ev.PodUID = u
		}
	}
	return append(dst, ev)
}

func (p *Parser) kubeletFailed(r *rec, dst []Event) []Event {
	n := len(dst)
	dst = p.kubeletPodEvent(r, KindSandboxRequested, dst)
	if len(dst) > n {
		dst[n].Error, _ = r.field("err")
		if dst[n].Error == "" {
			dst[n].Error = "failed"
		}
	}
	return dst
}

// podListSource returns the kind for a pod arriving from a config source.
func podListKind(src string) Kind {
	if src == "file" || src == "http" {
		return KindStaticPodSeen
	}
	return KindPodAdmitted
}

// kubeletPodList emits one event per pod of a SyncLoop ADD pods=[...] list:
// ["ns/a","ns/b"] (klog >= 2.80 KObjSlice), [ns/a ns/b] (older KObjs) or,
// in JSON logs, [{"name":..,"namespace":..}].
func (p *Parser) kubeletPodList(r *rec, src, list string, dst []Event) []Event {
	if len(list) < 2 || list[0] != '[' {
		return dst
	}
	k := podListKind(src)
	s := list[1:]
	if s[len(s)-1] == ']' {
		s = s[:len(s)-1]
	}
	for len(s) > 0 {
		var item string
		switch s[0] {
		case ' ', ',':
			s = s[1:]
			continue
		case '{':
			item, _ = scanBalanced(s, 0)
			s = s[len(item):]
		default:
			e := strings.IndexAny(s, ", ")
			if s[0] == '"' || s[0] == '\\' {
				v, end, ok := qtok(s, 0)
				if !ok {
					return dst
				}
				item, s = v, s[end:]
				break
			}
			if e < 0 {
				e = len(s)
			}
			item, s = s[:e], s[e:]
		}
		ns, name, uid, ok := podValue(item)
		if !ok {
			continue
		}
		ev := p.newEvent(r, SourceKubelet, k)
		ev.PodNamespace, ev.PodName, ev.PodUID, ev.PodSource = ns, name, uid, src
		dst = append(dst, ev)
	}
	return dst
}

// kubeletPLEG maps a pod lifecycle event (PLEG) to an event.
func (p *Parser) kubeletPLEG(r *rec, pod, id, typ, data string, dst []Event) []Event {
	var k Kind
	switch typ {
	case "ContainerStarted":
		k = KindContainerStarted
	case "ContainerDied":
		k = KindContainerExited
	case "ContainerRemoved":
		k = KindContainerRemoved
	default:
		return dst // ContainerChanged, PodSync
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ns, name, uid, _ := podValue(pod)
	ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
	if ev.PodUID == "" {
		ev.PodUID = id
	}
	ev.ContainerID = data
	if ev.ContainerID == "" {
		return dst
	}
	return append(dst, ev)
}

// kubeletUnstructured handles pre-structured-logging messages.
func (p *Parser) kubeletUnstructured(r *rec, m string, dst []Event) []Event {
	switch m[0] {
	case 'S':
		switch {
		case strings.HasPrefix(m, "SyncLoop (ADD, "):
			// SyncLoop (ADD, "api"): "a_ns(uid), b_ns(uid)"
			src, i, ok := qtok(m, len("SyncLoop (ADD, "))
			if !ok || !hasPrefixAt(m, i, "): ") {
				return dst
			}
			list, _ := scanQuotedAny(m, i+3)
			k := podListKind(src)
			for len(list) > 0 {
				e := strings.Index(list, ", ")
				item := list
				if e >= 0 {
					item, list = list[:e], list[e+2:]
				} else {
					list = ""
				}
				ns, name, uid, ok := splitPodRef(item)
				if !ok {
					continue
				}
				ev := p.newEvent(r, SourceKubelet, k)
				ev.PodNamespace, ev.PodName, ev.PodUID, ev.PodSource = ns, name, uid, src
				dst = append(dst, ev)
			}
			return dst
		case strings.HasPrefix(m, "SyncLoop (PLEG): "):
			// SyncLoop (PLEG): "pod_ns(uid)", event: &pleg.PodLifecycleEvent{ID:"..", Type:"..", Data:".."}
			pod, i, ok := qtok(m, len("SyncLoop (PLEG): "))
			if !ok {
				return dst
			}
			rest := m[i:]
			id, _ := metaVal(rest, "ID:", "ID:")
			typ, _ := metaVal(rest, "Type:", "Type:")
			data, _ := metaVal(rest, "Data:", "Data:")
			return p.kubeletPLEG(r, pod, id, typ, data, dst)
		case strings.HasPrefix(m, "Stop pulling image "):
			return p.dockerPullDone(r, SourceKubelet, m[len("Stop pulling image "):], dst)
		}
	case 'N':
		if strings.HasPrefix(m, "No sandbox for pod ") {
			return p.kubeletOldPod(r, KindSandboxRequested, m, len("No sandbox for pod "), " can be found", dst)
		}
	case 'C':
		switch {
		case strings.HasPrefix(m, "Creating sandbox for pod "):
			return p.kubeletOldPod(r, KindSandboxRequested, m, len("Creating sandbox for pod "), "", dst)
		case strings.HasPrefix(m, "Creating PodSandbox for pod "):
			return p.kubeletOldPod(r, KindSandboxRequested, m, len("Creating PodSandbox for pod "), "", dst)
		case strings.HasPrefix(m, "Created PodSandbox "):
			// Created PodSandbox "id" for pod "pod_ns(uid)"
			id, i, ok := qtok(m, len("Created PodSandbox "))
			if !ok || !hasPrefixAt(m, i, " for pod ") {
				return dst
			}
			n := len(dst)
			dst = p.kubeletOldPod(r, KindSandboxReady, m, i+len(" for pod "), "", dst)
			if len(dst) > n {
				dst[n].SandboxID = id
			}
			return dst
		case strings.HasPrefix(m, "Creating a mirror pod for static pod "):
			return p.kubeletOldPod(r, KindStaticPodSeen, m, len("Creating a mirror pod for static pod "), "", dst)
		case strings.HasPrefix(m, "CreatePodSandbox for pod "):
			// CreatePodSandbox for pod "pod_ns(uid)" failed: <err>
			n := len(dst)
			dst = p.kubeletOldPod(r, KindSandboxRequested, m, len("CreatePodSandbox for pod "), " failed", dst)
			if len(dst) > n {
				dst[n].Error = afterColon(m, "failed")
			}
			return dst
		}
	case 'F':
		if strings.HasPrefix(m, "Failed to create sandbox for pod ") {
			n := len(dst)
			dst = p.kubeletOldPod(r, KindSandboxRequested, m, len("Failed to create sandbox for pod "), "", dst)
			if len(dst) > n {
				dst[n].Error = afterColon(m, "for pod ")
			}
			return dst
		}
	case 'E':
		if strings.HasPrefix(m, "Event(v1.ObjectReference{") {
			return p.kubeletOldEvent(r, m, dst)
		}
	case 'V':
		if strings.HasPrefix(m, "Version: v") && strings.HasPrefix(r.klogFile, "server.go") {
			p.setVersion(SourceKubelet, m[len("Version: "):])
		}
	}
	return dst
}

// afterColon returns the text after the first ": " that follows marker.
func afterColon(m, marker string) string {
	i := strings.Index(m, marker)
	if i < 0 {
		return ""
	}
	j := strings.Index(m[i:], ": ")
	if j < 0 {
		return "failed"
	}
	return m[i+j+2:]
}

// scanQuotedAny reads a string quoted with any escaping level at s[i]; its
// content may contain spaces (unlike qtok's tokens).
func scanQuotedAny(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] == '\\' {
		j++
	}
	if j >= len(s) || s[j] != '"' {
		return "", i
	}
	esc := j - i
	k := j + 1
	for k < len(s) {
		if s[k] == '"' && k-esc >= 0 && strings.Count(s[k-esc:k], `\`) == esc {
			return s[j+1 : k-esc], k + 1
		}
		k++
	}
	return s[j+1:], len(s)
}

// kubeletOldPod emits kind for a quoted "name_ns(uid)" at m[i:], which must
// be followed by suffix (when not empty).
func (p *Parser) kubeletOldPod(r *rec, k Kind, m string, i int, suffix string, dst []Event) []Event {
	ref, end := scanQuotedAny(m, i)
	if ref == "" || (suffix != "" && !hasPrefixAt(m, end, suffix)) {
		return dst
	}
	ns, name, uid, ok := splitPodRef(ref)
	if !ok {
		return dst
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
	return append(dst, ev)
}

// kubeletStructuredEvent handles "Event occurred" (the kubelet's event
// recorder logging at -v=3): object="ns/name" kind="Pod" reason=... message=...
func (p *Parser) kubeletStructuredEvent(r *rec, dst []Event) []Event {
	if k, _ := r.field("kind"); k != "Pod" {
		return dst
	}
	obj, _ := r.field("object")
	ns, name, _, ok := podValue(obj)
	if !ok {
		return dst
	}
	reason, _ := r.field("reason")
	msg, _ := r.field("message")
	fp, _ := r.field("fieldPath")
	return p.kubeletEvent(r, ns, name, "", reason, msg, fp, dst)
}

// kubeletOldEvent handles the pre-1.20 event log form:
// Event(v1.ObjectReference{Kind:"Pod", Namespace:"ns", Name:"n", UID:"u", ..., FieldPath:"spec.containers{c}"}): type: 'Normal' reason: 'Created' Created container c
func (p *Parser) kubeletOldEvent(r *rec, m string, dst []Event) []Event {
	end := strings.Index(m, "}): type: ")
	if end < 0 {
		return dst
	}
	ref := m[:end+1]
	if kind, _ := metaVal(ref, "Kind:", "Kind:"); kind != "Pod" {
		return dst
	}
	ns, _ := metaVal(ref, "Namespace:", "Namespace:")
	name, _ := metaVal(ref, "Name:", "Name:")
	uid, _ := metaVal(ref, "UID:", "UID:")
	fp, _ := metaVal(ref, "FieldPath:", "FieldPath:")
	rest := m[end:]
	i := strings.Index(rest, " reason: '")
	if i < 0 {
		return dst
	}
	rest = rest[i+len(" reason: '"):]
	j := strings.IndexByte(rest, '\'')
	if j < 0 {
		return dst
	}
	reason, msg := rest[:j], strings.TrimPrefix(rest[j+1:], " ")
	return p.kubeletEvent(r, ns, name, uid, reason, msg, fp, dst)
}

// kubeletEvent maps a kubelet event reason to a lifecycle event.
func (p *Parser) kubeletEvent(r *rec, ns, name, uid, reason, msg, fieldPath string, dst []Event) []Event {
	var k Kind
	switch reason {
	case "Created":
		k = KindContainerCreated
	case "Started":
		k = KindContainerStarted
	case "Pulled":
		k = KindImagePulled
		if strings.Contains(msg, "already present on machine") {
			k = KindImagePresent
		}
	default:
		return dst
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
	if b := strings.IndexByte(fieldPath, '{'); b >= 0 && strings.HasSuffix(fieldPath, "}") {
		ev.ContainerName = fieldPath[b+1 : len(fieldPath)-1]
	}
	switch k {
	case KindContainerCreated, KindContainerStarted:
		if ev.ContainerName == "" {
			// "Created container nginx" / "Created container: nginx"
			if i := strings.Index(msg, " container"); i >= 0 {
				ev.ContainerName = strings.TrimLeft(msg[i+len(" container"):], ": ")
			}
		}
	default:
		// "Successfully pulled image \"nginx\" in ..." / "Container image \"nginx\" already present on machine"
		if i := strings.Index(msg, "image "); i >= 0 {
			ev.Image, _, _ = qtok(msg, i+len("image "))
		}
		if ev.Image == "" {
			return dst
		}
	}
	return append(dst, ev)
}
