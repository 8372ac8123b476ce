// SPDX-License-Identifier: Apache-2.0

// Package configtest checks, for a component's tests, that its configuration
// refuses unknown keys at every level: a typo such as `tlss:` must fail the
// collector's validate, not turn a setting off in silence.
package configtest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// UnknownKey is the key AcceptedUnknownKeys inserts.
const UnknownKey = "podtrail_unknown_key"

// AcceptedUnknownKeysIn is AcceptedUnknownKeys on the configuration id
// ("cef/full") of a YAML file that sets every option; an error when the
// file does not load or that configuration does not decode as it is.
func AcceptedUnknownKeysIn(factory component.Factory, file, id string) ([]string, error) {
	cm, err := confmaptest.LoadConf(file)
	if err != nil {
		return nil, err
	}
	sub, err := cm.Sub(id)
	if err != nil {
		return nil, err
	}
	cfg := factory.CreateDefaultConfig()
	if err := sub.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("the full configuration %s must decode: %w", id, err)
	}
	return AcceptedUnknownKeys(factory, sub.ToStringMap()), nil
}

// AcceptedUnknownKeys inserts UnknownKey into every mapping of raw (one
// component's configuration, as YAML gives it), one mapping at a time,
// unmarshals the result into the factory's default configuration, and
// returns the paths ("" for the top level, "webhook.tls", "file.multiline")
// where the key was accepted, or refused with an error that does not name
// it. freeForm lists the paths of mappings whose keys are data (headers,
// labels) rather than options.
func AcceptedUnknownKeys(factory component.Factory, raw map[string]any, freeForm ...string) []string {
	var accepted []string
	for _, path := range mappings(raw, "") {
		if slices.Contains(freeForm, path) {
			continue
		}
		m := withKey(raw, splitPath(path))
		cfg := factory.CreateDefaultConfig()
		err := confmap.NewFromStringMap(m).Unmarshal(&cfg)
		if err == nil || !strings.Contains(err.Error(), UnknownKey) {
			accepted = append(accepted, path)
		}
	}
	return accepted
}

// mappings lists the paths of the mappings in v, v itself first.
func mappings(v any, path string) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		out = append(out, path)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, mappings(t[k], join(path, k))...)
		}
	case []any:
		for i, e := range t {
			out = append(out, mappings(e, join(path, strconv.Itoa(i)))...)
		}
	}
	return out
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func splitPath(path string) []string {
	if path == "" {
		return nil
	}
	return strings.Split(path, ".")
}

// withKey returns a deep copy of v with UnknownKey added to the mapping at
// path.
func withKey(v any, path []string) map[string]any {
	c := deepCopy(v)
	cur := c
	for _, p := range path {
		switch t := cur.(type) {
		case map[string]any:
			cur = t[p]
		case []any:
			i, _ := strconv.Atoi(p)
			cur = t[i]
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		panic(fmt.Sprintf("configtest: %v is not a mapping", path))
	}
	m[UnknownKey] = "x"
	return c.(map[string]any)
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}
