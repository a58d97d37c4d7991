//go:build nofastpath

// fastpath_off.go: the build without the fast engine (go build -tags nofastpath), the plain
// net/http build of the design card: net/http's server, httputil.ReverseProxy and the
// hijacked WebSocket tunnel serve every connection, whatever gateway_fast_path says. This
// stub only lets run.go compile; nothing here runs.

package main

import (
	"context"
	"errors"
	"net"
	"net/http"
)

const fastEngineBuilt = false

type fastServer struct{}

func newFastServer(*gateway, *http.Server) *fastServer { return nil }
func (*fastServer) Serve(net.Listener) error           { return errors.ErrUnsupported }
func (*fastServer) Shutdown(ctx context.Context) error { return nil }
func (*fastServer) connEvents() uint64                 { return 0 }

// fastPool: an upstream has no fast engine's pool in this build.
type fastPool struct{}

func newFastPool(*upstream, *Config) *fastPool { return nil }
func (*fastPool) closeIdle()                   {}
