package correlate

import (
	"strings"

	"github.com/podtrail/podtrail/internal/noderuntime"
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
	k := ev.Node + "|" + normalizeImage(ev.Image)
	if _, ok := im.m[k]; !ok {
		im.order = append(im.order, k)
	}
	im.m[k] = imageDigest{d, string(ev.Source)}
	for len(im.m) > im.max {
		delete(im.m, im.order[0])
		im.order = im.order[1:]
	}
}

func (im *images) lookup(node, image string) (digest, source string) {
	if image == "" {
		return "", ""
	}
	d := im.m[node+"|"+normalizeImage(image)]
	return d.digest, d.source
}

// normalizeImage makes nginx:1.27, docker.io/nginx:1.27 and
// docker.io/library/nginx:1.27 one key, as the runtime does.
func normalizeImage(ref string) string {
	name, tag := ref, ""
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		name = ref[:i]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	if tag == "" {
		tag = "latest"
	}
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !strings.ContainsAny(first, ".:") && first != "localhost" {
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	return strings.ToLower(name) + ":" + tag
}
