// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
)

// splitPodRef parses the kubelet's pod references: "ns/name" (klog.KObj),
// "name_ns(uid)" (format.Pod, pre-structured logging) and "name_ns" (the
// CNI/dockershim form). It returns false if none fits.
func splitPodRef(s string) (ns, name, uid string, ok bool) {
	if s == "" {
		return "", "", "", false
	}
	if p := strings.IndexByte(s, '('); p > 0 && s[len(s)-1] == ')' {
		uid = s[p+1 : len(s)-1]
		s = s[:p]
		u := strings.LastIndexByte(s, '_')
		if u <= 0 || u == len(s)-1 {
			return "", "", "", false
		}
		return s[u+1:], s[:u], uid, validName(s[:u]) && validName(s[u+1:])
	}
	if sl := strings.IndexByte(s, '/'); sl > 0 && sl < len(s)-1 {
		ns, name = s[:sl], s[sl+1:]
		return ns, name, "", validName(ns) && validName(name)
	}
	return "", "", "", false
}

// validName accepts Kubernetes object names (DNS subdomains, loosely).
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// splitDescription parses CRI-O's container description "ns/pod/ctr"
// ("ns/pod/POD" for the infra container; "//" when the client gave no
// metadata).
func splitDescription(s string) (ns, pod, ctr string) {
	a := strings.IndexByte(s, '/')
	if a < 0 {
		return "", "", ""
	}
	b := strings.IndexByte(s[a+1:], '/')
	if b < 0 {
		return "", "", ""
	}
	b += a + 1
	return s[:a], s[a+1 : b], s[b+1:]
}

// KubeName is a container/sandbox name as dockershim, cri-dockerd and CRI-O
// make them.
type KubeName struct {
	Sandbox       bool // the pod's infra (pause) container
	ContainerName string
	PodName       string
	PodNamespace  string
	PodUID        string
	Attempt       int
}

// ParseKubeName parses the names runtimes give pod containers:
//
//	k8s_POD_<pod>_<ns>_<uid>_<attempt>          dockershim/cri-dockerd sandbox
//	k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>        dockershim/cri-dockerd/CRI-O container
//	k8s_<pod>_<ns>_<uid>_<attempt>              CRI-O sandbox
//	k8s_<ctr>.<hash>_<pod>_<ns>_<uid>_<random>  pre-CRI docker manager (k8s <= 1.5)
//
// A leading "/" (docker's name form) is ignored.
func ParseKubeName(s string) (KubeName, bool) {
	s = strings.TrimPrefix(s, "/")
	if !strings.HasPrefix(s, "k8s_") {
		return KubeName{}, false
	}
	s = s[4:]
	var parts [6]string
	n := 0
	for n < len(parts) {
		u := strings.IndexByte(s, '_')
		if u < 0 {
			parts[n] = s
			n++
			s = ""
			break
		}
		parts[n] = s[:u]
		n++
		s = s[u+1:]
	}
	if s != "" {
		return KubeName{}, false
	}
	var k KubeName
	switch n {
	case 5:
		k.ContainerName = parts[0]
		if dot := strings.IndexByte(k.ContainerName, '.'); dot > 0 { // legacy "ctr.hash"
			k.ContainerName = k.ContainerName[:dot]
		}
		k.Sandbox = k.ContainerName == "POD"
		if k.Sandbox {
			k.ContainerName = ""
		}
		k.PodName, k.PodNamespace, k.PodUID = parts[1], parts[2], parts[3]
		k.Attempt = atoiSafe(parts[4])
	case 4:
		k.Sandbox = true
		k.PodName, k.PodNamespace, k.PodUID = parts[0], parts[1], parts[2]
		k.Attempt = atoiSafe(parts[3])
	default:
		return KubeName{}, false
	}
	if k.PodName == "" || k.PodNamespace == "" || k.PodUID == "" {
		return KubeName{}, false
	}
	return k, true
}

// metaVal reads a CRI metadata field from either the gogo-protobuf String()
// form "&PodSandboxMetadata{Name:x,Uid:y,...}" (gogoKey "Name:") or the
// protobuf-go text form `name:"x"  uid:"y"` with any escaping (textKey
// "name:"). A gogo value must be terminated by ',' or '}' so that truncated
// records do not yield partial values.
func metaVal(s, gogoKey, textKey string) (string, bool) {
	for _, key := range [2]string{gogoKey, textKey} {
		from := 0
		for {
			j := strings.Index(s[from:], key)
			if j < 0 {
				break
			}
			j += from
			from = j + len(key)
			if j > 0 {
				switch s[j-1] {
				case '{', ',', ' ', '\t':
				default:
					continue
				}
			}
			v := j + len(key)
			if v < len(s) && (s[v] == '"' || s[v] == '\\') {
				val, _, ok := qtok(s, v)
				return val, ok
			}
			e := v
			for e < len(s) && s[e] != ',' && s[e] != '}' && s[e] != ' ' && s[e] != '\\' && s[e] != '"' {
				e++
			}
			if e >= len(s) && key == gogoKey {
				return "", false // truncated
			}
			return s[v:e], true
		}
	}
	return "", false
}

// sandboxMeta fills pod identity from a PodSandboxMetadata rendering.
func sandboxMeta(s string, ev *Event) {
	if v, ok := metaVal(s, "Name:", "name:"); ok {
		ev.PodName = v
	}
	if v, ok := metaVal(s, "Uid:", "uid:"); ok {
		ev.PodUID = v
	}
	if v, ok := metaVal(s, "Namespace:", "namespace:"); ok {
		ev.PodNamespace = v
	}
	if v, ok := metaVal(s, "Attempt:", "attempt:"); ok {
		ev.Attempt = atoiSafe(v)
	}
}

// containerMeta fills container name/attempt from a ContainerMetadata rendering.
func containerMeta(s string, ev *Event) {
	if v, ok := metaVal(s, "Name:", "name:"); ok {
		ev.ContainerName = v
	}
	if v, ok := metaVal(s, "Attempt:", "attempt:"); ok {
		ev.Attempt = atoiSafe(v)
	}
}
