package main

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestLimitListener: with two slots, a third connection while both are busy goes to
// overLimit at once; while one waits for a request, the third takes its slot and the idle one
// is closed; a second Close gives nothing back twice; Close ends Accept.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	over := make(chan net.Conn, 4)
	ln := newLimitListener(inner, 2, func(c net.Conn) { over <- c }, nil)
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	firstClient := dial()
	first, second := <-accepted, <-accepted
	if _, ok := rawConnOf(second); !ok {
		t.Errorf("a limited TCP connection (%T) must keep the socket loop", second)
	}

	dial() // both busy: answered over the limit, not left waiting
	select {
	case c := <-over:
		c.Close()
	case c := <-accepted:
		t.Fatalf("a third connection got a slot (%v) while two were busy", c.RemoteAddr())
	case <-time.After(5 * time.Second):
		t.Fatal("a third connection was neither accepted nor answered over the limit")
	}
	if st := ln.stats(); st.open != 2 || st.answered != 1 {
		t.Fatalf("stats %+v; want 2 open, 1 answered", st)
	}

	// The connection accepted first waits for a request: the next one takes its slot.
	var idle net.Conn = first
	if first.RemoteAddr().String() != firstClient.LocalAddr().String() {
		idle, second = second, first
	}
	slotOf(idle).markIdle()
	dial()
	third := <-accepted
	// Evicted: its read side is shut, so the engine waiting on it sees the end and closes it.
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the idle connection read %v; want EOF (shut to make room)", err)
	}
	if slotOf(idle).markBusy() {
		t.Fatal("an evicted connection could be marked busy again")
	}
	idle.Close() // as its engine does: the slot is third's, nothing comes back
	firstClient.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := firstClient.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the idle connection's client read %v; want EOF", err)
	}
	if st := ln.stats(); st.open != 2 || st.evicted != 1 {
		t.Fatalf("stats %+v; want 2 open, 1 evicted", st)
	}

	third.Close()
	third.Close() // twice: the slot must come back once
	if st := ln.stats(); st.open != 1 {
		t.Fatalf("stats %+v after closing one twice; want 1 open", st)
	}
	second.Close()
	ln.Close()
	select {
	case _, open := <-accepted:
		if open {
			t.Error("Accept returned a connection after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
