// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef"
	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

const (
	// flushSize is how many bytes of framed messages are written at once on TCP.
	flushSize = 64 << 10
	// maxDatagram is the largest UDP payload over IPv4.
	maxDatagram = 65507
)

type cefExporter struct {
	cfg     *Config
	logger  *zap.Logger
	enc     cef.Encoder
	sys     cef.Syslog
	framing cef.Framing
	stream  bool
	tls     *tls.Config

	// tel holds the meters metadata.yaml declares: cef_dropped_messages
	// counts messages that could not be sent and are not retried (larger
	// than a UDP datagram holds).
	tel *metadata.TelemetryBuilder

	mu   sync.Mutex // one connection, one push at a time
	conn net.Conn
	ev   cef.Event
	msg  []byte // one syslog message
	buf  []byte // framed messages waiting to be written
	// tooLarge and largest are the messages of this push too large for a
	// datagram and the size of the largest.
	tooLarge, largest int
}

func newExporter(cfg *Config, set exporter.Settings) (*cefExporter, error) {
	format := cef.CEF
	if cfg.Format == FormatLEEF {
		format = cef.LEEF
	}
	delim, err := cef.ParseLEEFDelimiter(cfg.LEEFDelimiter)
	if err != nil {
		return nil, err
	}
	facility, err := cef.ParseFacility(cfg.Facility)
	if err != nil {
		return nil, err
	}
	protocol := cef.RFC5424
	if cfg.Protocol == ProtocolRFC3164 {
		protocol = cef.RFC3164
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
		hostname = cef.Header(hostname, cef.MaxHostname)
	}
	version := set.BuildInfo.Version
	if version == "" {
		version = "unknown"
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &cefExporter{
		tel:     tel,
		cfg:     cfg,
		logger:  set.Logger,
		enc:     cef.Encoder{Format: format, Vendor: "podtrail", Product: "podtrail", Version: version, Delimiter: delim},
		sys:     cef.Syslog{Protocol: protocol, Facility: facility, Hostname: hostname, AppName: cfg.AppName},
		framing: cfg.framing(),
		stream:  cfg.stream(),
	}, nil
}

func (e *cefExporter) start(ctx context.Context, _ component.Host) error {
	if t := e.cfg.TLS.Get(); t != nil && e.stream {
		c, err := t.LoadTLSConfig(ctx)
		if err != nil {
			return fmt.Errorf("cef exporter tls: %w", err)
		}
		e.tls = c // nil when insecure: true
	}
	// The connection is made by the first push, so that a SIEM that is down
	// at start delays delivery (queue and retry) instead of the collector.
	return nil
}

func (e *cefExporter) shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closeConn()
}

func (e *cefExporter) closeConn() error {
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close()
	e.conn = nil
	return err
}

// connect reuses the connection unless the server has closed it, else dials.
func (e *cefExporter) connect(ctx context.Context) error {
	if e.conn != nil {
		if !e.stream || !peerClosed(e.conn) {
			return nil
		}
		e.logger.Debug("syslog server closed the connection, reconnecting", zap.String("endpoint", e.cfg.Endpoint))
		_ = e.closeConn()
	}
	d := &net.Dialer{Timeout: e.cfg.DialerConfig.Timeout}
	var (
		conn net.Conn
		err  error
	)
	if e.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: e.tls}).DialContext(ctx, string(e.cfg.Transport), e.cfg.Endpoint)
	} else {
		conn, err = d.DialContext(ctx, string(e.cfg.Transport), e.cfg.Endpoint)
	}
	if err != nil {
		return fmt.Errorf("connecting to syslog server %s: %w", e.cfg.Endpoint, err)
	}
	e.conn = conn
	return nil
}

// pushLogs writes every log record as one syslog message. When a write
// fails, the records not written yet are returned for retry
// (consumererror.Logs): those before them are not sent twice.
func (e *cefExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.connect(ctx); err != nil {
		return err
	}
	deadline, _ := ctx.Deadline() // zero: none
	if err := e.conn.SetWriteDeadline(deadline); err != nil {
		return e.fail(err, ld, 0)
	}
	e.buf = e.buf[:0]
	e.tooLarge, e.largest = 0, 0
	n, written := 0, 0 // records encoded, records written
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				e.encode(rl.Resource().Attributes(), lrs.At(k))
				n++
				if !e.stream {
					if err := e.writeDatagram(); err != nil {
						return e.fail(err, ld, written)
					}
					written = n
					continue
				}
				e.buf = e.framing.Append(e.buf, e.msg)
				if len(e.buf) >= flushSize {
					if err := e.flush(); err != nil {
						return e.fail(err, ld, written)
					}
					written = n
				}
			}
		}
	}
	if err := e.flush(); err != nil {
		return e.fail(err, ld, written)
	}
	if e.tooLarge > 0 {
		// The others were sent. Not a success: exporterhelper counts the
		// batch as failed; not retried: it cannot fit.
		e.tel.CefDroppedMessages.Add(ctx, int64(e.tooLarge), metric.WithAttributes(attribute.String("reason", "too_large")))
		err := fmt.Errorf("sending to syslog server %s: %d of %d messages dropped: larger than a UDP datagram holds (%d bytes, the largest %d); the other %d were sent (tcp has no such limit)",
			e.cfg.Endpoint, e.tooLarge, n, maxDatagram, e.largest, n-e.tooLarge)
		e.logger.Error("dropping messages too large for a UDP datagram", zap.Error(err))
		return consumererror.NewPermanent(err)
	}
	return nil
}

func (e *cefExporter) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.conn.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// writeDatagram sends e.msg as one UDP datagram; a message too large for
// one is not sent (counted in e.tooLarge: pushLogs fails the push with a
// permanent error once the others are sent), as retrying it cannot succeed.
func (e *cefExporter) writeDatagram() error {
	if len(e.msg) > maxDatagram {
		e.tooLarge, e.largest = e.tooLarge+1, max(e.largest, len(e.msg))
		return nil
	}
	_, err := e.conn.Write(e.msg)
	if errors.Is(err, syscall.EMSGSIZE) {
		e.tooLarge, e.largest = e.tooLarge+1, max(e.largest, len(e.msg))
		return nil
	}
	return err
}

// fail closes the connection and returns err for the records from index
// from on: all of ld when none was written.
func (e *cefExporter) fail(err error, ld plog.Logs, from int) error {
	_ = e.closeConn()
	err = fmt.Errorf("sending to syslog server %s: %w", e.cfg.Endpoint, err)
	if from == 0 {
		return err
	}
	return consumererror.NewLogs(err, tail(ld, from))
}

// tail returns the log records of ld from index from on, with their
// resources and scopes.
func tail(ld plog.Logs, from int) plog.Logs {
	out := plog.NewLogs()
	n := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var orl plog.ResourceLogs
		copied := false
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			if n+lrs.Len() <= from {
				n += lrs.Len()
				continue
			}
			if !copied {
				copied = true
				orl = out.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				orl.SetSchemaUrl(rl.SchemaUrl())
			}
			osl := orl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(osl.Scope())
			osl.SetSchemaUrl(sl.SchemaUrl())
			for k := 0; k < lrs.Len(); k++ {
				if n >= from {
					lrs.At(k).CopyTo(osl.LogRecords().AppendEmpty())
				}
				n++
			}
		}
	}
	return out
}

// encode writes the syslog message of lr into e.msg.
func (e *cefExporter) encode(resource pcommon.Map, lr plog.LogRecord) {
	ev := &e.ev
	ev.Reset()
	ev.EventName = lr.EventName()
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	if ts != 0 {
		ev.Time = ts.AsTime()
	}
	ev.Severity = int(lr.SeverityNumber())
	if b := lr.Body(); b.Type() == pcommon.ValueTypeStr {
		ev.Body = b.Str()
	} else if b.Type() != pcommon.ValueTypeEmpty {
		ev.Body = b.AsString()
	}
	setAll(ev, resource)
	setAll(ev, lr.Attributes())

	e.msg = e.sys.AppendHeader(e.msg[:0], cef.SyslogSeverity(ev.CEFSeverity()), ev.Time, ev.MsgID())
	e.msg = e.enc.Append(e.msg, ev)
}

// setAll hands the attributes the mapping uses to ev, as text.
func setAll(ev *cef.Event, m pcommon.Map) {
	for k, v := range m.All() {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			ev.Set(k, v.Str())
		case pcommon.ValueTypeEmpty:
		case pcommon.ValueTypeBool:
			if ev.Wants(k) {
				ev.Set(k, strconv.FormatBool(v.Bool()))
			}
		case pcommon.ValueTypeInt:
			if ev.Wants(k) {
				ev.Set(k, strconv.FormatInt(v.Int(), 10))
			}
		case pcommon.ValueTypeSlice:
			if ev.Wants(k) {
				for _, el := range v.Slice().All() {
					if el.Type() == pcommon.ValueTypeStr {
						ev.Add(k, el.Str())
					} else {
						ev.Add(k, el.AsString())
					}
				}
			}
		default: // double, map, bytes
			if ev.Wants(k) {
				ev.Set(k, v.AsString())
			}
		}
	}
}
