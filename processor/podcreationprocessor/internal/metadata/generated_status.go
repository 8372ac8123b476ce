// Package metadata holds the processor's type and stability, as mdatagen
// would generate them from metadata.yaml.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type in configuration.
	Type = component.MustNewType("pod_creation")
	// ScopeName is the instrumentation scope of the records, findings and metrics it makes.
	ScopeName = "github.com/podtrail/podtrail/processor/podcreationprocessor"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
