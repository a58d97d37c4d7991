//go:build !race && !nofastpath

// proxy_alloc_test.go holds the end-to-end allocation guard of the fast path. The race
// detector changes what escapes and allocates (6 here under -race), so the file is built
// without it only: .ci/run runs it in its second, race-free step (go test -run 'Alloc|Overhead').

package main

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestFastPathAllocationsPerRequest counts what the fast path allocates for one small GET,
// end to end in this process: the client and the upstream are hand-written loops over raw
// connections that allocate nothing per request, so the process's allocations are fluxlit's.
// Access log and metrics on, as in production. Left per request: the path, query and
// request-id strings the parser keeps, and slog's record for the access line's attributes
// past its first five. Before: 8 (also the http.Request and access record, the LimitedReader
// of io.CopyN, the status digits and the Host string).
func TestFastPathAllocationsPerRequest(t *testing.T) {
	if !*testFastPath {
		skipTest(t, "the fast path is off (-fastpath=false)")
	}
	body := strings.Repeat("x", 100)
	response := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + body)
	upstream := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for { // answers each request head, allocating nothing per request
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) == 2 {
				c.Write(response)
			}
		}
	})
	cfg := testConfig(t, map[string]string{"streamlit_upstream": upstream, "enable_gateway_access_log": "true",
		"enable_gateway_prometheus_metrics": "true"})
	_, gw := startGateway(t, cfg)
	c, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	request := []byte("GET /page?q=1 HTTP/1.1\r\nHost: app.example\r\nX-Request-Id: alloc-test-1\r\n\r\n")
	buf := make([]byte, 4096)
	roundTrip := func() {
		if _, err := c.Write(request); err != nil {
			t.Fatal(err)
		}
		for n := 0; ; {
			m, err := c.Read(buf[n:])
			if err != nil {
				t.Fatalf("after %q: %v", buf[:n], err)
			}
			n += m
			if head := bytes.Index(buf[:n], []byte("\r\n\r\n")); head > 0 && n == head+4+len(body) {
				return
			}
		}
	}
	for range 200 {
		roundTrip()
	}
	if allocs := testing.AllocsPerRun(2000, roundTrip); allocs > 4 {
		t.Errorf("%.1f allocations per proxied small GET; want at most 4", allocs)
	}
}
