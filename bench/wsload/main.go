// Command wsload is the WebSocket load client of fluxlit's benchmark (bench/run.sh), plus the
// few timing helpers the script cannot do precisely in bash. Every mode prints exactly one
// machine-readable line starting with "BENCH " on stdout (key=value pairs) and exits non-zero
// with a one-line "wsload: ..." error on stderr when the measurement itself failed.
//
// Modes:
//
//	-mode echo    -url ws://H:P/ws -c 64 -d 10s -size 1024   C conns echo SIZE-byte frames back to back for D
//	-mode connect -url ws://H:P/ws -c 4 -d 5s [-max 20000]   C workers: dial+upgrade+close-handshake in a loop
//	-mode idle    -url ws://H:P/ws -n 9000 -c 64 -d 2s -rss-pid PID
//	              open N tunnels, hold them D, record PID's VmRSS growth, then check each echoes once
//	-mode start   -addr H:P -n 20 -- CMD ARGS...   start CMD N times; time until H:P accepts; stop it by PID
//	-mode ports   -n K                              print K free loopback TCP ports
//	-mode wait    -url http://H:P/path -d 10s       poll until GET answers 200
//	-mode reruns  -url ws://H:P/_stcore/stream -c 8 -d 20s -warmup 5s
//	              C Streamlit sessions rerun the script back to back for D, after a warm-up
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ioTimeout bounds every single read/write/handshake, so a stuck door fails the run instead of hanging it.
const ioTimeout = 10 * time.Second

// idlePhaseBudget bounds each phase of -mode idle (opening, then echo-checking): at 9,000 tunnels a
// healthy door needs a few seconds, so half a minute means the door is stuck and the run should end.
const idlePhaseBudget = 30 * time.Second

// idleMaxErrors ends a phase of -mode idle early: once this many tunnels failed the verdict is
// FAIL anyway, and a door out of file descriptors would otherwise make every remaining dial wait
// out its timeout.
const idleMaxErrors = 100

// maxSamples caps latency samples per connection (about 4 MiB each) so memory stays bounded.
const maxSamples = 1 << 20

type options struct {
	mode, rawURL, addr  string
	conns, n, size, max int
	dur, warmup         time.Duration
	rssPID              int
	args                []string
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "echo", "echo | connect | idle | start | ports | wait | reruns")
	flag.StringVar(&o.rawURL, "url", "", "ws://host:port/path (echo, connect, idle) or http://... (wait)")
	flag.StringVar(&o.addr, "addr", "", "host:port to poll (start)")
	flag.IntVar(&o.conns, "c", 64, "connections (echo), workers (connect), dial/check parallelism (idle)")
	flag.IntVar(&o.n, "n", 20, "tunnels (idle), starts (start), ports (ports)")
	flag.IntVar(&o.size, "size", 1024, "echo payload bytes")
	flag.IntVar(&o.max, "max", 50000, "upper bound on connects (connect)")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "duration (echo, connect), hold time (idle), timeout (wait)")
	flag.IntVar(&o.rssPID, "rss-pid", 0, "process whose VmRSS growth is measured (idle)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "time rerunning before the measurement (reruns)")
	flag.Parse()
	o.args = flag.Args()
	line, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsload: %s: %v\n", o.mode, err)
		if line != "" {
			fmt.Println("BENCH " + line)
		}
		os.Exit(1)
	}
	fmt.Println("BENCH " + line)
}

func run(o options) (string, error) {
	if o.conns < 1 || o.conns > 20000 || o.n < 1 || o.n > 100000 || o.size < 0 || o.size > 1<<20 {
		return "", fmt.Errorf("-c must be 1..20000, -n 1..100000, -size 0..1048576")
	}
	if o.dur <= 0 || o.dur > 10*time.Minute {
		return "", fmt.Errorf("-d must be in (0, 10m]")
	}
	switch o.mode {
	case "echo":
		return runEcho(o)
	case "connect":
		return runConnect(o)
	case "idle":
		return runIdle(o)
	case "start":
		return runStart(o)
	case "ports":
		return runPorts(o)
	case "wait":
		return runWait(o)
	case "reruns":
		return runReruns(o)
	}
	return "", fmt.Errorf("unknown -mode %q (want echo, connect, idle, start, ports, wait or reruns)", o.mode)
}

// wsConn is one client WebSocket: the conn, its reader (which may hold bytes read past the 101)
// and a reusable frame buffer.
type wsConn struct {
	c   net.Conn
	br  *bufio.Reader
	out []byte
	in  []byte
}

func parseWSURL(raw string) (hostport, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		return "", "", fmt.Errorf("-url %q: want ws://host:port/path", raw)
	}
	path = u.RequestURI()
	return u.Host, path, nil
}

// wsDial dials and performs the RFC 6455 client handshake, checking status and accept key.
// extra is more header lines ("Name: value\r\n").
func wsDial(hostport, path, extra string) (*wsConn, error) {
	c, err := net.DialTimeout("tcp", hostport, ioTimeout)
	if err != nil {
		return nil, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + hostport + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nOrigin: http://" + hostport + "\r\n" + extra + "\r\n"
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake: status %d, want 101", resp.StatusCode)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		c.Close()
		return nil, errors.New("handshake: wrong Sec-WebSocket-Accept")
	}
	_ = c.SetDeadline(time.Time{})
	return &wsConn{c: c, br: br}, nil
}

// writeFrame sends one masked frame (clients must mask, RFC 6455 §5.3).
func (w *wsConn) writeFrame(op byte, p []byte) error {
	// math/rand is enough for masking (it only defeats cache poisoning) and is much cheaper.
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], mrand.Uint32())
	b := w.out[:0]
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, mask[:]...)
	h := len(b)
	b = append(b, p...)
	for i := range b[h:] {
		b[h+i] ^= mask[i&3]
	}
	w.out = b
	_ = w.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := w.c.Write(b)
	return err
}

// readFrame reads one unmasked server frame and returns its opcode and payload.
func (w *wsConn) readFrame() (byte, []byte, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var hdr [10]byte
	if _, err := io.ReadFull(w.br, hdr[:2]); err != nil {
		return 0, nil, err
	}
	if hdr[1]&0x80 != 0 {
		return 0, nil, errors.New("server sent a masked frame")
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(w.br, hdr[2:4]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
	case 127:
		if _, err := io.ReadFull(w.br, hdr[2:10]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(hdr[2:10])
	}
	if n > 1<<24 {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	if uint64(cap(w.in)) < n {
		w.in = make([]byte, n)
	}
	p := w.in[:n]
	if _, err := io.ReadFull(w.br, p); err != nil {
		return 0, nil, err
	}
	return hdr[0] & 0x0f, p, nil
}

// echoOnce sends msg as a binary frame and checks the same bytes come back.
func (w *wsConn) echoOnce(msg []byte) error {
	if err := w.writeFrame(0x2, msg); err != nil {
		return err
	}
	op, p, err := w.readFrame()
	if err != nil {
		return err
	}
	if op != 0x2 || !bytes.Equal(p, msg) {
		return fmt.Errorf("echo mismatch: opcode %d, %d bytes", op, len(p))
	}
	return nil
}

// closeHandshake sends Close 1000, waits for the peer's close frame, then closes the socket.
func (w *wsConn) closeHandshake() error {
	defer w.c.Close()
	if err := w.writeFrame(0x8, []byte{0x03, 0xe8}); err != nil {
		return err
	}
	for i := 0; i < 4; i++ { // a data frame may still be in flight before the close reply
		op, _, err := w.readFrame()
		if err != nil {
			return err
		}
		if op == 0x8 {
			return nil
		}
	}
	return errors.New("no close frame in reply")
}

func pct(s []uint32, p float64) uint32 {
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return s[i]
}

func runEcho(o options) (string, error) {
	hostport, path, err := parseWSURL(o.rawURL)
	if err != nil {
		return "", err
	}
	conns := make([]*wsConn, o.conns)
	for i := range conns {
		if conns[i], err = wsDial(hostport, path, ""); err != nil {
			for _, c := range conns[:i] {
				c.c.Close()
			}
			return "", fmt.Errorf("connection %d: %w", i, err)
		}
	}
	msg := bytes.Repeat([]byte{'m'}, o.size)
	samples := make([][]uint32, o.conns)
	var errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(o.dur)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := make([]uint32, 0, 4096)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := c.echoOnce(msg); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					break
				}
				if len(s) < maxSamples {
					s = append(s, uint32(time.Since(t0).Microseconds()))
				}
			}
			samples[i] = s
			_ = c.closeHandshake()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []uint32
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	line := fmt.Sprintf("mode=echo conns=%d size=%d requests=%d duration_s=%.3f rate=%.1f p50_us=%d p99_us=%d errors=%d",
		o.conns, o.size, len(all), elapsed, float64(len(all))/elapsed, pct(all, 0.50), pct(all, 0.99), errs.Load())
	if errs.Load() > 0 {
		return line, fmt.Errorf("%d connections failed, first: %v", errs.Load(), firstErr.Load())
	}
	return line, nil
}

func runConnect(o options) (string, error) {
	hostport, path, err := parseWSURL(o.rawURL)
	if err != nil {
		return "", err
	}
	var count, errs atomic.Int64
	var firstErr atomic.Value
	samples := make([][]uint32, o.conns)
	start := time.Now()
	deadline := start.Add(o.dur)
	var wg sync.WaitGroup
	for i := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s []uint32
			for time.Now().Before(deadline) && count.Add(1) <= int64(o.max) {
				t0 := time.Now()
				w, err := wsDial(hostport, path, "")
				if err == nil {
					s = append(s, uint32(time.Since(t0).Microseconds()))
					err = w.closeHandshake()
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if errs.Load() > 100 {
						break
					}
				}
			}
			samples[i] = s
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []uint32
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	line := fmt.Sprintf("mode=connect workers=%d requests=%d duration_s=%.3f rate=%.1f p50_us=%d p99_us=%d errors=%d",
		o.conns, len(all), elapsed, float64(len(all))/elapsed, pct(all, 0.50), pct(all, 0.99), errs.Load())
	if errs.Load() > 0 {
		return line, fmt.Errorf("%d connects failed, first: %v", errs.Load(), firstErr.Load())
	}
	return line, nil
}

// vmRSS reads VmRSS (KiB) of pid from /proc.
func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// parallel runs f(i) for i in [0,n) on at most k goroutines.
func parallel(n, k int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

func runIdle(o options) (string, error) {
	hostport, path, err := parseWSURL(o.rawURL)
	if err != nil {
		return "", err
	}
	rss0 := 0
	if o.rssPID > 0 {
		if rss0, err = vmRSS(o.rssPID); err != nil {
			return "", err
		}
	}
	conns := make([]*wsConn, o.n)
	var dialErrs atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	parallel(o.n, o.conns, func(i int) {
		if time.Since(t0) > idlePhaseBudget || dialErrs.Load() >= idleMaxErrors {
			dialErrs.Add(1)
			firstErr.CompareAndSwap(nil, "opening took longer than "+idlePhaseBudget.String())
			return
		}
		w, err := wsDial(hostport, path, "")
		if err != nil {
			dialErrs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		conns[i] = w
	})
	openS := time.Since(t0).Seconds()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.c.Close()
			}
		}
	}()
	time.Sleep(o.dur)
	rss1 := 0
	if o.rssPID > 0 {
		if rss1, err = vmRSS(o.rssPID); err != nil {
			return "", err
		}
	}
	msg := bytes.Repeat([]byte{'i'}, o.size)
	var echoed, echoErrs atomic.Int64
	t1 := time.Now()
	parallel(o.n, o.conns, func(i int) {
		if conns[i] == nil {
			return
		}
		if time.Since(t1) > idlePhaseBudget || echoErrs.Load() >= idleMaxErrors {
			echoErrs.Add(1)
			firstErr.CompareAndSwap(nil, "echo check took longer than "+idlePhaseBudget.String())
			return
		}
		if err := conns[i].echoOnce(msg); err != nil {
			echoErrs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		echoed.Add(1)
	})
	opened := int64(o.n) - dialErrs.Load()
	per := 0.0
	if opened > 0 {
		per = float64(rss1-rss0) / float64(opened)
	}
	line := fmt.Sprintf("mode=idle tunnels=%d opened=%d echoed=%d open_s=%.2f rss_before_kib=%d rss_after_kib=%d per_tunnel_kib=%.2f errors=%d",
		o.n, opened, echoed.Load(), openS, rss0, rss1, per, dialErrs.Load()+echoErrs.Load())
	if dialErrs.Load()+echoErrs.Load() > 0 {
		return line, fmt.Errorf("%d dials and %d echoes failed, first: %v", dialErrs.Load(), echoErrs.Load(), firstErr.Load())
	}
	return line, nil
}

// runStart starts the command o.n times and measures the time from Start to the first accepted
// TCP connection on o.addr, stopping each instance by PID (SIGTERM, then SIGKILL after 3 s).
func runStart(o options) (string, error) {
	if len(o.args) == 0 || o.addr == "" {
		return "", errors.New("need -addr host:port and a command after --")
	}
	var ms []float64
	for i := range o.n {
		d, err := startOnce(o.args, o.addr)
		if err != nil {
			return "", fmt.Errorf("start %d of %d: %w", i+1, o.n, err)
		}
		ms = append(ms, d.Seconds()*1000)
	}
	slices.Sort(ms)
	return fmt.Sprintf("mode=start starts=%d median_ms=%.2f min_ms=%.2f max_ms=%.2f", len(ms), ms[len(ms)/2], ms[0], ms[len(ms)-1]), nil
}

func startOnce(args []string, addr string) (time.Duration, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopPID(cmd.Process.Pid, exited)
	limit := t0.Add(5 * time.Second)
	for time.Now().Before(limit) {
		select {
		case err := <-exited:
			exited <- err // let stopPID see it
			return 0, fmt.Errorf("%s exited before accepting (%v)", args[0], err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			d := time.Since(t0)
			c.Close()
			return d, nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s did not accept on %s within 5s", args[0], addr)
}

func stopPID(pid int, exited chan error) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}
}

func runPorts(o options) (string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []string
	for range o.n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		lns = append(lns, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return "ports=" + strings.Join(ports, ","), nil
}

func runWait(o options) (string, error) {
	u, err := url.Parse(o.rawURL)
	if err != nil || u.Scheme != "http" {
		return "", fmt.Errorf("-url %q: want http://host:port/path", o.rawURL)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	t0 := time.Now()
	last := "no attempt"
	for time.Since(t0) < o.dur {
		resp, err := client.Get(o.rawURL)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fmt.Sprintf("mode=wait ready_ms=%.1f", time.Since(t0).Seconds()*1000), nil
			}
			last = "status " + strconv.Itoa(resp.StatusCode)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("%s not ready after %v: %s", o.rawURL, o.dur, last)
}

// Streamlit's protobuf field numbers (proto/streamlit/proto/{BackMsg,ForwardMsg}.proto):
// BackMsg.rerun_script = 11 (a ClientState, every field optional), ForwardMsg.script_finished = 6.
const (
	backMsgRerunScript    = 11
	forwardScriptFinished = 6
)

// runReruns is what browser tabs are to a Streamlit app: each of C sessions opens Streamlit's
// WebSocket (the frontend's subprotocol, no cookie: fluxlit places each like a new browser),
// then reruns the script back to back (BackMsg rerun_script, then ForwardMsgs until one
// carries script_finished) until D after a warm-up, counting the reruns that started after it.
func runReruns(o options) (string, error) {
	hostport, path, err := parseWSURL(o.rawURL)
	if err != nil {
		return "", err
	}
	start := time.Now().Add(o.warmup)
	end := start.Add(o.dur)
	samples := make([][]uint32, o.conns)
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range o.conns {
		wg.Go(func() {
			c, err := wsDial(hostport, path, "Sec-WebSocket-Protocol: streamlit\r\n")
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer c.c.Close()
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := c.rerun(); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				if t0.After(start) && len(samples[i]) < maxSamples {
					samples[i] = append(samples[i], uint32(time.Since(t0).Microseconds()))
				}
			}
		})
	}
	wg.Wait()
	var all []uint32
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	secs := o.dur.Seconds()
	line := fmt.Sprintf("mode=reruns sessions=%d reruns=%d duration_s=%.1f rate=%.2f p50_ms=%.1f p99_ms=%.1f errors=%d",
		o.conns, len(all), secs, float64(len(all))/secs, float64(pct(all, 0.5))/1000, float64(pct(all, 0.99))/1000, errs.Load())
	if errs.Load() > 0 || len(all) == 0 {
		return line, fmt.Errorf("%d sessions failed, first: %v", errs.Load(), firstErr.Load())
	}
	return line, nil
}

// rerun sends BackMsg{rerun_script: ClientState{}} and reads until script_finished, answering
// the server's pings on the way.
func (w *wsConn) rerun() error {
	if err := w.writeFrame(0x2, []byte{backMsgRerunScript<<3 | 2, 0}); err != nil {
		return err
	}
	for {
		op, p, err := w.readFrame()
		switch {
		case err != nil:
			return err
		case op == 0x9:
			if err := w.writeFrame(0xA, p); err != nil {
				return err
			}
		case op == 0x8:
			return errors.New("the server closed the session")
		case op == 0x2 && protoHasField(p, forwardScriptFinished):
			return nil
		}
	}
}

// protoHasField reports whether the top level of the protobuf message b holds field num.
func protoHasField(b []byte, num uint64) bool {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		if tag>>3 == num {
			return true
		}
		switch tag & 7 {
		case 0:
			if _, n = binary.Uvarint(b); n <= 0 {
				return false
			}
			b = b[n:]
		case 1:
			b = b[min(8, len(b)):]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return false
			}
			b = b[n+int(l):]
		case 5:
			b = b[min(4, len(b)):]
		default:
			return false
		}
	}
	return false
}
