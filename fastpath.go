// fastpath.go owns the hand-written HTTP/1.1 front end for the common request: a plain
// proxied GET/HEAD/POST/PUT/PATCH/DELETE with no edge feature to apply, relayed over pooled
// upstream connections without net/http's per-request goroutines and maps (issue #7), and a
// plain WebSocket handshake (fastpath_ws.go). Every other connection is handed, bytes and all,
// to the net/http server through handoffListener.

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes of a client connection, pooled. 4 KiB holds the request head of ordinary
// browser and API requests (net/http's own reader is 4 KiB too); a bigger head is handed to
// net/http, whose limit is maxHeaderBytes. The writer holds a response head plus a small body,
// so a small response is one write; larger bodies bypass it. It is taken only when the first
// request is served, so a connection handed off at once never holds one; a WebSocket's are
// returned when its tunnel starts (the idle-tunnel budget is 20 KiB).
const (
	fastReadBufferSize  = 4 << 10
	fastWriteBufferSize = 8 << 10
)

// Buffer sizes of an upstream connection. The reader takes a response head line by line, so
// 16 KiB bounds one header line (a big Set-Cookie fits); the writer takes a request head.
// 256 idle connections × 20 KiB is 5 MiB at most, less than the Transport's 32 KiB each way.
const (
	fastUpReadBufferSize  = 16 << 10
	fastUpWriteBufferSize = 4 << 10
)

// fastMaxResponseHead bounds an upstream response head (status line and headers): the same
// 64 KiB fluxlit accepts from clients. A bigger head is answered 502.
const fastMaxResponseHead = 64 << 10

// fastProbeAfterIdle: a pooled upstream connection idle longer than this is probed with a
// non-blocking read before reuse, because uvicorn closes idle keep-alive connections after
// 5 s, and a POST sent on a connection the upstream already closed cannot be retried. Under
// load connections are reused within milliseconds and never probed.
const fastProbeAfterIdle = time.Second

// fastBodyGrace is how long a request body may still be in flight after the upstream's
// whole answer was relayed. An upstream that read the body has it all by then, so the sender
// ends within moments (its goroutine may wait for a CPU under load, hence not zero); one that
// answered early (401 on an upload) and stopped reading would hold it forever.
const fastBodyGrace = time.Second

// fastMaxConnTokens bounds how many header names an upstream's Connection header may name.
const fastMaxConnTokens = 8

// fastServer accepts the public connections. It is built once; the per-connection state is
// in fastConn, the upstream connections in fastPool.
type fastServer struct {
	g         *gateway
	srv       *http.Server
	handoff   *handoffListener
	pools     map[*upstream]*fastPool
	keepLower map[string]bool // Streamlit hop allow-list, lower-cased (nil: forward everything)

	ln      net.Listener
	closing atomic.Bool
	mu      sync.Mutex // guards conns; taken per connection, never per request
	conns   map[*fastConn]struct{}
	active  sync.WaitGroup
}

// newFastServer builds the front end for g; srv serves every connection handed off.
func newFastServer(g *gateway, srv *http.Server) *fastServer {
	f := &fastServer{g: g, srv: srv, handoff: newHandoffListener(), pools: map[*upstream]*fastPool{}, conns: map[*fastConn]struct{}{}}
	for _, up := range []*upstream{g.api, g.ui} {
		if up != nil && up.target.Scheme == "http" {
			f.pools[up] = newFastPool(up, g.cfg)
		}
	}
	if len(g.forwardNames) > 0 {
		f.keepLower = map[string]bool{}
		for k := range streamlitSessionHeaders {
			f.keepLower[strings.ToLower(k)] = true
		}
		for k := range g.forwardNames {
			f.keepLower[k] = true
		}
	}
	return f
}

// Serve accepts connections on ln until Shutdown. The net/http server serves the handed-off
// connections on its own goroutine; its error is its own (srv.Shutdown ends it).
func (f *fastServer) Serve(ln net.Listener) error {
	f.handoff.addr = ln.Addr()
	go f.srv.Serve(f.handoff)
	return f.serveFast(ln)
}

// serveFast is the accept loop. Temporary accept errors (EMFILE) back off like net/http's.
func (f *fastServer) serveFast(ln net.Listener) error {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || fastTemporaryAccept(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := &fastConn{f: f, c: c, remote: c.RemoteAddr().String(), slot: slotOf(c)}
		if !f.track(fc, true) {
			c.Close()
			continue
		}
		connWorkers.goPooled(fc.serve)
	}
}

func fastTemporaryAccept(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// track adds or removes a connection; adding fails once Shutdown has begun.
func (f *fastServer) track(fc *fastConn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		if f.closing.Load() {
			return false
		}
		f.conns[fc] = struct{}{}
		f.active.Add(1)
		return true
	}
	if _, ok := f.conns[fc]; ok {
		delete(f.conns, fc)
		f.active.Done()
	}
	return true
}

// Shutdown stops accepting, closes idle client connections, lets in-flight fast requests
// finish, and closes the pooled upstream connections. Handed-off connections are net/http's:
// the caller runs srv.Shutdown after this.
func (f *fastServer) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.closing.Store(true) // under mu, so that no track(add) races with active.Wait
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.active.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond) // net/http polls idle conns at a similar pace
	defer tick.Stop()
	for {
		f.closeIdle()
		select {
		case <-done:
			f.closePools()
			return nil
		case <-ctx.Done():
			f.closeAll()
			f.closePools()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (f *fastServer) closeIdle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		if fc.state.CompareAndSwap(fastStateIdle, fastStateClosed) {
			fc.c.Close()
		}
	}
}

func (f *fastServer) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		fc.c.Close()
	}
}

func (f *fastServer) closePools() {
	for _, p := range f.pools {
		p.closeIdle()
	}
}

// Connection states, for Shutdown: only a connection waiting for its next request is closed.
const (
	fastStateIdle int32 = iota
	fastStateActive
	fastStateClosed
)

var (
	fastReaderPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastReadBufferSize) }}
	fastWriterPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, fastWriteBufferSize) }}
)

// fastConn is one client connection served by the fast path.
type fastConn struct {
	f      *fastServer
	c      net.Conn
	remote string
	br     *bufio.Reader
	bw     *bufio.Writer
	state  atomic.Int32
	req    fastRequest
	res    fastResponse
	// The request as the edge features and the access log see it, and its record: one of
	// each per connection, reused by every request on it (nothing holds them past the
	// request; a WebSocket's record, which its tunnel keeps, is its own). Two allocations
	// fewer per request put the collector off by 6x under small-request load (BENCHMARKS.md).
	hr  http.Request
	rec accessRecord
	// slot is the connection's place under max_connections (nil without a cap): marked idle
	// while it waits for a request, so that a new connection at the cap may take it.
	slot *connSlot
}

// serve reads requests until the client closes, a request asks to close, or one needs
// net/http (then the connection is handed off and no longer ours).
func (fc *fastConn) serve() {
	fc.br = fastReaderPool.Get().(*bufio.Reader)
	fc.br.Reset(newSocketReader(fc.c))
	handedOff := false
	defer func() {
		fc.release()
		if !handedOff {
			fc.c.Close()
		}
		fc.f.track(fc, false)
	}()
	for first := true; ; first = false {
		fc.state.Store(fastStateIdle)
		if fc.f.closing.Load() {
			return
		}
		end, ok := fc.readHead(first)
		if !fc.state.CompareAndSwap(fastStateIdle, fastStateActive) {
			return // Shutdown closed it while idle
		}
		if end < 0 {
			return
		}
		if !ok || !fastParseRequest(fc.peekHead(end), &fc.req) {
			handedOff = fc.handOff()
			return
		}
		up, rt, eligible := fc.f.route(&fc.req)
		if !eligible {
			handedOff = fc.handOff()
			return
		}
		fc.br.Discard(end)
		if fc.bw == nil {
			fc.bw = fastWriterPool.Get().(*bufio.Writer)
			fc.bw.Reset(newSocketWriter(fc.c)) // only now: a connection handed off at once writes nothing
		}
		if fc.req.isWebSocket() {
			keep, tunnelled := fc.f.serveUpgrade(fc, up, rt)
			handedOff = tunnelled
			if !keep {
				return
			}
			continue
		}
		if !fc.f.serveRequest(fc, up, rt) || fc.req.close {
			return
		}
	}
}

// readHead waits for a complete request head in the read buffer. end is its length (-1: the
// client closed or timed out; close quietly); ok false means the bytes are not for the fast
// path (bare LF, NUL, a head bigger than the buffer): hand off. A new connection (first) has
// gateway_client_header_timeout_s from its start, as net/http's ReadHeaderTimeout; a kept-
// alive one waits serverIdleTimeout for the next request's first byte, then has that long.
func (fc *fastConn) readHead(first bool) (end int, ok bool) {
	headTimeout := fc.f.g.cfg.clientHeaderTimeout()
	if first {
		fc.c.SetReadDeadline(time.Now().Add(headTimeout))
	} else {
		fc.c.SetReadDeadline(time.Now().Add(serverIdleTimeout))
	}
	if fc.slot != nil {
		fc.slot.markIdle()
	}
	if _, err := fc.br.Peek(1); err != nil {
		return -1, false
	}
	if fc.slot != nil && !fc.slot.markBusy() {
		return -1, false // closed to make room for a new connection
	}
	deadlineSet := first
	for {
		buf, _ := fc.br.Peek(fc.br.Buffered())
		end, bad := fastHeadEnd(buf)
		if bad {
			return 0, false
		}
		if end > 0 {
			return end, true
		}
		if len(buf) >= fastReadBufferSize {
			return 0, false
		}
		if !deadlineSet {
			fc.c.SetReadDeadline(time.Now().Add(headTimeout))
			deadlineSet = true
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			if len(buf) > 0 && !isTimeout(err) && errors.Is(err, io.EOF) {
				return 0, false // a truncated head: net/http answers it as it would
			}
			return -1, false
		}
	}
}

func (fc *fastConn) peekHead(end int) []byte {
	b, _ := fc.br.Peek(end)
	return b
}

func (fc *fastConn) release() {
	if fc.br != nil {
		fc.br.Reset(nil)
		fastReaderPool.Put(fc.br)
		fc.br = nil
	}
	if fc.bw != nil {
		fc.bw.Reset(nil)
		fastWriterPool.Put(fc.bw)
		fc.bw = nil
	}
}

// handOff gives the connection to net/http with the bytes read so far replayed first. It is
// called only at a request boundary, before any of the request was consumed.
func (fc *fastConn) handOff() bool {
	if fc.bw != nil {
		fc.bw.Flush()
	}
	pending := buffered(fc.br)
	fc.c.SetDeadline(time.Time{})
	var c net.Conn = fc.c
	if len(pending) > 0 {
		c = &fastReplayConn{Conn: fc.c, pending: pending}
	}
	fc.f.track(fc, false) // from now on srv.Shutdown owns it
	return fc.f.handoff.give(c)
}

// fastReplayConn returns the bytes the fast path read before handing off, then the rest of
// the connection.
type fastReplayConn struct {
	net.Conn
	pending []byte
}

func (c *fastReplayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net.Listener http.Server.Serve consumes: Accept returns the
// connections the fast path gave up.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give passes c to net/http; after Close it closes c instead and reports false.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

// route decides whether the parsed request may take the fast path: a proxied route whose
// upstream is a running plain-HTTP one, and no edge feature (rate limit, CORS, JWT, 413,
// health routes) that the handler path would apply to this request.
func (f *fastServer) route(req *fastRequest) (*upstream, route, bool) {
	g := f.g
	if g.limiter != nil || (g.maxBody > 0 && req.contentLength > g.maxBody) {
		return nil, route{}, false
	}
	rt := g.splitPath(req.path)
	var up *upstream
	switch rt.dispatch {
	case dispatchAPI:
		if rt.apiPath == "/healthz" || rt.apiPath == "/readyz" ||
			(g.cors != nil && req.hasOrigin) || (g.auth != nil && g.auth.protected(rt.apiPath)) {
			return nil, route{}, false
		}
		up = g.api
	case dispatchStreamlit:
		up = g.ui
	default:
		return nil, route{}, false
	}
	if up == nil || f.pools[up] == nil || (up.down != nil && up.down()) {
		return nil, route{}, false
	}
	return up, rt, true
}

// serveRequest forwards one request and records it like the handler path does. It reports
// whether the client connection can carry another request.
func (f *fastServer) serveRequest(fc *fastConn, up *upstream, rt route) bool {
	g, req := f.g, &fc.req
	start := time.Now()
	id := g.reqIDs.fromRequest(req.requestID)
	// The request as resolveForwarded and the access log see it: the peer, the Host and, when
	// proxy trust is on, the forwarding headers.
	fc.hr = http.Request{Method: req.method, Host: req.host, RemoteAddr: fc.remote, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	hr := &fc.hr
	if g.trust != nil {
		hr.Header = req.forwardingHeader()
	}
	fc.rec = accessRecord{r: hr, id: id, dispatch: rt.dispatch, method: req.method, path: req.path, query: req.query, start: start}
	rec := &fc.rec
	keep := f.exchange(fc, up, rt, hr, rec)
	g.obs.end(rec)
	return keep
}

// exchange sends the request upstream and relays the answer. A reused pooled connection that
// ends before any response byte is retried once on a fresh one, for idempotent requests
// without a body (the upstream closed it while idle; nothing was processed).
func (f *fastServer) exchange(fc *fastConn, up *upstream, rt route, hr *http.Request, rec *accessRecord) bool {
	req, pool := &fc.req, f.pools[up]
	fi := f.g.forwardedInfo(hr)
	if req.contentLength > 0 && int64(fc.br.Buffered()) < req.contentLength {
		fc.c.SetReadDeadline(time.Time{}) // bodies are not time-bounded, as in net/http
	}
	rec.upstreamStart = time.Now()
	for fresh := false; ; fresh = true {
		pc, err := pool.get(fresh)
		if err != nil {
			return f.upstreamFailed(fc, up, rec, err)
		}
		err = f.writeRequest(pc, req, up, rt, rec.id, fi)
		var bodyDone chan error // set while a large body is still being sent
		switch {
		case err != nil:
		case req.contentLength > 0 && req.contentLength <= int64(min(fc.br.Buffered(), pc.bw.Available())):
			err = fastSendBody(fc, pc, rec) // already read, and fits the head's write
		case req.contentLength > 0:
			// Sent alongside reading the answer, as the Transport does: an upstream may
			// answer (401, 413) without reading the whole body, and that answer must reach
			// the client instead of a 502 or a stalled write.
			bodyDone = make(chan error, 1)
			go func() { bodyDone <- fastSendBody(fc, pc, rec) }()
		default:
			err = pc.flushForAnswer()
		}
		gotBytes := false
		if err == nil {
			gotBytes, err = fc.res.read(pc, f.g.cfg.readTimeout(), false)
		}
		if err != nil {
			pc.c.Close()
			fastAbandonBody(fc, bodyDone)
			if pc.reused && !gotBytes && !fresh && req.contentLength <= 0 && fastIdempotent(req.method) {
				continue
			}
			return f.upstreamFailed(fc, up, rec, err)
		}
		rec.upstreamDur = time.Since(rec.upstreamStart) // upstream_ms: until its response head
		return f.relayResponse(fc, pc, pool, up, fi, rec, bodyDone)
	}
}

// fastSendBody copies the request body (Content-Length bytes) from the client to the upstream.
func fastSendBody(fc *fastConn, pc *fastUpConn, rec *accessRecord) error {
	n := fc.req.contentLength
	err := fastCopyBody(pc.c, pc.bw, fc.c, fc.br, n)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err == nil {
		rec.body.n.Store(n) // bytes_in, as accessBody counts it
	}
	return err
}

// fastAbandonBody stops a body still being sent (the upstream connection is closed already) by
// failing its read from the client, and waits for it. The client's stream is then at an
// unknown position, so the caller closes that connection too.
func fastAbandonBody(fc *fastConn, bodyDone chan error) {
	if bodyDone == nil {
		return
	}
	fc.c.SetReadDeadline(time.Unix(1, 0))
	<-bodyDone
}

// fastBodySent waits for a body sent alongside the answer and reports whether it went out whole.
// The answer has been relayed by then: an upstream that reads the whole body before answering
// (the normal case) lets the sender finish within moments. If it is still going after
// fastBodyGrace, the upstream answered without reading it all: the upstream connection is
// closed, the body abandoned, and false tells the caller to close the client connection too.
func fastBodySent(fc *fastConn, pc *fastUpConn, bodyDone chan error) bool {
	if bodyDone == nil {
		return true
	}
	select {
	case err := <-bodyDone:
		return err == nil
	default:
	}
	t := time.NewTimer(fastBodyGrace)
	defer t.Stop()
	select {
	case err := <-bodyDone:
		return err == nil
	case <-t.C:
		pc.c.Close()
		fastAbandonBody(fc, bodyDone)
		return false
	}
}

func fastIdempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodPut || method == http.MethodDelete
}

// upstreamFailed answers 504 for a timeout and 502 otherwise, as proxyError does. The client
// connection is kept only when the request had no body (a body may be half read).
func (f *fastServer) upstreamFailed(fc *fastConn, up *upstream, rec *accessRecord, err error) bool {
	g := f.g
	status, reason, msg := http.StatusBadGateway, "refused", up.name+" upstream is unreachable"
	logMsg := "upstream unreachable"
	if isTimeout(err) {
		status, reason, msg = http.StatusGatewayTimeout, "timeout", up.name+" did not answer within gateway_upstream_read_timeout_s"
		logMsg = "upstream timeout"
	}
	g.obs.upstreamError(up.name, reason)
	g.log.Warn(logMsg, "request_id", rec.id, "upstream", up.name, "error", err.Error())
	keep := fc.req.contentLength <= 0 && !fc.req.close
	rec.status = status
	rec.upstreamDur = time.Since(rec.upstreamStart)
	g.obs.end(rec) // before the answer leaves, as the handler path records before net/http flushes
	if !fastWriteError(fc.bw, status, msg, up == g.api, rec.id, !keep) {
		return false
	}
	return keep
}

// fastWriteError writes fluxlit's own error answer (the headers and body of writeError)
// straight to the client's buffer and flushes it. It reports whether the write succeeded.
func fastWriteError(bw *bufio.Writer, status int, msg string, asJSON bool, id string, closeConn bool) bool {
	contentType, body := proxyErrorBody(msg, id, asJSON)
	fastWriteStatusLine(bw, status, nil)
	bw.WriteString("Cache-Control: no-store\r\nContent-Type: ")
	bw.WriteString(contentType)
	bw.WriteString("\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: ")
	bw.WriteString(id)
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	if closeConn {
		bw.WriteString("\r\nConnection: close")
	}
	bw.WriteString("\r\n\r\n")
	bw.WriteString(body)
	return bw.Flush() == nil
}

// fastWriteStatusLine writes "HTTP/1.1 <code> <text>"; reason is the upstream's, used only
// for a code net/http has no text for.
func fastWriteStatusLine(bw *bufio.Writer, status int, reason []byte) {
	bw.WriteString("HTTP/1.1 ")
	// Three digits as bytes: a [3]byte handed to Write escapes (one allocation per response).
	bw.WriteByte(byte('0' + status/100%10))
	bw.WriteByte(byte('0' + status/10%10))
	bw.WriteByte(byte('0' + status%10))
	bw.WriteByte(' ')
	if text := http.StatusText(status); text != "" || len(reason) == 0 {
		bw.WriteString(text)
	} else {
		bw.Write(reason)
	}
	bw.WriteString("\r\n")
}

// writeRequest writes the request line and headers with the handler path's rewriting: hop-by-
// hop headers and the ones named in Connection dropped, inbound forwarding headers replaced by
// fluxlit's (setForwarded), X-Request-Id set, X-Fluxlit-* stripped, and on the Streamlit hop
// no credentials and only the allow-listed headers (filterStreamlitHeaders).
func (f *fastServer) writeRequest(pc *fastUpConn, req *fastRequest, up *upstream, rt route, id string, fi forwardedInfo) error {
	g, bw := f.g, pc.bw
	bw.WriteString(req.method)
	bw.WriteByte(' ')
	bw.WriteString(up.target.Path)
	host := up.target.Host
	if up == g.api {
		bw.WriteString(rt.apiPath)
	} else {
		bw.WriteString(rt.uiPath)
		host = req.host // Streamlit compares Origin with Host: keep the browser's
	}
	if req.query != "" {
		bw.WriteByte('?')
		bw.WriteString(req.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for _, fl := range req.fields {
		if f.forwardField(fl.name, up == g.ui, req.close) {
			bw.Write(fl.name)
			bw.WriteString(": ")
			bw.Write(fl.value)
			bw.WriteString("\r\n")
		}
	}
	if req.teTrailers {
		bw.WriteString("Te: trailers\r\n")
	}
	fastWriteHeader(bw, "X-Forwarded-For", fi.XFF)
	fastWriteHeader(bw, "X-Forwarded-Host", fi.Host)
	fastWriteHeader(bw, "X-Forwarded-Proto", fi.Proto)
	// setForwarded's rule: root_path is the whole public prefix; a trusted proxy's prefix only
	// counts when fluxlit has none of its own.
	outer := g.rootPath
	if outer == "" {
		outer = fi.Prefix
	}
	if up == g.api {
		bw.WriteString("X-Forwarded-Prefix: ")
		bw.WriteString(outer)
		bw.WriteString(g.mount)
		bw.WriteString("\r\n")
	} else {
		fastWriteHeader(bw, "X-Forwarded-Prefix", outer)
	}
	fastWriteHeader(bw, "X-Request-Id", id)
	if req.upgradeWS {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: websocket\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// fastWriteHeader writes "name: value" unless value is empty.
func fastWriteHeader(bw *bufio.Writer, name, value string) {
	if value == "" {
		return
	}
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// fastHopRequestHeaders are removed from every forwarded request (RFC 9110 §7.6.1, as
// ReverseProxy does), together with the names that fluxlit sets itself.
var fastHopRequestHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "X-Request-Id",
}

// forwardField reports whether a client header goes upstream.
func (f *fastServer) forwardField(name []byte, streamlit, connClose bool) bool {
	for _, h := range fastHopRequestHeaders {
		if fastEqualFold(name, h) {
			return false
		}
	}
	for _, m := range fwdManagedHeaders {
		if fwdSameHeaderName(name, m) {
			return false
		}
	}
	if len(name) >= len("X-Fluxlit-") && fastEqualFold(name[:len("X-Fluxlit-")], "X-Fluxlit-") {
		return false
	}
	if connClose && fastEqualFold(name, "Close") { // named in Connection: close
		return false
	}
	if !streamlit {
		return true
	}
	if fastEqualFold(name, "Authorization") {
		return false
	}
	if f.keepLower == nil {
		return true
	}
	var buf [64]byte
	if len(name) > len(buf) {
		return false // no allow-listed name is this long
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return f.keepLower[string(lower)]
}

// relayResponse writes the parsed upstream response head and relays its body. The upstream
// connection goes back to the pool only when the body was read to its end and nobody said close.
func (f *fastServer) relayResponse(fc *fastConn, pc *fastUpConn, pool *fastPool, up *upstream, fi forwardedInfo, rec *accessRecord, bodyDone chan error) bool {
	req, res := &fc.req, &fc.res
	rec.status = res.status
	noBody := req.method == http.MethodHead || res.status == http.StatusNoContent || res.status == http.StatusNotModified
	untilClose := !noBody && !res.chunked && res.contentLength < 0
	closeClient := req.close || untilClose
	f.writeResponseHead(fc.bw, res, rec.id, fi.Proto == "https", noBody, closeClient)
	var err error
	var n int64
	switch {
	case noBody:
	case res.chunked:
		n, err = fastRelayChunked(fc.bw, pc.br)
	case res.contentLength >= 0:
		n = res.contentLength
		err = fastCopyBody(fc.c, fc.bw, pc.c, pc.br, n)
	default:
		n, err = fastCopyUntilClose(fc.c, fc.bw, pc.c, pc.br)
	}
	rec.bytes = n
	// Recorded before the last flush, so a client that has the whole answer finds it in the
	// metrics, the debug ring and the log, as with the handler path.
	f.g.obs.end(rec)
	if bodyDone != nil {
		fc.bw.Flush() // the answer goes out now; the body's fate decides only what is reused
		if !fastBodySent(fc, pc, bodyDone) {
			pc.c.Close()
			return false
		}
	}
	if err != nil || untilClose || res.close {
		pc.c.Close()
		fc.bw.Flush()
		return false
	}
	if pool == nil { // a refused WebSocket handshake's own connection
		pc.c.Close()
		return fc.bw.Flush() == nil && !closeClient
	}
	// Back to the pool before the client sees the end of the response, so that its next
	// request finds the connection idle.
	pool.put(pc)
	return fc.bw.Flush() == nil && !closeClient
}

// writeResponseHead writes the status line and the upstream's headers minus the hop-by-hop
// ones, with fluxlit's X-Request-Id and security headers (decorateResponse).
func (f *fastServer) writeResponseHead(bw *bufio.Writer, res *fastResponse, id string, https, noBody, closeClient bool) {
	fastWriteStatusLine(bw, res.status, res.reason)
	for _, fl := range res.fields {
		if res.forwardField(fl.name, noBody) {
			bw.Write(fl.name)
			bw.WriteString(": ")
			bw.Write(fl.value)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Request-Id: ")
	bw.WriteString(id)
	bw.WriteString("\r\n")
	if s := f.g.secHeaders; s != nil {
		if !res.hasNosniff {
			bw.WriteString("X-Content-Type-Options: nosniff\r\n")
		}
		if !res.hasFrameOptions {
			bw.WriteString("X-Frame-Options: SAMEORIGIN\r\n")
		}
		if !res.hasReferrerPolicy {
			bw.WriteString("Referrer-Policy: strict-origin-when-cross-origin\r\n")
		}
		if https && s.hstsValue != "" && !res.hasHSTS {
			fastWriteHeader(bw, "Strict-Transport-Security", s.hstsValue)
		}
	}
	if res.chunked && !noBody {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeClient {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// fastUpConn is one persistent HTTP/1.1 connection to an upstream.
type fastUpConn struct {
	c         net.Conn
	r         io.Reader // under br: flushForAnswer's reader
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool // taken from the pool: it may have been closed by the upstream meanwhile
}

// fastPool keeps an upstream's idle connections on a mutex-guarded stack, capped at
// maxIdleConnsPerUpstream (proxy.go explains the number). Last in, first out: under load the
// same warm connections are reused, and the ones at the bottom age out.
type fastPool struct {
	network, addr string
	dialer        *net.Dialer
	mu            sync.Mutex
	idle          []*fastUpConn
}

func newFastPool(up *upstream, cfg *Config) *fastPool {
	p := &fastPool{network: "tcp", dialer: up.dialer}
	if up.unixPath != "" {
		p.network, p.addr = "unix", up.unixPath
	} else {
		port := up.target.Port()
		if port == "" {
			port = "80"
		}
		p.addr = net.JoinHostPort(up.target.Hostname(), port)
	}
	return p
}

// get returns an idle connection that still looks alive, or dials (always, when fresh).
func (p *fastPool) get(fresh bool) (*fastUpConn, error) {
	for !fresh {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := time.Since(pc.idleSince)
		if idle > idleConnTimeout || (idle > fastProbeAfterIdle && !pc.alive()) {
			pc.c.Close()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	c, err := p.dialer.Dial(p.network, p.addr)
	if err != nil {
		return nil, err
	}
	pc := &fastUpConn{br: bufio.NewReaderSize(nil, fastUpReadBufferSize), bw: bufio.NewWriterSize(nil, fastUpWriteBufferSize)}
	pc.attach(c)
	return pc, nil
}

// attach makes c pc's connection, under pc's buffers, read and written as flushForAnswer needs.
func (pc *fastUpConn) attach(c net.Conn) {
	r, w := newSocketReadWriter(c)
	pc.c, pc.r = c, r
	pc.br.Reset(r)
	pc.bw.Reset(w)
}

// flushForAnswer sends the request as the read of its answer begins (flushOnRead), so the
// caller must read the answer next. With bytes already buffered (an upstream that said
// more than it was asked) the request is flushed now, as they would be read first.
func (pc *fastUpConn) flushForAnswer() error {
	if pc.br.Buffered() > 0 {
		return pc.bw.Flush()
	}
	return flushOnRead(pc.bw, pc.r)
}

// alive reads without waiting: a live idle connection has nothing to say; EOF, a reset or
// unsolicited bytes mean it cannot carry a request. (A deadline in the past does not do:
// Read then fails before it reads, so every connection looked alive.) Off the socket loop,
// the probe waits a millisecond for an answer.
func (pc *fastUpConn) alive() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	if alive, ok := probeIdle(pc.c); ok {
		return alive
	}
	pc.c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := pc.br.Peek(1)
	pc.c.SetReadDeadline(time.Time{})
	return err != nil && isTimeout(err)
}

func (p *fastPool) put(pc *fastUpConn) {
	pc.idleSince = time.Now()
	p.mu.Lock()
	if len(p.idle) < maxIdleConnsPerUpstream {
		p.idle = append(p.idle, pc)
		pc = nil
	}
	p.mu.Unlock()
	if pc != nil {
		pc.c.Close()
	}
}

func (p *fastPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}
