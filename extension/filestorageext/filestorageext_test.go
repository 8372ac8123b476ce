// SPDX-License-Identifier: Apache-2.0

package filestorageext

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

var procID = component.MustNewID("pod_creation")

// newFactory is what the tests run: this package's factory (a test can
// swap in filestorage.NewFactory to see the collector die without it).
var newFactory = NewFactory

func start(t *testing.T, dir string, recreate bool, tel *componenttest.Telemetry) storage.Extension {
	t.Helper()
	f := newFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory, cfg.Recreate = dir, recreate
	set := extensiontest.NewNopSettings(f.Type())
	if tel != nil {
		set.TelemetrySettings = tel.NewTelemetrySettings()
	}
	ext, err := f.Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext.(storage.Extension)
}

// fill writes a state the size of a few hundred pending pods.
func fill(t *testing.T, ext storage.Extension) {
	t.Helper()
	c, err := ext.GetClient(context.Background(), component.KindProcessor, procID, "")
	require.NoError(t, err)
	rnd := rand.New(rand.NewPCG(1, 1))
	var ops []*storage.Operation
	for i := range 600 {
		v := make([]byte, 200+rnd.IntN(800))
		for j := range v {
			v[j] = 'a' + byte(rnd.IntN(26))
		}
		ops = append(ops, storage.SetOperation("p/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('0'+i%10))+string(rune(i)), v))
	}
	require.NoError(t, c.Batch(context.Background(), ops...))
	require.NoError(t, c.Set(context.Background(), "version", []byte("1")))
	require.NoError(t, c.Close(context.Background()))
}

func damagedMetric(t *testing.T, tel *componenttest.Telemetry) int64 {
	m, err := tel.GetMetric("otelcol_file_storage_damaged")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// TestDamagedFileMovedAside: a database file truncated, or with pages
// overwritten in the middle, is moved aside when its component opens it
// (with and without recreate); the component gets an empty database that
// works, and the collector lives. Without this extension both take the test
// process down (SIGBUS, or an assertion panic in bbolt's own goroutine).
func TestDamagedFileMovedAside(t *testing.T) {
	ps := os.Getpagesize()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, path string) {
			info, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, info.Size()/4))
		}},
		{"overwritten", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			junk := make([]byte, 4*ps)
			for i := range junk {
				junk[i] = byte(rand.Uint32())
			}
			_, err = f.WriteAt(junk, int64(3*ps))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
	} {
		for _, recreate := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "", true: "/recreate"}[recreate], func(t *testing.T) {
				dir := t.TempDir()
				fill(t, start(t, dir, recreate, nil))
				path := filepath.Join(dir, "processor_pod_creation_")
				require.FileExists(t, path, "filestorage's file name")
				tc.damage(t, path)

				tel := componenttest.NewTelemetry()
				defer func() { _ = tel.Shutdown(context.Background()) }()
				ext := start(t, dir, recreate, tel)
				c, err := ext.GetClient(context.Background(), component.KindProcessor, procID, "")
				require.NoError(t, err)
				v, err := c.Get(context.Background(), "version")
				require.NoError(t, err)
				assert.Nil(t, v, "an empty database")
				require.NoError(t, c.Set(context.Background(), "version", []byte("1")))
				require.NoError(t, c.Close(context.Background()))
				assert.Equal(t, int64(1), damagedMetric(t, tel))
				aside, _ := filepath.Glob(path + ".*.damaged")
				assert.Len(t, aside, 1, "the damaged file is kept beside")
			})
		}
	}
}

// TestSoundFileKept: a sound file is opened as it is, its data kept.
func TestSoundFileKept(t *testing.T) {
	dir := t.TempDir()
	fill(t, start(t, dir, false, nil))
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	c, err := start(t, dir, false, tel).GetClient(context.Background(), component.KindProcessor, procID, "")
	require.NoError(t, err)
	v, err := c.Get(context.Background(), "version")
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	require.NoError(t, c.Close(context.Background()))
	assert.Zero(t, damagedMetric(t, tel))
}

// TestPaths: the guard checks the file filestorage opens, for names that
// need sanitizing too.
func TestPaths(t *testing.T) {
	dir := t.TempDir()
	ext := start(t, dir, false, nil)
	id := component.MustNewIDWithName("k8s_audit", "a/b")
	c, err := ext.GetClient(context.Background(), component.KindReceiver, id, "file")
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
	g := ext.(*guard)
	assert.FileExists(t, g.paths(component.KindReceiver, id, "file")[0])
}

var _ extension.Factory = NewFactory()
