package main

import (
	"net"
	"testing"
	"time"
)

// TestLimitListener: with two slots a third connection is accepted only once one of the first
// two closes, a second Close gives nothing back twice, and Close ends a waiting Accept.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 2)
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
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // twice: the slot must come back once
	var third net.Conn
	select {
	case third = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("closing a connection did not free its slot")
	}
	fourth, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	select {
	case <-accepted:
		t.Fatal("a fourth connection was accepted: closing one connection twice freed two slots")
	case <-time.After(200 * time.Millisecond):
	}
	third.Close()
	if c := <-accepted; c != nil {
		c.Close()
	}
	if _, ok := rawConnOf(second); !ok {
		t.Errorf("a limited TCP connection (%T) must keep the socket loop", second)
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
