//go:build !nofastpath

// fastpath_ws.go: the fast engine's side of a WebSocket handshake whose plan holds only the
// tunnel. Served here instead of being handed to net/http: its request goroutine, background
// read, header maps and hijack were half of what a WebSocket connect cost fluxlit beyond the
// sockets themselves (issue #7, BENCHMARKS.md). The handshake, the 101 and the tunnel are
// websocket.go's, the same as the net/http engine's.

package main

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// serveUpgrade runs the one handshake (wsHandshake) and on the upstream's 101 gives both
// connections to a tunnel (tunnelled: the connection is no longer the fast engine's). Any
// other answer (403 from Streamlit's Origin check, 404) is relayed as the HTTP response it is.
// keep reports whether the client connection can carry another request.
func (f *fastServer) serveUpgrade(fc *fastConn, p *hopPlan) (keep, tunnelled bool) {
	g, req := f.g, &fc.req
	hr := &http.Request{Method: req.method, Host: req.host, RemoteAddr: fc.remote, URL: &url.URL{Path: req.path},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if g.trust != nil {
		hr.Header = req.forwardingHeader()
	}
	rec := &accessRecord{}
	rec.reset(hr, g.reqIDs.fromRequest(req.requestID), p.dispatch, req.method, req.path, req.query, time.Now())
	rec.websocket = true
	rec.rep = p.rep
	fi := g.forwardedInfo(hr)
	head := fc.upstreamHead(p, rec.id, &fi)
	rec.upstreamStart = time.Now()
	pc, err := g.wsHandshake(context.Background(), &head, &fc.res)
	if err != nil {
		return f.upstreamFailed(fc, p.up, rec, err, false), false
	}
	defer releaseHandshakeBuffers(pc)
	rec.upstreamDur = time.Since(rec.upstreamStart)
	if fc.res.status != http.StatusSwitchingProtocols {
		return f.relayResponse(fc, pc, nil, &fi, rec, nil), false
	}
	return false, g.openTunnel(fc.c, fc.bw, buffered(fc.br), pc, &fc.res, rec, p.up, fi.Proto == "https")
}
