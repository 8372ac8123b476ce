// SPDX-License-Identifier: Apache-2.0

package cef

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Protocol is the syslog message format.
type Protocol uint8

const (
	// RFC5424 is <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG.
	RFC5424 Protocol = iota
	// RFC3164 is the BSD format <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG.
	RFC3164
)

// Framing separates messages on a stream transport (RFC 6587).
type Framing uint8

const (
	// FramingNone writes the message alone: one message per UDP datagram.
	FramingNone Framing = iota
	// FramingOctetCounting prefixes the message with its length in bytes
	// and a space (RFC 6587 3.4.1).
	FramingOctetCounting
	// FramingNewline ends the message with LF (RFC 6587 3.4.2,
	// non-transparent framing). CEF and LEEF lines never hold a raw LF.
	FramingNewline
)

// Facilities are the syslog facility names and codes (RFC 5424 6.2.1).
var Facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "audit": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Header field limits of RFC 5424 (HOSTNAME, APP-NAME) and RFC 3164 (TAG).
const (
	MaxHostname = 255
	MaxAppName  = 48
	MaxTag3164  = 32
	MaxMsgID    = 32
	nilValue    = "-"
	layout5424  = "2006-01-02T15:04:05.000000Z07:00"
	layout3164  = "Jan _2 15:04:05"
)

// Syslog writes syslog message headers.
type Syslog struct {
	Protocol Protocol
	Facility int    // 0-23
	Hostname string // printable US-ASCII without spaces (Header); "" writes "-"
	AppName  string // idem; the RFC 3164 TAG
	// Location of RFC 3164 timestamps, which carry no zone; nil: time.Local.
	Location *time.Location
}

// AppendHeader appends the syslog header of a message of the given syslog
// severity (0-7) made at t (zero: unknown; RFC 3164 then writes now) with
// the RFC 5424 MSGID msgID, up to and including the space before MSG.
func (s *Syslog) AppendHeader(dst []byte, severity int, t time.Time, msgID string) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(s.Facility*8+severity), 10)
	dst = append(dst, '>')
	if s.Protocol == RFC3164 {
		if t.IsZero() {
			t = time.Now()
		}
		loc := s.Location
		if loc == nil {
			loc = time.Local
		}
		dst = t.In(loc).AppendFormat(dst, layout3164)
		dst = append(dst, ' ')
		dst = appendOrNil(dst, s.Hostname)
		dst = append(dst, ' ')
		dst = appendOrNil(dst, s.AppName)
		return append(dst, ':', ' ')
	}
	dst = append(dst, '1', ' ')
	if t.IsZero() {
		dst = append(dst, nilValue...)
	} else {
		dst = t.UTC().AppendFormat(dst, layout5424)
	}
	dst = append(dst, ' ')
	dst = appendOrNil(dst, s.Hostname)
	dst = append(dst, ' ')
	dst = appendOrNil(dst, s.AppName)
	dst = append(dst, " - "...) // PROCID
	dst = appendOrNil(dst, msgID)
	return append(dst, " - "...) // STRUCTURED-DATA
}

func appendOrNil(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, nilValue...)
	}
	return append(dst, s...)
}

// Append appends msg framed for the transport.
func (f Framing) Append(dst, msg []byte) []byte {
	switch f {
	case FramingOctetCounting:
		dst = strconv.AppendInt(dst, int64(len(msg)), 10)
		dst = append(dst, ' ')
		return append(dst, msg...)
	case FramingNewline:
		dst = append(dst, msg...)
		return append(dst, '\n')
	}
	return append(dst, msg...)
}

// Header makes s fit a syslog header field: bytes outside printable US-ASCII
// (33-126) become '_', and s is cut to max bytes. "" stays "" (written "-").
func Header(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b)
}

// ParseFacility returns the code of a facility name (kern ... local7) or
// number (0-23).
func ParseFacility(s string) (int, error) {
	if f, ok := Facilities[strings.ToLower(s)]; ok {
		return f, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, nil
	}
	return 0, fmt.Errorf("unknown syslog facility %q (kern, user, ..., local0-local7, or 0-23)", s)
}
