// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/podtrail/podtrail/internal/inventory"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// BaselineOptions tune Engine.Baseline.
type BaselineOptions struct {
	// Hold is the lowest severity of a finding that keeps a record out of
	// the proposal (it is listed for review instead); "" means high. A
	// masquerade raises high or critical findings: learning from it would
	// approve it.
	Hold string
	// Pin proposes images with the tags and digests seen; off, a
	// repository alone (any tag), so that the next release is no finding.
	Pin bool
	// DeployChannels are the channels whose people and service accounts
	// are proposed as trusted identities; nil means helm, argocd, flux,
	// terraform, ci.
	DeployChannels []string
}

// Baseline is a proposed site inventory: what the records show that the
// engine's inventory does not approve yet, for a person to review and
// merge after it (never applied by itself).
type Baseline struct {
	Records int // records read (pod creations; updates and pre-existing pods are not)
	Learned int // records learned from
	// Held are the records left out for review: they raised a finding of
	// Hold severity or above.
	Held []HeldRecord
	// Proposal holds only what the inventory lacks; merged after it,
	// the learned records are approved.
	Proposal *inventory.Inventory
	// Diff lists each proposed entry, one line each ("+ workload ..."),
	// and the images left out as lookalikes ("? image ...").
	Diff []string
	// Lookalikes are learned image repositories that imitate another
	// learned or approved one (ghcr.io/acme-corp/cart beside ghcr.io/acme):
	// left out of the proposal, written in it as comments, for a person to
	// decide. Each is "repository: what it imitates".
	Lookalikes []string
	// Before and After count the findings of medium severity or above on
	// the learned records with the inventory alone, and with the proposal
	// merged after it.
	Before, After int
}

// HeldRecord is a record the baseline did not learn from, and why.
type HeldRecord struct {
	Pod      string // namespace/name
	Actor    string
	Findings []string // "PT-0002 critical", ...
}

func severityRank(s string) int { return slices.Index(severities, s) }

// Baseline proposes a site inventory from records (learning mode over
// exported records; podtrail-rules baseline): the workloads at the top of
// the owner chains, the image repositories, each namespace's people and
// service accounts who created pods directly and through which channels,
// and the people and service accounts that created pods through a
// deployment tool as trusted identities — less what the engine's inventory
// already approves. Records that raise a finding of opts.Hold severity or
// above are not learned from but listed in Held. Only allowed creates
// through the API are learned from (Learner).
func (e *Engine) Baseline(records []*podrecord.Record, opts BaselineOptions) (*Baseline, error) {
	hold := severityRank(opts.Hold)
	if opts.Hold == "" {
		hold = severityRank("high")
	}
	if hold < 0 {
		return nil, fmt.Errorf("hold: %q is not one of %s", opts.Hold, strings.Join(severities, ", "))
	}
	channels := opts.DeployChannels
	if channels == nil {
		channels = []string{"helm", "argocd", "flux", "terraform", "ci"}
	}
	b := &Baseline{}
	l := inventory.NewLearner()
	var learned []*podrecord.Record
	trusted := map[string]bool{}
	for _, r := range records {
		if r.Update != "" || r.Origin == podrecord.OriginPreexisting || r.Origin == podrecord.OriginCreateUnseen {
			continue
		}
		b.Records++
		fs, _ := e.Evaluate(r)
		var held []string
		for _, f := range fs {
			if severityRank(f.Severity) >= hold {
				held = append(held, f.RuleID+" "+f.Severity)
			}
		}
		if len(held) > 0 {
			actor := r.Actor.Username
			if actor == "" {
				actor = "(no actor)"
			}
			b.Held = append(b.Held, HeldRecord{Pod: r.DisplayName(), Actor: actor, Findings: held})
			continue
		}
		if !r.Allowed || r.Origin == podrecord.OriginNodeOnly {
			continue
		}
		b.Learned++
		learned = append(learned, r)
		l.Observe(r)
		if person := r.Actor.Kind == podrecord.ActorUser || r.Actor.Kind == podrecord.ActorServiceAccount; person &&
			slices.Contains(channels, r.Channel) && r.Actor.Username != "" && !e.index.trustedIdentity(r) {
			trusted[r.Actor.Username] = true
		}
	}
	b.Proposal = e.newOnly(l.Proposal(nil), learned, opts.Pin)
	b.Proposal.TrustedIdentities = slices.Sorted(maps.Keys(trusted))
	b.Proposal.Images, b.Lookalikes = e.groupImages(b.Proposal.Images)
	b.Diff = diffLines(b.Proposal)
	for _, l := range b.Lookalikes {
		b.Diff = append(b.Diff, "? image     "+l+" (left out: a lookalike; approve it only after checking)")
	}

	// Before and after, on the records learned from.
	merged := &inventory.Inventory{}
	merged.Merge(e.inventory)
	merged.Merge(b.Proposal)
	merged.Finish()
	after, err := e.withInventory(merged)
	if err != nil {
		return nil, err
	}
	b.Before, b.After = countFindings(e, learned, "medium"), countFindings(after, learned, "medium")
	return b, nil
}

// groupImages makes one glob of the repositories an organisation has on a
// registry when two or more were learned (ghcr.io/acme/frontend and
// ghcr.io/acme/payments: ghcr.io/acme/*; not docker.io/library, every
// official image), so that a decorated organisation is a lookalike of it
// (PT-0022); and leaves out the repositories that imitate another learned
// or approved one.
func (e *Engine) groupImages(ims []inventory.Image) ([]inventory.Image, []string) {
	byOrg := map[string][]int{}
	for i, im := range ims {
		if len(im.Tags)+len(im.Digests) > 0 {
			continue // pinned: kept as it is
		}
		host, p, _ := strings.Cut(im.Repository, "/")
		org, rest, ok := strings.Cut(p, "/")
		if !ok || rest == "" || im.Repository == "docker.io/library/"+rest || strings.ContainsAny(im.Repository, "*?[") {
			continue
		}
		byOrg[host+"/"+org] = append(byOrg[host+"/"+org], i)
	}
	var out []inventory.Image
	grouped := map[int]bool{}
	for _, org := range slices.Sorted(maps.Keys(byOrg)) {
		if idx := byOrg[org]; len(idx) >= 2 {
			out = append(out, inventory.Image{Repository: org + "/*"})
			for _, i := range idx {
				grouped[i] = true
			}
		}
	}
	for i, im := range ims {
		if !grouped[i] {
			out = append(out, im)
		}
	}
	// the references an image may imitate: the proposal's and the
	// inventory's
	refs := make([]repoRef, 0, len(out)+len(e.index.refs))
	for _, im := range out {
		refs = append(refs, refOf(im.Repository))
	}
	for _, r := range e.index.refs {
		refs = append(refs, r.repoRef)
	}
	var kept []inventory.Image
	var lookalikes []string
	for _, im := range out {
		if strings.ContainsAny(im.Repository, "*?[") {
			kept = append(kept, im)
			continue
		}
		parts := partsOf(im.Repository)
		imitates := ""
		for i := range refs {
			if repoLookalike(im.Repository, &parts, &refs[i]) {
				imitates = refs[i].repo
				if refs[i].prefix {
					imitates += "/*"
				}
				break
			}
		}
		if imitates != "" {
			lookalikes = append(lookalikes, im.Repository+": imitates "+imitates)
			continue
		}
		kept = append(kept, im)
	}
	return kept, lookalikes
}

// withInventory compiles the engine's rules again against inv.
func (e *Engine) withInventory(inv *inventory.Inventory) (*Engine, error) {
	return compileSources(e.sources, inv, true)
}

func countFindings(e *Engine, recs []*podrecord.Record, atLeast string) int {
	min, n := severityRank(atLeast), 0
	for _, r := range recs {
		fs, _ := e.Evaluate(r)
		for _, f := range fs {
			if severityRank(f.Severity) >= min {
				n++
			}
		}
	}
	return n
}

// newOnly keeps of a learned inventory what the engine's does not have:
// workloads it does not list (nor the defaults), image repositories no
// images entry decides (or, decided, a tag or digest it does not allow,
// with pin), namespaces' creators the namespace does not allow (people and
// service accounts only: controllers and nodes are judged by their owner).
func (e *Engine) newOnly(p *inventory.Inventory, learned []*podrecord.Record, pin bool) *inventory.Inventory {
	ix := e.index
	out := &inventory.Inventory{}
	for _, w := range p.Workloads {
		known := false
		for _, i := range ix.names.byName[w.Name] {
			if ix.workloads[i].Namespace == w.Namespace {
				known = true // listed, under this kind or another
				break
			}
		}
		if !known {
			out.Workloads = append(out.Workloads, w)
		}
	}
	for _, im := range p.Images {
		decided, allowed := false, true
		for range ix.deciding(im.Repository) {
			decided = true
			break
		}
		if decided {
			var tags, digests []string
			for _, t := range im.Tags {
				if !ix.approved(ImageRef{Repository: im.Repository, Tag: t}) {
					tags, allowed = append(tags, t), false
				}
			}
			for _, d := range im.Digests {
				if !ix.approved(ImageRef{Repository: im.Repository, Digest: d}) {
					digests, allowed = append(digests, d), false
				}
			}
			if !allowed {
				out.Images = append(out.Images, inventory.Image{Repository: im.Repository, Tags: tags, Digests: digests})
			}
			continue
		}
		if pin {
			out.Images = append(out.Images, im)
		} else {
			out.Images = append(out.Images, inventory.Image{Repository: im.Repository})
		}
	}
	// creators and channels, of people and service accounts only
	type nsUse struct{ creators, channels map[string]bool }
	uses := map[string]*nsUse{}
	for _, r := range learned {
		if r.Actor.Kind != podrecord.ActorUser && r.Actor.Kind != podrecord.ActorServiceAccount {
			continue
		}
		if ix.creatorAllowed(r) && ix.ns[r.Namespace] != nil {
			continue // the namespace's entry already allows it
		}
		u := uses[r.Namespace]
		if u == nil {
			u = &nsUse{map[string]bool{}, map[string]bool{}}
			uses[r.Namespace] = u
		}
		u.creators[r.Actor.Username] = true
		if r.Channel != "" {
			u.channels[r.Channel] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(uses)) {
		u := uses[name]
		n := inventory.Namespace{Name: name, Creators: slices.Sorted(maps.Keys(u.creators))}
		// a namespace that lists channels keeps them; one that does not
		// would be restricted to the channels seen
		if ns := ix.ns[name]; ns != nil && len(ns.Channels) > 0 || ns == nil {
			n.Channels = slices.Sorted(maps.Keys(u.channels))
		}
		out.Namespaces = append(out.Namespaces, n)
	}
	return out
}

// diffLines lists the entries of a proposal, one line each.
func diffLines(inv *inventory.Inventory) []string {
	var out []string
	for _, w := range inv.Workloads {
		l := fmt.Sprintf("+ workload  %s/%s %s", w.Namespace, w.Name, w.Kind)
		if w.ServiceAccount != "" {
			l += " service_account=" + w.ServiceAccount
		}
		out = append(out, l)
	}
	for _, im := range inv.Images {
		l := "+ image     " + im.Repository
		if len(im.Tags) > 0 {
			l += " tags=" + strings.Join(im.Tags, ",")
		}
		if len(im.Digests) > 0 {
			l += " digests=" + strings.Join(im.Digests, ",")
		}
		out = append(out, l)
	}
	for _, ns := range inv.Namespaces {
		l := "+ namespace " + ns.Name + " creators=" + strings.Join(ns.Creators, ",")
		if len(ns.Channels) > 0 {
			l += " channels=" + strings.Join(ns.Channels, ",")
		}
		out = append(out, l)
	}
	for _, id := range inv.TrustedIdentities {
		out = append(out, "+ trusted   "+id)
	}
	return out
}

// YAML writes the proposal as an inventory file headed by what it was
// learned from and what was held back, which loads with inventory.Parse.
func (b *Baseline) YAML() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# podtrail inventory PROPOSAL (podtrail-rules baseline): learned from %d of %d pod-creation records,\n", b.Learned, b.Records)
	buf.WriteString("# only what the inventory it was run against lacks. Not applied: review every entry, then merge\n")
	buf.WriteString("# it after that inventory (processor rules.inventory_files, podtrail-rules --inventory).\n")
	fmt.Fprintf(&buf, "# Findings of medium or above on the learned records: %d with the inventory, %d with this merged after it.\n", b.Before, b.After)
	if len(b.Held) > 0 {
		fmt.Fprintf(&buf, "# Held back, not learned from (%d records; investigate before approving anything of theirs):\n", len(b.Held))
		for _, h := range b.Held {
			fmt.Fprintf(&buf, "#   %s by %s: %s\n", h.Pod, h.Actor, strings.Join(h.Findings, ", "))
		}
	}
	if len(b.Lookalikes) > 0 {
		buf.WriteString("# Learned images left out as lookalikes of others (uncomment under images: only after checking):\n")
		for _, l := range b.Lookalikes {
			repo, why, _ := strings.Cut(l, ": ")
			fmt.Fprintf(&buf, "#   - repository: %s   # %s\n", repo, why)
		}
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(b.Proposal); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
