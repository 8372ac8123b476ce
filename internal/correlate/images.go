package correlate

import (
	"strings"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/rules"
)

// images remembers, per node, the repo digest the runtime resolved each
// image reference to (pull and image status lines), bounded FIFO.
type images struct {
	max   int
	m     map[string]imageDigest // node|reference
	order []string
}

type imageDigest struct{ digest, source string }

func newImages(max int) *images { return &images{max: max, m: map[string]imageDigest{}} }

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
	if !ok {
		im.order = append(im.order, k)
	}
	if !ok || old.digest != d || old.source != string(ev.Source) {
		im.m[k] = imageDigest{strings.Clone(d), string(ev.Source)} // d: a piece of the event's line
	}
	for len(im.m) > im.max {
		delete(im.m, im.order[0])
		im.order = im.order[1:]
	}
}

func (im *images) lookup(node, image string) (digest, source string) {
	if image == "" {
		return "", ""
	}
	d := im.m[imageKey(node, image)]
	return d.digest, d.source
}

// imageKey makes nginx:1.27, docker.io/library/nginx:1.27 and
// index.docker.io/library/nginx:1.27 one key, as the runtime does.
func imageKey(node, image string) string {
	ref := rules.ParseImage(image)
	return node + "|" + ref.Repository + ":" + ref.Tag
}
