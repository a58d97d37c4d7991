// harness_selftest_test.go tests the test harness itself: the WebSocket client against a scripted
// loopback server, the protobuf decoding against bytes serialized by Streamlit 1.31's own
// python classes, fuzz targets for both parsers, and (gated) the real Streamlit and uvicorn.

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Golden ForwardMsgs serialized on 2026-11-25 by /usr/bin/python3 with the 1.31 wheel's
// streamlit.proto classes (ForwardMsg(...).SerializeToString().hex()).
var wscTestGolden = map[string]string{
	// hash "abc", metadata.delta_path [0,1], delta.new_element.heading{tag "h1", body "Hello fluxlit"}
	"heading": "0a036162631204120200012a181a16fa02130a0268311a0d48656c6c6f20666c75786c6974",
	// delta.new_element.markdown.body "ok"
	"markdown": "2a091a07ea01040a026f6b",
	// script_finished FINISHED_SUCCESSFULLY (0)
	"finished": "3000",
	// new_session{script_run_id "r1", name "hello"}
	"new_session": "220b120272311a0568656c6c6f",
	// delta.new_element.exception{type "ValueError", message "boom"}
	"exception": "2a161a1442120a0a56616c75654572726f721204626f6f6d",
}

func wscTestHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestWscDecodeForwardMsg(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantKinds []string
		wantTexts []string
	}{
		{"heading", "heading", []string{"delta"}, []string{"Hello fluxlit"}},
		{"markdown", "markdown", []string{"delta"}, []string{"ok"}},
		{"script finished with value 0", "finished", []string{"script_finished"}, nil},
		{"new session", "new_session", []string{"new_session"}, nil},
		{"exception message", "exception", []string{"delta"}, []string{"boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds, texts, err := wscDecodeForwardMsg(wscTestHex(t, wscTestGolden[tt.in]))
			if err != nil {
				t.Fatalf("wscDecodeForwardMsg: %v", err)
			}
			if !reflect.DeepEqual(kinds, tt.wantKinds) || !reflect.DeepEqual(texts, tt.wantTexts) {
				t.Errorf("got %q %q; want %q %q", kinds, texts, tt.wantKinds, tt.wantTexts)
			}
		})
	}
}

func TestWscProtoFields(t *testing.T) {
	tests := []struct {
		name    string
		in      string // hex
		want    []wscProtoField
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"varint 150", "089601", []wscProtoField{{num: 1, wire: 0, val: 150}}, ""},
		{"bytes", "1203616263", []wscProtoField{{num: 2, wire: 2, bytes: []byte("abc")}}, ""},
		{"fixed32", "1d01000000", []wscProtoField{{num: 3, wire: 5, val: 1}}, ""},
		{"fixed64", "210200000000000000", []wscProtoField{{num: 4, wire: 1, val: 2}}, ""},
		{"BackMsg rerun_script", "5a00", []wscProtoField{{num: 11, wire: 2, bytes: []byte{}}}, ""},
		{"length past end", "1205616263", nil, "bad length"},
		{"truncated varint", "0896", nil, "bad varint"},
		{"group wire type", "0b", nil, "unsupported wire type"},
		{"field number 0", "0001", nil, "bad field number"},
		{"truncated fixed", "1d0100", nil, "truncated fixed"},
		{"varint over 64 bits", "08ffffffffffffffffff7f", nil, "bad varint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wscProtoFields(wscTestHex(t, tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got err %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v; want nil", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.num != w.num || g.wire != w.wire || g.val != w.val || !bytes.Equal(g.bytes, w.bytes) {
					t.Errorf("field %d: got %+v; want %+v", i, g, w)
				}
			}
		})
	}
}

func FuzzWscProtoFields(f *testing.F) {
	for _, h := range wscTestGolden {
		f.Add(wscTestHex(f, h))
	}
	f.Add([]byte{0x5a, 0x00})
	f.Add([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := wscProtoFields(b)
		if err != nil {
			return
		}
		for _, fl := range fields {
			if fl.num <= 0 || len(fl.bytes) > len(b) {
				t.Fatalf("impossible field %+v from %d bytes", fl, len(b))
			}
		}
		_, _, _ = wscDecodeForwardMsg(b)
	})
}

func TestWscAcceptKey(t *testing.T) {
	// The example from RFC 6455 section 1.3.
	if got, want := wscAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("got %v; want %v", got, want)
	}
}

// wscTestReadClientFrame reads one masked client frame (the server side, for tests only).
func wscTestReadClientFrame(r io.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	if h[1]&0x80 == 0 {
		return false, 0, nil, io.ErrUnexpectedEOF // clients must mask
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var mask [4]byte
	if _, err := io.ReadFull(r, mask[:]); err != nil {
		return false, 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return false, 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return h[0]&0x80 != 0, h[0] & 0x0F, payload, nil
}

// wscTestServerFrame encodes an unmasked server frame.
func wscTestServerFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

func TestWscEncodeFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte{'a', 'b', 'c'}, n/3+1)[:n]
		fin, op, got, err := wscTestReadClientFrame(bytes.NewReader(wscEncodeFrame(true, wscOpBinary, payload)))
		if err != nil || !fin || op != wscOpBinary || !bytes.Equal(got, payload) {
			t.Errorf("len %d: got fin=%v op=%d len=%d err=%v; want fin op 2 same payload", n, fin, op, len(got), err)
		}
	}
}

// wscTestServer accepts one connection on loopback, reads the handshake request, and runs
// script with the request and a buffered reader; it returns the ws URL.
func wscTestServer(t *testing.T, script func(req *http.Request, conn net.Conn, br *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		script(req, conn, br)
	}()
	return "ws://" + l.Addr().String() + "/_stcore/stream"
}

func wscTest101(req *http.Request, accept string) string {
	if accept == "" {
		accept = wscAcceptKey(req.Header.Get("Sec-Websocket-Key"))
	}
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + accept + "\r\n\r\n"
}

func TestDialWSRejectedHandshakeReturnsResponse(t *testing.T) {
	gotOrigin := make(chan string, 1)
	u := wscTestServer(t, func(req *http.Request, conn net.Conn, _ *bufio.Reader) {
		gotOrigin <- req.Header.Get("Origin")
		io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 35\r\n\r\nCross origin websockets not allowed")
	})
	c, resp, err := dialWS(t, u, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || c != nil {
		t.Fatalf("got conn %v err %v; want an error", c, err)
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("got resp %v; want 403", resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), "Cross origin websockets not allowed"; got != want {
		t.Errorf("got body %q; want %q", got, want)
	}
	if got, want := <-gotOrigin, "http://evil.example"; got != want {
		t.Errorf("got Origin %q; want %q", got, want)
	}
}

func TestDialWSBadAccept(t *testing.T) {
	u := wscTestServer(t, func(req *http.Request, conn net.Conn, _ *bufio.Reader) {
		io.WriteString(conn, wscTest101(req, "d3Jvbmc="))
	})
	c, resp, err := dialWS(t, u, nil)
	if err == nil || c != nil || !strings.Contains(err.Error(), "Sec-WebSocket-Accept") {
		t.Fatalf("got conn %v err %v; want Sec-WebSocket-Accept error", c, err)
	}
	if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got resp %v; want the 101", resp)
	}
}

func TestWsConnFramesAfterHandshake(t *testing.T) {
	pong := make(chan []byte, 1)
	echoed := make(chan []byte, 1)
	u := wscTestServer(t, func(req *http.Request, conn net.Conn, br *bufio.Reader) {
		// Everything in one write, so the client's bufio.Reader holds frames past the 101.
		var b bytes.Buffer
		b.WriteString(wscTest101(req, ""))
		b.Write(wscTestServerFrame(true, wscOpText, []byte("hi")))
		b.Write(wscTestServerFrame(false, wscOpBinary, []byte("abc")))
		b.Write(wscTestServerFrame(true, wscOpPing, []byte("p1"))) // control frame between fragments
		b.Write(wscTestServerFrame(true, wscOpContinuation, []byte("def")))
		conn.Write(b.Bytes())
		if _, op, p, err := wscTestReadClientFrame(br); err == nil && op == wscOpPong {
			pong <- p
		}
		if _, op, p, err := wscTestReadClientFrame(br); err == nil && op == wscOpBinary {
			echoed <- p
		}
		conn.Write(wscTestServerFrame(true, wscOpClose, wscClosePayload(1001, "bye")))
	})
	c, resp, err := dialWS(t, u, nil)
	if err != nil {
		t.Fatalf("dialWS: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %d; want 101", resp.StatusCode)
	}
	want := []struct {
		op      byte
		payload string
	}{{wscOpText, "hi"}, {wscOpBinary, "abcdef"}}
	for _, w := range want {
		op, p, err := c.ReadMessage(5 * time.Second)
		if err != nil || op != w.op || string(p) != w.payload {
			t.Fatalf("got %d %q %v; want %d %q", op, p, err, w.op, w.payload)
		}
	}
	select {
	case p := <-pong:
		if string(p) != "p1" {
			t.Errorf("got pong %q; want %q", p, "p1")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong for the ping")
	}
	if c.pings != 1 {
		t.Errorf("got %d pings; want 1", c.pings)
	}
	if err := c.WriteMessage(wscOpBinary, []byte("back")); err != nil {
		t.Fatal(err)
	}
	if got := <-echoed; string(got) != "back" {
		t.Errorf("server got %q; want %q", got, "back")
	}
	op, p, err := c.ReadMessage(5 * time.Second)
	code, reason := wscCloseCode(p)
	if err != nil || op != wscOpClose || code != 1001 || reason != "bye" {
		t.Errorf("got %d %d %q %v; want close 1001 bye", op, code, reason, err)
	}
}

func TestWscReadFrameRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"masked server frame", []byte{0x82, 0x81, 1, 2, 3, 4, 5}, "masked"},
		{"reserved bit", []byte{0xC2, 0x00}, "reserved bits"},
		{"fragmented ping", []byte{0x09, 0x00}, "bad control frame"},
		{"long close", append([]byte{0x88, 126, 0, 200}, make([]byte, 200)...), "bad control frame"},
		{"over limit", []byte{0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0}, "over the"},
		{"truncated", []byte{0x82, 5, 'a'}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := wscReadFrame(bytes.NewReader(tt.in), 1<<20)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzWscReadFrame(f *testing.F) {
	f.Add(wscTestServerFrame(true, wscOpText, []byte("hi")))
	f.Add(wscTestServerFrame(false, wscOpBinary, bytes.Repeat([]byte{1}, 300)))
	f.Add(wscTestServerFrame(true, wscOpClose, wscClosePayload(1000, "")))
	f.Add([]byte{0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for i := 0; i < 64; i++ {
			_, _, p, err := wscReadFrame(r, 1<<16)
			if err != nil {
				return
			}
			if len(p) > 1<<16 {
				t.Fatalf("payload %d over limit", len(p))
			}
		}
	})
}

func TestFreePortIsListenable(t *testing.T) {
	p := freePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("got port %d; want 1..65535", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on freePort %d: %v", p, err)
	}
	l.Close()
}

func TestWriteFileCreatesParents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b", "c.txt")
	writeFile(t, p, "x=1\n")
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "x=1\n" {
		t.Errorf("got %q %v; want %q", got, err, "x=1\n")
	}
}

func TestHarnessFluxlitBinary(t *testing.T) {
	skipInShortMode(t, "builds the binary")
	a := fluxlitBinary(t)
	b := fluxlitBinary(t)
	if a != b {
		t.Errorf("got %q then %q; want one build per run", a, b)
	}
	st, err := os.Stat(a)
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("got %v %v; want an executable", st, err)
	}
}

// TestHarnessStreamlitSession drives the real Streamlit directly (no fluxlit): the harness, the
// WebSocket client and the protobuf decoding all have to work for it to pass.
func TestHarnessStreamlitSession(t *testing.T) {
	requireIntegration(t, "streamlit")
	for _, base := range []string{"", "/ui"} {
		t.Run("base="+base, func(t *testing.T) {
			t.Parallel()
			url := startStreamlit(t, "testdata/apps/ui/hello.py", base)
			if got, want := harnessHTTPStatus(url+"/_stcore/health"), http.StatusOK; got != want {
				t.Fatalf("health: got %v; want %v", got, want)
			}
			ws := "ws" + strings.TrimPrefix(url, "http") + "/_stcore/stream"
			c, resp, err := dialWS(t, ws, http.Header{"Sec-WebSocket-Protocol": {"streamlit"}})
			if err != nil {
				t.Fatalf("dialWS %s: %v (resp %v)", ws, err, resp)
			}
			if got, want := resp.Header.Get("Sec-Websocket-Protocol"), "streamlit"; got != want {
				t.Errorf("subprotocol: got %q; want %q", got, want)
			}
			got := streamlitSession(t, c, 30*time.Second)
			for _, want := range []string{"new_session", "Hello fluxlit", "ok", "script_finished"} {
				if !slices.Contains(got, want) {
					t.Errorf("session: got %q; want it to include %q", got, want)
				}
			}
		})
	}
}

func TestHarnessStreamlitRejectsCrossOrigin(t *testing.T) {
	requireIntegration(t, "streamlit")
	url := startStreamlit(t, "testdata/apps/ui/hello.py", "")
	ws := "ws" + strings.TrimPrefix(url, "http") + "/_stcore/stream"
	c, resp, err := dialWS(t, ws, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || c != nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v %v; want a 403 handshake", resp, err)
	}
	// Tornado-era Streamlit (<= 1.56) said "Cross origin websockets not allowed" in the body;
	// the Starlette server closes before accepting, which uvicorn answers as a bare 403.
}

func TestHarnessUvicornUsers(t *testing.T) {
	requireIntegration(t, "uvicorn")
	url := startUvicorn(t, "testdata/apps/api", "app:app")
	resp, err := http.Get(url + "/users")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s; want 200", resp.StatusCode, body)
	}
	if got, want := string(body), `[{"id":1,"name":"Ada"},{"id":2,"name":"Linus"}]`; got != want {
		t.Errorf("got %v; want %v", got, want)
	}

	resp2, err := http.Get(url + "/echo?x=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var echo struct {
		Path  string `json:"path"`
		Query string `json:"query"`
	}
	if err := json.NewDecoder(resp2.Body).Decode(&echo); err != nil {
		t.Fatal(err)
	}
	if echo.Path != "/echo" || echo.Query != "x=1" {
		t.Errorf("got %+v; want path /echo query x=1", echo)
	}
}
