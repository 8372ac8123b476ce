// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef"
	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

// tcpSink is a syslog server in the test: it accepts TCP (or TLS)
// connections on 127.0.0.1 and keeps every byte received.
type tcpSink struct {
	ln    net.Listener
	mu    sync.Mutex
	data  bytes.Buffer
	conns []net.Conn
	wg    sync.WaitGroup
}

func newTCPSink(t *testing.T, tlsCfg *tls.Config) *tcpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	s := &tcpSink{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					s.mu.Lock()
					s.data.Write(buf[:n])
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.dropConns()
		s.wg.Wait()
	})
	return s
}

func (s *tcpSink) addr() string { return s.ln.Addr().String() }

// dropConns closes the server side of every connection, as a restarting
// syslog server does.
func (s *tcpSink) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// messages splits what arrived into messages, waiting up to 10 s for want.
func (s *tcpSink) messages(t *testing.T, framing string, want int) []string {
	t.Helper()
	var msgs []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		data := append([]byte(nil), s.data.Bytes()...)
		s.mu.Unlock()
		msgs = splitFrames(t, data, framing)
		if len(msgs) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(msgs) != want {
		t.Fatalf("received %d messages, want %d", len(msgs), want)
	}
	return msgs
}

// splitFrames reads RFC 6587 frames; an incomplete last frame is left out.
func splitFrames(t *testing.T, data []byte, framing string) []string {
	var msgs []string
	for len(data) > 0 {
		if framing == FramingOctetCounting {
			sp := bytes.IndexByte(data, ' ')
			if sp < 0 {
				break
			}
			n, err := strconv.Atoi(string(data[:sp]))
			require.NoError(t, err, "octet count %q", data[:min(len(data), 20)])
			if sp+1+n > len(data) {
				break
			}
			msgs = append(msgs, string(data[sp+1:sp+1+n]))
			data = data[sp+1+n:]
			continue
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		msgs = append(msgs, string(data[:i]))
		data = data[i+1:]
	}
	return msgs
}

// parse3164 splits <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG.
func parse3164(t *testing.T, s string) syslogMsg {
	t.Helper()
	end := strings.IndexByte(s, '>')
	require.Positive(t, end, s)
	pri, err := strconv.Atoi(s[1:end])
	require.NoError(t, err)
	rest := s[end+1:]
	require.Greater(t, len(rest), 16, s)
	_, err = time.Parse("Jan _2 15:04:05", rest[:15])
	require.NoError(t, err, s)
	parts := strings.SplitN(rest[16:], " ", 3)
	require.Len(t, parts, 3, s)
	require.True(t, strings.HasSuffix(parts[1], ":"), s)
	return syslogMsg{pri: pri, timestamp: rest[:15], hostname: parts[0], app: strings.TrimSuffix(parts[1], ":"), msg: parts[2]}
}

// checkMessages compares the received syslog messages, in order, with the
// log records sent.
func checkMessages(t *testing.T, cfg *Config, lrs []plog.LogRecord, msgs []string) {
	t.Helper()
	require.Len(t, msgs, len(lrs))
	for i, raw := range msgs {
		x := expect(lrs[i])
		var m syslogMsg
		if cfg.Protocol == ProtocolRFC3164 {
			m = parse3164(t, raw)
		} else {
			m = parse5424(t, raw)
			assert.Equal(t, x.msgID, m.msgID)
			if !x.eventTime.IsZero() {
				assert.Equal(t, x.eventTime.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), m.timestamp)
			}
		}
		assert.Equal(t, 16*8+x.syslogSev, m.pri, raw)
		assert.Equal(t, "gw-1", m.hostname)
		assert.Equal(t, "podtrail", m.app)
		checkLine(t, cfg.Format, x, m.msg)
	}
}

func TestExportTCP(t *testing.T) {
	ld := loadDemo(t)
	lrs := records(ld)
	for _, c := range []struct {
		name                      string
		format, protocol, framing string
	}{
		{"cef-rfc5424-octet", FormatCEF, ProtocolRFC5424, ""},
		{"cef-rfc5424-newline", FormatCEF, ProtocolRFC5424, FramingNewline},
		{"cef-rfc3164-newline", FormatCEF, ProtocolRFC3164, ""},
		{"leef-rfc5424-octet", FormatLEEF, ProtocolRFC5424, FramingOctetCounting},
		{"leef-rfc3164-octet-caret", FormatLEEF, ProtocolRFC3164, FramingOctetCounting},
	} {
		t.Run(c.name, func(t *testing.T) {
			sink := newTCPSink(t, nil)
			var cfg *Config
			exp := newTestExporter(t, componenttest.NewNopHost(), func(c2 *Config) {
				c2.Endpoint, c2.Format, c2.Protocol, c2.Framing = sink.addr(), c.format, c.protocol, c.framing
				if strings.HasSuffix(c.name, "caret") {
					c2.LEEFDelimiter = "^"
				}
				cfg = c2
			})
			defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
			require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
			framing := FramingNewline
			if cfg.framing() == cef.FramingOctetCounting {
				framing = FramingOctetCounting
			}
			checkMessages(t, cfg, lrs, sink.messages(t, framing, len(lrs)))
		})
	}
}

func TestExportTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	sink := newTCPSink(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	ld := loadDemo(t)
	var cfg *Config
	exp := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) {
		c.Endpoint = sink.addr()
		tc := configtls.NewDefaultClientConfig()
		tc.CAFile = certFile
		c.TLS = configoptional.Some(tc)
		cfg = c
	})
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	checkMessages(t, cfg, records(ld), sink.messages(t, FramingOctetCounting, ld.LogRecordCount()))

	// A server whose certificate the CA file does not vouch for is refused.
	other := t.TempDir()
	otherCert, _ := selfSigned(t, other)
	exp2 := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) {
		c.Endpoint = sink.addr()
		tc := configtls.NewDefaultClientConfig()
		tc.CAFile = otherCert
		c.TLS = configoptional.Some(tc)
	})
	defer func() { require.NoError(t, exp2.Shutdown(context.Background())) }()
	err = exp2.ConsumeLogs(context.Background(), ld)
	require.ErrorContains(t, err, "certificate")
}

func TestExportUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	ld := loadDemo(t)
	var cfg *Config
	exp := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) {
		c.Endpoint, c.Transport, c.Format = pc.LocalAddr().String(), confignet.TransportTypeUDP, FormatLEEF
		cfg = c
	})
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	got := make(chan []string, 1)
	go func() {
		var msgs []string
		buf := make([]byte, 65536)
		for len(msgs) < ld.LogRecordCount() {
			_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				break
			}
			msgs = append(msgs, string(buf[:n]))
		}
		got <- msgs
	}()
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	checkMessages(t, cfg, records(ld), <-got)
}

// TestReconnect: a syslog server that closed the connection (a restart) gets
// the next batch on a new connection, none of it written into the dead one.
func TestReconnect(t *testing.T) {
	sink := newTCPSink(t, nil)
	ld := loadDemo(t)
	exp := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) { c.Endpoint = sink.addr() })
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	n := ld.LogRecordCount()
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	sink.messages(t, FramingOctetCounting, n)
	for round := 2; round <= 4; round++ {
		sink.dropConns()
		time.Sleep(50 * time.Millisecond) // the FIN reaches the exporter's socket
		require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
		sink.messages(t, FramingOctetCounting, round*n)
	}
}

// TestServerDown: with no server, ConsumeLogs fails with a retryable error
// (the queue and retry keep the data), and succeeds once the server is up.
func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ld := loadDemo(t)
	exp := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) { c.Endpoint = addr })
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	err = exp.ConsumeLogs(context.Background(), ld)
	require.Error(t, err)
	require.False(t, consumererror.IsPermanent(err))
	require.ErrorContains(t, err, "connection refused")
}

// TestTail: after a failed write, only the records from the failure on are
// retried, with their resource and scope.
func TestTail(t *testing.T) {
	ld := plog.NewLogs()
	for r := 0; r < 3; r++ {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutInt("r", int64(r))
		for s := 0; s < 2; s++ {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("s" + strconv.Itoa(s))
			for i := 0; i < 2; i++ {
				sl.LogRecords().AppendEmpty().Body().SetInt(int64(r*4 + s*2 + i))
			}
		}
	}
	for from := 0; from <= 12; from++ {
		out := tail(ld, from)
		require.Equal(t, 12-from, out.LogRecordCount())
		var got []int64
		for _, rl := range out.ResourceLogs().All() {
			r, _ := rl.Resource().Attributes().Get("r")
			for _, sl := range rl.ScopeLogs().All() {
				require.NotZero(t, sl.LogRecords().Len())
				for _, lr := range sl.LogRecords().All() {
					v := lr.Body().Int()
					require.Equal(t, v/4, r.Int())
					require.Equal(t, "s"+strconv.FormatInt(v%4/2, 10), sl.Scope().Name())
					got = append(got, v)
				}
			}
		}
		for i, v := range got {
			require.Equal(t, int64(from+i), v)
		}
	}
}

// TestPartialFailure: a connection that breaks in the middle of a large
// push returns the unsent records only (consumererror.Logs).
func TestPartialFailure(t *testing.T) {
	// A server that reads ~100 KiB and then resets the connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.CopyN(io.Discard, c, 100<<10)
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}()
	big := plog.NewLogs()
	sl := big.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i := 0; i < 4000; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("podtrail.pod_creation")
		lr.Body().SetStr(strings.Repeat("x", 1000))
	}
	exp := newTestExporter(t, componenttest.NewNopHost(), func(c *Config) { c.Endpoint = ln.Addr().String() })
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	err = exp.ConsumeLogs(context.Background(), big)
	require.Error(t, err)
	var le consumererror.Logs
	require.True(t, errors.As(err, &le), "want consumererror.Logs, got %v", err)
	rest := le.Data().LogRecordCount()
	assert.Less(t, rest, 4000, "records written before the failure are not retried")
	assert.Greater(t, rest, 0)
}

// TestUDPOversize: over UDP a message larger than a datagram holds cannot be
// sent. The others of the batch are, and the push fails with a permanent
// error that says how many were dropped and why, so that exporterhelper
// counts the batch in otelcol_exporter_send_failed_log_records, not as sent;
// otelcol_cef_dropped_messages counts exactly the dropped messages.
func TestUDPOversize(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	cfg.Endpoint, cfg.Transport = pc.LocalAddr().String(), confignet.TransportTypeUDP
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i, size := range []int{100, 70_000, 100} {
		lr := lrs.AppendEmpty()
		lr.SetEventName(cef.EventFinding)
		lr.Body().SetStr(fmt.Sprintf("record %d %s", i, strings.Repeat("x", size)))
	}
	got := make(chan int, 1)
	go func() {
		n := 0
		buf := make([]byte, 65536)
		for {
			_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				break
			}
			n++
		}
		got <- n
	}()
	err = exp.ConsumeLogs(context.Background(), ld)
	require.Error(t, err, "a dropped message is not a success")
	assert.True(t, consumererror.IsPermanent(err), "retrying cannot make it fit: %v", err)
	assert.ErrorContains(t, err, "1 of 3 messages")
	assert.ErrorContains(t, err, "65507")
	assert.Equal(t, 2, <-got, "the messages that fit are sent")

	metric := func(name string) int64 {
		m, err := tel.GetMetric(name)
		if err != nil {
			return 0
		}
		var n int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			n += dp.Value
		}
		return n
	}
	assert.Zero(t, metric("otelcol_exporter_sent_log_records"), "nothing counted as sent for the failed push")
	assert.Equal(t, int64(3), metric("otelcol_exporter_send_failed_log_records"))
	assert.Equal(t, int64(1), metric("otelcol_cef_dropped_messages"))
}
