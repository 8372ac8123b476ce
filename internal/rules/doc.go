// Package rules evaluates detection rules written as expr-lang expressions
// against a pod-creation record and an approved inventory, and returns
// findings. It knows nothing of the collector.
package rules
