// Package metadata holds the exporter's type and stability, as mdatagen
// would generate them from metadata.yaml.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type in configuration.
	Type = component.MustNewType("cef")
	// ScopeName is the instrumentation scope of the telemetry it makes.
	ScopeName = "github.com/podtrail/podtrail/exporter/cefexporter"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
