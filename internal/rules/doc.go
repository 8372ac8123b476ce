// SPDX-License-Identifier: Apache-2.0

// Package rules evaluates detection rules written as expr-lang expressions
// against a pod-creation record and an approved inventory, and returns
// findings. It knows nothing of the collector. Rules files have lists and
// macros; Watcher reloads them when their files change; package ruletest and
// cmd/podtrail-rules test them. The inventory is package inventory, the
// string comparisons of the lookalike functions package lookalike. See
// README.md and design.md.
package rules
