package noderuntimereceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestUnknownKeys: an unknown key in any mapping of the configuration (one
// that sets every option) fails the decode, naming the key.
func TestUnknownKeys(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "strict.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub("node_runtime/full")
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(&cfg), "the full configuration must decode")
	assert.Empty(t, configtest.AcceptedUnknownKeys(NewFactory(), sub.ToStringMap()),
		"paths where an unknown key was accepted")
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
