// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestUnknownKeys: a typo anywhere in the configuration fails the decode
// (and so the collector's validate) with the key and where it is, instead
// of turning a setting off in silence: `tlss:` would otherwise serve plain
// HTTP.
func TestUnknownKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		conf map[string]any
		want []string // in the error
	}{
		{"tlss", map[string]any{"webhook": map[string]any{"tlss": map[string]any{"cert_file": "x", "key_file": "y"}}}, []string{"webhook", "tlss"}},
		{"authh", map[string]any{"webhook": map[string]any{"authh": map[string]any{"authenticator": "bearertokenauth"}}}, []string{"webhook", "authh"}},
		{"read_timeot", map[string]any{"webhook": map[string]any{"read_timeot": "5s"}}, []string{"webhook", "read_timeot"}},
		{"pathh", map[string]any{"webhook": map[string]any{"pathh": "/audit"}}, []string{"webhook", "pathh"}},
		{"tls.cert_fil", map[string]any{"webhook": map[string]any{"tls": map[string]any{"cert_fil": "x"}}}, []string{"webhook", "tls", "cert_fil"}},
		{"dialer.timeot", map[string]any{"webhook": map[string]any{"dialer": map[string]any{"timeot": "1s"}}}, []string{"webhook", "dialer", "timeot"}},
		{"keepalive.idle", map[string]any{"webhook": map[string]any{"keepalive": map[string]any{"idle": "1s"}}}, []string{"webhook", "keepalive", "idle"}},
		{"max_concurent_requests", map[string]any{"webhook": map[string]any{"max_concurent_requests": 5}}, []string{"webhook", "max_concurent_requests"}},
		{"file.includ", map[string]any{"file": map[string]any{"include": []any{"a"}, "includ": []any{"b"}}}, []string{"file", "includ"}},
		{"file.multiline", map[string]any{"file": map[string]any{"include": []any{"a"}, "multiline": map[string]any{"line_start": "x"}}}, []string{"file", "multiline", "line_start"}},
		{"webhok", map[string]any{"webhok": map[string]any{}}, []string{"webhok"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			err := confmap.NewFromStringMap(tt.conf).Unmarshal(&cfg)
			require.Error(t, err, "an unknown key was accepted")
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}

	// The file consumer's header reads its metadata_operators leniently
	// (stanza operators ignore unknown keys); audit logs have no header, so
	// the section is refused.
	t.Run("file.header", func(t *testing.T) {
		cfg := NewFactory().CreateDefaultConfig()
		m := map[string]any{"file": map[string]any{"include": []any{"a"}, "header": map[string]any{
			"pattern": "^#", "metadata_operators": []any{map[string]any{"type": "regex_parser", "regex": "^#(?P<a>.*)", "regexx": "typo"}},
		}}}
		require.NoError(t, confmap.NewFromStringMap(m).Unmarshal(&cfg))
		assert.ErrorContains(t, confmap.Validate(cfg), "file.header")
	})

	// Every mapping of a configuration that sets every option.
	accepted, err := configtest.AcceptedUnknownKeysIn(NewFactory(), filepath.Join("testdata", "strict.yaml"), "k8s_audit/full")
	require.NoError(t, err)
	assert.Empty(t, accepted, "paths where an unknown key was accepted")
}
