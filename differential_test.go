//go:build !nofastpath

package main

// differential_test.go runs one table of client requests and one table of upstream answers,
// ordinary and hostile, through both engines with the same configuration, and asserts for every
// row that the same requests reached the upstream and the same answer reached the client, or
// that both engines refused. The net/http engine defines what fluxlit does (hop.go): a
// difference is a bug of the fast engine, or a rule one engine does not follow.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// diffUpstream is a raw upstream that records every request it reads, normalized, and
// answers it: a scripted answer for /r/<n> (the answers table), a 101 for a WebSocket
// handshake, and a short echo of the request line otherwise.
type diffUpstream struct {
	name    string
	url     string
	answers []diffAnswerRow
	mu      sync.Mutex
	seen    []string
}

func newDiffUpstream(t *testing.T, name string, answers []diffAnswerRow) *diffUpstream {
	u := &diffUpstream{name: name, answers: answers}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u.url = "http://" + ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go u.serve(c)
		}
	}()
	return u
}

func (u *diffUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Time{})
		if _, err := br.Peek(1); err != nil {
			return // a connection that ends between requests (a pool's idle one) says nothing
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			u.record("unreadable request: " + diffErrClass(err))
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			u.record("unreadable body: " + diffErrClass(err))
			return
		}
		u.record(strings.Replace(diffNormRequest(req, body), "Host: "+strings.TrimPrefix(u.url, "http://")+"\n", "Host: <upstream>\n", 1))
		if n, ok := strings.CutPrefix(req.URL.Path, "/r/"); ok {
			i, _ := strconv.Atoi(n)
			row := u.answers[i]
			io.WriteString(c, row.raw)
			if row.close {
				return
			}
			continue
		}
		if headerHasToken(req.Header["Upgrade"], "websocket") {
			h := sha1.Sum([]byte(req.Header.Get("Sec-Websocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Upstream: %s\r\n\r\n",
				base64.StdEncoding.EncodeToString(h[:]), u.name)
			return
		}
		body = []byte(u.name + " saw " + req.Method + " " + req.RequestURI)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(body))
		if req.Method != http.MethodHead {
			c.Write(body)
		}
	}
}

func (u *diffUpstream) record(s string) {
	u.mu.Lock()
	u.seen = append(u.seen, u.name+": "+s)
	u.mu.Unlock()
}

// take returns what the upstream recorded since the last take.
func (u *diffUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// diffGeneratedID matches the request ids fluxlit makes (requestid.go), which differ by engine.
var diffGeneratedID = regexp.MustCompile(`[0-9a-f]{12}-[0-9a-z]+`)

func diffNormID(s string) string { return diffGeneratedID.ReplaceAllString(s, "<id>") }

// diffNormHeader lists a header sorted by name, values in order, without skip.
func diffNormHeader(b *strings.Builder, h http.Header, skip ...string) {
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !slices.Contains(skip, k) && !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(b, "%s: %s\n", k, diffShort(diffNormID(strings.Join(h[k], " | "))))
	}
}

// diffShort quotes s, long ones shortened (a 20 KiB header in a failure message helps nobody).
func diffShort(s string) string {
	if len(s) > 100 {
		return fmt.Sprintf("%q… (%d bytes)", s[:60], len(s))
	}
	return strconv.Quote(s)
}

// diffNormRequest is what an upstream received, for comparison: the request line, Host,
// every header (order between names is the engine's, not the request's), framing and body.
func diffNormRequest(r *http.Request, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\nHost: %s\n", r.Method, r.RequestURI, r.Proto, r.Host)
	diffNormHeader(&b, r.Header)
	fmt.Fprintf(&b, "framing: length %d, transfer-encoding %v\nbody %s", r.ContentLength, r.TransferEncoding, diffShort(string(body)))
	return b.String()
}

// diffNormResponse is what a client received, for comparison. Date's value is the clock's;
// the framing is compared as what the client reads (the body), not how it was cut, and how the
// connection is managed after an answer is each engine's (one that ends at close closes).
func diffNormResponse(res *http.Response, body []byte, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", res.Proto, res.Status)
	if _, ok := res.Header["Date"]; ok {
		res.Header["Date"] = []string{"<date>"}
	}
	diffNormHeader(&b, res.Header, "Content-Length")
	fmt.Fprintf(&b, "body %s", diffShort(diffNormID(string(body))))
	if err != nil {
		fmt.Fprintf(&b, " (cut: %v)", err)
	}
	return b.String()
}

// diffExchange sends raw on a new connection to addr and reads the answers to requests with
// the given methods, or what comes before the connection ends or wait passes. A connection
// that ends or sends garbage before an answer is "refused".
func diffExchange(t *testing.T, addr, raw string, methods []string, wait time.Duration) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, raw); err != nil {
		return []string{"refused: write: " + err.Error()}
	}
	br := bufio.NewReader(c)
	var out []string
	for _, m := range methods {
		res, err := http.ReadResponse(br, &http.Request{Method: m})
		for err == nil && res.StatusCode < 200 && res.StatusCode != http.StatusSwitchingProtocols {
			out = append(out, diffNormResponse(res, nil, nil)) // an interim answer, then the answer
			res, err = http.ReadResponse(br, &http.Request{Method: m})
		}
		if err != nil {
			out = append(out, "refused: "+diffErrClass(err))
			return out
		}
		body, err := io.ReadAll(res.Body)
		if err != nil && len(body) == 0 {
			// Cut before any byte of its body: no answer either. (Whether the head went out
			// first is a race in net/http's engine: ReverseProxy flushes a streamed answer's
			// head from a timer.)
			out = append(out, "refused: "+diffErrClass(err))
			return out
		}
		if err != nil {
			err = fmt.Errorf("%s", diffErrClass(err))
		}
		out = append(out, diffNormResponse(res, body, err))
		if err != nil || res.Close {
			return out
		}
	}
	return out
}

// diffErrClass names a read error the same way whatever the engine's wording.
func diffErrClass(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "connection reset"):
		return "connection ended"
	case strings.Contains(err.Error(), "timeout"):
		return "timeout"
	}
	return "malformed answer"
}

// diffEngines are the two engines of one configuration, each with its own upstreams.
type diffEngines struct {
	fastAddr, netAddr string
	fastUps, netUps   []*diffUpstream
}

func newDiffEngines(t *testing.T, settings map[string]string, answers []diffAnswerRow) *diffEngines {
	e := &diffEngines{}
	for i, addr := range []*string{&e.fastAddr, &e.netAddr} {
		api, ui := newDiffUpstream(t, "api", answers), newDiffUpstream(t, "ui", answers)
		s := map[string]string{"api_upstream": api.url, "streamlit_upstream": ui.url}
		for k, v := range settings {
			s[k] = v
		}
		ups := []*diffUpstream{api, ui}
		if i == 0 {
			_, _, *addr = fastGateway(t, s)
			e.fastUps = ups
			continue
		}
		g, err := newGateway(testConfig(t, s), slog.New(slog.DiscardHandler), "127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		g.listen = srv.Listener.Addr().String()
		*addr = g.listen
		e.netUps = ups
	}
	return e
}

func diffTake(ups []*diffUpstream) []string {
	var all []string
	for _, u := range ups {
		all = append(all, u.take()...)
	}
	return all
}

// run sends raw through both engines and compares what the upstreams and the clients saw.
// wait is how long a client waits for its answers (0: 5 s; a row whose client leaves before
// its answer gives less).
func (e *diffEngines) run(t *testing.T, name, raw string, methods []string, wait time.Duration) (fast, plain []string) {
	t.Helper()
	if wait == 0 {
		wait = 5 * time.Second
	}
	fast = diffExchange(t, e.fastAddr, raw, methods, wait)
	plain = diffExchange(t, e.netAddr, raw, methods, wait)
	// An upstream records a request before it answers; this wait is for what it records after
	// the client left (a body cut short).
	time.Sleep(20 * time.Millisecond)
	fastSeen, netSeen := diffTake(e.fastUps), diffTake(e.netUps)
	if d := diffLines(fastSeen, netSeen); d != "" {
		t.Errorf("%s: the upstream saw different requests (fast engine -, net/http +):\n%s", name, d)
	}
	if d := diffLines(fast, plain); d != "" {
		t.Errorf("%s: the client got different answers (fast engine -, net/http +):\n%s", name, d)
	}
	return fast, plain
}

func diffLines(a, b []string) string {
	if slices.Equal(a, b) {
		return ""
	}
	var out strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&out, "  #%d\n  - %s\n  + %s\n", i+1, strings.ReplaceAll(x, "\n", "\n    "), strings.ReplaceAll(y, "\n", "\n    "))
		}
	}
	return out.String()
}

// diffRequestRow is one client request (or several, pipelined) and the methods of the
// answers to read.
type diffRequestRow struct {
	name    string
	raw     string
	methods []string // default: one GET
}

// diffClientLeaves are the rows whose client gives up before its answer (the request never
// ends), after this long.
var diffClientLeaves = map[string]time.Duration{"body shorter than CL": 300 * time.Millisecond}

func diffRequestRows(token string) map[string][]diffRequestRow {
	const h = "Host: app.example\r\nX-Request-Id: diff-1\r\n"
	get := func(target, extra string) string {
		return "GET " + target + " HTTP/1.1\r\n" + h + extra + "Connection: close\r\n\r\n"
	}
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: app.example\r\n\r\n"
	n, hex := strconv.Itoa(len(smuggled)), strconv.FormatInt(int64(len(smuggled)), 16)
	long := strings.Repeat("a", 5000)
	huge := strings.Repeat("b", 70<<10)
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	plain := []diffRequestRow{
		// Ordinary requests: routes, methods, targets.
		{"GET /", get("/", ""), nil},
		{"GET a page with a query", get("/page?q=1&r=two", ""), nil},
		{"HEAD", "HEAD /page HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", []string{"HEAD"}},
		{"POST with a body", "POST /form HTTP/1.1\r\n" + h + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2", nil},
		{"POST without a body", "POST /form HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"POST with an empty body", "POST /form HTTP/1.1\r\n" + h + "Content-Length: 0\r\nConnection: close\r\n\r\n", nil},
		{"PUT", "PUT /api/items/1 HTTP/1.1\r\n" + h + "Content-Length: 2\r\nConnection: close\r\n\r\n{}", nil},
		{"PATCH", "PATCH /api/items/1 HTTP/1.1\r\n" + h + "Content-Length: 2\r\nConnection: close\r\n\r\n{}", nil},
		{"DELETE", "DELETE /api/items/1 HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"DELETE with a body", "DELETE /api/items/1 HTTP/1.1\r\n" + h + "Content-Length: 3\r\nConnection: close\r\n\r\nabc", nil},
		{"GET with an empty Content-Length", "GET / HTTP/1.1\r\n" + h + "Content-Length: 0\r\nConnection: close\r\n\r\n", nil},
		{"OPTIONS", "OPTIONS /api/x HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"custom method", "PURGE /cache HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"API", get("/api/users?limit=5", ""), nil},
		{"API mount itself", get("/api", ""), nil},
		{"API mount with slash", get("/api/", ""), nil},
		{"not the API mount", get("/apix", ""), nil},
		{"Streamlit health", get("/_stcore/health", ""), nil},
		{"docs redirect", get("/docs", ""), nil},
		{"redoc redirect", get("/redoc/", ""), nil},
		{"openapi redirect with query", get("/openapi.json?v=2", ""), nil},
		{"POST to /docs", "POST /docs HTTP/1.1\r\n" + h + "Content-Length: 0\r\nConnection: close\r\n\r\n", nil},
		{"healthz", get("/api/healthz", ""), nil},
		{"debug page off", get("/__fluxlit/debug", ""), nil},
		{"encoded path", get("/a%20b/c%2Fd", ""), nil},
		{"encoded API path", get("/api/a%2e%2e/x", ""), nil},
		{"unicode path", get("/caf%C3%A9", ""), nil},
		{"dot segments", get("/a/./b/../c", ""), nil},
		{"double slashes", get("//api//x", ""), nil},
		{"semicolon in path", get("/a;b=c", ""), nil},
		{"semicolon in query", get("/a?b=1;c=2", ""), nil},
		{"bad escape in query", get("/a?b=%zz", ""), nil},
		{"plus and percent in query", get("/a?b=1+2&c=%2B", ""), nil},
		{"long query", get("/q?x="+long[:3000], ""), nil},
		{"absolute form", "GET http://app.example/abs HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"absolute form to the API", "GET http://other.example/api/abs HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		// Headers: what passes, what is dropped, what fluxlit sets.
		{"ordinary headers", get("/h", "Accept: text/html\r\nAccept-Language: en\r\nCookie: a=1; b=2\r\nUser-Agent: diff/1\r\nIf-None-Match: \"x\"\r\nRange: bytes=0-1\r\n"), nil},
		{"repeated header", get("/h", "X-Multi: 1\r\nX-Multi: 2\r\n"), nil},
		{"empty header value", get("/h", "X-Empty:\r\n"), nil},
		{"header value with tab", get("/h", "X-Tab: a\tb\r\n"), nil},
		{"lower-case names", get("/h", "x-lower: v\r\ncookie: c=1\r\n"), nil},
		{"Connection names a header", "GET /h HTTP/1.1\r\n" + h + "Connection: X-Secret, close\r\nX-Secret: s\r\n\r\n", nil},
		{"Connection: keep-alive then close", "GET /h HTTP/1.1\r\n" + h + "Connection: keep-alive\r\nConnection: close\r\n\r\n", nil},
		{"Keep-Alive and Proxy-Connection", get("/h", "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"), nil},
		{"Te: trailers", get("/h", "Te: trailers\r\n"), nil},
		{"Te: gzip", get("/h", "Te: gzip\r\n"), nil},
		{"Trailer", get("/h", "Trailer: X-T\r\n"), nil},
		{"Proxy-Authorization", get("/h", "Proxy-Authorization: Basic eDp5\r\n"), nil},
		{"Authorization to Streamlit", get("/h", "Authorization: Bearer abc\r\n"), nil},
		{"Authorization to the API", get("/api/h", "Authorization: Bearer abc\r\n"), nil},
		{"spoofed X-Forwarded-For", get("/h", "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n"), nil},
		{"spoofed underscore forwarding", get("/h", "X_Forwarded_For: 6.6.6.6\r\nX-Forwarded_Host: evil\r\n"), nil},
		{"spoofed Forwarded", get("/h", "Forwarded: for=6.6.6.6;proto=https\r\nX-Real-IP: 6.6.6.6\r\n"), nil},
		{"spoofed X-Forwarded-Prefix", get("/api/h", "X-Forwarded-Prefix: /evil\r\n"), nil},
		{"spoofed identity", get("/api/h", "X-Fluxlit-Sub: admin\r\nx-fluxlit-scopes: all\r\n"), nil},
		{"valid request id", "GET /id HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: abc.DEF_1:2-3\r\nConnection: close\r\n\r\n", nil},
		{"invalid request id", "GET /id HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: bad id!\r\nConnection: close\r\n\r\n", nil},
		{"two request ids", "GET /id HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: first\r\nX-Request-Id: second\r\nConnection: close\r\n\r\n", nil},
		{"no request id", "GET /id HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n", nil},
		{"Host with a port", "GET / HTTP/1.1\r\nHost: app.example:8443\r\nConnection: close\r\n\r\n", nil},
		{"IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n", nil},
		{"upper-case Host", "GET / HTTP/1.1\r\nHost: APP.Example\r\nConnection: close\r\n\r\n", nil},
		{"no Host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", nil},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", nil},
		{"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n", nil},
		{"long header line", get("/h", "X-Long: "+long+"\r\n"), nil},
		{"head over 64 KiB", get("/h", "X-Huge: "+huge+"\r\n"), nil},
		// Framing and smuggling.
		{"CL and TE", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"TE and CL", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"two equal CLs", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", nil},
		{"two different CLs", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 0\r\nContent-Length: " + n + "\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"CL list", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\nConnection: close\r\n\r\nabc", nil},
		{"CL with space inside", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 3 5\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"CL with plus", "POST /x HTTP/1.1\r\n" + h + "Content-Length: +" + n + "\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"negative CL", "POST /x HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", nil},
		{"CL overflow", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999\r\n\r\n", nil},
		{"body shorter than CL", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 10\r\n\r\nabc", nil},
		{"chunked body", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", nil},
		{"chunked body with trailers", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", nil},
		{"chunked body with a bad size", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", nil},
		{"TE: gzip, chunked", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", nil},
		{"TE: identity", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc", nil},
		{"TE in the body", "POST /x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" + hex + "\r\n" + smuggled + "\r\n0\r\n\r\n", nil},
		{"obs-fold", "POST /x HTTP/1.1\r\n" + h + "Content-Length: 0\r\n " + n + "\r\n\r\n" + smuggled, []string{"GET", "GET"}},
		{"bare LF", "GET /lf HTTP/1.1\nHost: app.example\nConnection: close\n\n", nil},
		{"NUL in a header", "GET /x HTTP/1.1\r\n" + h + "X-A: b\x00c\r\nConnection: close\r\n\r\n", nil},
		{"CR in a header", "GET /x HTTP/1.1\r\n" + h + "X-A: b\rc\r\nConnection: close\r\n\r\n", nil},
		{"header without colon", "GET /x HTTP/1.1\r\n" + h + "X-A b\r\nConnection: close\r\n\r\n", nil},
		{"space before colon", "GET /x HTTP/1.1\r\n" + h + "X-A : b\r\nConnection: close\r\n\r\n", nil},
		{"bad method", "G(T /x HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"lower-case method", "get /x HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"two spaces", "GET  /x HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"HTTP/1.0", "GET /old HTTP/1.0\r\nHost: app.example\r\n\r\n", nil},
		{"HTTP/1.0 keep-alive", "GET /old HTTP/1.0\r\nHost: app.example\r\nConnection: keep-alive\r\n\r\n", nil},
		{"HTTP/0.9", "GET /\r\n\r\n", nil},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", nil},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"CONNECT", "CONNECT app.example:443 HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", nil},
		{"Expect: 100-continue", "POST /x HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", nil},
		{"pipelined", "GET /one HTTP/1.1\r\n" + h + "\r\nGET /two HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", []string{"GET", "GET"}},
		{"pipelined HEAD then GET", "HEAD /one HTTP/1.1\r\n" + h + "\r\nGET /two HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n", []string{"HEAD", "GET"}},
		{"pipelined fast then chunked", "GET /one HTTP/1.1\r\n" + h + "\r\nPOST /two HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\na\r\n0\r\n\r\n", []string{"GET", "POST"}},
		// Upgrades: only a WebSocket handshake is tunnelled.
		{"WebSocket handshake", get("/_stcore/stream", ws), nil},
		{"WebSocket handshake to the API", get("/api/ws", ws), nil},
		{"h2c upgrade", get("/h2c", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"), nil},
		{"h2c upgrade to an API path", get("/api/docs", "Connection: Upgrade\r\nUpgrade: h2c\r\n"), nil},
		{"TLS upgrade", get("/tls", "Connection: Upgrade\r\nUpgrade: TLS/1.0\r\n"), nil},
		{"WebSocket and h2c offered", get("/both", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), nil},
		{"Upgrade without Connection", get("/up", "Upgrade: websocket\r\n"), nil},
		{"Connection: upgrade without Upgrade", get("/up", "Connection: upgrade\r\n"), nil},
		{"WebSocket POST", "POST /_stcore/stream HTTP/1.1\r\n" + h + ws + "Content-Length: 0\r\n\r\n", nil},
		{"WebSocket with a body", "GET /_stcore/stream HTTP/1.1\r\n" + h + ws + "Content-Length: 5\r\n\r\nhello", nil},
		{"two Upgrade headers", get("/up", "Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n"), nil},
	}
	edge := []diffRequestRow{
		{"root_path, full shape", get("/ui/api/users", ""), nil},
		{"root_path, stripped shape", get("/api/public/x", ""), nil},
		{"root_path Streamlit", get("/ui/page", ""), nil},
		{"root_path outside", get("/elsewhere", ""), nil},
		{"protected path without a token", get("/api/users", ""), nil},
		{"protected path with a bad token", get("/api/users", "Authorization: Bearer not.a.token\r\n"), nil},
		{"protected path with a token", get("/api/users", "Authorization: Bearer "+token+"\r\n"), nil},
		{"protected path with a token and spoofed identity", get("/api/users", "Authorization: Bearer "+token+"\r\nX-Fluxlit-Sub: admin\r\n"), nil},
		{"public path", get("/api/public/x", ""), nil},
		{"dot segments into a protected path", get("/api/public/../users", ""), nil},
		{"encoded dot segments", get("/api/public/%2e%2e/users", ""), nil},
		{"h2c upgrade to a protected path", get("/api/users", "Connection: Upgrade\r\nUpgrade: h2c\r\n"), nil},
		{"h2c upgrade to a public path", get("/api/public/docs", "Connection: Upgrade\r\nUpgrade: h2c\r\n"), nil},
		{"WebSocket to a protected path", get("/api/users/ws", ws), nil},
		{"CORS preflight allowed", "OPTIONS /api/public/x HTTP/1.1\r\n" + h + "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n", nil},
		{"CORS preflight refused", "OPTIONS /api/public/x HTTP/1.1\r\n" + h + "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n", nil},
		{"CORS simple request", get("/api/public/x", "Origin: https://app.example\r\n"), nil},
		{"CORS foreign origin", get("/api/public/x", "Origin: https://evil.example\r\n"), nil},
		{"Origin to Streamlit", get("/page", "Origin: https://app.example\r\n"), nil},
		{"body at the limit", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 64\r\nConnection: close\r\n\r\n" + strings.Repeat("x", 64), nil},
		{"declared body over the limit", "POST /upload HTTP/1.1\r\n" + h + "Content-Length: 65\r\nConnection: close\r\n\r\n" + strings.Repeat("x", 65), nil},
		{"chunked body over the limit", "POST /upload HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n41\r\n" + strings.Repeat("x", 65) + "\r\n0\r\n\r\n", nil},
		{"rate limited path, first", get("/api/limited/1", ""), nil},
		{"rate limited path, second", get("/api/limited/2", ""), nil},
		{"rate limited path, over", get("/api/limited/3", ""), nil},
		{"Streamlit allow-list", get("/page", "X-Tenant: t1\r\nX-Other: o\r\nCookie: c=1\r\nAuthorization: Bearer x\r\n"), nil},
		{"trusted proxy headers", get("/page", "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\nX-Forwarded-Prefix: /edge\r\n"), nil},
		{"trusted Forwarded", get("/api/public/x", "Forwarded: for=203.0.113.9;proto=https;host=public.example\r\n"), nil},
		{"HSTS over trusted https", get("/page", "X-Forwarded-Proto: https\r\n"), nil},
	}
	return map[string][]diffRequestRow{"plain": plain, "edge": edge}
}

// TestEnginesAgreeOnRequests: the request table through both engines.
func TestEnginesAgreeOnRequests(t *testing.T) {
	const secret = "diff-secret-0123456789abcdef0123"
	token := jwtTestRaw(t, "HS256", []byte(secret), `{"alg":"HS256","typ":"JWT"}`,
		fmt.Sprintf(`{"sub":"user-1","scope":"read","exp":%d}`, time.Now().Add(time.Hour).Unix()))
	configs := map[string]map[string]string{
		"plain": {"enable_security_headers": "true"},
		"edge": {"enable_security_headers": "true", "root_path": "/ui", "jwt_hs256_secret": secret,
			"jwt_protect": "/*", "jwt_public_paths": "/public/*", "cors_allow_origins": "https://app.example",
			"rate_limit_rps": "0.001", "rate_limit_burst": "2", "rate_limit_paths": "/api/limited",
			"gateway_max_proxy_request_body_bytes": "64", "gateway_forward_client_headers_to_streamlit": "X-Tenant",
			"trust_proxy": "true"},
	}
	rows := diffRequestRows(token)
	total := 0
	for name, settings := range configs {
		t.Run(name, func(t *testing.T) {
			e := newDiffEngines(t, settings, nil)
			for _, row := range rows[name] {
				methods := row.methods
				if methods == nil {
					methods = []string{"GET"}
				}
				e.run(t, row.name, row.raw, methods, diffClientLeaves[row.name])
			}
		})
		total += len(rows[name])
	}
	if total < 100 {
		t.Errorf("%d request rows; the table must hold at least 100", total)
	}
}

// diffAnswerRow is one upstream answer, raw, to a GET (or HEAD) for /r/<n>; close: the
// upstream closes after it.
type diffAnswerRow struct {
	name  string
	raw   string
	close bool
	head  bool // the request is a HEAD
	// refused: the head is ambiguous or not HTTP/1.x, so both engines must answer fluxlit's
	// 502 and relay none of it (issue #15: "an ambiguous response ... is a 502").
	refused bool
}

var diffAnswerRows = []diffAnswerRow{
	// Ordinary answers.
	{name: "200 with a length", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "200 chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
	{name: "chunked with an extension", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n"},
	{name: "chunked with trailers", raw: "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"},
	{name: "until close", raw: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close: true},
	{name: "HTTP/1.0 with a length", raw: "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", close: true},
	{name: "HTTP/1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "HTTP/1.0 until close", raw: "HTTP/1.0 200 OK\r\n\r\nold style", close: true},
	{name: "204", raw: "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
	{name: "304", raw: "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Type: text/html\r\n\r\n"},
	{name: "304 with a length", raw: "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\n"},
	{name: "301", raw: "HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"},
	{name: "404", raw: "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found"},
	{name: "500", raw: "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"},
	{name: "201 JSON", raw: "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"},
	{name: "two Set-Cookie", raw: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"},
	{name: "no Content-Type", raw: "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n<html>x</html>"},
	{name: "upstream's request id", raw: "HTTP/1.1 200 OK\r\nX-Request-Id: upstream-id\r\nContent-Length: 0\r\n\r\n"},
	{name: "upstream's security headers", raw: "HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nContent-Length: 0\r\n\r\n"},
	{name: "upstream's Date", raw: "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n"},
	{name: "Connection: close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", close: true},
	{name: "Connection names a header", raw: "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\nContent-Length: 0\r\n\r\n"},
	{name: "Connection names many headers", raw: "HTTP/1.1 200 OK\r\nConnection: a, b, c, d, e, f, g, h, i, j\r\nA: 1\r\nJ: 10\r\nContent-Length: 0\r\n\r\n"},
	{name: "hop-by-hop headers", raw: "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTe: trailers\r\nContent-Length: 0\r\n\r\n"},
	{name: "Trailer without chunking", raw: "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "103 then 200", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "100 then 200", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "two 1xx then 200", raw: "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b.js>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "HEAD with a length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", head: true},
	{name: "HEAD chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head: true},
	{name: "unknown status", raw: "HTTP/1.1 299 Weird\r\nContent-Length: 0\r\n\r\n"},
	{name: "status 599", raw: "HTTP/1.1 599 Custom\r\nContent-Length: 0\r\n\r\n"},
	{name: "no reason phrase", raw: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"},
	{name: "bare LF lines", raw: "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello"},
	{name: "empty header value", raw: "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n"},
	{name: "tab in a value", raw: "HTTP/1.1 200 OK\r\nX-Tab: a\tb\r\nContent-Length: 0\r\n\r\n"},
	{name: "20 KiB header line", raw: "HTTP/1.1 200 OK\r\nSet-Cookie: big=" + strings.Repeat("c", 20<<10) + "\r\nContent-Length: 0\r\n\r\n"},
	// Hostile answers.
	{name: "204 with a body", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "204 with a body and no length", raw: "HTTP/1.1 204 No Content\r\n\r\nhello"},
	{name: "304 with a body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "HEAD answered with a body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", head: true},
	{name: "bytes past the length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"},
	{name: "a response past the length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET"},
	{name: "bytes past the chunked end", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET"},
	{name: "CL and chunked", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", refused: true},
	{name: "chunked and CL", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n5\r\nhello\r\n0\r\n\r\n", refused: true},
	{name: "CL and chunked on a 204", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", refused: true},
	{name: "two equal lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "two different lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", refused: true},
	{name: "length list", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", refused: true},
	{name: "negative length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello", close: true, refused: true},
	{name: "length with plus", raw: "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", close: true, refused: true},
	{name: "length overflow", raw: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello", close: true, refused: true},
	{name: "TE: gzip, chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", close: true, refused: true},
	{name: "TE: identity", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhello", close: true, refused: true},
	{name: "two TE headers", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", close: true, refused: true},
	{name: "TE in HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", close: true, refused: true},
	{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", close: true},
	{name: "chunk size overflow", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n", close: true},
	{name: "chunk without its CRLF", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", close: true},
	{name: "trailer line without a colon", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\no\r\n\r\n", close: true},
	{name: "trailer line with a bare LF", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\n\r\n", close: true},
	{name: "chunked body cut short", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", close: true},
	{name: "body shorter than its length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", close: true},
	{name: "Connection: Content-Length", raw: "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "Connection: Transfer-Encoding", raw: "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "bare CR in the reason", raw: "HTTP/1.1 299 Weird\rX-Injected: 1\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "NUL in the reason", raw: "HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "control byte in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "bare CR in a value", raw: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "space before colon", raw: "HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "header without colon", raw: "HTTP/1.1 200 OK\r\nX-A a\r\nContent-Length: 0\r\n\r\n", refused: true},
	{name: "four-digit status", raw: "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", close: true, refused: true},
	{name: "two-digit status", raw: "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", close: true, refused: true},
	{name: "HTTP/2.0 status line", raw: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", close: true, refused: true},
	{name: "ICY status line", raw: "ICY 200 OK\r\nContent-Length: 0\r\n\r\n", close: true, refused: true},
	{name: "101 to a plain GET", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", close: true, refused: true},
	{name: "garbage", raw: "hello\r\n\r\n", close: true, refused: true},
	{name: "nothing", raw: "", close: true, refused: true},
	{name: "head over 64 KiB", raw: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("h", 70<<10) + "\r\nContent-Length: 0\r\n\r\n", close: true, refused: true},
}

// TestEnginesAgreeOnAnswers: the answer table through both engines, each answer followed by a
// second client's request on the same gateway: it must get its own answer, never the bytes
// the first answer left behind.
func TestEnginesAgreeOnAnswers(t *testing.T) {
	e := newDiffEngines(t, map[string]string{"enable_security_headers": "true"}, diffAnswerRows)
	for i, row := range diffAnswerRows {
		method := "GET"
		if row.head {
			method = "HEAD"
		}
		raw := method + " /r/" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: diff-answer\r\n\r\n"
		fast, plain := e.run(t, row.name, raw, []string{method}, 0)
		for engine, got := range map[string][]string{"fast": fast, "net/http": plain} {
			if row.refused && (len(got) != 1 || !strings.HasPrefix(got[0], "HTTP/1.1 502 Bad Gateway\n")) {
				t.Errorf("%s, %s engine: the client got %q; want fluxlit's 502", row.name, engine, got)
			}
		}
		second := "GET /second HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: diff-second\r\nConnection: close\r\n\r\n"
		fast, plain = e.run(t, row.name+", second client", second, []string{"GET"}, 0)
		for engine, got := range map[string][]string{"fast": fast, "net/http": plain} {
			if len(got) != 1 || !strings.Contains(got[0], `body "ui saw GET /second"`) || !strings.HasPrefix(got[0], "HTTP/1.1 200 OK") {
				t.Errorf("%s, %s engine: the second client got %q; want its own answer", row.name, engine, got)
			}
		}
	}
}

var _ = bytes.Equal
