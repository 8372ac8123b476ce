// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

// TestExampleConfig resolves distributions/otelcol-podtrail/config/siem-cef.yaml
// as the collector does (file and env providers) and validates every cef
// exporter in it: every option known, every value valid. The distribution's
// TestConfigs also runs `otelcol-podtrail validate` on it.
func TestExampleConfig(t *testing.T) {
	path, err := filepath.Abs(filepath.Join("..", "..", "distributions", "otelcol-podtrail", "config", "siem-cef.yaml"))
	require.NoError(t, err)
	t.Setenv("MY_POD_IP", "127.0.0.1")
	r, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"file:" + path},
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
		DefaultScheme:     "env",
	})
	require.NoError(t, err)
	conf, err := r.Resolve(context.Background())
	require.NoError(t, err)
	exporters, err := conf.Sub("exporters")
	require.NoError(t, err)
	n := 0
	for key := range exporters.ToStringMap() {
		var id component.ID
		require.NoError(t, id.UnmarshalText([]byte(key)))
		if id.Type() != metadata.Type {
			continue
		}
		n++
		sub, err := exporters.Sub(key)
		require.NoError(t, err)
		cfg := NewFactory().CreateDefaultConfig()
		require.NoError(t, sub.Unmarshal(cfg), key)
		require.NoError(t, confmap.Validate(cfg), key)
		c := cfg.(*Config)
		require.True(t, c.TLS.HasValue(), "%s: TLS", key)
		require.NotNil(t, c.QueueBatchConfig.Get().StorageID, "%s: persistent queue", key)
	}
	require.Equal(t, 2, n, "cef and cef/qradar")
}

// TestReadmeOptions: the README documents every configuration option.
func TestReadmeOptions(t *testing.T) {
	readme := string(mustReadFile(t, "README.md"))
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")
			if f.Name == "_" || tag[0] == "-" {
				continue
			}
			if tag[0] == "" { // squashed
				walk(f.Type, prefix)
				continue
			}
			name := prefix + tag[0]
			if name == "dialer" { // a section of one option
				walk(f.Type, "dialer::")
				continue
			}
			assert.Contains(t, readme, "`"+name+"`", "README lacks option %s", name)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}
