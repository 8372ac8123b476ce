// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"path"
	"strings"
)

// glob is a compiled path.Match pattern: literal patterns compare, patterns
// that are a literal followed by one * compare a prefix, and only the rest
// run path.Match. Same results as path.Match, for valid patterns, but for
// one extension: a pattern ending in /** matches what its head matches
// followed by / and anything, across / (registry.k8s.io/** is every
// repository on registry.k8s.io).
type glob struct {
	pattern string
	lit     string // the literal, or the prefix before the final *
	kind    uint8
	parent  *glob // globTree: the pattern before /**
}

const (
	globLiteral uint8 = iota
	globPrefix
	globGeneral
	globTree
)

func compileGlob(p string) glob {
	if head, ok := strings.CutSuffix(p, "/**"); ok && head != "" {
		parent := compileGlob(head)
		return glob{pattern: p, kind: globTree, parent: &parent}
	}
	i := strings.IndexAny(p, `*?[\`)
	switch {
	case i < 0:
		return glob{pattern: p, lit: p, kind: globLiteral}
	case i == len(p)-1 && p[i] == '*':
		return glob{pattern: p, lit: p[:i], kind: globPrefix}
	}
	// lit: the literal text before the first wildcard, which every match
	// starts with (602401143452.dkr.ecr. of 602401143452.dkr.ecr.*.amazonaws.com)
	return glob{pattern: p, lit: p[:i], kind: globGeneral}
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globLiteral:
		return s == g.lit
	case globPrefix:
		// * matches any run of characters but /
		return strings.HasPrefix(s, g.lit) && strings.IndexByte(s[len(g.lit):], '/') < 0
	case globTree:
		if g.parent.kind == globLiteral {
			return hasSepPrefix(s, g.parent.lit, '/')
		}
		if !strings.HasPrefix(s, g.parent.lit) {
			return false // every match starts with the head's literal text
		}
		for i := len(g.parent.lit); i < len(s)-1; i++ {
			if s[i] == '/' && g.parent.match(s[:i]) {
				return true
			}
		}
		return false
	}
	if !strings.HasPrefix(s, g.lit) {
		return false
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

// validGlob: p is a pattern path.Match takes.
func validGlob(p string) bool {
	_, err := path.Match(p, "")
	return err == nil
}
