// SPDX-License-Identifier: Apache-2.0

// Package noderuntimereceiver implements the node_runtime receiver: it reads
// Kubernetes node logs (kubelet, containerd, CRI-O, Docker engine,
// cri-dockerd) from files, tailed by contrib's file consumer, and from the
// systemd journal, read through journalctl, parses them with
// internal/noderuntime, and emits one log record per pod-lifecycle event
// (sandbox requested/ready/stopped/removed, container
// created/started/exited/removed, image pulled/present, pod admitted, static
// pod seen) with the original line as body and the pod, sandbox, container
// and image identifiers as attributes.
package noderuntimereceiver // import "github.com/podtrail/podtrail/receiver/noderuntimereceiver"

//go:generate go run -C ../../internal/tools go.opentelemetry.io/collector/cmd/mdatagen ../../receiver/noderuntimereceiver/metadata.yaml
