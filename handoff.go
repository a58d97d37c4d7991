// handoff.go owns handing a connection to a net/http server: the listener whose Accept
// returns the connections given to it (the fast engine gives net/http each connection it does
// not serve; max_connections gives its over-limit server the connections it answers), and the
// connection that replays the bytes read before the hand-off.

package main

import (
	"net"
	"sync"
)

// fastReplayConn returns the bytes the fast path read before handing off, then the rest of
// the connection.
type fastReplayConn struct {
	net.Conn
	pending []byte
}

func (c *fastReplayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net.Listener http.Server.Serve consumes: Accept returns the
// connections the fast path gave up.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give passes c to net/http; after Close it closes c instead and reports false.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}
