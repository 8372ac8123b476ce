// SPDX-License-Identifier: Apache-2.0

// Package podcreationprocessor implements the pod_creation processor: it
// turns the pod create audit events that the k8s_audit receiver emits into
// one pod-creation record per pod, evaluates the AN0986 detection rules on
// each record against an approved inventory, and emits every finding as a log
// record of its own.
package podcreationprocessor // import "github.com/podtrail/podtrail/processor/podcreationprocessor"

//go:generate go run -C ../../internal/tools go.opentelemetry.io/collector/cmd/mdatagen ../../processor/podcreationprocessor/metadata.yaml
