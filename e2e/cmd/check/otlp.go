// SPDX-License-Identifier: Apache-2.0

package main

// Reading the collector's OTLP JSON files (one ExportLogsServiceRequest a
// line): podtrail's records and findings, and the events the gateway received.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type anyValue struct {
	StringValue *string  `json:"stringValue"`
	BoolValue   *bool    `json:"boolValue"`
	IntValue    *string  `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	ArrayValue  *struct {
		Values []anyValue `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []keyValue `json:"values"`
	} `json:"kvlistValue"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

func (v anyValue) native() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.IntValue != nil:
		n, _ := strconv.ParseInt(*v.IntValue, 10, 64)
		return n
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.ArrayValue != nil:
		out := []any{}
		for _, e := range v.ArrayValue.Values {
			out = append(out, e.native())
		}
		return out
	case v.KvlistValue != nil:
		return kvs(v.KvlistValue.Values)
	}
	return nil
}

func kvs(in []keyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range in {
		m[kv.Key] = kv.Value.native()
	}
	return m
}

type logsData struct {
	ResourceLogs []struct {
		ScopeLogs []struct {
			Scope struct {
				Attributes []keyValue `json:"attributes"`
			} `json:"scope"`
			LogRecords []struct {
				EventName  string     `json:"eventName"`
				Observed   string     `json:"observedTimeUnixNano"`
				Body       anyValue   `json:"body"`
				Attributes []keyValue `json:"attributes"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

// event is one log record of an OTLP JSON file.
type event struct {
	name     string
	observed time.Time
	scope    map[string]any
	attrs    map[string]any
	body     any
}

// readEvents calls fn for each log record of the file; a line that does not
// parse (being written) is skipped.
func readEvents(path string, fn func(event)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		var ld logsData
		if err := json.Unmarshal(sc.Bytes(), &ld); err != nil {
			continue
		}
		for _, rl := range ld.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				scope := kvs(sl.Scope.Attributes)
				for _, lr := range sl.LogRecords {
					ns, _ := strconv.ParseInt(lr.Observed, 10, 64)
					fn(event{name: lr.EventName, observed: time.Unix(0, ns), scope: scope, attrs: kvs(lr.Attributes), body: lr.Body.native()})
				}
			}
		}
	}
	return sc.Err()
}

type record struct {
	observed time.Time // when the gateway emitted it
	attrs    map[string]any
	body     string
	findings []string          // rule ids
	severity map[string]string // rule id -> podtrail.rule.severity of its finding
	updates  []map[string]any  // container entries of its update records (digests told after it went out)
}

func (r *record) str(k string) string { s, _ := r.attrs[k].(string); return s }

func (r *record) list(k string) []any { l, _ := r.attrs[k].([]any); return l }

func (r *record) strs(k string) []string {
	var out []string
	for _, e := range r.list(k) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// strOrList reads an attribute that is a string (comma-separated) or a list.
func (r *record) strOrList(k string) []string {
	if s := r.str(k); s != "" {
		return strings.Split(s, ",")
	}
	return r.strs(k)
}

func (r *record) containers() []map[string]any {
	var out []map[string]any
	for _, e := range r.list("podtrail.pod.containers") {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (r *record) key() string { return r.str("k8s.namespace.name") + "/" + r.str("k8s.pod.name") }

func (r *record) uid() string { return r.str("k8s.pod.uid") }

func (r *record) partial(reason string) bool { return has(r.strOrList("podtrail.partial"), reason) }

func (r *record) addFinding(rule, severity string) {
	r.findings = append(r.findings, rule)
	if r.severity == nil {
		r.severity = map[string]string{}
	}
	r.severity[rule] = severity
}

func readRecords(path string) ([]*record, error) {
	var recs []*record
	byAudit := map[string]*record{}
	var findings, updates []map[string]any
	err := readEvents(path, func(ev event) {
		switch ev.name {
		case "podtrail.pod_creation":
			body, _ := ev.body.(string)
			r := &record{attrs: ev.attrs, body: body, observed: ev.observed}
			recs = append(recs, r)
			if id, _ := ev.attrs["podtrail.audit.id"].(string); id != "" {
				byAudit[id] = r
			}
		case "podtrail.finding":
			findings = append(findings, ev.attrs)
		case "podtrail.pod_creation.update":
			updates = append(updates, ev.attrs)
		}
	})
	if err != nil {
		return nil, err
	}
	for _, ua := range updates {
		u := &record{attrs: ua}
		for _, r := range recs {
			if id := u.str("podtrail.audit.id"); id != "" && r.str("podtrail.audit.id") == id ||
				id == "" && u.uid() != "" && r.uid() == u.uid() {
				r.updates = append(r.updates, u.containers()...)
			}
		}
	}
	for _, fa := range findings {
		id, _ := fa["podtrail.audit.id"].(string)
		rule, _ := fa["podtrail.rule.id"].(string)
		sev, _ := fa["podtrail.rule.severity"].(string)
		if r := byAudit[id]; r != nil {
			r.addFinding(rule, sev)
			continue
		}
		// a record without an audit id (node only): join on the pod
		uid, _ := fa["k8s.pod.uid"].(string)
		for _, r := range recs {
			if r.str("podtrail.audit.id") == "" && r.str("k8s.namespace.name") == fa["k8s.namespace.name"] &&
				r.str("k8s.pod.name") == fa["k8s.pod.name"] && r.uid() == uid {
				r.addFinding(rule, sev)
			}
		}
	}
	return recs, nil
}
