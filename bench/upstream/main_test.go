// Tests for the bench origin: HTTP endpoints by table, and the hand-written WebSocket echo
// (handshake, masked echo of small and 16-bit-length frames, ping -> pong, close -> close).
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes", handleBytes)
	mux.HandleFunc("GET /1m", handleOneMiB)
	mux.HandleFunc("POST /sink", handleSink)
	mux.HandleFunc("GET /ws", handleWS)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPEndpoints(t *testing.T) {
	srv := newTestServer(t)
	tests := []struct {
		name, method, path, body string
		want                     int
		wantLen                  int
		wantBody                 string
	}{
		{name: "100 bytes", method: "GET", path: "/bytes?n=100", want: 200, wantLen: 100},
		{name: "zero bytes", method: "GET", path: "/bytes?n=0", want: 200, wantLen: 0},
		{name: "too many bytes", method: "GET", path: "/bytes?n=1048577", want: 400, wantLen: -1},
		{name: "not a number", method: "GET", path: "/bytes?n=x", want: 400, wantLen: -1},
		{name: "one MiB", method: "GET", path: "/1m", want: 200, wantLen: 1 << 20},
		{name: "sink counts", method: "POST", path: "/sink", body: strings.Repeat("b", 300000), want: 200, wantLen: -1, wantBody: "300000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %v; want %v", resp.StatusCode, tt.want)
			}
			if tt.wantLen >= 0 && len(b) != tt.wantLen {
				t.Errorf("body length: got %v; want %v", len(b), tt.wantLen)
			}
			if tt.wantBody != "" && string(b) != tt.wantBody {
				t.Errorf("body: got %v; want %v", string(b), tt.wantBody)
			}
		})
	}
}

// clientFrame builds one masked client frame.
func clientFrame(op byte, p []byte) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x80 | op}
	if len(p) < 126 {
		b = append(b, 0x80|byte(len(p)))
	} else {
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	}
	b = append(b, mask[:]...)
	for i, c := range p {
		b = append(b, c^mask[i&3])
	}
	return b
}

// readServerFrame reads one frame, failing the test if it is masked.
func readServerFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	if h[1]&0x80 != 0 {
		t.Fatalf("server frame is masked")
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return h[0], p
}

func TestWebSocketEcho(t *testing.T) {
	srv := newTestServer(t)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// The first frame rides in the same write as the handshake, so it sits in the hijacked reader.
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n"
	first := []byte("hello")
	if _, err := c.Write(append([]byte(req), clientFrame(0x1, first)...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, 101; got != want {
		t.Fatalf("status: got %v; want %v", got, want)
	}
	// RFC 6455 §1.3 example key and accept value.
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("accept: got %v; want %v", got, want)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Protocol"), "streamlit"; got != want {
		t.Errorf("subprotocol: got %v; want %v", got, want)
	}
	big := bytes.Repeat([]byte{'k'}, 1024)
	tests := []struct {
		name   string
		op     byte
		in     []byte
		wantOp byte
	}{
		{name: "pipelined text", op: 0x1, in: nil, wantOp: 0x81},
		{name: "1 KiB binary", op: 0x2, in: big, wantOp: 0x82},
		{name: "ping gets pong", op: 0x9, in: []byte("p"), wantOp: 0x8A},
		{name: "close is echoed", op: 0x8, in: []byte{0x03, 0xe8}, wantOp: 0x88},
	}
	for _, tt := range tests {
		want := tt.in
		if tt.in == nil {
			want = first // answer to the frame sent with the handshake
		} else if _, err := c.Write(clientFrame(tt.op, tt.in)); err != nil {
			t.Fatal(err)
		}
		op, p := readServerFrame(t, br)
		if op != tt.wantOp || !bytes.Equal(p, want) {
			t.Errorf("%s: got op %#x %d bytes; want op %#x %d bytes", tt.name, op, len(p), tt.wantOp, len(want))
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after close: got %v; want %v", err, io.EOF)
	}
}

func TestWebSocketRejectsBadHandshake(t *testing.T) {
	srv := newTestServer(t)
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{name: "no upgrade", headers: map[string]string{}, want: 400},
		{name: "bad key", headers: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"}, want: 400},
		{name: "old version", headers: map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, want: 426},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status: got %v; want %v", resp.StatusCode, tt.want)
			}
		})
	}
}
