// Tests for the floor relay: bytes go both ways unchanged in both modes, an EOF is passed on
// as a half-close, and bad flags are refused.
package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func TestRelayBothWaysAndHalfClose(t *testing.T) {
	for _, mode := range []string{"copy", "raw"} {
		t.Run(mode, func(t *testing.T) {
			p, err := pumpFor(mode)
			if err != nil {
				t.Fatal(err)
			}
			up, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			front, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer front.Close()
			go serve(front, up.Addr().String(), p)

			// The upstream echoes until EOF, then says how many bytes it saw and closes.
			go func() {
				c, err := up.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				n, _ := io.Copy(c, c)
				c.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
			}()

			c, err := net.Dial("tcp", front.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := bytes.Repeat([]byte("fluxlit"), 10000) // 70,000 bytes: several reads
			go func() {
				c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			want := append(append([]byte{}, msg...), 0x01, 0x11, 0x70) // 70000 = 0x011170
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes (tail %x); want %d bytes ending 011170", len(got), got[max(0, len(got)-3):], len(want))
			}
		})
	}
}

func TestPumpForRejectsUnknownMode(t *testing.T) {
	if _, err := pumpFor("splice"); err == nil || err.Error() != `-mode "splice": want copy or raw` {
		t.Fatalf("got %v", err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "127.9.9.9:1": true,
		"10.0.0.1:80": false, "example.com:80": false, "127.0.0.1": false, "": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v; want %v", addr, got, want)
		}
	}
}
