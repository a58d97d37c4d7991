//go:build !nofastpath

// fastpath_test.go: the fast engine's own tests. Both engines' helpers are in engines_test.go.

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFastPipelinedRequests(t *testing.T) {
	up, conns := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "path="+r.URL.Path+" id="+r.Header.Get("X-Request-Id"))
	}))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var raw strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&raw, "GET /p%d HTTP/1.1\r\nHost: app\r\nX-Request-Id: req-%d\r\n\r\n", i, i)
	}
	io.WriteString(c, raw.String())
	res := fastReadResponses(t, bufio.NewReader(c), "GET", 5)
	for i, r := range res {
		want := fmt.Sprintf("path=/p%d id=req-%d", i+1, i+1)
		if got := fastBodyOf(r); got != want || r.StatusCode != 200 {
			t.Errorf("response %d: got %d %q; want 200 %q", i+1, r.StatusCode, got, want)
		}
		if got := r.Header.Get("X-Request-Id"); got != fmt.Sprintf("req-%d", i+1) {
			t.Errorf("response %d X-Request-Id: got %q; want req-%d", i+1, got, i+1)
		}
	}
	if got := conns.n.Load(); got != 1 {
		t.Errorf("upstream connections: got %d; want 1 (pipelined requests reuse one)", got)
	}
}

func TestFastUpstreamKeepAlive(t *testing.T) {
	up, conns := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // a new client conn each time
	for i := 0; i < 20; i++ {
		res, err := client.Get("http://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		if got := fastBodyOf(res); got != "ok" {
			t.Fatalf("body: got %q; want ok", got)
		}
		res.Body.Close()
	}
	if got := conns.n.Load(); got != 1 {
		t.Errorf("upstream dials for 20 sequential requests: got %d; want 1", got)
	}
}

func TestFastChunkedRelayedExactly(t *testing.T) {
	chunked := "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n"
	upURL := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTrailer: X-Trailer\r\nTransfer-Encoding: chunked\r\n\r\n"+chunked)
		}
	})
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": upURL})
	got := fastRawExchange(t, addr, "GET /a HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
	head, body, _ := strings.Cut(got, "\r\n\r\n")
	if body != chunked {
		t.Errorf("chunked body: got %q; want %q", body, chunked)
	}
	if !strings.Contains(head, "Transfer-Encoding: chunked") || !strings.Contains(head, "Trailer: X-Trailer") {
		t.Errorf("head %q; want Transfer-Encoding: chunked and the Trailer announcement", head)
	}
}

func TestFastCloseDelimited(t *testing.T) {
	upURL := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
	})
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": upURL})
	got := fastRawExchange(t, addr, "GET /a HTTP/1.1\r\nHost: app\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatalf("%v in %q", err, got)
	}
	if b := fastBodyOf(res); b != "until the end" || !res.Close {
		t.Errorf("got %q close=%v; want the whole body and Connection: close", b, res.Close)
	}
}

func TestFastNoBodyResponses(t *testing.T) {
	up, _ := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, "hello world")
		}
	}))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	tests := []struct {
		name, method string
		status       int
		body         string
	}{
		{"HEAD", "HEAD", 200, ""},
		{"204", "GET", 204, ""},
		{"304", "GET", 304, ""},
		{"GET after them", "GET", 200, "hello world"},
	}
	for _, tt := range tests {
		res := fastReadResponses(t, br, tt.method, 1)[0]
		if got := fastBodyOf(res); res.StatusCode != tt.status || got != tt.body {
			t.Errorf("%s: got %d %q; want %d %q", tt.name, res.StatusCode, got, tt.status, tt.body)
		}
		if tt.name == "HEAD" && res.ContentLength != 11 {
			t.Errorf("HEAD Content-Length: got %d; want 11", res.ContentLength)
		}
	}
}

func TestFastHandoffAfterFastRequests(t *testing.T) {
	up, _ := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s %d te=%v", r.Method, r.URL.Path, n, r.TransferEncoding)
	}))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+
		"POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n"+
		"GET /four HTTP/1.1\r\nHost: a\r\n\r\n")
	res := fastReadResponses(t, bufio.NewReader(c), "GET", 4)
	// The chunked body is buffered whole before the upstream is dialled (bodybuffer.go), so it
	// reaches the upstream with its length, as nginx sends a buffered body.
	want := []string{"GET /one 0 te=[]", "POST /two 3 te=[]", "POST /three 4 te=[]", "GET /four 0 te=[]"}
	for i, r := range res {
		if got := fastBodyOf(r); got != want[i] {
			t.Errorf("response %d: got %q; want %q", i+1, got, want[i])
		}
	}
}

// TestFastSmuggling sends requests whose framing is ambiguous after a fast one. Each must be
// handed to net/http, so the upstream sees exactly what it sees behind the net/http-only
// gateway: never an extra request cut out of a body.
func TestFastSmuggling(t *testing.T) {
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	n, hex := strconv.Itoa(len(smuggled)), strconv.FormatInt(int64(len(smuggled)), 16)
	tests := []struct{ name, in string }{
		{"CL+TE", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"two CLs", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: " + n + "\r\n\r\n" + smuggled},
		{"CL with space", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3 5\r\n\r\n" + smuggled},
		{"CL with plus", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +" + n + "\r\n\r\n" + smuggled},
		{"obs-fold", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n " + n + "\r\n\r\n" + smuggled},
		{"bare LF", "POST /x HTTP/1.1\nHost: a\nContent-Length: " + n + "\n\n" + smuggled},
		{"NUL in header", "POST /x HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\nContent-Length: " + n + "\r\n\r\n" + smuggled},
		{"TE in body", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + hex + "\r\n" + smuggled + "\r\n0\r\n\r\n"},
	}
	// recorder is an upstream that lists the requests it received.
	recorder := func() (*httptest.Server, func() []string) {
		var mu sync.Mutex
		var seen []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, n))
			mu.Unlock()
			io.WriteString(w, "ok")
		}))
		t.Cleanup(srv.Close)
		return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fastUp, fastSeen := recorder()
			plainUp, plainSeen := recorder()
			_, _, fastAddr := fastGateway(t, map[string]string{"streamlit_upstream": fastUp.URL})
			g, err := newGateway(testConfig(t, map[string]string{"streamlit_upstream": plainUp.URL}), slog.New(slog.DiscardHandler), "127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			plain := httptest.NewServer(g)
			t.Cleanup(plain.Close)
			in := "GET /first HTTP/1.1\r\nHost: a\r\n\r\n" + tt.in
			fastOut := fastRawExchange(t, fastAddr, in)
			plainOut := fastRawExchange(t, plain.Listener.Addr().String(), in)
			if !strings.HasPrefix(fastOut, "HTTP/1.1 200 OK\r\n") {
				t.Fatalf("first response %q; want 200", fastOut)
			}
			if got, want := fastSeen(), plainSeen(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("upstream saw %q; want %q (as behind net/http)", got, want)
			}
			if got, want := strings.Count(fastOut, "HTTP/1.1 "), strings.Count(plainOut, "HTTP/1.1 "); got != want {
				t.Errorf("client got %d responses; want %d (as from net/http)", got, want)
			}
		})
	}
}

func TestFastUpstreamErrors(t *testing.T) {
	refused := refusedPort(t)
	slow := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		http.ReadRequest(br)
		time.Sleep(time.Second)
	})
	tests := []struct {
		name, path string
		settings   map[string]string
		status     int
		body       string
	}{
		{"refused API", "/api/x", map[string]string{"api_upstream": refused}, 502, `{"error":"api refused the connection","request_id":"rid-1"}` + "\n"},
		{"refused Streamlit", "/x", map[string]string{"streamlit_upstream": refused}, 502, "Bad Gateway: fluxlit: streamlit refused the connection (request id rid-1)\n"},
		{"slow API", "/api/x", map[string]string{"api_upstream": slow, "gateway_upstream_read_timeout_s": "0.2"}, 504, `{"error":"api did not answer within gateway_upstream_read_timeout_s","request_id":"rid-1"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, addr := fastGateway(t, tt.settings)
			req, _ := http.NewRequest("GET", "http://"+addr+tt.path, nil)
			req.Header.Set("X-Request-Id", "rid-1")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if got := fastBodyOf(res); res.StatusCode != tt.status || got != tt.body {
				t.Errorf("got %d %q; want %d %q", res.StatusCode, got, tt.status, tt.body)
			}
			if got := res.Header.Get("X-Request-Id"); got != "rid-1" {
				t.Errorf("X-Request-Id: got %q; want rid-1", got)
			}
		})
	}
}

func TestFastServerSentEvents(t *testing.T) {
	next := make(chan struct{})
	up, _ := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	res, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := 0; i < 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: got %q %v; want it before the next is sent", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// TestFastLargeDownloadMemory streams 1 GiB through the fast path and checks that the
// process's resident memory does not grow with it (no buffering). -short skips it.
func TestFastLargeDownloadMemory(t *testing.T) {
	skipInShortMode(t, "1 GiB transfer")
	const size = 1 << 30
	chunk := make([]byte, 1<<20)
	up, _ := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for i := 0; i < size/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	_, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL})
	before := fastVmRSS(t)
	res, err := http.Get("http://" + addr + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	n, err := io.CopyBuffer(io.Discard, res.Body, make([]byte, 64<<10))
	if err != nil || n != size {
		t.Fatalf("got %d bytes, %v; want %d", n, err, size)
	}
	if grew := fastVmRSS(t) - before; grew > 64<<20 {
		t.Errorf("RSS grew %d MiB over a 1 GiB download; want under 64 MiB", grew>>20)
	}
}

func fastVmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		skipTest(t, "no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	skipTest(t, "no VmRSS")
	return 0
}

// TestFastPathBytesMatchEscaping checks fastPathByte against what the handler path sends:
// url.URL.EscapedPath leaves exactly these bytes unescaped.
func TestFastPathBytesMatchEscaping(t *testing.T) {
	for c := 0; c < 256; c++ {
		p := "/a" + string([]byte{byte(c)})
		u := url.URL{Path: p}
		unchanged := u.EscapedPath() == p && c != '%' && c != '?'
		if got := fastPathByte(byte(c)); got != unchanged {
			t.Errorf("byte %q: got %v; want %v", byte(c), got, unchanged)
		}
	}
}

func TestFastParseRequest(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
	}{
		{"plain GET", "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"POST with length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", true},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", false},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\n\r\n", false},
		{"absolute form", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"OPTIONS", "OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"percent path", "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"semicolon query", "GET /a?b;c HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"bad escape query", "GET /a?b=%zz HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"Expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", false},
		{"WebSocket handshake", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n", true},
		{"h2c upgrade", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", false},
		{"Upgrade without Connection", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", false},
		{"Connection upgrade without Upgrade", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", false},
		{"WebSocket POST", "POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
		{"WebSocket with a body", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n", false},
		{"two Upgrade headers", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n\r\n", false},
		{"Connection names a header", "GET / HTTP/1.1\r\nHost: x\r\nConnection: X-Secret\r\n\r\n", false},
		{"Connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", true},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", false},
		{"double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", false},
		{"control in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", false},
	}
	for _, tt := range tests {
		var req fastRequest
		end, bad := fastHeadEnd([]byte(tt.in))
		got := !bad && end == len(tt.in) && fastParseRequest([]byte(tt.in), &req)
		if got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkFastPathSmallGET is BenchmarkProxySmallGET through the fast path.
func BenchmarkFastPathSmallGET(b *testing.B) {
	body := strings.Repeat("x", 100)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer up.Close()
	_, _, addr := fastGateway(b, map[string]string{"streamlit_upstream": up.URL})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get("http://" + addr + "/bytes")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func TestFastAccessRecord(t *testing.T) {
	up, _ := fastCountedUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		io.WriteString(w, "made")
	}))
	g, _, addr := fastGateway(t, map[string]string{"streamlit_upstream": up.URL, "api_upstream": up.URL, "debug": "true"})
	for _, p := range []string{"/page?q=1", "/api/items"} {
		req, _ := http.NewRequest("POST", "http://"+addr+p, strings.NewReader("body"))
		req.Header.Set("X-Request-Id", "rec-"+strings.Trim(p[:4], "/?"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// The record is written after the response has gone out: wait for it.
	got := g.obs.debug.snapshot()
	for deadline := time.Now().Add(2 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		got = g.obs.debug.snapshot()
	}
	want := map[string]string{"rec-pag": "streamlit /page 201", "rec-api": "api /api/items 201"}
	if len(got) != 2 {
		t.Fatalf("debug ring has %d entries; want 2", len(got))
	}
	for _, e := range got {
		if line := e.Dispatch + " " + e.Path + " " + strconv.Itoa(e.Status); line != want[e.RequestID] || e.Method != "POST" {
			t.Errorf("record %s: got %q %s; want %q POST", e.RequestID, line, e.Method, want[e.RequestID])
		}
	}
}

func TestFastChunkSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0\r\n", 0, true},
		{"1a\r\n", 26, true},
		{"FF;name=v\r\n", 255, true},
		{"\r\n", 0, false},
		{"g\r\n", 0, false},
		{"-1\r\n", 0, false},
		{"1234567890abcdef\r\n", 0, false},
		{"5 x\x01\r\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := chunkSize([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: got %v %v; want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestFastEarlyAnswer: an upstream that answers before reading a large body (an auth
// failure on an upload) gets its answer to the client, not a 502 or a stall. The body is
// streamed for that to happen: with request buffering on, fluxlit reads it whole first.
func TestFastEarlyAnswer(t *testing.T) {
	upURL := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope")
		time.Sleep(500 * time.Millisecond) // keep the connection open without reading
	})
	_, _, addr := fastGateway(t, map[string]string{"api_upstream": upURL, "gateway_request_buffering": "false"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /api/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10485760\r\n\r\n")
	c.Write(make([]byte, 64<<10)) // part of the body; the rest never comes
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fastBodyOf(res); res.StatusCode != 401 || got != "nope" {
		t.Errorf("got %d %q; want 401 nope", res.StatusCode, got)
	}
}

// TestFastUpConnAlive: the probe before reusing a connection idle for a while tells a live
// one from one the upstream closed (uvicorn closes idle keep-alive connections after 5 s) or
// that has unsolicited bytes. A POST sent on a closed one could not be retried.
func TestFastUpConnAlive(t *testing.T) {
	for _, tc := range []struct {
		name, network string
		peer          func(net.Conn)
		alive         bool
	}{
		{"open and quiet", "tcp", func(net.Conn) {}, true},
		{"closed by the upstream", "tcp", func(c net.Conn) { c.Close() }, false},
		{"reset by the upstream", "tcp", func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }, false},
		{"unsolicited bytes", "tcp", func(c net.Conn) { c.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")) }, false},
		{"Unix socket, open and quiet", "unix", func(net.Conn) {}, true},
		{"Unix socket, closed by the upstream", "unix", func(c net.Conn) { c.Close() }, false},
		{"Unix socket, unsolicited bytes", "unix", func(c net.Conn) { c.Write([]byte("x")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := connPair(t, tc.network)
			pc := &upConn{br: bufio.NewReader(nil), bw: bufio.NewWriter(nil)}
			pc.attach(c)
			tc.peer(peer)
			time.Sleep(50 * time.Millisecond)
			if got := pc.alive(); got != tc.alive {
				t.Errorf("alive() = %v; want %v", got, tc.alive)
			}
		})
	}
}

// FuzzUpstreamAnswerPool is the pool invariant, end to end on both engines: whatever an
// upstream answers one client, (1) the next client's request, on a reused upstream connection
// or a fresh one, gets its own answer and nothing else, and (2) an upstream connection is sent
// another request only when the answer on it ended exactly where its framing said, with nothing
// after it (read by net/http's own ReadResponse, not by the rule under test): the upstream sees
// which connection a request comes on, so it checks (2) itself.
func FuzzUpstreamAnswerPool(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET",
		"HTTP/1.1 204 No Content\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nEXTRA",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	var answer atomic.Pointer[[]byte]
	var reusedAfter atomic.Pointer[string] // (2) broken: what the connection had answered
	up := fastRawUpstream(f, func(c net.Conn, br *bufio.Reader) {
		c.SetDeadline(time.Time{})
		var last []byte // the answer just sent on this connection, for a request of lastMethod
		lastMethod := ""
		// A new connection's first request comes when the gateway gets to it (a busy
		// machine can take longer than 30 ms, and a new connection that fails is not tried
		// again); after an answer, the wait ends what a cut answer leaves hanging, and a
		// reused connection's next request comes within it (one that comes later finds it
		// closed, and is sent again on a new connection).
		wait := 5 * time.Second
		for {
			c.SetReadDeadline(time.Now().Add(wait))
			wait = 30 * time.Millisecond
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if last != nil && !answerEndsExactly(last, lastMethod) {
				msg := fmt.Sprintf("%s %s came on the connection that answered %s with %q", req.Method, req.URL.Path, lastMethod, last)
				reusedAfter.Store(&msg)
			}
			io.Copy(io.Discard, req.Body)
			if req.URL.Path == "/first" {
				last, lastMethod = *answer.Load(), req.Method
				c.Write(last)
				continue
			}
			last = nil
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nown")
		}
	})
	settings := map[string]string{"streamlit_upstream": up}
	_, _, fastAddr := fastGateway(f, settings)
	g, err := newGateway(testConfig(f, settings), slog.New(slog.DiscardHandler), "127.0.0.1:0", nil)
	if err != nil {
		f.Fatal(err)
	}
	plain := httptest.NewServer(g)
	f.Cleanup(plain.Close)
	engines := map[string]string{"fast": fastAddr, "net/http": plain.Listener.Addr().String()}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		// A copy: the fuzzer reuses data's array for the next input once this call returns,
		// and the upstream keeps each answer (last) to judge the connection's next request.
		data = bytes.Clone(data)
		answer.Store(&data)
		for engine, addr := range engines {
			reusedAfter.Store(nil)
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
			res, body := clientGet(t, addr, "GET", "/second")
			if res.StatusCode != 200 || body != "own" {
				t.Fatalf("%s engine: after %s answered with %q, the next client got %d %q; want 200 own", engine, method, data, res.StatusCode, body)
			}
			if msg := reusedAfter.Load(); msg != nil {
				t.Fatalf("%s engine: an upstream connection was used again past an inexact end: %s", engine, *msg)
			}
		}
	})
}

// answerEndsExactly reports whether data is one answer to method (after any 1xx) that ends at
// its last byte and leaves the connection open, as net/http's ReadResponse reads it: the only
// answers after which an upstream connection may carry another request.
func answerEndsExactly(data []byte, method string) bool {
	in := bytes.NewReader(data)
	br := bufio.NewReader(in)
	for {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil || res.StatusCode == http.StatusSwitchingProtocols {
			return false
		}
		if res.StatusCode < 200 {
			continue
		}
		_, err = io.Copy(io.Discard, res.Body)
		return err == nil && !res.Close && br.Buffered() == 0 && in.Len() == 0
	}
}

// FuzzUpstreamAnswer: whatever an upstream sends, both engines read the same answer out of it:
// the fast engine's reader and relay (readFinal, then the body by its framing) and the
// net/http engine's guard (guardConn, the bytes cut into reads anywhere) take the same heads,
// refuse the same, and end the answer at the same byte, which is where the next answer on the
// connection would start. A head they take, net/http's own ReadResponse reads with the same
// status and framing: the rule is never looser than Go's.
func FuzzUpstreamAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nNEXT",
		"HTTP/1.0 204 No Content\n\nhello",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 299 Weird\rX: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nuntil the end",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		f.Add([]byte(s), false, uint8(7), uint8(30))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), true, uint8(3), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, head bool, cut1, cut2 uint8) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		var res upResponse
		fastEnd, fastErr := fastAnswerEnd(data, method, &res)
		guardEnd, guardErr := guardAnswerEnd(data, method, []int{int(cut1), int(cut2)})
		if (fastErr == nil) != (guardErr == nil) || fastErr == nil && fastEnd != guardEnd {
			t.Fatalf("%s answered %q: the fast engine reads to %d (%v), the guard to %d (%v)", method, data, fastEnd, fastErr, guardEnd, guardErr)
		}
		if fastErr != nil {
			return
		}
		br := bufio.NewReader(strings.NewReader(string(data)))
		goRes, err := http.ReadResponse(br, &http.Request{Method: method})
		for err == nil && goRes.StatusCode < 200 {
			goRes, err = http.ReadResponse(br, &http.Request{Method: method})
		}
		if err != nil {
			t.Fatalf("the rule takes a head net/http refuses (%v): %q", err, data)
		}
		chunked := len(goRes.TransferEncoding) == 1 && goRes.TransferEncoding[0] == "chunked"
		switch {
		case goRes.StatusCode != res.status:
			t.Fatalf("status %d; net/http reads %d, for %q", res.status, goRes.StatusCode, data)
		case !bodyAllowed(method, res.status):
		case chunked != res.chunked:
			t.Fatalf("chunked %v; net/http reads %v, for %q", res.chunked, goRes.TransferEncoding, data)
		case !res.chunked && goRes.ContentLength != res.contentLength:
			t.Fatalf("length %d; net/http reads %d, for %q", res.contentLength, goRes.ContentLength, data)
		}
	})
}

// fastAnswerEnd reads data as the fast engine reads an answer to method: the head, then the
// body by its framing. It returns where the answer ends.
func fastAnswerEnd(data []byte, method string, res *upResponse) (int, error) {
	in := bytes.NewReader(data)
	br := bufio.NewReaderSize(in, upReadBufferSize)
	pc := &upConn{c: &splitConn{}, br: br}
	if err := res.readFinal(pc, time.Minute, false); err != nil {
		return 0, err
	}
	var err error
	dbw := bufio.NewWriter(io.Discard)
	switch {
	case !bodyAllowed(method, res.status):
	case res.chunked:
		_, err = fastRelayChunked(dbw, br)
	case res.contentLength >= 0:
		_, err = copyBuffered(dbw, br, res.contentLength)
	default:
		return len(data), nil // ends with the connection
	}
	return len(data) - in.Len() - br.Buffered(), err
}

// guardAnswerEnd passes data through a guardConn as the Transport reads an answer to method,
// in reads cut at cuts. It returns where the answer ends.
func guardAnswerEnd(data []byte, method string, cuts []int) (int, error) {
	g := &guardConn{Conn: &splitConn{in: data, cuts: cuts}}
	g.arm(method)
	buf := make([]byte, 1024)
	total := 0
	for {
		n, err := g.Read(buf)
		total += n
		switch {
		case g.state == guardIdle && (err == nil || err == io.EOF):
			return total, nil
		case err == io.EOF && g.state == guardUntilClose:
			return total, nil
		case err == io.EOF:
			return total, io.ErrUnexpectedEOF
		case err != nil:
			return total, err
		}
	}
}
