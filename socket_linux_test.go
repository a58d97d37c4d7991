//go:build linux && !386

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRawConnOf(t *testing.T) {
	a, _ := tcpPair(t)
	if _, ok := rawConnOf(a); !ok {
		t.Error("a TCP connection takes the socket loop; rawConnOf said no")
	}
	u, _ := connPair(t, "unix")
	if _, ok := rawConnOf(u); !ok {
		t.Error("a Unix connection takes the socket loop; rawConnOf said no")
	}
	if _, ok := rawConnOf(&fastReplayConn{Conn: a, pending: []byte("x")}); ok {
		t.Error("a wrapped connection must take the portable loop")
	}
}

// TestSocketRelayRoundTrips sends one message at a time and waits for it on the other side
// before the next, as a request/response WebSocket does: a wake-up the socket loop lost
// after a short read would hang here. Messages are written in pieces that split headers.
func TestSocketRelayRoundTrips(t *testing.T) {
	client, relayIn := tcpPair(t)    // the test writes to client; the relay reads relayIn
	relayOut, upstream := tcpPair(t) // the relay writes relayOut; the test reads upstream
	var n atomic.Int64
	r := relay{src: relayIn, dst: relayOut, counter: &n}
	done := make(chan error, 1)
	go func() { done <- r.run() }()

	sent := 0
	for i := range 200 {
		msg := wsFrames(t, bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*37%3000))
		sent += len(msg)
		// The first piece is 1, 3, 9 or 19 bytes, so headers arrive in parts, and the relay
		// reads it alone (and waits) before the rest comes.
		first := min(len(msg), 1+(i%4)*(i%4)*2)
		for _, part := range [][]byte{msg[:first], msg[first:]} {
			if _, err := client.Write(part); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		upstream.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(upstream, got); err != nil {
			t.Fatalf("message %d: %v (a wake-up lost after a short read leaves the relay waiting)", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d arrived changed", i)
		}
	}
	client.Close()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Errorf("relay ended with %v; want io.EOF when the client closes", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("relay did not end after the client closed")
	}
	if n.Load() != int64(sent) {
		t.Errorf("counted %d bytes; sent %d", n.Load(), sent)
	}
}

// TestSocketRelayStop: a close asked for between two frames ends the relay with
// errGoingAway (the down pump then writes the close frame); asked for inside a frame, it does
// not, because a close frame there would corrupt the frame in flight.
func TestSocketRelayStop(t *testing.T) {
	for _, tt := range []struct {
		name    string
		partial bool
		want    error
	}{
		{"between frames", false, errGoingAway},
		{"inside a frame", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, relayIn := tcpPair(t)
			relayOut, upstream := tcpPair(t)
			var n atomic.Int64
			var stop atomic.Int32
			r := relay{src: relayIn, dst: relayOut, counter: &n, stop: &stop}
			done := make(chan error, 1)
			go func() { done <- r.run() }()
			msg := wsFrames(t, []byte("whole"), bytes.Repeat([]byte("p"), 500))
			if tt.partial {
				msg = msg[:len(msg)-100]
			}
			client.Write(msg)
			upstream.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(upstream, make([]byte, len(msg))); err != nil {
				t.Fatal(err)
			}
			stop.Store(wsCloseGoingAway)
			relayIn.SetReadDeadline(time.Now())
			select {
			case err := <-done:
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("relay ended with %v; want %v", err, tt.want)
				}
				if tt.want == nil && (errors.Is(err, errGoingAway) || !isTimeout(err)) {
					t.Errorf("relay ended with %v; want the deadline's timeout, not a close between frames", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the deadline did not wake the relay")
			}
		})
	}
}

// TestTunnelAbortWhileBlocked: abort must end a tunnel whose client pump is blocked writing
// to an upstream that stopped reading. Close alone would wait for the pump's read of the
// client, which waits for the write: a deadlock the deadline breaks.
func TestTunnelAbortWhileBlocked(t *testing.T) {
	client, relayIn := tcpPair(t)
	relayOut, _ := tcpPair(t) // the far end never reads
	tun := newTunnel(relayIn, nil, relayOut, nil, 0)
	ended := make(chan struct{})
	tun.start(func() { close(ended) })
	frame := wsFrames(t, bytes.Repeat([]byte("x"), 1<<20))
	go func() {
		for range 64 { // 64 MiB: far past both sockets' buffers
			if _, err := client.Write(frame); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for tun.bytesUp.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the pump block in its write
	aborted := make(chan struct{})
	go func() { tun.abort(); close(aborted) }()
	select {
	case <-aborted:
	case <-time.After(wsCloseLinger / 2):
		t.Fatal("abort took longer than half the linger: Close waited for a pump blocked in a write, or the linger's deadline replaced abort's")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the tunnel's pumps did not end after abort")
	}
}

// TestCopyStream: a body of known length arrives in pieces (each ending in a wait), is copied
// whole, and nothing past its end is read: the next request on the connection stays there.
func TestCopyStream(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // 4.8 MB: several buffers
	for _, tt := range []struct {
		name     string
		n        int64
		send     []byte
		closeSrc bool
		wantN    int64
		wantErr  error
		rest     string // what src still holds after the copy
	}{
		{"known length, next request kept", int64(len(body)), append(append([]byte{}, body...), "NEXT"...), false, int64(len(body)), nil, "NEXT"},
		{"until close", -1, body, true, int64(len(body)), nil, ""},
		{"ends early", int64(len(body)) + 10, body, true, int64(len(body)), io.ErrUnexpectedEOF, ""},
		{"under the buffer budget's fallback", int64(len(body)), body, false, int64(len(body)), nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "fallback") {
				bodyBuffersInUse.Add(maxBodyBuffers)
				defer bodyBuffersInUse.Add(-maxBodyBuffers)
			}
			sender, src := tcpPair(t)
			dst, receiver := tcpPair(t)
			go func() {
				for rest := tt.send; len(rest) > 0; {
					k := min(len(rest), 700_000)
					sender.Write(rest[:k])
					rest = rest[k:]
					time.Sleep(2 * time.Millisecond)
				}
				if tt.closeSrc {
					sender.(*net.TCPConn).CloseWrite()
				}
			}()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(receiver)
				got <- b
			}()
			src.SetDeadline(time.Now().Add(10 * time.Second))
			n, err := copyStream(dst, src, tt.n, copyWaits{})
			dst.Close()
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Fatalf("copied %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if b := <-got; !bytes.Equal(b, body) {
				t.Fatalf("the receiver got %d bytes; want the %d sent, unchanged", len(b), len(body))
			}
			if tt.rest != "" {
				rest := make([]byte, len(tt.rest))
				if _, err := io.ReadFull(src, rest); err != nil || string(rest) != tt.rest {
					t.Errorf("after the body src held %q (%v); want %q", rest, err, tt.rest)
				}
			}
		})
	}
}

// TestSocketIOWriteAllocatesNothing: a tunnel writes once per message, so the writer's
// RawConn callback must not be a fresh closure (three heap objects) per call.
func TestSocketIOWriteAllocatesNothing(t *testing.T) {
	a, b := tcpPair(t)
	go io.Copy(io.Discard, b)
	w := newSocketWriter(a)
	if _, ok := w.(*socketIO); !ok {
		t.Fatalf("a TCP connection got a %T; want a socketIO", w)
	}
	msg := make([]byte, 1024)
	allocs := testing.AllocsPerRun(1000, func() {
		if n, err := w.Write(msg); n != len(msg) || err != nil {
			t.Fatalf("wrote %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per write; want 0", allocs)
	}
}

// TestSocketIORead: reads what arrived, waits when nothing has, ends with io.EOF, reports a
// deadline as net.Conn does (a timeout net.Error), and allocates nothing per read.
func TestSocketIORead(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) { testSocketIORead(t, network) })
	}
}

func testSocketIORead(t *testing.T, network string) {
	peer, c := connPair(t, network)
	r := newSocketReader(c)
	if _, ok := r.(*socketIO); !ok {
		t.Fatalf("a %s connection got a %T; want a socketIO", network, r)
	}
	buf := make([]byte, 64)
	go func() { time.Sleep(20 * time.Millisecond); peer.Write([]byte("late")) }()
	if n, err := r.Read(buf); string(buf[:n]) != "late" || err != nil {
		t.Errorf("read %q, %v; want the bytes written after the read began", buf[:n], err)
	}
	one := []byte("x")
	allocs := testing.AllocsPerRun(200, func() {
		peer.Write(one)
		if n, err := r.Read(buf); n != 1 || err != nil {
			t.Fatalf("read %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read; want 0", allocs)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := r.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !isTimeout(err) {
		t.Errorf("read past the deadline: %v; want a timeout net.Error", err)
	}
	c.SetReadDeadline(time.Time{})
	peer.Write([]byte("end"))
	peer.Close()
	if n, err := io.ReadAll(r); string(n) != "end" || err != nil {
		t.Errorf("ReadAll = %q, %v; want \"end\" and io.EOF seen as the end", n, err)
	}
	c.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v; want net.ErrClosed", err)
	}
}

// TestReadSocketSeesEndAfterShortRead: bytes and the peer's FIN that arrive together, while
// the reader is busy with the bytes before them, wake the poller once. The read that takes
// those bytes is short; if the loop then waited for the next wake-up it would never see the
// end. This hung a tunnel whose client sent a close frame and closed at once (CI, issue #7),
// for TCP and for Unix sockets alike.
func TestReadSocketSeesEndAfterShortRead(t *testing.T) {
	for _, network := range []string{"tcp", "tcp-inq", "unix"} {
		t.Run(network, func(t *testing.T) {
			peer, reader := socketPair(t, network)
			rc, ok := rawConnOf(reader)
			if !ok {
				t.Fatal("no socket loop")
			}
			peer.Write([]byte("first"))
			var got []string
			done := make(chan error, 1)
			go func() {
				done <- readSocket(rc, &proxyBufferPool, func(buf []byte) (int, int) { return 0, len(buf) },
					func(b []byte) error {
						got = append(got, string(b))
						if len(got) == 1 {
							// Both arrive, and the poller sees them, before this callback returns.
							peer.Write([]byte("last"))
							peer.Close()
							time.Sleep(50 * time.Millisecond)
						}
						return nil
					}, nil)
			}()
			select {
			case err := <-done:
				if err != io.EOF || strings.Join(got, "") != "firstlast" {
					t.Errorf("readSocket = %v after %q; want io.EOF after \"firstlast\"", err, got)
				}
			case <-time.After(3 * time.Second):
				reader.Close()
				<-done
				t.Fatalf("readSocket still waiting 3 s after the peer closed (read %q)", got)
			}
		})
	}
}

// TestRecvInq: on TCP, recvmsg with TCP_INQ says whether bytes or the end are still
// queued after a read, which is what lets a short read go straight to waiting.
func TestRecvInq(t *testing.T) {
	peer, reader := tcpPair(t)
	rc, _ := rawConnOf(reader)
	type result struct {
		n      int
		queued bool
		err    error
	}
	rc.Control(setInq)
	if !inqOn(t, reader) {
		t.Fatal("a TCP socket refused TCP_INQ")
	}
	recv := func(size int) (res result) {
		rc.Control(func(fd uintptr) {
			res.n, res.queued, res.err = recvInq(fd, make([]byte, size))
		})
		return res
	}
	peer.Write([]byte("abc"))
	time.Sleep(20 * time.Millisecond)
	steps := []struct {
		size int
		want result
		then func()
	}{
		{2, result{2, true, nil}, nil},
		{10, result{1, false, nil}, func() { peer.Write([]byte("x")); peer.Close(); time.Sleep(20 * time.Millisecond) }},
		{10, result{1, true, nil}, nil}, // the FIN is still queued
		{10, result{0, true, nil}, nil}, // the end; TCP_INQ says 1 from now on
	}
	for i, s := range steps {
		if got := recv(s.size); got != s.want {
			t.Errorf("step %d: recvInq = %+v; want %+v", i, got, s.want)
		}
		if s.then != nil {
			s.then()
		}
	}
	rc.Control(func(fd uintptr) {
		buf := make([]byte, 8)
		if allocs := testing.AllocsPerRun(100, func() { recvInq(fd, buf) }); allocs != 0 {
			t.Errorf("recvInq allocates %v times per call; want 0", allocs)
		}
	})
}

// TestRecvInqWithoutInq: a socket without TCP_INQ (a Unix socket, a TCP socket made
// elsewhere, an old kernel) never reports "nothing queued", so readSocket reads it until
// EAGAIN rather than waiting after a short read.
func TestRecvInqWithoutInq(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			peer, reader := connPair(t, network)
			peer.Write([]byte("abc"))
			time.Sleep(20 * time.Millisecond)
			rc, _ := rawConnOf(reader)
			rc.Control(func(fd uintptr) {
				n, queued, err := recvInq(fd, make([]byte, 10))
				if n != 3 || !queued || err != nil {
					t.Errorf("recvInq = %d, %v, %v; want 3, true (may hold more), nil", n, queued, err)
				}
			})
		})
	}
}

// socketPair is connPair, and "tcp-inq" a TCP pair with TCP_INQ on both ends, as the
// gateway's accepted sockets and upstream dials have it.
func socketPair(t testing.TB, network string) (net.Conn, net.Conn) {
	if network != "tcp-inq" {
		return connPair(t, network)
	}
	a, b := connPair(t, "tcp")
	for _, c := range []net.Conn{a, b} {
		rc, _ := rawConnOf(c)
		rc.Control(setInq)
	}
	return a, b
}

// inqOn reports whether c has TCP_INQ on.
func inqOn(t testing.TB, c net.Conn) bool {
	rc, ok := rawConnOf(c)
	if !ok {
		t.Fatalf("%T is not a plain socket", c)
	}
	on := false
	rc.Control(func(fd uintptr) {
		v, err := syscall.GetsockoptInt(int(fd), solTCP, tcpInq)
		on = err == nil && v == 1
	})
	return on
}

// TestUpstreamDialerSetsInq: every TCP dial to an upstream has TCP_INQ on from the start,
// so the socket loops need no setsockopt; a Unix dial goes through the same Control.
func TestUpstreamDialerSetsInq(t *testing.T) {
	cfg := &Config{}
	g := &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			ln := localListener(t, network)
			defer ln.Close()
			raw := "http://" + ln.Addr().String()
			if network == "unix" {
				raw = "unix:" + ln.Addr().String()
			}
			up, err := newUpstream("api", raw, cfg, g)
			if err != nil {
				t.Fatal(err)
			}
			c, err := up.dialer.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatalf("dial through the upstream dialer: %v", err)
			}
			defer c.Close()
			if network == "tcp" && !inqOn(t, c) {
				t.Error("a TCP dial to an upstream has TCP_INQ off")
			}
		})
	}
}

// TestTunnelEndsOnCloseHandshake: each side sends its close frame and hangs up with the FIN
// in the same segment (TCP_CORK holds the frame until close adds the FIN), so each pump
// usually wakes once for frame and end together. The tunnel must end then, not at the
// linger: the CI run where a Streamlit session's tunnel stayed open after its client left.
// Whether Go's poller reports the segment as one wake-up or two is timing, so this test
// caught the bug only sometimes; TestReadSocketSeesEndAfterShortRead catches it always.
func TestTunnelEndsOnCloseHandshake(t *testing.T) {
	client, relayIn := tcpPair(t)
	relayOut, upstream := tcpPair(t)
	tun := newTunnel(relayIn, nil, relayOut, nil, 0)
	ended := make(chan struct{})
	tun.start(func() { close(ended) })
	time.Sleep(50 * time.Millisecond) // both pumps wait in the poller: the segment wakes them
	start := time.Now()
	closeWithFrame(t, client, true)
	var frame bytes.Buffer
	writeCloseFrame(&frame, 1000, "", true)
	got := make([]byte, frame.Len())
	upstream.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(upstream, got); err != nil || !bytes.Equal(got, frame.Bytes()) {
		t.Fatalf("upstream read %x, %v; want the client's close frame %x", got, err, frame.Bytes())
	}
	closeWithFrame(t, upstream, false)
	select {
	case <-ended:
		if took := time.Since(start); took > wsCloseLinger/2 {
			t.Errorf("the tunnel ended %v after the close handshake; want well before the %v linger", took, wsCloseLinger)
		}
	case <-time.After(wsCloseLinger + 3*time.Second):
		t.Fatal("the tunnel is still open after both sides closed")
	}
	if side := tun.firstClose.Load(); side != "client" {
		t.Errorf("first close by %v; want client", side)
	}
}

// closeWithFrame sends a close frame and closes c, the FIN in the frame's segment.
func closeWithFrame(t *testing.T, c net.Conn, masked bool) {
	t.Helper()
	rc, _ := rawConnOf(c)
	rc.Control(func(fd uintptr) {
		if err := syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1); err != nil {
			t.Fatal(err)
		}
	})
	if err := writeCloseFrame(c, 1000, "", masked); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestGatewayListenerKeepAlive: connections accepted from the gateway's listener have Go's
// keep-alive settings and TCP_INQ without a setsockopt of their own: the kernel copies them
// from the listening socket. A kernel that did not would leave public connections without
// probes. Through a Multipath TCP listener (Go's default since 1.24) TCP_INQ is not copied:
// this test found that, and listenGateway now listens plain TCP.
func TestGatewayListenerKeepAlive(t *testing.T) {
	ln, err := listenGateway(&Config{GatewayHost: "127.0.0.1", GatewayPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, _ := rawConnOf(c)
	want := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9},
		{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
		{"TCP_INQ", solTCP, tcpInq, 1},
	}
	rc.Control(func(fd uintptr) {
		for _, w := range want {
			if got, err := syscall.GetsockoptInt(int(fd), w.level, w.opt); err != nil || got != w.value {
				t.Errorf("accepted socket: %s = %d, %v; want %d", w.name, got, err, w.value)
			}
		}
	})
}

// TestFlushOnRead: the request is written by the read of its answer, not by the flush (a
// peer sees nothing until the read begins), then the answer is read; for TCP and Unix
// sockets, since the fast path's upstreams are both.
func TestFlushOnRead(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			peer, c := connPair(t, network)
			r, w := newSocketReadWriter(c)
			if _, ok := r.(*socketIO); !ok {
				t.Fatalf("a %s connection got a %T; want a socketIO", network, r)
			}
			bw, br := bufio.NewWriter(w), bufio.NewReader(r)
			for i := range 3 { // the question buffer is reused
				q := fmt.Sprintf("GET /%d HTTP/1.1\r\n\r\n", i)
				bw.WriteString(q)
				if err := flushOnRead(bw, r); err != nil {
					t.Fatal(err)
				}
				peer.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
				if n, err := peer.Read(make([]byte, 64)); !isTimeout(err) {
					t.Fatalf("peer read %d bytes (%v) after flushOnRead; want none before the read of the answer", n, err)
				}
				answered := make(chan string, 1)
				go func() {
					buf := make([]byte, 64)
					peer.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, _ := io.ReadFull(peer, buf[:len(q)])
					peer.Write([]byte("answer"))
					answered <- string(buf[:n])
				}()
				got := make([]byte, 6)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != "answer" {
					t.Fatalf("read %q, %v; want the answer", got, err)
				}
				if asked := <-answered; asked != q {
					t.Fatalf("peer got %q; want %q", asked, q)
				}
			}
		})
	}
}

// TestFlushOnReadWithoutRoom: a request larger than the socket holds, to a peer that reads
// late, is written in full (the rest through the writer, which waits for room) before the
// answer is read.
func TestFlushOnReadWithoutRoom(t *testing.T) {
	peer, c := connPair(t, "tcp")
	r, w := newSocketReadWriter(c)
	q := bytes.Repeat([]byte("fluxlit "), 1<<20) // 8 MiB: more than loopback buffers hold
	bw := bufio.NewWriterSize(w, len(q))
	bw.Write(q)
	if err := flushOnRead(bw, r); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		got := make([]byte, len(q))
		if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, q) {
			peer.Write([]byte("wrong"))
			return
		}
		peer.Write([]byte("whole"))
	}()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != "whole" {
		t.Fatalf("read %q, %v; want the peer to have the whole request", got, err)
	}
}

// askedOnRead returns c's reader holding a request for its next Read to write (flushOnRead), as
// the fast path leaves a pooled connection before it reads the answer, and bounds that read.
func askedOnRead(t *testing.T, c net.Conn) io.Reader {
	t.Helper()
	r, w := newSocketReadWriter(c)
	bw := bufio.NewWriter(w)
	bw.WriteString("GET / HTTP/1.1\r\n\r\n")
	if err := flushOnRead(bw, r); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return r
}

// TestFlushOnReadToClosedPeer: a pooled connection the upstream closed while idle fails the
// read with an error, and does not wait for an answer that cannot come (the fast path then
// retries on a fresh connection).
func TestFlushOnReadToClosedPeer(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			peer, c := connPair(t, network)
			peer.Close()
			time.Sleep(20 * time.Millisecond) // the FIN arrives while the connection is idle
			r := askedOnRead(t, c)
			start := time.Now()
			_, err := r.Read(make([]byte, 64))
			if err == nil || isTimeout(err) {
				t.Fatalf("read from a closed peer: %v after %v; want an error at once", err, time.Since(start))
			}
		})
	}
}

// TestFlushOnReadToHalfClosedPeer: a peer that shut down its sending side while idle, and
// closes its socket only later, ends the read when it closes, with an error: a bounded wait,
// not a hang (flushOnRead's comment).
func TestFlushOnReadToHalfClosedPeer(t *testing.T) {
	peer, c := connPair(t, "tcp")
	peer.(*net.TCPConn).CloseWrite()
	time.Sleep(20 * time.Millisecond) // the FIN arrives while the connection is idle
	r := askedOnRead(t, c)
	go func() { time.Sleep(100 * time.Millisecond); peer.Close() }()
	start := time.Now()
	_, err := r.Read(make([]byte, 64))
	if waited := time.Since(start); err == nil || isTimeout(err) || waited > 3*time.Second {
		t.Fatalf("read after the peer's half-close: %v after %v; want an error once the peer closes", err, waited)
	}
}

// TestBodyBuffersREADMEsNumbers: "a large body is copied through a 1 MiB buffer, at most 32 at
// once (32 MiB), beyond which bodies are spliced" (README, Performance).
func TestBodyBuffersREADMEsNumbers(t *testing.T) {
	if bodyBufferSize != 1<<20 || maxBodyBuffers != 32 {
		t.Errorf("body buffers: %d bytes, at most %d; the README says 1 MiB, at most 32", bodyBufferSize, maxBodyBuffers)
	}
}
