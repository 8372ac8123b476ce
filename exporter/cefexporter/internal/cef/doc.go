// SPDX-License-Identifier: Apache-2.0

// Package cef turns podtrail's pod-creation records and findings into ArcSight
// Common Event Format (CEF:0) and IBM QRadar Log Event Extended Format
// (LEEF:2.0) lines, and frames them as syslog messages (RFC 5424 or RFC 3164;
// RFC 6587 octet counting or newline framing over TCP).
//
// It knows nothing of the collector: an Event is filled from attribute keys
// and plain string values (Event.Set, Event.Add), Encoder appends the CEF or
// LEEF line, Syslog appends the syslog header and Framing the transport
// framing, all into caller-owned byte slices so that the hot path does not
// allocate. The tests read the lines back with ceftest.ParseCEF and
// ceftest.ParseLEEF to prove that every value survives the escaping.
package cef
