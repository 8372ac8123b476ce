// SPDX-License-Identifier: Apache-2.0

// Package cefexporter implements the cef exporter: it sends podtrail's
// pod-creation records and findings (and any other log record) to a SIEM as
// ArcSight CEF or QRadar LEEF 2.0 lines in syslog messages (RFC 5424 or RFC
// 3164) over TCP (RFC 6587 octet counting or newline framing), TCP with TLS,
// or UDP, with exporterhelper's timeout, retry and sending queue (persistent
// on a storage extension). The formatting lives in internal/cef.
package cefexporter // import "github.com/podtrail/podtrail/exporter/cefexporter"

//go:generate go run -C ../../internal/tools go.opentelemetry.io/collector/cmd/mdatagen ../../exporter/cefexporter/metadata.yaml
