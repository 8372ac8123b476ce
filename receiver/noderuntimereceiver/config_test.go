// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/podtrail/podtrail/internal/samples"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{name: "", wantErr: "set at least one of file and journald"},
		{name: "file", check: func(t *testing.T, c *Config) {
			f := c.File.Get()
			require.NotNil(t, f)
			assert.Equal(t, []string{"/var/log/syslog", "/var/log/messages"}, f.Include)
			assert.Equal(t, []string{"/var/log/*.gz"}, f.Exclude)
			assert.Equal(t, "beginning", f.StartAt)
			assert.Equal(t, component.MustNewID("file_storage"), *f.StorageID)
			assert.True(t, f.IncludeFilePath)
			assert.True(t, f.TrimConfig.PreserveLeading, "the first line's indentation is kept for wrapped records")
			assert.False(t, c.Journald.HasValue())
			assert.Equal(t, "containerd", c.Format)
			assert.Equal(t, "node-1", c.NodeName)
			assert.Equal(t, 2024, c.Year)
			loc, err := c.location()
			require.NoError(t, err)
			assert.Equal(t, "Europe/Berlin", loc.String())
		}},
		{name: "journald", check: func(t *testing.T, c *Config) {
			j := c.Journald.Get()
			require.NotNil(t, j)
			assert.Equal(t, "/host/var/log/journal", j.Directory)
			assert.Equal(t, []string{"kubelet.service", "containerd.service", "crio.service", "docker.service", "cri-docker.service"}, j.Units)
			assert.Equal(t, []string{"kubenswrapper"}, j.Identifiers)
			assert.Equal(t, "beginning", j.StartAt)
			assert.Equal(t, "/usr/bin/journalctl", j.JournalctlPath)
			assert.Equal(t, component.MustNewID("file_storage"), *j.StorageID)
			assert.False(t, c.File.HasValue())
			args, err := journalctlArgs(j)
			require.NoError(t, err)
			assert.Equal(t, []string{"--output=json", "--follow", "--no-pager", "--utc", "--all", "--directory=/host/var/log/journal",
				"--unit=kubelet.service", "--unit=containerd.service", "--unit=crio.service", "--unit=docker.service", "--unit=cri-docker.service",
				"--identifier=kubenswrapper"}, args)
		}},
		{name: "both", check: func(t *testing.T, c *Config) {
			require.True(t, c.File.HasValue())
			j := c.Journald.Get()
			require.NotNil(t, j)
			assert.Equal(t, defaultJournaldConfig(), *j, "an empty journald: takes the defaults")
			assert.Equal(t, "end", c.File.Get().StartAt)
		}},
		{name: "noinclude", wantErr: "file.include must name at least one node log path"},
		{name: "badformat", wantErr: `format "runc" is not one of kubelet, containerd, crio, docker, cri-dockerd`},
		{name: "badyear", wantErr: "year 24 must be 0 (infer) or between 1970 and 9999"},
		{name: "badzone", wantErr: `timezone "Mars/Olympus_Mons"`},
		{name: "badunit", wantErr: "must not contain spaces or control characters"},
		{name: "dashidentifier", wantErr: `journald.identifiers: "--merge" must not start with '-'`},
		{name: "emptyunit", wantErr: "journald.units: empty value"},
		{name: "dirandfiles", wantErr: "set directory or files, not both"},
		{name: "badstart", wantErr: `journald.start_at "now" must be beginning or end`},
		{name: "nojournalctl", wantErr: "journald.journalctl_path must not be empty"},
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

func TestJournalctlStartArgs(t *testing.T) {
	base := []string{"--output=json", "--follow", "--no-pager", "--utc", "--all"}
	tests := []struct {
		name    string
		startAt string
		cursor  string
		files   []string
		want    []string
	}{
		{name: "end", startAt: "end", want: append(base[:len(base):len(base)], "--lines=0")},
		{name: "beginning", startAt: "beginning", want: append(base[:len(base):len(base)], "--no-tail")},
		// journalctl 252 prints nothing after the cursor when --lines=0 is given too.
		{name: "cursor wins over start_at", startAt: "end", cursor: "s=1;i=2", want: append(base[:len(base):len(base)], "--after-cursor=s=1;i=2")},
		{name: "relative files made absolute", startAt: "end", files: []string{"/a/x.journal", "rel/y.journal"},
			want: append(base[:len(base):len(base)], "--file=/a/x.journal", "--file="+mustAbs(t, "rel/y.journal"), "--lines=0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultJournaldConfig()
			cfg.StartAt = tt.startAt
			cfg.Files = tt.files
			args, err := journalctlArgs(&cfg)
			require.NoError(t, err)
			in := &journalInput{cfg: &cfg, args: args}
			var cursor []byte
			if tt.cursor != "" {
				cursor = []byte(tt.cursor)
			}
			assert.Equal(t, tt.want, in.startArgs(cursor))
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	require.NoError(t, err)
	return abs
}

// TestFactoryLifecycle creates the receiver through its factory, as the
// collector does, and runs it over a sample.
func TestFactoryLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.log")
	require.NoError(t, os.WriteFile(path, samples.Read(t, "crio", "repo-redhat-performance-BugZooka-test_node_log_analyzer-minimal-journal.log"), 0o600))
	f := NewFactory()
	assert.Equal(t, metadata.Type, f.Type())
	assert.Equal(t, metadata.LogsStability, f.LogsStability())
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Journald = configoptional.None[JournaldConfig]()
	fc := cfg.File.GetOrInsertDefault()
	fc.Include = []string{path}
	fc.StartAt = "beginning"
	require.NoError(t, confmap.Validate(cfg))
	sink := new(consumertest.LogsSink)
	r, err := f.CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 7 }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(t.Context()))
}
