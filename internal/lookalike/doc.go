// SPDX-License-Identifier: Apache-2.0

// Package lookalike compares names the way a reader mistakes them:
// confusable skeletons after Unicode TS #39 (Skeleton, Confusable,
// MixedScript), edit distance and similarity bounded to MaxCompare runes
// (Distance, WithinDistance, JaroWinkler, NearMiss), and what controllers
// append to a workload's name (BaseName, ControllerSuffix,
// HasGeneratedSuffix). It knows nothing of records, inventories or rules;
// internal/rules binds these functions to rule expressions.
package lookalike
