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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// engineGateways starts one gateway per engine built in (testEngines) for settings, and
// returns their addresses by engine.
func engineGateways(t *testing.T, settings map[string]string) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for _, e := range testEngines() {
		g, err := newGateway(testConfig(t, settings), slog.New(slog.DiscardHandler), "127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		addrs[e.name] = e.start(t, g).Listener.Addr().String()
	}
	return addrs
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

// TestClientsDuringInexactAnswers: many clients at once on one gateway, half of them asking
// for an answer that carries another answer past its end, half posting a body. Every post gets
// its own answer, and the upstream never reads a request on a connection after an inexact
// answer. Before the fix the net/http engine's guard cut the extra bytes but the Transport put
// the connection back in its pool at the body's end, before its read loop saw the failure: in
// one run 143 posts got 502 (a body without GetBody is not sent again on a new connection),
// and a request reached the upstream on such a connection. The guard now ends that read with
// io.EOF.
func TestClientsDuringInexactAnswers(t *testing.T) {
	var after, requests atomic.Int64
	up := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Time{})
		inexact := false
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			requests.Add(1)
			if inexact {
				after.Add(1)
			}
			inexact = req.URL.Path == "/first"
			if inexact {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET")
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nown")
		}
	})
	for engine, addr := range engineGateways(t, map[string]string{"streamlit_upstream": up}) {
		after.Store(0)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 5 * time.Second}
		var wg sync.WaitGroup
		var wrong atomic.Int64
		var firstWrong atomic.Pointer[string]
		deadline := time.Now().Add(2 * time.Second)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
					if (i+w)%2 == 0 {
						if res, err := client.Get("http://" + addr + "/first"); err == nil {
							io.Copy(io.Discard, res.Body)
							res.Body.Close()
						}
						continue
					}
					got := ""
					res, err := client.Post("http://"+addr+"/second", "text/plain", strings.NewReader("data"))
					if err == nil {
						b, _ := io.ReadAll(res.Body)
						res.Body.Close()
						if res.StatusCode == 200 && string(b) == "own" {
							continue
						}
						got = res.Status + " " + string(b)
					} else {
						got = err.Error()
					}
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, &got)
				}
			}()
		}
		wg.Wait()
		client.CloseIdleConnections()
		if n := wrong.Load(); n > 0 {
			t.Errorf("%s engine: %d posts did not get their own answer, the first: %s", engine, n, *firstWrong.Load())
		}
		if n := after.Load(); n > 0 {
			t.Errorf("%s engine: %d requests (of %d) reached the upstream on a connection after an inexact answer", engine, n, requests.Load())
		}
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
// TestGuardConnEndsTheAnswer: the net/http engine's guard hands the Transport an answer up to
// its end and not a byte more, with io.EOF, so the Transport does not pool the connection; the
// bytes past it fail the connection's next read, so that no request that takes the connection
// ever reads them as its answer.
func TestGuardConnEndsTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, method, answer, want string
	}{
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET", "HTTP/1.1 204 No Content\r\n\r\n"},
		{"HEAD with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
		{"bytes past the length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloSECRET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
		{"bytes past the last chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nSECRET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	} {
		g := &guardConn{Conn: &splitConn{in: []byte(tc.answer)}}
		g.arm(tc.method)
		buf := make([]byte, 4096)
		n, err := g.Read(buf)
		if err != io.EOF || string(buf[:n]) != tc.want {
			t.Errorf("%s: first read %q, %v; want the answer alone, %q, with io.EOF (so the Transport does not pool the connection)", tc.name, buf[:n], err, tc.want)
		}
		g.arm(http.MethodGet) // the next request took the connection from the pool
		if n, err := g.Read(buf); err == nil {
			t.Errorf("%s: the next request read %q; want an error", tc.name, buf[:n])
		}
	}
}
