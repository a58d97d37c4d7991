//go:build !linux || 386

// socket_other.go: off Linux, and on 32-bit x86 Linux, whose recvmsg goes through
// socketcall, tunnels and bodies move through net.Conn (see socket_linux.go).

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
)

func rawConnOf(net.Conn) (syscall.RawConn, bool) { return nil, false }

func (r *relay) fromSocket(syscall.RawConn) error { return errors.ErrUnsupported }

func newSocketWriter(c net.Conn) io.Writer { return &deadlineIO{c: c} }

func newSocketReader(c net.Conn) io.Reader { return &deadlineIO{c: c} }

func newSocketReadWriter(c net.Conn) (io.Reader, io.Writer) {
	return newSocketReader(c), newSocketWriter(c)
}

func flushOnRead(bw *bufio.Writer, _ io.Reader) error { return bw.Flush() }

func copyStream(dst, src net.Conn, n int64, waits copyWaits) (int64, error) {
	return copyStreamPortable(dst, src, n, waits)
}

// gatewayListenConfig is Go's default: keep-alive set on each accepted connection.
func gatewayListenConfig() net.ListenConfig { return net.ListenConfig{} }

// upstreamDialControl: nothing to set up where tunnels and bodies use net.Conn.
var upstreamDialControl func(network, address string, c syscall.RawConn) error

// probeIdle: the portable probe is upConn.alive's short read.
func probeIdle(io.Reader) (alive, ok bool) { return false, false }

// peerEnded: not known without a raw socket; a client that left is then seen when its answer
// cannot be written.
func peerEnded(net.Conn) bool { return false }
