// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"maps"
	"slices"
	"testing"

	"github.com/podtrail/podtrail/internal/audit"
)

// TestWorkloadResourcesSelected: the audit events the k8s_audit receiver
// selects by default (audit.WorkloadResources) name every workload kind
// the initiator chain follows, and no other.
func TestWorkloadResourcesSelected(t *testing.T) {
	got := slices.Sorted(maps.Keys(audit.WorkloadResources))
	want := slices.Sorted(maps.Keys(WorkloadKinds))
	if !slices.Equal(got, want) {
		t.Fatalf("audit.WorkloadResources %v, podrecord.WorkloadKinds %v", got, want)
	}
}
