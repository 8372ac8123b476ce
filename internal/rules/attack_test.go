// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// attackExcerpt reads testdata/attack's STIX excerpt: techniques (id →
// name, tactic ids, platforms) and tactics (id → name).
func attackExcerpt(t *testing.T) (techniques map[string]attackTechnique, platforms map[string][]string, tactics map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "attack", "enterprise-attack-18.1-excerpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Objects []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Shortname  string `json:"x_mitre_shortname"`
			References []struct {
				Source string `json:"source_name"`
				ID     string `json:"external_id"`
			} `json:"external_references"`
			Phases []struct {
				Chain string `json:"kill_chain_name"`
				Phase string `json:"phase_name"`
			} `json:"kill_chain_phases"`
			XPlatforms []string `json:"x_mitre_platforms"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		t.Fatal(err)
	}
	byShort := map[string]string{}
	techniques, platforms, tactics = map[string]attackTechnique{}, map[string][]string{}, map[string]string{}
	for _, o := range bundle.Objects {
		if o.Type == "x-mitre-tactic" {
			byShort[o.Shortname] = o.References[0].ID
			tactics[o.References[0].ID] = o.Name
		}
	}
	for _, o := range bundle.Objects {
		if o.Type != "attack-pattern" {
			continue
		}
		id := o.References[0].ID
		tt := attackTechnique{id: id, name: o.Name}
		for _, p := range o.Phases {
			if p.Chain == "mitre-attack" {
				tt.tactics = append(tt.tactics, byShort[p.Phase])
			}
		}
		techniques[id], platforms[id] = tt, o.XPlatforms
	}
	return techniques, platforms, tactics
}

// TestATTACKTable: the technique and tactic table is ATT&CK's (the STIX
// excerpt in testdata/attack): names and tactics as ATT&CK has them, every
// Containers technique in it, and every technique the default pack names.
func TestATTACKTable(t *testing.T) {
	techniques, platforms, tactics := attackExcerpt(t)
	if !reflect.DeepEqual(tactics, attackTactics) {
		t.Errorf("tactics %v, ATT&CK has %v", attackTactics, tactics)
	}
	for id, want := range techniques {
		got, ok := attackTechniques[id]
		switch {
		case !ok:
			t.Errorf("%s %s (%v) missing from the table", id, want.name, platforms[id])
		case got.name != want.name || !slices.Equal(got.tactics, want.tactics):
			t.Errorf("%s: table has %q %v, ATT&CK %q %v", id, got.name, got.tactics, want.name, want.tactics)
		}
	}
	for id := range attackTechniques {
		if _, ok := techniques[id]; !ok {
			t.Errorf("%s is in the table, not in the excerpt", id)
		}
	}
	for _, r := range loadPack(t).Rules() {
		for _, id := range r.MITRE {
			if strings.HasPrefix(id, "T") && !strings.HasPrefix(id, "TA") {
				if _, ok := attackTechniques[id]; !ok {
					t.Errorf("rule %s names %s, which the table has not", r.ID, id)
				}
			}
		}
	}
}

func TestATTACKOf(t *testing.T) {
	a := ATTACKOf([]string{"DC0019", "AN0986", "T1036.005", "T1610", "T1036", "TA0005", "T9999.001", "T1610"})
	want := ATTACK{
		IDs:           []string{"T1036.005", "T1610", "T1036", "T9999.001"},
		Techniques:    []ATTACKRef{{"T1036", "Masquerading"}, {"T1610", "Deploy Container"}, {"T9999", ""}},
		SubTechniques: []ATTACKRef{{"T1036.005", "Match Legitimate Resource Name or Location"}, {"T9999.001", ""}},
		Tactics:       []ATTACKRef{{"TA0005", "Defense Evasion"}, {"TA0002", "Execution"}},
		Entries: []ATTACKEntry{
			{ATTACKRef{"T1036", "Masquerading"}, ATTACKRef{"T1036.005", "Match Legitimate Resource Name or Location"}, ATTACKRef{"TA0005", "Defense Evasion"}},
			{ATTACKRef{"T1610", "Deploy Container"}, ATTACKRef{}, ATTACKRef{"TA0005", "Defense Evasion"}},
			{ATTACKRef{"T1610", "Deploy Container"}, ATTACKRef{}, ATTACKRef{"TA0002", "Execution"}},
			{ATTACKRef{"T1036", "Masquerading"}, ATTACKRef{}, ATTACKRef{"TA0005", "Defense Evasion"}},
			{ATTACKRef{"T9999", ""}, ATTACKRef{"T9999.001", ""}, ATTACKRef{}},
		},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("ATTACKOf:\n got %+v\nwant %+v", a, want)
	}
	if a := ATTACKOf([]string{"DC0019", "AN0986"}); !reflect.DeepEqual(a, ATTACK{}) {
		t.Errorf("no technique: %+v", a)
	}
}
