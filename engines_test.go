// engines_test.go: how tests serve a gateway on each engine built into the binary (the fast
// engine is left out with -tags nofastpath), and the raw upstreams and clients that tests of
// either engine use.

package main

import (
	"bufio"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testFastPath makes startGateway serve through the fast engine (the product default) when it
// is built; run the suite with -fastpath=false to test the net/http engine alone.
var testFastPath = flag.Bool("fastpath", fastEngineBuilt, "serve test gateways through fastServer (fastpath.go)")

// startTestServer serves g on a loopback httptest.Server: through fastServer in front of the
// test server's http.Server when -fastpath is on, else the plain server.
func startTestServer(t testing.TB, g *gateway) *httptest.Server {
	srv := httptest.NewUnstartedServer(g)
	if !*testFastPath || !fastEngineBuilt {
		srv.Start()
		return srv
	}
	startFastTestServer(t, g, srv)
	return srv
}

// testEngine serves a gateway on one engine.
type testEngine struct {
	name  string
	start func(t *testing.T, g *gateway) *httptest.Server
}

// testEngines are the engines built in: net/http, and the fast engine in front of it.
func testEngines() []testEngine {
	engines := []testEngine{{"net/http", func(t *testing.T, g *gateway) *httptest.Server {
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		return srv
	}}}
	if fastEngineBuilt {
		engines = append(engines, testEngine{"fast path", func(t *testing.T, g *gateway) *httptest.Server {
			srv := httptest.NewUnstartedServer(g)
			startFastTestServer(t, g, srv)
			t.Cleanup(srv.Close)
			return srv
		}})
	}
	return engines
}

// fastCountingListener counts the connections an upstream accepted.
type fastCountingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *fastCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// fastCountedUpstream is an httptest server running h that counts accepted connections.
func fastCountedUpstream(t testing.TB, h http.Handler) (*httptest.Server, *fastCountingListener) {
	srv := httptest.NewUnstartedServer(h)
	cl := &fastCountingListener{Listener: srv.Listener}
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

// fastRawUpstream runs handle on every connection to a loopback listener: for responses no
// net/http server would send (close-delimited, odd chunking).
func fastRawUpstream(t testing.TB, handle func(c net.Conn, br *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// fastRawExchange sends raw bytes to addr and returns everything read until the server closes
// or 2 s pass.
func fastRawExchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// fastReadResponses reads n responses from br.
func fastReadResponses(t testing.TB, br *bufio.Reader, method string, n int) []*http.Response {
	t.Helper()
	var out []*http.Response
	for i := 0; i < n; i++ {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, res)
	}
	return out
}

func fastBodyOf(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestBuildNamesItsEngines: `fluxlit version` says which engines the binary holds, so that a
// plain net/http build (go build -tags nofastpath) can be told from the default one.
func TestBuildNamesItsEngines(t *testing.T) {
	out, err := exec.Command(fluxlitBinary(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "engines net/http+fast)"
	if !fastEngineBuilt {
		want = "engines net/http)"
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("fluxlit version: %q; want it to say %q", out, want)
	}
}
