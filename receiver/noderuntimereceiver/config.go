// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/fileconsumer"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/podtrail/podtrail/internal/noderuntime"
)

// Config is the node_runtime receiver configuration. At least one of file
// and journald must be set.
type Config struct {
	// File tails node log files (syslog/journald text exports, the daemons'
	// own log files).
	File configoptional.Optional[FileConfig] `mapstructure:"file"`
	// Journald reads the systemd journal through journalctl.
	Journald configoptional.Optional[JournaldConfig] `mapstructure:"journald"`

	// Format is the source assumed for records that do not name their daemon
	// (no syslog identifier, or an unknown one): kubelet, containerd, crio,
	// docker or cri-dockerd. Empty detects it per record.
	Format string `mapstructure:"format"`
	// NodeName is the k8s.node.name of every event. Empty: the K8S_NODE_NAME
	// environment variable, else the host name of each record's
	// syslog/journald prefix (or journal entry).
	NodeName string `mapstructure:"node_name"`
	// Year dates year-less stamps (klog, journald short format). 0 infers it
	// from the clock and from the full dates the stream carries.
	Year int `mapstructure:"year"`
	// Timezone is the zone of stamps without one (klog, journald short
	// format): an IANA name ("Europe/Berlin") or "Local". Empty means UTC.
	Timezone string `mapstructure:"timezone"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// FileConfig is contrib's file consumer configuration (include, exclude,
// start_at, poll_interval, multiline, ...) plus the storage extension that
// keeps the read offsets across restarts.
type FileConfig struct {
	fileconsumer.Config `mapstructure:",squash"`
	// StorageID names a storage extension (e.g. file_storage) for checkpoints.
	StorageID *component.ID `mapstructure:"storage"`
}

// JournaldConfig selects what journalctl reads.
type JournaldConfig struct {
	// JournalctlPath is the journalctl binary (looked up in PATH when it has
	// no slash).
	JournalctlPath string `mapstructure:"journalctl_path"`
	// Directory reads the journal files of a directory (journalctl
	// --directory), e.g. a host's /var/log/journal mounted in a container.
	Directory string `mapstructure:"directory"`
	// Files reads these journal files (journalctl --file); globs allowed.
	Files []string `mapstructure:"files"`
	// Units keeps entries of any of these systemd units (journalctl --unit,
	// globs allowed).
	Units []string `mapstructure:"units"`
	// Identifiers keeps entries with any of these syslog identifiers
	// (journalctl --identifier). As journalctl combines them, an entry must
	// match Units and Identifiers when both are set.
	Identifiers []string `mapstructure:"identifiers"`
	// StartAt is where reading starts when no cursor is stored: "end" (new
	// entries only) or "beginning".
	StartAt string `mapstructure:"start_at"`
	// StorageID names a storage extension (e.g. file_storage) that keeps the
	// journal cursor across restarts.
	StorageID *component.ID `mapstructure:"storage"`
	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func defaultFileConfig() FileConfig {
	fc := fileconsumer.NewConfig()
	fc.StartAt = "end"
	fc.IncludeFileName = false
	fc.IncludeFilePath = true // log.file.path, and one parser per file
	// Hard-wrapped records are grouped by the receiver; keep the first
	// line's indentation, which the parser removes from the continuation
	// lines.
	fc.TrimConfig.PreserveLeading = true
	return FileConfig{Config: *fc}
}

func defaultJournaldConfig() JournaldConfig {
	return JournaldConfig{JournalctlPath: "journalctl", StartAt: "end"}
}

// formats are the values of Config.Format.
var formats = []noderuntime.Source{
	noderuntime.SourceKubelet, noderuntime.SourceContainerd, noderuntime.SourceCRIO,
	noderuntime.SourceDocker, noderuntime.SourceCRIDockerd,
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if !cfg.File.HasValue() && !cfg.Journald.HasValue() {
		errs = append(errs, errors.New("node_runtime: set at least one of file and journald"))
	}
	if cfg.Format != "" && !validFormat(cfg.Format) {
		names := make([]string, len(formats))
		for i, f := range formats {
			names[i] = string(f)
		}
		errs = append(errs, fmt.Errorf("format %q is not one of %s (or empty to detect per record)", cfg.Format, strings.Join(names, ", ")))
	}
	if cfg.Year != 0 && (cfg.Year < 1970 || cfg.Year > 9999) {
		errs = append(errs, fmt.Errorf("year %d must be 0 (infer) or between 1970 and 9999", cfg.Year))
	}
	if _, err := cfg.location(); err != nil {
		errs = append(errs, err)
	}
	if f := cfg.File.Get(); f != nil && len(f.Include) == 0 {
		errs = append(errs, errors.New("file.include must name at least one node log path"))
	}
	if f := cfg.File.Get(); f != nil && f.Header != nil {
		// Its metadata_operators would be decoded leniently (stanza
		// operators ignore unknown keys); node logs have no header.
		errs = append(errs, errors.New("file.header is not supported: node logs have no header"))
	}
	if j := cfg.Journald.Get(); j != nil {
		errs = append(errs, j.validate())
	}
	return errors.Join(errs...)
}

func validFormat(f string) bool {
	for _, s := range formats {
		if string(s) == f {
			return true
		}
	}
	return false
}

// location is the zone of Config.Timezone (nil for UTC).
func (cfg *Config) location() (*time.Location, error) {
	switch cfg.Timezone {
	case "", "UTC":
		return nil, nil
	case "Local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", cfg.Timezone, err)
	}
	return loc, nil
}

func (j *JournaldConfig) validate() error {
	var errs []error
	if strings.TrimSpace(j.JournalctlPath) == "" {
		errs = append(errs, errors.New("journald.journalctl_path must not be empty"))
	}
	if j.StartAt != "beginning" && j.StartAt != "end" {
		errs = append(errs, fmt.Errorf("journald.start_at %q must be beginning or end", j.StartAt))
	}
	if j.Directory != "" && len(j.Files) > 0 {
		errs = append(errs, errors.New("journald: set directory or files, not both"))
	}
	for _, f := range j.Files {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, errors.New("journald.files must not contain empty paths"))
		}
	}
	for _, u := range j.Units {
		if err := checkMatch(u); err != nil {
			errs = append(errs, fmt.Errorf("journald.units: %w", err))
		}
	}
	for _, id := range j.Identifiers {
		if err := checkMatch(id); err != nil {
			errs = append(errs, fmt.Errorf("journald.identifiers: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkMatch rejects unit and identifier values journalctl would misread: empty,
// with spaces or control characters, starting with '-' (an option), or
// absurdly long.
func checkMatch(s string) error {
	switch {
	case s == "":
		return errors.New("empty value")
	case strings.HasPrefix(s, "-"):
		return fmt.Errorf("%q must not start with '-'", s)
	case len(s) > 256:
		return fmt.Errorf("%q is longer than 256 bytes", s[:32]+"...")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q must not contain spaces or control characters", s)
		}
	}
	return nil
}
