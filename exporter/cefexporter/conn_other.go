// SPDX-License-Identifier: Apache-2.0

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cefexporter

import "net"

// peekClosed cannot peek here: peerClosed reads with a short deadline instead.
func peekClosed(net.Conn) (closed, pending, ok bool) {
	return false, false, false
}
