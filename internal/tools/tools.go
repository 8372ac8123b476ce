// SPDX-License-Identifier: Apache-2.0

//go:build tools

// Package tools pins the code generators of go generate.
package tools

import _ "go.opentelemetry.io/collector/cmd/mdatagen"
