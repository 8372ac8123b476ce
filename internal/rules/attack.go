// SPDX-License-Identifier: Apache-2.0

package rules

import "strings"

// ATTACKVersion is the MITRE ATT&CK Enterprise release the technique and
// tactic names below are from (testdata/attack: the STIX objects they were
// taken from, and where those come from).
const ATTACKVersion = "18.1"

// attackTechnique is an ATT&CK Enterprise technique or sub-technique: its
// name as ATT&CK gives it (a sub-technique's without its parent's) and the
// ids of its tactics, in ATT&CK's order.
type attackTechnique struct {
	id, name string
	tactics  []string
}

// attackTechniques are the Enterprise techniques for the Containers
// platform, those the default pack names and their parents, as of
// ATTACKVersion (TestATTACKTable holds them to the STIX excerpt).
var attackTechniques = func() map[string]attackTechnique {
	m := map[string]attackTechnique{}
	for _, t := range []attackTechnique{
		{"T1036", "Masquerading", []string{"TA0005"}},
		{"T1036.005", "Match Legitimate Resource Name or Location", []string{"TA0005"}},
		{"T1036.010", "Masquerade Account Name", []string{"TA0005"}},
		{"T1046", "Network Service Discovery", []string{"TA0007"}},
		{"T1053", "Scheduled Task/Job", []string{"TA0002", "TA0003", "TA0004"}},
		{"T1053.007", "Container Orchestration Job", []string{"TA0002", "TA0003", "TA0004"}},
		{"T1059", "Command and Scripting Interpreter", []string{"TA0002"}},
		{"T1059.013", "Container CLI/API", []string{"TA0002"}},
		{"T1068", "Exploitation for Privilege Escalation", []string{"TA0004"}},
		{"T1069", "Permission Groups Discovery", []string{"TA0007"}},
		{"T1070", "Indicator Removal", []string{"TA0005"}},
		{"T1078", "Valid Accounts", []string{"TA0005", "TA0003", "TA0004", "TA0001"}},
		{"T1078.001", "Default Accounts", []string{"TA0005", "TA0003", "TA0004", "TA0001"}},
		{"T1078.003", "Local Accounts", []string{"TA0005", "TA0003", "TA0004", "TA0001"}},
		{"T1078.004", "Cloud Accounts", []string{"TA0005", "TA0003", "TA0004", "TA0001"}},
		{"T1098", "Account Manipulation", []string{"TA0003", "TA0004"}},
		{"T1098.006", "Additional Container Cluster Roles", []string{"TA0003", "TA0004"}},
		{"T1110", "Brute Force", []string{"TA0006"}},
		{"T1110.001", "Password Guessing", []string{"TA0006"}},
		{"T1110.003", "Password Spraying", []string{"TA0006"}},
		{"T1110.004", "Credential Stuffing", []string{"TA0006"}},
		{"T1133", "External Remote Services", []string{"TA0003", "TA0001"}},
		{"T1134", "Access Token Manipulation", []string{"TA0005", "TA0004"}},
		{"T1136", "Create Account", []string{"TA0003"}},
		{"T1136.001", "Local Account", []string{"TA0003"}},
		{"T1190", "Exploit Public-Facing Application", []string{"TA0001"}},
		{"T1204", "User Execution", []string{"TA0002"}},
		{"T1204.003", "Malicious Image", []string{"TA0002"}},
		{"T1485", "Data Destruction", []string{"TA0040"}},
		{"T1490", "Inhibit System Recovery", []string{"TA0040"}},
		{"T1496", "Resource Hijacking", []string{"TA0040"}},
		{"T1496.001", "Compute Hijacking", []string{"TA0040"}},
		{"T1496.002", "Bandwidth Hijacking", []string{"TA0040"}},
		{"T1498", "Network Denial of Service", []string{"TA0040"}},
		{"T1499", "Endpoint Denial of Service", []string{"TA0040"}},
		{"T1525", "Implant Internal Image", []string{"TA0003"}},
		{"T1528", "Steal Application Access Token", []string{"TA0006"}},
		{"T1543", "Create or Modify System Process", []string{"TA0003", "TA0004"}},
		{"T1543.005", "Container Service", []string{"TA0003", "TA0004"}},
		{"T1550", "Use Alternate Authentication Material", []string{"TA0005", "TA0008"}},
		{"T1550.001", "Application Access Token", []string{"TA0005", "TA0008"}},
		{"T1552", "Unsecured Credentials", []string{"TA0006"}},
		{"T1552.001", "Credentials In Files", []string{"TA0006"}},
		{"T1552.007", "Container API", []string{"TA0006"}},
		{"T1562", "Impair Defenses", []string{"TA0005"}},
		{"T1562.001", "Disable or Modify Tools", []string{"TA0005"}},
		{"T1609", "Container Administration Command", []string{"TA0002"}},
		{"T1610", "Deploy Container", []string{"TA0005", "TA0002"}},
		{"T1611", "Escape to Host", []string{"TA0004"}},
		{"T1612", "Build Image on Host", []string{"TA0005"}},
		{"T1613", "Container and Resource Discovery", []string{"TA0007"}},
	} {
		m[t.id] = t
	}
	return m
}()

// attackTactics are ATT&CK Enterprise's tactics.
var attackTactics = map[string]string{
	"TA0001": "Initial Access",
	"TA0002": "Execution",
	"TA0003": "Persistence",
	"TA0004": "Privilege Escalation",
	"TA0005": "Defense Evasion",
	"TA0006": "Credential Access",
	"TA0007": "Discovery",
	"TA0008": "Lateral Movement",
	"TA0009": "Collection",
	"TA0010": "Exfiltration",
	"TA0011": "Command and Control",
	"TA0040": "Impact",
	"TA0042": "Resource Development",
	"TA0043": "Reconnaissance",
}

// ATTACKRef is an ATT&CK object a finding names: its id and name.
type ATTACKRef struct {
	ID, Name string
}

// ATTACKEntry is one technique a rule names with one of its tactics, as
// OCSF's attack object and ECS's threat fields take it: the technique (a
// sub-technique's parent), the sub-technique (empty for a technique) and
// the tactic (empty when the technique is not in the table).
type ATTACKEntry struct {
	Technique, SubTechnique, Tactic ATTACKRef
}

// ATTACK is what a rule's mitre list says in ATT&CK's own terms, apart from
// the data component (DC0019) and analytic (AN0986) ids it also holds.
type ATTACK struct {
	// IDs are the technique and sub-technique ids as the rule names them
	// (T1036.005, T1610): what Splunk's mitre_technique_id takes.
	IDs []string
	// Techniques are the techniques, a sub-technique's parent in its
	// place (T1036 Masquerading), each once; SubTechniques the
	// sub-techniques (T1036.005 Match Legitimate Resource Name or
	// Location); Tactics the tactics of both, and those the rule names
	// itself (TA0005 Defense Evasion), each once. A name is empty for an
	// id the table does not have.
	Techniques, SubTechniques, Tactics []ATTACKRef
	// Entries pair each technique the rule names with each of its tactics.
	Entries []ATTACKEntry
}

// ATTACKOf reads a rule's mitre list. Ids of other kinds (DC, DET, AN, DS,
// M, G, S, C) are left out.
func ATTACKOf(mitre []string) ATTACK {
	var a ATTACK
	seen := map[string]bool{}
	addRef := func(refs *[]ATTACKRef, ref ATTACKRef) {
		if !seen[ref.ID] {
			seen[ref.ID] = true
			*refs = append(*refs, ref)
		}
	}
	for _, id := range mitre {
		switch {
		case strings.HasPrefix(id, "TA"):
			addRef(&a.Tactics, ATTACKRef{id, attackTactics[id]})
		case strings.HasPrefix(id, "T") && ValidMITRE(id):
			if seen["ids "+id] {
				continue
			}
			seen["ids "+id] = true
			a.IDs = append(a.IDs, id)
			t := attackTechniques[id]
			var e ATTACKEntry
			if parent, _, sub := strings.Cut(id, "."); sub {
				e.Technique = ATTACKRef{parent, attackTechniques[parent].name}
				e.SubTechnique = ATTACKRef{id, t.name}
				addRef(&a.SubTechniques, e.SubTechnique)
			} else {
				e.Technique = ATTACKRef{id, t.name}
			}
			addRef(&a.Techniques, e.Technique)
			if len(t.tactics) == 0 {
				a.Entries = append(a.Entries, e)
			}
			for _, ta := range t.tactics {
				e.Tactic = ATTACKRef{ta, attackTactics[ta]}
				addRef(&a.Tactics, e.Tactic)
				a.Entries = append(a.Entries, e)
			}
		}
	}
	return a
}
