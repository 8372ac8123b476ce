// SPDX-License-Identifier: Apache-2.0

package inventory

import "slices"

// Merge adds a later inventory file's entries to inv: lists are
// concatenated (system namespaces and trusted identities without repeats),
// namespaces entries of one name become one entry (creators, channels and
// images joined, require_digest if any says so), strict if either is, a
// signing key named again takes the later key. Finish sets the defaults
// once every file is merged.
func (inv *Inventory) Merge(o *Inventory) {
	inv.Strict = inv.Strict || o.Strict
	inv.SystemNamespaces = appendNew(inv.SystemNamespaces, o.SystemNamespaces...)
	inv.Workloads = append(inv.Workloads, o.Workloads...)
	inv.Images = append(inv.Images, o.Images...)
	inv.TrustedIdentities = appendNew(inv.TrustedIdentities, o.TrustedIdentities...)
	inv.SigningKeys = mergeSigningKeys(inv.SigningKeys, o.SigningKeys)
	for _, ns := range o.Namespaces {
		i := slices.IndexFunc(inv.Namespaces, func(n Namespace) bool { return n.Name == ns.Name })
		if i < 0 {
			inv.Namespaces = append(inv.Namespaces, ns)
			continue
		}
		n := &inv.Namespaces[i]
		n.Creators = appendNew(n.Creators, ns.Creators...)
		n.Channels = appendNew(n.Channels, ns.Channels...)
		n.Images = appendNew(n.Images, ns.Images...)
		n.RequireDigest = n.RequireDigest || ns.RequireDigest
	}
}

// mergeSigningKeys adds a later inventory file's keys (a name defined
// again takes the later key).
func mergeSigningKeys(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// appendNew appends the items dst lacks, each once.
func appendNew(dst []string, items ...string) []string {
	seen := make(map[string]bool, len(dst)+len(items))
	for _, s := range dst {
		seen[s] = true
	}
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			dst = append(dst, s)
		}
	}
	return dst
}
