// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"errors"
	"time"
)

// ImageMetadataConfig is the image metadata lookup: for each new image
// digest the records name, its manifest, config and cosign signature are
// fetched from the registry (off the record path; see design.md, "Image
// metadata"), cached by digest, and the records and rules see them.
type ImageMetadataConfig struct {
	// Enabled turns the lookup on (default off; for the gateway).
	Enabled bool `mapstructure:"enabled"`
	// DockerConfig is a docker config.json with the registries'
	// credentials (auths, credHelpers are not run). Empty: anonymous.
	DockerConfig string `mapstructure:"docker_config"`
	// InsecureRegistries are registries (host[:port]) reached over plain
	// HTTP.
	InsecureRegistries []string `mapstructure:"insecure_registries"`
	// Timeout bounds one lookup (manifest, config, signature).
	Timeout time.Duration `mapstructure:"timeout"`
	// Wait is how long a record waits, when the rules run on it, for a
	// lookup of its digests already under way or just started. 0: never
	// wait (the record says pending). A registry that failed in the last
	// retry_unavailable is not waited for.
	Wait time.Duration `mapstructure:"wait"`
	// RateLimit is the most lookups started per second (all registries).
	RateLimit float64 `mapstructure:"rate_limit"`
	// Workers is how many lookups run at once.
	Workers int `mapstructure:"workers"`
	// CacheSize is how many digests' metadata are remembered.
	CacheSize int `mapstructure:"cache_size"`
	// RetryUnavailable is how long a digest whose registry could not be
	// reached stays unavailable before it is looked up again.
	RetryUnavailable time.Duration `mapstructure:"retry_unavailable"`
	// Signatures looks for a cosign signature (tag sha256-<hex>.sig).
	Signatures bool `mapstructure:"signatures"`
	// prevent unkeyed literal initialization
	_ struct{}
}

func defaultImageMetadata() ImageMetadataConfig {
	return ImageMetadataConfig{Timeout: 5 * time.Second, Wait: 2 * time.Second, RateLimit: 20, Workers: 4, CacheSize: 10000,
		RetryUnavailable: time.Minute, Signatures: true}
}

// Validate checks the lookup's bounds (also when it is off).
func (c ImageMetadataConfig) Validate() error {
	var errs []error
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if c.Wait < 0 {
		errs = append(errs, errors.New("wait must not be negative (0: records never wait)"))
	}
	if c.RateLimit <= 0 {
		errs = append(errs, errors.New("rate_limit must be positive"))
	}
	if c.Workers < 1 {
		errs = append(errs, errors.New("workers must be at least 1"))
	}
	if c.CacheSize < 1 {
		errs = append(errs, errors.New("cache_size must be at least 1"))
	}
	if c.RetryUnavailable <= 0 {
		errs = append(errs, errors.New("retry_unavailable must be positive"))
	}
	return errors.Join(errs...)
}
