// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

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

	"github.com/podtrail/podtrail/processor/podcreationprocessor/internal/metadata"
)

var (
	storageID = component.MustNewID("file_storage")
	yes       = true
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: NewFactory().CreateDefaultConfig().(*Config)},
		{name: "rules", want: &Config{RulesFile: "/etc/podtrail/rules.yaml", InventoryFile: "/etc/podtrail/inventory.yaml",
			Rules: RulesConfig{Files: []string{"/etc/podtrail/local.d"}, InventoryFiles: []string{"/etc/podtrail/inventory.d"}, Strict: &yes,
				Suppression: SuppressionConfig{Window: 5 * time.Minute, MaxKeys: 100, ActorKinds: []string{"controller", "service_account"}}},
			ReloadInterval: 10 * time.Second, Passthrough: true,
			Learning: LearningConfig{File: "/var/lib/podtrail/inventory.proposal.yaml", Interval: 5 * time.Minute},
			Correlation: CorrelationConfig{Expect: []string{"audit", "scheduler"}, Window: 10 * time.Second, MaxPending: 1000, MaxOwners: 5000,
				Tombstones: 2000, DenialWindow: 10 * time.Minute, DigestWait: 2 * time.Second, CreateWait: 2 * time.Minute, Storage: &storageID},
			BlindSpots: BlindSpotsConfig{AuditSilence: 5 * time.Minute, NodeSilence: 90 * time.Second, EvictionClear: 15 * time.Minute, AuditStageGap: 2 * time.Minute},
			ImageMetadata: ImageMetadataConfig{Enabled: true, DockerConfig: "/etc/podtrail/docker/config.json", InsecureRegistries: []string{"registry.local:5000"},
				Timeout: 3 * time.Second, Wait: time.Second, RateLimit: 10, Workers: 2, CacheSize: 500, RetryUnavailable: 30 * time.Second}}},
		{name: "halfrules", wantErr: "set both or neither"},
		{name: "badexpect", wantErr: `expect: unknown source "kubelet"`},
		{name: "nowindow", wantErr: "window must be positive"},
		{name: "nopending", wantErr: "must be at least 1"},
		{name: "badreload", wantErr: "reload_interval must not be negative"},
		{name: "baddigestwait", wantErr: "digest_wait must not be negative"},
		{name: "learnoverwrites", wantErr: "never applied"},
		{name: "rulesonly", wantErr: "rules: files and inventory_files come after rules_file"},
		{name: "badsuppression", wantErr: `rules: suppression: window must not be negative`},
		{name: "brokenrules", wantErr: `broken-layer.yaml:3): condition: type podrecord.Record has no field nmae`},
		{name: "brokeninventory", wantErr: `images[0]: bad repository pattern "nginx:1.27"`},
		{name: "cluster", want: func() *Config {
			c := NewFactory().CreateDefaultConfig().(*Config)
			c.Cluster = ClusterConfig{Name: "prod-eu-1", UID: "7c1b8b5e-2b1a-4c5e-9a0e-3f4d5e6f7a8b", Override: true}
			return c
		}()},
		{name: "clusteroverride", wantErr: "cluster: override needs a name"},
		{name: "badblindspots", wantErr: "blind_spots: audit_silence must not be negative (0: off)\naudit_stage_gap must not be negative"},
		{name: "badimagemetadata", wantErr: "image_metadata: timeout must be positive\nworkers must be at least 1"},
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
			assert.Equal(t, tt.want, cfg)
		})
	}
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

// TestValidateLoadsRules: Validate (what `otelcol-podtrail validate` runs)
// loads the rules and inventory files when they exist: the pack with a
// layer passes; a broken layer or inventory fails above, naming the file.
func TestValidateLoadsRules(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "pack").String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 10*time.Minute, cfg.Rules.Suppression.Window, "the default window")
}
