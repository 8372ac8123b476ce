// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"container/list"
	"context"
	"crypto/tls"
	"net"
	"sync"
)

// connLimiter is a listener that holds at most max connections, so that
// clients that connect and send slowly (or not at all) cannot take every
// file descriptor of the collector: at the bound, a new connection closes
// the one that has gone longest without sending a byte and is not being
// answered (a slow sender, an idle keep-alive), and is served. A client that
// sends its request at an ordinary pace is never the longest silent, so it
// is served while thousands of slow ones churn.
type connLimiter struct {
	net.Listener
	max     int
	onOpen  func(delta int64) // open connections changed
	onEvict func()            // a connection was closed to make room

	mu    sync.Mutex
	conns list.List // of *limitedConn, the longest silent first
}

func newConnLimiter(ln net.Listener, maxConns int, onOpen func(int64), onEvict func()) *connLimiter {
	return &connLimiter{Listener: ln, max: maxConns, onOpen: onOpen, onEvict: onEvict}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l}
		var victim *limitedConn
		l.mu.Lock()
		if l.conns.Len() >= l.max {
			for e := l.conns.Front(); e != nil; e = e.Next() {
				if vc := e.Value.(*limitedConn); vc.busy == 0 {
					victim = vc
					l.conns.Remove(e)
					vc.elem = nil
					break
				}
			}
		}
		full := l.conns.Len() >= l.max
		if !full {
			lc.elem = l.conns.PushBack(lc)
		}
		l.mu.Unlock()
		if victim != nil {
			_ = victim.Conn.Close()
			l.onOpen(-1)
			l.onEvict()
		}
		if full {
			// Every connection is being answered: this one waits for none.
			_ = c.Close()
			l.onEvict()
			continue
		}
		l.onOpen(1)
		return lc, nil
	}
}

// limitedConn is a connection connLimiter keeps track of.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	elem *list.Element // nil once closed
	busy int           // requests being answered on it
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.l.mu.Lock()
		if c.elem != nil {
			c.l.conns.MoveToBack(c.elem)
		}
		c.l.mu.Unlock()
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	open := c.elem != nil
	if open {
		c.l.conns.Remove(c.elem)
		c.elem = nil
	}
	c.l.mu.Unlock()
	if open {
		c.l.onOpen(-1)
	}
	return c.Conn.Close()
}

// setBusy marks the connection as answering a request (it is not evicted
// while it waits for the pipeline) or done with it.
func (c *limitedConn) setBusy(busy bool) {
	c.l.mu.Lock()
	if busy {
		c.busy++
	} else {
		c.busy--
	}
	c.l.mu.Unlock()
}

// connKey is the request context's key of the request's connection.
type connKey struct{}

// withConn is the http.Server's ConnContext: it keeps the connection for
// the handler.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// limitedConnOf is the limitedConn a request arrived on, nil if none.
func limitedConnOf(ctx context.Context) *limitedConn {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitedConn)
	return lc
}
