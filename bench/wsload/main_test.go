// Tests for the load client: argument checks, percentiles, and echo/connect/idle against a
// minimal in-test RFC 6455 echo server on loopback.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWSURL(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "path", in: "ws://127.0.0.1:80/ws", want: "127.0.0.1:80 /ws"},
		{name: "query kept", in: "ws://127.0.0.1:80/ws?a=1", want: "127.0.0.1:80 /ws?a=1"},
		{name: "no path", in: "ws://127.0.0.1:80", want: "127.0.0.1:80 /"},
		{name: "http scheme", in: "http://127.0.0.1:80/ws", wantErr: true},
		{name: "no host", in: "ws:///ws", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, err := parseWSURL(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v; want error %v", err, tt.wantErr)
			}
			if got := h + " " + p; !tt.wantErr && got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestPct(t *testing.T) {
	s := make([]uint32, 100)
	for i := range s {
		s[i] = uint32(i + 1)
	}
	tests := []struct {
		name string
		in   float64
		want uint32
	}{
		{name: "p50", in: 0.50, want: 50},
		{name: "p99", in: 0.99, want: 99},
		{name: "p0", in: 0, want: 1},
	}
	for _, tt := range tests {
		if got := pct(s, tt.in); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := pct(nil, 0.5); got != 0 {
		t.Errorf("empty: got %v; want %v", got, 0)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		in   options
		want string
	}{
		{name: "unknown mode", in: options{mode: "x", conns: 1, n: 1, dur: time.Second}, want: "unknown -mode"},
		{name: "zero conns", in: options{mode: "echo", conns: 0, n: 1, dur: time.Second}, want: "-c must be"},
		{name: "zero duration", in: options{mode: "echo", conns: 1, n: 1}, want: "-d must be"},
		{name: "bad url", in: options{mode: "echo", rawURL: "http://x/", conns: 1, n: 1, dur: time.Second}, want: "want ws://"},
		{name: "start without command", in: options{mode: "start", conns: 1, n: 1, dur: time.Second}, want: "need -addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// echoServer is a minimal RFC 6455 echo: handshake on Hijack, then echo each masked frame
// unmasked (close included, after which it hangs up). A plain GET gets 200 "ok".
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if key == "" { // plain GET: what -mode wait polls
			_, _ = io.WriteString(w, "ok")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
			base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
		echoFrames(brw.Reader, c)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func echoFrames(br *bufio.Reader, w io.Writer) {
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return
		}
		n := int(h[1] & 0x7f)
		if n == 126 {
			if _, err := io.ReadFull(br, h[2:4]); err != nil {
				return
			}
			n = int(binary.BigEndian.Uint16(h[2:4]))
		}
		var mask [4]byte
		p := make([]byte, n)
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		for i := range p {
			p[i] ^= mask[i&3]
		}
		out := []byte{h[0], byte(n)}
		if n >= 126 {
			out = []byte{h[0], 126, byte(n >> 8), byte(n)}
		}
		if _, err := w.Write(append(out, p...)); err != nil || h[0]&0x0f == 0x8 {
			return
		}
	}
}

func TestModesAgainstEchoServer(t *testing.T) {
	srv := echoServer(t)
	u := "ws://" + srv.Listener.Addr().String() + "/ws"
	tests := []struct {
		name string
		in   options
		want []string
	}{
		{name: "echo", in: options{mode: "echo", rawURL: u, conns: 4, n: 1, size: 1024, dur: 200 * time.Millisecond}, want: []string{"mode=echo", "errors=0"}},
		{name: "connect", in: options{mode: "connect", rawURL: u, conns: 2, n: 1, max: 50, dur: 200 * time.Millisecond}, want: []string{"mode=connect", "errors=0"}},
		{name: "idle", in: options{mode: "idle", rawURL: u, conns: 8, n: 40, size: 1024, dur: 10 * time.Millisecond, rssPID: os.Getpid()},
			want: []string{"opened=40", "echoed=40", "errors=0"}},
		{name: "wait", in: options{mode: "wait", rawURL: srv.URL + "/", conns: 1, n: 1, dur: time.Second}, want: []string{"mode=wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, err := run(tt.in)
			if err != nil {
				t.Fatalf("got error %v; want none (line %q)", err, line)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("got %v; want it to contain %v", line, w)
				}
			}
		})
	}
}
