// limitlisten.go: max_connections. Accept waits while the cap's worth of connections are
// open, as golang.org/x/net/netutil's LimitListener does; written here so that a TCP
// connection keeps its *net.TCPConn methods (the socket loops of socket_linux.go and splice
// need them) and so that fluxlit needs no x/net, whose module graph drags in x/term.

package main

import (
	"net"
	"sync"
)

// limitListener caps the connections accepted from the listener and not yet closed.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then accepts. After Close it returns the listener's error.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return l.Listener.Accept() // closed: answers its error at once
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		release := sync.OnceFunc(func() { <-l.slots })
		if tc, ok := c.(*net.TCPConn); ok {
			return &limitedTCPConn{TCPConn: tc, release: release}, nil
		}
		return &limitedConn{Conn: c, release: release}, nil
	}
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// limitedTCPConn gives its slot back on Close; every other method is the TCPConn's.
type limitedTCPConn struct {
	*net.TCPConn
	release func()
}

func (c *limitedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.release()
	return err
}

// limitedConn is limitedTCPConn for any other kind of connection.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
