// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// pendingReadWait bounds the read that takes in what a server sent on a
// connection (a TLS session ticket or close_notify).
const pendingReadWait = 10 * time.Millisecond

// peerClosed reports whether the syslog server has closed a TCP connection.
// A syslog server never writes, so a closed connection shows only when read:
// without this check the first message written after the server went away is
// accepted by the kernel and lost. It peeks at the socket without waiting
// where the platform allows (peekClosed), else reads with a short deadline.
func peerClosed(conn net.Conn) bool {
	raw := conn
	tc, isTLS := conn.(*tls.Conn)
	if isTLS {
		raw = tc.NetConn()
	}
	closed, pending, ok := peekClosed(raw)
	switch {
	case ok && closed:
		return true
	case ok && !pending:
		return false
	case ok && !isTLS:
		return false // data on a plain syslog connection: not ours to read
	}
	// TLS records are waiting (or the platform cannot peek): read through
	// the connection so that a close_notify or EOF shows.
	var b [512]byte
	_ = conn.SetReadDeadline(time.Now().Add(pendingReadWait))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	for {
		n, err := conn.Read(b[:])
		if err == nil {
			if n > 0 {
				continue // application data from a syslog server: ignored
			}
			return false
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false
		}
		return true
	}
}
