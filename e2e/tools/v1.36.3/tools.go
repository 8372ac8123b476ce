// SPDX-License-Identifier: Apache-2.0

//go:build tools

// Package tools keeps k8s.io/kubernetes in this module's requirements; the
// binaries are built by path (go build k8s.io/kubernetes/cmd/...).
package tools

import (
	_ "k8s.io/kubernetes/pkg/kubelet"
)
