// SPDX-License-Identifier: Apache-2.0

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
		case m == "SyncPod received new pod, will create a sandbox for it", m == "Stopping PodSandbox for pod, will start new one":
			return p.kubeletPodEvent(r, KindSandboxRequested, dst)
		case m == "StartContainer from runtime service failed":
			ev := p.newEvent(r, SourceKubelet, KindContainerFailed)
			ev.ContainerID, _ = r.field("containerID")
			ev.Error = r.errField()
			if ev.ContainerID == "" {
				return dst
			}
			return append(dst, ev)
		case m == "Stop pulling image":
			// dockershim 1.23: image="nginx:1.2" progress="Status: Downloaded newer image for nginx:1.2"
			img, _ := r.field("image")
			prog, _ := r.field("progress")
			if k, ok := dockerPullStatus(prog); ok && img != "" {
				ev := p.newEvent(r, SourceKubelet, k)
				ev.Image = img
				return append(dst, ev)
			}
			return dst
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
	case 'R':
		if m == "Running pod with runtime handler" {
			return p.kubeletPodEvent(r, KindSandboxRequested, dst)
		}
	case '[':
		return p.kubeletRemote(r, m, dst)
	case 'B':
		switch m {
		case "Back-off restarting failed container":
			return p.kubeletBackOff(r, dst)
		case "Backing Off restarting container in pod":
			return p.kubeletContainerFailed(r, "container", "CrashLoopBackOff", "", dst)
		}
	case 'U':
		if m == "Unable to start pod because container failed" {
			return p.kubeletContainerFailed(r, "containerName", "", "container failed", dst)
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
		case m == "CreateContainer in sandbox from runtime service failed":
			ev := p.newEvent(r, SourceKubelet, KindContainerFailed)
			ev.SandboxID, _ = r.field("podSandboxID")
			ev.Error = r.errField()
			if ev.SandboxID == "" {
				return dst
			}
			return append(dst, ev)
		case m == "Container start failed in pod":
			return p.kubeletStartFailed(r, dst)
		case m == "Container exited normally":
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindContainerExited, dst)
			if len(dst) > n {
				dst[n].PodUID, _ = r.field("podUID")
				dst[n].ContainerName, _ = r.field("containerName")
				dst[n].ContainerID = runtimeID(r, "containerID")
			}
			return dst
		}
	case 'F':
		switch m {
		case "Failed to create sandbox for pod", "Failed to generate sandbox config for pod":
			return p.kubeletFailed(r, dst)
		case "Failed to execute PostStartHook":
			n := len(dst)
			dst = p.kubeletContainerFailed(r, "containerName", "PostStartHookError", "", dst)
			if len(dst) > n {
				dst[n].PodUID, _ = r.field("podUID")
				dst[n].ContainerID = runtimeID(r, "containerID")
			}
			return dst
		case "Failed to pull image":
			return p.kubeletPullFailed(r, dst)
		case "Failed to ensure image":
			// an image volume (1.31+); err is the reason (ErrImagePull, ...)
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindImagePullFailed, dst)
			if len(dst) > n {
				dst[n].Error = r.errField()
				dst[n].Image = imageIn(dst[n].Error)
				if imageReason(dst[n].Error) {
					dst[n].Reason = dst[n].Error
				}
			}
			return dst
		}
	case 'P':
		switch m {
		case "Pod was deleted and sandbox failed to be created":
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindSandboxRequested, dst)
			if len(dst) > n {
				dst[n].PodUID, _ = r.field("podUID")
				dst[n].Error = "pod was deleted and sandbox failed to be created"
			}
			return dst
		case "Pulling image without credentials", "Pulling the image without credentials":
			ev := p.newEvent(r, SourceKubelet, KindImagePullStarted)
			ev.Image, _ = r.field("image")
			if ev.Image == "" {
				return dst
			}
			return append(dst, ev)
		case "PullImage from image service failed":
			return p.kubeletPullFailed(r, dst)
		case "Pulled image":
			// an image volume (1.31+): ref is what the runtime returned
			n := len(dst)
			dst = p.kubeletPodEvent(r, KindImagePulled, dst)
			if len(dst) > n {
				ref, _ := r.field("ref")
				if strings.Contains(ref, "@sha256:") {
					dst[n].RepoDigest = ref
				} else {
					dst[n].ImageID = normImageID(ref)
				}
			}
			return dst
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
		case "GeneratePodSandboxConfig for pod failed":
			return p.kubeletFailed(r, dst)
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
		switch m {
		case "Event occurred":
			return p.kubeletStructuredEvent(r, dst)
		case "Error syncing pod, skipping":
			return p.kubeletSyncError(r, dst)
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
		dst[n].Error = r.errField()
		if dst[n].Error == "" {
			dst[n].Error = "failed"
		}
	}
	return dst
}

// errField is the record's error: klog's err="..." (ErrorS, logger.Error),
// also in JSON logs.
func (r *rec) errField() string {
	e, _ := r.field("err")
	if len(e) > 0 && (e[0] == '\t' || e[0] == ' ' || e[0] == '\n') {
		// klog's multi-line value (err=<...>), its lines joined with the
		// journal's indentation: one line, single spaces
		return strings.Join(strings.Fields(e), " ")
	}
	return e
}

// runtimeID strips the runtime prefix of a kubecontainer.ContainerID
// rendering ("containerd://<id>", "cri-o://<id>", "docker://<id>").
func runtimeID(r *rec, key string) string {
	v, _ := r.field(key)
	if i := strings.Index(v, "://"); i >= 0 {
		return v[i+3:]
	}
	return v
}

// kubeletContainerFailed emits container_failed for the record's pod and
// the container named by nameKey.
func (p *Parser) kubeletContainerFailed(r *rec, nameKey, reason, errText string, dst []Event) []Event {
	n := len(dst)
	dst = p.kubeletPodEvent(r, KindContainerFailed, dst)
	if len(dst) > n {
		ev := &dst[n]
		ev.ContainerName, _ = r.field(nameKey)
		ev.Reason = reason
		ev.Error = r.errField()
		if ev.Error == "" {
			ev.Error = errText
		}
		if ev.Error == "" {
			ev.Error = reason
		}
	}
	return dst
}

// kubeletPullFailed handles "Failed to pull image" / "PullImage from image
// service failed" image="..." err="...".
func (p *Parser) kubeletPullFailed(r *rec, dst []Event) []Event {
	ev := p.newEvent(r, SourceKubelet, KindImagePullFailed)
	ev.Image, _ = r.field("image")
	ev.Error = r.errField()
	if ev.Image == "" {
		return dst
	}
	return append(dst, ev)
}

// kubeletBackOff handles "Back-off restarting failed container"
// err="back-off 10s restarting failed container=web pod=web-0_default(<uid>)".
func (p *Parser) kubeletBackOff(r *rec, dst []Event) []Event {
	e := r.errField()
	ev := p.newEvent(r, SourceKubelet, KindContainerFailed)
	ev.Reason, ev.Error = "CrashLoopBackOff", e
	if i := strings.Index(e, " container="); i >= 0 {
		ev.ContainerName, _, _ = qtok(e, i+len(" container="))
	}
	if i := strings.Index(e, " pod="); i >= 0 {
		ref := e[i+len(" pod="):]
		if sp := strings.IndexAny(ref, " \\\""); sp >= 0 {
			ref = ref[:sp]
		}
		ev.PodNamespace, ev.PodName, ev.PodUID, _ = splitPodRef(ref)
	}
	if ev.PodName == "" {
		return dst
	}
	return append(dst, ev)
}

// imageReasons are the container waiting reasons of image pulls.
func imageReason(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ErrImageInspect",
		"RegistryUnavailable", "SignatureValidationFailed", "ErrImagePullBackOff":
		return true
	}
	return false
}

// kubeletStartFailed handles "Container start failed in pod"
// containerType=.. container="web" pod="ns/p" containerMessage=".." err="ErrImagePull".
func (p *Parser) kubeletStartFailed(r *rec, dst []Event) []Event {
	reason := r.errField()
	msg, _ := r.field("containerMessage")
	k := KindContainerFailed
	if imageReason(reason) {
		k = KindImagePullFailed
	}
	n := len(dst)
	dst = p.kubeletPodEvent(r, k, dst)
	if len(dst) > n {
		ev := &dst[n]
		ev.ContainerName, _ = r.field("container")
		ev.Reason = reason
		ev.Error = msg
		if ev.Error == "" {
			ev.Error = reason
		}
		if k == KindImagePullFailed {
			ev.Image = imageIn(msg)
		}
	}
	return dst
}

// imageIn finds the first quoted image reference after "image " in a
// message (`Back-off pulling image \"nginx:1.2\"`, `failed to pull and
// unpack image "docker.io/library/nginx:1.2"`), at any escaping level.
func imageIn(s string) string {
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], "image ")
		if i < 0 {
			return ""
		}
		j := from + i + len("image ")
		if hasPrefixAt(s, j, "tag ") {
			j += len("tag ") // Failed to apply default image tag "x"
		}
		if j < len(s) && (s[j] == '"' || s[j] == '\\') {
			if v, _, ok := qtok(s, j); ok {
				return v
			}
		}
		from = j
	}
	return ""
}

// kubeletSyncError handles the pod worker's "Error syncing pod, skipping"
// err="failed to \"StartContainer\" for \"web\" with ErrImagePull: \"...\""
// pod="ns/p" podUID=..: one event per failed step (an aggregate of several
// is "[failed to ..., failed to ...]"). CreatePodSandbox and
// ConfigPodSandbox failures are failed sandbox requests; StartContainer and
// InitContainer failures with an image reason are image_pull_failed, other
// reasons container_failed. Kill and remove failures give nothing.
func (p *Parser) kubeletSyncError(r *rec, dst []Event) []Event {
	e := r.errField()
	pod, _ := r.field("pod")
	ns, name, _, _ := podValue(pod)
	uid, _ := r.field("podUID")
	if name == "" {
		return dst
	}
	for len(e) > 0 {
		i := strings.Index(e, "failed to ")
		if i < 0 {
			break
		}
		e = e[i+len("failed to "):]
		action, j, ok := qtok(e, 0)
		if !ok || !hasPrefixAt(e, j, " for ") {
			continue
		}
		target, k, ok := qtok(e, j+len(" for "))
		if !ok || !hasPrefixAt(e, k, " with ") {
			continue
		}
		rest := e[k+len(" with "):]
		c := strings.Index(rest, ": ")
		if c <= 0 {
			continue
		}
		reason, msg := rest[:c], rest[c+2:]
		// the message runs to the next step of an aggregate
		if next := strings.Index(msg, ", failed to "); next >= 0 {
			msg, e = msg[:next], msg[next:]
		} else {
			msg, e = strings.TrimSuffix(msg, "]"), ""
		}
		msg = trimQuotes(msg)
		var kind Kind
		switch action {
		case "CreatePodSandbox", "ConfigPodSandbox":
			kind = KindSandboxRequested
		case "StartContainer", "InitContainer":
			kind = KindContainerFailed
			if imageReason(reason) {
				kind = KindImagePullFailed
			}
		default:
			continue
		}
		ev := p.newEvent(r, SourceKubelet, kind)
		ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
		ev.Reason, ev.Error = reason, msg
		if kind != KindSandboxRequested {
			ev.ContainerName = target
		}
		if kind == KindImagePullFailed {
			ev.Image = imageIn(msg)
		}
		dst = append(dst, ev)
	}
	return dst
}

// trimQuotes removes one level of surrounding quotes (of any escaping:
// "x", \"x\", \\\"x\\\") from a message inside an error text.
func trimQuotes(s string) string {
	i := 0
	for i < len(s) && s[i] == '\\' {
		i++
	}
	if i >= len(s) || s[i] != '"' || len(s) < 2*i+2 || s[len(s)-1] != '"' {
		return s
	}
	for k := len(s) - 1 - i; k < len(s)-1; k++ {
		if s[k] != '\\' {
			return s
		}
	}
	return s[i+1 : len(s)-1-i]
}

// kubeletRemote handles the CRI client's -v=10 trace of its calls
// ("[RemoteRuntimeService] RunPodSandbox Response" podSandboxID="..."): the
// responses of the lifecycle calls, and RunPodSandbox's request (its config
// names the pod). The other requests name only ids and are followed by
// their response.
func (p *Parser) kubeletRemote(r *rec, m string, dst []Event) []Event {
	const rs = "[RemoteRuntimeService] "
	if !strings.HasPrefix(m, rs) {
		return dst
	}
	var k Kind
	sb := false
	switch m[len(rs):] {
	case "RunPodSandbox":
		cfg, _ := r.field("config")
		ev := p.newEvent(r, SourceKubelet, KindSandboxRequested)
		sandboxMeta(cfg, &ev)
		if ev.PodName == "" {
			return dst
		}
		return append(dst, ev)
	case "RunPodSandbox Response":
		k, sb = KindSandboxReady, true
	case "StopPodSandbox Response":
		k, sb = KindSandboxStopped, true
	case "RemovePodSandbox Response":
		k, sb = KindSandboxRemoved, true
	case "CreateContainer":
		k = KindContainerCreated // the response carries containerID
	case "StartContainer Response":
		k = KindContainerStarted
	case "StopContainer Response":
		k = KindContainerExited
	case "RemoveContainer Response":
		k = KindContainerRemoved
	default:
		return dst
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ev.SandboxID, _ = r.field("podSandboxID")
	if !sb {
		ev.ContainerID, _ = r.field("containerID")
		if ev.ContainerID == "" {
			return dst
		}
	} else if ev.SandboxID == "" {
		return dst
	}
	return append(dst, ev)
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

// kubeletEvent maps a kubelet event reason (pkg/kubelet/events) to a
// lifecycle event; Reason keeps the reason.
func (p *Parser) kubeletEvent(r *rec, ns, name, uid, reason, msg, fieldPath string, dst []Event) []Event {
	var k Kind
	switch reason {
	case "Created":
		k = KindContainerCreated
	case "Started":
		k = KindContainerStarted
	case "Pulling":
		k = KindImagePullStarted
	case "Pulled":
		k = KindImagePulled
		if strings.Contains(msg, "already present on machine") {
			k = KindImagePresent
		}
	case "ErrImageNeverPull", "InspectFailed":
		k = KindImagePullFailed
	case "Failed":
		switch {
		case strings.HasPrefix(msg, "Failed to pull image"), strings.HasPrefix(msg, "Failed to inspect image"),
			strings.HasPrefix(msg, "Failed to apply default image tag"):
			k = KindImagePullFailed
		case strings.HasPrefix(msg, "Error: ") && imageReason(msg[len("Error: "):]):
			// "Error: ErrImagePull", "Error: ImagePullBackOff"
			k = KindImagePullFailed
		case strings.HasPrefix(msg, "error making pod data directories"):
			k = KindSandboxRequested
		default:
			k = KindContainerFailed // "Error: <runtime error>", internal hooks
		}
	case "BackOff":
		if strings.HasPrefix(msg, "Back-off pulling image") {
			k = KindImagePullFailed
		} else {
			k = KindContainerFailed // Back-off restarting failed container
		}
	case "FailedPostStartHook":
		k = KindContainerFailed
	case "FailedCreatePodSandBox", "FailedCreatePodContainer", "SandboxChanged":
		k = KindSandboxRequested
	default:
		return dst
	}
	ev := p.newEvent(r, SourceKubelet, k)
	ev.PodNamespace, ev.PodName, ev.PodUID = ns, name, uid
	ev.Reason = reason
	if b := strings.IndexByte(fieldPath, '{'); b >= 0 && strings.HasSuffix(fieldPath, "}") {
		ev.ContainerName = fieldPath[b+1 : len(fieldPath)-1]
	}
	switch k {
	case KindContainerCreated, KindContainerStarted:
		if ev.ContainerName == "" {
			// "Created container nginx" / "Created container: nginx" (before
			// 1.35; "Container created" names none: the field path does)
			if i := strings.Index(msg, " container"); i >= 0 {
				ev.ContainerName = strings.TrimLeft(msg[i+len(" container"):], ": ")
			}
		}
	case KindContainerFailed:
		ev.Error = msg
		if ev.Error == "" {
			ev.Error = reason
		}
		if ev.ContainerName == "" && reason == "BackOff" {
			// "Back-off restarting failed container web in pod web-0_default(uid)"
			if i := strings.Index(msg, "failed container "); i >= 0 {
				ev.ContainerName, _, _ = qtok(msg, i+len("failed container "))
			}
		}
	case KindSandboxRequested:
		if reason != "SandboxChanged" {
			ev.Error = msg
		}
	default:
		// "Successfully pulled image \"nginx\" in ...", "Container image
		// \"nginx\" already present on machine", "Pulling image \"nginx\"",
		// "Failed to pull image \"nginx\": ...", "Back-off pulling image ..."
		ev.Image = imageIn(msg)
		if k == KindImagePullFailed {
			ev.Error = msg
		}
		if ev.Image == "" && k != KindImagePullFailed {
			return dst
		}
	}
	return append(dst, ev)
}
