// promises_test.go holds the tests of README promises that had none (issue #22): each test
// names the promise it keeps, and fails when the behaviour behind it breaks. Where a promise
// differs between the two engines, both are run: net/http (the definition) and the fast path.

package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// promiseEngines serves g through each engine in turn.
var promiseEngines = []struct {
	name  string
	start func(t *testing.T, g *gateway) *httptest.Server
}{
	{"net/http", func(t *testing.T, g *gateway) *httptest.Server {
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		return srv
	}},
	{"fast path", func(t *testing.T, g *gateway) *httptest.Server {
		srv := httptest.NewUnstartedServer(g)
		startFastTestServer(t, g, srv)
		t.Cleanup(srv.Close)
		return srv
	}},
}

// promiseGateway is a gateway for settings whose JSON log (access lines on) goes to the
// returned buffer.
func promiseGateway(t *testing.T, settings map[string]string) (*gateway, *obsLogBuffer) {
	t.Helper()
	s := map[string]string{"enable_gateway_access_log": "true"}
	for k, v := range settings {
		s[k] = v
	}
	logs := &obsLogBuffer{}
	g, err := newGateway(testConfig(t, s), slog.New(slog.NewJSONHandler(logs, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	return g, logs
}

// promiseWaitAccess waits for the access line of request id and returns it.
func promiseWaitAccess(t *testing.T, logs *obsLogBuffer, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range obsJSONLines(t, logs.String()) {
			if r["msg"] == "access" && r["request_id"] == id {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for %s within 10 s:\n%s", id, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientGoneIs499: "A client that goes away is logged as 499, not as an upstream error"
// (README, Routing). The client sends a request and closes its connection while the API is
// still working on it; the API then answers, or never does (the read timeout fires).
func TestClientGoneIs499(t *testing.T) {
	for _, engine := range promiseEngines {
		for _, answers := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/API answers %v", engine.name, answers), func(t *testing.T) {
				arrived, canceled, release := make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					arrived <- struct{}{}
					select {
					case <-r.Context().Done():
						canceled <- struct{}{}
					case <-release:
						io.WriteString(w, "too late")
					}
				}))
				t.Cleanup(api.Close)
				t.Cleanup(func() { close(release) })
				g, logs := promiseGateway(t, map[string]string{"api_upstream": api.URL, "gateway_upstream_read_timeout_s": "1"})
				srv := engine.start(t, g)
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, "GET /api/slow HTTP/1.1\r\nHost: app\r\nX-Request-Id: gone-1\r\n\r\n")
				select {
				case <-arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the request never reached the API")
				}
				c.Close()
				// A gateway that notices the client leaving cancels the API request; one
				// that does not gets the API's answer (or its timeout) for nobody. Either
				// way the access line must say 499.
				if answers {
					select {
					case <-canceled:
					case <-time.After(100 * time.Millisecond):
						release <- struct{}{}
					}
				}
				rec := promiseWaitAccess(t, logs, "gone-1")
				if rec["status"] != float64(499) || rec["dispatch"] != "api" {
					t.Errorf("access line %v; want status 499, dispatch api", rec)
				}
				if strings.Contains(logs.String(), `"level":"WARN"`) {
					t.Errorf("the client leaving was logged as an upstream failure:\n%s", logs.String())
				}
			})
		}
	}
}
