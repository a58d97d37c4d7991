//go:build linux && !386

// socket_linux.go: the byte-moving loops of tunnels and large bodies, straight on the
// descriptors of plain TCP and Unix connections. Two things Go's net.Conn does per call cost
// more than the copy here (issue #7, BENCHMARKS.md):
//
//   - Read, once it has drained a socket, reads again only to be told EAGAIN before it waits;
//     for a 1 KiB WebSocket message that is one syscall in three. Inside one RawConn.Read a
//     short read can go straight to waiting, as nginx does, once the kernel has said that
//     nothing, not even the end, is left (readSocket).
//   - Read and Write tell the scheduler they may block. A write on loopback runs the
//     receiver's side of TCP inline (tens of µs), long enough for sysmon to take the P from
//     the thread and wake another one for it: a thread hand-off per message. The descriptors
//     are non-blocking, so rawRead and rawWrite skip that.
//
// Other connections (TLS) and other systems use net.Conn.

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// rawConnOf returns the descriptor access of a plain TCP or Unix connection, also when
// max_connections wraps it (limitedTCPConn).
func rawConnOf(c net.Conn) (syscall.RawConn, bool) {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *limitedTCPConn:
		sc = c.TCPConn
	case *net.UnixConn:
		sc = c
	default:
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

func rawRead(fd uintptr, p []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd uintptr, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) without telling the scheduler (see the file comment),
// repeated when a signal interrupts it, so the loops see a result, EAGAIN or a real error.
// (The pointer becomes a uintptr in the RawSyscall call itself, the only place unsafe's rules
// allow: a wrapper taking the uintptr could see the stack move under it.)
func rawIO(trap, fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// socketIO reads or writes a plain socket with rawRead and rawWrite, waiting in the poller
// only when the socket has nothing to read or no room to write, as net.Conn does but without
// telling the scheduler: the fast path's heads and the tunnels' writes go through it.
// Deadlines and Close work as on the connection. One call at a time: the call's buffer and
// result live in the struct (a reader and a writer used by two goroutines are two socketIOs),
// and the callbacks are method values made once, so a call allocates nothing (three
// allocations per message as a closure).
type socketIO struct {
	rc                  syscall.RawConn
	net                 string
	readSome, writeSome func(fd uintptr) bool
	p                   []byte // the call in progress
	n                   int
	err                 error // from the syscall; io.EOF when a read found the end

	// The wait limit (timeouts.go): a call that has to wait for the socket arms conn's
	// deadline. No limit: the caller's own deadline, if any, stands.
	clock waitClock

	// A question and its answer in one RawConn.Read (flushOnRead): the reader's writer, the
	// bytes it holds for its next Read to write first, askThenRead as a callback, and, on the
	// writer, where its Write puts bytes while flushOnRead runs.
	writer   *socketIO
	question []byte
	asked    int // bytes of question written
	askSome  func(fd uintptr) bool
	carry    *[]byte

	// probeIdle's callback (made at the first probe), its one-byte buffer and its result.
	peekSome func(fd uintptr)
	peek     [1]byte
	alive    bool
}

// newSocketIO returns the socketIO of c, or false when c is not a plain socket.
func newSocketIO(c net.Conn) (*socketIO, bool) {
	rc, ok := rawConnOf(c)
	if !ok {
		return nil, false
	}
	return &socketIO{rc: rc, net: c.LocalAddr().Network(), clock: waitClock{conn: c}}, true
}

// limitWait sets how long a call may wait for the socket (timeouts.go); zero: no limit of its
// own. A socketIO reads or writes, never both, so its clock is of that direction.
func (s *socketIO) limitWait(d time.Duration) {
	s.clock.read = s.readSome != nil
	s.clock.setLimit(d)
}

// newSocketReader returns a socketIO reading c, or a deadlineIO when c is not a plain socket.
// Only the read callback is made: a reader writes nothing but a question held for flushOnRead,
// and that through askThenRead.
func newSocketReader(c net.Conn) io.Reader {
	if s, ok := newSocketIO(c); ok {
		s.readSome = s.readOnce
		return s
	}
	return &deadlineIO{c: c}
}

// newSocketWriter returns a socketIO writing c, or a deadlineIO when c is not a plain socket.
func newSocketWriter(c net.Conn) io.Writer {
	if s, ok := newSocketIO(c); ok {
		s.writeSome = s.writeAll
		return s
	}
	return &deadlineIO{c: c}
}

// newSocketReadWriter returns c's reader and writer as newSocketReader and newSocketWriter
// do, linked for flushOnRead; deadlineIOs when c is not a plain socket.
func newSocketReadWriter(c net.Conn) (io.Reader, io.Writer) {
	r, ok := newSocketReader(c).(*socketIO)
	if !ok {
		return &deadlineIO{c: c}, &deadlineIO{c: c}
	}
	w := newSocketWriter(c).(*socketIO)
	r.writer, r.askSome = w, r.askThenRead
	return r, w
}

// flushOnRead flushes bw, a request to an upstream, so that the read of its answer writes it:
// the next Read on r (bw's reader from newSocketReadWriter, with nothing buffered) writes the
// request inside the RawConn.Read that then waits for the answer. A separate write and read
// cost a read that found nothing: RawConn.Read forgets readiness that came before it, so it
// must try the socket first, and the answer is never there yet. Written after RawConn.Read
// began, the request's answer cannot come unseen. Elsewhere it is bw.Flush().
//
// What can come unseen is an end that arrived before: a pooled connection the upstream closed
// between the probe before its reuse (fastPool.get) and the write. An upstream that
// closed its socket answers the request with a reset, which wakes the read, and the request is
// retried on a fresh connection as before. One that only shut down its sending side and keeps
// the socket open is waited for until it closes it, at most the upstream read timeout: no
// server fluxlit fronts closes idle connections that way (uvicorn, Tornado and Go close them).
func flushOnRead(bw *bufio.Writer, r io.Reader) error {
	s, ok := r.(*socketIO)
	if !ok || s.writer == nil {
		return bw.Flush()
	}
	s.question, s.asked = s.question[:0], 0
	s.writer.carry = &s.question
	err := bw.Flush()
	s.writer.carry = nil
	return err
}

func (s *socketIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.asked < len(s.question) {
		return s.call("read", s.rc.Read, s.askSome, p)
	}
	return s.call("read", s.rc.Read, s.readSome, p)
}

func (s *socketIO) Write(p []byte) (int, error) {
	if s.carry != nil {
		*s.carry = append(*s.carry, p...)
		return len(p), nil
	}
	return s.call("write", s.rc.Write, s.writeSome, p)
}

// askThenRead is the read callback while a question is held: it writes the question and
// waits for the answer (false) without reading first; then it reads as readOnce. A socket
// with no room for the question (an upstream that does not read) gets the rest through the
// writer, which waits for room.
func (s *socketIO) askThenRead(fd uintptr) bool {
	if s.asked == len(s.question) {
		return s.readOnce(fd)
	}
	for s.asked < len(s.question) {
		n, err := rawWrite(fd, s.question[s.asked:])
		if err == syscall.EAGAIN {
			_, err = s.writer.Write(s.question[s.asked:])
			n = len(s.question) - s.asked
		}
		if err != nil {
			s.asked = len(s.question)
			s.err = err
			return true
		}
		s.asked += n
	}
	s.clock.beforeWait()
	return false
}

// call runs cb on p through f (RawConn.Read or Write), which repeats it until the socket is
// ready. Errors come back as net.Conn's would.
func (s *socketIO) call(op string, f func(func(uintptr) bool) error, cb func(uintptr) bool, p []byte) (int, error) {
	if s.clock.limit > 0 {
		s.clock.beforeCall()
	}
	s.p, s.n, s.err = p, 0, nil
	err := f(cb)
	n, serr := s.n, s.err
	s.p = nil
	switch {
	case serr == io.EOF:
		return n, io.EOF
	case serr != nil:
		err = serr
	case err == nil:
		return n, nil
	}
	return n, &net.OpError{Op: op, Net: s.net, Err: err}
}

// readOnce reads once into s.p; false asks RawConn.Read to wait until the socket is readable.
func (s *socketIO) readOnce(fd uintptr) bool {
	n, err := rawRead(fd, s.p)
	if err == syscall.EAGAIN {
		s.clock.beforeWait()
		return false
	}
	if err == nil && n == 0 {
		err = io.EOF
	}
	s.n, s.err = n, err
	return true
}

// writeAll writes what is left of s.p; false asks RawConn.Write to wait for room.
func (s *socketIO) writeAll(fd uintptr) bool {
	for s.n < len(s.p) {
		m, err := rawWrite(fd, s.p[s.n:])
		if err == syscall.EAGAIN {
			s.clock.beforeWait()
			return false
		}
		if err != nil {
			s.err = err
			return true
		}
		s.n += m
	}
	return true
}

// probeIdle reads the socket under r (a socketIO reader) without waiting and without taking
// anything: an idle connection is alive when nothing is there (EAGAIN), and not when it ended,
// failed or holds bytes nobody asked for. ok is false when r is not a socketIO. It runs before
// every reuse of a pooled connection, so it is one system call and nothing else: through
// RawConn.Control, not Read, whose poller bookkeeping cost as much again; and it allocates
// nothing past the first call.
func probeIdle(r io.Reader) (alive, ok bool) {
	s, ok := r.(*socketIO)
	if !ok {
		return false, false
	}
	if s.peekSome == nil {
		s.peekSome = s.peekOnce
	}
	s.alive = false
	err := s.rc.Control(s.peekSome)
	return s.alive && err == nil, true
}

func (s *socketIO) peekOnce(fd uintptr) {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.peek[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	s.alive = e == syscall.EAGAIN
}

// peerEnded reports, without waiting and without taking anything, whether the other end of c
// has ended its stream (EOF) or reset it; false while it is open, quiet or sending, and when c
// is not a plain socket.
func peerEnded(c net.Conn) bool {
	rc, ok := rawConnOf(c)
	if !ok {
		return false
	}
	var one [1]byte
	ended := false
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ended = n == 0 && err == nil || err == syscall.ECONNRESET
		return true
	})
	return ended
}

// readSocket reads rc into a pooled buffer until each fails, the socket ends (io.EOF) or
// fails, or a deadline fires. Before every read, span says where in the buffer it goes
// (buf[lo:hi]; what is before lo is carried over, as a frame header split between reads);
// each then gets buf[:lo+n].
//
// A read that returns less than its room has taken every byte there was, but not always
// the end: bytes and the peer's FIN that arrive together wake the edge-triggered poller
// once, and the read that takes the bytes returns them, not the end. Waiting then would
// wait for ever (a tunnel whose client sent a close frame and hung up stayed open). So on
// TCP the loop reads with recvmsg and TCP_INQ (setInq), which says whether anything, a FIN
// included, is still queued, and waits only when nothing is: nginx gets the same from
// EPOLLRDHUP, which Go's poller keeps to itself. Elsewhere (Unix sockets, a kernel
// without TCP_INQ) it reads again until EAGAIN, as net.Conn does.
//
// The loop stays inside one RawConn.Read because each new Read forgets the readiness that
// arrived before it. The buffer is held only while bytes flow, so an idle reader holds none.
//
// wait, when set, is called before the loop waits for the socket (the caller's wait limit).
func readSocket(rc syscall.RawConn, pool *sync.Pool, span func(buf []byte) (lo, hi int), each func([]byte) error, wait func()) error {
	var result error
	err := rc.Read(func(fd uintptr) bool {
		bp := pool.Get().(*[]byte)
		defer pool.Put(bp)
		buf := *bp
		for {
			lo, hi := span(buf)
			n, queued, err := recvInq(fd, buf[lo:hi])
			switch {
			case err == syscall.EAGAIN:
				if wait != nil {
					wait()
				}
				return false
			case err != nil:
				result = err
				return true
			case n == 0:
				result = io.EOF
				return true
			}
			if result = each(buf[:lo+n]); result != nil {
				return true
			}
			if n < hi-lo && !queued {
				if wait != nil {
					wait()
				}
				return false
			}
		}
	})
	if result != nil {
		return result
	}
	return err
}

// TCP_INQ (Linux 4.18) makes recvmsg return, as a control message, the number of bytes
// still queued after the read, and 1 when only the peer's FIN is.
const (
	tcpInq   = 36 // TCP_INQ, also the control message's type TCP_CM_INQ
	solTCP   = syscall.IPPROTO_TCP
	inqSpace = 32 // room for one control message holding an int32 (CMSG_SPACE(4) is 24)
)

// setInq turns TCP_INQ on for a socket when it is made, not per read: on the gateway's
// listener, whose accepted sockets inherit it, and on every TCP dial to an upstream
// (upstreamDialControl). That is two setsockopt calls fewer per WebSocket connect. A socket
// without it (a kernel before 4.18, a Unix socket) gets no control message from recvmsg,
// and readSocket then reads again until EAGAIN; so the error is not one to report.
func setInq(fd uintptr) { syscall.SetsockoptInt(int(fd), solTCP, tcpInq, 1) }

// upstreamDialControl is the upstream dialer's Control: TCP_INQ on TCP connections.
func upstreamDialControl(network, _ string, c syscall.RawConn) error {
	if strings.HasPrefix(network, "tcp") {
		return c.Control(setInq)
	}
	return nil
}

// recvInq is recvmsg(2), as rawIO is read(2), and says whether the socket may hold more:
// bytes, or its end. Only a socket with TCP_INQ on can say "nothing"; any other always
// "may". It allocates nothing: every structure it passes lives on its stack.
func recvInq(fd uintptr, p []byte) (n int, queued bool, err error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	var control [inqSpace / 8]uint64 // 8-byte aligned, as control messages are
	iov := syscall.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := syscall.Msghdr{Iov: &iov, Iovlen: 1, Control: (*byte)(unsafe.Pointer(&control[0]))}
	msg.SetControllen(inqSpace)
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
		switch e {
		case 0:
			return int(r), inqOf(&msg, unsafe.Pointer(&control[0])), nil
		case syscall.EINTR:
			continue
		}
		return 0, false, e
	}
}

// inqOf reads the TCP_INQ control message recvmsg returned; none (a socket without TCP_INQ)
// counts as "may hold more", so the caller reads again rather than waits.
func inqOf(msg *syscall.Msghdr, control unsafe.Pointer) bool {
	if uint64(msg.Controllen) < syscall.SizeofCmsghdr+4 {
		return true
	}
	h := (*syscall.Cmsghdr)(control)
	if h.Level != solTCP || h.Type != tcpInq {
		return true
	}
	return *(*int32)(unsafe.Add(control, syscall.SizeofCmsghdr)) != 0
}

// fromSocket is the relay's loop on a plain socket.
func (r *relay) fromSocket(rc syscall.RawConn) error {
	err := readSocket(rc, &proxyBufferPool, func(buf []byte) (int, int) {
		return copy(buf, r.held[:r.heldLen]), len(buf)
	}, r.forward, nil)
	if err == io.EOF {
		return err
	}
	return r.ended(err)
}

// bodyBufferSize is the copy buffer of a large body. A body moves in reads and writes as
// large as what has arrived, up to 1 MiB: the upstream's writes then block less often and
// the client gets the bytes in a few large pieces. Splice moves them without a copy, but in
// the pieces each read found, and the client (wrk in the benchmark) spent half as much CPU
// again per 1 MiB response; 64 KiB and 256 KiB buffers were in between (BENCHMARKS.md).
//
// At most maxBodyBuffers bodies copy through a buffer at once (32 MiB); more splice, so a
// crowd of large downloads costs no memory beyond that.
const (
	bodyBufferSize = 1 << 20
	maxBodyBuffers = 32
)

var (
	bodyBufferPool   = sync.Pool{New: func() any { b := make([]byte, bodyBufferSize); return &b }}
	bodyBuffersInUse atomic.Int32
)

// errStreamDone stops readSocket once a body of known length has been copied.
var errStreamDone = errors.New("body copied")

// copyStream copies n bytes from src to dst, or everything until src ends when n < 0, and
// returns how many it copied. A body of known length that ends early is io.ErrUnexpectedEOF.
// waits bound each wait for src to send and for dst to take (timeouts.go).
func copyStream(dst, src net.Conn, n int64, waits copyWaits) (int64, error) {
	rc, ok := rawConnOf(src)
	if !ok || n == 0 {
		return copyStreamPortable(dst, src, n, waits)
	}
	if bodyBuffersInUse.Add(1) > maxBodyBuffers {
		bodyBuffersInUse.Add(-1)
		return copyStreamPortable(dst, src, n, waits)
	}
	defer bodyBuffersInUse.Add(-1)
	w := newSocketWriter(dst)
	setWaitLimit(w, waits.dst)
	defer setWaitLimit(w, 0)
	var wait func()
	if waits.src > 0 {
		clock := &waitClock{conn: src, read: true}
		clock.setLimit(waits.src)
		wait = clock.beforeWait
		defer clock.setLimit(0)
	}
	var copied int64
	err := readSocket(rc, &bodyBufferPool, func(buf []byte) (int, int) {
		if n >= 0 {
			return 0, int(min(int64(len(buf)), n-copied))
		}
		return 0, len(buf)
	}, func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		copied += int64(len(b))
		if copied == n {
			return errStreamDone
		}
		return nil
	}, wait)
	switch {
	case err == errStreamDone:
		return copied, nil
	case err == io.EOF && n < 0:
		return copied, nil
	case err == io.EOF:
		return copied, io.ErrUnexpectedEOF
	}
	return copied, err
}

// gatewayListenConfig sets TCP keep-alive and TCP_INQ once, on the listening socket: Linux
// copies both to every accepted socket, where Go would set keep-alive with four setsockopt
// calls per connection (a WebSocket connect makes one accept; BENCHMARKS.md). The values
// are Go's defaults: probes after 15 s idle, every 15 s, 9 of them.
func gatewayListenConfig() net.ListenConfig {
	return net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) {
			err = setKeepAlive(int(fd), 15*time.Second, 9)
			setInq(fd)
		})
		return errors.Join(cerr, err)
	}}
}

func setKeepAlive(fd int, every time.Duration, probes int) error {
	secs := int(every / time.Second)
	return errors.Join(
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1),
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, secs),
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, secs),
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, probes))
}
