//go:build !nofastpath

// fastpath.go owns the fast engine: a hand-written HTTP/1.1 front end for the common request,
// a plain proxied GET/HEAD/POST/PUT/PATCH/DELETE whose plan (hop.go) holds no edge step but
// the proxying itself, relayed over pooled upstream connections without net/http's
// per-request goroutines and maps (issue #7), and a plain WebSocket handshake
// (fastpath_ws.go). Every other connection is handed, bytes and all, to the net/http engine
// through handoffListener: that engine defines what fluxlit does, this one does exactly that
// or hands off.

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
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

// fastEngineBuilt: this binary has the fast engine (go build -tags nofastpath leaves it out,
// fastpath_off.go).
const fastEngineBuilt = true

// fastParkAfter is how long a kept-alive connection waits for its next request on its own
// goroutine before it is parked (idlepark): a client with a request ready sends it within
// microseconds, one that waits a second is a person or a pool keeping a connection warm, and
// for those a goroutine's stack and two buffers (about 25 KiB) are all cost. A tenth of a
// second parked busy connections whose client the scheduler had set aside on a loaded
// machine, at a few percent of the CPU of small requests (BENCHMARKS.md).
const fastParkAfter = time.Second

// fastBodyGrace is how long a request body may still be in flight after the upstream's
// whole answer was relayed. An upstream that read the body has it all by then, so the sender
// ends within moments (its goroutine may wait for a CPU under load, hence not zero); one that
// answered early (401 on an upload) and stopped reading would hold it forever.
const fastBodyGrace = time.Second

// fastServer accepts the public connections. It is built once; the per-connection state is
// in fastConn, the upstream connections in fastPool.
type fastServer struct {
	g       *gateway
	srv     *http.Server
	handoff *handoffListener

	waits  fastWaits // the timeout model's limits (timeouts.go)
	parker *parker   // idle keep-alive connections wait here (idlepark_linux.go); nil elsewhere

	ln      net.Listener
	closing atomic.Bool
	mu      sync.Mutex // guards conns; taken per connection, never per request
	conns   map[*fastConn]struct{}
	events  atomic.Uint64 // connections tracked and untracked: memory.go's measure of a burst
	active  sync.WaitGroup
}

// fastWaits are the limits of timeouts.go, as durations.
type fastWaits struct {
	clientBody, clientSend, upstreamSend, upstreamRead, upstreamBody time.Duration
}

// newFastServer builds the front end for g; srv serves every connection handed off.
func newFastServer(g *gateway, srv *http.Server) *fastServer {
	c := g.cfg
	return &fastServer{g: g, srv: srv, handoff: newHandoffListener(), conns: map[*fastConn]struct{}{},
		parker: idleParker(), waits: fastWaits{clientBody: c.clientBodyTimeout(), clientSend: c.clientSendTimeout(),
			upstreamSend: c.sendTimeout(), upstreamRead: c.readTimeout(), upstreamBody: c.bodyTimeout()}}
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
	f.events.Add(1)
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

// connEvents counts the connections it tracked and untracked: memory.go's measure of a burst.
func (f *fastServer) connEvents() uint64 { return f.events.Load() }

func (f *fastServer) closeIdle() {
	f.parker.wakeAll() // their goroutines see the shutdown and close them
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
	for _, gen := range f.g.gens.all() {
		for _, up := range gen.upstreams() {
			if up.fast != nil {
				up.fast.closeIdle()
			}
		}
	}
}

// Connection states, for Shutdown: only a connection waiting for its next request is closed.
const (
	fastStateIdle int32 = iota
	fastStateActive
	fastStateClosed
	fastStateNew // accepted, its first request not read yet: Shutdown lets it be served
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
	sr     io.Reader // under br: the socket, its waits limited while a body is read
	sw     io.Writer // under bw: the socket, each wait limited by gateway_client_send_timeout_s
	state  atomic.Int32
	req    fastRequest
	res    upResponse
	// The request as the edge features and the access log see it, and its record: one of
	// each per connection, reused by every request on it (nothing holds them past the
	// request; a WebSocket's record, which its tunnel keeps, is its own). Two allocations
	// fewer per request put the collector off by 6x under small-request load (BENCHMARKS.md).
	hr  http.Request
	rec accessRecord
	// slot is the connection's place under max_connections (nil without a cap): marked idle
	// while it waits for a request, so that a new connection at the cap may take it.
	slot      *connSlot
	idleSince time.Time // when its last answer was sent: the keep-alive timeout counts from it
}

// shed drops what a connection keeps between requests for reuse (the last heads and their
// field lists), for a parked one: the next request grows them again.
func (fc *fastConn) shed() {
	fc.req = fastRequest{}
	fc.res = upResponse{}
}

// serve reads requests until the client closes, a request asks to close, or one needs
// net/http (then the connection is handed off and no longer ours).
func (fc *fastConn) serve() {
	fc.sr = newSocketReader(fc.c)
	fc.run(true, false)
}

// resume serves a parked connection whose next request (or end) has arrived (idlepark).
func (fc *fastConn) resume() { fc.run(false, true) }

// run is the connection's request loop. When it parks the connection it returns without
// touching fc: the parker owns it until resume.
func (fc *fastConn) run(first, resumed bool) {
	fc.br = fastReaderPool.Get().(*bufio.Reader)
	fc.br.Reset(fc.sr)
	handedOff, parked := false, false
	defer func() {
		if parked {
			return
		}
		fc.release()
		if !handedOff {
			fc.c.Close()
		}
		fc.f.track(fc, false)
	}()
	for ; ; first = false {
		// A new connection's first request is served even once Shutdown has begun, as
		// net/http does: the client sent it (it may be in the socket already) to a server
		// that accepted the connection, and a binary upgrade hands the listener over with
		// such connections accepted but not yet read.
		state := fastStateIdle
		if first {
			state = fastStateNew
		}
		fc.state.Store(state)
		if !first && fc.f.closing.Load() {
			return
		}
		now := time.Now()
		if !first && !resumed {
			fc.idleSince = now
		}
		resumed = false
		var arrived bool
		if arrived, parked = fc.awaitRequest(first, now); !arrived {
			return
		}
		end, ok := fc.readHead(first)
		if !fc.state.CompareAndSwap(state, fastStateActive) {
			return // Shutdown closed it while idle
		}
		if end < 0 {
			return
		}
		if !ok || !fastParseRequest(fc.peekHead(end), &fc.req) {
			handedOff = fc.handOff()
			return
		}
		p, eligible := fc.f.route(&fc.req)
		if !eligible {
			handedOff = fc.handOff()
			return
		}
		if fc.f.closing.Load() {
			fc.req.close = true // the answer says Connection: close, as net/http's in a shutdown
		}
		fc.br.Discard(end)
		if fc.bw == nil {
			if fc.sw == nil {
				fc.sw = newSocketWriter(fc.c) // only now: a connection handed off at once writes nothing
				setWaitLimit(fc.sw, fc.f.waits.clientSend)
			}
			fc.bw = fastWriterPool.Get().(*bufio.Writer)
			fc.bw.Reset(fc.sw)
		}
		if p.steps&stepTunnel != 0 {
			keep, tunnelled := fc.f.serveUpgrade(fc, &p)
			handedOff = tunnelled
			if !keep {
				return
			}
			continue
		}
		if !fc.f.serveRequest(fc, &p) || fc.req.close {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request: on a new connection within
// gateway_client_header_timeout_s, as net/http's ReadHeaderTimeout; on a kept-alive one
// within serverIdleTimeout of its last answer. A kept-alive connection silent for
// fastParkAfter gives back its buffers and is parked (idlepark): parked true, and the
// caller's goroutine leaves. arrived false: the client closed, timed out or was closed to
// make room (max_connections).
func (fc *fastConn) awaitRequest(first bool, now time.Time) (arrived, parked bool) {
	deadline := fc.idleSince.Add(serverIdleTimeout)
	if first {
		deadline = now.Add(fc.f.g.cfg.clientHeaderTimeout())
	}
	if fc.slot != nil {
		fc.slot.markIdle()
	}
	if fc.br.Buffered() == 0 && !first && fc.f.parker != nil {
		wait := now.Add(fastParkAfter)
		if deadline.Before(wait) {
			wait = deadline
		}
		fc.c.SetReadDeadline(wait)
		_, err := fc.br.Peek(1)
		switch {
		case err == nil:
		case isTimeout(err) && time.Now().Before(deadline):
			fc.release() // silent: it waits with no buffer and no goroutine
			fc.shed()
			if fc.f.parker.park(fc, deadline) {
				return false, true
			}
			fc.br = fastReaderPool.Get().(*bufio.Reader)
			fc.br.Reset(fc.sr)
		default:
			return false, false
		}
	}
	if fc.br.Buffered() == 0 {
		fc.c.SetReadDeadline(deadline)
		if _, err := fc.br.Peek(1); err != nil {
			return false, false
		}
	}
	if fc.slot != nil && !fc.slot.markBusy() {
		return false, false // closed to make room for a new connection
	}
	return true, false
}

// readHead waits for a complete request head in the read buffer, whose first byte has
// arrived (awaitRequest). end is its length (-1: the client closed or timed out; close
// quietly); ok false means the bytes are not for the fast path (bare LF, NUL, a head bigger
// than the buffer): hand off. A new connection's deadline is already set; a kept-alive one
// has gateway_client_header_timeout_s from the first byte.
func (fc *fastConn) readHead(first bool) (end int, ok bool) {
	headTimeout := fc.f.g.cfg.clientHeaderTimeout()
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

// route plans the parsed request (hop.go) and reports whether the fast engine may serve it:
// a plan of no step but proxying or tunnelling, to a plain-HTTP upstream it pools for.
func (f *fastServer) route(req *fastRequest) (hopPlan, bool) {
	hr := hopRequest{method: req.method, path: req.path, hasOrigin: req.hasOrigin, bodyLength: max(req.contentLength, 0)}
	if req.upgradeWS {
		hr.upgrade = upgradeWebSocket
	}
	if aff := f.g.gens.aff; aff != nil {
		for _, h := range req.cookies {
			if v, ok := cookieValue(h, aff.name); ok {
				hr.affinity = v
				break
			}
		}
	}
	p := f.g.plan(&hr)
	return p, p.steps&^fastEngineSteps == 0 && p.up != nil && p.up.fast != nil
}

// serveRequest forwards one request and records it like the net/http engine does. It reports
// whether the client connection can carry another request.
func (f *fastServer) serveRequest(fc *fastConn, p *hopPlan) bool {
	g, req := f.g, &fc.req
	start := time.Now()
	id := g.reqIDs.fromRequest(req.requestID)
	hr := fc.proxyRequest()
	fc.rec.reset(hr, id, p.dispatch, req.method, req.path, req.query, start)
	rec := &fc.rec
	rec.rep = p.rep
	keep := f.exchange(fc, p, hr, rec)
	g.obs.end(rec)
	return keep
}

// proxyRequest is the request as proxy trust and the access log see it: the peer, the Host
// and, when proxy trust is on, the forwarding headers. One per connection, reused.
func (fc *fastConn) proxyRequest() *http.Request {
	req := &fc.req
	fc.hr = http.Request{Method: req.method, Host: req.host, RemoteAddr: fc.remote, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if fc.f.g.trust != nil {
		fc.hr.Header = req.forwardingHeader()
	}
	return &fc.hr
}

// upstreamHead is the request's head as the hop rules send it upstream (wire.go).
func (fc *fastConn) upstreamHead(p *hopPlan, id string, fi *forwardedInfo) upstreamHead {
	req := &fc.req
	return upstreamHead{up: p.up, method: req.method, path: p.upstreamPath(), query: req.query,
		websocket: p.steps&stepTunnel != 0, host: req.host, fields: req.fields,
		connection: req.connection, contentLength: req.contentLength, teTrailers: req.teTrailers, id: id,
		fwd: fc.f.g.forwarded(fi, p.up)}
}

// exchange sends the request upstream and relays the answer. A body that has not arrived
// with the head is read whole first (bodybuffer.go), so the upstream is dialled only once the
// client has sent it; one that cannot be buffered is streamed alongside. A request on a reused
// pooled connection that ends before any byte of an answer is sent once more on a fresh
// connection when it can be replayed, as Go's Transport does: the upstream closed the
// connection while it sat idle, and nothing was processed.
func (f *fastServer) exchange(fc *fastConn, p *hopPlan, hr *http.Request, rec *accessRecord) bool {
	req, pool := &fc.req, p.up.fast
	p.up.inflight.Add(1)
	defer p.up.inflight.Add(-1)
	fi := f.g.forwardedInfo(hr)
	head := fc.upstreamHead(p, rec.id, &fi)
	var spooled *spooledBody
	if req.contentLength > int64(fc.br.Buffered()) {
		// The head's deadline is done with; each wait for the body has its own limit.
		fc.c.SetReadDeadline(time.Time{})
		setWaitLimit(fc.sr, f.waits.clientBody)
		defer setWaitLimit(fc.sr, 0)
		if f.g.spool != nil {
			sp, _, err := f.g.spool.spool(fc.br, req.contentLength)
			if err != nil {
				return f.clientBodyFailed(fc, p.up, rec, err)
			}
			if sp != nil {
				spooled = sp
				defer sp.release()
				rec.body.n.Store(sp.size) // bytes_in, as accessBody counts it
			}
		}
	}
	rec.upstreamStart = time.Now()
	for fresh := false; ; fresh = true {
		pc, err := pool.get(fresh)
		if err != nil {
			return f.upstreamFailed(fc, p.up, rec, err, false)
		}
		err = f.g.writeUpstreamHead(pc.bw, &head)
		var bodyDone chan error // set while a body is still being streamed
		var hd *headDeadline
		switch {
		case err != nil:
		case spooled != nil:
			if _, err = spooled.WriteTo(pc.bw); err == nil {
				err = pc.bw.Flush()
			}
		case req.contentLength > 0 && req.contentLength <= int64(min(fc.br.Buffered(), pc.bw.Available())):
			err = fastSendBody(fc, pc, rec) // already read, and fits the head's write
		case req.contentLength > 0:
			// Streamed alongside reading the answer, as the Transport does: an upstream may
			// answer (401, 413) without reading the whole body, and that answer must reach
			// the client instead of a 502 or a stalled write. The head goes first, as the
			// Transport sends it: the upstream sees the request before the body arrives. The
			// read timeout starts when the body has been sent.
			if err = pc.bw.Flush(); err != nil {
				break
			}
			hd = &headDeadline{c: pc.c, wait: f.waits.upstreamRead}
			bodyDone = make(chan error, 1)
			go func() {
				err := fastSendBody(fc, pc, rec)
				if err == nil {
					hd.bodySent()
				}
				// The error is told before the close, which ends the answer's read: told
				// after, it raced the reader, and a client silent in its body got a 502.
				bodyDone <- err
				if err != nil {
					pc.c.Close() // the upstream must not wait for the rest, nor get a complete request
				}
			}()
		default:
			err = pc.flushForAnswer()
		}
		gotBytes := false
		if err == nil {
			gotBytes, err = f.readAnswer(fc, pc, rec, hd)
		}
		if err != nil {
			pc.c.Close()
			bodyErr := fastAbandonBody(fc, bodyDone)
			if pc.reused && !gotBytes && !fresh && req.replayable() {
				continue
			}
			switch {
			case errors.Is(bodyErr, io.EOF) || errors.Is(bodyErr, io.ErrUnexpectedEOF):
				// A body that ended before its length: the client went away (as net/http's
				// canceled request context says).
				return f.upstreamFailed(fc, p.up, rec, err, true)
			case bodyErr != nil && !fromWrite(bodyErr):
				return f.clientBodyFailed(fc, p.up, rec, bodyErr) // the client was too slow
			case bodyErr != nil:
				err = bodyErr // the upstream stopped taking the body
			}
			return f.upstreamFailed(fc, p.up, rec, err, false)
		}
		rec.upstreamDur = time.Since(rec.upstreamStart) // upstream_ms: until its response head
		if fc.clientLeft(rec) {
			pc.c.Close() // the answer is not read: the connection cannot be reused
			fastAbandonBody(fc, bodyDone)
			return f.clientGone(p.up, rec)
		}
		return f.relayResponse(fc, pc, pool, &fi, rec, bodyDone)
	}
}

// headDeadline starts the read timeout of an exchange whose body is streamed when the body
// has been sent (Go's Transport counts ResponseHeaderTimeout from there too), unless the
// answer came first.
type headDeadline struct {
	mu   sync.Mutex
	c    net.Conn
	wait time.Duration
	done bool
}

func (h *headDeadline) bodySent() {
	h.mu.Lock()
	if !h.done {
		h.c.SetReadDeadline(deadlineAfter(h.wait))
	}
	h.mu.Unlock()
}

func (h *headDeadline) headRead() {
	h.mu.Lock()
	h.done = true
	h.c.SetReadDeadline(time.Time{})
	h.mu.Unlock()
}

// readAnswer reads the upstream's answer head into fc.res within
// gateway_upstream_read_timeout_s of the end of the request body (hd, when the body is still
// being streamed, starts that clock), relaying interim (1xx) answers to the client as they
// come, as RFC 9110 §15.2 asks of a proxy and the net/http engine's ReverseProxy does. A 101
// is refused: fluxlit asked for no upgrade.
func (f *fastServer) readAnswer(fc *fastConn, pc *upConn, rec *accessRecord, hd *headDeadline) (gotBytes bool, err error) {
	if hd != nil {
		defer hd.headRead()
	} else {
		pc.c.SetReadDeadline(deadlineAfter(f.waits.upstreamRead))
		defer pc.c.SetReadDeadline(time.Time{})
	}
	if _, err := pc.br.Peek(1); err != nil {
		return false, err
	}
	res := &fc.res
	for {
		err := res.next(pc)
		switch {
		case err != nil:
			return true, err
		case res.status == http.StatusSwitchingProtocols:
			return true, errUpstreamMalformed
		case !res.interim():
			return true, nil
		}
		writeStatusLine(fc.bw, res.status)
		f.writeFields(fc.bw, res, false)
		writeHeaderLine(fc.bw, "X-Request-Id", rec.id)
		fc.bw.WriteString("\r\n")
		if err := fc.bw.Flush(); err != nil {
			return true, err
		}
	}
}

// fastSendBody copies the request body (Content-Length bytes) from the client to the
// upstream. An error from writing (fromWrite) is the upstream's; any other is the client's.
func fastSendBody(fc *fastConn, pc *upConn, rec *accessRecord) error {
	n := fc.req.contentLength
	w := fc.f.waits
	_, err := fastCopyBody(pc.c, pc.bw, fc.c, fc.br, n, copyWaits{src: w.clientBody, dst: w.upstreamSend})
	if err == nil {
		err = pc.bw.Flush()
	}
	if err == nil {
		rec.body.n.Store(n) // bytes_in, as accessBody counts it
	}
	return err
}

// fastAbandonBody stops a body still being sent (the upstream connection is closed already)
// by failing its read from the client, and waits for it. It returns the body's error when the
// body had ended on its own (its error says why the exchange failed), nil when it was stopped
// here. The client's stream is then at an unknown position, so the caller closes that
// connection too.
func fastAbandonBody(fc *fastConn, bodyDone chan error) error {
	if bodyDone == nil {
		return nil
	}
	select {
	case err := <-bodyDone:
		return err
	default:
	}
	fc.c.SetReadDeadline(time.Unix(1, 0))
	<-bodyDone
	return nil
}

// fastBodySent waits for a body sent alongside the answer and reports whether it went out whole.
// The answer has been relayed by then: an upstream that reads the whole body before answering
// (the normal case) lets the sender finish within moments. If it is still going after
// fastBodyGrace, the upstream answered without reading it all: the upstream connection is
// closed, the body abandoned, and false tells the caller to close the client connection too.
func fastBodySent(fc *fastConn, pc *upConn, bodyDone chan error) bool {
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

// upstreamFailed answers a failed exchange as the net/http engine does (hop.go's mapping).
// The client connection is kept only when the request had no body (a body may be half read).
func (f *fastServer) upstreamFailed(fc *fastConn, up *upstream, rec *accessRecord, err error, clientGone bool) bool {
	if clientGone || fc.clientLeft(rec) {
		return f.clientGone(up, rec)
	}
	g := f.g
	fail := g.upstreamFailure(up, err, false)
	g.obs.upstreamError(up.name, fail.reason)
	if fail.logMsg != "" {
		g.log.Warn(fail.logMsg, "request_id", rec.id, "upstream", up.name, "error", err.Error())
	}
	keep := fc.req.contentLength <= 0 && !fc.req.close
	rec.upstreamDur = time.Since(rec.upstreamStart)
	return f.answer(fc, rec, fail, up.isAPI(), !keep) && keep
}

// clientBodyFailed ends an exchange whose client did not send its whole body (hop.go's
// clientBodyFailure): 408 or 500 on a connection then closed, or nothing to a client gone.
func (f *fastServer) clientBodyFailed(fc *fastConn, up *upstream, rec *accessRecord, err error) bool {
	fail := clientBodyFailure(err)
	if fail.msg == "" {
		return f.clientGone(up, rec)
	}
	f.answer(fc, rec, fail, up.isAPI(), true)
	return false
}

// answer writes fluxlit's own answer, recorded first with its real status and size, as the
// net/http engine records before it flushes. It reports whether the write succeeded.
func (f *fastServer) answer(fc *fastConn, rec *accessRecord, fail hopFailure, asJSON, closeConn bool) bool {
	contentType, body := proxyErrorBody(fail.status, fail.msg, rec.id, asJSON)
	rec.status, rec.bytes = fail.status, int64(len(body))
	f.g.obs.end(rec)
	return fastWriteError(fc.bw, fail.status, contentType, body, rec.id, closeConn)
}

// fastClientLeftAfter: a client may have left while its upstream worked only if that took a
// while; checking costs a system call, so answers quicker than this are not checked (and a
// client that left within them is recorded with the upstream's status, its answer written
// into a closed connection).
const fastClientLeftAfter = 10 * time.Millisecond

// clientLeft reports whether the client ended its connection while the upstream worked on its
// request (not while pipelined bytes wait to be read: it left after sending them).
func (fc *fastConn) clientLeft(rec *accessRecord) bool {
	return time.Since(rec.upstreamStart) >= fastClientLeftAfter && fc.br.Buffered() == 0 && peerEnded(fc.c)
}

// clientGone records a request whose client left as net/http's engine does (its background
// read sees the same end and cancels the request): 499, not an upstream error, and nothing
// written. The connection is closed.
func (f *fastServer) clientGone(up *upstream, rec *accessRecord) bool {
	fail := f.g.upstreamFailure(up, nil, true)
	f.g.obs.upstreamError(up.name, fail.reason)
	rec.status = fail.status
	rec.upstreamDur = time.Since(rec.upstreamStart)
	f.g.obs.end(rec)
	return false
}

// fastWriteError writes fluxlit's own error answer (the headers of writeError, the body of
// proxyErrorBody) straight to the client's buffer and flushes it. It reports whether the
// write succeeded.
func fastWriteError(bw *bufio.Writer, status int, contentType, body, id string, closeConn bool) bool {
	writeStatusLine(bw, status)
	bw.WriteString("Cache-Control: no-store\r\nContent-Type: ")
	bw.WriteString(contentType)
	bw.WriteString("\r\nX-Content-Type-Options: nosniff\r\n")
	writeDate(bw, time.Now())
	bw.WriteString("X-Request-Id: ")
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

// relayResponse writes the parsed upstream response head and relays its body. The upstream
// connection goes back to the pool only when the body was read to its end and nobody said close.
func (f *fastServer) relayResponse(fc *fastConn, pc *upConn, pool *fastPool, fi *forwardedInfo, rec *accessRecord, bodyDone chan error) bool {
	req, res := &fc.req, &fc.res
	rec.status = res.status
	noBody := !bodyAllowed(req.method, res.status)
	untilClose := !noBody && !res.chunked && res.contentLength < 0
	closeClient := req.close || untilClose
	f.writeResponseHead(fc.bw, res, rec.id, fi.Proto == "https", noBody, closeClient)
	var err error
	var n int64
	// The body's waits: the upstream's silences and the client's reading (timeouts.go).
	waits := copyWaits{src: f.waits.upstreamBody, dst: f.waits.clientSend}
	setWaitLimit(pc.r, waits.src)
	switch {
	case noBody:
	case res.chunked:
		n, err = fastRelayChunked(fc.bw, pc.br)
	case res.contentLength >= 0:
		n, err = fastCopyBody(fc.c, fc.bw, pc.c, pc.br, res.contentLength, waits)
	default:
		n, err = fastCopyUntilClose(fc.c, fc.bw, pc.c, pc.br, waits)
	}
	setWaitLimit(pc.r, 0)
	rec.bytes = n
	if err != nil && !fromWrite(err) {
		f.g.upstreamBodyCut(rec, err)
	}
	// Recorded before the last flush, so a client that has the whole answer finds it in the
	// metrics, the debug ring and the log, as with the net/http engine.
	f.g.obs.end(rec)
	if bodyDone != nil {
		fc.bw.Flush() // the answer goes out now; the body's fate decides only what is reused
		if !fastBodySent(fc, pc, bodyDone) {
			pc.c.Close()
			return false
		}
	}
	if err != nil {
		// Cut, as the net/http engine cuts it: an answer of known length is buffered there,
		// and what the buffer holds is dropped with the connection (a client that got
		// nothing yet sees no answer rather than a complete-looking head); a streamed one
		// (chunked) is flushed piece by piece once it has data, so what was relayed
		// reaches the client.
		pc.c.Close()
		if res.chunked && n > 0 {
			fc.bw.Flush()
		} else {
			fc.bw.Reset(nil)
		}
		return false
	}
	// Back to the pool only when the answer ended exactly where its framing said and nothing
	// else came with it (a body on a HEAD, 204 or 304 answer, bytes past Content-Length or the
	// last chunk): those bytes would be read as the answer to the next request on it, from
	// any client. What arrives later is caught when the pool hands it out (fastPool.get).
	// Before the client sees the end of the response, so its next request finds it idle.
	if pool != nil && !untilClose && !res.close && pc.br.Buffered() == 0 {
		pool.put(pc)
	} else {
		pc.c.Close()
	}
	return fc.bw.Flush() == nil && !closeClient && !untilClose
}

// writeResponseHead writes the status line, the upstream's headers under the hop rule
// (hop.go), the framing the body is relayed with, and what the net/http engine adds: Date
// when the upstream sent none, fluxlit's X-Request-Id and the security set (secheaders.go).
func (f *fastServer) writeResponseHead(bw *bufio.Writer, res *upResponse, id string, https, noBody, closeClient bool) {
	writeStatusLine(bw, res.status)
	hasDate := f.writeFields(bw, res, res.chunked && !noBody)
	if res.contentLength >= 0 && !res.chunked && hopKeepResponseHeader("Content-Length", res.status, nil) {
		bw.WriteString("Content-Length: ")
		writeDecimal(bw, res.contentLength)
		bw.WriteString("\r\n")
	}
	if !hasDate {
		writeDate(bw, time.Now())
	}
	writeHeaderLine(bw, "X-Request-Id", id)
	if s := f.g.secHeaders; s != nil {
		for _, sh := range s.set(https) {
			if !res.has(sh.name) {
				writeHeaderLine(bw, sh.name, sh.value[0])
			}
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

// writeFields writes the upstream's header lines that the hop rule keeps, Content-Length
// aside (the caller writes the framing); Trailer only with a chunked body (trailers). It
// reports whether one was Date.
func (f *fastServer) writeFields(bw *bufio.Writer, res *upResponse, trailers bool) (hasDate bool) {
	for _, fl := range res.fields {
		switch {
		case asciiEqualFold(fl.name, "Content-Length"):
		case asciiEqualFold(fl.name, "Trailer"):
			if trailers {
				writeField(bw, fl.name, fl.value)
			}
		case hopKeepResponseHeader(fl.name, res.status, res.connection):
			writeField(bw, fl.name, fl.value)
			hasDate = hasDate || asciiEqualFold(fl.name, "Date")
		}
	}
	return hasDate
}

// writeDate writes a Date header for t, as Go's server adds it to an answer without one
// (RFC 9110 §6.6.1). Byte by byte: a buffer handed to Write would escape.
func writeDate(bw *bufio.Writer, t time.Time) {
	var buf [len(http.TimeFormat)]byte
	bw.WriteString("Date: ")
	for _, c := range t.UTC().AppendFormat(buf[:0], http.TimeFormat) {
		bw.WriteByte(c)
	}
	bw.WriteString("\r\n")
}

// fastPool keeps an upstream's idle connections on a mutex-guarded stack, capped at
// maxIdleConnsPerUpstream (proxy.go explains the number). Last in, first out: under load the
// same warm connections are reused, and the ones at the bottom age out.
type fastPool struct {
	network, addr string
	dialer        *net.Dialer
	sendWait      time.Duration // gateway_upstream_send_timeout_s
	mu            sync.Mutex
	idle          []*upConn
}

func newFastPool(up *upstream, cfg *Config) *fastPool {
	p := &fastPool{network: "tcp", dialer: up.dialer, sendWait: cfg.sendTimeout()}
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

// get returns an idle connection that still looks alive, or dials (always, when fresh). Every
// idle connection is probed before it is handed out (alive): one the upstream closed (uvicorn
// closes idle ones after 5 s) cannot carry a POST, which could not be retried, and one that
// holds bytes nobody asked for (an upstream that sent more after its answer) would answer the
// next request with them.
func (p *fastPool) get(fresh bool) (*upConn, error) {
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
		if time.Since(pc.idleSince) > idleConnTimeout || !pc.alive() {
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
	pc := &upConn{br: bufio.NewReaderSize(nil, upReadBufferSize), bw: bufio.NewWriterSize(nil, upWriteBufferSize)}
	pc.attach(c)
	setWaitLimit(pc.w, p.sendWait)
	return pc, nil
}

// alive reads without waiting: a live idle connection has nothing to say; EOF, a reset or
// unsolicited bytes mean it cannot carry a request. (A deadline in the past does not do:
// Read then fails before it reads, so every connection looked alive.) Where there is no
// socket probe (off Linux) the probe waits a millisecond for an answer, so it is made only for
// a connection idle over a second; a younger one is taken on its empty buffer.
func (pc *upConn) alive() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	if alive, ok := probeIdle(pc.r); ok {
		return alive
	}
	if time.Since(pc.idleSince) < time.Second {
		return true
	}
	pc.c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := pc.br.Peek(1)
	pc.c.SetReadDeadline(time.Time{})
	return err != nil && isTimeout(err)
}

func (p *fastPool) put(pc *upConn) {
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
