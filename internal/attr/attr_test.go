// SPDX-License-Identifier: Apache-2.0

package attr

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// declared is every string constant of this package by value, and the
// values of the *Prefix constants.
func declared(t *testing.T) (keys map[string]string, prefixes []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "attr.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := new(types.Config).Check("attr", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys = map[string]string{}
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok || c.Val().Kind() != constant.String {
			continue
		}
		v := constant.StringVal(c.Val())
		keys[v] = name
		if strings.HasSuffix(name, "Prefix") {
			prefixes = append(prefixes, v)
		}
	}
	return keys, prefixes
}

// TestOneVocabulary: no Go file outside this package and tests spells a
// "podtrail." key or event name as a literal; every podtrail.* name the
// SIEM mappings read is declared here (a constant, or under a *Prefix
// constant).
func TestOneVocabulary(t *testing.T) {
	root := filepath.Join("..", "..")
	keys, prefixes := declared(t)
	var literals []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "e2e", "internal/attr", ".git", "bin", "out":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
				if v, err := strconv.Unquote(l.Value); err == nil && strings.HasPrefix(v, Prefix) {
					literals = append(literals, rel+": "+l.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(literals) > 0 {
		t.Errorf("podtrail names spelt outside internal/attr (use its constants):\n%s", strings.Join(literals, "\n"))
	}

	siem, err := filepath.Glob(filepath.Join(root, "distributions", "otelcol-podtrail", "siem", "*.yaml"))
	if err != nil || len(siem) == 0 {
		t.Fatalf("no SIEM mappings: %v", err)
	}
	name := regexp.MustCompile(`"(podtrail\.[a-z0-9_.]+)"`)
	var unknown []string
	checked := 0
	for _, path := range siem {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllStringSubmatch(string(b), -1) {
			checked++
			if _, ok := keys[m[1]]; ok || underPrefix(m[1], prefixes) {
				continue
			}
			unknown = append(unknown, filepath.Base(path)+": "+m[1])
		}
	}
	t.Logf("%d podtrail names in %d SIEM mappings checked against %d declared", checked, len(siem), len(keys))
	if checked == 0 {
		t.Error("no podtrail name found in the SIEM mappings")
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("the SIEM mappings read names internal/attr does not declare:\n%s", strings.Join(unknown, "\n"))
	}
}

func underPrefix(k string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(k, p) && len(k) > len(p) {
			return true
		}
	}
	return false
}
