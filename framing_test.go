package main

// framing_test.go: what a user meets when an upstream's answer is not framed as it says, on
// both engines: two clients on one gateway, and the second never sees the first's bytes
// (issue #15, findings 1-3). Before the fix the fast engine pooled the upstream connection
// with the extra bytes still queued, and the second client got them as its answer ("SECRET",
// "hello", or a 502 for bytes that did not parse); it relayed a Content-Length named in
// Connection as neither a length nor a close; and it relayed a reason phrase with a bare CR.

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// engineGateways starts one gateway per engine for settings: "fast" (the fast engine in
// front, as in production) and "net/http" (the net/http engine alone).
func engineGateways(t *testing.T, settings map[string]string) map[string]string {
	t.Helper()
	_, _, fastAddr := fastGateway(t, settings)
	g, err := newGateway(testConfig(t, settings), slog.New(slog.DiscardHandler), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return map[string]string{"fast": fastAddr, "net/http": srv.Listener.Addr().String()}
}

// scriptedUpstream answers a request for /first with first, and any other with an ordinary
// answer naming its path, so a client that gets another client's bytes shows it.
func scriptedUpstream(t *testing.T, first string) string {
	return fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.URL.Path == "/first" {
				io.WriteString(c, first)
				continue
			}
			body := "own answer to " + req.URL.Path
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
		}
	})
}

// clientGet sends one request on a new connection and returns the answer, body read.
func clientGet(t *testing.T, addr, method, path string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: app.example\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// TestSecondClientGetsItsOwnAnswer: finding 1. The first client's answer carries more bytes
// than its framing says; the second client, on its own connection, must get its own answer.
func TestSecondClientGetsItsOwnAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, method, first string
	}{
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello"},
		{"HEAD answered with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
		{"bytes past Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET"},
		{"bytes past the last chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET"},
		{"Content-Length with chunked", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := scriptedUpstream(t, tc.first)
			for engine, addr := range engineGateways(t, map[string]string{"streamlit_upstream": up}) {
				clientGet(t, addr, tc.method, "/first")
				for i := 0; i < 3; i++ { // the pool hands out its newest connection first
					res, body := clientGet(t, addr, "GET", "/second")
					if res.StatusCode != 200 || body != "own answer to /second" {
						t.Errorf("%s engine, second client: got %d %q; want 200 %q", engine, res.StatusCode, body, "own answer to /second")
					}
				}
			}
		})
	}
}

// TestConnectionNamingContentLength: finding 2. An answer whose Connection header names
// Content-Length still reaches a keep-alive client with its length, so the client reads the
// next answer on the connection as the next answer, not as more body.
func TestConnectionNamingContentLength(t *testing.T) {
	up := scriptedUpstream(t, "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")
	for engine, addr := range engineGateways(t, map[string]string{"streamlit_upstream": up}) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(c)
		var bodies []string
		for i := 0; i < 2; i++ {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s engine, answer %d: %v", engine, i+1, err)
			}
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("%s engine, answer %d: %v after %q", engine, i+1, err, b)
			}
			bodies = append(bodies, string(b))
		}
		c.Close()
		if want := []string{"hello", "own answer to /next"}; strings.Join(bodies, "|") != strings.Join(want, "|") {
			t.Errorf("%s engine: bodies %q; want %q", engine, bodies, want)
		}
	}
}

// TestReasonPhraseWithBareCR: finding 3. A status line with a bare CR (a header injected
// through the reason phrase, for a status code net/http has no text for) is refused: the
// client gets a 502 and no byte of it, and the next client its own answer.
func TestReasonPhraseWithBareCR(t *testing.T) {
	up := scriptedUpstream(t, "HTTP/1.1 299 Weird\rX-Injected: 1\r\nContent-Length: 0\r\n\r\n")
	for engine, addr := range engineGateways(t, map[string]string{"streamlit_upstream": up}) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		raw, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(raw), "HTTP/1.1 502 ") || strings.Contains(string(raw), "Weird") || strings.Contains(string(raw), "X-Injected") {
			t.Errorf("%s engine: got %q; want a 502 without the upstream's status line", engine, raw)
		}
		if res, body := clientGet(t, addr, "GET", "/second"); res.StatusCode != 200 || body != "own answer to /second" {
			t.Errorf("%s engine, second client: got %d %q", engine, res.StatusCode, body)
		}
	}
}

// TestOnlyWebSocketsAreTunnelled: finding 4, both engines. An h2c upgrade to a public API path
// (the upstream would switch protocols) is served as plain HTTP, so the next request on the
// client's connection, to a protected path without a token, meets the JWT check (401, with a
// request id) instead of riding a tunnel to the API. Before the fix both engines relayed the
// 101 and then raw bytes: the protected path answered 200 from inside the tunnel.
func TestOnlyWebSocketsAreTunnelled(t *testing.T) {
	api := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		tunnelled := false
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := "plain " + req.URL.Path + " upgrade=" + req.Header.Get("Upgrade")
			if tunnelled {
				body = "tunnelled " + req.URL.Path
			}
			if !tunnelled && req.Header.Get("Upgrade") == "h2c" {
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
				tunnelled = true
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
		}
	})
	settings := map[string]string{"api_upstream": api, "jwt_hs256_secret": "0123456789abcdef0123456789abcdef",
		"jwt_protect": "/*", "jwt_public_paths": "/docs"}
	for engine, addr := range engineGateways(t, settings) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /api/docs HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s engine: %v", engine, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(body) != "plain / upgrade=" && string(body) != "plain /docs upgrade=" {
			t.Errorf("%s engine, the h2c request: got %d %q; want 200 served as plain HTTP, without Upgrade", engine, res.StatusCode, body)
		}
		io.WriteString(c, "GET /api/users HTTP/1.1\r\nHost: a\r\n\r\n")
		res, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s engine, the next request: %v", engine, err)
		}
		body, _ = io.ReadAll(res.Body)
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s engine, the next request on the connection: got %d %q (request id %q); want 401 from the JWT check",
				engine, res.StatusCode, body, res.Header.Get("X-Request-Id"))
		}
		c.Close()
	}
}

// splitConn returns its input in reads cut at the given sizes (then what is left), as a
// socket may deliver it.
type splitConn struct {
	net.Conn
	in   []byte
	cuts []int
}

func (c *splitConn) SetReadDeadline(time.Time) error { return nil }

func (c *splitConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := len(c.in)
	if len(c.cuts) > 0 {
		n, c.cuts = max(1, min(c.cuts[0], n)), c.cuts[1:]
	}
	n = copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

// FuzzUpstreamAnswerHead: whatever an upstream sends, the fast engine's reader (readFinal)
// and the net/http engine's guard (guardConn, the bytes cut into reads anywhere) take the same
// heads and refuse the same; and a head they take, net/http's own ReadResponse reads with the
// same status and framing, so the rule is never looser than Go's.
func FuzzUpstreamAnswerHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 204 No Content\n\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 299 Weird\rX: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7), uint8(30))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint8) {
		var res upResponse
		pc := &upConn{c: &splitConn{}, br: bufio.NewReaderSize(strings.NewReader(string(data)), upReadBufferSize)}
		readErr := res.readFinal(pc, time.Minute, true)

		g := &guardConn{Conn: &splitConn{in: data, cuts: []int{int(cut1), int(cut2)}}}
		g.armed.Store(true)
		var guardErr error
		buf := make([]byte, 1024)
		for g.armed.Load() && guardErr == nil {
			_, guardErr = g.Read(buf)
		}
		if guardErr == io.EOF {
			guardErr = io.ErrUnexpectedEOF // the head did not end: the reader's EOF
		}
		if (readErr == nil) != (guardErr == nil) {
			t.Fatalf("reader: %v, guard: %v, for %q", readErr, guardErr, data)
		}
		if readErr != nil {
			return
		}
		if g.res.status != 0 && res.status != g.res.status {
			t.Fatalf("reader status %d, guard status %d, for %q", res.status, g.res.status, data)
		}
		br := bufio.NewReader(strings.NewReader(string(data)))
		goRes, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		for err == nil && goRes.StatusCode < 200 && goRes.StatusCode != 101 {
			goRes, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		}
		if err != nil {
			t.Fatalf("the rule takes a head net/http refuses (%v): %q", err, data)
		}
		chunked := len(goRes.TransferEncoding) == 1 && goRes.TransferEncoding[0] == "chunked"
		switch {
		case goRes.StatusCode != res.status:
			t.Fatalf("status %d; net/http reads %d, for %q", res.status, goRes.StatusCode, data)
		case !bodyAllowed(http.MethodGet, res.status):
		case chunked != res.chunked:
			t.Fatalf("chunked %v; net/http reads %v, for %q", res.chunked, goRes.TransferEncoding, data)
		case !res.chunked && goRes.ContentLength != res.contentLength:
			t.Fatalf("length %d; net/http reads %d, for %q", res.contentLength, goRes.ContentLength, data)
		}
	})
}

// FuzzUpstreamAnswerPool is the pool invariant, end to end on the fast engine: whatever an
// upstream answers one client, the next client's request, on a reused upstream connection or
// a fresh one, gets its own answer and nothing else.
func FuzzUpstreamAnswerPool(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET",
		"HTTP/1.1 204 No Content\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nEXTRA",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\nhi",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	var up string
	answer := make(chan []byte, 1)
	up = fastRawUpstream(f, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Time{})
		for {
			// Ends what a cut answer leaves hanging; a reused connection's next request
			// comes within this (one that comes later finds it closed, and dials).
			c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/first" {
				c.Write(<-answer)
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nown")
		}
	})
	_, _, addr := fastGateway(f, map[string]string{"streamlit_upstream": up})
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		answer <- data
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		io.WriteString(c, method+" /first HTTP/1.1\r\nHost: a\r\n\r\n")
		if res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method}); err == nil {
			io.Copy(io.Discard, res.Body)
		}
		c.Close()
		select {
		case <-answer: // the gateway refused the request before it reached the upstream
		default:
		}
		res, body := clientGet(t, addr, "GET", "/second")
		if res.StatusCode != 200 || body != "own" {
			t.Fatalf("after %s answered with %q, the next client got %d %q; want 200 own", method, data, res.StatusCode, body)
		}
	})
}
