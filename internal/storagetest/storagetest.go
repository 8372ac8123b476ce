// SPDX-License-Identifier: Apache-2.0

// Package storagetest starts contrib's real file_storage extension for the
// tests of components that keep state or checkpoints in a storage extension.
package storagetest

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

type host struct {
	ext map[component.ID]component.Component
}

func (h *host) GetExtensions() map[component.ID]component.Component { return h.ext }

// NewFileStorageHost starts the real file_storage extension in dir (shut
// down at the test's end) and returns a host that offers it, and its ID.
func NewFileStorageHost(tb testing.TB, dir string) (component.Host, component.ID) {
	tb.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.CreateDirectory = true
	id := component.NewID(f.Type())
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(tb, err)
	h := &host{ext: map[component.ID]component.Component{id: ext}}
	require.NoError(tb, ext.Start(context.Background(), h))
	tb.Cleanup(func() { require.NoError(tb, ext.Shutdown(context.Background())) })
	return h, id
}
