//go:build !nofastpath

// fastpath_http1.go owns the fast engine's HTTP/1.1 wire format towards the client: the strict
// parser of the client's request head (anything it does not fully understand makes it say
// "not mine", and net/http gets the connection), and the relay of response bodies in the
// framing the upstream's head declared (Content-Length, chunked, until close). The upstream's
// head itself is read by wire.go, as for the net/http engine's WebSocket handshakes.

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// fastRequest is a parsed request head. The strings are the request's own; fields point into raw.
type fastRequest struct {
	raw           []byte // the head, copied out of the read buffer
	method        string
	path, query   string
	host          string
	prevHost      string // the previous request's Host on this connection (kept by the reset)
	requestID     string // the client's first X-Request-Id, unvalidated
	contentLength int64  // -1: no Content-Length
	close         bool   // Connection: close
	hasOrigin     bool
	teTrailers    bool // Te names "trailers": forwarded as ReverseProxy does
	upgradeWS     bool // Upgrade: websocket
	connUpgrade   bool // Connection names "upgrade"
	fields        []headerField
	connection    [][]byte // the names its Connection header lists
	cookies       [][]byte // the values of its Cookie headers
	idempotent    bool     // Idempotency-Key or X-Idempotency-Key: the client says it may be sent twice
}

// fastMethods are the methods the fast path forwards; the strings are constants, so a
// parsed method costs no allocation.
var fastMethods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fastHeadEnd finds the end of a request head in buf: the index after "\r\n\r\n", or -1 when
// more bytes are needed. bad is true for bytes the fast path will not judge: a bare LF or a
// NUL (net/http decides what those mean).
func fastHeadEnd(buf []byte) (end int, bad bool) {
	for i, c := range buf {
		switch c {
		case 0:
			return -1, true
		case '\n':
			if i == 0 || buf[i-1] != '\r' {
				return -1, true
			}
			if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
				return i + 1, false
			}
		}
	}
	return -1, false
}

// fastParseRequest parses head (a complete head as fastHeadEnd delimits it) into req, keeping
// a copy. It returns false for anything outside the fast path's strict subset; such requests
// are handed to net/http, which parses them its own way.
func fastParseRequest(head []byte, req *fastRequest) bool {
	req.raw = append(req.raw[:0], head...)
	*req = fastRequest{raw: req.raw, fields: req.fields[:0], connection: req.connection[:0], cookies: req.cookies[:0], contentLength: -1, prevHost: req.host}
	b := req.raw
	eol := indexCRLF(b)
	if eol < 0 || !req.parseRequestLine(b[:eol]) {
		return false
	}
	b = b[eol+2:]
	hosts, lengths := 0, 0
	for {
		eol = indexCRLF(b)
		if eol < 0 {
			return false
		}
		if eol == 0 {
			break
		}
		name, value, ok := parseFieldLine(b[:eol])
		if !ok || !req.noteField(name, value, &hosts, &lengths) {
			return false
		}
		req.fields = append(req.fields, headerField{name, value})
		b = b[eol+2:]
	}
	// A WebSocket handshake is a GET without a body that names the upgrade in both headers;
	// any other mix (an h2c upgrade, Upgrade without Connection) is net/http's to answer.
	if req.upgradeWS != req.connUpgrade || req.upgradeWS && (req.method != http.MethodGet || req.contentLength >= 0) {
		return false
	}
	return hosts == 1
}

// parseRequestLine accepts "METHOD /origin-form?query HTTP/1.1" with single spaces.
func (req *fastRequest) parseRequestLine(line []byte) bool {
	sp := indexByte(line, ' ')
	if sp < 0 {
		return false
	}
	for _, m := range fastMethods {
		if string(line[:sp]) == m {
			req.method = m
		}
	}
	rest := line[sp+1:]
	sp = indexByte(rest, ' ')
	if req.method == "" || sp < 1 || string(rest[sp+1:]) != "HTTP/1.1" {
		return false
	}
	target := rest[:sp]
	if target[0] != '/' {
		return false
	}
	path, query := target, []byte(nil)
	if q := indexByte(target, '?'); q >= 0 {
		path, query = target[:q], target[q+1:]
	}
	if !fastValidPath(path) || !fastValidQuery(query) {
		return false
	}
	req.path = string(path)
	if len(query) > 0 {
		req.query = string(query)
	}
	return true
}

// fastValidPath accepts the path bytes that the handler path sends upstream unchanged: it
// decodes the path and re-escapes it (url.URL.EscapedPath), so only bytes that escaping
// leaves alone are taken. '%' is not among them: an encoded path is net/http's.
func fastValidPath(p []byte) bool {
	for _, c := range p {
		if !fastPathByte(c) {
			return false
		}
	}
	return true
}

func fastPathByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '$', '&', '+', ',', '/', ':', ';', '=', '@':
		return true
	}
	return false
}

// fastValidQuery accepts visible ASCII without '#', with well-formed %XX escapes and no ';'.
// ReverseProxy re-encodes a query that url.ParseQuery rejects (';', a bad escape), so such a
// query is net/http's too.
func fastValidQuery(q []byte) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c <= ' ' || c >= 0x7f || c == '#' || c == ';':
			return false
		case c == '%':
			if i+2 >= len(q) || !isHexDigit(q[i+1]) || !isHexDigit(q[i+2]) {
				return false
			}
		}
	}
	return true
}

// noteField checks one header against the fast path's rules and records what matters.
func (req *fastRequest) noteField(name, value []byte, hosts, lengths *int) bool {
	switch {
	case asciiEqualFold(name, "Host"):
		*hosts++
		if !fastValidHost(value) {
			return false
		}
		// A keep-alive client sends the same Host every time: reuse the string, not a copy.
		req.host = req.prevHost
		if string(value) != req.host {
			req.host = string(value)
		}
	case asciiEqualFold(name, "Content-Length"):
		*lengths++
		n, ok := parseLength(value)
		if !ok || *lengths > 1 {
			return false
		}
		req.contentLength = n
	case asciiEqualFold(name, "Upgrade"):
		if req.upgradeWS || !asciiEqualFold(value, "websocket") {
			return false
		}
		req.upgradeWS = true
	case asciiEqualFold(name, "Transfer-Encoding"), asciiEqualFold(name, "Expect"):
		return false
	case asciiEqualFold(name, "Connection"):
		return req.noteConnection(value)
	case asciiEqualFold(name, "Origin"):
		req.hasOrigin = true
	case asciiEqualFold(name, "Cookie"):
		req.cookies = append(req.cookies, value)
	case asciiEqualFold(name, "X-Request-Id"):
		if req.requestID == "" && validRequestID(string(value)) {
			req.requestID = string(value)
		}
	case asciiEqualFold(name, "Idempotency-Key"), asciiEqualFold(name, "X-Idempotency-Key"):
		req.idempotent = true
	case asciiEqualFold(name, "Te"):
		req.teTrailers = req.teTrailers || hasToken(value, "trailers")
	}
	return true
}

// replayable reports whether the request may be sent again after its connection failed: a
// GET or HEAD, or one the client marked idempotent, without a body (Go's
// Request.isReplayable, which decides for the net/http engine).
func (req *fastRequest) replayable() bool {
	return req.contentLength <= 0 && (req.method == http.MethodGet || req.method == http.MethodHead || req.idempotent)
}

// noteConnection accepts only the keep-alive, close and upgrade tokens: anything else names
// headers, which net/http handles.
func (req *fastRequest) noteConnection(value []byte) bool {
	for len(value) > 0 {
		var tok []byte
		tok, value = nextToken(value)
		switch {
		case len(tok) == 0:
			continue
		case asciiEqualFold(tok, "keep-alive"):
		case asciiEqualFold(tok, "close"):
			req.close = true
		case asciiEqualFold(tok, "upgrade"):
			req.connUpgrade = true
		default:
			return false
		}
		req.connection = append(req.connection, tok)
	}
	return true
}

// forwardingHeader is the header map resolveForwarded reads when proxy trust is on: the
// forwarding headers under net/http's canonical names, lines in order.
func (req *fastRequest) forwardingHeader() http.Header {
	h := http.Header{}
	for _, fl := range req.fields {
		for _, k := range [...]string{"X-Forwarded-For", "Forwarded", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix"} {
			if asciiEqualFold(fl.name, k) {
				h[k] = append(h[k], string(fl.value))
			}
		}
	}
	return h
}

// fastValidHost accepts a host name, an IPv4 address or a bracketed IPv6 one, with a port.
func fastValidHost(v []byte) bool {
	if len(v) == 0 || len(v) > fwdMaxHostLen {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

// fastCopyBody copies exactly n body bytes from src (read through sbr) to dst (written through
// dbw) and returns how many it moved. A body that fits the writer's free space joins the head
// in one write; a bigger one goes through the buffers only for what is already buffered,
// then socket to socket (copyStream, within waits; the buffers' own socket reader and writer
// have theirs).
func fastCopyBody(dst net.Conn, dbw *bufio.Writer, src net.Conn, sbr *bufio.Reader, n int64, waits copyWaits) (int64, error) {
	if n <= int64(dbw.Available()) {
		return copyBuffered(dbw, sbr, n)
	}
	m := min(int64(sbr.Buffered()), n)
	if moved, err := copyBuffered(dbw, sbr, m); err != nil {
		return moved, err
	}
	if err := dbw.Flush(); err != nil {
		return 0, err
	}
	k, err := copyStream(dst, src, n-m, waits)
	return m + k, err
}

// copyBuffered moves n bytes from sbr to dbw through their buffers, as io.CopyN would (io.EOF
// if sbr ends first) without the LimitedReader it allocates for every small response, and
// returns how many it moved. It reads sbr only when sbr holds none of them, so n <=
// sbr.Buffered() moves what is there.
func copyBuffered(dbw *bufio.Writer, sbr *bufio.Reader, n int64) (int64, error) {
	var moved int64
	for moved < n {
		if sbr.Buffered() == 0 {
			if _, err := sbr.Peek(1); err != nil {
				return moved, err
			}
		}
		m := int(min(int64(sbr.Buffered()), n-moved))
		p, _ := sbr.Peek(m)
		if _, err := dbw.Write(p); err != nil {
			return moved, err
		}
		sbr.Discard(m)
		moved += int64(m)
	}
	return moved, nil
}

// fastCopyUntilClose relays a body that ends when the upstream closes (no Content-Length, not
// chunked). The client connection is closed afterwards: that is how the client learns where
// the body ends, and it keeps every byte flowing as it arrives (no re-chunking).
func fastCopyUntilClose(dst net.Conn, dbw *bufio.Writer, src net.Conn, sbr *bufio.Reader, waits copyWaits) (int64, error) {
	n, err := copyBuffered(dbw, sbr, int64(sbr.Buffered()))
	if err == nil {
		err = dbw.Flush()
	}
	if err != nil {
		return n, err
	}
	m, err := copyStream(dst, src, -1, waits)
	return n + m, err
}

// fastRelayChunked relays a chunked body verbatim (sizes, extensions, trailers), parsing the
// sizes to find its end. The client buffer is flushed whenever the upstream has nothing more
// buffered, so server-sent events and other streams reach the client event by event. n counts
// the data bytes, as the handler path's access record does.
func fastRelayChunked(dbw *bufio.Writer, sbr *bufio.Reader) (n int64, err error) {
	for {
		line, err := fastReadLine(dbw, sbr)
		if err != nil {
			return n, err
		}
		size, ok := chunkSize(line)
		if !ok {
			return n, errUpstreamMalformed
		}
		if size == 0 {
			return n, fastRelayLastChunk(dbw, sbr, line)
		}
		dbw.Write(line)
		m, err := io.CopyN(dbw, sbr, size)
		n += m
		if err != nil {
			return n, err
		}
		crlf, err := fastReadLine(dbw, sbr)
		if err != nil {
			return n, err
		}
		if len(crlf) != 2 {
			return n, errUpstreamMalformed
		}
		dbw.Write(crlf)
	}
}

// fastRelayLastChunk relays the last chunk's line and the trailer section after it, up to its
// empty line, bounded like a head. None of it goes out before the section has ended with every
// line good (trailerLineOK): an answer cut or malformed there reaches the client as a body
// that did not end, as from the net/http engine, never as one that looks complete. Only an
// answer with trailers or a last-chunk extension is held in a buffer of its own.
func fastRelayLastChunk(dbw *bufio.Writer, sbr *bufio.Reader, last []byte) error {
	var held []byte // what differs from "0\r\n\r\n", until the empty line
	if string(last) != "0\r\n" {
		held = append(held, last...)
	}
	for total := 0; ; {
		line, err := readCRLFLine(sbr)
		if err != nil {
			return err
		}
		total += len(line)
		if total > maxResponseHead || !trailerLineOK(line) {
			return errUpstreamMalformed
		}
		if len(line) == 2 {
			if held == nil {
				dbw.WriteString("0\r\n")
			}
			dbw.Write(held)
			dbw.WriteString("\r\n")
			return nil
		}
		if held == nil {
			held = append(held, "0\r\n"...)
		}
		held = append(held, line...)
	}
}

// fastReadLine reads one CRLF-terminated line from the upstream, flushing the client first
// when the read would wait.
func fastReadLine(dbw *bufio.Writer, sbr *bufio.Reader) ([]byte, error) {
	if sbr.Buffered() == 0 {
		if err := dbw.Flush(); err != nil {
			return nil, err
		}
	}
	return readCRLFLine(sbr)
}

// readCRLFLine reads one line from the upstream, which must end in CRLF and fit its buffer.
func readCRLFLine(sbr *bufio.Reader) ([]byte, error) {
	line, err := sbr.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errUpstreamMalformed
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errUpstreamMalformed
	}
	return line, nil
}
