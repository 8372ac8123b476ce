// SPDX-License-Identifier: Apache-2.0

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cefexporter

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peekClosed looks at a socket without reading or waiting: closed when the
// peer has shut it (EOF, reset), pending when data waits. ok is false when
// the connection is not a socket.
func peekClosed(conn net.Conn) (closed, pending, ok bool) {
	sc, isSC := conn.(syscall.Conn)
	if !isSC {
		return false, false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false, false
	}
	var b [1]byte
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	}); err != nil {
		return true, false, true
	}
	switch {
	case rerr == nil && n == 0:
		return true, false, true // EOF
	case rerr == nil:
		return false, true, true
	case errors.Is(rerr, unix.EAGAIN), errors.Is(rerr, unix.EWOULDBLOCK), errors.Is(rerr, unix.EINTR):
		return false, false, true
	}
	return true, false, true // ECONNRESET and the like
}
