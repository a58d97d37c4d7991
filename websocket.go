// websocket.go owns the WebSocket tunnel: the upstream handshake completed before the
// browser is answered, the hijacked relay of frames in both directions, the message-size
// limit (close 1009), and the close 1001 that every open tunnel receives on shutdown.

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
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

// Timings of the tunnel. The handshake bound keeps a stuck upstream from holding a browser
// forever; the linger lets the other direction deliver its close frame after one side ended.
const (
	wsHandshakeTimeout = 10 * time.Second
	wsCloseLinger      = 2 * time.Second
	wsErrorBodyLimit   = 64 << 10 // a rejected handshake's body is relayed up to this size
)

// wsReadBufferSize is each direction's read buffer. An idle tunnel holds two, so they are
// small: 2 KiB takes a Streamlit BackMsg or a 1 KiB echo whole, and a larger frame streams
// through a pooled buffer taken only while it passes (copyLargeFrame).
const wsReadBufferSize = 2 << 10

// ownReader returns a reader of the hijacked client connection that does not keep net/http's
// connection alive: the server's bufio.Reader points back at its conn, and through it at a
// 4 KiB write buffer that a tunnel never uses. Bytes the server already buffered (the first
// frame may share a segment with the handshake) are read first.
func ownReader(c net.Conn, hijacked *bufio.Reader) *bufio.Reader {
	n := hijacked.Buffered()
	if n == 0 {
		return bufio.NewReaderSize(c, wsReadBufferSize)
	}
	pre, _ := hijacked.Peek(n)
	return bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pre)), c), wsReadBufferSize)
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
	return true
}

func (s *tunnelSet) remove(t *tunnel) {
	s.mu.Lock()
	delete(s.open, t)
	s.mu.Unlock()
	s.count.Add(-1)
	s.wg.Done()
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
			t.client.Close()
			t.upstream.Close()
		}
		s.mu.Unlock()
	}
}

// tunnel is one relayed WebSocket. The upstream-to-client pump is the only writer to the
// client after the 101, so the shutdown close frame is written by that pump, between frames.
type tunnel struct {
	client, upstream net.Conn
	clientR          *bufio.Reader
	upstreamR        *bufio.Reader
	maxMessage       int64
	closeCode        atomic.Int32 // set to 1001 or 1009: the down pump sends it to the client
	bytesUp          atomic.Int64 // client -> upstream
	bytesDown        atomic.Int64 // upstream -> client
	firstClose       atomic.Value // "client", "upstream" or "fluxlit"
	ended            atomic.Int32 // pumps that have returned
	done             func()       // runs once both pumps have returned
}

func (t *tunnel) goAway() { t.closeClient(wsCloseGoingAway) }

// closeClient asks the down pump to send code to the client at the next frame boundary,
// waking it if it waits for upstream data.
func (t *tunnel) closeClient(code int32) {
	t.closeCode.CompareAndSwap(0, code)
	t.upstream.SetReadDeadline(time.Now())
}

// serveWebSocket dials up, completes the upstream handshake, and only on its 101 hijacks the
// client connection; any other upstream answer is relayed as an HTTP response.
func (g *gateway) serveWebSocket(w http.ResponseWriter, r *http.Request, up *upstream, rec *accessRecord) {
	rec.upstreamStart = time.Now()
	conn, err := g.dialUpstream(r.Context(), up)
	if err != nil {
		g.proxyError(w, r, up, err)
		return
	}
	conn.SetDeadline(time.Now().Add(wsHandshakeTimeout))
	upR := bufio.NewReaderSize(conn, wsReadBufferSize)
	res, err := g.upstreamHandshake(conn, upR, r, up)
	if err != nil {
		conn.Close()
		g.proxyError(w, r, up, err)
		return
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		g.relayRejectedHandshake(w, res)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	client, clientRW, err := http.NewResponseController(w).Hijack()
	if err != nil {
		conn.Close()
		g.writeError(w, r, http.StatusInternalServerError, "cannot take over the connection for a WebSocket", false)
		return
	}
	client.SetDeadline(time.Time{})
	if err := writeSwitchingProtocols(clientRW.Writer, res, rec.id); err != nil {
		client.Close()
		conn.Close()
		return
	}
	rec.status = http.StatusSwitchingProtocols
	t := &tunnel{client: client, upstream: conn, clientR: ownReader(client, clientRW.Reader), upstreamR: upR, maxMessage: g.cfg.WSMaxMessageSize}
	if !g.tunnels.add(t) {
		writeCloseFrame(client, wsCloseGoingAway, "server shutting down", false)
		client.Close()
		conn.Close()
		return
	}
	g.obs.wsOpened(rec)
	start := time.Now()
	// The handler returns now and the two pumps own the connections: an idle tunnel then
	// costs two small goroutines, not also this one with the server's deep stack. Only
	// what the close log needs is kept of the request.
	rec.r = &http.Request{RemoteAddr: r.RemoteAddr, Method: r.Method, URL: &url.URL{Path: r.URL.Path}, Header: r.Header}
	rec.ResponseWriter = nil // the hijacked response would keep net/http's conn and its buffers
	t.start(func() {
		g.tunnels.remove(t)
		g.obs.wsClosed(rec, t, time.Since(start))
	})
}

func (g *gateway) dialUpstream(ctx context.Context, up *upstream) (net.Conn, error) {
	d := &net.Dialer{Timeout: g.cfg.connectTimeout(), KeepAlive: 30 * time.Second}
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

// upstreamHandshake writes the client's upgrade request to the upstream, with fluxlit's
// header rewriting, and reads the upstream's answer.
func (g *gateway) upstreamHandshake(conn net.Conn, upR *bufio.Reader, r *http.Request, up *upstream) (*http.Response, error) {
	out := r.Header.Clone()
	for _, h := range out["Connection"] {
		for _, name := range strings.Split(h, ",") {
			if name = strings.TrimSpace(name); !strings.EqualFold(name, "upgrade") {
				out.Del(name)
			}
		}
	}
	for _, h := range []string{"Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Proxy-Authorization"} {
		out.Del(h)
	}
	out.Set("Connection", "Upgrade")
	out.Set("Upgrade", "websocket")
	g.setForwarded(r, out, up)
	host := up.target.Host
	if up == g.ui {
		host = r.Host
		g.filterStreamlitHeaders(out)
	}
	bw := bufio.NewWriterSize(conn, 4096)
	target := up.target.Path + r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	bw.WriteString("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	if err := out.Write(bw); err != nil {
		return nil, err
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return http.ReadResponse(upR, r)
}

// relayRejectedHandshake passes a refused upgrade (403 from Streamlit's Origin check, 404…)
// to the browser as the HTTP answer it is.
func (g *gateway) relayRejectedHandshake(w http.ResponseWriter, res *http.Response) {
	defer res.Body.Close()
	h := w.Header()
	for k, v := range res.Header {
		switch k {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Content-Length", "X-Request-Id":
			continue
		}
		h[k] = v
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, wsErrorBodyLimit))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.StatusCode)
	w.Write(body)
}

// writeSwitchingProtocols relays the upstream's 101 (its Sec-WebSocket-Accept answers the
// browser's key, which was forwarded untouched) with fluxlit's request id.
func writeSwitchingProtocols(bw *bufio.Writer, res *http.Response, id string) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	h := res.Header.Clone()
	h.Del("X-Request-Id")
	h.Set("X-Request-Id", id)
	if err := h.Write(bw); err != nil {
		return err
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// start runs the two pumps. The first to end passes the end on as a half-close and bounds
// the other with a deadline; the second closes both connections and calls done.
func (t *tunnel) start(done func()) {
	t.done = done
	go t.run(true)
	go t.run(false)
}

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
		deadline := time.Now().Add(wsCloseLinger)
		t.client.SetDeadline(deadline)
		t.upstream.SetDeadline(deadline)
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

// pumpUp copies client frames to the upstream. It parses frames (rather than splicing the
// two sockets) because Go's splice holds a pipe — two more descriptors — for every idle
// tunnel, which halved the number of tunnels a file limit allows (BENCHMARKS.md).
func (t *tunnel) pumpUp() string {
	err := copyFrames(t.upstream, t.clientR, t.maxMessage, &t.bytesUp, nil)
	if errors.Is(err, errMessageTooBig) {
		t.firstClose.CompareAndSwap(nil, "fluxlit")
		writeCloseFrame(t.upstream, wsCloseTooBig, "message too big", true)
		t.closeClient(wsCloseTooBig)
		return "fluxlit"
	}
	return "client"
}

// pumpDown copies upstream frames to the client, so that a close 1001 (on shutdown) or 1009
// (size limit) can be written between two frames.
func (t *tunnel) pumpDown() string {
	err := copyFrames(t.client, t.upstreamR, t.maxMessage, &t.bytesDown, &t.closeCode)
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

// copyFrames relays WebSocket frames from src to dst unchanged. Complete frames already in
// src's buffer go out in one write straight from that buffer (no copy, one syscall for a
// burst of small messages); a frame larger than the buffer is streamed through a pooled
// buffer taken only for that frame, so an idle tunnel holds none. It tracks message sizes
// across continuation frames when limit > 0, and when stop holds a close code and src's read
// deadline fires between two frames it returns errGoingAway with nothing half-written.
func copyFrames(dst io.Writer, src *bufio.Reader, limit int64, counter *atomic.Int64, stop *atomic.Int32) error {
	var message int64 // bytes of the current data message so far
	for {
		if _, err := src.Peek(1); err != nil {
			if stop != nil && stop.Load() != 0 && isTimeout(err) && src.Buffered() == 0 {
				return errGoingAway
			}
			return err
		}
		buf, _ := src.Peek(src.Buffered())
		n := 0
		for {
			hlen, plen, ok := parseFrameHeader(buf[n:])
			if !ok || int64(len(buf)-n-hlen) < plen {
				break
			}
			if err := countMessage(buf[n], plen, &message, limit); err != nil {
				return err
			}
			n += hlen + int(plen)
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return err
			}
			src.Discard(n)
			counter.Add(int64(n))
			continue
		}
		if err := copyLargeFrame(dst, src, &message, limit, counter); err != nil {
			return err
		}
	}
}

// copyLargeFrame relays one frame that is not wholly buffered: its header, then its payload
// through a pooled buffer.
func copyLargeFrame(dst io.Writer, src *bufio.Reader, message *int64, limit int64, counter *atomic.Int64) error {
	head, err := src.Peek(2)
	if err != nil {
		return err
	}
	hlen := frameHeaderLen(head)
	hdr, err := src.Peek(hlen)
	if err != nil {
		return err
	}
	_, plen, _ := parseFrameHeader(hdr)
	if err := countMessage(hdr[0], plen, message, limit); err != nil {
		return err
	}
	if _, err := dst.Write(hdr); err != nil {
		return err
	}
	src.Discard(hlen)
	buf := proxyBufferPool.Get().(*[]byte)
	defer proxyBufferPool.Put(buf)
	copied, err := io.CopyBuffer(dst, io.LimitReader(src, plen), *buf)
	counter.Add(int64(hlen) + copied)
	if err == nil && copied < plen {
		err = io.ErrUnexpectedEOF
	}
	return err
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
