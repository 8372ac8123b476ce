// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podtrail/podtrail/internal/configtest"
)

// TestUnknownKeys: an unknown key in any mapping of the configuration (one
// that sets every option) fails the decode, naming the key.
func TestUnknownKeys(t *testing.T) {
	accepted, err := configtest.AcceptedUnknownKeysIn(NewFactory(), filepath.Join("testdata", "strict.yaml"), "pod_creation/full")
	require.NoError(t, err)
	assert.Empty(t, accepted, "paths where an unknown key was accepted")
}
