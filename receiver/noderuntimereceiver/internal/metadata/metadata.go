// Package metadata holds the receiver's type and stability, as mdatagen
// would generate them from metadata.yaml.
package metadata

import "go.opentelemetry.io/collector/component"

var (
	// Type is the component type in configuration.
	Type = component.MustNewType("node_runtime")
	// ScopeName is the instrumentation scope of the logs and metrics it makes.
	ScopeName = "github.com/podtrail/podtrail/receiver/noderuntimereceiver"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
