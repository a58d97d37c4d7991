//go:build !nofastpath

package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fastGatewayCountingHandoffs is fastGateway with a count of the requests net/http served.
func fastGatewayCountingHandoffs(t *testing.T, settings map[string]string) (string, *atomic.Int64) {
	t.Helper()
	g, err := newGateway(testConfig(t, settings), slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	var handedOff atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handedOff.Add(1)
		g.ServeHTTP(w, r)
	}))
	f := startFastTestServer(t, g, srv)
	t.Cleanup(srv.Close)
	g.listen = f.handoff.addr.String()
	return g.listen, &handedOff
}

// TestFastWebSocketUpgrade: a plain WebSocket handshake is relayed by the fast path itself,
// frames sent with the handshake included, and never reaches net/http.
func TestFastWebSocketUpgrade(t *testing.T) {
	for name, settings := range map[string]map[string]string{
		"all headers forwarded":       {},
		"Streamlit header allow-list": {"gateway_forward_client_headers_to_streamlit": "X-Tenant"},
	} {
		t.Run(name, func(t *testing.T) { testFastWebSocketUpgrade(t, settings) })
	}
}

func testFastWebSocketUpgrade(t *testing.T, settings map[string]string) {
	ui := wsEchoUpstream(t, 0)
	settings["streamlit_upstream"] = ui.URL
	addr, handedOff := fastGatewayCountingHandoffs(t, settings)
	c, br, res := testDialWS(t, addr, "/_stcore/stream", "Sec-WebSocket-Protocol: streamlit\r\nX-Request-Id: ws-trace-1\r\n", []byte("first"))
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	for name, want := range map[string]string{
		"Sec-Websocket-Accept":   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"Sec-Websocket-Protocol": "streamlit",
		"Upgrade":                "websocket",
		"X-Request-Id":           "ws-trace-1",
		"X-Seen-Host":            addr,
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("101 header %s = %q; want %q", name, got, want)
		}
	}
	if op, p, err := testReadFrame(br); err != nil || op != 2 || string(p) != "first" {
		t.Fatalf("frame sent with the handshake: %d %q %v", op, p, err)
	}
	msg := strings.Repeat("m", 1024)
	testWriteFrame(c, 2, []byte(msg), true)
	if _, p, err := testReadFrame(br); err != nil || string(p) != msg {
		t.Fatalf("1 KiB echo: %d bytes, %v", len(p), err)
	}
	if n := handedOff.Load(); n != 0 {
		t.Errorf("net/http served %d requests; want the handshake on the fast path", n)
	}
}

// TestFastWebSocketRefusedKeepsConnection: a refused handshake is relayed with its body, a
// refused connection is a 502, and either way the connection then serves a plain request.
func TestFastWebSocketRefusedKeepsConnection(t *testing.T) {
	for _, tt := range []struct {
		name     string
		upstream func(t *testing.T) string
		status   int
		body     string
	}{
		{"refused by the upstream", func(t *testing.T) string { return wsEchoUpstream(t, http.StatusForbidden).URL }, 403, "Cross origin"},
		{"upstream down", func(t *testing.T) string { return refusedPort(t) }, 502, "refused the connection"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api, _ := echoUpstream(t)
			addr, handedOff := fastGatewayCountingHandoffs(t, map[string]string{"streamlit_upstream": tt.upstream(t), "api_upstream": api.URL})
			c, br, res := testDialWS(t, addr, "/_stcore/stream", "Origin: http://evil.example\r\n", nil)
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			if res.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Fatalf("got %d %q; want %d containing %q", res.StatusCode, body, tt.status, tt.body)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Errorf("the %d carries no X-Request-Id", res.StatusCode)
			}
			c.Write([]byte("GET /api/after HTTP/1.1\r\nHost: a\r\n\r\n"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			next, err := http.ReadResponse(bufio.NewReader(br), nil)
			if err != nil || next.StatusCode != 200 {
				t.Fatalf("request after the refused handshake: %v %v; want 200 on the same connection", next, err)
			}
			if n := handedOff.Load(); n != 0 {
				t.Errorf("net/http served %d requests; want all on the fast path", n)
			}
		})
	}
}
