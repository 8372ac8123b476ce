// SPDX-License-Identifier: Apache-2.0

// Package filestorageext is otelcol-podtrail's file_storage extension: the
// contrib filestorage extension (v0.160.0, the same type, configuration and
// files) that does not let a damaged database file take the collector down.
//
// bbolt, under filestorage, maps a database into memory and trusts the page
// ids it reads there. A truncated or partly overwritten file faults (SIGBUS,
// SIGSEGV) or fails an assertion in a goroutine bbolt.Open starts itself,
// where filestorage's recreate option (which recovers a panic on the
// opening goroutine) cannot catch it: the collector dies at every start
// until someone deletes the file. Before filestorage opens a component's
// file, this extension checks it (internal/boltcheck: every page bbolt
// would touch, read with bounds checks); a damaged file is renamed
// <file>.<time>.damaged, logged at error level and counted in
// otelcol_file_storage_damaged, and the component starts with an empty
// database. A panic or fault on the opening goroutine that the check did
// not foresee is handled the same way, with or without recreate.
package filestorageext // import "github.com/podtrail/podtrail/extension/filestorageext"

//go:generate go run -C ../../internal/tools go.opentelemetry.io/collector/cmd/mdatagen ../../extension/filestorageext/metadata.yaml

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/extension/filestorageext/internal/metadata"
	"github.com/podtrail/podtrail/internal/boltcheck"
)

// NewFactory returns the file_storage factory: contrib's, with the check.
func NewFactory() extension.Factory {
	f := filestorage.NewFactory()
	return extension.NewFactory(metadata.Type, f.CreateDefaultConfig,
		func(ctx context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			ext, err := f.Create(ctx, set, cfg)
			if err != nil {
				return nil, err
			}
			se, ok := ext.(storage.Extension)
			fc, ok2 := cfg.(*filestorage.Config)
			if !ok || !ok2 {
				return ext, nil
			}
			tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
			if err != nil {
				return nil, err
			}
			return &guard{Extension: se, dir: fc.Directory, logger: set.Logger, tel: tel}, nil
		}, metadata.ExtensionStability)
}

type guard struct {
	storage.Extension
	dir    string
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder // the meters metadata.yaml declares
}

// GetClient checks the component's database file, moves it aside when it is
// damaged, and opens it with filestorage.
func (g *guard) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	paths := g.paths(kind, id, name)
	for _, path := range paths {
		switch err := boltcheck.Check(path); {
		case boltcheck.IsDamage(err):
			if aerr := g.moveAside(ctx, path, kind, id, err); aerr != nil {
				return nil, aerr
			}
		case err != nil && !errors.Is(err, boltcheck.ErrLocked):
			g.logger.Warn("could not check the storage database before opening it", zap.String("file", path), zap.Error(err))
		}
	}
	c, err := g.open(ctx, kind, id, name)
	var p *panicked
	if !errors.As(err, &p) {
		return c, err
	}
	// A panic on this goroutine when bbolt opened the file (filestorage
	// without recreate; the check passes what bbolt then refuses this way).
	for _, path := range paths {
		if _, serr := os.Stat(path); serr == nil {
			if aerr := g.moveAside(ctx, path, kind, id, err); aerr != nil {
				return nil, aerr
			}
		}
	}
	return g.open(ctx, kind, id, name)
}

type panicked struct{ v any }

func (p *panicked) Error() string { return fmt.Sprintf("panic opening the database: %v", p.v) }

// open is filestorage's GetClient with faults on this goroutine turned into
// panics and a panic into an error.
func (g *guard) open(ctx context.Context, kind component.Kind, id component.ID, name string) (c storage.Client, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, &panicked{r}
		}
	}()
	return g.Extension.GetClient(ctx, kind, id, name)
}

func (g *guard) moveAside(ctx context.Context, path string, kind component.Kind, id component.ID, cause error) error {
	aside := path + "." + time.Now().UTC().Format("20060102T150405.000Z0700") + ".damaged"
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("file_storage: %s is damaged (%v) and could not be moved aside: %w", path, cause, err)
	}
	g.tel.FileStorageDamaged.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", strings.ToLower(kind.String())), attribute.String("id", id.String())))
	g.logger.Error("damaged storage database moved aside: the component starts with an empty database",
		zap.String("file", path), zap.String("moved_to", aside), zap.String("component", strings.ToLower(kind.String())+"/"+id.String()), zap.Error(cause))
	return nil
}

// paths are where filestorage keeps the component's database
// (filestorage.GetClient): the sanitized name, or its hash when the name is
// too long for the file system.
func (g *guard) paths(kind component.Kind, id component.ID, name string) []string {
	raw := fmt.Sprintf("%s_%s_%s", kindString(kind), id.Type(), id.Name())
	if name != "" {
		raw += "_" + name
	}
	raw = sanitize(raw)
	sum := sha256.Sum256([]byte(raw))
	return []string{filepath.Join(g.dir, raw), filepath.Join(g.dir, hex.EncodeToString(sum[:]))}
}

func kindString(k component.Kind) string {
	switch k {
	case component.KindReceiver:
		return "receiver"
	case component.KindProcessor:
		return "processor"
	case component.KindExporter:
		return "exporter"
	case component.KindExtension:
		return "extension"
	case component.KindConnector:
		return "connector"
	default:
		return "other"
	}
}

// sanitize is filestorage's: characters other than letters, digits, '.',
// '-' and '_' become ~ and their code point in hex.
func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "~%04X", r)
		}
	}
	return b.String()
}
