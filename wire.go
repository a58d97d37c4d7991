// wire.go owns the HTTP/1.1 bytes fluxlit writes and reads itself on an upstream connection,
// for both engines: a request head under the hop rules (every request of the fast engine and
// every WebSocket handshake), and the one strict rule for an upstream's answer head and the
// framing it declares. The fast engine reads answers with it and relays bodies
// (fastpath_http1.go); the net/http engine's Transport reads through guardConn, which refuses
// the same answers before Go's reader sees them.

package main

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"time"
)

// maxResponseHead bounds an upstream response head (status line and headers): the same
// 64 KiB fluxlit accepts from clients. A bigger head is answered 502.
const maxResponseHead = 64 << 10

// Buffer sizes of an upstream connection. The reader takes a response head line by line, so
// 16 KiB bounds one header line (a big Set-Cookie fits); the writer takes a request head.
// 256 idle connections × 20 KiB is 5 MiB at most, less than the Transport's 32 KiB each way.
const (
	upReadBufferSize  = 16 << 10
	upWriteBufferSize = 4 << 10
)

var errUpstreamMalformed = errors.New("fluxlit: malformed upstream response")

// headerField is one header line; name and value point into the head they were parsed from.
type headerField struct{ name, value []byte }

// upConn is one HTTP/1.1 connection to an upstream, with its buffers.
type upConn struct {
	c         net.Conn
	r         io.Reader // under br: flushForAnswer's reader; its waits limited for a body
	w         io.Writer // under bw: its waits limited by gateway_upstream_send_timeout_s
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time // pooled connections (fastpath.go)
	reused    bool      // taken from the pool: it may have been closed by the upstream meanwhile
}

// attach makes c pc's connection, under pc's buffers, read and written as flushForAnswer needs.
func (pc *upConn) attach(c net.Conn) {
	r, w := newSocketReadWriter(c)
	pc.c, pc.r, pc.w = c, r, w
	pc.br.Reset(r)
	pc.bw.Reset(w)
}

// flushForAnswer sends the request as the read of its answer begins (flushOnRead), so the
// caller must read the answer next. With bytes already buffered (an upstream that said
// more than it was asked) the request is flushed now, as they would be read first.
func (pc *upConn) flushForAnswer() error {
	if pc.br.Buffered() > 0 {
		return pc.bw.Flush()
	}
	return flushOnRead(pc.bw, pc.r)
}

// upstreamHead is a request head as fluxlit writes it to an upstream. The client's header
// lines pass the hop rule (hopKeepRequestHeader), then fluxlit adds its own.
type upstreamHead struct {
	up            *upstream
	method        string
	path, query   string        // the path as the plan routes it (after the upstream's base path)
	websocket     bool          // the plan's tunnel: Connection and Upgrade are fluxlit's
	host          string        // the client's Host: kept on the Streamlit hop
	fields        []headerField // the client's header lines, in order
	connection    [][]byte      // the header names the client's Connection header lists
	contentLength int64         // the body's length; -1: none
	teTrailers    bool          // the client's Te names trailers: passed on, as ReverseProxy does
	id            string
	fwd           hopForwarded
	identity      http.Header // the verified JWT identity (X-Fluxlit-*), or nil
}

// writeUpstreamHead writes h to bw.
func (g *gateway) writeUpstreamHead(bw *bufio.Writer, h *upstreamHead) error {
	up := h.up
	toUI := !up.isAPI()
	bw.WriteString(h.method)
	bw.WriteByte(' ')
	bw.WriteString(up.target.Path)
	bw.WriteString(h.path)
	if h.query != "" {
		bw.WriteByte('?')
		bw.WriteString(h.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if toUI {
		bw.WriteString(h.host) // Streamlit compares Origin with Host: keep the browser's
	} else {
		bw.WriteString(up.target.Host)
	}
	bw.WriteString("\r\n")
	for _, fl := range h.fields {
		if hopKeepRequestHeader(g, fl.name, toUI) && !hopNamed(h.connection, fl.name) {
			writeField(bw, fl.name, fl.value)
		}
	}
	// Content-Length as Go's Transport writes it: for a body, and empty for the methods
	// servers expect a body with.
	if h.contentLength > 0 || h.method == http.MethodPost || h.method == http.MethodPut || h.method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		writeDecimal(bw, max(h.contentLength, 0))
		bw.WriteString("\r\n")
	}
	if h.teTrailers {
		bw.WriteString("Te: trailers\r\n")
	}
	writeHeaderLine(bw, "X-Forwarded-For", h.fwd.xff)
	writeHeaderLine(bw, "X-Forwarded-Host", h.fwd.host)
	writeHeaderLine(bw, "X-Forwarded-Proto", h.fwd.proto)
	writeHeaderLine(bw, "X-Forwarded-Port", h.fwd.port)
	writeHeaderLine(bw, "X-Forwarded-Prefix", h.fwd.prefix)
	writeHeaderLine(bw, "X-Request-Id", h.id)
	if h.identity != nil {
		for _, k := range slices.Sorted(maps.Keys(h.identity)) {
			for _, v := range h.identity[k] {
				writeHeaderLine(bw, k, v)
			}
		}
	}
	if h.websocket {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: websocket\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeDecimal writes n >= 0 in decimal, a byte at a time: a digit buffer handed to Write
// would escape (an allocation per request).
func writeDecimal(bw *bufio.Writer, n int64) {
	div := int64(1)
	for div <= n/10 {
		div *= 10
	}
	for ; div > 0; div /= 10 {
		bw.WriteByte(byte('0' + n/div%10))
	}
}

// hopNamed reports whether name is among names (the tokens of a Connection header).
func hopNamed[T ~string | ~[]byte](names [][]byte, name T) bool {
	for _, n := range names {
		if asciiEqualFold(name, n) {
			return true
		}
	}
	return false
}

func writeField(bw *bufio.Writer, name, value []byte) {
	bw.Write(name)
	bw.WriteString(": ")
	bw.Write(value)
	bw.WriteString("\r\n")
}

// writeHeaderLine writes "name: value" unless value is empty.
func writeHeaderLine(bw *bufio.Writer, name, value string) {
	if value == "" {
		return
	}
	bw.WriteString(name)
	bw.WriteString(": ")
	bw.WriteString(value)
	bw.WriteString("\r\n")
}

// writeStatusLine writes "HTTP/1.1 <code> <text>" with net/http's text for the code, as Go's
// server writes it: the upstream's reason phrase never reaches the client.
func writeStatusLine(bw *bufio.Writer, status int) {
	bw.WriteString("HTTP/1.1 ")
	// Three digits as bytes: a [3]byte handed to Write escapes (one allocation per response).
	bw.WriteByte(byte('0' + status/100%10))
	bw.WriteByte(byte('0' + status/10%10))
	bw.WriteByte(byte('0' + status%10))
	bw.WriteByte(' ')
	if text := http.StatusText(status); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		bw.WriteByte(byte('0' + status/100%10))
		bw.WriteByte(byte('0' + status/10%10))
		bw.WriteByte(byte('0' + status%10))
	}
	bw.WriteString("\r\n")
}

// upResponse is a parsed upstream response head; fields point into raw.
type upResponse struct {
	raw           []byte
	status        int
	http11        bool
	fields        []headerField
	contentLength int64 // -1: none
	chunked       bool
	close         bool     // the upstream will close: do not pool the connection
	connection    [][]byte // the header names its Connection header lists
}

// interim reports whether the head is an interim (1xx) answer, which a final one follows.
// 101 is final: the connection is the upgraded protocol's after it.
func (res *upResponse) interim() bool {
	return res.status < 200 && res.status != http.StatusSwitchingProtocols
}

// next reads the next response head, interim or final, from pc. The caller bounds the read
// with a deadline on pc.c.
func (res *upResponse) next(pc *upConn) error {
	if err := res.readHead(pc.br); err != nil {
		return err
	}
	if !res.parse() {
		return errUpstreamMalformed
	}
	return nil
}

// readFinal reads up to the final head within timeout (0: no limit), skipping interim answers
// (the WebSocket handshake's). A 101 is an error unless upgrade: fluxlit asked for none then.
func (res *upResponse) readFinal(pc *upConn, timeout time.Duration, upgrade bool) error {
	pc.c.SetReadDeadline(deadlineAfter(timeout))
	defer pc.c.SetReadDeadline(time.Time{})
	for {
		if err := res.next(pc); err != nil {
			return err
		}
		switch {
		case res.status == http.StatusSwitchingProtocols && !upgrade:
			return errUpstreamMalformed
		case !res.interim():
			return nil
		}
	}
}

// readHead collects the head's lines, up to the empty one, into raw: at most maxResponseHead
// bytes, whatever the reader's buffer holds at once.
func (res *upResponse) readHead(br *bufio.Reader) error {
	res.raw = res.raw[:0]
	lineStart := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(res.raw)+len(chunk) > maxResponseHead {
			return errUpstreamMalformed
		}
		res.raw = append(res.raw, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue // a line longer than the buffer: the rest follows
		case err != nil:
			return err
		}
		line := res.raw[lineStart:]
		if len(line) == 2 && line[0] == '\r' || len(line) == 1 {
			return nil
		}
		lineStart = len(res.raw)
	}
}

// parse parses raw under the one strict rule for an upstream's answer, both engines' (the
// net/http engine's Transport reads through guardConn): "HTTP/1.x NNN reason" with no control
// byte in the reason, header lines that net/http would also read (CRLF or bare LF), and
// framing that says one thing. It fails for an ambiguous answer: Content-Length with chunked,
// differing Content-Lengths, a transfer coding other than chunked, or chunked in an HTTP/1.0
// answer (RFC 9112 §6.1 and §6.3: such framing is faulty, and the bytes after it could be
// read as the next answer).
func (res *upResponse) parse() bool {
	*res = upResponse{raw: res.raw, fields: res.fields[:0], connection: res.connection[:0], contentLength: -1}
	b := res.raw
	line, b := cutLine(b)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return false
	}
	res.http11 = line[7] == '1'
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return false
		}
		res.status = res.status*10 + int(c-'0')
	}
	if res.status < 100 {
		return false
	}
	for _, c := range line[12:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	res.close = !res.http11
	transferEncodings := 0
	for {
		line, b = cutLine(b)
		if len(line) == 0 {
			break
		}
		name, value, ok := parseFieldLine(line)
		if !ok || !res.noteField(name, value, &transferEncodings) {
			return false
		}
		res.fields = append(res.fields, headerField{name, value})
	}
	if transferEncodings > 0 && (transferEncodings > 1 || !res.chunked || res.contentLength >= 0 || !res.http11) {
		return false
	}
	return true
}

func (res *upResponse) noteField(name, value []byte, transferEncodings *int) bool {
	switch {
	case asciiEqualFold(name, "Content-Length"):
		n, ok := parseLength(value)
		if !ok || (res.contentLength >= 0 && n != res.contentLength) {
			return false
		}
		res.contentLength = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		*transferEncodings++
		res.chunked = asciiEqualFold(value, "chunked")
	case asciiEqualFold(name, "Connection"):
		for len(value) > 0 {
			var tok []byte
			tok, value = nextToken(value)
			if asciiEqualFold(tok, "close") {
				res.close = true
			} else if asciiEqualFold(tok, "keep-alive") && !res.http11 {
				res.close = false
			}
			if len(tok) > 0 {
				res.connection = append(res.connection, tok)
			}
		}
	}
	return true
}

// bodyAllowed reports whether a response to method with status has a body (RFC 9112 §6.3):
// none for HEAD, 1xx, 204 and 304, whatever its headers say.
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// maxChunkLine bounds a chunk-size line, extensions included: Go's chunked reader refuses a
// longer one (net/http/internal's maxLineLength), so the rule does too.
const maxChunkLine = 4096

// chunkSize parses a chunk-size line, "<hex>[;ext]\r\n". Sizes are capped at 2^60 so that
// they never overflow.
func chunkSize(line []byte) (int64, bool) {
	if len(line) > maxChunkLine {
		return 0, false
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if i >= 15 {
			return 0, false
		}
		size = size<<4 | int64(d)
	}
end:
	if i == 0 {
		return 0, false
	}
	rest := line[i : len(line)-2]
	if len(rest) > 0 && rest[0] != ';' && rest[0] != ' ' && rest[0] != '\t' {
		return 0, false
	}
	for _, c := range rest {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return size, true
}

// trailerLineOK reports whether line, a trailer section's line with its line end, is one
// net/http would also read: the CRLF that ends the section, or a field line ending in CRLF.
// Any other ("o\r\n", a bare LF) makes the answer's end a guess, and the bytes after it
// could be read as the next answer.
func trailerLineOK(line []byte) bool {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return false
	}
	if len(line) == 2 {
		return true
	}
	_, _, ok := parseFieldLine(line[:len(line)-2])
	return ok
}

// has reports whether the response has a header called name.
func (res *upResponse) has(name string) bool {
	for _, fl := range res.fields {
		if asciiEqualFold(fl.name, name) {
			return true
		}
	}
	return false
}

// cutLine splits off one line, without its CRLF or LF.
func cutLine(b []byte) (line, rest []byte) {
	i := indexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

// parseLength accepts 1-18 decimal digits: no sign, no spaces, no overflow.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseFieldLine splits "name: value" (no CRLF). The name must be a token directly followed
// by ':'; the value loses its surrounding blanks and may hold no control byte but HTAB. A line
// starting with a blank (obs-fold) fails: its name is empty.
func parseFieldLine(line []byte) (name, value []byte, ok bool) {
	colon := indexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !tokenByte(c) {
			return nil, nil, false
		}
	}
	value = line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// tokenByte reports whether c may appear in a header name (RFC 9110 §5.6.2 tchar).
func tokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// nextToken returns the first comma-separated element of v, trimmed, and the rest.
func nextToken(v []byte) (tok, rest []byte) {
	if i := indexByte(v, ','); i >= 0 {
		tok, rest = v[:i], v[i+1:]
	} else {
		tok = v
	}
	for len(tok) > 0 && (tok[0] == ' ' || tok[0] == '\t') {
		tok = tok[1:]
	}
	for len(tok) > 0 && (tok[len(tok)-1] == ' ' || tok[len(tok)-1] == '\t') {
		tok = tok[:len(tok)-1]
	}
	return tok, rest
}

func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v = nextToken(v)
		if asciiEqualFold(tok, token) {
			return true
		}
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// guardConn is an upstream connection under Go's Transport, the net/http engine's. It follows
// every answer the way the fast engine reads it: the head passes parse (Go's own reader takes
// some answers the rule refuses, Content-Length with chunked among them, and removes the
// evidence before anyone sees the response), and the body its framing, so it knows where the
// answer ends. A refused head fails the read: the Transport fails the request and the client
// gets the same 502 as from the fast engine. Bytes past an answer's end (a body on a HEAD, 204
// or 304 answer, bytes past Content-Length or the last chunk) are cut off and every later read
// fails: Go's Transport drops a connection that says something unasked, but only once its
// read loop looks, and a request that takes the connection from the pool first would read
// them as its answer. A malformed chunk fails the read, so the answer is cut as in the fast
// engine.
type guardConn struct {
	net.Conn
	mu      sync.Mutex // a request's GotConn (arm) against the read loop
	state   guardState
	method  string // of the request whose answer is expected
	left    int64  // bytes of the body, or of the chunk, still to come
	res     upResponse
	lineLen int  // the head's current line, as far as read
	lineCR  bool // it is a lone CR so far
	line    []byte
	trailer int  // trailer bytes so far
	started bool // bytes of the current answer went to the Transport
	failed  bool // every read fails from now on
}

type guardState uint8

const (
	guardIdle       guardState = iota // no answer expected: a byte now came unasked
	guardHead                         // an answer's head (after interim answers)
	guardBody                         // a body of known length
	guardChunkLine                    // a chunk-size line
	guardChunkData                    // chunk data
	guardChunkEnd                     // the CRLF after chunk data
	guardTrailer                      // trailer lines, up to the empty one
	guardUntilClose                   // a body that ends with the connection
)

// guardedTransport is the Transport whose connections are guardConns: each request arms the
// connection it gets with its method (GotConn comes before the request is written, so before
// any byte of its answer can arrive), whoever sends it (ReverseProxy, the readiness probe).
type guardedTransport struct{ *http.Transport }

func (t guardedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	method := r.Method
	return t.Transport.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if c, ok := info.Conn.(*guardConn); ok {
				c.arm(method)
			}
		},
	})))
}

func (c *guardConn) arm(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.method, c.state, c.started = method, guardHead, false
	c.res.raw, c.lineLen, c.lineCR = c.res.raw[:0], 0, false
}

// Read passes on what belongs to the expected answer. When an answer's head is refused, its
// first byte still reaches the Transport: a read that fails before any byte of an answer is
// how the Transport learns that the upstream closed an idle connection, and it then sends the
// request again on a new one (the fast engine sends a request again only then, too).
func (c *guardConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if failed {
		return 0, errUpstreamMalformed
	}
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	started := c.started
	keep, ok := c.follow(p[:n])
	switch {
	case ok && keep == n:
		return n, err
	case ok && keep > 0:
		// The answer ended and more came with it: the answer goes on, with io.EOF, which
		// keeps the Transport from putting the connection back in its pool when the body
		// ends (it looks for a read's EOF, not for bytes its read loop has not seen yet).
		c.failed = true
		return keep, io.EOF
	case keep > 0:
		// What came before a break (a bad chunk) goes on, so the Transport gets the answer
		// as far as it is good; the next read fails.
		c.failed = true
		return keep, nil
	case !ok && !started:
		c.failed = true
		return 1, nil
	}
	c.failed = true
	return 0, errUpstreamMalformed
}

// follow walks b through the expected answer: keep is how many of its bytes belong to it and
// are good (those after came past its end, or break the rule: then ok is false).
func (c *guardConn) follow(b []byte) (keep int, ok bool) {
	i := 0
	for i < len(b) {
		if c.state != guardIdle {
			c.started = true
		}
		switch c.state {
		case guardIdle:
			return i, true
		case guardUntilClose:
			return len(b), true
		case guardHead:
			start, end := i, c.headEnd(b[i:])
			n := end
			if end < 0 {
				n = len(b) - i
			}
			if len(c.res.raw)+n > maxResponseHead {
				return start, false
			}
			c.res.raw = append(c.res.raw, b[i:i+n]...)
			i += n
			if end < 0 {
				return i, true
			}
			ok := c.res.parse()
			c.res.raw = c.res.raw[:0]
			if !ok || c.res.status == http.StatusSwitchingProtocols {
				return start, false // (fluxlit asks for no upgrade through the Transport)
			}
			c.afterHead()
		case guardBody, guardChunkData:
			k := int(min(c.left, int64(len(b)-i)))
			i += k
			c.left -= int64(k)
			switch {
			case c.left > 0:
			case c.state == guardBody:
				c.state = guardIdle
			default:
				c.state = guardChunkEnd
			}
		default: // a line: chunk size, the CRLF after chunk data, or a trailer
			start, j := i, indexByte(b[i:], '\n')
			n := j + 1
			if j < 0 {
				n = len(b) - i
			}
			limit := maxChunkLine
			if c.state == guardTrailer {
				limit = upReadBufferSize // the fast engine reads a trailer line within its buffer
			}
			if len(c.line)+n > limit {
				return start, false
			}
			c.line = append(c.line, b[i:i+n]...)
			i += n
			if j >= 0 && !c.endLine() {
				return start, false
			}
		}
	}
	return i, true
}

// afterHead sets the state the parsed head's framing says comes next.
func (c *guardConn) afterHead() {
	res := &c.res
	switch {
	case res.interim():
		// the final head follows
	case !bodyAllowed(c.method, res.status):
		c.state = guardIdle
	case res.chunked:
		c.state, c.line = guardChunkLine, c.line[:0]
	case res.contentLength >= 0:
		c.state, c.left = guardBody, res.contentLength
		if c.left == 0 {
			c.state = guardIdle
		}
	default:
		c.state = guardUntilClose
	}
}

// endLine judges a complete line in c.line by the state it ends, as the fast engine's
// relay of a chunked body does (fastRelayChunked), and moves on.
func (c *guardConn) endLine() bool {
	line := c.line
	c.line = c.line[:0]
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return false
	}
	switch c.state {
	case guardChunkLine:
		size, ok := chunkSize(line)
		switch {
		case !ok:
			return false
		case size == 0:
			c.state, c.trailer = guardTrailer, 0
		default:
			c.state, c.left = guardChunkData, size
		}
	case guardChunkEnd:
		if len(line) != 2 {
			return false
		}
		c.state = guardChunkLine
	case guardTrailer:
		c.trailer += len(line)
		if c.trailer > maxResponseHead || !trailerLineOK(line) {
			return false
		}
		if len(line) == 2 {
			c.state = guardIdle
		}
	}
	return true
}

// headEnd returns how many bytes of b complete the head being collected, up to and including
// its empty line (CRLF or a bare LF, as readHead takes it), or -1; it follows the current line
// across reads.
func (c *guardConn) headEnd(b []byte) int {
	for i, ch := range b {
		if ch != '\n' {
			c.lineLen++
			c.lineCR = c.lineLen == 1 && ch == '\r'
			continue
		}
		empty := c.lineLen == 0 || c.lineLen == 1 && c.lineCR
		c.lineLen, c.lineCR = 0, false
		if empty {
			return i + 1
		}
	}
	return -1
}
