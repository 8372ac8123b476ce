// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"strings"
	"testing"
)

func TestValidMITRE(t *testing.T) {
	for _, id := range []string{"T1036", "T1036.005", "TA0005", "DS0032", "DC0019", "DET0046", "AN0986", "M1026", "G0016", "S0154", "C0024"} {
		if !ValidMITRE(id) {
			t.Errorf("%s refused", id)
		}
	}
	for _, id := range []string{"", "T136", "T1036.5", "T1036.0050", "t1036", "T1036 ", "DC19", "AN-0986", "TA005", "X1234", "T1036.005.001"} {
		if ValidMITRE(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

// TestLint: rules without a title and malformed or repeated MITRE ids are
// reported with their file and line; the default pack has none.
func TestLint(t *testing.T) {
	e := compileWith(t, `rules:
  - id: A
    title: Fine
    mitre: [DC0019, AN0986, T1036.005]
    condition: pod.allowed
  - id: B
    mitre: [T1036.5, DC0019, DC0019]
    condition: pod.allowed
  - id: C
    enabled: false
    mitre: [dc0019]
    condition: pod.allowed
`, "")
	var got []string
	for _, err := range e.Lint() {
		got = append(got, err.Error())
	}
	want := []string{
		`rules.yaml:6: rule "B": no title`,
		`rules.yaml:6: rule "B": mitre "T1036.5" is not an ATT&CK id`,
		`rules.yaml:6: rule "B": mitre "DC0019" twice`,
		`rules.yaml:9: rule "C": no title`,
		`rules.yaml:9: rule "C": mitre "dc0019" is not an ATT&CK id`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("%s\nwant %s", got[i], want[i])
		}
	}
	if errs := loadPack(t).Lint(); len(errs) > 0 {
		t.Errorf("the default pack: %v", errs)
	}
}
