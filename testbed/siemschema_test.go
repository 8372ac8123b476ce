// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The official schema files the SIEM mappings are checked against, kept in
// testdata/siem (README.md there says where each comes from): ECS 9.4.0's
// ecs_flat.yml, the OCSF 1.3.0 schema's classes, objects and dictionary,
// and Splunk CIM's Alerts and Change data models as Splunk's
// pytest-splunk-addon checks add-ons against them.

func siemTestdata(elem ...string) string {
	return filepath.Join(append([]string{"testdata", "siem"}, elem...)...)
}

// mappingTargets are the attribute keys a shipped mapping sets: the key of
// each set(log.attributes["..."], ...) (for
// log.attributes["resources"][0]["uid"], "resources").
func mappingTargets(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`set\((?:log\.)?attributes\["([^"]+)"\]`).FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatalf("%s sets no attribute", path)
	}
	return out
}

// mappedAttrs is what of attrs a mapping set: its targets.
func mappedAttrs(attrs map[string]any, targets map[string]bool) map[string]any {
	out := map[string]any{}
	for k, v := range attrs {
		if targets[k] {
			out[k] = v
		}
	}
	return out
}

// isEmpty: a value a SIEM would read as not set.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// ---- ECS ----

type ecsField struct {
	Type          string       `yaml:"type"`
	Normalize     []string     `yaml:"normalize"`
	AllowedValues []ecsAllowed `yaml:"allowed_values"`
}

type ecsAllowed struct {
	Name               string   `yaml:"name"`
	ExpectedEventTypes []string `yaml:"expected_event_types"`
}

type ecsSchema map[string]ecsField

func loadECS(t *testing.T) ecsSchema {
	t.Helper()
	f, err := os.Open(siemTestdata("ecs", "ecs_flat.yml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var s ecsSchema
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if len(s) < 1000 {
		t.Fatalf("ecs_flat.yml has %d fields", len(s))
	}
	return s
}

// check reports what in attrs (ECS field name → value) is not ECS: a name
// ECS does not define, a value of another type, a value outside a field's
// allowed values, an event.type no event.category expects, an empty value.
func (s ecsSchema) check(attrs map[string]any) []string {
	var errs []string
	for _, k := range sortedKeys(attrs) {
		v := attrs[k]
		f, ok := s[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: not an ECS field", k))
			continue
		}
		vals := []any{v}
		if l, ok := v.([]any); ok {
			vals = l
		}
		if isEmpty(v) {
			errs = append(errs, fmt.Sprintf("%s: empty", k))
		}
		for _, x := range vals {
			if err := ecsType(f.Type, x); err != "" {
				errs = append(errs, fmt.Sprintf("%s (%s): %v: %s", k, f.Type, x, err))
			}
			if len(f.AllowedValues) > 0 && !slices.ContainsFunc(f.AllowedValues, func(a ecsAllowed) bool { return a.Name == x }) {
				errs = append(errs, fmt.Sprintf("%s: %v is not one of ECS's allowed values", k, x))
			}
		}
	}
	// Every event.type must be one that one of the event.category values expects.
	if cats, ok := attrs["event.category"].([]any); ok {
		for _, ty := range asList(attrs["event.type"]) {
			expected := false
			for _, c := range cats {
				for _, a := range s["event.category"].AllowedValues {
					if a.Name == c && slices.Contains(a.ExpectedEventTypes, fmt.Sprint(ty)) {
						expected = true
					}
				}
			}
			if !expected {
				errs = append(errs, fmt.Sprintf("event.type %v: no event.category of %v expects it", ty, cats))
			}
		}
	}
	return errs
}

func ecsType(typ string, v any) string {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		if _, ok := v.(string); !ok {
			return "not a string"
		}
	case "long", "integer", "short", "byte", "unsigned_long":
		if _, ok := v.(int64); !ok {
			return "not an integer"
		}
	case "float", "double", "scaled_float", "half_float":
		switch v.(type) {
		case float64, int64:
		default:
			return "not a number"
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "not a boolean"
		}
	case "ip":
		if s, ok := v.(string); !ok || net.ParseIP(s) == nil {
			return "not an IP address"
		}
	case "date":
		switch x := v.(type) {
		case int64:
		case string:
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return "not a date"
			}
		default:
			return "not a date"
		}
	case "object", "flattened":
		if _, ok := v.(map[string]any); !ok {
			return "not an object"
		}
	case "nested":
		if _, ok := v.(map[string]any); !ok {
			return "not an object"
		}
	default:
		return "type not checked by this test"
	}
	return ""
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// ---- Splunk CIM ----

type cimField struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"` // required, optional, conditional
	Expected  []string `json:"expected_values"`
	Condition string   `json:"condition"`
}

type cimDataset struct {
	Name   string       `json:"name"`
	Fields []cimField   `json:"fields"`
	Child  []cimDataset `json:"child_dataset"`
}

// loadCIM reads a data model definition and returns the fields of its
// dataset name.
func loadCIM(t *testing.T, file, dataset string) map[string]cimField {
	t.Helper()
	data, err := os.ReadFile(siemTestdata("cim", file))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Objects []cimDataset `json:"objects"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Objects {
		if o.Name == dataset {
			out := map[string]cimField{}
			for _, f := range o.Fields {
				out[f.Name] = f
			}
			return out
		}
	}
	t.Fatalf("%s has no dataset %s", file, dataset)
	return nil
}

// checkCIM reports what in attrs (CIM field → value) does not fit the
// dataset's fields: a field it does not have, a required field missing or
// empty (a conditional one when its condition holds), a value outside the
// expected values.
func checkCIM(fields map[string]cimField, attrs map[string]any) []string {
	var errs []string
	for _, k := range sortedKeys(attrs) {
		f, ok := fields[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: not a field of the data model", k))
			continue
		}
		for _, v := range asList(attrs[k]) {
			s, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %v is not a string", k, v))
			}
			if len(f.Expected) > 0 && !slices.Contains(f.Expected, s) {
				errs = append(errs, fmt.Sprintf("%s: %q is not one of %v", k, s, f.Expected))
			}
		}
	}
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		need := f.Type == "required"
		if f.Type == "conditional" {
			ck, cv, _ := strings.Cut(f.Condition, "=")
			need = fmt.Sprint(attrs[ck]) == cv
		}
		if need && isEmpty(attrs[name]) {
			errs = append(errs, fmt.Sprintf("%s: required (%s) and missing", name, f.Type))
		}
	}
	return errs
}

// ---- OCSF ----

type ocsfAttr struct {
	Caption     string                              `json:"caption"`
	Type        string                              `json:"type"`
	IsArray     bool                                `json:"is_array"`
	Requirement string                              `json:"requirement"`
	Sibling     string                              `json:"sibling"`
	Enum        map[string]struct{ Caption string } `json:"enum"`
	profile     string                              // the profile that adds it; "" for the class's or object's own
}

type ocsfFile struct {
	Name        string                     `json:"name"`
	Caption     string                     `json:"caption"`
	UID         int                        `json:"uid"`
	Extends     string                     `json:"extends"`
	Category    string                     `json:"category"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints struct {
		AtLeastOne []string `json:"at_least_one"`
		JustOne    []string `json:"just_one"`
	} `json:"constraints"`
}

type ocsfType struct {
	Caption string `json:"caption"`
	Type    string `json:"type"`
}

// ocsfSchema is the OCSF schema as its files define it, compiled the way
// the OCSF server does for what these mappings use: class and object
// inheritance (extends), $include of includes and profiles, dictionary
// attributes refined by the class or object.
type ocsfSchema struct {
	dir        string
	dict       map[string]ocsfAttr
	types      map[string]ocsfType
	objects    map[string]*ocsfFile // by name
	classes    map[string]*ocsfFile // by file path
	categories map[string]struct {
		UID     int    `json:"uid"`
		Caption string `json:"caption"`
	}
}

func loadOCSF(t *testing.T) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: siemTestdata("ocsf-1.3.0"), objects: map[string]*ocsfFile{}, classes: map[string]*ocsfFile{}}
	var dict struct {
		Attributes map[string]ocsfAttr `json:"attributes"`
		Types      struct {
			Attributes map[string]ocsfType `json:"attributes"`
		} `json:"types"`
	}
	readJSON(t, filepath.Join(s.dir, "dictionary.json"), &dict)
	s.dict, s.types = dict.Attributes, dict.Types.Attributes
	var cats struct {
		Attributes map[string]struct {
			UID     int    `json:"uid"`
			Caption string `json:"caption"`
		} `json:"attributes"`
	}
	readJSON(t, filepath.Join(s.dir, "categories.json"), &cats)
	s.categories = cats.Attributes
	objs, _ := filepath.Glob(filepath.Join(s.dir, "objects", "*.json"))
	for _, p := range objs {
		var f ocsfFile
		readJSON(t, p, &f)
		s.objects[f.Name] = &f
	}
	for _, p := range []string{"events/base_event.json", "events/findings/finding.json", "events/findings/detection_finding.json",
		"events/application/application.json", "events/application/api.json"} {
		var f ocsfFile
		readJSON(t, filepath.Join(s.dir, p), &f)
		s.classes[f.Name] = &f
	}
	if len(s.objects) < 50 || len(s.dict) < 300 {
		t.Fatalf("OCSF schema: %d objects, %d attributes", len(s.objects), len(s.dict))
	}
	return s
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// attrs compiles the attributes of a class or object file: its parent's,
// then those of the files it $includes (a profile's tagged with it), then
// its own, each its dictionary entry refined by the file's.
func (s *ocsfSchema) attrs(f *ocsfFile, parent func(string) *ocsfFile) map[string]ocsfAttr {
	out := map[string]ocsfAttr{}
	if f.Extends != "" {
		if p := parent(f.Extends); p != nil {
			for k, v := range s.attrs(p, parent) {
				out[k] = v
			}
		}
	}
	apply := func(attrs map[string]json.RawMessage, profile string) {
		for k, raw := range attrs {
			if k == "$include" {
				continue
			}
			a, ok := out[k]
			if !ok {
				a = s.dict[k]
				a.profile = profile
			} else if profile == "" {
				a.profile = "" // the file's own: not the profile's alone any more
			}
			// the file's entry refines: requirement, caption, enum, ...
			var refine ocsfAttr
			_ = json.Unmarshal(raw, &refine)
			if refine.Requirement != "" {
				a.Requirement = refine.Requirement
			}
			if refine.Type != "" {
				a.Type = refine.Type
			}
			if refine.Caption != "" {
				a.Caption = refine.Caption
			}
			if len(refine.Enum) > 0 {
				merged := map[string]struct{ Caption string }{}
				for ek, ev := range a.Enum {
					merged[ek] = ev
				}
				for ek, ev := range refine.Enum {
					merged[ek] = ev
				}
				a.Enum = merged
			}
			out[k] = a
		}
	}
	if inc, ok := f.Attributes["$include"]; ok {
		var files []string
		_ = json.Unmarshal(inc, &files)
		for _, p := range files {
			var i ocsfFile
			data, err := os.ReadFile(filepath.Join(s.dir, p))
			if err != nil || json.Unmarshal(data, &i) != nil {
				panic(fmt.Sprintf("OCSF include %s: %v", p, err))
			}
			profile := ""
			if strings.HasPrefix(p, "profiles/") {
				profile = strings.TrimSuffix(filepath.Base(p), ".json")
			}
			apply(i.Attributes, profile)
		}
	}
	apply(f.Attributes, "")
	return out
}

// check validates an OCSF event given as dotted keys and lists (the
// mapping's output, nested here as the ingest side nests it) against the
// class its class_uid names.
func (s *ocsfSchema) check(flat map[string]any) []string {
	ev, errs := nest(flat)
	classUID, _ := ev["class_uid"].(int64)
	var class *ocsfFile
	categoryOf := func(c *ocsfFile) string {
		for ; c != nil; c = s.classes[c.Extends] {
			if c.Category != "" {
				return c.Category
			}
		}
		return ""
	}
	var category string
	for _, c := range s.classes {
		cat, ok := s.categories[categoryOf(c)]
		if ok && c.UID != 0 && int64(cat.UID*1000+c.UID) == classUID {
			class, category = c, categoryOf(c)
		}
	}
	if class == nil {
		return append(errs, fmt.Sprintf("class_uid %d: no class of the schema", classUID))
	}
	attrs := s.attrs(class, func(n string) *ocsfFile { return s.classes[n] })
	cat := s.categories[category]
	// The classification the OCSF server derives.
	activity, _ := ev["activity_id"].(int64)
	for k, want := range map[string]any{"category_uid": int64(cat.UID), "category_name": cat.Caption, "class_name": class.Caption,
		"type_uid": classUID*100 + activity, "type_name": class.Caption + ": " + attrs["activity_id"].Enum[strconv.FormatInt(activity, 10)].Caption} {
		if got, ok := ev[k]; ok && got != want {
			errs = append(errs, fmt.Sprintf("%s = %v, the schema makes it %v", k, got, want))
		}
	}
	var profiles []string
	if md, ok := ev["metadata"].(map[string]any); ok {
		for _, p := range asList(md["profiles"]) {
			profiles = append(profiles, fmt.Sprint(p))
		}
	}
	return append(errs, s.checkObject(class.Name, attrs, nil, ev, profiles)...)
}

func (s *ocsfSchema) checkObject(path string, attrs map[string]ocsfAttr, constraints *ocsfFile, obj map[string]any, profiles []string) []string {
	var errs []string
	for _, k := range sortedKeys(obj) {
		a, ok := attrs[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: not an attribute of %s", path, k, path))
			continue
		}
		if a.profile != "" && !slices.Contains(profiles, a.profile) {
			errs = append(errs, fmt.Sprintf("%s.%s: of profile %s, which metadata.profiles does not list", path, k, a.profile))
		}
		v := obj[k]
		if a.IsArray {
			l, ok := v.([]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: not an array", path, k))
				continue
			}
			for i, x := range l {
				errs = append(errs, s.checkValue(fmt.Sprintf("%s.%s[%d]", path, k, i), a, x, profiles)...)
			}
		} else {
			errs = append(errs, s.checkValue(path+"."+k, a, v, profiles)...)
		}
		if a.Sibling != "" && len(a.Enum) > 0 {
			id := fmt.Sprint(v)
			if sib, ok := obj[a.Sibling]; ok && id != "99" && a.Enum[id].Caption != "" && sib != a.Enum[id].Caption {
				errs = append(errs, fmt.Sprintf("%s.%s = %v, but %s %s is %q", path, a.Sibling, sib, k, id, a.Enum[id].Caption))
			}
		}
	}
	for _, k := range sortedKeys(attrs) {
		a := attrs[k]
		if _, ok := obj[k]; !ok && a.Requirement == "required" && (a.profile == "" || slices.Contains(profiles, a.profile)) {
			errs = append(errs, fmt.Sprintf("%s.%s: required and missing", path, k))
		}
	}
	if constraints != nil {
		if c := constraints.Constraints.AtLeastOne; len(c) > 0 && !slices.ContainsFunc(c, func(k string) bool { _, ok := obj[k]; return ok }) {
			errs = append(errs, fmt.Sprintf("%s: needs at least one of %v", path, c))
		}
		if c := constraints.Constraints.JustOne; len(c) > 0 {
			n := 0
			for _, k := range c {
				if _, ok := obj[k]; ok {
					n++
				}
			}
			if n != 1 {
				errs = append(errs, fmt.Sprintf("%s: needs just one of %v", path, c))
			}
		}
	}
	return errs
}

func (s *ocsfSchema) checkValue(path string, a ocsfAttr, v any, profiles []string) []string {
	if isEmpty(v) {
		return []string{path + ": empty"}
	}
	if o, ok := s.objects[a.Type]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: not an object (%s)", path, a.Type)}
		}
		attrs := s.attrs(o, func(n string) *ocsfFile { return s.objects[n] })
		return s.checkObject(path, attrs, s.constraintsOf(o), m, profiles)
	}
	base := a.Type
	for i := 0; i < 5; i++ {
		t, ok := s.types[base]
		if !ok || t.Type == "" {
			break
		}
		if base == "ip_t" {
			break
		}
		base = t.Type
	}
	switch base {
	case "string_t":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: %v is not a string (%s)", path, v, a.Type)}
		}
	case "ip_t":
		if str, ok := v.(string); !ok || net.ParseIP(str) == nil {
			return []string{fmt.Sprintf("%s: %v is not an IP address", path, v)}
		}
	case "integer_t", "long_t":
		n, ok := v.(int64)
		if !ok {
			return []string{fmt.Sprintf("%s: %v is not an integer (%s)", path, v, a.Type)}
		}
		// category_uid, class_uid and type_uid: enums the OCSF server
		// generates from the classes (checked in check)
		generated := strings.HasSuffix(path, ".category_uid") || strings.HasSuffix(path, ".class_uid") || strings.HasSuffix(path, ".type_uid")
		if len(a.Enum) > 0 && !generated {
			if _, ok := a.Enum[strconv.FormatInt(n, 10)]; !ok {
				return []string{fmt.Sprintf("%s: %d is not in its enum", path, n)}
			}
		}
	case "float_t":
		switch v.(type) {
		case float64, int64:
		default:
			return []string{fmt.Sprintf("%s: %v is not a number", path, v)}
		}
	case "boolean_t":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %v is not a boolean", path, v)}
		}
	case "json_t":
	default:
		return []string{fmt.Sprintf("%s: type %s not checked by this test", path, a.Type)}
	}
	return nil
}

// constraintsOf is the object's constraints, or its nearest parent's.
func (s *ocsfSchema) constraintsOf(o *ocsfFile) *ocsfFile {
	for f := o; f != nil; f = s.objects[f.Extends] {
		if len(f.Constraints.AtLeastOne) > 0 || len(f.Constraints.JustOne) > 0 {
			return f
		}
		if f.Extends == "" {
			break
		}
	}
	return nil
}

// nest turns dotted keys into nested objects ("actor.user.name" → actor →
// user → name), as an OCSF ingest does.
func nest(flat map[string]any) (map[string]any, []string) {
	out := map[string]any{}
	var errs []string
	for _, k := range sortedKeys(flat) {
		parts := strings.Split(k, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p]
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			nm, ok := next.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %s is not an object", k, p))
				break
			}
			m = nm
		}
		last := parts[len(parts)-1]
		if _, ok := m[last]; ok {
			errs = append(errs, fmt.Sprintf("%s: set twice", k))
		}
		m[last] = flat[k]
	}
	return out, errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestSIEMSchemaChecks: the schema checks TestSIEMMappings relies on refuse
// what each schema refuses (they would pass anything otherwise).
func TestSIEMSchemaChecks(t *testing.T) {
	ecs := loadECS(t)
	good := map[string]any{"event.kind": "alert", "event.category": []any{"configuration"}, "event.type": []any{"creation"},
		"threat.technique.id": []any{"T1036"}, "event.severity": int64(99), "source.ip": "203.0.113.45", "orchestrator.cluster.name": "c"}
	if errs := ecs.check(good); len(errs) > 0 {
		t.Errorf("ECS refuses a good alert: %v", errs)
	}
	for k, v := range map[string]any{"threat.technique.idd": "T1036", "event.kind": "alerts", "event.severity": "99", "source.ip": "node-a",
		"event.type": []any{"indicator"}, "rule.name": ""} {
		bad := map[string]any{"event.category": []any{"configuration"}}
		bad[k] = v
		if errs := ecs.check(bad); len(errs) == 0 {
			t.Errorf("ECS takes %s = %v", k, v)
		}
	}

	alerts := loadCIM(t, "Alerts.json", "Alerts")
	alert := map[string]any{"app": "podtrail", "description": "d", "dest": "c", "id": "PT-0002:a", "signature": "s", "signature_id": "PT-0002",
		"severity": "critical", "src": "203.0.113.45", "type": "alert", "user": "alice", "mitre_technique_id": []any{"T1036.005"}}
	if errs := checkCIM(alerts, alert); len(errs) > 0 {
		t.Errorf("CIM refuses a good alert: %v", errs)
	}
	for k, v := range map[string]any{"severity": "info", "type": "finding", "object": "x", "dest": nil} {
		bad := map[string]any{}
		for k, v := range alert {
			bad[k] = v
		}
		if v == nil {
			delete(bad, k)
		} else {
			bad[k] = v
		}
		if errs := checkCIM(alerts, bad); len(errs) == 0 {
			t.Errorf("CIM takes %s = %v", k, v)
		}
	}
	change := loadCIM(t, "Change.json", "All_Changes")
	if errs := checkCIM(change, map[string]any{"status": "failure"}); !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, "result:") }) {
		t.Errorf("CIM Change without result on a failure: %v", errs)
	}

	ocsf := loadOCSF(t)
	finding := map[string]any{"metadata.version": "1.3.0", "metadata.product.name": "podtrail", "metadata.product.vendor_name": "podtrail",
		"time": int64(1795166061127), "activity_id": int64(1), "activity_name": "Create", "category_uid": int64(2), "category_name": "Findings",
		"class_uid": int64(2004), "class_name": "Detection Finding", "type_uid": int64(200401), "type_name": "Detection Finding: Create",
		"severity_id": int64(5), "severity": "Critical", "status_id": int64(1), "status": "New",
		"finding_info.uid": "PT-0002:a", "finding_info.title": "t", "finding_info.analytic.uid": "PT-0002", "finding_info.analytic.type_id": int64(1),
		"finding_info.attacks": []any{map[string]any{"technique": map[string]any{"uid": "T1036", "name": "Masquerading"},
			"tactic": map[string]any{"uid": "TA0005", "name": "Defense Evasion"}, "version": "18.1"}},
		"resources": []any{map[string]any{"type": "pod", "name": "p", "namespace": "kube-system"}}}
	if errs := ocsf.check(finding); len(errs) > 0 {
		t.Errorf("OCSF refuses a good finding: %v", errs)
	}
	for k, v := range map[string]any{"finding_info.attackz": []any{}, "severity_id": int64(7), "severity": "High", "finding_info.uid": nil,
		"resources": map[string]any{"name": "p"}, "type_uid": int64(200402), "src_endpoint.ip": "203.0.113.45", "cloud.provider": "gcp",
		"finding_info.attacks": []any{map[string]any{"version": "18.1"}}, "time": "2026-11-20T09:14:33Z", "class_name": "Finding"} {
		bad := map[string]any{}
		for k, v := range finding {
			bad[k] = v
		}
		if v == nil {
			delete(bad, k)
		} else {
			bad[k] = v
		}
		if errs := ocsf.check(bad); len(errs) == 0 {
			t.Errorf("OCSF takes %s = %v", k, v)
		}
	}
}
