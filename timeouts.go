// timeouts.go owns fluxlit's timeout model, the same on both engines, and the pieces that
// apply it. Every phase of an exchange has one limit, and each limit is on a wait, not on the
// whole: a long upload, a long download or an event stream that keeps moving is never cut.
//
//	a client, from connecting (or from a later request's first byte) to the end of its head:
//	    gateway_client_header_timeout_s (10 s)   then the connection is closed
//	a client, between two reads of its request body:
//	    gateway_client_body_timeout_s (60 s)     then 408
//	an upstream, to connect:   gateway_upstream_connect_timeout_s (30 s)   then 504
//	an upstream, between two writes of the request to it:
//	    gateway_upstream_send_timeout_s (60 s)   then 504
//	an upstream, from the END of the request body to its response head:
//	    gateway_upstream_read_timeout_s (120 s)  then 504
//	an upstream, between two reads of its response body:
//	    gateway_upstream_body_timeout_s (120 s; 0: none)  then the client's response is cut
//	a client, between two writes of its response:
//	    gateway_client_send_timeout_s (60 s)     then the connection is cut
//
// nginx has the same limits (client_header_timeout, client_body_timeout, send_timeout,
// proxy_connect_timeout, proxy_send_timeout, proxy_read_timeout), each "between two
// successive operations"; Go's Transport starts ResponseHeaderTimeout after the body is
// written, as the read timeout here. WebSocket tunnels have none of them: an idle tunnel is
// normal, and Streamlit pings its own.
//
// On Linux the fast engine's sockets arm a deadline only when they have to wait
// (socket_linux.go's socketIO), so a request that never waits pays nothing; elsewhere, and
// on the net/http engine, a deadline is set before each read or write.

package main

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// copyWaits bound the waits of a copy: for its source to send, for its destination to take.
type copyWaits struct{ src, dst time.Duration }

// waitClock limits a socket's waits in one direction with the connection's deadline, armed
// only when a wait begins, and rarely: a deadline armed less than an eighth of the limit ago
// is kept (the wait still gets at least seven eighths of it), so a body that waits a
// thousand times costs a timer change every few seconds, not two per wait. A deadline armed
// over half the limit ago is cleared before the next call, so it can never fail a call that
// does not wait (Go checks the deadline before it tries the socket).
type waitClock struct {
	conn    net.Conn
	read    bool // the read deadline, else the write one
	limit   time.Duration
	armedAt time.Time // zero: no deadline of ours
}

// setLimit starts or (0) ends limiting; ending clears a deadline left armed.
func (w *waitClock) setLimit(d time.Duration) {
	if d <= 0 && !w.armedAt.IsZero() {
		w.set(time.Time{})
		w.armedAt = time.Time{}
	}
	w.limit = d
}

// beforeCall clears a deadline too old to leave in place.
func (w *waitClock) beforeCall() {
	if !w.armedAt.IsZero() && time.Since(w.armedAt) > w.limit/2 {
		w.set(time.Time{})
		w.armedAt = time.Time{}
	}
}

// beforeWait arms the deadline for a wait that begins now.
func (w *waitClock) beforeWait() {
	if w.limit <= 0 {
		return
	}
	now := time.Now()
	if !w.armedAt.IsZero() && now.Sub(w.armedAt) < w.limit/8 {
		return
	}
	w.set(now.Add(w.limit))
	w.armedAt = now
}

func (w *waitClock) set(t time.Time) {
	if w.read {
		w.conn.SetReadDeadline(t)
	} else {
		w.conn.SetWriteDeadline(t)
	}
}

// waitLimited is a connection's reader or writer that limits its own waits (socketIO,
// deadlineIO).
type waitLimited interface{ limitWait(time.Duration) }

// setWaitLimit sets rw's wait limit, when rw has one.
func setWaitLimit(rw any, d time.Duration) {
	if w, ok := rw.(waitLimited); ok {
		w.limitWait(d)
	}
}

// deadlineIO reads and writes c with a deadline set before each call and cleared after it,
// when a wait limit is set: socketIO's limits, where socketIO cannot be used.
type deadlineIO struct {
	c    net.Conn
	wait time.Duration
}

func (d *deadlineIO) limitWait(w time.Duration) { d.wait = w }

func (d *deadlineIO) Read(p []byte) (int, error) {
	if d.wait <= 0 {
		return d.c.Read(p)
	}
	d.c.SetReadDeadline(time.Now().Add(d.wait))
	n, err := d.c.Read(p)
	d.c.SetReadDeadline(time.Time{})
	return n, err
}

func (d *deadlineIO) Write(p []byte) (int, error) {
	if d.wait <= 0 {
		return d.c.Write(p)
	}
	d.c.SetWriteDeadline(time.Now().Add(d.wait))
	n, err := d.c.Write(p)
	d.c.SetWriteDeadline(time.Time{})
	return n, err
}

// copyWaitStep is how much a portable copy moves per deadline: a peer slower than 64 KiB per
// wait limit (1 KiB/s with the defaults) is cut.
const copyWaitStep = 64 << 10

// copyStreamPortable is copyStream through net.Conn (between two TCP connections, Go
// splices). A body of known length that ends early is io.ErrUnexpectedEOF.
func copyStreamPortable(dst, src net.Conn, n int64, waits copyWaits) (int64, error) {
	var copied int64
	for n < 0 || copied < n {
		step := int64(copyWaitStep)
		switch {
		case waits == copyWaits{} && n < 0:
			step = 1 << 62
		case waits == copyWaits{}:
			step = n - copied
		case n >= 0:
			step = min(step, n-copied)
		}
		if waits.src > 0 {
			src.SetReadDeadline(time.Now().Add(waits.src))
		}
		if waits.dst > 0 {
			dst.SetWriteDeadline(time.Now().Add(waits.dst))
		}
		m, err := io.CopyN(dst, src, step)
		copied += m
		if err != nil {
			if err == io.EOF {
				err = nil
				if n >= 0 {
					err = io.ErrUnexpectedEOF
				}
			}
			clearWaits(dst, src, waits)
			return copied, err
		}
	}
	clearWaits(dst, src, waits)
	return copied, nil
}

func clearWaits(dst, src net.Conn, waits copyWaits) {
	if waits.src > 0 {
		src.SetReadDeadline(time.Time{})
	}
	if waits.dst > 0 {
		dst.SetWriteDeadline(time.Time{})
	}
}

// The net/http engine's pieces.

// armSend gives the next write to the client gateway_client_send_timeout_s (net/http engine).
func (a *accessRecord) armSend() {
	if a.sendWait <= 0 {
		return
	}
	if a.ctl == nil {
		a.ctl = http.NewResponseController(a.ResponseWriter)
	}
	a.ctl.SetWriteDeadline(time.Now().Add(a.sendWait))
}

// disarmSend clears it when the handler is done: net/http keeps the connection for the next
// request, whose first write must not meet a stale deadline.
func (a *accessRecord) disarmSend() {
	if a.ctl != nil {
		a.ctl.SetWriteDeadline(time.Time{})
	}
}

// idleBody is a client's request body on the net/http engine: each read may wait at most
// gateway_client_body_timeout_s (the connection's read deadline, set through ctl).
type idleBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController
	wait     time.Duration
	timedOut atomic.Bool // a read waited longer: the answer is 408 (proxyError)
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.ctl.SetReadDeadline(time.Now().Add(b.wait))
	n, err := b.rc.Read(p)
	b.ctl.SetReadDeadline(time.Time{})
	if err != nil && isTimeout(err) {
		b.timedOut.Store(true)
	}
	return n, err
}

func (b *idleBody) Close() error { return b.rc.Close() }

// sendLimitedConn is an upstream connection of the net/http engine's Transport: each write
// may wait at most gateway_upstream_send_timeout_s for the upstream to take it. (The
// Transport's ResponseHeaderTimeout is the read timeout; the response body's silences are
// bodyIdleReader's.)
type sendLimitedConn struct {
	net.Conn
	wait time.Duration
}

func (c *sendLimitedConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.wait))
	return c.Conn.Write(p)
}

// upstreamBody is an upstream's response body on the net/http engine: a read that waits
// longer than gateway_upstream_body_timeout_s (0: none) closes the body, which ends the read
// with an error; ReverseProxy then aborts the client's response, which the client sees cut
// short. cut hears of any such early end (upstreamBodyCut).
type upstreamBody struct {
	rc       io.ReadCloser
	wait     time.Duration
	timer    *time.Timer
	timedOut atomic.Bool
	cut      func(error)
}

func newUpstreamBody(rc io.ReadCloser, wait time.Duration, cut func(error)) *upstreamBody {
	b := &upstreamBody{rc: rc, wait: wait, cut: cut}
	if wait > 0 {
		b.timer = time.AfterFunc(wait, func() { b.timedOut.Store(true); rc.Close() })
		b.timer.Stop()
	}
	return b
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.wait)
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil && err != io.EOF {
		if b.timedOut.Load() {
			err = errUpstreamBodyTimeout
		}
		b.cut(err)
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	return b.rc.Close()
}

// errUpstreamBodyTimeout ends a response body whose upstream fell silent for longer than
// gateway_upstream_body_timeout_s.
var errUpstreamBodyTimeout = &timeoutError{"upstream silent for gateway_upstream_body_timeout_s inside a response body"}

// timeoutError is a net.Error that is a timeout, for the mapping in hop.go.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
