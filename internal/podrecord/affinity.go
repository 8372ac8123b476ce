// SPDX-License-Identifier: Apache-2.0

package podrecord

import "strings"

// AffinityKey is the key that brings together everything the correlation
// of one pod needs: its API create, binding, status and delete, its node's
// sandbox and container events, and the audit events of the workloads
// above it (Deployment → ReplicaSet → pod, CronJob → Job → pod, StatefulSet
// and DaemonSet → pod). It is the namespace and the name with the suffixes
// that Kubernetes controllers append stripped, repeatedly, from the end:
//
//   - "-" and 5 characters of the controller suffix alphabet
//     (bcdfghjklmnpqrstvwxz2456789: generateName's random part),
//   - "-" and 6 to 10 of them (a ReplicaSet's pod-template-hash),
//   - "-" and digits (a StatefulSet ordinal, a CronJob's Job time).
//
// web-7c9d8f6b5-lz8kp, web-7c9d8f6b5 and web all give "ns/web", and so does
// the create of a pod named by generateName "web-7c9d8f6b5-", whose name the
// audit event does not carry below the RequestResponse level. Stripping too
// much (a pod named "api-2") only puts more pods on one key; it never splits
// a pod, since every event about it strips the same name the same way.
func AffinityKey(namespace, name string) string {
	return namespace + "/" + affinityName(name)
}

// AffinityKeyGenerateName is AffinityKey for a create that has only the
// pod's generateName.
// The pod's name will be generateName and five random characters: the key
// is that of any such name. (A generateName that does not end in "-" glues
// the random part to a word, and the name's key is the whole name: such a
// create is keyed by its generateName, and its node events by the name.)
func AffinityKeyGenerateName(namespace, generateName string) string {
	return AffinityKey(namespace, generateName+"bbbbb")
}

func affinityName(name string) string {
	for {
		i := strings.LastIndexByte(name, '-')
		if i < 0 {
			return name
		}
		seg := name[i+1:]
		if !generatedSegment(seg) {
			return name
		}
		name = name[:i]
	}
}

// generatedSegment reports whether s is a suffix a controller appends.
func generatedSegment(s string) bool {
	if s == "" {
		return false
	}
	digits, suffix := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			digits = false
		}
		if !isSuffixChar(c) {
			suffix = false
		}
	}
	return digits || (suffix && len(s) >= 5 && len(s) <= 10)
}

// isSuffixChar: k8s.io/apimachinery/pkg/util/rand's alphanums, the
// alphabet of generated names and pod-template hashes.
func isSuffixChar(c byte) bool {
	return strings.IndexByte("bcdfghjklmnpqrstvwxz2456789", c) >= 0
}
