// SPDX-License-Identifier: Apache-2.0

// Package spdx holds TestSPDXHeaders, which keeps the license header on
// every Go file of the repository that is ours (not generated, not vendored).
package spdx
