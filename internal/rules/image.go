package rules

import "strings"

// ImageRef is a parsed container image reference.
type ImageRef struct {
	// Repository is registry/path, normalised the way the container runtime
	// does: "nginx" is docker.io/library/nginx.
	Repository string `expr:"repository"`
	Tag        string `expr:"tag"`
	Digest     string `expr:"digest"`
}

// ParseImage parses an image reference such as nginx:1.27,
// ghcr.io/acme/app@sha256:..., or localhost:5000/x/y:tag@sha256:....
func ParseImage(ref string) ImageRef {
	var out ImageRef
	name := ref
	if i := strings.IndexByte(name, '@'); i >= 0 {
		out.Digest = name[i+1:]
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i:], "/") {
		out.Tag = name[i+1:]
		name = name[:i]
	}
	if out.Tag == "" && out.Digest == "" {
		out.Tag = "latest"
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	case first == "index.docker.io":
		name = "docker.io/" + rest
	}
	out.Repository = strings.ToLower(name)
	return out
}
