// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
)

// baseline proposes a site inventory from exported pod-creation records
// (rules.Engine.Baseline): it prints the review (held-back records, one
// line per proposed entry, findings before and after) and writes the
// proposal to --out, or to stdout without it.
func baseline(e *rules.Engine, fs *flag.FlagSet, out, hold string, pin bool, stdout, stderr io.Writer) int {
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "baseline: no records given (OTLP JSON files of podtrail.pod_creation log records)")
		return 2
	}
	var recs []*podrecord.Record
	for _, f := range files {
		rs, err := readRecords(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		recs = append(recs, rs...)
	}
	b, err := e.Baseline(recs, rules.BaselineOptions{Hold: hold, Pin: pin})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	data, err := b.YAML()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	review := stdout
	if out == "" {
		review = stderr // stdout is the proposal
	}
	fmt.Fprintf(review, "baseline: %d pod-creation records, %d learned from, %d held back\n", b.Records, b.Learned, len(b.Held))
	for _, h := range b.Held {
		fmt.Fprintf(review, "! held back  %s by %s: %s\n", h.Pod, h.Actor, strings.Join(h.Findings, ", "))
	}
	for _, l := range b.Diff {
		fmt.Fprintln(review, l)
	}
	fmt.Fprintf(review, "findings of medium or above on the learned records: %d now, %d with the proposal\n", b.Before, b.After)
	if out == "" {
		_, err = stdout.Write(data)
	} else {
		err = os.WriteFile(out, data, 0o644)
		if err == nil {
			fmt.Fprintf(review, "proposal written to %s: review it, then merge it after the inventory (--inventory ... --inventory %s)\n", out, out)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return 0
}

// readRecords reads the podtrail.pod_creation log records of an OTLP JSON
// file: the file exporter's (one ExportLogsServiceRequest a line), or one
// JSON document.
func readRecords(file string) ([]*podrecord.Record, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var u plog.JSONUnmarshaler
	var out []*podrecord.Record
	add := func(ld plog.Logs) {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					if lr := lrs.At(k); lr.EventName() == attr.EventPodCreation {
						out = append(out, recordOf(lr.Attributes()))
					}
				}
			}
		}
	}
	// The file exporter writes a request a line; a pretty-printed document
	// spans lines, and its first line alone does not parse.
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			if n == 1 {
				if ld, err2 := u.UnmarshalLogs(bytes.TrimSpace(data)); err2 == nil {
					add(ld)
					return out, nil
				}
			}
			return nil, fmt.Errorf("%s:%d: not OTLP JSON logs: %w", file, n, err)
		}
		add(ld)
	}
	return out, sc.Err()
}

// recordOf rebuilds, from a podtrail.pod_creation log record's attributes
// (the pod_creation processor's README lists them), the record fields the
// rules and the learner read.
func recordOf(a pcommon.Map) *podrecord.Record {
	str := func(k string) string {
		if v, ok := a.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	strs := func(k string) []string {
		v, ok := a.Get(k)
		if !ok || v.Type() != pcommon.ValueTypeSlice {
			return nil
		}
		out := make([]string, 0, v.Slice().Len())
		for i := 0; i < v.Slice().Len(); i++ {
			out = append(out, v.Slice().At(i).AsString())
		}
		return out
	}
	r := &podrecord.Record{
		AuditID: str(attr.AuditID), Namespace: str(attr.K8sNamespaceName), Name: str(attr.K8sPodName), UID: str(attr.K8sPodUID),
		GenerateName: str(attr.PodGenerateName),
		Owner:        podrecord.Owner{Kind: str(attr.PodOwnerKind), Name: str(attr.PodOwnerName), UID: str(attr.PodOwnerUID)},
		Chain:        strs(attr.PodOwnerChain),
		Actor: podrecord.Actor{Username: str(attr.UserName), UID: str(attr.UserID), Kind: str(attr.ActorKind),
			Groups: strs(attr.ActorGroups), ServiceAccount: str(attr.ActorServiceAccount)},
		Impersonated: podrecord.Identity{Username: str(attr.ImpersonatedUserName), UID: str(attr.ImpersonatedUserID),
			Kind: str(attr.ImpersonatedKind), Groups: strs(attr.ImpersonatedGroups),
			ServiceAccount: str(attr.ImpersonatedServiceAccount)},
		SourceIPs: strs(attr.AuditSourceIPs), UserAgent: str(attr.UserAgentOriginal), Channel: str(attr.Channel),
		FieldManager: str(attr.FieldManager), Managers: strs(attr.Managers),
		ServiceAccount: str(attr.PodServiceAccount), Node: str(attr.K8sNodeName),
		Decision: str(attr.Decision), Reason: str(attr.Reason), AuditLevel: str(attr.AuditLevel),
		Origin: str(attr.Origin), Partial: str(attr.Partial), Join: str(attr.Join),
		Sources: strs(attr.Sources), Missing: strs(attr.Missing),
	}
	if v, ok := a.Get(attr.Allowed); ok {
		r.Allowed = v.Bool()
	}
	if v, ok := a.Get(attr.HTTPStatusCode); ok {
		r.Code = int(v.Int())
	}
	if v, ok := a.Get(attr.PodLabels); ok && v.Type() == pcommon.ValueTypeMap {
		r.Labels = map[string]string{}
		v.Map().Range(func(k string, v pcommon.Value) bool {
			r.Labels[k] = v.AsString()
			return true
		})
	}
	for _, ns := range strs(attr.PodHostNamespaces) {
		switch ns {
		case "network":
			r.HostNetwork = true
		case "pid":
			r.HostPID = true
		case "ipc":
			r.HostIPC = true
		}
	}
	if v, ok := a.Get(attr.PodContainers); ok && v.Type() == pcommon.ValueTypeSlice {
		for i := 0; i < v.Slice().Len(); i++ {
			m := v.Slice().At(i).Map()
			get := func(k string) string {
				if x, ok := m.Get(k); ok {
					return x.AsString()
				}
				return ""
			}
			c := podrecord.Container{Name: get("name"), Image: get("image"), Type: get("type"), Digest: get("digest"),
				ImageID: get("image_id"), DigestSource: get("digest_source")}
			if x, ok := m.Get("privileged"); ok {
				c.Privileged = x.Bool()
			}
			r.Containers = append(r.Containers, c)
		}
	}
	if u := str(attr.InitiatorUsername); u != "" {
		r.Initiator = &podrecord.Initiator{Username: u, Kind: str(attr.InitiatorKind), Channel: str(attr.InitiatorChannel),
			Object: str(attr.InitiatorObject), Verb: str(attr.InitiatorVerb)}
	}
	return r
}
