// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
)

// containerd CRI plugin records. Containerd 1.x (and 2.0) render CRI
// metadata with gogo-protobuf's String(): &PodSandboxMetadata{Name:x,Uid:y,
// Namespace:z,Attempt:0,}; builds against k8s.io/cri-api >= 0.34 (containerd
// 2.1+) use protobuf-go text: name:"x"  uid:"y"  namespace:"z" (with
// randomised double spaces). Both are read by metaVal. The same messages
// appear in logrus text, logrus TTY (containerd run in a terminal), JSON
// (format = "json") and, for the standalone cri-containerd 1.0 daemon, klog.

// containerdMsg applies containerd's rules. matched reports that the
// message is one of containerd's (for source guessing).
func (p *Parser) containerdMsg(r *rec, dst []Event) ([]Event, bool) {
	m := r.msg
	if len(m) < 8 {
		return dst, false
	}
	switch m[0] {
	case 'R':
		switch {
		case strings.HasPrefix(m, "RunPodSandbox for ") || strings.HasPrefix(m, "RunPodsandbox for "):
			return p.containerdRunSandbox(r, m[len("RunPodSandbox for "):], dst), true
		case strings.HasPrefix(m, "RunPodSandbox with config "): // cri-containerd 1.0
			return p.containerdRunSandbox(r, m[len("RunPodSandbox with config "):], dst), true
		case strings.HasPrefix(m, "RemoveContainer for "):
			return p.containerdIDReturns(r, m[len("RemoveContainer for "):], KindContainerRemoved, false, dst), true
		case strings.HasPrefix(m, "RemovePodSandbox for "):
			return p.containerdIDReturns(r, m[len("RemovePodSandbox for "):], KindSandboxRemoved, true, dst), true
		case strings.HasPrefix(m, "RemovePodSandbox "): // 1.7+: RemovePodSandbox "id" returns successfully
			return p.containerdIDReturns(r, m[len("RemovePodSandbox "):], KindSandboxRemoved, true, dst), true
		}
	case 'r':
		if strings.HasPrefix(m, "received ") {
			return p.containerdExit(r, m[len("received "):], dst)
		}
	case 'C':
		if strings.HasPrefix(m, "CreateContainer within sandbox ") {
			return p.containerdCreate(r, m[len("CreateContainer within sandbox "):], dst), true
		}
		if strings.HasPrefix(m, "Container to stop ") || strings.HasPrefix(m, "Container ") && strings.Contains(m, ": CDI devices") {
			return dst, true
		}
	case 'S':
		switch {
		case strings.HasPrefix(m, "StartContainer for "):
			return p.containerdIDReturns(r, m[len("StartContainer for "):], KindContainerStarted, false, dst), true
		case strings.HasPrefix(m, "SandboxExit event "):
			// 1.7+: SandboxExit event sandbox_id:"<id>" exit_status:137 exited_at:{...}
			id, ok := metaVal(m, "SandboxID:", "sandbox_id:")
			if !ok || id == "" {
				return dst, true
			}
			ev := p.newEvent(r, SourceContainerd, KindSandboxStopped)
			ev.SandboxID = id
			return append(dst, ev), true
		case strings.HasPrefix(m, "StopContainer for "):
			return p.containerdIDReturns(r, m[len("StopContainer for "):], KindContainerExited, false, dst), true
		case strings.HasPrefix(m, "StopPodSandbox for "):
			return p.containerdIDReturns(r, m[len("StopPodSandbox for "):], KindSandboxStopped, true, dst), true
		case strings.HasPrefix(m, "Stop container "), strings.HasPrefix(m, "Sandbox config "), strings.HasPrefix(m, "Sandbox container "):
			return dst, true
		}
	case 'P':
		switch {
		case strings.HasPrefix(m, "PullImage "):
			return p.containerdPullImage(r, m[len("PullImage "):], dst), true
		case strings.HasPrefix(m, "Pulled image "):
			return p.containerdPulled(r, m[len("Pulled image "):], dst), true
		}
	case 'T':
		switch {
		case strings.HasPrefix(m, "TaskExit event in podsandbox handler "):
			return p.containerdTaskExit(r, m[len("TaskExit event in podsandbox handler "):], true, dst), true
		case strings.HasPrefix(m, "TaskExit event "):
			return p.containerdTaskExit(r, m[len("TaskExit event "):], false, dst), true
		case strings.HasPrefix(m, "TaskOOM event "):
			// 1.6 &TaskOOM{ContainerID:<id>,...}, 1.7+ container_id:"<id>"
			id, ok := metaVal(m, "ContainerID:", "container_id:")
			if !ok || id == "" {
				return dst, true
			}
			ev := p.newEvent(r, SourceContainerd, KindContainerFailed)
			ev.ContainerID, ev.Reason, ev.Error = id, "OOMKilled", "out of memory"
			return append(dst, ev), true
		case strings.HasPrefix(m, "TearDown network for sandbox "):
			return dst, true
		}
	case 'I':
		if strings.HasPrefix(m, "ImageCreate event ") {
			return p.containerdImageCreate(r, m[len("ImageCreate event "):], dst), true
		}
		if strings.HasPrefix(m, "ImageUpdate event ") || strings.HasPrefix(m, "ImageDelete event ") {
			return dst, true
		}
	case 'G':
		if strings.HasPrefix(m, "Generated id ") || strings.HasPrefix(m, "Got pod network ") {
			return dst, true
		}
	case 'F':
		if strings.HasPrefix(m, "Forcibly stopping sandbox ") {
			return dst, true
		}
	case 's':
		switch {
		case m == "starting containerd":
			if v, ok := r.field("version"); ok {
				p.setVersion(SourceContainerd, v)
			}
			return dst, true
		case strings.HasPrefix(m, "shim disconnected"), strings.HasPrefix(m, "starting signal loop"),
			strings.HasPrefix(m, "shim reaped"):
			// "shim reaped" is also dockerd's; only count it as containerd's
			// when the namespace says so.
			ns, _ := r.field("namespace")
			return dst, ns == "k8s.io" || m != "shim reaped"
		}
	case 'l':
		if strings.HasPrefix(m, "loading plugin ") {
			return dst, true
		}
	case 'c':
		if strings.HasPrefix(m, "cancel pulling image ") {
			// 1.7+: cancel pulling image <ref> because of no progress in 1m0s
			rest := m[len("cancel pulling image "):]
			sp := strings.IndexByte(rest, ' ')
			if sp <= 0 {
				return dst, true
			}
			ev := p.newEvent(r, SourceContainerd, KindImagePullFailed)
			ev.Image, ev.Error = rest[:sp], strings.TrimPrefix(rest[sp+1:], "because of ")
			return append(dst, ev), true
		}
		if strings.HasPrefix(m, "cleaning up after shim disconnected") || strings.HasPrefix(m, "cleanup warnings ") {
			ns, _ := r.field("namespace")
			return dst, ns == "k8s.io" || strings.Contains(m, "namespace=k8s.io")
		}
	}
	return dst, false
}

// containerdRunSandbox handles "RunPodSandbox for <meta>", "... returns
// sandbox id \"<id>\"" and "... failed, error".
func (p *Parser) containerdRunSandbox(r *rec, rest string, dst []Event) []Event {
	ev := p.newEvent(r, SourceContainerd, KindSandboxRequested)
	meta := rest
	if j := strings.Index(rest, " returns sandbox id "); j >= 0 {
		id, _, ok := qtok(rest, j+len(" returns sandbox id "))
		if !ok {
			return dst
		}
		ev.Kind, ev.SandboxID = KindSandboxReady, id
		meta = rest[:j]
	} else if j := strings.Index(rest, " failed"); j >= 0 && (j == len(rest)-len(" failed") || hasPrefixAt(rest, j, " failed,") || hasPrefixAt(rest, j, " failed:")) {
		// Metadata values hold no spaces, so the first " failed" ends them.
		meta = rest[:j]
		if e, ok := r.field("error"); ok && e != "" {
			ev.Error = e
		} else if e := afterColon(rest[j:], "failed"); e != "" {
			ev.Error = e
		} else {
			ev.Error = "failed"
		}
	}
	sandboxMeta(meta, &ev)
	if ev.PodName == "" && ev.PodUID == "" {
		return dst
	}
	return append(dst, ev)
}

// containerdCreate handles "CreateContainer within sandbox \"<sb>\" for
// container <meta>" (request) and "... for <meta> returns container id
// \"<id>\"".
func (p *Parser) containerdCreate(r *rec, rest string, dst []Event) []Event {
	sb, i, ok := qtok(rest, 0)
	if !ok {
		return dst
	}
	rest = rest[i:]
	j := strings.Index(rest, " returns container id ")
	if j < 0 {
		// the request "for container <meta>", or "for <meta> failed"
		f := strings.LastIndex(rest, " failed")
		if f < 0 || strings.HasPrefix(rest, " for container ") {
			return dst
		}
		ev := p.newEvent(r, SourceContainerd, KindContainerFailed)
		ev.SandboxID = sb
		containerMeta(rest[:f], &ev)
		ev.Error = failText(r, rest[f:])
		return append(dst, ev)
	}
	id, _, ok := qtok(rest, j+len(" returns container id "))
	if !ok {
		return dst
	}
	ev := p.newEvent(r, SourceContainerd, KindContainerCreated)
	ev.SandboxID, ev.ContainerID = sb, id
	containerMeta(rest[:j], &ev)
	return append(dst, ev)
}

// failText is a containerd failure's text: the error= field of
// log.G(ctx).WithError(err), else what follows "failed" in the message.
func failText(r *rec, tail string) string {
	if e, ok := r.field("error"); ok && e != "" {
		return e
	}
	if e := afterColon(tail, "failed"); e != "" {
		return e
	}
	return "failed"
}

// containerdIDReturns handles `<Op> for "<id>" returns successfully` (and
// its request form, which carries no event; of the failures, only a failed
// StartContainer is an event: stop and remove failures leave things as
// they were).
func (p *Parser) containerdIDReturns(r *rec, rest string, k Kind, sandbox bool, dst []Event) []Event {
	id, i, ok := qtok(rest, 0)
	if ok && k == KindContainerStarted && hasPrefixAt(rest, i, " failed") {
		ev := p.newEvent(r, SourceContainerd, KindContainerFailed)
		ev.ContainerID = id
		ev.Error = failText(r, rest[i:])
		return append(dst, ev)
	}
	if !ok || !hasPrefixAt(rest, i, " returns successfully") {
		return dst
	}
	ev := p.newEvent(r, SourceContainerd, k)
	if sandbox {
		ev.SandboxID = id
	} else {
		ev.ContainerID = id
	}
	return append(dst, ev)
}

// containerdPullImage handles `PullImage "<ref>" returns image reference "<id>"`.
func (p *Parser) containerdPullImage(r *rec, rest string, dst []Event) []Event {
	ref, i, ok := qtok(rest, 0)
	if ok && i == len(rest) {
		// The request: remember which reference is being pulled, for the
		// ImageCreate of its repo digest (containerd 1.6 logs no "Pulled
		// image ... repo digest").
		p.pulls[p.pullNext%len(p.pulls)] = pullEntry{id: "containerd:" + repository(ref), image: strings.Clone(ref)}
		p.pullNext++
		ev := p.newEvent(r, SourceContainerd, KindImagePullStarted)
		ev.Image = ref
		return append(dst, ev)
	}
	if ok && hasPrefixAt(rest, i, " failed") {
		ev := p.newEvent(r, SourceContainerd, KindImagePullFailed)
		ev.Image = ref
		ev.Error = failText(r, rest[i:])
		return append(dst, ev)
	}
	if !ok || !hasPrefixAt(rest, i, " returns image reference ") {
		return dst
	}
	id, _, ok := qtok(rest, i+len(" returns image reference "))
	if !ok {
		return dst
	}
	ev := p.newEvent(r, SourceContainerd, KindImagePulled)
	ev.Image = ref
	if strings.Contains(id, "@sha256:") {
		ev.RepoDigest = id
	} else {
		ev.ImageID = normImageID(id)
	}
	return append(dst, ev)
}

// containerdImageCreate handles the image store's events
// `ImageCreate event &ImageCreate{Name:<name>,Labels:...}` (1.6) and
// `ImageCreate event name:"<name>" labels:...` (1.7+). When <name> is the
// repo digest of a reference being pulled, that pull is an image_pulled
// event with the digest.
func (p *Parser) containerdImageCreate(r *rec, rest string, dst []Event) []Event {
	var name string
	switch {
	case strings.HasPrefix(rest, "&ImageCreate{Name:"):
		name = rest[len("&ImageCreate{Name:"):]
		if e := strings.IndexAny(name, ",}"); e >= 0 {
			name = name[:e]
		}
	case strings.HasPrefix(rest, "name:"):
		n, _, ok := qtok(rest, len("name:"))
		if !ok {
			return dst
		}
		name = n
	default:
		return dst
	}
	at := strings.Index(name, "@sha256:")
	if at <= 0 {
		return dst
	}
	key := "containerd:" + repository(name[:at])
	for i := range p.pulls {
		if p.pulls[i].id == key {
			ev := p.newEvent(r, SourceContainerd, KindImagePulled)
			ev.Image, ev.RepoDigest = p.pulls[i].image, strings.Clone(name)
			p.pulls[i] = pullEntry{}
			return append(dst, ev)
		}
	}
	return dst
}

// repository is an image reference's repository as containerd names it:
// without tag or digest, docker.io/library/ added to bare Docker Hub names.
func repository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	first, _, hasSlash := strings.Cut(ref, "/")
	switch {
	case !hasSlash:
		return "docker.io/library/" + ref
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		return "docker.io/" + ref
	}
	return ref
}

// containerdPulled handles `Pulled image "<ref>" with image id "<id>", repo
// tag "<tag>", repo digest "<digest>", size "<n>" in <d>`.
func (p *Parser) containerdPulled(r *rec, rest string, dst []Event) []Event {
	ref, i, ok := qtok(rest, 0)
	if !ok {
		return dst
	}
	ev := p.newEvent(r, SourceContainerd, KindImagePulled)
	ev.Image = ref
	rest = rest[i:]
	if j := strings.Index(rest, "image id "); j >= 0 {
		ev.ImageID, _, _ = qtok(rest, j+len("image id "))
		ev.ImageID = normImageID(ev.ImageID)
	}
	if j := strings.Index(rest, "repo digest "); j >= 0 {
		ev.RepoDigest, _, _ = qtok(rest, j+len("repo digest "))
	}
	return append(dst, ev)
}

// containerdTaskExit handles "TaskExit event &TaskExit{ContainerID:x,ID:y,...}"
// (1.x) and `container_id:"x" id:"y" ...` (protobuf text). An exit whose ID
// differs from its ContainerID is an exec'd process, not the container.
func (p *Parser) containerdTaskExit(r *rec, rest string, sandbox bool, dst []Event) []Event {
	cid, ok := metaVal(rest, "ContainerID:", "container_id:")
	if !ok || cid == "" {
		return dst
	}
	if id, ok := metaVal(rest, "ID:", "id:"); ok && id != cid {
		return dst
	}
	if sandbox {
		ev := p.newEvent(r, SourceContainerd, KindSandboxStopped)
		ev.SandboxID = cid
		return append(dst, ev)
	}
	ev := p.newEvent(r, SourceContainerd, KindContainerExited)
	ev.ContainerID = cid
	return append(dst, ev)
}

// containerdExit handles the 2.x "received ... exit event" messages.
func (p *Parser) containerdExit(r *rec, rest string, dst []Event) ([]Event, bool) {
	switch {
	case strings.HasPrefix(rest, "sandbox container exit event "):
		id, ok := metaVal(rest, "SandboxID:", "sandbox_id:")
		if !ok || id == "" {
			return dst, true
		}
		ev := p.newEvent(r, SourceContainerd, KindSandboxStopped)
		ev.SandboxID = id
		return append(dst, ev), true
	case strings.HasPrefix(rest, "sandbox exit event "):
		return p.containerdTaskExit(r, rest[len("sandbox exit event "):], true, dst), true
	case strings.HasPrefix(rest, "container exit event "):
		return p.containerdTaskExit(r, rest[len("container exit event "):], false, dst), true
	case strings.HasPrefix(rest, "exit event "):
		return p.containerdTaskExit(r, rest[len("exit event "):], false, dst), true
	}
	return dst, false
}
