// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package k8sauditreceiver

// defaultMaxConnections is a fixed bound where there is no open-file limit
// to read.
func defaultMaxConnections() int { return 4096 }
