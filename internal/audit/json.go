// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/json"
	"errors"
	"fmt"

	gojson "github.com/goccy/go-json"
)

// unmarshal decodes the JSON of an object in an event (a pod), and of an
// event decodeFast leaves alone, with goccy/go-json, a drop-in for
// encoding/json (same struct tags, same json.RawMessage handling) that
// decodes these events about four times as fast, and is what contrib's
// stanza json_parser uses.
//
// goccy v0.10.6 can panic on some broken input (an index out of range in
// skipWhiteSpace on a cut escaped key, FuzzDecodeFast's find, kept as a
// seed): the panic is an error here, so one broken line never takes the
// collector down.
func unmarshal(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: broken JSON (the decoder failed: %v)", errDecoderPanic, r)
		}
	}()
	return gojson.Unmarshal(data, v)
}

// errDecoderPanic is wrapped by the error of input that made goccy panic.
var errDecoderPanic = errors.New("invalid JSON")

// isTypeError reports whether err says the JSON is valid but does not fit
// the Go type (a string where an object belongs): not an audit event,
// rather than broken JSON.
func isTypeError(err error) bool {
	var std *json.UnmarshalTypeError
	var goccy *gojson.UnmarshalTypeError
	return errors.As(err, &std) || errors.As(err, &goccy)
}

// notAnObject reports whether data is valid JSON other than an object (42,
// "x", [...]): goccy reports those into a struct as syntax errors, where
// encoding/json, and these callers, call them a type mismatch.
func notAnObject(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return false
		}
		return json.Valid(data)
	}
	return false
}
