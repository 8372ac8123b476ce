// SPDX-License-Identifier: Apache-2.0

package main

// Phase 3 (e2e/lineage.sh): image lineage and provenance with the gateway's
// image_metadata lookup on a registry of its own (e2e/tools/lineage), and
// blind spots: the node agent stopped, the apiserver restarted without its
// audit backends.

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// The pack's lineage rules.
const (
	ruleBuiltOn     = "PT-0051"
	ruleTagMoved    = "PT-0052"
	ruleUnsigned    = "PT-0053"
	ruleAuditSilent = "PT-0901"
	ruleNodeSilent  = "PT-0902"
	lineageNS       = "lineage"
)

var lineageRules = []string{ruleBuiltOn, ruleTagMoved, ruleUnsigned}

// lineageImage is one pod of the phase: its image and the digest the
// registry resolved the reference to when the tool pushed it.
type lineageImage struct{ pod, ref, digest string }

func readLineageImages(path string) []lineageImage {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []lineageImage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p := strings.Fields(sc.Text()); len(p) == 3 {
			out = append(out, lineageImage{p[0], p[1], p[2]})
		}
	}
	return out
}

// blindSpot is a podtrail.blind_spot finding.
type blindSpot struct {
	rule, kind, state, node, since, until string
	observed                              time.Time
	body                                  string
}

func readBlindSpots(path string) []blindSpot {
	var out []blindSpot
	_ = readEvents(path, func(ev event) {
		if ev.name != "podtrail.finding" {
			return
		}
		s := func(k string) string { v, _ := ev.attrs[k].(string); return v }
		if s("podtrail.blind_spot.kind") == "" {
			return
		}
		body, _ := ev.body.(string)
		out = append(out, blindSpot{rule: s("podtrail.rule.id"), kind: s("podtrail.blind_spot.kind"), state: s("podtrail.blind_spot.state"),
			node: s("k8s.node.name"), since: s("podtrail.blind_spot.since"), until: s("podtrail.blind_spot.until"), observed: ev.observed, body: body})
	})
	return out
}

// lineagePods are the pods phase 3 creates, besides those of images.txt.
var lineageExtra = []string{"lin-prepull", "lin-after"}

// phase3Complete: every pod of the phase has its record.
func phase3Complete(recs []*record, imgs []lineageImage) bool {
	for _, im := range imgs {
		if len(matching(recs, named(lineageNS, im.pod))) == 0 {
			return false
		}
	}
	for _, p := range lineageExtra {
		if len(matching(recs, named(lineageNS, p))) == 0 {
			return false
		}
	}
	return len(imgs) > 0
}

// checkPhase3 asserts the lineage findings, the metadata on the records,
// unavailable with the registry stopped, and the blind spots.
func checkPhase3(res *result, path, imagesPath, node string, window time.Duration) {
	section("phase 3: image lineage and provenance, blind spots")
	recs, err := readRecords(path)
	res.check(err == nil && len(recs) > 0, "phase 3: records in %s (%d, %v)", path, len(recs), err)
	imgs := readLineageImages(imagesPath)
	res.check(len(imgs) == 7, "phase 3: the lineage registry's images (%d, want 7) in %s", len(imgs), imagesPath)
	want := map[string][]string{
		"lin-approved":          nil,
		"lin-derived-lookalike": {ruleBuiltOn},
		"lin-derived-tag":       {ruleBuiltOn},
		"lin-moved":             {ruleTagMoved},
		"lin-signed":            nil,
		"lin-unsigned":          {ruleUnsigned},
	}
	for _, im := range imgs {
		got := matching(recs, named(lineageNS, im.pod))
		res.check(len(got) == 1, "phase 3: %s (%s): %d record(s), want 1", im.pod, im.ref, len(got))
		if len(got) != 1 {
			continue
		}
		r := got[0]
		var lineage []string
		for _, f := range r.findings {
			if has(lineageRules, f) {
				lineage = append(lineage, f)
			}
		}
		cs := r.containers()
		var digest, status string
		var signed any
		layers := 0
		if len(cs) > 0 {
			digest, _ = cs[0]["digest"].(string)
			status, _ = cs[0]["image_metadata"].(string)
			signed = cs[0]["signed"]
			if l, ok := cs[0]["layers"].([]any); ok {
				layers = len(l)
			}
		}
		res.check(digest == im.digest, "phase 3: %s ran %s (digest %s, want %s)", im.pod, im.ref, short(digest), short(im.digest))
		if im.pod == "lin-down" {
			// the registry was stopped before this pod ran (its image was on the node)
			res.check(r.str("podtrail.image.metadata") == "unavailable" && status == "unavailable",
				"phase 3: %s with the registry stopped: podtrail.image.metadata=%q (container %q), want unavailable", im.pod,
				r.str("podtrail.image.metadata"), status)
			res.check(len(lineage) == 0, "phase 3: %s: no lineage finding from unknown metadata (%v)", im.pod, lineage)
			req, _ := time.Parse(time.RFC3339Nano, r.str("podtrail.requested_at"))
			late := r.observed.Sub(req)
			// the record waits its window (the agent is stopped too: no node
			// events); a lookup waited for would add image_metadata.wait
			res.check(!req.IsZero() && late < window+10*time.Second,
				"phase 3: %s's record not held up by the stopped registry: out %.1f s after the request (window %v)", im.pod, late.Seconds(), window)
			continue
		}
		res.check(r.str("podtrail.image.metadata") == "ok" && status == "ok" && layers >= 2,
			"phase 3: %s: podtrail.image.metadata=%q, the container's %q with %d layers", im.pod, r.str("podtrail.image.metadata"), status, layers)
		w := want[im.pod]
		res.check(fmt.Sprint(lineage) == fmt.Sprint(w), "phase 3: %s: lineage findings %v, want %v (all findings %v)", im.pod, lineage, w, r.findings)
		switch im.pod {
		case "lin-signed":
			res.check(signed == true, "phase 3: %s: signed=%v", im.pod, signed)
		case "lin-unsigned":
			res.check(signed == false, "phase 3: %s: signed=%v", im.pod, signed)
		case "lin-derived-lookalike", "lin-derived-tag":
			base, _ := cs[0]["base_name"].(string)
			res.check(strings.HasSuffix(base, "/acme/app:1.0") && layers == 3, "phase 3: %s: base_name=%q, %d layers (the approved 2 and one more)", im.pod, base, layers)
		}
	}
	pre := matching(recs, named(lineageNS, "lin-prepull"))
	res.check(len(pre) == 1 && pre[0].str("podtrail.image.metadata") == "unavailable",
		"phase 3: the pod that pulled lin-down's image (agent stopped, record due after the registry stopped) says unavailable (%d)", len(pre))
	after := matching(recs, named(lineageNS, "lin-after"))
	res.check(len(after) == 1 && len(after) > 0 && after[0].str("podtrail.partial") == "",
		"phase 3: the pod created after the agent's restart has a whole record (%d)", len(after))

	spots := readBlindSpots(path)
	for _, b := range spots {
		fmt.Printf("      blind spot: %s\n", b.body)
	}
	var nodeBlind, nodeBack, auditBlind, auditBack []blindSpot
	for _, b := range spots {
		switch {
		case b.rule == ruleNodeSilent && b.state == "blind":
			nodeBlind = append(nodeBlind, b)
		case b.rule == ruleNodeSilent && b.state == "recovered":
			nodeBack = append(nodeBack, b)
		case b.rule == ruleAuditSilent && b.state == "blind":
			auditBlind = append(auditBlind, b)
		case b.rule == ruleAuditSilent && b.state == "recovered":
			auditBack = append(auditBack, b)
		}
	}
	res.check(len(nodeBlind) == 1 && nodeBlind[0].node == node && nodeBlind[0].since != "",
		"phase 3: node agent stopped: one %s blind_spot finding naming node %s with since (%d)", ruleNodeSilent, node, len(nodeBlind))
	res.check(len(nodeBack) == 1 && nodeBack[0].node == node && nodeBack[0].until != "" &&
		(len(nodeBlind) == 0 || nodeBack[0].observed.After(nodeBlind[0].observed)),
		"phase 3: agent restarted: one %s recovery finding naming the node, after it (%d)", ruleNodeSilent, len(nodeBack))
	res.check(len(auditBlind) == 1 && auditBlind[0].since != "",
		"phase 3: apiserver without audit backends: one %s audit-silence finding (%d)", ruleAuditSilent, len(auditBlind))
	res.check(len(auditBack) == 1 && auditBack[0].until != "" && (len(auditBlind) == 0 || auditBack[0].observed.After(auditBlind[0].observed)),
		"phase 3: audit backends back: one %s recovery finding, after it (%d)", ruleAuditSilent, len(auditBack))
}
