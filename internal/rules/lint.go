// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"regexp"
)

// mitreID is a MITRE ATT&CK identifier: a technique (T1036) or
// sub-technique (T1036.005), a tactic (TA0005), a data source (DS0032),
// data component (DC0019), detection strategy (DET0046) or analytic
// (AN0986), a mitigation (M1026), a group (G0016), software (S0154) or a
// campaign (C0024).
var mitreID = regexp.MustCompile(`^(T\d{4}(\.\d{3})?|TA\d{4}|DS\d{4}|DC\d{4}|DET\d{4}|AN\d{4}|M\d{4}|G\d{4}|S\d{4}|C\d{4})$`)

// ValidMITRE reports whether id is a well-formed MITRE ATT&CK identifier.
func ValidMITRE(id string) bool { return mitreID.MatchString(id) }

// Lint checks what compiling does not require but a pack should have:
// every rule, enabled or not, has a title, and its mitre ids are
// well-formed ATT&CK identifiers, each once. Each problem names the file
// and line of the rule. podtrail-rules check fails on them.
func (e *Engine) Lint() []error {
	var errs []error
	for _, r := range e.all {
		where := fmt.Sprintf("%s:%d: rule %q", r.file, r.line, r.ID)
		if r.Title == "" {
			errs = append(errs, fmt.Errorf("%s: no title", where))
		}
		seen := map[string]bool{}
		for _, id := range r.MITRE {
			switch {
			case !ValidMITRE(id):
				errs = append(errs, fmt.Errorf("%s: mitre %q is not an ATT&CK id (T1036, T1036.005, TA0005, DS0032, DC0019, DET0046, AN0986, M1026, G0016, S0154, C0024)", where, id))
			case seen[id]:
				errs = append(errs, fmt.Errorf("%s: mitre %q twice", where, id))
			}
			seen[id] = true
		}
	}
	return errs
}
