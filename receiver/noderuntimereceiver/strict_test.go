// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestUnknownKeys: an unknown key in any mapping of the configuration (one
// that sets every option) fails the decode, naming the key.
func TestUnknownKeys(t *testing.T) {
	accepted, err := configtest.AcceptedUnknownKeysIn(NewFactory(), filepath.Join("testdata", "strict.yaml"), "node_runtime/full")
	require.NoError(t, err)
	assert.Empty(t, accepted, "paths where an unknown key was accepted")
}

// TestHeaderRefused: the file consumer's header reads its
// metadata_operators leniently (stanza operators ignore unknown keys); node
// logs have no header, so the section is refused.
func TestHeaderRefused(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig()
	m := map[string]any{"file": map[string]any{"include": []any{"a"}, "header": map[string]any{
		"pattern": "^#", "metadata_operators": []any{map[string]any{"type": "regex_parser", "regex": "^#(?P<a>.*)", "regexx": "typo"}},
	}}}
	require.NoError(t, confmap.NewFromStringMap(m).Unmarshal(&cfg))
	assert.ErrorContains(t, confmap.Validate(cfg), "file.header")
}
