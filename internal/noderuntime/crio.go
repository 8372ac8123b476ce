// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
)

// CRI-O records: logrus text (time="2019-12-11 20:59:16.838Z", RFC 3339, or
// "2022-05-05 06:58:46.89+02:00") or TTY (INFO[...]) with id=<request uuid>
// and name=/runtime.v1[alpha2].RuntimeService/<Method> fields. Containers
// are described as "ns/pod/ctr" ("ns/pod/POD" for the infra container).

func (p *Parser) crioMsg(r *rec, dst []Event) ([]Event, bool) {
	m := r.msg
	if len(m) < 8 {
		return dst, false
	}
	switch m[0] {
	case 'R':
		switch {
		case strings.HasPrefix(m, "Running pod sandbox: "):
			desc := m[len("Running pod sandbox: "):]
			ns, pod, _ := splitDescription(desc)
			if pod == "" {
				return dst, true
			}
			p.crioRemember(r, desc)
			ev := p.crioEvent(r, KindSandboxRequested)
			ev.PodNamespace, ev.PodName = ns, pod
			return append(dst, ev), true
		case strings.HasPrefix(m, "Ran pod sandbox "):
			// Ran pod sandbox <id> with infra container: ns/pod/POD
			rest := m[len("Ran pod sandbox "):]
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 || !isHexID(rest[:sp]) {
				return dst, true
			}
			ev := p.crioEvent(r, KindSandboxReady)
			ev.SandboxID = rest[:sp]
			if c := strings.Index(rest, ": "); c >= 0 {
				ev.PodNamespace, ev.PodName, _ = splitDescription(rest[c+2:])
			}
			return append(dst, ev), true
		case strings.HasPrefix(m, "Removed container "):
			return p.crioIDDesc(r, KindContainerRemoved, m[len("Removed container "):], dst), true
		case strings.HasPrefix(m, "Removed pod sandbox"), strings.HasPrefix(m, "removed pod sandbox"):
			return p.crioSandbox(r, KindSandboxRemoved, m[len("Removed pod sandbox"):], dst), true
		case strings.HasPrefix(m, "Resolving "), strings.HasPrefix(m, "Removing "):
			return dst, true
		case strings.HasPrefix(m, "Request: "):
			return p.crioRequest(r, m[len("Request: "):], dst), true
		case strings.HasPrefix(m, "Response error: "):
			return p.crioResponseError(r, m[len("Response error: "):], dst), true
		case strings.HasPrefix(m, "Response: "):
			return p.crioResponse(r, m[len("Response: "):], dst), true
		}
	case 'C':
		switch {
		case strings.HasPrefix(m, "Created container "):
			return p.crioIDDesc(r, KindContainerCreated, m[len("Created container "):], dst), true
		case strings.HasPrefix(m, "Creating container: "):
			p.crioRemember(r, m[len("Creating container: "):])
			return dst, true
		case strings.HasPrefix(m, "Container creation error: "), m == "Container creation failed", strings.HasPrefix(m, "Container creation timeout"):
			// the OCI runtime's (conmon's) failure, in the request's context
			return p.crioFailed(r, strings.TrimPrefix(m, "Container creation error: "), dst), true
		case strings.HasPrefix(m, "Checking image status: "),
			strings.HasPrefix(m, "Checking CNI network "), strings.HasPrefix(m, "CNI setup result"):
			return dst, true
		}
	case 'S':
		switch {
		case strings.HasPrefix(m, "Started container"):
			return p.crioStarted(r, m[len("Started container"):], dst), true
		case strings.HasPrefix(m, "Stopped container "):
			return p.crioIDDesc(r, KindContainerExited, m[len("Stopped container "):], dst), true
		case strings.HasPrefix(m, "Stopped pod sandbox"):
			return p.crioSandbox(r, KindSandboxStopped, m[len("Stopped pod sandbox"):], dst), true
		case strings.HasPrefix(m, "Starting CRI-O, version: "):
			v := m[len("Starting CRI-O, version: "):]
			if c := strings.IndexByte(v, ','); c >= 0 {
				v = v[:c]
			}
			p.setVersion(SourceCRIO, v)
			return dst, true
		case strings.HasPrefix(m, "Setting stage for resource "):
			// "Setting stage for resource k8s_<pod>_<ns>_<uid>_<attempt> from
			// sandbox network creation to ..." is logged while a
			// RunPodSandbox is in progress (debug level).
			name := m[len("Setting stage for resource "):]
			if sp := strings.IndexByte(name, ' '); sp >= 0 {
				name = name[:sp]
			}
			kn, ok := ParseKubeName(name)
			if !ok || !kn.Sandbox {
				return dst, true
			}
			ev := p.crioEvent(r, KindSandboxRequested)
			ev.PodName, ev.PodNamespace, ev.PodUID, ev.Attempt = kn.PodName, kn.PodNamespace, kn.PodUID, kn.Attempt
			return append(dst, ev), true
		case strings.HasPrefix(m, "Starting container: "):
			// the request: a failure of its id names this container
			id := m[len("Starting container: "):]
			if isHexID(id) {
				p.crioRemember(r, id)
			}
			return dst, true
		case strings.HasPrefix(m, "Successfully pulled image "):
			// debug: the pause image CRI-O pulls itself
			ev := p.crioEvent(r, KindImagePulled)
			ev.Image, _, _ = qtok(m, len("Successfully pulled image "))
			if ev.Image == "" {
				return dst, true
			}
			return append(dst, ev), true
		case strings.HasPrefix(m, "Stopping container: "), strings.HasPrefix(m, "Stopping pod sandbox: "):
			return dst, true
		}
	case 's':
		if strings.HasPrefix(m, "stopped pod sandbox") {
			return p.crioSandbox(r, KindSandboxStopped, m[len("stopped pod sandbox"):], dst), true
		}
	case 'P':
		switch {
		case strings.HasPrefix(m, "Pulling image: "):
			ref := m[len("Pulling image: "):]
			if sp := strings.IndexByte(ref, ' '); sp >= 0 {
				ref = ref[:sp]
			}
			p.crioRememberPull(r, ref)
			ev := p.crioEvent(r, KindImagePullStarted)
			ev.Image = ref
			return append(dst, ev), true
		case strings.HasPrefix(m, "Pulled image: "):
			ref := m[len("Pulled image: "):]
			if sp := strings.IndexByte(ref, ' '); sp >= 0 {
				ref = ref[:sp]
			}
			ev := p.crioEvent(r, KindImagePulled)
			if strings.Contains(ref, "@sha256:") {
				ev.RepoDigest = ref
			} else {
				ev.Image = ref
			}
			if ev.Image == "" {
				ev.Image = p.crioPulled(ev.RequestID)
			}
			return append(dst, ev), true
		}
	case 'I':
		switch {
		case strings.HasPrefix(m, "Image status: "):
			return p.crioImageStatus(r, m[len("Image status: "):], dst), true
		case strings.HasPrefix(m, "Image ") && strings.HasSuffix(m, " not found"):
			return dst, true
		}
	case 'A':
		if strings.HasPrefix(m, "Adding pod ") {
			return dst, true
		}
	case 'F':
		if strings.HasPrefix(m, "Found POD IPs") {
			return dst, true
		}
	case 'r':
		switch {
		case strings.HasPrefix(m, "request: "):
			return p.crioRequest(r, m[len("request: "):], dst), true
		case strings.HasPrefix(m, "response: "):
			return p.crioResponse(r, m[len("response: "):], dst), true
		}
	}
	return dst, false
}

// crioEvent starts a CRI-O event with the request id and CRI API version.
func (p *Parser) crioEvent(r *rec, k Kind) Event {
	ev := p.newEvent(r, SourceCRIO, k)
	ev.RequestID, _ = r.field("id")
	if name, ok := r.field("name"); ok {
		// /runtime.v1alpha2.RuntimeService/RunPodSandbox
		if strings.HasPrefix(name, "/runtime.") {
			v := name[len("/runtime."):]
			if d := strings.IndexByte(v, '.'); d > 0 {
				ev.CRIAPI = v[:d]
			}
		}
	}
	return ev
}

// crioIDDesc handles "<id>: ns/pod/ctr".
func (p *Parser) crioIDDesc(r *rec, k Kind, rest string, dst []Event) []Event {
	c := strings.Index(rest, ": ")
	if c < 0 || !isHexID(rest[:c]) {
		return dst
	}
	ev := p.crioEvent(r, k)
	ev.ContainerID = rest[:c]
	desc := rest[c+2:]
	if sp := strings.IndexByte(desc, ' '); sp >= 0 {
		desc = desc[:sp] // TTY form: fields follow
	}
	ev.PodNamespace, ev.PodName, ev.ContainerName = splitDescription(desc)
	if ev.ContainerName == "POD" {
		// The infra container: report it as the sandbox.
		ev.ContainerName = ""
		ev.SandboxID, ev.ContainerID = ev.ContainerID, ""
		switch k {
		case KindContainerExited:
			ev.Kind = KindSandboxStopped
		case KindContainerRemoved:
			ev.Kind = KindSandboxRemoved
		case KindContainerCreated, KindContainerStarted:
			ev.Kind = KindSandboxReady
		}
	}
	return append(dst, ev)
}

// crioStarted handles "Started container <id>: ns/pod/ctr" (<= 1.21) and
// "Started container" PID=.. containerID=.. description=ns/pod/ctr
// sandboxID=.. (1.22+).
func (p *Parser) crioStarted(r *rec, rest string, dst []Event) []Event {
	if len(rest) > 1 && rest[0] == ' ' {
		if c := strings.Index(rest, ": "); c > 1 && isHexID(rest[1:c]) {
			return p.crioIDDesc(r, KindContainerStarted, rest[1:], dst)
		}
	}
	cid, ok := r.field("containerID")
	if !ok || cid == "" {
		return dst
	}
	ev := p.crioEvent(r, KindContainerStarted)
	ev.ContainerID = cid
	ev.SandboxID, _ = r.field("sandboxID")
	desc, _ := r.field("description")
	ev.PodNamespace, ev.PodName, ev.ContainerName = splitDescription(desc)
	return append(dst, ev)
}

// crioSandbox handles the sandbox stop/remove messages: ": <id>",
// " (already stopped): <id>", " with infra container: ns/pod/POD", " <id>".
func (p *Parser) crioSandbox(r *rec, k Kind, rest string, dst []Event) []Event {
	rest = strings.TrimPrefix(rest, " (already stopped)")
	rest = strings.TrimPrefix(rest, " with infra container")
	rest = strings.TrimPrefix(rest, ":")
	rest = strings.TrimLeft(rest, " ")
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[:sp]
	}
	ev := p.crioEvent(r, k)
	if isHexID(rest) {
		ev.SandboxID = rest
	} else if ns, pod, _ := splitDescription(rest); pod != "" {
		ev.PodNamespace, ev.PodName = ns, pod
	} else {
		return dst
	}
	return append(dst, ev)
}

// crioRememberPull records the image a "Pulling image" request asked for, so
// that the "Pulled image: <repo@digest>" line of the same request id can
// name it.
func (p *Parser) crioRememberPull(r *rec, ref string) {
	id, ok := r.field("id")
	if !ok || id == "" {
		return
	}
	if sp := strings.IndexByte(ref, ' '); sp >= 0 {
		ref = ref[:sp]
	}
	p.pulls[p.pullNext%len(p.pulls)] = pullEntry{id: strings.Clone(id), image: strings.Clone(ref)}
	p.pullNext++
}

func (p *Parser) crioPulled(id string) string {
	if id == "" {
		return ""
	}
	for i := range p.pulls {
		if p.pulls[i].id == id {
			return p.pulls[i].image
		}
	}
	return ""
}

// crioImageStatus handles "Image status: &ImageStatusResponse{Image:&Image{
// Id:<hex>,RepoTags:[a b],RepoDigests:[x y],...}" and the protobuf text
// form `image:{id:"<hex>" repo_tags:"a" repo_digests:"x" repo_digests:"y"}`.
// It emits one image_present event per repo digest.
func (p *Parser) crioImageStatus(r *rec, s string, dst []Event) []Event {
	ev := p.crioEvent(r, KindImagePresent)
	if strings.HasPrefix(s, "&ImageStatusResponse{Image:nil") {
		return dst
	}
	if i := strings.Index(s, "&Image{Id:"); i >= 0 {
		id, _, _ := qtok(s, i+len("&Image{Id:"))
		ev.ImageID = normImageID(id)
		if tags := bracketList(s, "RepoTags:["); tags != "" {
			first := tags
			if sp := strings.IndexByte(first, ' '); sp >= 0 {
				first = first[:sp]
			}
			ev.Image = first
		}
		digests := bracketList(s, "RepoDigests:[")
		if digests == "" {
			if ev.ImageID == "" {
				return dst
			}
			return append(dst, ev)
		}
		for digests != "" {
			d := digests
			if sp := strings.IndexByte(digests, ' '); sp >= 0 {
				d, digests = digests[:sp], digests[sp+1:]
			} else {
				digests = ""
			}
			if d == "" {
				continue
			}
			e := ev
			e.RepoDigest = d
			dst = append(dst, e)
		}
		return dst
	}
	// protobuf text
	if id, ok := metaVal(s, "Id:", "id:"); ok {
		ev.ImageID = normImageID(id)
	}
	if tag, ok := metaVal(s, "RepoTags:", "repo_tags:"); ok {
		ev.Image = tag
	}
	n := len(dst)
	for i := 0; ; {
		j := strings.Index(s[i:], "repo_digests:")
		if j < 0 {
			break
		}
		d, end, ok := qtok(s, i+j+len("repo_digests:"))
		i = end
		if !ok {
			break
		}
		e := ev
		e.RepoDigest = d
		dst = append(dst, e)
	}
	if len(dst) == n && ev.ImageID != "" {
		dst = append(dst, ev)
	}
	return dst
}

// bracketList returns the space-separated content of key[...].
func bracketList(s, key string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	rest := s[i+len(key):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// crioRemember notes what a request id is about: the description
// "ns/pod/ctr" ("ns/pod/POD") of a sandbox or container being created, or
// the id of a container being started, for a failure of that request.
func (p *Parser) crioRemember(r *rec, what string) {
	id, ok := r.field("id")
	if !ok || id == "" {
		return
	}
	if sp := strings.IndexByte(what, ' '); sp >= 0 {
		what = what[:sp]
	}
	both := id + what // one allocation for both
	p.reqs[p.reqNext%len(p.reqs)] = pullEntry{id: both[:len(id)], image: both[len(id):]}
	p.reqNext++
}

// crioRequestOf returns what crioRemember noted for the record's id.
func (p *Parser) crioRequestOf(r *rec) string {
	id, ok := r.field("id")
	if !ok || id == "" {
		return ""
	}
	for i := range p.reqs {
		if p.reqs[i].id == id {
			return p.reqs[i].image
		}
	}
	return ""
}

// crioMethod is the CRI method of the record's name=/runtime.v1.X/Method.
func crioMethod(r *rec) string {
	name, _ := r.field("name")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// crioFailed emits the failure of the record's request: a failed
// RunPodSandbox (sandbox_requested with Error), CreateContainer or
// StartContainer (container_failed) or PullImage (image_pull_failed), with
// the pod, container or image its request named (by id=).
func (p *Parser) crioFailed(r *rec, errText string, dst []Event) []Event {
	var k Kind
	switch crioMethod(r) {
	case "RunPodSandbox":
		k = KindSandboxRequested
	case "CreateContainer", "StartContainer":
		k = KindContainerFailed
	case "PullImage":
		k = KindImagePullFailed
	default:
		return dst
	}
	ev := p.crioEvent(r, k)
	ev.Error = errText
	if ev.Error == "" {
		ev.Error = "failed"
	}
	what := p.crioRequestOf(r)
	switch {
	case k == KindImagePullFailed:
		ev.Image = p.crioPulled(ev.RequestID)
		if ev.Image == "" {
			ev.Image = imageIn(errText)
		}
		if ev.Image == "" {
			return dst
		}
	case isHexID(what):
		ev.ContainerID = what
	default:
		ns, pod, ctr := splitDescription(what)
		if pod == "" {
			return dst
		}
		ev.PodNamespace, ev.PodName = ns, pod
		if k == KindContainerFailed && ctr != "POD" {
			ev.ContainerName = ctr
		}
		if ctr == "POD" {
			ev.Kind = KindSandboxRequested // the infra container of a sandbox
		}
	}
	return append(dst, ev)
}

// crioResponseError handles the debug "Response error: <err>" of any CRI
// call (id= and name= say which).
func (p *Parser) crioResponseError(r *rec, errText string, dst []Event) []Event {
	return p.crioFailed(r, errText, dst)
}

// crioType skips the "%T: " of 1.34+ request/response lines
// ("*v1.RunPodSandboxRequest: ...") and returns the message type's name.
func crioType(s string) (typ, rest string) {
	if strings.HasPrefix(s, "*") {
		if c := strings.Index(s, ": "); c > 0 && !strings.ContainsAny(s[:c], " {") {
			t := s[:c]
			if d := strings.LastIndexByte(t, '.'); d >= 0 {
				t = t[d+1:]
			}
			return t, s[c+2:]
		}
	}
	if strings.HasPrefix(s, "&") {
		if b := strings.IndexByte(s, '{'); b > 1 {
			return s[1:b], s[b+1:]
		}
	}
	return "", s
}

// crioRequest handles the debug request dump of a RunPodSandbox
// ("request: &RunPodSandboxRequest{Config:&PodSandboxConfig{Metadata:...",
// "Request: *v1.RunPodSandboxRequest: config:{metadata:{name:...").
func (p *Parser) crioRequest(r *rec, s string, dst []Event) []Event {
	typ, rest := crioType(s)
	if typ != "RunPodSandboxRequest" {
		return dst
	}
	ev := p.crioEvent(r, KindSandboxRequested)
	sandboxMeta(rest, &ev)
	if ev.PodName == "" {
		return dst
	}
	return append(dst, ev)
}

// crioResponse handles the debug response dumps of RunPodSandbox and
// CreateContainer (gogo "&RunPodSandboxResponse{PodSandboxId:<id>,}",
// protobuf text "*v1.RunPodSandboxResponse: pod_sandbox_id:\"<id>\"").
func (p *Parser) crioResponse(r *rec, s string, dst []Event) []Event {
	typ, rest := crioType(s)
	var k Kind
	var id string
	switch typ {
	case "RunPodSandboxResponse":
		k = KindSandboxReady
		id, _ = metaVal(rest, "PodSandboxId:", "pod_sandbox_id:")
	case "CreateContainerResponse":
		k = KindContainerCreated
		id, _ = metaVal(rest, "ContainerId:", "container_id:")
	default:
		return dst
	}
	if !isHexID(id) {
		return dst
	}
	ev := p.crioEvent(r, k)
	if k == KindSandboxReady {
		ev.SandboxID = id
	} else {
		ev.ContainerID = id
	}
	return append(dst, ev)
}
