// wsclient_test.go owns a minimal hand-written WebSocket client (RFC 6455) for tests, so they can
// see exactly what crossed the proxy: the raw handshake response (403/502 instead of 101), every
// frame incl. pings and close codes. It also owns the few protobuf bytes needed to drive one
// Streamlit session (BackMsg rerun_script in, ForwardMsgs out). Identifiers are prefixed wsc.

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Opcodes (RFC 6455 section 5.2).
const (
	wscOpContinuation byte = 0x0
	wscOpText         byte = 0x1
	wscOpBinary       byte = 0x2
	wscOpClose        byte = 0x8
	wscOpPing         byte = 0x9
	wscOpPong         byte = 0xA
)

const (
	// wscGUID is the fixed string the server appends to Sec-WebSocket-Key (RFC 6455 1.3).
	wscGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	// wscDialTimeout bounds the TCP connect plus the handshake: loopback answers in
	// milliseconds, a proxy waiting for a slow backend in seconds.
	wscDialTimeout = 15 * time.Second
	// wscMaxMessage caps one (reassembled) message so a broken peer cannot exhaust memory;
	// Streamlit's own default limit is 200 MB, and tests send far less.
	wscMaxMessage = 256 << 20
	// wscMaxErrorBody caps how much of a failed handshake's body is kept for assertions.
	wscMaxErrorBody = 1 << 20
	// wscCloseWait bounds the write of our close frame in Close.
	wscCloseWait = time.Second
)

// wsConn is a client connection after a 101. br keeps whatever the server sent right after the
// 101 (frames may arrive in the same TCP segment as the handshake answer).
type wsConn struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex // one frame at a time on the wire

	// autoPong answers pings inside ReadMessage (the default). When false, pings are returned
	// to the caller as opcode 9 and not answered.
	autoPong bool
	// pings and pongs count the control frames ReadMessage has seen, so a test can assert that
	// a proxy passed Streamlit's 1 s pings through.
	pings, pongs int

	closeOnce sync.Once
}

// dialWS opens a WebSocket to rawURL (ws://, wss://, http:// or https://). hdr adds headers and
// may override the defaults (Host, Origin, Sec-WebSocket-Key, Sec-WebSocket-Version, Upgrade,
// Connection; a nil value list drops that default). resp is returned whenever the server answered: for a non-101 its Body holds the
// (capped) body and err says so; for a 101 with a bad Sec-WebSocket-Accept, err says that.
// TLS is not verified (tests use self-signed loopback certificates). The connection is closed
// at t.Cleanup if the test has not closed it.
func dialWS(t *testing.T, rawURL string, hdr http.Header) (*wsConn, *http.Response, error) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("dialWS %q: %w", rawURL, err)
	}
	secure := false
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		secure = true
	default:
		return nil, nil, fmt.Errorf("dialWS %q: scheme must be ws, wss, http or https", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[bool]string{false: "80", true: "443"}[secure])
	}
	conn, err := net.DialTimeout("tcp", addr, wscDialTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("dialWS %s: %w", addr, err)
	}
	if secure {
		conn = tls.Client(conn, &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: true})
	}
	_ = conn.SetDeadline(time.Now().Add(wscDialTimeout))

	key := hdr.Get("Sec-WebSocket-Key")
	if key == "" {
		var nonce [16]byte
		_, _ = rand.Read(nonce[:])
		key = base64.StdEncoding.EncodeToString(nonce[:])
	}
	req := wscHandshakeRequest(u, key, hdr)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("dialWS %s: write handshake: %w", rawURL, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("dialWS %s: read handshake response: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, wscMaxErrorBody))
		resp.Body.Close()
		conn.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, fmt.Errorf("dialWS %s: handshake answered %s", rawURL, resp.Status)
	}
	resp.Body = http.NoBody // a 101 has no body; the bytes after it are frames, left in br
	if err := wscCheckUpgrade(resp, key); err != nil {
		conn.Close()
		return nil, resp, fmt.Errorf("dialWS %s: %w", rawURL, err)
	}
	_ = conn.SetDeadline(time.Time{})
	c := &wsConn{conn: conn, br: br, autoPong: true}
	t.Cleanup(func() { c.Close() })
	return c, resp, nil
}

// wscHandshakeRequest builds the GET request; headers in hdr replace the defaults of the same
// name, so a test can send a deliberately wrong handshake.
func wscHandshakeRequest(u *url.URL, key string, hdr http.Header) []byte {
	h := http.Header{
		"Host":                  {u.Host},
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Key":     {key},
		"Sec-Websocket-Version": {"13"},
	}
	for name, values := range hdr {
		h[http.CanonicalHeaderKey(name)] = values
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", u.RequestURI())
	fmt.Fprintf(&b, "Host: %s\r\n", h.Get("Host"))
	h.Del("Host")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// wscAcceptKey is the Sec-WebSocket-Accept value the server must return for key.
func wscAcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + wscGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wscCheckUpgrade verifies the 101's Upgrade, Connection and Sec-WebSocket-Accept.
func wscCheckUpgrade(resp *http.Response, key string) error {
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return fmt.Errorf("101 without Upgrade: websocket (got %q)", resp.Header.Get("Upgrade"))
	}
	if !wscHeaderHasToken(resp.Header, "Connection", "upgrade") {
		return fmt.Errorf("101 without Connection: upgrade (got %q)", resp.Header.Values("Connection"))
	}
	if got, want := resp.Header.Get("Sec-Websocket-Accept"), wscAcceptKey(key); got != want {
		return fmt.Errorf("Sec-WebSocket-Accept %q; want %q", got, want)
	}
	return nil
}

// wscHeaderHasToken reports whether a comma-separated header contains token (case-insensitive).
func wscHeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// WriteMessage sends payload as one final, masked frame.
func (c *wsConn) WriteMessage(opcode byte, payload []byte) error {
	return c.writeFrame(true, opcode, payload)
}

// writeFrame sends one masked frame; fin=false plus opcode 0 frames make a fragmented message.
func (c *wsConn) writeFrame(fin bool, opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wscDialTimeout))
	_, err := c.conn.Write(wscEncodeFrame(fin, opcode, payload))
	return err
}

// wscEncodeFrame encodes a client frame: clients must mask (RFC 6455 5.3).
func wscEncodeFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode & 0x0F
	if fin {
		b0 |= 0x80
	}
	frame := []byte{b0}
	n := len(payload)
	switch {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xFFFF:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame = append(frame, mask[:]...)
	for i, p := range payload {
		frame = append(frame, p^mask[i%4])
	}
	return frame
}

// ReadMessage returns the next message within timeout, reassembling fragments. Pings are
// answered and skipped when autoPong is set (else returned as opcode 9); pongs are skipped; a
// close frame is returned as opcode 8 with its payload (code + reason, see wscCloseCode).
func (c *wsConn) ReadMessage(timeout time.Duration) (opcode byte, payload []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var msg []byte
	msgOp := byte(0)
	for {
		fin, op, data, err := wscReadFrame(c.br, wscMaxMessage)
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case wscOpPing:
			c.pings++
			if !c.autoPong {
				return op, data, nil
			}
			if err := c.WriteMessage(wscOpPong, data); err != nil {
				return 0, nil, fmt.Errorf("answer ping: %w", err)
			}
			continue
		case wscOpPong:
			c.pongs++
			continue
		case wscOpClose:
			return op, data, nil
		case wscOpContinuation:
			if msgOp == 0 {
				return 0, nil, errors.New("websocket: continuation frame without a start")
			}
		case wscOpText, wscOpBinary:
			if msgOp != 0 {
				return 0, nil, errors.New("websocket: new message inside a fragmented one")
			}
			msgOp = op
		default:
			return 0, nil, fmt.Errorf("websocket: unknown opcode %#x", op)
		}
		if len(msg)+len(data) > wscMaxMessage {
			return 0, nil, fmt.Errorf("websocket: message over %d bytes", wscMaxMessage)
		}
		msg = append(msg, data...)
		if fin {
			return msgOp, msg, nil
		}
	}
}

// wscReadFrame reads one server frame. Server frames must not be masked (RFC 6455 5.1), control
// frames must be final and at most 125 bytes (5.5); violations are errors, so a proxy that
// mangles frames fails the test.
func wscReadFrame(r io.Reader, max int) (fin bool, opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	fin = h[0]&0x80 != 0
	if h[0]&0x70 != 0 {
		return false, 0, nil, fmt.Errorf("websocket: reserved bits %#x set (no extension negotiated)", h[0]&0x70)
	}
	opcode = h[0] & 0x0F
	if h[1]&0x80 != 0 {
		return false, 0, nil, errors.New("websocket: server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if opcode >= wscOpClose && (!fin || n > 125) {
		return false, 0, nil, fmt.Errorf("websocket: bad control frame (opcode %#x, fin %v, %d bytes)", opcode, fin, n)
	}
	if n > uint64(max) {
		return false, 0, nil, fmt.Errorf("websocket: frame of %d bytes over the %d limit", n, max)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return false, 0, nil, err
	}
	return fin, opcode, payload, nil
}

// wscClosePayload builds a close frame payload: 2-byte code then the reason.
func wscClosePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// wscCloseCode splits a close payload into code and reason; an empty payload means 1005
// ("no status received", RFC 6455 7.1.5).
func wscCloseCode(payload []byte) (int, string) {
	if len(payload) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
}

// Close sends a normal close frame (1000) and closes the TCP connection. It does not wait for
// the server's close reply; tests that care read it with ReadMessage first.
func (c *wsConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(wscCloseWait))
		_, _ = c.conn.Write(wscEncodeFrame(true, wscOpClose, wscClosePayload(1000, "")))
		c.wmu.Unlock()
		err = c.conn.Close()
	})
	return err
}

// Streamlit 1.31 protobuf field numbers, read from the descriptors in the wheel's
// streamlit/proto/{BackMsg,ClientState,ForwardMsg,Delta,Element,Heading,Markdown,Text,Alert,
// Exception}_pb2.py with python3 google.protobuf (2026-11-25):
//
//	BackMsg.rerun_script = 11 (ClientState; oneof type)   ClientState: all fields optional
//	ForwardMsg: hash 1, metadata 2, new_session 4, delta 5, script_finished 6 (enum),
//	  session_status_changed 9, session_event 10, ref_hash 11, page_info_changed 12,
//	  page_config_changed 13, git_info_changed 14, page_not_found 15, pages_changed 16,
//	  debug_last_backmsg_id 17, page_profile 18, file_urls_response 19, parent_message 20
//	Delta.new_element = 3 (Element); Delta.add_block = 6
//	Element: text 1 (Text.body 1), exception 8 (Exception.message 2), markdown 29
//	  (Markdown.body 1), alert 30 (Alert.body 1), heading 47 (Heading.body 3)
const (
	wscBackMsgRerunScript = 11
	wscForwardMsgDelta    = 5
	wscDeltaNewElement    = 3
)

// wscForwardMsgKinds names the ForwardMsg "type" oneof members by field number.
var wscForwardMsgKinds = map[int]string{
	4: "new_session", 5: "delta", 6: "script_finished", 9: "session_status_changed",
	10: "session_event", 11: "ref_hash", 12: "page_info_changed", 13: "page_config_changed",
	14: "git_info_changed", 15: "page_not_found", 16: "pages_changed", 18: "page_profile",
	19: "file_urls_response", 20: "parent_message",
}

// wscElementText maps an Element field number to the field of that element holding its text.
var wscElementText = map[int]int{1: 1, 8: 2, 29: 1, 30: 1, 47: 3}

// streamlitSession runs the app once over c: it sends BackMsg{rerun_script: ClientState{}} and
// reads ForwardMsgs until script_finished or timeout. It returns, in arrival order, the text of
// every heading/markdown/text/alert/exception delta and the first occurrence of each ForwardMsg
// kind ("new_session", "delta", "script_finished", ...). It fails the test on error or timeout.
func streamlitSession(t *testing.T, c *wsConn, timeout time.Duration) []string {
	t.Helper()
	// Tag (11<<3 | wire type 2) then length 0: an empty ClientState.
	back := wscAppendTag(nil, wscBackMsgRerunScript, 2)
	back = wscAppendVarint(back, 0)
	if err := c.WriteMessage(wscOpBinary, back); err != nil {
		t.Fatalf("streamlitSession: send rerun_script: %v", err)
	}
	var out []string
	seen := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("streamlitSession: no script_finished within %v; got %q", timeout, out)
		}
		op, msg, err := c.ReadMessage(left)
		if err != nil {
			t.Fatalf("streamlitSession: read: %v; got %q so far", err, out)
		}
		if op == wscOpClose {
			code, reason := wscCloseCode(msg)
			t.Fatalf("streamlitSession: server closed (%d %q); got %q so far", code, reason, out)
		}
		if op != wscOpBinary {
			t.Fatalf("streamlitSession: opcode %#x; want binary ForwardMsgs", op)
		}
		kinds, texts, err := wscDecodeForwardMsg(msg)
		if err != nil {
			t.Fatalf("streamlitSession: %v", err)
		}
		finished := false
		for _, k := range kinds {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
			finished = finished || k == "script_finished"
		}
		out = append(out, texts...)
		if finished {
			return out
		}
	}
}

// wscDecodeForwardMsg returns the ForwardMsg kinds present in msg and the texts of its delta.
func wscDecodeForwardMsg(msg []byte) (kinds, texts []string, err error) {
	fields, err := wscProtoFields(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("ForwardMsg: %w", err)
	}
	for _, f := range fields {
		kind, ok := wscForwardMsgKinds[f.num]
		if !ok {
			continue
		}
		kinds = append(kinds, kind)
		if f.num != wscForwardMsgDelta || f.wire != 2 {
			continue
		}
		t, err := wscDeltaTexts(f.bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("ForwardMsg.delta: %w", err)
		}
		texts = append(texts, t...)
	}
	return kinds, texts, nil
}

// wscDeltaTexts extracts the text of a Delta.new_element with a known text-bearing element.
func wscDeltaTexts(delta []byte) ([]string, error) {
	fields, err := wscProtoFields(delta)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, f := range fields {
		if f.num != wscDeltaNewElement || f.wire != 2 {
			continue
		}
		elems, err := wscProtoFields(f.bytes)
		if err != nil {
			return nil, fmt.Errorf("Element: %w", err)
		}
		for _, e := range elems {
			bodyNum, ok := wscElementText[e.num]
			if !ok || e.wire != 2 {
				continue
			}
			inner, err := wscProtoFields(e.bytes)
			if err != nil {
				return nil, fmt.Errorf("Element field %d: %w", e.num, err)
			}
			for _, b := range inner {
				if b.num == bodyNum && b.wire == 2 {
					texts = append(texts, string(b.bytes))
				}
			}
		}
	}
	return texts, nil
}

// wscProtoField is one decoded protobuf field: varint/fixed values in val, bytes for wire type 2.
type wscProtoField struct {
	num   int
	wire  int
	val   uint64
	bytes []byte
}

// wscProtoFields decodes one level of protobuf wire format (varint 0, fixed64 1, bytes 2,
// fixed32 5). Groups (3, 4) are not used by Streamlit and are rejected.
func wscProtoFields(b []byte) ([]wscProtoField, error) {
	var out []wscProtoField
	for i := 0; i < len(b); {
		key, n := wscVarint(b[i:])
		if n == 0 {
			return nil, fmt.Errorf("protobuf: bad tag varint at byte %d", i)
		}
		i += n
		f := wscProtoField{num: int(key >> 3), wire: int(key & 7)}
		if key>>3 == 0 || key>>3 > 1<<29-1 {
			return nil, fmt.Errorf("protobuf: bad field number %d at byte %d", key>>3, i-n)
		}
		switch f.wire {
		case 0:
			v, n := wscVarint(b[i:])
			if n == 0 {
				return nil, fmt.Errorf("protobuf: bad varint for field %d at byte %d", f.num, i)
			}
			f.val, i = v, i+n
		case 1, 5:
			size := 8
			if f.wire == 5 {
				size = 4
			}
			if len(b)-i < size {
				return nil, fmt.Errorf("protobuf: truncated fixed field %d at byte %d", f.num, i)
			}
			for k := size - 1; k >= 0; k-- {
				f.val = f.val<<8 | uint64(b[i+k])
			}
			i += size
		case 2:
			l, n := wscVarint(b[i:])
			if n == 0 || l > uint64(len(b)-i-n) {
				return nil, fmt.Errorf("protobuf: bad length for field %d at byte %d", f.num, i)
			}
			i += n
			f.bytes = b[i : i+int(l)]
			i += int(l)
		default:
			return nil, fmt.Errorf("protobuf: unsupported wire type %d for field %d", f.wire, f.num)
		}
		out = append(out, f)
	}
	return out, nil
}

// wscVarint decodes a base-128 varint; n is 0 when b does not start with a valid one.
func wscVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		if i == 9 && b[i] > 1 {
			return 0, 0 // more than 64 bits
		}
		v |= uint64(b[i]&0x7F) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// wscAppendVarint appends v as a base-128 varint.
func wscAppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// wscAppendTag appends a field key (number << 3 | wire type).
func wscAppendTag(b []byte, num, wire int) []byte {
	return wscAppendVarint(b, uint64(num)<<3|uint64(wire))
}
