package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestRawConnOf(t *testing.T) {
	a, _ := tcpPair(t)
	if _, ok := rawConnOf(a); !ok {
		t.Error("a TCP connection takes the socket loop; rawConnOf said no")
	}
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
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
			n, err := copyStream(dst, src, tt.n)
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

// TestSocketWriterAllocatesNothing: a tunnel writes once per message, so the writer's
// RawConn callback must not be a fresh closure (three heap objects) per call.
func TestSocketWriterAllocatesNothing(t *testing.T) {
	a, b := tcpPair(t)
	go io.Copy(io.Discard, b)
	w := newSocketWriter(a)
	if _, ok := w.(*socketWriter); !ok {
		t.Fatalf("a TCP connection got a %T; want the socketWriter", w)
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
