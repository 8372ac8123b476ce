// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseLEEFDelimiter reads a LEEF 2.0 delimiter field: one character, or its
// code in hex as xHH or 0xHH (x09 is tab). It must be a valid delimiter.
func ParseLEEFDelimiter(s string) (byte, error) {
	c := byte(0)
	switch {
	case len(s) == 1:
		c = s[0]
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "x"):
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0"), "x"), 16, 8)
		if err != nil {
			return 0, fmt.Errorf("LEEF delimiter %q: %w", s, err)
		}
		c = byte(n)
	default:
		return 0, fmt.Errorf("LEEF delimiter %q: one character, or xHH", s)
	}
	if !ValidLEEFDelimiter(c) {
		return 0, fmt.Errorf("LEEF delimiter %q: must not be a letter, digit, space, control character, '=', '\\' or '|'", s)
	}
	return c, nil
}
