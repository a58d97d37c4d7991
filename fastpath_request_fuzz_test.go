//go:build !nofastpath

// fastpath_request_fuzz_test.go holds the differential fuzzer of the fast path's request
// parser: for the same bytes, it must read what net/http's server reads, or refuse and hand
// the connection to net/http. A request the two read differently is how requests are
// smuggled past a proxy.

package main

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
)

// FuzzFastParseRequest gives the same bytes to fastParseRequest and to a net/http server.
// When the fast parser takes a request, net/http must take it too, with the same method,
// target, Host, header fields and body framing; when it refuses (hands off), anything goes.
func FuzzFastParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: x:8000\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nTe: trailers\r\n\r\n",
		"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /_stcore/stream HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\nConnection: close\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"DELETE /x;y=1/@:$ HTTP/1.1\r\nhost: [::1]:80\r\nPragma: no-cache\r\nX-B:\t v \t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x80\xff\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end, bad := fastHeadEnd(data)
		if bad || end < 0 {
			return // the fast path waits for more bytes or hands off
		}
		var req fastRequest
		if !fastParseRequest(data[:end], &req) {
			return // handed off: net/http reads it its own way
		}
		got, accepted := netHTTPReads(t, data[:end])
		if !accepted {
			t.Fatalf("the fast path takes %q; net/http refuses it", data[:end])
		}
		want := fastReadAsNetHTTP(&req)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nnet/http reads %+v\nthe fast path %+v", data[:end], got, want)
		}
	})
}

// requestReading is what a server reads from a request head: what it forwards and how it
// frames the body.
type requestReading struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header // without Host
	ContentLength                int64       // 0 when there is no body
	TransferEncoding             []string
	Close                        bool
}

// fastReadAsNetHTTP is req as net/http would present it: canonical header names, no body
// read as length 0, and Cache-Control: no-cache added beside a lone Pragma: no-cache (net/http
// does that for HTTP/1.0 caches; it changes nothing the request means).
func fastReadAsNetHTTP(req *fastRequest) requestReading {
	r := requestReading{Method: req.method, Path: req.path, RawQuery: req.query, Host: req.host,
		Header: http.Header{}, ContentLength: max(req.contentLength, 0), Close: req.close}
	for _, fl := range req.fields {
		if asciiEqualFold(fl.name, "Host") {
			continue
		}
		r.Header.Add(string(fl.name), string(fl.value))
	}
	if p, ok := r.Header["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" && r.Header["Cache-Control"] == nil {
		r.Header["Cache-Control"] = []string{"no-cache"}
	}
	return r
}

// netHTTPReads serves head on one connection of a net/http server and returns what its
// handler received, or accepted false when the server answered before any handler ran.
func netHTTPReads(t *testing.T, head []byte) (got requestReading, accepted bool) {
	client, server := net.Pipe()
	defer client.Close()
	handled := make(chan requestReading, 1)
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath != "" || r.URL.Host != "" || r.URL.Scheme != "" {
			t.Errorf("net/http read the target %q as %#v", r.RequestURI, r.URL)
		}
		handled <- requestReading{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding, Close: r.Close}
	})}
	defer srv.Close()
	go srv.Serve(newOneConnListener(server))
	go client.Write(head)
	answered := make(chan struct{})
	go func() {
		http.ReadResponse(bufio.NewReader(client), nil) // the handler's answer, or a refusal
		close(answered)
	}()
	select {
	case got = <-handled:
		return got, true
	case <-answered:
		select { // a handler that ran sent its reading before the answer was written
		case got = <-handled:
			return got, true
		default:
			return got, false
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("net/http neither handled nor refused %q", head)
	}
	return got, false
}

// oneConnListener hands out one connection, then waits until it is closed.
type oneConnListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	l.conns <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
