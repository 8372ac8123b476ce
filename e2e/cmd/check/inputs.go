// SPDX-License-Identifier: Apache-2.0

package main

// What the check compares the records with: the API server's pods (a list at
// the end of each phase and a watch over the whole run), the runtime's
// containers (cmd/cri), the audit log, the registry's log, and the names
// podtrail's code gives to origins, partial reasons and attributes.

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ---- the API's pods -------------------------------------------------------------

type apiPod struct {
	Metadata struct {
		Namespace   string            `json:"namespace"`
		Name        string            `json:"name"`
		UID         string            `json:"uid"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func (p apiPod) key() string { return p.Metadata.Namespace + "/" + p.Metadata.Name }

func readPods(path string) ([]apiPod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []apiPod `json:"items"`
	}
	return l.Items, json.Unmarshal(b, &l)
}

// readWatch reads `kubectl get pods -A --watch --output-watch-events -o json`:
// every pod the API server had during the run, by uid, also the ones
// deleted before a list could see them.
func readWatch(path string) (map[string]apiPod, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]apiPod{}
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var ev struct {
			Type   string `json:"type"`
			Object apiPod `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			// the end, or the object kubectl is writing: the assertion that
			// the watch saw every listed pod tells a watch cut short
			return out, nil
		}
		if u := ev.Object.Metadata.UID; u != "" {
			out[u] = ev.Object
		}
	}
}

// ---- the runtime's containers (cmd/cri) ------------------------------------------

type criSandbox struct {
	ID        string `json:"id"`
	PodName   string `json:"pod_name"`
	PodUID    string `json:"pod_uid"`
	Namespace string `json:"pod_namespace"`
	State     string `json:"state"`
}

type criContainer struct {
	ID        string `json:"id"`
	SandboxID string `json:"sandbox_id"`
	Name      string `json:"name"`
	Attempt   int    `json:"attempt"`
	PodName   string `json:"pod_name"`
	PodUID    string `json:"pod_uid"`
	Namespace string `json:"pod_namespace"`
	State     string `json:"state"`
	Image     string `json:"image"`
	ImageRef  string `json:"image_ref"`
	ImageID   string `json:"image_id"` // ContainerStatus.image_id (CRI 1.31+), else empty
}

func (c criContainer) what() string {
	return c.Namespace + "/" + c.PodName + "/" + c.Name + " (" + short(c.ID) + ")"
}

// digest is the repo digest the runtime resolved the container's image to
// (what the kubelet reports as imageID): the manifest digest of
// repo@sha256:...; "" for an image the runtime knows no repo digest of
// (imported, not pulled: see imageID).
func (c criContainer) digest() string {
	if i := strings.LastIndexByte(c.ImageRef, '@'); i >= 0 {
		return c.ImageRef[i+1:]
	}
	return ""
}

// imageID is the image id (sha256:<config>) the runtime reports for an
// image it knows no repo digest of: image_ref (containerd 1.6 and 1.7 put
// the image id there, and the kubelet reports it as imageID), else
// ContainerStatus.image_id (CRI 1.31+); "" when the image has a repo digest.
func (c criContainer) imageID() string {
	if c.digest() != "" {
		return ""
	}
	if strings.HasPrefix(c.ImageRef, "sha256:") {
		return c.ImageRef
	}
	if strings.HasPrefix(c.ImageID, "sha256:") {
		return c.ImageID
	}
	return ""
}

type criDump struct {
	Sandboxes  []criSandbox   `json:"sandboxes"`
	Containers []criContainer `json:"containers"`
}

func readCRI(path string) (criDump, error) {
	var d criDump
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(b, &d)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// readImages reads `ctr -n k8s.io images ls`: the manifest digest of each
// image name in containerd's image store (also of an imported image, of
// which the CRI knows no repo digest).
func readImages(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(l); len(f) >= 3 && strings.HasPrefix(f[2], "sha256:") {
			out[f[0]] = f[2]
		}
	}
	return out
}

// ---- names from podtrail's code --------------------------------------------------

// names are the values podtrail's code gives the things the check asserts,
// read from its Go constants, so that the check follows a rename and fails
// where a feature has no name yet.
type names struct {
	consts       map[string]string // identifier -> string value
	originAPI    string
	originStatic string
	originNode   string
	originPre    string // "" when the code has none: pre-existing pods must then not be reported
	actorUser    string
	actorSA      string
	oversize     string // the partial reason of an event over the size limit
	oversizeRule []string
	// what became of a create (podrecord.Outcome*): "" when the code has
	// none, and the failed-create assertion fails
	outcomeForbidden, outcomeFailed string
}

func readNames(repo string) names {
	n := names{consts: map[string]string{}}
	for _, dir := range []string{"internal", "processor", "receiver"} {
		_ = filepath.WalkDir(filepath.Join(repo, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil
			}
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if v, err := strconv.Unquote(lit.Value); err == nil {
								n.consts[id.Name] = v
							}
						}
					}
				}
			}
			return nil
		})
	}
	find := func(re, fallback string) string {
		rx := regexp.MustCompile(re)
		for id, v := range n.consts {
			if rx.MatchString(id) {
				return v
			}
		}
		return fallback
	}
	n.originAPI = find(`^OriginAPI$`, "api")
	n.originStatic = find(`^OriginStatic$`, "static")
	n.originNode = find(`^OriginNodeOnly$`, "node_only")
	n.actorUser = find(`^ActorUser$`, "user")
	n.actorSA = find(`^ActorServiceAccount$`, "service_account")
	n.outcomeForbidden = find(`^OutcomeForbidden$`, "")
	n.outcomeFailed = find(`^OutcomeFailed$`, "")
	byValue := func(re string) string {
		rx := regexp.MustCompile(re)
		for _, v := range n.consts {
			if rx.MatchString(v) {
				return v
			}
		}
		return ""
	}
	n.originPre = find(`(?i)^Origin.*pre.?exist`, byValue(`^pre.?existing$`))
	n.oversize = find(`(?i)^Partial.*(oversize|too.?large)`, byValue(`^oversize$`))
	n.oversizeRule = rulesMentioning(filepath.Join(repo, "distributions/otelcol-podtrail/rules/rules.yaml"),
		regexp.MustCompile(`(?i)oversize`))
	return n
}

// rulesMentioning lists the ids of the rules whose text matches re.
func rulesMentioning(path string, re *regexp.Regexp) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	id, hit := "", false
	flush := func() {
		if id != "" && hit {
			out = append(out, id)
		}
	}
	idRe := regexp.MustCompile(`^\s*-\s+id:\s*(\S+)`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := idRe.FindStringSubmatch(l); m != nil {
			flush()
			id, hit = m[1], false
		}
		if re.MatchString(l) {
			hit = true
		}
	}
	flush()
	return out
}

// ---- the audit log and the registry's log ------------------------------------------

// auditCreateSize is the length of the audit log line of the (completed)
// create of pod ns/name, and its audit id.
func auditCreateSize(path, ns, name string) (int, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && strings.Contains(string(line[:min(len(line), 4096)]), `"verb":"create"`) {
			var ev struct {
				AuditID   string `json:"auditID"`
				Stage     string `json:"stage"`
				ObjectRef struct {
					Resource    string `json:"resource"`
					Subresource string `json:"subresource"`
					Namespace   string `json:"namespace"`
					Name        string `json:"name"`
				} `json:"objectRef"`
			}
			if json.Unmarshal(line, &ev) == nil && ev.Stage == "ResponseComplete" && ev.ObjectRef.Resource == "pods" &&
				ev.ObjectRef.Subresource == "" && ev.ObjectRef.Namespace == ns && ev.ObjectRef.Name == name {
				return len(line), ev.AuditID, nil
			}
		}
		if err != nil {
			return 0, "", nil
		}
	}
}

// registryServed reports whether the registry's log shows a manifest request
// for the repository.
func registryServed(path, repo string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return strings.Contains(string(b), "/v2/"+repo+"/manifests/"), nil
}
