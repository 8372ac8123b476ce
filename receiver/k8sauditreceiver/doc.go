// SPDX-License-Identifier: Apache-2.0

// Package k8sauditreceiver implements the k8s_audit receiver: it takes
// kube-apiserver audit events from the audit webhook backend (EventList
// batches and single events over HTTP) and from audit log files, and emits one
// log record per audit event with the original event as body and the fields
// that correlation and rules need lifted to attributes.
package k8sauditreceiver // import "github.com/podtrail/podtrail/receiver/k8sauditreceiver"

//go:generate go run -C ../../internal/tools go.opentelemetry.io/collector/cmd/mdatagen ../../receiver/k8sauditreceiver/metadata.yaml
