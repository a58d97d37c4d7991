// websocket.go owns the WebSocket tunnel of both engines: the one upstream handshake, completed
// before the browser is answered, the one 101 writer and tunnel opener, the net/http engine's
// hijack, the relay of frames in both directions, the message-size limit (close 1009), and the
// close 1001 that every open tunnel receives on shutdown. The relay's socket loop for Linux is
// in socket_linux.go; the fast engine's side of the handshake in fastpath_ws.go.

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WebSocket close codes fluxlit sends itself (RFC 6455 §7.4.1).
const (
	wsCloseGoingAway  = 1001 // fluxlit is shutting down
	wsCloseTooBig     = 1009 // a message exceeded gateway_ws_max_message_bytes
	wsOpClose         = 0x8
	wsMaxControlFrame = 125
)

// wsCloseLinger lets the other direction deliver its close frame after one side ended. (The
// handshake is bounded by gateway_ws_open_timeout_s, so that a stuck upstream cannot hold a
// browser forever.)
const wsCloseLinger = 2 * time.Second

// wsReadBufferSize is the read buffer of a relay that cannot use the socket loop (see
// relay.fromReader). An idle tunnel on that path
// holds two, so they are small: 2 KiB takes a Streamlit BackMsg or a 1 KiB echo whole.
const wsReadBufferSize = 2 << 10

// hijackedSource returns the client's connection as the relay reads it, without net/http's
// bufio.Reader (which points back at the server's conn and its 4 KiB write buffer a tunnel
// never uses), and the bytes already read past the handshake (the first frame may share a
// segment with it), including any the fast path read before handing the connection off.
func hijackedSource(c net.Conn, hijacked *bufio.Reader) (net.Conn, []byte) {
	pre := buffered(hijacked)
	if rc, ok := c.(*fastReplayConn); ok {
		pre = append(pre, rc.pending...)
		c = rc.Conn
	}
	return c, pre
}

// buffered returns a copy of the bytes br holds.
func buffered(br *bufio.Reader) []byte {
	if br.Buffered() == 0 {
		return nil
	}
	b, _ := br.Peek(br.Buffered())
	return bytes.Clone(b)
}

func isWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header["Connection"], "upgrade") &&
		headerHasToken(r.Header["Upgrade"], "websocket")
}

// headerHasToken reports whether a comma-separated header holds token (case-insensitive),
// as RFC 9110 §5.6.1 lists are parsed: "keep-alive, Upgrade" contains "upgrade".
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), token) {
				return true
			}
		}
	}
	return false
}

// tunnelSet tracks open tunnels so that shutdown can send each a close 1001. The mutex is
// taken only when a tunnel opens or closes, never per frame.
type tunnelSet struct {
	mu      sync.Mutex
	open    map[*tunnel]struct{}
	closing bool
	count   atomic.Int64
	wg      sync.WaitGroup
}

func newTunnelSet() *tunnelSet { return &tunnelSet{open: map[*tunnel]struct{}{}} }

func (s *tunnelSet) add(t *tunnel) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.open[t] = struct{}{}
	s.count.Add(1)
	s.wg.Add(1)
	if t.rep != nil {
		t.rep.sessions.Add(1)
	}
	return true
}

func (s *tunnelSet) remove(t *tunnel) {
	s.mu.Lock()
	delete(s.open, t)
	s.mu.Unlock()
	s.count.Add(-1)
	if t.rep != nil {
		t.rep.sessions.Add(-1)
	}
	s.wg.Done()
}

// abortGeneration ends at once every tunnel to an upstream of gen that outlived its drain.
func (s *tunnelSet) abortGeneration(gen *generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.open {
		if t.target != nil && t.target.gen == gen {
			t.abort()
		}
	}
}

// goAwayGeneration sends close 1001 on every tunnel to an upstream of gen (a generation
// replaced by a reload): Streamlit's frontend reconnects, to the current generation.
func (s *tunnelSet) goAwayGeneration(gen *generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.open {
		if t.target != nil && t.target.gen == gen {
			t.goAway()
		}
	}
}

// closeAll sends close 1001 on every open tunnel and waits until they are gone or ctx ends.
func (s *tunnelSet) closeAll(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	for t := range s.open {
		t.goAway()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for t := range s.open {
			t.abort()
		}
		s.mu.Unlock()
	}
}

// tunnel is one relayed WebSocket. The upstream-to-client pump is the only writer to the
// client after the 101, so the shutdown close frame is written by that pump, between frames.
type tunnel struct {
	client, upstream net.Conn
	target           *upstream    // where it leads
	rep              *replica     // the Streamlit replica it leads to (nil: the API)
	up, down         relay        // client -> upstream, upstream -> client
	closeCode        atomic.Int32 // set to 1001 or 1009: the down pump sends it to the client
	bytesUp          atomic.Int64 // client -> upstream
	bytesDown        atomic.Int64 // upstream -> client
	firstClose       atomic.Value // "client", "upstream" or "fluxlit"
	ended            atomic.Int32 // pumps that have returned
	done             func()       // runs once both pumps have returned

	deadlineMu sync.Mutex // orders the linger's deadline after abort's, never before
	aborted    bool
}

// newTunnel pairs the two connections; clientPre and upstreamPre are bytes each side sent
// past its handshake, relayed first.
func newTunnel(client net.Conn, clientPre []byte, upstream net.Conn, upstreamPre []byte, maxMessage int64) *tunnel {
	t := &tunnel{client: client, upstream: upstream}
	t.up = relay{src: client, pre: clientPre, dst: newSocketWriter(upstream), cursor: frameCursor{limit: maxMessage}, counter: &t.bytesUp}
	t.down = relay{src: upstream, pre: upstreamPre, dst: newSocketWriter(client), cursor: frameCursor{limit: maxMessage}, counter: &t.bytesDown, stop: &t.closeCode}
	return t
}

func (t *tunnel) goAway() { t.closeClient(wsCloseGoingAway) }

// abort ends the tunnel at once. The deadline comes first: a pump may be blocked writing to
// one connection while it holds the other's read side, and Close waits for that read.
func (t *tunnel) abort() {
	t.deadlineMu.Lock()
	t.aborted = true
	now := time.Now()
	t.client.SetDeadline(now)
	t.upstream.SetDeadline(now)
	t.deadlineMu.Unlock()
	t.client.Close()
	t.upstream.Close()
}

// linger bounds the direction still running once the other has ended, unless the tunnel was
// aborted: a later deadline would undo abort's and keep Close waiting for it.
func (t *tunnel) linger() {
	t.deadlineMu.Lock()
	defer t.deadlineMu.Unlock()
	if t.aborted {
		return
	}
	deadline := time.Now().Add(wsCloseLinger)
	t.client.SetDeadline(deadline)
	t.upstream.SetDeadline(deadline)
}

// closeClient asks the down pump to send code to the client at the next frame boundary,
// waking it if it waits for upstream data.
func (t *tunnel) closeClient(code int32) {
	t.closeCode.CompareAndSwap(0, code)
	t.upstream.SetReadDeadline(time.Now())
}

// serveWebSocket is the net/http engine's tunnel step: the one handshake (wsHandshake), and
// only on the upstream's 101 the client's connection is hijacked; any other upstream answer
// is relayed as the HTTP response it is.
func (g *gateway) serveWebSocket(w http.ResponseWriter, r *http.Request, x *netExchange) bool {
	rec, up := x.rec, x.plan.up
	rec.websocket = true
	rec.upstreamStart = time.Now()
	h := g.netUpstreamHead(r, x)
	var res upResponse
	pc, err := g.wsHandshake(r.Context(), &h, &res)
	if err != nil {
		g.proxyError(w, r, up, err)
		return true
	}
	defer releaseHandshakeBuffers(pc)
	if res.status != http.StatusSwitchingProtocols {
		g.relayRefusedHandshake(w, r, pc, &res, x)
		pc.c.Close()
		return true
	}
	client, clientRW, err := http.NewResponseController(w).Hijack()
	if err != nil {
		pc.c.Close()
		g.writeError(w, r, http.StatusInternalServerError, "cannot take over the connection for a WebSocket", false)
		return true
	}
	src, clientPre := hijackedSource(client, clientRW.Reader)
	// The handler returns now and the two pumps own the connections: an idle tunnel then
	// costs two small goroutines, not also this one with the server's deep stack. Only
	// what the close log needs is kept of the request.
	rec.r = &http.Request{RemoteAddr: r.RemoteAddr, Method: r.Method, URL: &url.URL{Path: r.URL.Path}, Header: r.Header}
	rec.ResponseWriter = nil // the hijacked response would keep net/http's conn and its buffers
	g.openTunnel(src, clientRW.Writer, clientPre, pc, &res, rec, up, x.fi.Proto == "https")
	return true
}

// netUpstreamHead is the handshake's head from the net/http engine's request.
func (g *gateway) netUpstreamHead(r *http.Request, x *netExchange) upstreamHead {
	h := upstreamHead{up: x.plan.up, method: r.Method, path: x.plan.upstreamPath(), query: r.URL.RawQuery,
		websocket: true, host: r.Host, contentLength: -1,
		id: x.rec.id, fwd: g.forwarded(&x.fi, x.plan.up), identity: x.identity}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[k] {
			h.fields = append(h.fields, headerField{[]byte(k), []byte(v)})
			if k == "Connection" {
				for rest := []byte(v); len(rest) > 0; {
					var tok []byte
					tok, rest = nextToken(rest)
					h.connection = append(h.connection, tok)
				}
			}
		}
	}
	h.teTrailers = headerHasToken(r.Header["Te"], "trailers")
	return h
}

// wsHandshake is the one upstream WebSocket handshake of both engines: it dials a connection
// of its own (an upgraded connection is never pooled), writes the client's handshake under
// the hop rules and reads the answer's head into res. On a 101 the caller answers the client
// and opens the tunnel (openTunnel); any other answer it relays as HTTP, its body read within
// gateway_ws_open_timeout_s too. The caller releases pc's buffers (releaseHandshakeBuffers).
func (g *gateway) wsHandshake(ctx context.Context, h *upstreamHead, res *upResponse) (*upConn, error) {
	conn, err := g.dialUpstream(ctx, h.up)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(deadlineAfter(g.cfg.wsOpenTimeout()))
	pc := &upConn{br: wsHandshakeReaders.Get().(*bufio.Reader), bw: wsHandshakeWriters.Get().(*bufio.Writer)}
	pc.attach(conn)
	err = g.writeUpstreamHead(pc.bw, h)
	if err == nil {
		err = pc.flushForAnswer()
	}
	if err == nil {
		err = res.readFinal(pc, g.cfg.wsOpenTimeout(), true)
	}
	if err != nil {
		conn.Close()
		releaseHandshakeBuffers(pc)
		return nil, err
	}
	if res.status == http.StatusSwitchingProtocols {
		conn.SetDeadline(time.Time{})
	} else {
		conn.SetDeadline(deadlineAfter(g.cfg.wsOpenTimeout()))
	}
	return pc, nil
}

// The handshake's buffers are pooled: a connect rate of thousands per second would otherwise
// make 20 KiB of garbage each, and the collections it causes showed in the connect latency.
var (
	wsHandshakeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, upReadBufferSize) }}
	wsHandshakeWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, upWriteBufferSize) }}
)

// releaseHandshakeBuffers returns pc's buffers once the handshake is over (the tunnel took a
// copy of the bytes the upstream sent past its 101).
func releaseHandshakeBuffers(pc *upConn) {
	pc.br.Reset(nil)
	pc.bw.Reset(nil)
	wsHandshakeReaders.Put(pc.br)
	wsHandshakeWriters.Put(pc.bw)
}

// openTunnel answers the client with the upstream's 101 and starts the tunnel, which from then
// on owns both connections: the one tunnel opener of both engines. clientPre holds bytes the
// client sent past its handshake. It reports false when the client could not be answered or
// fluxlit is shutting down (the client then gets a close 1001); both connections are closed.
// A session placed anew (rec.setCookie) gets its affinity cookie on the 101; secure when the
// browser came over HTTPS.
func (g *gateway) openTunnel(client net.Conn, clientBW *bufio.Writer, clientPre []byte, pc *upConn, res *upResponse, rec *accessRecord, up *upstream, secure bool) bool {
	rec.status = http.StatusSwitchingProtocols
	client.SetDeadline(time.Time{})
	cookie := ""
	if rec.setCookie {
		cookie = rec.rep.cookieHeader(secure)
	}
	if err := writeSwitchingProtocols(clientBW, res, rec.id, cookie); err != nil {
		pc.c.Close()
		client.Close()
		g.obs.end(rec)
		return false
	}
	t := newTunnel(client, clientPre, pc.c, buffered(pc.br), g.cfg.WSMaxMessageSize)
	t.target, t.rep = up, rec.rep
	if !g.tunnels.add(t) {
		writeCloseFrame(client, wsCloseGoingAway, "server shutting down", false)
		pc.c.Close()
		client.Close()
		g.obs.end(rec)
		return false
	}
	g.obs.wsOpened(rec)
	opened := time.Now() // the close line's duration is the tunnel's
	t.start(func() {
		g.tunnels.remove(t)
		g.obs.wsClosed(rec, t, time.Since(opened))
	})
	return true
}

// writeSwitchingProtocols relays the upstream's 101 (its Sec-WebSocket-Accept answers the
// browser's key, which was forwarded untouched) with fluxlit's request id and, when set, the
// affinity cookie (browsers store cookies from a handshake's answer): the one 101 writer.
func writeSwitchingProtocols(bw *bufio.Writer, res *upResponse, id, setCookie string) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for _, fl := range res.fields {
		if !asciiEqualFold(fl.name, "X-Request-Id") {
			writeField(bw, fl.name, fl.value)
		}
	}
	if setCookie != "" {
		writeHeaderLine(bw, "Set-Cookie", setCookie)
	}
	writeHeaderLine(bw, "X-Request-Id", id)
	bw.WriteString("\r\n")
	return bw.Flush()
}

func (g *gateway) dialUpstream(ctx context.Context, up *upstream) (net.Conn, error) {
	d := up.dialer
	if up.unixPath != "" {
		return d.DialContext(ctx, "unix", up.unixPath)
	}
	host := up.target.Host
	if up.target.Scheme == "https" {
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, "443")
		}
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: up.target.Hostname()}}
		return td.DialContext(ctx, "tcp", host)
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "80")
	}
	return d.DialContext(ctx, "tcp", host)
}

// relayRefusedHandshake passes a refused upgrade (403 from Streamlit's Origin check, 404…)
// to the browser as the HTTP answer it is, under the response rules of any proxied answer.
func (g *gateway) relayRefusedHandshake(w http.ResponseWriter, r *http.Request, pc *upConn, res *upResponse, x *netExchange) {
	h := w.Header()
	for _, fl := range res.fields {
		if hopKeepResponseHeader(fl.name, res.status, res.connection) && !asciiEqualFold(fl.name, "Content-Length") {
			h.Add(string(fl.name), string(fl.value))
		}
	}
	if g.secHeaders != nil {
		g.secHeaders.apply(h, x.fi.Proto == "https")
	}
	var body io.Reader
	switch {
	case !bodyAllowed(r.Method, res.status):
	case res.chunked:
		body = httputil.NewChunkedReader(pc.br)
	case res.contentLength >= 0:
		h.Set("Content-Length", strconv.FormatInt(res.contentLength, 10))
		body = io.LimitReader(pc.br, res.contentLength)
	default:
		body = pc.br
	}
	w.WriteHeader(res.status)
	if body != nil {
		io.Copy(w, body)
	}
}

// start runs the two pumps. The first to end passes the end on as a half-close and bounds
// the other with a deadline; the second closes both connections and calls done.
func (t *tunnel) start(done func()) {
	t.done = done
	pumpWorkers.goPooled(t.runUp)
	pumpWorkers.goPooled(t.runDown)
}

func (t *tunnel) runUp()   { t.run(true) }
func (t *tunnel) runDown() { t.run(false) }

func (t *tunnel) run(up bool) {
	var side string
	if up {
		side = t.pumpUp()
	} else {
		side = t.pumpDown()
	}
	if t.ended.Add(1) == 1 {
		t.firstClose.CompareAndSwap(nil, side)
		// Give the other direction a moment to deliver a close frame in flight.
		if up {
			closeWrite(t.upstream)
		} else {
			closeWrite(t.client)
		}
		t.linger()
		return
	}
	t.client.Close()
	t.upstream.Close()
	t.done()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// pumpUp relays client frames to the upstream.
func (t *tunnel) pumpUp() string {
	err := t.up.run()
	if errors.Is(err, errMessageTooBig) {
		t.firstClose.CompareAndSwap(nil, "fluxlit")
		writeCloseFrame(t.upstream, wsCloseTooBig, "message too big", true)
		t.closeClient(wsCloseTooBig)
		return "fluxlit"
	}
	return "client"
}

// pumpDown relays upstream frames to the client, so that a close 1001 (on shutdown) or 1009
// (size limit) can be written between two frames.
func (t *tunnel) pumpDown() string {
	err := t.down.run()
	switch {
	case errors.Is(err, errGoingAway):
		t.firstClose.CompareAndSwap(nil, "fluxlit")
		code := int(t.closeCode.Load())
		reason := "server shutting down"
		if code == wsCloseTooBig {
			reason = "message too big"
		}
		writeCloseFrame(t.client, code, reason, false)
	case errors.Is(err, errMessageTooBig):
		t.firstClose.CompareAndSwap(nil, "fluxlit")
		writeCloseFrame(t.client, wsCloseTooBig, "message too big", false)
	}
	return "upstream"
}

var (
	errGoingAway     = errors.New("tunnel stopping")
	errMessageTooBig = errors.New("websocket message exceeds gateway_ws_max_message_bytes")
)

// relay copies one direction of a tunnel. It forwards whatever it reads at once, frames and
// parts of frames alike, and follows the frame boundaries with a cursor instead of holding
// frames: an idle relay on the socket loop holds no buffer at all. It does not splice:
// Go's splice keeps a pipe (two more descriptors) for every idle direction, which halved the
// number of tunnels a file limit allows (BENCHMARKS.md).
type relay struct {
	src     net.Conn
	pre     []byte // bytes src sent before the relay started
	dst     io.Writer
	cursor  frameCursor
	held    [wsMaxFrameHeader]byte // the start of a frame header the last read ended in
	heldLen int
	counter *atomic.Int64
	stop    *atomic.Int32 // down relay: a close code asked for, sent at a frame boundary
}

// wsMaxFrameHeader is the longest frame header: 2 bytes, a 64-bit length and a mask key.
const wsMaxFrameHeader = 14

// run relays until src ends or fails, after the bytes src sent before the relay began.
func (r *relay) run() error {
	if err := r.forward(r.pre); err != nil {
		return err
	}
	r.pre = nil
	if rc, ok := rawConnOf(r.src); ok {
		return r.fromSocket(rc)
	}
	return r.fromReader()
}

// fromReader is the portable loop: blocking reads into a small buffer the relay keeps.
func (r *relay) fromReader() error {
	buf := make([]byte, wsReadBufferSize)
	for {
		h := copy(buf, r.held[:r.heldLen])
		n, err := r.src.Read(buf[h:])
		if n > 0 {
			if ferr := r.forward(buf[:h+n]); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return r.ended(err)
		}
	}
}

// forward writes b on, but for the start of a frame header at its end, which is held for
// the next read. At a frame that takes its message past the limit it forwards what came
// before that frame and fails.
func (r *relay) forward(b []byte) error {
	n, err := r.cursor.advance(b)
	if n > 0 {
		if _, werr := r.dst.Write(b[:n]); werr != nil {
			return werr
		}
		r.counter.Add(int64(n))
	}
	if err != nil {
		return err
	}
	r.heldLen = copy(r.held[:], b[n:])
	return nil
}

// ended turns the error that stopped reading into the relay's result: a read deadline set
// to ask for a close frame (closeClient) is errGoingAway when it fired between two frames.
func (r *relay) ended(err error) error {
	if r.stop != nil && r.stop.Load() != 0 && isTimeout(err) && r.cursor.remaining == 0 && r.heldLen == 0 {
		return errGoingAway
	}
	return err
}

// frameCursor follows WebSocket frame boundaries through the byte stream of one direction.
type frameCursor struct {
	remaining int64 // payload bytes of the current frame not yet passed
	message   int64 // payload bytes of the current data message so far
	limit     int64 // gateway_ws_max_message_bytes; 0: none
}

// advance walks b, which starts where the cursor stands, and returns how many of its bytes
// may be forwarded: all but a frame header that b holds only the start of. It stops with
// errMessageTooBig at the header of a frame that takes its message past the limit.
func (c *frameCursor) advance(b []byte) (int, error) {
	i := 0
	for i < len(b) {
		if c.remaining > 0 {
			k := int(min(c.remaining, int64(len(b)-i)))
			i += k
			c.remaining -= int64(k)
			continue
		}
		hlen, plen, ok := parseFrameHeader(b[i:])
		if !ok {
			break
		}
		if err := countMessage(b[i], plen, &c.message, c.limit); err != nil {
			return i, err
		}
		i += hlen
		c.remaining = plen
	}
	return i, nil
}

// countMessage adds a data frame's payload to the current message (a non-continuation
// frame starts a new one) and fails past limit. Control frames do not count.
func countMessage(b0 byte, plen int64, message *int64, limit int64) error {
	opcode := b0 & 0x0f
	if opcode >= 0x8 {
		return nil
	}
	if opcode != 0 {
		*message = 0
	}
	*message += plen
	if limit > 0 && *message > limit {
		return errMessageTooBig
	}
	return nil
}

// frameHeaderLen is the length of the header that starts with head's two bytes.
func frameHeaderLen(head []byte) int {
	n := 2
	switch head[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if head[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// parseFrameHeader returns the header and payload lengths of the frame at the start of b,
// or ok false when b does not hold the whole header.
func parseFrameHeader(b []byte) (hlen int, plen int64, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	hlen = frameHeaderLen(b)
	if len(b) < hlen {
		return 0, 0, false
	}
	return hlen, frameLength(b[:hlen]), true
}

func frameLength(hdr []byte) int64 {
	switch hdr[1] & 0x7f {
	case 126:
		return int64(binary.BigEndian.Uint16(hdr[2:4]))
	case 127:
		return int64(binary.BigEndian.Uint64(hdr[2:10]) & (1<<63 - 1))
	}
	return int64(hdr[1] & 0x7f)
}

// writeCloseFrame sends a close frame with code and reason; frames to an upstream are
// masked, as a client's must be (RFC 6455 §5.3). The zero mask keeps the payload readable
// and is allowed: the mask only has to be unpredictable to defeat cache poisoning by
// scripts, and this frame's content is fluxlit's, not a script's.
func writeCloseFrame(w io.Writer, code int, reason string, masked bool) error {
	if len(reason) > wsMaxControlFrame-2 {
		reason = reason[:wsMaxControlFrame-2]
	}
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	copy(payload[2:], reason)
	frame := []byte{0x80 | wsOpClose, byte(len(payload))}
	if masked {
		frame[1] |= 0x80
		frame = append(frame, 0, 0, 0, 0)
	}
	frame = append(frame, payload...)
	_, err := w.Write(frame)
	return err
}
