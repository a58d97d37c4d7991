package main

import (
	"io"
	"net"
	"testing"
	"time"
)

// A wait limit is on each wait, not on the whole: a peer that trickles bytes for longer than
// the limit is read to the end; one that falls silent is cut after about the limit. Both the
// socket reader and the copy loop (copyStream) behave so.
func TestWaitLimitIsPerWait(t *testing.T) {
	// The gaps are a quarter of the limit: on a busy 2-core machine under -race a sleep can
	// wake hundreds of milliseconds late, which 0.1 s gaps under a 0.3 s limit did not allow.
	const limit = time.Second
	trickle := func(peer net.Conn, pieces int, gap time.Duration) {
		for i := 0; i < pieces; i++ {
			peer.Write([]byte("x"))
			time.Sleep(gap)
		}
		peer.Close()
	}
	t.Run("reader, trickling", func(t *testing.T) {
		c, peer := tcpPair(t)
		r := newSocketReader(c)
		setWaitLimit(r, limit)
		go trickle(peer, 8, limit/4) // 2 s in all, never silent for the limit
		n, err := io.Copy(io.Discard, r)
		if n != 8 || err != nil {
			t.Fatalf("read %d bytes, %v; want all 8", n, err)
		}
	})
	t.Run("reader, silent", func(t *testing.T) {
		c, _ := tcpPair(t)
		r := newSocketReader(c)
		setWaitLimit(r, limit)
		start := time.Now()
		_, err := r.Read(make([]byte, 1))
		if !isTimeout(err) || time.Since(start) < limit*7/8 || time.Since(start) > 3*limit {
			t.Fatalf("got %v after %v; want a timeout after about %v", err, time.Since(start), limit)
		}
	})
	t.Run("copy, trickling", func(t *testing.T) {
		src, srcPeer := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go io.Copy(io.Discard, dstPeer)
		go trickle(srcPeer, 8, limit/4)
		n, err := copyStream(dst, src, -1, copyWaits{src: limit, dst: limit})
		if n != 8 || err != nil {
			t.Fatalf("copied %d bytes, %v; want all 8", n, err)
		}
	})
	t.Run("copy, silent", func(t *testing.T) {
		src, srcPeer := tcpPair(t)
		dst, dstPeer := tcpPair(t)
		go io.Copy(io.Discard, dstPeer)
		srcPeer.Write([]byte("xyz"))
		start := time.Now()
		n, err := copyStream(dst, src, 10, copyWaits{src: limit, dst: limit})
		if n != 3 || !isTimeout(err) || time.Since(start) > 3*limit {
			t.Fatalf("copied %d, %v after %v; want 3 bytes then a timeout after about %v", n, err, time.Since(start), limit)
		}
	})
}
