// SPDX-License-Identifier: Apache-2.0

// Package podrecord builds the pod-creation record, podtrail's one record per
// created pod, from kube-apiserver audit events: who asked (actor, service
// account, impersonation, source address), through which channel (kubectl,
// Helm, Argo CD, Flux, Terraform, a controller, CI), what was asked (images,
// labels, owner) and what the apiserver answered. It knows nothing of the
// collector.
package podrecord
