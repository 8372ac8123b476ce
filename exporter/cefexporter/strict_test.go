package cefexporter

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestUnknownKeys: an unknown key in any mapping of the configuration (one
// that sets every option) fails the decode, naming the key.
func TestUnknownKeys(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "strict.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub("cef/full")
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(&cfg), "the full configuration must decode")
	assert.Empty(t, configtest.AcceptedUnknownKeys(NewFactory(), sub.ToStringMap()),
		"paths where an unknown key was accepted")
}
