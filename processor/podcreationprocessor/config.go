package podcreationprocessor

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config is the pod_creation processor configuration.
type Config struct {
	// RulesFile is a YAML file of detection rules. Empty: records only.
	RulesFile string `mapstructure:"rules_file"`
	// InventoryFile is the approved inventory the rules compare against.
	InventoryFile string `mapstructure:"inventory_file"`
	// Passthrough forwards the incoming logs (audit events and anything
	// else) along with the records and findings. Off: only records and
	// findings leave the processor.
	Passthrough bool `mapstructure:"passthrough"`
	// DedupAuditIDs is how many audit IDs of emitted records are remembered,
	// so that a re-delivered event produces no second record.
	DedupAuditIDs int `mapstructure:"dedup_audit_ids"`
	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if (cfg.RulesFile == "") != (cfg.InventoryFile == "") {
		errs = append(errs, errors.New("rules_file and inventory_file go together: set both or neither"))
	}
	if cfg.DedupAuditIDs < 1 {
		errs = append(errs, errors.New("dedup_audit_ids must be at least 1"))
	}
	return errors.Join(errs...)
}
