// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"testing"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestMetricsDocumented: README.md names every metric metadata.yaml declares
// (the generated telemetry builder makes exactly those).
func TestMetricsDocumented(t *testing.T) { configtest.MetricsDocumented(t) }
