// Command upstream is the origin server of fluxlit's benchmark (bench/run.sh): fixed-size GETs,
// a body sink, and a hand-written RFC 6455 WebSocket echo on Hijack, all tuned so that the
// origin costs as little CPU as possible and the front door in front of it is what gets measured.
//
// Usage: upstream -addr 127.0.0.1:PORT [-one-host]
//
// -one-host drops a repeated Host line from each connection's first request head before
// net/http reads it (net/http answers 400 "too many Host headers"): Python FluxLit 0.13's
// WebSocket hop sends Host twice (websockets' own and the client's), and bench/run.sh's
// Python FluxLit door needs an origin that takes it, as uvicorn (Streamlit's server) does.
//
//	GET  /bytes?n=N          N bytes of 'x' (0 <= N <= 1 MiB), Content-Length set
//	GET  /1m                 1 MiB, Content-Length set
//	POST /sink               reads and discards the body, answers its length
//	GET  /ws, /_stcore/stream  WebSocket echo (server frames unmasked)
//	GET  /_stcore/health, /healthz  200 "ok" (so a proxy's readiness probe passes)
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds /bytes?n= (the largest workload is 1 MiB); keeping the shared payload at
// 1 MiB keeps the origin's own RSS small, which matters because it is the "direct" door's RSS.
const maxBody = 1 << 20

// maxFrame bounds one WebSocket frame payload; the benchmark sends 1 KiB, so 16 MiB is only a guard.
const maxFrame = 16 << 20

// wsGUID is the fixed GUID of RFC 6455 §1.3 used to compute Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsBufSize is the initial frame payload buffer: a 1 KiB echo frame fits many times over, and
// it stays small so that 9,000 idle tunnels are cheap on the origin side.
const wsBufSize = 4 << 10

// payload is the shared response body; handlers slice it, so GETs allocate nothing per request.
var payload = func() []byte {
	b := make([]byte, maxBody)
	for i := range b {
		b[i] = 'x'
	}
	return b
}()

// sinkBufs recycles the 64 KiB buffers /sink drains bodies into.
var sinkBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (loopback)")
	oneHost := flag.Bool("one-host", false, "drop a repeated Host line from each connection's first request")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes", handleBytes)
	mux.HandleFunc("GET /1m", handleOneMiB)
	mux.HandleFunc("POST /sink", handleSink)
	mux.HandleFunc("GET /ws", handleWS)
	mux.HandleFunc("GET /_stcore/stream", handleWS)
	mux.HandleFunc("GET /_stcore/health", handleHealth)
	mux.HandleFunc("GET /healthz", handleHealth)
	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // bench clients send headers at once; this only reaps stuck conns
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // client resets at the end of a wrk run are expected
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("upstream: listen %s: %v", *addr, err)
	}
	if *oneHost {
		ln = oneHostListener{ln}
	}
	if err := srv.Serve(ln); err != nil {
		log.Fatalf("upstream: serve: %v", err)
	}
}

func handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "2")
	_, _ = w.Write([]byte("ok"))
}

func handleBytes(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || n > maxBody {
		http.Error(w, "n must be an integer in [0, 1048576]", http.StatusBadRequest)
		return
	}
	writeBody(w, payload[:n])
}

func handleOneMiB(w http.ResponseWriter, r *http.Request) { writeBody(w, payload) }

// writeBody sets Content-Length explicitly so the body is never chunked (wrk and the proxies
// then see the same framing for every door).
func writeBody(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/octet-stream"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	_, _ = w.Write(b)
}

func handleSink(w http.ResponseWriter, r *http.Request) {
	bp := sinkBufs.Get().(*[]byte)
	defer sinkBufs.Put(bp)
	var n int64
	for {
		k, err := r.Body.Read(*bp)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	s := strconv.FormatInt(n, 10)
	w.Header().Set("Content-Length", strconv.Itoa(len(s)))
	_, _ = io.WriteString(w, s)
}

// handleWS checks the RFC 6455 handshake, hijacks, writes the 101 itself and echoes frames.
func handleWS(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported websocket version", http.StatusUpgradeRequired)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		http.Error(w, "bad Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	// Answer the first offered subprotocol, as Streamlit does with "streamlit".
	proto := ""
	if p := r.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		proto = "Sec-WebSocket-Protocol: " + strings.TrimSpace(strings.Split(p, ",")[0]) + "\r\n"
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n" + proto + "\r\n"
	// The hijacked reader may already hold the client's first frame; keep reading from it.
	// Reuse the server's own buffered writer (it writes straight to the hijacked conn).
	br, bw := brw.Reader, brw.Writer
	if _, err := bw.WriteString(resp); err != nil {
		return
	}
	if err := bw.Flush(); err != nil {
		return
	}
	_ = wsEcho(br, bw)
}

// headerHasToken reports whether a comma-separated header contains token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

var errProtocol = errors.New("websocket protocol error")

// wsEcho echoes every data frame back with the same opcode and FIN bit, answers pings with
// pongs, and answers a close with a close carrying the same payload. Writes are flushed only
// when no further input is buffered, so pipelined frames share one write syscall.
func wsEcho(br *bufio.Reader, bw *bufio.Writer) error {
	var hdr [14]byte
	buf := make([]byte, wsBufSize)
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return err
		}
		fin, op := hdr[0]&0x80, hdr[0]&0x0f
		if hdr[0]&0x70 != 0 || hdr[1]&0x80 == 0 {
			return errProtocol // RSV bits without an extension, or an unmasked client frame
		}
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
				return err
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(br, hdr[2:10]); err != nil {
				return err
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
		}
		if n > maxFrame {
			return fmt.Errorf("frame of %d bytes: %w", n, errProtocol)
		}
		var mask [4]byte
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return err
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(br, p); err != nil {
			return err
		}
		for i := range p {
			p[i] ^= mask[i&3]
		}
		switch op {
		case 0x9: // ping -> pong
			op = 0xA
		case 0xA: // unsolicited pong: ignore
			continue
		}
		if err := wsWriteFrame(bw, fin|op, p); err != nil {
			return err
		}
		if op == 0x8 || br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if op == 0x8 {
			return nil
		}
	}
}

// wsWriteFrame writes one unmasked server frame (RFC 6455 §5.1: servers never mask).
func wsWriteFrame(bw *bufio.Writer, b0 byte, p []byte) error {
	var hdr [10]byte
	hdr[0] = b0
	h := 2
	switch n := len(p); {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:4], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:10], uint64(n))
		h = 10
	}
	if _, err := bw.Write(hdr[:h]); err != nil {
		return err
	}
	_, err := bw.Write(p)
	return err
}

// oneHostListener hands out connections whose first request head has at most one Host line.
type oneHostListener struct{ net.Listener }

func (l oneHostListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &oneHostConn{Conn: c, br: bufio.NewReader(c)}, nil
}

// oneHostConn reads the first head line by line, keeping the first Host line only; later
// bytes pass through its reader untouched.
type oneHostConn struct {
	net.Conn
	br   *bufio.Reader
	head []byte // the filtered first head, not yet read
	done bool   // the first head has been read and filtered
}

func (c *oneHostConn) Read(p []byte) (int, error) {
	if !c.done {
		c.done = true
		seenHost := false
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			if len(line) > 5 && strings.EqualFold(string(line[:5]), "host:") {
				if seenHost {
					continue
				}
				seenHost = true
			}
			c.head = append(c.head, line...)
			if len(line) <= 2 { // the blank line ending the head
				break
			}
		}
	}
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.br.Read(p)
}
