//go:build nofastpath

package main

import (
	"net/http/httptest"
	"testing"
)

// The fast engine is not built (-tags nofastpath): tests that need it are not built either,
// and these are never called (testEngines lists net/http alone).

func startFastTestServer(t testing.TB, g *gateway, srv *httptest.Server) *fastServer {
	t.Fatal("the fast engine is not built (-tags nofastpath)")
	return nil
}

func fastGateway(t testing.TB, settings map[string]string) (*gateway, *fastServer, string) {
	t.Fatal("the fast engine is not built (-tags nofastpath)")
	return nil, nil, ""
}
