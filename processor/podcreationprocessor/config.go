// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/rules"
)

// Config is the pod_creation processor configuration.
type Config struct {
	// RulesFile is a YAML file (or a directory of them) of detection
	// rules. Empty: records only.
	RulesFile string `mapstructure:"rules_file"`
	// InventoryFile is the approved inventory (a file or a directory) the
	// rules compare against.
	InventoryFile string `mapstructure:"inventory_file"`
	// Rules are the detection rules' further settings: layers, strict
	// mode, suppression.
	Rules RulesConfig `mapstructure:"rules"`
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
	// Cluster names the cluster the records and findings come from
	// (resource attributes k8s.cluster.name and k8s.cluster.uid).
	Cluster ClusterConfig `mapstructure:"cluster"`
	// BlindSpots says when podtrail reports that it has gone blind
	// (podtrail.blind_spot findings).
	BlindSpots BlindSpotsConfig `mapstructure:"blind_spots"`
	// ImageMetadata looks the images' manifests, configs and signatures up
	// in their registries (off by default; for the gateway).
	ImageMetadata ImageMetadataConfig `mapstructure:"image_metadata"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// Environment variables the cluster setting defaults to.
const (
	EnvClusterName = "PODTRAIL_CLUSTER_NAME"
	EnvClusterUID  = "PODTRAIL_CLUSTER_UID"
)

// ClusterConfig is the cluster identity on records and findings.
type ClusterConfig struct {
	// Name is k8s.cluster.name (default: $PODTRAIL_CLUSTER_NAME). A record
	// whose audit event names its cluster (a GKE, EKS or AKS export) has
	// that one instead, unless Override is set.
	Name string `mapstructure:"name"`
	// UID is k8s.cluster.uid (default: $PODTRAIL_CLUSTER_UID): by
	// OpenTelemetry's convention the uid of the cluster's kube-system
	// namespace (kubectl get namespace kube-system -o jsonpath='{.metadata.uid}').
	// It goes on the records of the configured cluster only (not on those
	// whose audit event names another).
	UID string `mapstructure:"uid"`
	// Override puts Name on every record, also on those whose audit event
	// names another (e.g. AKS, whose exports write the name in upper case).
	Override bool `mapstructure:"override"`
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
	// CreateWait is how long after its first event a pod the API server
	// knows but whose create has not arrived waits for it, beyond Window,
	// before it goes out as preexisting or create_unseen: the apiserver's
	// batch audit webhook retries an undelivered batch for about two
	// minutes and sends later batches meanwhile (a gateway restart). Not
	// for pods no API event names (node_only). At most Window: no wait.
	CreateWait time.Duration `mapstructure:"create_wait"`
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

// RulesConfig are the detection rules' further settings
// (internal/rules README: layering, strict mode, suppression).
type RulesConfig struct {
	// Files are more rules files or directories, loaded after rules_file in
	// order; each may append to, override or disable what an earlier one
	// defines.
	Files []string `mapstructure:"files"`
	// InventoryFiles are more inventory files or directories, merged after
	// inventory_file.
	InventoryFiles []string `mapstructure:"inventory_files"`
	// Strict, when set, overrides the inventory's strict mode (what the
	// inventory does not approve is unapproved).
	Strict *bool `mapstructure:"strict"`
	// Suppression collapses the same rule for the same actor and owner
	// within a window into one finding with a count.
	Suppression SuppressionConfig `mapstructure:"suppression"`
	// prevent unkeyed literal initialization
	_ struct{}
}

// SuppressionConfig is rules.SuppressionConfig as configured.
type SuppressionConfig struct {
	// Window: the first finding of a rule, actor and owner goes out, the
	// next ones within the window are counted into one summary sent when
	// it ends. 0: off.
	Window time.Duration `mapstructure:"window"`
	// MaxKeys bounds the (rule, actor, owner) keys remembered.
	MaxKeys int `mapstructure:"max_keys"`
	// ActorKinds whose findings are collapsed; unset: controller,
	// service_account, node, system (people are reported every time).
	ActorKinds []string `mapstructure:"actor_kinds"`
	// prevent unkeyed literal initialization
	_ struct{}
}

func (c SuppressionConfig) rules() rules.SuppressionConfig {
	return rules.SuppressionConfig{Window: c.Window, MaxKeys: c.MaxKeys, ActorKinds: c.ActorKinds}
}

// ruleSources are the rules and inventory files, in order.
func (cfg *Config) ruleSources() rules.Sources {
	return rules.Sources{Rules: append([]string{cfg.RulesFile}, cfg.Rules.Files...),
		Inventory: append([]string{cfg.InventoryFile}, cfg.Rules.InventoryFiles...), Strict: cfg.Rules.Strict}
}

// validateRules loads the rules and inventory, so that `validate` fails on
// files that do not load. Paths that do not exist yet (a ConfigMap mounted
// when the collector runs) are left to start-up, which fails on them.
func (cfg *Config) validateRules() error {
	src := cfg.ruleSources()
	for _, p := range append(append([]string{}, src.Rules...), src.Inventory...) {
		if _, err := os.Stat(p); err != nil {
			return nil
		}
	}
	if _, err := rules.LoadSources(src); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	return nil
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
	cc.DenialWindow, cc.DigestWait, cc.CreateWait = c.DenialWindow, c.DigestWait, c.CreateWait
	cc.Persistent = c.Storage != nil
	return cc
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if (cfg.RulesFile == "") != (cfg.InventoryFile == "") {
		errs = append(errs, errors.New("rules_file and inventory_file go together: set both or neither"))
	}
	if cfg.RulesFile == "" && (len(cfg.Rules.Files) > 0 || len(cfg.Rules.InventoryFiles) > 0) {
		errs = append(errs, errors.New("rules: files and inventory_files come after rules_file and inventory_file: set those first"))
	}
	if err := cfg.Rules.Suppression.rules().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("rules: suppression: %w", err))
	}
	if cfg.RulesFile != "" && cfg.InventoryFile != "" {
		if err := cfg.validateRules(); err != nil {
			errs = append(errs, err)
		}
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
	if err := cfg.BlindSpots.tracker().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("blind_spots: %w", err))
	}
	if err := cfg.ImageMetadata.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("image_metadata: %w", err))
	}
	if cfg.Cluster.Name == "" && cfg.Cluster.Override {
		errs = append(errs, errors.New("cluster: override needs a name"))
	}
	return errors.Join(errs...)
}
