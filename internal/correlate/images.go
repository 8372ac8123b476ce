// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"sort"
	"strings"

	"github.com/podtrail/podtrail/internal/imageref"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// images remembers, per node, the repo digest the runtime resolved each
// image reference to (pull and image status lines) and which line told it
// (digestSource), bounded FIFO.
type images struct {
	max   int
	m     map[string]imageDigest // node|reference
	order []string
	// persistent: changed keys (dirty) and every key by shard (ids) are
	// tracked for Persist, as the owners' are.
	persistent bool
	dirty      map[string]bool
	ids        shardSet
	seq        uint64
}

type imageDigest struct {
	Digest string `json:"digest"`
	Source string `json:"source"`
	seq    uint64 // order of observation, for Restore
}

func newImages(max int, persistent bool) *images {
	return &images{max: max, m: map[string]imageDigest{}, persistent: persistent, dirty: map[string]bool{}}
}

func (im *images) observe(ev *noderuntime.Event) {
	d := ev.RepoDigest
	if i := strings.LastIndex(d, "@"); i >= 0 {
		d = d[i+1:]
	}
	if d == "" || ev.Image == "" {
		return
	}
	k := imageKey(ev.Node, ev.Image)
	old, ok := im.m[k]
	src := digestSource(ev)
	if ok && old.Digest == d && old.Source == src {
		return
	}
	if !ok {
		im.order = append(im.order, k)
	}
	im.seq++
	im.m[k] = imageDigest{Digest: strings.Clone(d), Source: src, seq: im.seq} // d: a piece of the event's line
	im.changed(k, !ok)
	for len(im.m) > im.max {
		delete(im.m, im.order[0])
		im.changed(im.order[0], false)
		im.order = im.order[1:]
	}
}

func (im *images) changed(k string, added bool) {
	if !im.persistent {
		return
	}
	im.dirty[k] = true
	if _, ok := im.m[k]; !ok {
		im.ids.remove(k)
	} else if added {
		im.ids.add(k)
	}
}

// restore puts back what Persist wrote, oldest first.
func (im *images) restore(all map[string]imageDigest) {
	keys := make([]string, 0, len(all))
	for k, d := range all {
		im.m[k] = d
		im.ids.add(k)
		keys = append(keys, k)
		im.seq = max(im.seq, d.seq)
	}
	sort.Slice(keys, func(i, j int) bool { return all[keys[i]].seq < all[keys[j]].seq })
	im.order = append(im.order, keys...)
}

// digestSource names the kind of line a node image event came from
// (podrecord.Container.DigestSource). containerd's ImageCreate of
// repo@sha256 during a pull (containerd 1.6 logs no other line with the
// repo digest) is the one image_pulled event without an image id: "Pulled
// image" lines carry both, CRI-O's "Pulled image: repo@sha256" is a pull.
func digestSource(ev *noderuntime.Event) string {
	switch {
	case ev.Kind == noderuntime.KindImagePresent:
		return podrecord.DigestImageStatus
	case ev.Source == noderuntime.SourceContainerd && ev.ImageID == "":
		return podrecord.DigestImageCreate
	}
	return podrecord.DigestRuntimePull
}

func (im *images) lookup(node, image string) (digest, source string) {
	if image == "" {
		return "", ""
	}
	d := im.m[imageKey(node, image)]
	return d.Digest, d.Source
}

// imageKey makes nginx:1.27, docker.io/nginx:1.27,
// docker.io/library/nginx:1.27 and index.docker.io/library/nginx:1.27 one
// key, as the runtime does (imageref).
func imageKey(node, image string) string {
	ref := imageref.ParseCached(image)
	return node + "|" + ref.Repository + ":" + ref.Tag
}
