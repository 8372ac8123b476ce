// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
)

// Docker engine (dockerd), cri-dockerd and `docker events` records. dockerd's
// own log says little about pods: its lifecycle lines ("shim reaped",
// "ignoring event" topic=/tasks/delete) carry only container ids and are
// ignored. Pod identity comes from the kubelet-made container names
// k8s_POD_<pod>_<ns>_<uid>_<attempt> / k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>,
// found in `docker events` output and dockerd's debug API log
// ("Calling POST /v1.41/containers/create?name=k8s_POD_...").

func (p *Parser) dockerMsg(r *rec, src Source, dst []Event) ([]Event, bool) {
	if r.form == formDockerEvent {
		return p.dockerEvent(r, dst), true
	}
	if r.form == formJSON && r.msg == "" {
		return p.dockerJSONEvent(r, dst)
	}
	m := r.msg
	if len(m) < 6 {
		return dst, false
	}
	engine := src
	if engine == SourceUnknown {
		engine = SourceDocker
	}
	switch m[0] {
	case 'D':
		if m == "Docker daemon" {
			if v, ok := r.field("version"); ok {
				p.setVersion(SourceDocker, v)
			}
			return dst, true
		}
	case 'S':
		switch {
		case strings.HasPrefix(m, "Starting cri-dockerd "):
			v := m[len("Starting cri-dockerd "):]
			if sp := strings.IndexByte(v, ' '); sp >= 0 {
				v = v[:sp]
			}
			p.setVersion(SourceCRIDockerd, v)
			return dst, true
		case strings.HasPrefix(m, "Stop pulling image "):
			if src == SourceUnknown {
				engine = SourceCRIDockerd
			}
			return p.dockerPullDone(r, engine, m[len("Stop pulling image "):], dst), true
		}
	case 'C':
		if strings.HasPrefix(m, "Calling POST /") {
			return p.dockerAPICreate(r, engine, m[len("Calling POST "):], dst), true
		}
		if strings.HasPrefix(m, "Cancel pulling image ") {
			// cri-dockerd: Cancel pulling image <ref> because it exceeded image pull deadline 1m0s. Latest progress ...
			if src == SourceUnknown {
				engine = SourceCRIDockerd
			}
			rest := m[len("Cancel pulling image "):]
			sp := strings.IndexByte(rest, ' ')
			if sp <= 0 {
				return dst, true
			}
			ev := p.newEvent(r, engine, KindImagePullFailed)
			ev.Image, ev.Error = rest[:sp], strings.TrimPrefix(rest[sp+1:], "because ")
			return append(dst, ev), true
		}
	case 'P':
		if strings.HasPrefix(m, "Pulling the image without credentials. Image: ") {
			if src == SourceUnknown {
				engine = SourceCRIDockerd
			}
			ev := p.newEvent(r, engine, KindImagePullStarted)
			ev.Image = m[len("Pulling the image without credentials. Image: "):]
			if ev.Image == "" {
				return dst, true
			}
			return append(dst, ev), true
		}
		if strings.HasPrefix(m, "Pulling image ") {
			return dst, true // progress, every 10s while a pull lasts
		}
	case 's':
		if strings.HasPrefix(m, "shim reaped") || strings.HasPrefix(m, "signal: ") {
			return dst, true
		}
	case 'i':
		if strings.HasPrefix(m, "ignoring event") {
			return dst, true
		}
	case 'e':
		if strings.HasPrefix(m, "error locating sandbox id") {
			return dst, true
		}
	case 'H':
		if strings.HasPrefix(m, "Handler for POST ") && strings.Contains(m, "/containers/create") {
			return p.dockerCreateFailed(r, engine, m, dst), true
		}
		if strings.HasPrefix(m, "Handler for ") {
			return dst, true
		}
	case 'W', 'F', 'B':
		if strings.HasPrefix(m, "Will attempt to re-write config file") ||
			strings.HasPrefix(m, "Failed to read pod IP from plugin/docker") ||
			strings.HasPrefix(m, "Both sandbox container and checkpoint could not be found") {
			return dst, true
		}
	}
	return dst, false
}

// dockerPullDone handles the end of a pull as dockershim (kubelet) and
// cri-dockerd log it:
//
//	Stop pulling image "nginx:latest": "Status: Downloaded newer image for nginx:latest"
//	Stop pulling image nginx:latest: Status: Image is up to date for nginx:latest
func (p *Parser) dockerPullDone(r *rec, src Source, rest string, dst []Event) []Event {
	var img string
	if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\\') {
		v, _, ok := qtok(rest, 0)
		if !ok {
			return dst
		}
		img = v
	} else {
		c := strings.Index(rest, ": ")
		if c <= 0 {
			return dst
		}
		img = rest[:c]
	}
	k, ok := dockerPullStatus(rest)
	if !ok {
		return dst
	}
	ev := p.newEvent(r, src, k)
	ev.Image = img
	return append(dst, ev)
}

// dockerPullStatus reads the outcome of a docker pull from its last
// progress message.
func dockerPullStatus(s string) (Kind, bool) {
	switch {
	case strings.Contains(s, "Status: Downloaded newer image for "):
		return KindImagePulled, true
	case strings.Contains(s, "Status: Image is up to date for "):
		return KindImagePresent, true
	}
	return "", false
}

// dockerAPICreate handles dockerd's debug "Calling POST
// /v1.41/containers/create?name=k8s_POD_..." for a pod sandbox container.
func (p *Parser) dockerAPICreate(r *rec, src Source, rest string, dst []Event) []Event {
	i := strings.Index(rest, "/containers/create?")
	if i < 0 {
		return dst
	}
	q := rest[i+len("/containers/create?"):]
	n := strings.Index(q, "name=")
	if n < 0 {
		return dst
	}
	name := q[n+len("name="):]
	if e := strings.IndexAny(name, "& "); e >= 0 {
		name = name[:e]
	}
	kn, ok := ParseKubeName(name)
	if !ok || !kn.Sandbox {
		return dst // application containers: a request, not an event
	}
	ev := p.newEvent(r, src, KindSandboxRequested)
	ev.PodName, ev.PodNamespace, ev.PodUID, ev.Attempt = kn.PodName, kn.PodNamespace, kn.PodUID, kn.Attempt
	return append(dst, ev)
}

// dockerCreateFailed handles a failed sandbox container create, e.g.
// "Handler for POST /v1.38/containers/create returned error: Conflict. The
// container name \"/k8s_POD_nginx_default_<uid>_0\" is already in use ...".
func (p *Parser) dockerCreateFailed(r *rec, src Source, m string, dst []Event) []Event {
	i := strings.Index(m, "k8s_")
	if i < 0 {
		return dst
	}
	name := m[i:]
	if e := strings.IndexAny(name, "\\\" "); e >= 0 {
		name = name[:e]
	}
	kn, ok := ParseKubeName(name)
	if !ok || !kn.Sandbox {
		return dst
	}
	ev := p.newEvent(r, src, KindSandboxRequested)
	ev.PodName, ev.PodNamespace, ev.PodUID, ev.Attempt = kn.PodName, kn.PodNamespace, kn.PodUID, kn.Attempt
	ev.Error = afterColon(m, "returned error")
	return append(dst, ev)
}

// dockerJSONEvent handles `docker events --format '{{json .}}'` objects:
// {"Type":"container","Action":"start","Actor":{"ID":"..","Attributes":{"name":"k8s_POD_..",..}},"time":..,"timeNano":..}.
func (p *Parser) dockerJSONEvent(r *rec, dst []Event) ([]Event, bool) {
	typ, action := jsonString(r.fields, "Type"), jsonString(r.fields, "Action")
	if typ == "" || action == "" {
		return dst, false
	}
	actor, _ := jsonField(r.fields, "Actor")
	id := jsonString(actor, "ID")
	attrs, _ := jsonField(actor, "Attributes")
	if v, ok := jsonField(r.fields, "timeNano"); ok && len(v) > 9 {
		r.ts = unixStamp(v[:len(v)-9] + "." + v[len(v)-9:])
	} else if v, ok := jsonField(r.fields, "time"); ok {
		r.ts = unixStamp(v)
	}
	// Reuse the text form: "<type> <action> <id>" with attributes looked up
	// in the JSON object.
	return p.dockerEventFields(r, typ, action, id, func(k string) string { return jsonString(attrs, k) }, dst), true
}

// dockerEvent handles `docker events` lines:
// "<time> container start <id> (image=..., name=k8s_POD_..., io.kubernetes.pod.uid=..., ...)"
// "<time> image pull nginx:latest (name=nginx)".
func (p *Parser) dockerEvent(r *rec, dst []Event) []Event {
	m := r.msg
	sp := strings.IndexByte(m, ' ')
	if sp < 0 {
		return dst
	}
	typ, rest := m[:sp], m[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp < 0 {
		return dst
	}
	action, rest := rest[:sp], rest[sp+1:]
	id := rest
	if sp = strings.IndexByte(rest, ' '); sp >= 0 {
		id = rest[:sp]
	}
	fields := r.fields
	return p.dockerEventFields(r, typ, action, id, func(k string) string { return dockerAttr(fields, k) }, dst)
}

func (p *Parser) dockerEventFields(r *rec, typ, action, id string, attr func(string) string, dst []Event) []Event {
	if typ == "image" {
		if action != "pull" {
			return dst
		}
		ev := p.newEvent(r, SourceDocker, KindImagePulled)
		ev.Image = id
		if strings.Contains(id, "@sha256:") {
			ev.RepoDigest = id
		}
		return append(dst, ev)
	}
	if typ != "container" {
		return dst
	}
	kn, ok := ParseKubeName(attr("name"))
	if !ok {
		return dst // not a Kubernetes container
	}
	var k Kind
	switch action {
	case "create":
		k = KindContainerCreated
		if kn.Sandbox {
			k = KindSandboxRequested
		}
	case "start":
		k = KindContainerStarted
		if kn.Sandbox {
			k = KindSandboxReady
		}
	case "die":
		k = KindContainerExited
		if kn.Sandbox {
			k = KindSandboxStopped
		}
	case "destroy":
		k = KindContainerRemoved
		if kn.Sandbox {
			k = KindSandboxRemoved
		}
	default:
		return dst
	}
	ev := p.newEvent(r, SourceDocker, k)
	ev.PodName, ev.PodNamespace, ev.PodUID, ev.Attempt = kn.PodName, kn.PodNamespace, kn.PodUID, kn.Attempt
	if kn.Sandbox {
		ev.SandboxID = id
	} else {
		ev.ContainerID, ev.ContainerName = id, kn.ContainerName
		ev.Image = attr("image")
		ev.SandboxID = attr("io.kubernetes.sandbox.id")
	}
	return append(dst, ev)
}

// dockerAttr returns attribute key of a `docker events` "(k=v, k=v)" list.
func dockerAttr(s, key string) string {
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], key+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j > 0 && (s[j-1] == '(' || s[j-1] == ' ') {
			v := s[j+len(key)+1:]
			if e := strings.Index(v, ", "); e >= 0 {
				v = v[:e]
			} else if e := strings.LastIndexByte(v, ')'); e >= 0 {
				v = v[:e]
			}
			return v
		}
		i = j + len(key) + 1
	}
	return ""
}
