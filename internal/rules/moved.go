// SPDX-License-Identifier: Apache-2.0

package rules

import "github.com/podtrail/podtrail/internal/inventory"

// Names that moved to internal/inventory, kept only until every caller
// imports it there (the pod_creation processor's learner); to be deleted.
type (
	// Deprecated: use inventory.Inventory.
	Inventory = inventory.Inventory
	// Deprecated: use inventory.Learner.
	Learner = inventory.Learner
)

// Deprecated: use inventory.NewLearner.
var NewLearner = inventory.NewLearner
