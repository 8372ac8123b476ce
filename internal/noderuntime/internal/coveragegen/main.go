// SPDX-License-Identifier: Apache-2.0

// Command coveragegen lists the log statements and kubelet event reasons
// that state a pod-lifecycle fact (a sandbox requested, ready, failed,
// stopped or removed; a container created, started, failed, exited or
// removed; an image pull started, done, failed or not needed), read from
// the daemons' own Go sources: the kubelet (k8s.io/kubernetes, the event
// logging of k8s.io/client-go's record package, k8s.io/cri-client),
// containerd's CRI plugin (github.com/containerd/containerd 1.x,
// github.com/containerd/containerd/v2), and source trees given by path
// (CRI-O and cri-dockerd, whose modules the proxy refuses: check them out
// with git and pass label@version=dir).
//
// It is the candidate list behind internal/noderuntime/COVERAGE.md:
//
//	go run ./internal/noderuntime/internal/coveragegen -download            # default versions
//	go run ./internal/noderuntime/internal/coveragegen k8s.io/kubernetes@v1.37.2 k8s.io/client-go@v0.37.2
//	go run ./internal/noderuntime/internal/coveragegen -check internal/noderuntime/COVERAGE.md
//	go run ./internal/noderuntime/internal/coveragegen defaults crio@v1.36.3=git:/path/to/cri-o.git cri-dockerd@v0.4.3=/path/to/cri-dockerd
//
// Statements are found with go/parser, not by regular expression over the
// text: calls of klog, logr, logrus and containerd's log package with a
// constant message (a literal, a concatenation of literals, fmt.Sprintf of a
// literal, or a local variable assigned one of those), and calls that pass a
// kubelet event reason (events.PulledImage, ...), whose message is the next
// constant argument. A statement is a candidate when a rule below says which
// lifecycle fact it states. -all prints every statement that mentions a
// sandbox, container, image or pod and matched no rule, to review the rules
// against a new version. -check FILE exits 1 when a candidate statement is
// not in FILE (each statement appears there in backquotes).
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// defaultModules are the versions COVERAGE.md was made from.
var defaultModules = []string{
	"k8s.io/kubernetes@v1.23.17", // the last release with dockershim
	"k8s.io/kubernetes@v1.27.16",
	"k8s.io/kubernetes@v1.28.15",
	"k8s.io/kubernetes@v1.29.6",
	"k8s.io/kubernetes@v1.30.14",
	"k8s.io/kubernetes@v1.31.14",
	"k8s.io/kubernetes@v1.32.13",
	"k8s.io/kubernetes@v1.33.13",
	"k8s.io/kubernetes@v1.34.4",
	"k8s.io/kubernetes@v1.35.4",
	"k8s.io/kubernetes@v1.36.3",
	"k8s.io/client-go@v0.23.17", // the kubelet's event logging
	"k8s.io/client-go@v0.27.16",
	"k8s.io/client-go@v0.28.15",
	"k8s.io/client-go@v0.29.6",
	"k8s.io/client-go@v0.30.14",
	"k8s.io/client-go@v0.31.14",
	"k8s.io/client-go@v0.32.13",
	"k8s.io/client-go@v0.33.13",
	"k8s.io/client-go@v0.34.4",
	"k8s.io/client-go@v0.35.4",
	"k8s.io/client-go@v0.36.3",
	"k8s.io/cri-client@v0.31.14", // the kubelet's CRI client from 1.31
	"k8s.io/cri-client@v0.32.13",
	"k8s.io/cri-client@v0.33.13",
	"k8s.io/cri-client@v0.34.4",
	"k8s.io/cri-client@v0.35.4",
	"k8s.io/cri-client@v0.36.3",
	"github.com/containerd/containerd@v1.6.36",
	"github.com/containerd/containerd@v1.7.35",
	"github.com/containerd/containerd/v2@v2.0.14",
	"github.com/containerd/containerd/v2@v2.1.9",
	"github.com/containerd/containerd/v2@v2.2.10",
	"github.com/containerd/containerd/v2@v2.3.7",
	"github.com/containerd/containerd/v2@v2.4.2",
}

// component says which daemon a source tree is and where its statements are.
type component struct {
	name string   // kubelet, containerd, crio, cri-dockerd
	dirs []string // relative to the tree; "" = all of it
}

func componentOf(path string) (component, bool) {
	switch path {
	case "k8s.io/kubernetes":
		return component{"kubelet", []string{"pkg/kubelet", "cmd/kubelet"}}, true
	case "k8s.io/client-go":
		return component{"kubelet", []string{"tools/record"}}, true
	case "k8s.io/cri-client":
		return component{"kubelet", []string{"pkg"}}, true
	case "github.com/containerd/containerd", "github.com/containerd/containerd/v2":
		return component{"containerd", []string{"pkg/cri", "internal/cri", "plugins/cri", "cmd/containerd/server", "cmd/containerd/command"}}, true
	case "crio", "github.com/cri-o/cri-o":
		return component{"crio", []string{"server", "internal", "pkg"}}, true
	case "cri-dockerd", "github.com/Mirantis/cri-dockerd":
		return component{"cri-dockerd", []string{"core", "streaming", "libdocker", "cmd", "backend", "network", "store", "utils", "config"}}, true
	}
	return component{}, false
}

// source is one version of one component's tree.
type source struct {
	comp    component
	module  string // module path or label
	version string
	dir     string
}

// stmt is one log statement or event as found in one version.
type stmt struct {
	comp    string
	fact    string
	level   string // info, info v=4, error, event Normal, ...
	text    string // the statement as COVERAGE.md quotes it
	reason  string // kubelet event reason
	file    string
	line    int
	version string
}

func main() {
	download := flag.Bool("download", false, "fetch missing modules with go mod download (in a temporary module)")
	all := flag.Bool("all", false, "also print statements about pods, sandboxes, containers and images that match no rule")
	check := flag.String("check", "", "exit 1 if a candidate statement is missing from this file (COVERAGE.md)")
	modcache := flag.String("modcache", "", "module cache (default: go env GOMODCACHE)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: coveragegen [-download] [-all] [-check COVERAGE.md] [module@version | label@version=dir ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	var args []string
	for _, a := range flag.Args() {
		if a == "defaults" {
			args = append(args, defaultModules...)
			continue
		}
		args = append(args, a)
	}
	if len(args) == 0 {
		args = defaultModules
	}
	if *modcache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			fatal(err)
		}
		*modcache = strings.TrimSpace(string(out))
	}
	var srcs []source
	for _, a := range args {
		s, err := resolve(a, *modcache, *download)
		if err != nil {
			fmt.Fprintln(os.Stderr, "coveragegen:", err)
			continue
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 {
		fatal(errors.New("no source found"))
	}
	var found, other []stmt
	for _, s := range srcs {
		st, o, err := scan(s)
		if err != nil {
			fatal(err)
		}
		found = append(found, st...)
		other = append(other, o...)
	}
	cleanup()
	cands := merge(found, srcs)
	if *check != "" {
		os.Exit(checkFile(*check, cands))
	}
	printTable(os.Stdout, cands, srcs)
	if *all {
		fmt.Println()
		fmt.Println("## Statements that match no rule")
		fmt.Println()
		printTable(os.Stdout, merge(other, srcs), srcs)
	}
}

func fatal(err error) {
	cleanup()
	fmt.Fprintln(os.Stderr, "coveragegen:", err)
	os.Exit(2)
}

// resolve finds the tree of "module@version" in the module cache (fetching
// it with -download) or takes "label@version=dir" as given.
func resolve(arg, modcache string, download bool) (source, error) {
	spec, dir, hasDir := strings.Cut(arg, "=")
	mod, ver, ok := strings.Cut(spec, "@")
	if !ok || ver == "" {
		return source{}, fmt.Errorf("%q: want module@version or label@version=dir", arg)
	}
	comp, ok := componentOf(mod)
	if !ok {
		return source{}, fmt.Errorf("%q: unknown module (kubelet: k8s.io/kubernetes, k8s.io/client-go, k8s.io/cri-client; containerd: github.com/containerd/containerd[/v2]; trees: crio, cri-dockerd)", mod)
	}
	if gitDir, ok := strings.CutPrefix(dir, "git:"); hasDir && ok {
		d, err := gitExtract(gitDir, ver, comp)
		if err != nil {
			return source{}, err
		}
		dir = d
	}
	if !hasDir {
		dir = filepath.Join(modcache, escapePath(mod)+"@"+ver)
		if _, err := os.Stat(dir); err != nil && download {
			if err := goModDownload(spec); err != nil {
				return source{}, err
			}
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return source{}, fmt.Errorf("%s not in the module cache (go mod download -json %s, or -download)", spec, spec)
	}
	return source{comp: comp, module: mod, version: ver, dir: dir}, nil
}

// escapePath is the module cache's case encoding (!x for X).
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tmpDirs are removed at exit.
var tmpDirs []string

// gitExtract writes the Go files of the component's directories at tag from
// a git repository (a mirror, bare or not) into a temporary directory.
func gitExtract(gitDir, tag string, comp component) (string, error) {
	tmp, err := os.MkdirTemp("", "coveragegen-"+comp.name+"-"+tag+"-")
	if err != nil {
		return "", err
	}
	tmpDirs = append(tmpDirs, tmp)
	// Only the component's directories: a mirror may lack large vendored
	// blobs, which git archive of the whole tree would fail on.
	ls, err := exec.Command("git", "--git-dir="+gitDir, "ls-tree", "--name-only", tag).Output()
	if err != nil {
		return "", fmt.Errorf("git ls-tree %s %s: %v", gitDir, tag, err)
	}
	top := strings.Fields(string(ls))
	gargs := []string{"--git-dir=" + gitDir, "archive", "--format=tar", tag, "--"}
	for _, d := range comp.dirs {
		first, _, _ := strings.Cut(d, "/")
		if contains(top, first) {
			gargs = append(gargs, d)
		}
	}
	cmd := exec.Command("git", gargs...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // a mirror's missing blobs outside the pathspecs are reported, harmlessly
	if err := cmd.Start(); err != nil {
		return "", err
	}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("git archive %s %s: %v", gitDir, tag, err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".go") || strings.Contains(h.Name, "/vendor/") || strings.HasPrefix(h.Name, "vendor/") {
			continue
		}
		keep := false
		for _, d := range comp.dirs {
			keep = keep || strings.HasPrefix(h.Name, d+"/")
		}
		if !keep {
			continue
		}
		dst := filepath.Join(tmp, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return "", err
		}
	}
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git archive %s %s: %v\n%s", gitDir, tag, err, stderr.Bytes())
	}
	return tmp, nil
}

func cleanup() {
	for _, d := range tmpDirs {
		os.RemoveAll(d)
	}
}

func goModDownload(spec string) error {
	tmp, err := os.MkdirTemp("", "coveragegen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module coveragegen.tmp\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "mod", "download", "-json", spec)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return fmt.Errorf("go mod download %s: %v\n%s", spec, err, out)
	}
	return nil
}

// scan parses the component's directories of one source tree.
func scan(s source) (cands, other []stmt, err error) {
	fset := token.NewFileSet()
	reasons := map[string]string{}
	var files []string
	for _, d := range s.comp.dirs {
		root := filepath.Join(s.dir, d)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				switch de.Name() {
				case "testdata", "vendor", "test", "testing", "integration", "e2e":
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") && !strings.HasPrefix(de.Name(), "fake_") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(files)
	parsed := make([]*ast.File, 0, len(files))
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			continue // a file for another platform that does not parse alone is rare; skip it
		}
		parsed = append(parsed, af)
		// kubelet event reasons: const blocks of pkg/kubelet/events (and
		// dockershim's copies).
		if strings.Contains(filepath.ToSlash(f), "/events/") || strings.HasSuffix(f, "event.go") || strings.HasSuffix(f, "events.go") {
			collectConsts(af, reasons)
		}
	}
	for i, af := range parsed {
		rel, _ := filepath.Rel(s.dir, files[i])
		v := &visitor{fset: fset, src: s, file: filepath.ToSlash(rel), reasons: reasons}
		v.walkFile(af)
		for _, st := range v.out {
			if fact := classify(st); fact != "" {
				st.fact = fact
				cands = append(cands, st)
			} else if mentionsLifecycle(st.text) {
				other = append(other, st)
			}
		}
	}
	return cands, other, nil
}

func collectConsts(f *ast.File, m map[string]string) {
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, sp := range gd.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if s, ok := strLit(vs.Values[i]); ok {
						m[n.Name] = s
					}
				}
			}
		}
	}
}

type visitor struct {
	fset    *token.FileSet
	src     source
	file    string
	reasons map[string]string
	fn      *ast.BlockStmt // enclosing function body, to resolve message variables
	out     []stmt
}

func (v *visitor) walkFile(f *ast.File) {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		v.fn = fd.Body
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if fl, ok := n.(*ast.FuncLit); ok {
				outer := v.fn
				v.fn = fl.Body
				ast.Inspect(fl.Body, v.inspect)
				v.fn = outer
				return false
			}
			return v.inspect(n)
		})
	}
}

// logFuncs are the names of logging calls, with the level they log at.
var logFuncs = map[string]string{
	"Info": "info", "Infof": "info", "InfoS": "info", "Infoln": "info", "InfoDepth": "info",
	"Warning": "warning", "Warningf": "warning", "WarningS": "warning", "Warn": "warning", "Warnf": "warning", "Warningln": "warning",
	"Error": "error", "Errorf": "error", "ErrorS": "error", "Errorln": "error", "ErrorDepth": "error",
	"Debug": "debug", "Debugf": "debug", "Trace": "debug", "Tracef": "debug",
	"Fatal": "fatal", "Fatalf": "fatal", "Panic": "fatal", "Panicf": "fatal",
	"Print": "info", "Printf": "info",
}

var vLevel = regexp.MustCompile(`\.V\((\d+)\)`)

func (v *visitor) inspect(n ast.Node) bool {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return true
	}
	// A kubelet event: any call passing an event reason constant
	// (recorder.Eventf(ref, type, events.PulledImage, "msg", ...),
	// m.logIt(...), m.recordContainerEvent(...)).
	for i, a := range call.Args {
		sel, ok := a.(*ast.SelectorExpr)
		if !ok {
			continue
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || (x.Name != "events" && x.Name != "kubecontainer" && x.Name != "dockertools") {
			continue
		}
		reason, ok := v.reasons[sel.Sel.Name]
		if !ok {
			continue
		}
		typ := "Normal"
		if i > 0 {
			if t := exprString(call.Args[i-1]); strings.Contains(t, "Warning") {
				typ = "Warning"
			}
		}
		msgs := []string{""}
		for _, b := range call.Args[i+1:] {
			if id, ok := b.(*ast.Ident); ok && (id.Name == "logPrefix" || id.Name == "prefix") {
				continue // the image manager's logIt(ref, type, reason, prefix, msg, ...)
			}
			if m := v.messages(b, call.Pos()); len(m) > 0 {
				msgs = m
				break
			}
		}
		for _, m := range msgs {
			v.add(stmt{level: "event " + typ, reason: reason, text: "reason=" + reason + " " + strconv.Quote(m)}, call)
		}
		return true
	}
	var name, recv string
	switch f := call.Fun.(type) {
	case *ast.SelectorExpr:
		name, recv = f.Sel.Name, exprString(f.X)
	case *ast.Ident:
		// inside a logging package: Debugf(ctx, "...") (CRI-O 1.23)
		name, recv = f.Name, "log"
		if !strings.HasSuffix(name, "f") {
			return true
		}
	default:
		return true
	}
	lr := strings.ToLower(recv)
	args := call.Args
	var level string
	var structured bool
	switch {
	case name == "logErr" && len(args) >= 2:
		// k8s.io/cri-client: r.logErr(err, "msg", kv...)
		level, structured = "error", true
		name = "ErrorS"
	case name == "log" && len(args) >= 2 && isIntLit(args[0]):
		// k8s.io/cri-client: r.log(10, "msg", kv...)
		level, structured = "info v="+args[0].(*ast.BasicLit).Value, true
		args = args[1:]
		name = "InfoS"
	default:
		l, ok := logFuncs[name]
		if !ok || !strings.Contains(lr, "log") {
			return true
		}
		level = l
		if m := vLevel.FindStringSubmatch(recv); m != nil {
			level += " v=" + m[1]
		}
		structured = strings.HasSuffix(name, "S") || (strings.Contains(lr, "logger") || strings.Contains(recv, "FromContext")) && (name == "Info" || name == "Error")
	}
	if name == "ErrorS" || structured && name == "Error" {
		if len(args) < 2 {
			return true
		}
		args = args[1:] // the error
	}
	if len(args) == 0 {
		return true
	}
	msgs := v.messages(args[0], call.Pos())
	if len(msgs) == 0 && !structured && len(args) > 1 {
		msgs = v.messages(args[1], call.Pos()) // CRI-O: log.Infof(ctx, "...")
		args = args[1:]
	}
	if len(msgs) == 0 {
		return true
	}
	// containerd's log.G(ctx).WithError(err).Errorf logs error=...
	withErr := strings.Contains(recv, "WithError(")
	for _, m := range msgs {
		text := m
		if structured {
			text = strconv.Quote(m)
			for k := 1; k+1 < len(args)+1 && k < len(args); k += 2 {
				if key, ok := strLit(args[k]); ok {
					text += " " + key
				}
			}
			if name == "ErrorS" || name == "Error" {
				text += " err"
			}
		} else if withErr {
			text += " error=…"
		}
		v.add(stmt{level: level, text: text}, call)
	}
	return true
}

func (v *visitor) add(st stmt, n ast.Node) {
	p := v.fset.Position(n.Pos())
	st.comp = v.src.comp.name
	st.file = v.file
	st.line = p.Line
	st.version = v.src.version
	v.out = append(v.out, st)
}

// messages returns the constant message(s) an argument of the call at pos
// stands for.
func (v *visitor) messages(e ast.Expr, pos token.Pos) []string {
	if s, ok := strLit(e); ok {
		return []string{s}
	}
	switch x := e.(type) {
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && len(x.Args) > 0 {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "fmt" && (sel.Sel.Name == "Sprintf" || sel.Sel.Name == "Errorf") {
				if s, ok := strLit(x.Args[0]); ok {
					return []string{s}
				}
			}
		}
	case *ast.Ident:
		return v.assigned(x.Name, pos)
	}
	return nil
}

// assigned finds the constant value a local variable was last given before
// pos in the enclosing function (msg := fmt.Sprintf("..."), msg = "...").
func (v *visitor) assigned(name string, pos token.Pos) []string {
	if v.fn == nil {
		return nil
	}
	var last string
	var lastPos token.Pos
	ast.Inspect(v.fn, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || as.Pos() >= pos || as.Pos() < lastPos {
			return true
		}
		for i, l := range as.Lhs {
			id, ok := l.(*ast.Ident)
			if !ok || id.Name != name || i >= len(as.Rhs) || len(as.Lhs) != len(as.Rhs) {
				continue
			}
			s, ok := strLit(as.Rhs[i])
			if c, isCall := as.Rhs[i].(*ast.CallExpr); !ok && isCall {
				if sel, isSel := c.Fun.(*ast.SelectorExpr); isSel && len(c.Args) > 0 {
					if x, isID := sel.X.(*ast.Ident); isID && x.Name == "fmt" && sel.Sel.Name == "Sprintf" {
						s, ok = strLit(c.Args[0])
					}
				}
			}
			if ok && s != "" {
				last, lastPos = s, as.Pos()
			}
		}
		return true
	})
	if last == "" {
		return nil
	}
	return []string{last}
}

func isIntLit(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.INT
}

// strLit evaluates a string literal or a concatenation of literals.
func strLit(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return "", false
		}
		a, ok1 := strLit(x.X)
		b, ok2 := strLit(x.Y)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return strLit(x.X)
	}
	return "", false
}

// exprString renders the callee chain of a call (enough to tell klog from
// other receivers).
func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	case *ast.CallExpr:
		var args []string
		for _, a := range x.Args {
			args = append(args, exprString(a))
		}
		return exprString(x.Fun) + "(" + strings.Join(args, ",") + ")"
	case *ast.BasicLit:
		return x.Value
	case *ast.StarExpr:
		return "*" + exprString(x.X)
	case *ast.ParenExpr:
		return exprString(x.X)
	case *ast.IndexExpr:
		return exprString(x.X) + "[" + exprString(x.Index) + "]"
	}
	return "?"
}

// rule says which lifecycle fact the statements matching re state.
type rule struct {
	comp string // "" = any
	re   *regexp.Regexp
	fact string
}

// facts, in table order; a statement may state several (its fact is then
// listed under the first).
var facts = []string{
	"pod admitted", "static pod seen",
	"sandbox requested", "sandbox ready", "sandbox failed", "sandbox stopped", "sandbox removed",
	"container created", "container started", "container failed", "container exited", "container removed",
	"image pull started", "image pulled", "image pull failed", "image already present",
	"every CRI request", "every CRI response", "every event reason above",
}

func r(comp, re, fact string) rule { return rule{comp, regexp.MustCompile(re), fact} }

// rules: the first match wins. Statements are matched as COVERAGE.md quotes
// them: a printf format (`RunPodSandbox for %+v returns sandbox id %q`), a
// quoted structured message with its keys (`"Created PodSandbox for pod"
// podSandboxID pod`), or an event (`reason=Pulled "Successfully pulled
// image %q ..."`).
//
// Not candidates: failures to stop, kill or remove (the sandbox or
// container stays as it was, and the retry's success is the fact), status,
// list, exec, attach, port-forward and stats calls, garbage collection of
// images, volumes, probes, cgroups, checkpoints and the pod workers'
// internal state.
var rules = []rule{
	// kubelet event reasons (pkg/kubelet/events), logged as "Event
	// occurred" at -v=3 (and by the image manager without an object
	// reference).
	r("kubelet", `^reason=Pulling `, "image pull started"),
	r("kubelet", `^reason=Pulled "Container image %q already present`, "image already present"),
	r("kubelet", `^reason=Pulled "`, "image pulled"),
	r("kubelet", `^reason=(ErrImageNeverPull|InspectFailed) `, "image pull failed"),
	r("kubelet", `^reason=Failed "(Failed to pull image|Failed to inspect image|Failed to apply default image tag)`, "image pull failed"),
	r("kubelet", `^reason=BackOff "Back-off pulling image`, "image pull failed"),
	r("kubelet", `^reason=Created `, "container created"),
	r("kubelet", `^reason=Started `, "container started"),
	r("kubelet", `^reason=Failed "(Error: |Internal Pre(Create|Start)Container hook failed)`, "container failed"),
	r("kubelet", `^reason=(BackOff "Back-off restarting failed container|FailedPostStartHook )`, "container failed"),
	r("kubelet", `^reason=(Killing|Preempting|ExceededGracePeriod) `, "container exited"),
	r("kubelet", `^reason=(FailedCreatePodSandBox|FailedCreatePodContainer) `, "sandbox failed"),
	r("kubelet", `^reason=Failed "error making pod data directories`, "sandbox failed"),
	r("kubelet", `^reason=SandboxChanged `, "sandbox requested"),
	// the event loggers (k8s.io/client-go/tools/record)
	r("kubelet", `^"Event occurred"|^Event\(%#v\): type: '%v' reason: '%v' %v$`, "every event reason above"),
	// kubelet log statements
	r("kubelet", `^"SyncLoop ADD"|^SyncLoop \(ADD, %q\)`, "pod admitted"),
	r("kubelet", `^"Topology Admit Handler"|^"Topology manager admission check"`, "pod admitted"),
	r("kubelet", `^"Generated pod name"|^"?Creating a mirror pod for static pod`, "static pod seen"),
	r("kubelet", `^"(No sandbox for pod can be found|No ready sandbox for pod can be found|Sandbox for pod has changed|Sandbox for pod has no IP address|Creating PodSandbox for pod|SyncPod received new pod, will create a sandbox|Stopping PodSandbox for pod, will start new one|Running pod with runtime handler)`, "sandbox requested"),
	r("kubelet", `^"\[RemoteRuntimeService\] RunPodSandbox" `, "sandbox requested"),
	r("kubelet", `^"Created PodSandbox for pod"|^"\[RemoteRuntimeService\] RunPodSandbox Response"`, "sandbox ready"),
	r("kubelet", `^"Error syncing pod, skipping"`, "sandbox failed, container failed, image pull failed"),
	r("kubelet", `^"(CreatePodSandbox for pod failed|Failed to create sandbox for pod|Failed to generate sandbox config for pod|GeneratePodSandboxConfig for pod failed|Pod was deleted and sandbox failed to be created|RunPodSandbox from runtime service failed|RunPodSandbox failed)"`, "sandbox failed"),
	r("kubelet", `^"(Stopping PodSandbox for pod, because all other containers are dead|\[RemoteRuntimeService\] StopPodSandbox)`, "sandbox stopped"),
	r("kubelet", `^"(Removing sandbox|\[RemoteRuntimeService\] RemovePodSandbox)`, "sandbox removed"),
	r("kubelet", `^"(Creating container in pod|\[RemoteRuntimeService\] CreateContainer)"`, "container created"),
	r("kubelet", `^"(Container of pod is not in the desired state and shall be started|\[RemoteRuntimeService\] StartContainer)`, "container started"),
	r("kubelet", `^"(CreateContainer in sandbox from runtime service failed|CreateContainer failed|StartContainer from runtime service failed|Container start failed in pod|Back-off restarting failed container|Backing Off restarting container in pod|Failed to start the restartable init container|Failed to initialize the pod, as the init container failed|Unable to start pod because container failed|Failed to execute PostStartHook)"`, "container failed"),
	r("kubelet", `^"SyncLoop \(PLEG\): event for pod"|^SyncLoop \(PLEG\): %q, event: %#v`, "container started, exited, removed"),
	r("kubelet", `^"(Generic \(PLEG\): container finished|Container exited normally|Killing container with a grace period|Killing unwanted container for pod|\[RemoteRuntimeService\] StopContainer)`, "container exited"),
	r("kubelet", `^"(Removing container|Removing init container|Removing container before pod restarts|\[RemoteRuntimeService\] RemoveContainer)`, "container removed"),
	r("kubelet", `^"(Pulling image|Pulling the image without credentials|\[RemoteImageService\] PullImage" )`, "image pull started"),
	r("kubelet", `^"(Pulled image"|Stop pulling image"|\[RemoteImageService\] PullImage Response)`, "image pulled"),
	r("kubelet", `^"(Failed to pull image|PullImage from image service failed|Failed to ensure image|Cancel pulling image because of exceed image pull deadline)"`, "image pull failed"),
	// containerd CRI plugin
	r("containerd", `^RunPodS[Aa]ndbox for %\+v$`, "sandbox requested"),
	r("containerd", `^RunPodSandbox for %\+v returns sandbox id %q`, "sandbox ready"),
	r("containerd", `^RunPodSandbox for %\+v failed`, "sandbox failed"),
	r("containerd", `^StopPodSandbox for %q(| returns successfully)$`, "sandbox stopped"),
	r("containerd", `^(TaskExit event in podsandbox handler|received sandbox exit event|received sandbox container exit event|SandboxExit event) %\+v`, "sandbox stopped"),
	r("containerd", `^RemovePodSandbox (for %q$|%q returns successfully$)`, "sandbox removed"),
	r("containerd", `^CreateContainer within sandbox %q for (container %\+v$|%\+v returns container id %q)`, "container created"),
	r("containerd", `^(CreateContainer within sandbox %q for %\+v failed|StartContainer for %q failed)`, "container failed"),
	r("containerd", `^StartContainer for %q(| returns successfully)$`, "container started"),
	r("containerd", `^StopContainer for %q( with timeout %d \(s\)| returns successfully)$`, "container exited"),
	r("containerd", `^(Stop container %q with signal %v|Kill container %q|Forcibly stopping container %q)$`, "container exited"),
	r("containerd", `^(received sandbox exit %\+v|Forcibly stopping sandbox %q)$`, "sandbox stopped"),
	r("containerd", `^(TaskExit event|received container exit event|received exit event|TaskOOM event) %\+v`, "container exited"),
	r("containerd", `^RemoveContainer for %q(| returns successfully)$`, "container removed"),
	r("containerd", `^PullImage %q$`, "image pull started"),
	r("containerd", `^(PullImage %q returns image reference %q|Pulled image %q with image id %q|ImageCreate event %\+v)`, "image pulled"),
	r("containerd", `^(PullImage %q failed|cancel pulling image %s because of no progress)`, "image pull failed"),
	// CRI-O
	r("crio", `^Running pod sandbox: %s`, "sandbox requested"),
	r("crio", `^Ran pod sandbox %s with infra container: %s`, "sandbox ready"),
	r("crio", `^(Stopping pod sandbox: %s|Stopped pod sandbox|stopped pod sandbox)`, "sandbox stopped"),
	r("crio", `^(Removing pod sandbox: %s|Removed pod sandbox)`, "sandbox removed"),
	r("crio", `^(Creating container: %s|Created container %s: %s)`, "container created"),
	r("crio", `^(Started container|Starting container: %s)`, "container started"),
	r("crio", `^(Container creation error: %s|Container creation failed|Container creation timeout)`, "container failed"),
	r("crio", `^(Stopping container: %s|Stopped container %s: %s)`, "container exited"),
	r("crio", `^(Removing container: %s|Removed container %s: %s)`, "container removed"),
	r("crio", `^Pulling image: %s`, "image pull started"),
	r("crio", `^(Pulled image: %[sv]|Successfully pulled image %q)`, "image pulled"),
	r("crio", `^Error pulling image %s: %v`, "image pull failed"),
	r("crio", `^(Image status: %|Checking image status: %s|Image %s not found)`, "image already present"),
	r("crio", `^[Rr]equest: %`, "every CRI request"),
	r("crio", `^Response error: %`, "sandbox failed, container failed, image pull failed"),
	r("crio", `^[Rr]esponse: %`, "every CRI response"),
	// cri-dockerd
	r("cri-dockerd", `^(Pulling image %|Pulling the image without credentials)`, "image pull started"),
	r("cri-dockerd", `^Stop pulling image %`, "image pulled"),
	r("cri-dockerd", `^Cancel pulling image %`, "image pull failed"),
	r("cri-dockerd", `^Unable to create pod sandbox due to conflict`, "sandbox failed"),
}

var lifecycleWords = regexp.MustCompile(`(?i)sandbox|container|image|pull|pod `)

func mentionsLifecycle(s string) bool { return lifecycleWords.MatchString(s) }

func classify(st stmt) string {
	for _, r := range rules {
		if r.comp != "" && r.comp != st.comp {
			continue
		}
		if r.re.MatchString(st.text) {
			return r.fact
		}
	}
	return ""
}

// candidate is a statement over all versions it appears in.
type candidate struct {
	comp, fact, level, text string
	versions                []string
	where                   string // file:line in the newest version
}

func merge(found []stmt, srcs []source) []candidate {
	type key struct{ comp, text string }
	m := map[key]*candidate{}
	var order []key
	for _, st := range found {
		k := key{st.comp, st.text}
		c := m[k]
		if c == nil {
			c = &candidate{comp: st.comp, fact: st.fact, level: st.level, text: st.text}
			m[k] = c
			order = append(order, k)
		}
		if !contains(c.versions, st.version) {
			c.versions = append(c.versions, st.version)
		}
		// where: in the newest version, preferring a file for Linux
		if w := versionOf(c.where); c.where == "" || vless(w, st.version) || w == st.version && otherOS(c.where) && !otherOS(st.file) {
			c.where = st.version + ":" + st.file + ":" + strconv.Itoa(st.line)
		}
	}
	out := make([]candidate, 0, len(order))
	for _, k := range order {
		out = append(out, *m[k])
	}
	rank := map[string]int{}
	for i, f := range facts {
		rank[f] = i
	}
	first := func(f string) string { a, _, _ := strings.Cut(f, ","); return a }
	comps := map[string]int{"kubelet": 0, "containerd": 1, "crio": 2, "cri-dockerd": 3}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if comps[a.comp] != comps[b.comp] {
			return comps[a.comp] < comps[b.comp]
		}
		if ra, rb := rank[first(a.fact)], rank[first(b.fact)]; ra != rb {
			return ra < rb
		}
		return a.text < b.text
	})
	return out
}

func otherOS(file string) bool {
	return strings.Contains(file, "_freebsd") || strings.Contains(file, "_windows") || strings.Contains(file, "_darwin")
}

func versionOf(where string) string { v, _, _ := strings.Cut(where, ":"); return v }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// vless orders v1.2.3 versions numerically.
func vless(a, b string) bool {
	pa, pb := vparts(a), vparts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func vparts(v string) []int {
	v = strings.TrimPrefix(v, "v")
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, _ := strconv.Atoi(strings.TrimRightFunc(p, func(r rune) bool { return r < '0' || r > '9' }))
		out = append(out, n)
	}
	return out
}

// minor is "1.33" of "v1.33.13"; client-go and cri-client v0.x.y map to the
// kubelet release 1.x.
func minor(mod, v string) string {
	p := vparts(v)
	if len(p) < 2 {
		return v
	}
	if p[0] == 0 && (mod == "k8s.io/client-go" || mod == "k8s.io/cri-client") {
		p[0] = 1
	}
	return fmt.Sprintf("%d.%d", p[0], p[1])
}

// versionRanges renders the versions a statement is in as runs of the
// scanned versions of its component: "1.27–1.36", "1.23, 1.30–1.36".
func versionRanges(c candidate, srcs []source) string {
	var scanned []string
	mod := map[string]string{}
	for _, s := range srcs {
		if s.comp.name != c.comp {
			continue
		}
		m := minor(s.module, s.version)
		mod[s.version] = m
		if !contains(scanned, m) {
			scanned = append(scanned, m)
		}
	}
	sort.Slice(scanned, func(i, j int) bool { return vless(scanned[i], scanned[j]) })
	in := map[string]bool{}
	for _, v := range c.versions {
		in[mod[v]] = true
	}
	var parts []string
	for i := 0; i < len(scanned); {
		if !in[scanned[i]] {
			i++
			continue
		}
		j := i
		for j+1 < len(scanned) && in[scanned[j+1]] {
			j++
		}
		if i == j {
			parts = append(parts, scanned[i])
		} else {
			parts = append(parts, scanned[i]+"–"+scanned[j])
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func printTable(w *os.File, cands []candidate, srcs []source) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	var scanned []string
	for _, s := range srcs {
		scanned = append(scanned, s.module+"@"+s.version)
	}
	fmt.Fprintf(bw, "<!-- coveragegen %s -->\n\n", strings.Join(scanned, " "))
	fmt.Fprintln(bw, "| runtime | fact | statement | level | versions | where (newest) |")
	fmt.Fprintln(bw, "|---|---|---|---|---|---|")
	for _, c := range cands {
		fmt.Fprintf(bw, "| %s | %s | `%s` | %s | %s | %s |\n", c.comp, c.fact, mdCode(c.text), c.level, versionRanges(c, srcs), c.where)
	}
	counts := map[string]int{}
	for _, c := range cands {
		counts[c.comp]++
	}
	fmt.Fprintf(bw, "\n%d statements:", len(cands))
	for _, comp := range []string{"kubelet", "containerd", "crio", "cri-dockerd"} {
		if counts[comp] > 0 {
			fmt.Fprintf(bw, " %s %d", comp, counts[comp])
		}
	}
	fmt.Fprintln(bw)
}

// mdCode keeps a statement inside one backquoted table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "`", "'")
}

// checkFile reports candidates whose statement COVERAGE.md does not quote.
func checkFile(path string, cands []candidate) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fatal(err)
	}
	missing := 0
	for _, c := range cands {
		if !bytes.Contains(data, []byte("`"+mdCode(c.text)+"`")) {
			fmt.Printf("missing: %s %s `%s` (%s)\n", c.comp, c.fact, mdCode(c.text), c.where)
			missing++
		}
	}
	if missing > 0 {
		fmt.Printf("%d of %d candidate statements are not in %s\n", missing, len(cands), path)
		return 1
	}
	fmt.Printf("all %d candidate statements are in %s\n", len(cands), path)
	return 0
}
