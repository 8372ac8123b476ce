// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/cosign"
	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Inventory is what the security team approved: the workloads that may run,
// the images they may run, the namespaces that belong to the system, who may
// create pods where, and which identities are trusted CI/CD.
type Inventory struct {
	// Strict: what the inventory does not approve is unapproved. Off (the
	// default), unknown is not unapproved: the image and creator checks
	// fire only where the inventory declares something (an images entry for
	// the repository, a namespace's or workload's images list, a
	// namespace's creators and channels) and are silent elsewhere. On,
	// every image must be approved (by an images entry, or the images of
	// its namespace or owning workload), and people and service accounts
	// may create pods directly only in namespaces with an entry that allows
	// them, or as trusted_identities.
	Strict bool `yaml:"strict,omitempty" expr:"strict"`

	SystemNamespaces []string   `yaml:"system_namespaces,omitempty" expr:"system_namespaces"`
	Workloads        []Workload `yaml:"workloads,omitempty" expr:"workloads"`
	Images           []Image    `yaml:"images,omitempty" expr:"images"`
	// Namespaces lists who may create pods in a namespace, and through which
	// channel. A namespace not listed allows any creator and channel.
	Namespaces []Namespace `yaml:"namespaces,omitempty" expr:"namespaces"`
	// TrustedIdentities are username globs of the CI/CD and GitOps identities
	// (system:serviceaccount:ci:*, terraform-ci) whose creates are expected.
	TrustedIdentities []string `yaml:"trusted_identities,omitempty" expr:"trusted_identities"`
	// SigningKeys are public keys (PEM, ECDSA P-256: cosign.pub) by name,
	// for images[].signed_by.
	SigningKeys map[string]string `yaml:"signing_keys,omitempty" expr:"signing_keys"`
}

// Namespace names the people and service accounts (username globs such as
// system:serviceaccount:argocd:*) and the channels (kubectl, helm, argocd,
// ...) allowed to create pods in it. An empty list allows any.
type Namespace struct {
	Name     string   `yaml:"name" expr:"name"`
	Creators []string `yaml:"creators,omitempty" expr:"creators"`
	Channels []string `yaml:"channels,omitempty" expr:"channels"`
	// RequireDigest: the namespace's pods must pin images by digest.
	RequireDigest bool `yaml:"require_digest,omitempty" expr:"require_digest"`
	// Images are the repositories (globs, normalised as images are) the
	// namespace's pods may run: declared, every image outside them is
	// unapproved, even when the strict mode is off. Empty: not declared.
	Images []string `yaml:"images,omitempty" expr:"images"`
}

// Workload is an approved workload: its pods are named after it.
type Workload struct {
	Namespace string `yaml:"namespace" expr:"namespace"`
	Name      string `yaml:"name" expr:"name"`
	// Kind is the controller kind: Deployment, DaemonSet, StatefulSet, Job,
	// CronJob, or Node for static pods.
	Kind string `yaml:"kind" expr:"kind"`
	// NamePattern is a glob of its pods' names when they are not derived from
	// Name the usual way (<name>-<hash>-<suffix>), e.g. "pay-*-worker-*".
	NamePattern string `yaml:"name_pattern,omitempty" expr:"name_pattern"`
	// Labels are selector labels its pods carry; another pod with all of them
	// in the namespace claims to be one of its pods.
	Labels map[string]string `yaml:"labels,omitempty" expr:"labels"`
	// ServiceAccount its pods run as; "" for any.
	ServiceAccount string `yaml:"service_account,omitempty" expr:"service_account"`
	// Images are the repositories (globs) its pods may run; declared, any
	// other image in one of its pods is unapproved. Empty: not declared.
	Images []string `yaml:"images,omitempty" expr:"images"`
	// ControllerNames are globs of the names its controller may have
	// besides Name, for distributions that put a version or a hash in it
	// (GKE's metrics-server-v1.30.3, k3s's svclb-traefik-5f7f4d69): pods
	// whose controller is so named are its own.
	ControllerNames []string `yaml:"controller_names,omitempty" expr:"controller_names"`
}

// Image is an approved image repository (a glob such as ghcr.io/acme/*), with
// the tags and digests it may be run by. No tags and no digests: any.
// Digests may list, for one release, the multi-arch index digest, each
// platform manifest digest and the config digest (what runtimes report as
// the image ID): a pod spec pins the index or a platform manifest, node
// runtime records carry the config digest, and any of them approves.
type Image struct {
	Repository string   `yaml:"repository" expr:"repository"`
	Tags       []string `yaml:"tags,omitempty" expr:"tags"`
	Digests    []string `yaml:"digests,omitempty" expr:"digests"`
	// Layers are the approved image's layer digests, base first: an image
	// whose layers extend them is built on it (internal/rules: lineage.go).
	Layers []string `yaml:"layers,omitempty" expr:"layers"`
	// SignedBy names signing_keys: the repository's images must carry a
	// cosign signature one of them verifies.
	SignedBy []string `yaml:"signed_by,omitempty" expr:"signed_by"`
}

// DefaultSystemWorkloads are names that Kubernetes distributions give their
// own pods; a pod that imitates them is suspect even when the inventory
// does not list them.
var DefaultSystemWorkloads = []Workload{
	{Namespace: "kube-system", Name: "kube-proxy", Kind: "DaemonSet", ServiceAccount: "kube-proxy"},
	{Namespace: "kube-system", Name: "coredns", Kind: "Deployment", ServiceAccount: "coredns"},
	{Namespace: "kube-system", Name: "kube-dns", Kind: "Deployment", ServiceAccount: "kube-dns"},
	{Namespace: "kube-system", Name: "kube-apiserver", Kind: "Node"},
	{Namespace: "kube-system", Name: "kube-controller-manager", Kind: "Node"},
	{Namespace: "kube-system", Name: "kube-scheduler", Kind: "Node"},
	{Namespace: "kube-system", Name: "etcd", Kind: "Node"},
	{Namespace: "kube-system", Name: "metrics-server", Kind: "Deployment", ServiceAccount: "metrics-server"},
	{Namespace: "kube-system", Name: "aws-node", Kind: "DaemonSet", ServiceAccount: "aws-node"},
	{Namespace: "kube-system", Name: "calico-node", Kind: "DaemonSet", ServiceAccount: "calico-node"},
	{Namespace: "kube-system", Name: "cilium", Kind: "DaemonSet", ServiceAccount: "cilium"},
}

// Load reads an inventory YAML file.
func Load(file string) (*Inventory, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse reads an inventory (the content of file, which names it in
// errors). Unknown keys are errors.
func Parse(file string, data []byte) (*Inventory, error) {
	inv, err := Decode(file, data)
	if err != nil {
		return nil, err
	}
	inv.Finish()
	return inv, nil
}

// Finish sets the defaults of what the inventory leaves out (once, after
// the last Merge).
func (inv *Inventory) Finish() {
	if len(inv.SystemNamespaces) == 0 {
		inv.SystemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}
	}
}

// Decode reads and checks one inventory file, without defaults: unknown
// keys, bad globs and digests, bad signing keys are errors naming file;
// repositories are normalised as images are (imageref).
func Decode(file string, data []byte) (*Inventory, error) {
	inv := new(Inventory)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(inv); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("inventory %s: %w", file, err)
	}
	for i := range inv.Images {
		im := &inv.Images[i]
		n, err := imageref.NormalizeRepository(im.Repository)
		if err != nil || !validGlob(n) {
			if err == nil {
				err = path.ErrBadPattern
			}
			return nil, fmt.Errorf("inventory %s: images[%d]: bad repository pattern %q: %v", file, i, im.Repository, err)
		}
		im.Repository = n // nginx is docker.io/library/nginx, as images are
	}
	if err := validateLineage(inv); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", file, err)
	}
	for i := range inv.Namespaces {
		ns := &inv.Namespaces[i]
		if ns.Name == "" {
			return nil, fmt.Errorf("inventory %s: namespaces[%d]: name is empty", file, i)
		}
		if err := normalizeRepos(ns.Images); err != nil {
			return nil, fmt.Errorf("inventory %s: namespaces[%d] (%s): images: %w", file, i, ns.Name, err)
		}
		for _, c := range ns.Creators {
			if _, err := path.Match(c, ""); err != nil {
				return nil, fmt.Errorf("inventory %s: namespaces[%d]: bad creator pattern %q", file, i, c)
			}
		}
	}
	for i, w := range inv.Workloads {
		switch {
		case w.Name == "" || w.Namespace == "":
			return nil, fmt.Errorf("inventory %s: workloads[%d]: namespace and name are required", file, i)
		case w.NamePattern != "" && !validGlob(w.NamePattern):
			return nil, fmt.Errorf("inventory %s: workloads[%d]: bad name_pattern %q", file, i, w.NamePattern)
		}
		for _, c := range w.ControllerNames {
			if c == "" || !validGlob(c) {
				return nil, fmt.Errorf("inventory %s: workloads[%d]: bad controller_names pattern %q", file, i, c)
			}
		}
		if err := normalizeRepos(w.Images); err != nil {
			return nil, fmt.Errorf("inventory %s: workloads[%d] (%s/%s): images: %w", file, i, w.Namespace, w.Name, err)
		}
	}
	for i, id := range inv.TrustedIdentities {
		if id == "" || !validGlob(id) {
			return nil, fmt.Errorf("inventory %s: trusted_identities[%d]: bad pattern %q", file, i, id)
		}
	}
	return inv, nil
}

// normalizeRepos normalises repository globs in place (imageref).
func normalizeRepos(repos []string) error {
	for i, r := range repos {
		n, err := imageref.NormalizeRepository(r)
		if err == nil && !validGlob(n) {
			err = path.ErrBadPattern
		}
		if err != nil {
			return fmt.Errorf("bad repository pattern %q: %v", r, err)
		}
		repos[i] = n
	}
	return nil
}

// ImageApproved reports whether the inventory approves image: a repository
// entry matches and the tag or digest is allowed. Entries that name the
// repository exactly take precedence over glob entries (ghcr.io/acme/*), so
// pinning one repository's digests is not undone by a wider pattern.
// A reference that does not parse is never approved.
func (inv *Inventory) ImageApproved(image string) bool {
	ref := imageref.Parse(image)
	if !ref.Valid() {
		return false
	}
	exact := false
	for _, im := range inv.Images {
		if im.Repository == ref.Repository {
			exact = true
			if im.Allows(ref) {
				return true
			}
		}
	}
	if exact {
		return false
	}
	for _, im := range inv.Images {
		if matchRepository(im.Repository, ref.Repository) && im.Allows(ref) {
			return true
		}
	}
	return false
}

// Allows reports whether the entry allows ref's tag or digest (its
// repository already matched): any when it lists neither; by digest, the
// digest decides, or the tag when only tags are listed.
func (im *Image) Allows(ref imageref.Ref) bool {
	switch {
	case len(im.Tags) == 0 && len(im.Digests) == 0:
		return true
	case ref.Digest != "":
		// pinned by digest: the digest decides, or the tag when only tags are listed
		return slices.Contains(im.Digests, ref.Digest) || len(im.Digests) == 0 && slices.Contains(im.Tags, ref.Tag)
	default:
		return slices.Contains(im.Tags, ref.Tag)
	}
}

// CreatorAllowed reports whether the inventory allows r's actor to create
// pods in r's namespace through r's channel. Pods made by controllers and
// kubelets are judged by their owner (Imitates), not here. A namespace
// without an entry allows anyone, or, when the inventory is Strict, only
// the trusted identities.
func (inv *Inventory) CreatorAllowed(r *podrecord.Record) bool {
	for _, ns := range inv.Namespaces {
		if ns.Name != r.Namespace {
			continue
		}
		if len(ns.Channels) > 0 && !slices.Contains(ns.Channels, r.Channel) {
			return false
		}
		if len(ns.Creators) == 0 {
			return true
		}
		for _, c := range ns.Creators {
			if ok, _ := path.Match(c, r.Actor.Username); ok {
				return true
			}
		}
		return false
	}
	if inv.Strict {
		for _, c := range inv.TrustedIdentities {
			if ok, _ := path.Match(c, r.Actor.Username); ok {
				return true
			}
		}
		return false
	}
	return true
}

// Imitates returns the approved or system workload whose pods r's name
// imitates without being one of them, or "" when it imitates none. A pod is
// one of a workload's own when its controlling owner is the workload (or its
// ReplicaSet / Job, or the Node for static pods) in the workload's namespace.
func (inv *Inventory) Imitates(r *podrecord.Record) string {
	name := r.Name
	if name == "" {
		name = r.GenerateName
	}
	if name == "" {
		return ""
	}
	base := lookalike.BaseName(name)
	for _, list := range [][]Workload{inv.Workloads, DefaultSystemWorkloads} {
		for _, w := range list {
			if !w.Resembles(name, base) {
				continue
			}
			if w.Owns(r) {
				return ""
			}
			return w.Namespace + "/" + w.Name
		}
	}
	return ""
}

// Resembles: the pod's name (base: lookalike.BaseName of it) is the workload's, derived from it, matches its
// name pattern, or is within a small edit distance of it (kube-proxx,
// kube-prxoy, coredns1).
func (w *Workload) Resembles(name, base string) bool {
	workload := w.Name
	if base == workload || name == workload || hasDashPrefix(name, workload) {
		return true
	}
	if w.NamePattern != "" {
		if ok, _ := path.Match(w.NamePattern, name); ok {
			return true
		}
	}
	return lookalike.NearMiss(base, workload)
}

// Owns reports whether r is one of the workload's own pods: its controlling
// owner is the workload (or its ReplicaSet / Job, or the Node for static
// pods) in the workload's namespace.
func (w *Workload) Owns(r *podrecord.Record) bool {
	if r.Namespace != w.Namespace || r.Owner.Kind == "" {
		return false
	}
	switch r.Owner.Kind {
	case "ReplicaSet", "Job":
		// Deployment → ReplicaSet <name>-<hash>; CronJob → Job <name>-<schedule time>
		base := lookalike.BaseName(r.Owner.Name)
		return base == w.Name || r.Owner.Name == w.Name || w.controllerNamed(base)
	case "Node":
		return w.Kind == "Node"
	default:
		return r.Owner.Kind == w.Kind && (r.Owner.Name == w.Name || w.controllerNamed(r.Owner.Name))
	}
}

// controllerNamed: name matches one of the workload's controller_names.
func (w *Workload) controllerNamed(name string) bool {
	for _, p := range w.ControllerNames {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func validGlob(p string) bool {
	_, err := path.Match(p, "")
	return err == nil
}

// validateLineage checks one inventory file's lineage declarations: layers
// are sha256 digests, signed_by names no empty key, each signing key parses.
func validateLineage(inv *Inventory) error {
	for i := range inv.Images {
		for j, l := range inv.Images[i].Layers {
			if !validDigest(l) {
				return fmt.Errorf("images[%d] (%s): layers[%d]: %q is not a sha256 digest", i, inv.Images[i].Repository, j, l)
			}
		}
		for _, k := range inv.Images[i].SignedBy {
			if k == "" {
				return fmt.Errorf("images[%d] (%s): signed_by: empty key name", i, inv.Images[i].Repository)
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(inv.SigningKeys)) {
		if _, err := cosign.ParsePublicKey(inv.SigningKeys[n]); err != nil {
			return fmt.Errorf("signing_keys[%s]: %w", n, err)
		}
	}
	return nil
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// hasDashPrefix: s is prefix, a dash, and more.
func hasDashPrefix(s, prefix string) bool {
	return len(s) > len(prefix) && s[len(prefix)] == '-' && s[:len(prefix)] == prefix
}

// matchRepository is path.Match with the inventory's one extension: a
// pattern ending in /** matches what its head matches followed by / and
// anything, across / (registry.k8s.io/** is every repository there).
// internal/rules compiles the same patterns for its indexes.
func matchRepository(pattern, repo string) bool {
	if head, ok := strings.CutSuffix(pattern, "/**"); ok && head != "" {
		for i := 0; i < len(repo)-1; i++ {
			if repo[i] == '/' && matchRepository(head, repo[:i]) {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(pattern, repo)
	return ok
}
