package rules

import (
	"path"
	"strings"
)

// glob is a compiled path.Match pattern: literal patterns compare, patterns
// that are a literal followed by one * compare a prefix, and only the rest
// run path.Match. Same results as path.Match, for valid patterns.
type glob struct {
	pattern string
	lit     string // the literal, or the prefix before the final *
	kind    uint8
}

const (
	globLiteral uint8 = iota
	globPrefix
	globGeneral
)

func compileGlob(p string) glob {
	i := strings.IndexAny(p, `*?[\`)
	switch {
	case i < 0:
		return glob{pattern: p, lit: p, kind: globLiteral}
	case i == len(p)-1 && p[i] == '*':
		return glob{pattern: p, lit: p[:i], kind: globPrefix}
	}
	return glob{pattern: p, kind: globGeneral}
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globLiteral:
		return s == g.lit
	case globPrefix:
		// * matches any run of characters but /
		return strings.HasPrefix(s, g.lit) && strings.IndexByte(s[len(g.lit):], '/') < 0
	}
	ok, _ := path.Match(g.pattern, s)
	return ok
}

func compileGlobs(ps []string) []glob {
	out := make([]glob, len(ps))
	for i, p := range ps {
		out[i] = compileGlob(p)
	}
	return out
}

func matchAny(gs []glob, s string) bool {
	for i := range gs {
		if gs[i].match(s) {
			return true
		}
	}
	return false
}
