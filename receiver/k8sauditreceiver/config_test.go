// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{name: "", wantErr: "set at least one of webhook and file"},
		{name: "webhook", check: func(t *testing.T, c *Config) {
			w := c.Webhook.Get()
			require.NotNil(t, w)
			assert.Equal(t, "0.0.0.0:8443", w.NetAddr.Endpoint)
			assert.Equal(t, 10*time.Second, w.RetryAfter)
			assert.Equal(t, int64(10485760), w.MaxRequestBodySize)
			require.True(t, w.TLS.HasValue())
			assert.Equal(t, "/etc/podtrail/tls/ca.crt", w.TLS.Get().ClientCAFile)
			assert.False(t, c.File.HasValue())
		}},
		{name: "file", check: func(t *testing.T, c *Config) {
			f := c.File.Get()
			require.NotNil(t, f)
			assert.Equal(t, []string{"/var/log/kubernetes/audit/audit.log"}, f.Include)
			assert.Equal(t, "beginning", f.StartAt)
			assert.Equal(t, component.MustNewID("file_storage"), *f.StorageID)
			assert.Equal(t, "auto", f.Format)
			assert.False(t, c.Webhook.HasValue())
		}},
		{name: "noinclude", wantErr: "file.include must name at least one audit log path"},
		{name: "defaults", check: func(t *testing.T, c *Config) {
			w := c.Webhook.Get()
			require.NotNil(t, w)
			assert.Equal(t, "localhost:8443", w.NetAddr.Endpoint)
			assert.Equal(t, "/audit", w.Path)
			assert.Equal(t, 5*time.Second, w.RetryAfter)
			assert.Equal(t, "auto", w.Format)
			assert.Empty(t, string(w.FirehoseAccessKey))
		}},
		{name: "badpath", wantErr: "must start with /"},
		{name: "eks", check: func(t *testing.T, c *Config) {
			w := c.Webhook.Get()
			require.NotNil(t, w)
			assert.Equal(t, "eks", w.Format)
			assert.Equal(t, "/firehose", w.Path)
			assert.Equal(t, "k3y", string(w.FirehoseAccessKey))
			assert.Equal(t, int64(64<<20), w.MaxRequestBodySize)
		}},
		{name: "cloudfiles", check: func(t *testing.T, c *Config) {
			f := c.File.Get()
			require.NotNil(t, f)
			assert.Equal(t, "aks", f.Format)
		}},
		{name: "badformat", wantErr: `webhook.format: unknown audit form "cloudtrail"`},
		{name: "badformat", wantErr: `file.format: unknown audit form "splunk"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
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
