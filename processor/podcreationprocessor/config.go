package podcreationprocessor

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/podtrail/podtrail/internal/correlate"
)

// Config is the pod_creation processor configuration.
type Config struct {
	// RulesFile is a YAML file of detection rules. Empty: records only.
	RulesFile string `mapstructure:"rules_file"`
	// InventoryFile is the approved inventory the rules compare against.
	InventoryFile string `mapstructure:"inventory_file"`
	// ReloadInterval is how often the rules and inventory files are read
	// again; changed contents that compile replace the running set, others
	// are logged and counted and the last good set stays. 0: never reload.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// Passthrough forwards the incoming logs (audit events, node events and
	// anything else) along with the records and findings. Off: only records
	// and findings leave the processor.
	Passthrough bool `mapstructure:"passthrough"`
	// Learning writes a proposed inventory learned from the records.
	Learning LearningConfig `mapstructure:"learning"`
	// Correlation bounds how records wait for their sources.
	Correlation CorrelationConfig `mapstructure:"correlation"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// CorrelationConfig is how the processor joins audit and node events.
type CorrelationConfig struct {
	// Expect lists the sources that complete a record: audit, scheduler,
	// node. A record still waiting for one after Window is emitted as
	// partial, naming what is missing.
	Expect []string `mapstructure:"expect"`
	// Window is how long a record waits for the expected sources.
	Window time.Duration `mapstructure:"window"`
	// DigestWait is how long a record whose expected sources have spoken
	// still waits, after its last container started, for the kubelet's
	// pods/status patch when a container's image digest is not known yet
	// (no pull line: the image was on the node; not pinned in the spec).
	// It ends as soon as every container that ran has a digest, and at
	// Window at the latest. 0: no wait; a digest that comes after the
	// record is emitted as an update record either way.
	DigestWait time.Duration `mapstructure:"digest_wait"`
	// MaxPending is the most pods waiting at once; when full, the oldest is
	// emitted as partial (evicted).
	MaxPending int `mapstructure:"max_pending"`
	// MaxOwners is the most workloads remembered for attribution chains.
	MaxOwners int `mapstructure:"max_owners"`
	// Tombstones is how many emitted pods are remembered, so that a
	// re-delivered or late event produces no second record.
	Tombstones int `mapstructure:"tombstones"`
	// DenialWindow is how long before an allowed pod create the same
	// actor's forbidden pod creates are reported with it
	// (podtrail.denied_before). 0: off.
	DenialWindow time.Duration `mapstructure:"denial_window"`
	// Storage names a storage extension (file_storage) that keeps the
	// correlation state across restarts. None: state is in memory and a
	// shutdown emits what waits as partial.
	Storage *component.ID `mapstructure:"storage"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// LearningConfig is learning mode: an inventory proposal from what the
// records show, written for review and never applied.
type LearningConfig struct {
	// File the proposal is written to (replaced atomically). Empty: off.
	File string `mapstructure:"file"`
	// Interval between writes; the proposal is also written at shutdown.
	Interval time.Duration `mapstructure:"interval"`
	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func (c CorrelationConfig) correlate() correlate.Config {
	cc := correlate.DefaultConfig()
	cc.Expect, cc.Window, cc.MaxPending, cc.MaxOwners, cc.Tombstones = c.Expect, c.Window, c.MaxPending, c.MaxOwners, c.Tombstones
	cc.DenialWindow, cc.DigestWait = c.DenialWindow, c.DigestWait
	cc.Persistent = c.Storage != nil
	return cc
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if (cfg.RulesFile == "") != (cfg.InventoryFile == "") {
		errs = append(errs, errors.New("rules_file and inventory_file go together: set both or neither"))
	}
	if cfg.ReloadInterval < 0 {
		errs = append(errs, errors.New("reload_interval must not be negative (0 turns reloading off)"))
	}
	if cfg.Learning.File != "" && cfg.Learning.Interval <= 0 {
		errs = append(errs, errors.New("learning: interval must be positive"))
	}
	if cfg.Learning.File != "" && cfg.Learning.File == cfg.InventoryFile {
		errs = append(errs, errors.New("learning: file must not be inventory_file: a proposal is for review, never applied"))
	}
	if err := cfg.Correlation.correlate().Validate(); err != nil {
		errs = append(errs, errors.New("correlation: "+err.Error()))
	}
	return errors.Join(errs...)
}
