// fastpath_ws.go: the fast path's WebSocket handshake. A plain upgrade (no edge feature to
// apply, as for any fast request) is relayed here instead of being handed to net/http: its
// request goroutine, background read, header maps and hijack were half of what a WebSocket
// connect cost fluxlit beyond the sockets themselves (issue #7, BENCHMARKS.md). The tunnel
// itself is websocket.go's, the same as the handler path's.

package main

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// serveUpgrade dials the upstream, sends the client's handshake with fluxlit's header
// rewriting, and on the upstream's 101 answers the client and gives both connections to a
// tunnel (tunnelled: the connection is no longer the fast path's). Any other answer (403 from
// Streamlit's Origin check, 404) is relayed as the HTTP response it is. keep reports whether
// the client connection can carry another request.
func (f *fastServer) serveUpgrade(fc *fastConn, up *upstream, rt route) (keep, tunnelled bool) {
	g, req := f.g, &fc.req
	hr := &http.Request{Method: req.method, Host: req.host, RemoteAddr: fc.remote, URL: &url.URL{Path: req.path},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if g.trust != nil {
		hr.Header = req.forwardingHeader()
	}
	rec := &accessRecord{r: hr, id: g.reqIDs.fromRequest(req.requestID), dispatch: rt.dispatch, method: req.method,
		path: req.path, query: req.query, start: time.Now(), websocket: true}
	fi := g.forwardedInfo(hr)
	rec.upstreamStart = time.Now()
	pc, err := f.upstreamHandshake(fc, up, rt, rec.id, fi)
	if err != nil {
		return f.upstreamFailed(fc, up, rec, err), false
	}
	defer releaseHandshakeBuffers(pc)
	rec.upstreamDur = time.Since(rec.upstreamStart)
	if fc.res.status != http.StatusSwitchingProtocols {
		return f.relayResponse(fc, pc, nil, up, fi, rec, nil), false
	}
	return false, f.openTunnel(fc, pc, rec)
}

// upstreamHandshake dials a connection of its own to up (an upgraded connection is never
// pooled), writes the handshake and reads the answer's head into fc.res.
func (f *fastServer) upstreamHandshake(fc *fastConn, up *upstream, rt route, id string, fi forwardedInfo) (*fastUpConn, error) {
	conn, err := f.g.dialUpstream(context.Background(), up)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(deadlineAfter(f.g.cfg.wsOpenTimeout()))
	pc := &fastUpConn{br: fastHandshakeReaders.Get().(*bufio.Reader), bw: fastHandshakeWriters.Get().(*bufio.Writer)}
	pc.attach(conn)
	err = f.writeRequest(pc, &fc.req, up, rt, id, fi)
	if err == nil {
		err = pc.flushForAnswer()
	}
	if err == nil {
		_, err = fc.res.read(pc, f.g.cfg.wsOpenTimeout(), true)
	}
	if err != nil {
		conn.Close()
		releaseHandshakeBuffers(pc)
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return pc, nil
}

// openTunnel answers the client with the upstream's 101 and starts the tunnel, which from
// then on owns both connections. It reports false when the client could not be answered or
// fluxlit is shutting down (the client then gets a close 1001); the caller closes the client.
func (f *fastServer) openTunnel(fc *fastConn, pc *fastUpConn, rec *accessRecord) bool {
	g := f.g
	rec.status = http.StatusSwitchingProtocols
	fc.c.SetDeadline(time.Time{})
	writeFastSwitchingProtocols(fc.bw, &fc.res, rec.id)
	if err := fc.bw.Flush(); err != nil {
		pc.c.Close()
		g.obs.end(rec)
		return false
	}
	t := newTunnel(fc.c, buffered(fc.br), pc.c, buffered(pc.br), g.cfg.WSMaxMessageSize)
	if !g.tunnels.add(t) {
		writeCloseFrame(fc.c, wsCloseGoingAway, "server shutting down", false)
		pc.c.Close()
		g.obs.end(rec)
		return false
	}
	g.obs.wsOpened(rec)
	opened := time.Now() // the close line's duration is the tunnel's, as on the handler path
	t.start(func() {
		g.tunnels.remove(t)
		g.obs.wsClosed(rec, t, time.Since(opened))
	})
	return true
}

// The handshake's buffers are pooled: a connect rate of thousands per second would otherwise
// make 20 KiB of garbage each, and the collections it causes showed in the connect latency.
var (
	fastHandshakeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastUpReadBufferSize) }}
	fastHandshakeWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, fastUpWriteBufferSize) }}
)

// releaseHandshakeBuffers returns pc's buffers once the handshake is over (the tunnel took a
// copy of the bytes the upstream sent past its 101).
func releaseHandshakeBuffers(pc *fastUpConn) {
	pc.br.Reset(nil)
	pc.bw.Reset(nil)
	fastHandshakeReaders.Put(pc.br)
	fastHandshakeWriters.Put(pc.bw)
}

// writeFastSwitchingProtocols relays the upstream's 101 (its Sec-WebSocket-Accept answers the
// browser's key, which was forwarded untouched) with fluxlit's request id, as the handler
// path's writeSwitchingProtocols does.
func writeFastSwitchingProtocols(bw *bufio.Writer, res *fastResponse, id string) {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for _, fl := range res.fields {
		if fastEqualFold(fl.name, "X-Request-Id") {
			continue
		}
		bw.Write(fl.name)
		bw.WriteString(": ")
		bw.Write(fl.value)
		bw.WriteString("\r\n")
	}
	fastWriteHeader(bw, "X-Request-Id", id)
	bw.WriteString("\r\n")
}
