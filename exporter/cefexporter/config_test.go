// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef"
	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{name: "", wantErr: []string{"endpoint is required"}},
		{name: "defaults", check: func(t *testing.T, c *Config) {
			assert.Equal(t, "siem.example.com:514", c.Endpoint)
			assert.Equal(t, confignet.TransportTypeTCP, c.Transport)
			assert.False(t, c.TLS.HasValue(), "no tls section: plain TCP")
			assert.Equal(t, FormatCEF, c.Format)
			assert.Equal(t, ProtocolRFC5424, c.Protocol)
			assert.Equal(t, cef.FramingOctetCounting, c.framing())
			assert.Equal(t, "local0", c.Facility)
			assert.Equal(t, "podtrail", c.AppName)
			assert.Equal(t, "\t", c.LEEFDelimiter)
			assert.Equal(t, 5*time.Second, c.TimeoutConfig.Timeout)
			require.True(t, c.QueueBatchConfig.HasValue())
			assert.Nil(t, c.QueueBatchConfig.Get().StorageID)
			assert.True(t, c.BackOffConfig.Enabled)
		}},
		{name: "full", check: func(t *testing.T, c *Config) {
			assert.Equal(t, 3*time.Second, c.DialerConfig.Timeout)
			require.True(t, c.TLS.HasValue())
			assert.Equal(t, "/etc/podtrail/siem-ca.crt", c.TLS.Get().CAFile)
			assert.Equal(t, "siem.example.com", c.TLS.Get().ServerName)
			assert.Equal(t, FormatLEEF, c.Format)
			assert.Equal(t, "^", c.LEEFDelimiter)
			assert.Equal(t, cef.FramingNewline, c.framing())
			assert.Equal(t, "local4", c.Facility)
			assert.Equal(t, "podtrail-gw-1", c.Hostname)
			assert.Equal(t, 10*time.Second, c.TimeoutConfig.Timeout)
			q := c.QueueBatchConfig.Get()
			require.NotNil(t, q)
			assert.Equal(t, component.MustNewID("file_storage"), *q.StorageID)
			assert.Equal(t, int64(5000), q.QueueSize)
			assert.Equal(t, time.Duration(0), c.BackOffConfig.MaxElapsedTime)
		}},
		{name: "tls_empty", check: func(t *testing.T, c *Config) {
			require.True(t, c.TLS.HasValue(), "an empty tls section turns TLS on")
			assert.False(t, c.TLS.Get().Insecure)
		}},
		{name: "udp", check: func(t *testing.T, c *Config) {
			assert.Equal(t, confignet.TransportTypeUDP, c.Transport)
			assert.Equal(t, cef.FramingNone, c.framing())
			assert.Equal(t, ProtocolRFC3164, c.Protocol)
			assert.Equal(t, "13", c.Facility)
		}},
		{name: "bad", wantErr: []string{
			`endpoint "siem.example.com"`, `transport "unix"`, `format "json"`, `protocol "rfc9999"`,
			`framing "crlf"`, `unknown syslog facility "local9"`, `hostname "gw 1"`, `app_name ""`, `leef_delimiter`,
		}},
		{name: "udp_tls", wantErr: []string{"tls needs a tcp transport", `framing "newline": only on tcp`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg.(*Config))
		})
	}
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}
