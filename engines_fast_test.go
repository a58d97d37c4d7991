//go:build !nofastpath

package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"
)

func startFastTestServer(t testing.TB, g *gateway, srv *httptest.Server) *fastServer {
	ln := srv.Listener
	f := newFastServer(g, srv.Config)
	f.handoff.addr = ln.Addr()
	srv.Listener = f.handoff
	srv.Start()
	go f.serveFast(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		f.Shutdown(ctx)
	})
	return f
}

// fastGateway starts a gateway with the fast path on, whatever -fastpath says.
func fastGateway(t testing.TB, settings map[string]string) (*gateway, *fastServer, string) {
	t.Helper()
	g, err := newGateway(testConfig(t, settings), slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	srv := httptest.NewUnstartedServer(g)
	f := startFastTestServer(t, g, srv)
	t.Cleanup(srv.Close)
	g.listen = f.handoff.addr.String()
	return g, f, g.listen
}
