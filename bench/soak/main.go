// Command soak runs fluxlit with its real children — the API under uvicorn and a Streamlit
// app — for a bounded time under mixed traffic (plain HTTP, Streamlit WebSocket sessions,
// slow uploads and slow readers) while it kills a child every -kill-every, alternating the API
// and Streamlit (issue #16). It prints one Markdown report: requests served, answers by
// status, failures by kind, the kills and how long each child took to be back, and fluxlit's
// resident memory over time. It exits 1 when anything went wrong outside a restart window
// (from a kill to that child being ready again): there, 503 with Retry-After (the child is
// restarting) and 502 (a request in flight when the child died) are expected; elsewhere only
// successes are.
//
//	go run ./bench/soak -bin ./fluxlit -python /opt/fluxlit-venvs/newest/bin/python [-duration 3m]
//	        [-kill-every 30s] [-signal KILL] [-http 6] [-ws 3] [-slow 2]
//
// Everything runs on 127.0.0.1 in a temporary project; fluxlit is stopped (SIGTERM, then
// SIGKILL) on every way out, and its children with it.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ioTimeout bounds every request and WebSocket read, so a stuck fluxlit fails the run.
const ioTimeout = 15 * time.Second

// restartGrace is how long after a child is ready again answers still count as part of its
// restart: a request sent just before may come back just after.
const restartGrace = time.Second

const streamlitScript = `import streamlit as st
st.title("soak")
st.write("hello from the soak")
`

func main() {
	bin := flag.String("bin", "./fluxlit", "the fluxlit binary")
	python := flag.String("python", "/opt/fluxlit-venvs/newest/bin/python", "interpreter with uvicorn, fastapi and streamlit")
	duration := flag.Duration("duration", 3*time.Minute, "how long the traffic runs")
	killEvery := flag.Duration("kill-every", 30*time.Second, "how often a child is killed (alternating api, streamlit)")
	sig := flag.String("signal", "KILL", "the signal a child is killed with: KILL or TERM")
	httpWorkers := flag.Int("http", 6, "plain HTTP clients")
	wsWorkers := flag.Int("ws", 3, "Streamlit WebSocket session clients")
	slowWorkers := flag.Int("slow", 2, "slow clients (each alternates a slow upload and a slow read)")
	flag.Parse()
	if *duration <= 0 || *duration > time.Hour || *killEvery < 5*time.Second || (*sig != "KILL" && *sig != "TERM") {
		log.Fatal("soak: -duration must be in (0, 1h], -kill-every at least 5s, -signal KILL or TERM")
	}
	s := &soak{counts: map[string]int{}, bin: *bin, python: *python}
	if err := s.run(*duration, *killEvery, *sig, *httpWorkers, *wsWorkers, *slowWorkers); err != nil {
		log.Fatalf("soak: %v", err)
	}
	if s.unexpected > 0 {
		os.Exit(1)
	}
}

type soak struct {
	bin, python string
	base        string
	fl          *exec.Cmd
	dir         string

	mu         sync.Mutex
	counts     map[string]int // "kind\toutcome" -> n
	samples    []string       // unexpected outcomes, the first few
	unexpected int
	windows    []window // restart windows
	kills      []string
	rss        []string
	served     atomic.Int64
}

// window is a restart: from the kill until the child was ready again (end zero: not yet).
type window struct {
	start, end time.Time
}

func (s *soak) run(duration, killEvery time.Duration, sig string, httpWorkers, wsWorkers, slowWorkers int) error {
	if err := s.start(); err != nil {
		return err
	}
	defer s.stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; s.stop(); os.Exit(1) }()

	end := time.Now().Add(duration)
	var wg sync.WaitGroup
	for i := 0; i < httpWorkers; i++ {
		wg.Go(func() { s.httpLoop(end, i) })
	}
	for i := 0; i < wsWorkers; i++ {
		wg.Go(func() { s.wsLoop(end) })
	}
	for i := 0; i < slowWorkers; i++ {
		wg.Go(func() { s.slowLoop(end, i) })
	}
	wg.Go(func() { s.killLoop(end, killEvery, sig) })
	wg.Go(func() { s.rssLoop(end) })
	wg.Wait()
	s.report(duration, killEvery, sig)
	return nil
}

// start writes the project and runs fluxlit until both children are ready.
func (s *soak) start() error {
	dir, err := os.MkdirTemp("", "fluxlit-soak-")
	if err != nil {
		return err
	}
	s.dir = dir
	root, _ := os.Getwd()
	app, err := os.ReadFile(filepath.Join(root, "testdata", "apps", "api", "app.py"))
	if err != nil {
		return fmt.Errorf("run from the repository root: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	files := map[string]string{
		"app.py":           string(app),
		"streamlit_app.py": streamlitScript,
		"fluxlit.toml": fmt.Sprintf("python = %q\ngateway_port = %d\ndebug = true\nenable_gateway_prometheus_metrics = true\n"+
			"enable_gateway_access_log = false\nrestart_max_backoff_s = 2\nno_pidfile = true\n", s.python, port),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "fluxlit.log"))
	if err != nil {
		return err
	}
	s.fl = exec.Command(s.bin, "run")
	s.fl.Dir = dir
	s.fl.Env = append(os.Environ(), "HOME="+dir, "FLUXLIT_LOG_FORMAT=json")
	s.fl.Stdout, s.fl.Stderr = logFile, logFile
	if err := s.fl.Start(); err != nil {
		return err
	}
	s.base = "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if status(s.base+"/api/readyz") == 200 {
			return nil
		}
	}
	return fmt.Errorf("fluxlit not ready within 120 s (log: %s)", logFile.Name())
}

func (s *soak) stop() {
	if s.fl == nil || s.fl.Process == nil || s.fl.ProcessState != nil {
		return
	}
	s.fl.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.fl.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.fl.Process.Kill()
		<-done
	}
}

func status(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// record counts the outcome of an exchange that began at at and ended now.
func (s *soak) record(kind string, code int, retryAfter bool, err error, at time.Time) {
	outcome := strconv.Itoa(code)
	if err != nil {
		outcome = errKind(err)
	}
	if code == 503 && retryAfter {
		outcome = "503+Retry-After"
	}
	ok := err == nil && (code >= 200 && code < 400 || kind == "WebSocket session" && code == 101)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.counts[kind+"\t"+outcome]++
		s.served.Add(1)
		return
	}
	inWindow := s.inWindow(at, time.Now())
	if inWindow && (outcome == "503+Retry-After" || code == 502 || err != nil) {
		s.counts[kind+"\t"+outcome+" (in a restart: expected)"]++
		return
	}
	s.counts[kind+"\t"+outcome+" (UNEXPECTED)"]++
	s.unexpected++
	if len(s.samples) < 10 {
		s.samples = append(s.samples, fmt.Sprintf("%s %s, begun %s: %v", kind, outcome, at.Format("15:04:05.000"), err))
	}
}

// inWindow reports whether an exchange from start to end overlapped a restart.
func (s *soak) inWindow(start, end time.Time) bool {
	for _, w := range s.windows {
		if !end.Before(w.start) && (w.end.IsZero() || start.Before(w.end.Add(restartGrace))) {
			return true
		}
	}
	return false
}

func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "cut short"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return "error"
}

// httpLoop sends plain requests in turn: a small API GET, a 64 KiB POST, Streamlit's page,
// a short server-sent event stream.
func (s *soak) httpLoop(end time.Time, id int) {
	client := &http.Client{Timeout: ioTimeout}
	post := bytes.Repeat([]byte("p"), 64<<10)
	kinds := []struct {
		name, method, path string
		body               []byte
	}{
		{"GET /api/users", "GET", "/api/users", nil},
		{"POST /api/count 64 KiB", "POST", "/api/count", post},
		{"GET / (Streamlit)", "GET", "/", nil},
		{"GET /api/sse", "GET", "/api/sse?n=3&gap=0.05", nil},
	}
	for i := id; time.Now().Before(end); i++ {
		k := kinds[i%len(kinds)]
		at := time.Now()
		req, _ := http.NewRequest(k.method, s.base+k.path, bytes.NewReader(k.body))
		res, err := client.Do(req)
		if err != nil {
			s.record(k.name, 0, false, err, at)
			continue
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		s.record(k.name, res.StatusCode, res.Header.Get("Retry-After") != "", err, at)
	}
}

// slowLoop alternates a slow upload (256 KiB at 32 KiB/s) and a slow read (2 MiB at
// 256 KiB/s).
func (s *soak) slowLoop(end time.Time, id int) {
	client := &http.Client{Timeout: time.Minute}
	for i := id; time.Now().Before(end); i++ {
		at := time.Now()
		if i%2 == 0 {
			req, _ := http.NewRequest("POST", s.base+"/api/count", &paced{r: bytes.NewReader(bytes.Repeat([]byte("s"), 256<<10)), rate: 32 << 10})
			req.ContentLength = 256 << 10
			res, err := client.Do(req)
			if err != nil {
				s.record("slow upload 256 KiB", 0, false, err, at)
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			s.record("slow upload 256 KiB", res.StatusCode, res.Header.Get("Retry-After") != "", nil, at)
			continue
		}
		res, err := client.Get(s.base + "/api/big?mb=2")
		if err != nil {
			s.record("slow read 2 MiB", 0, false, err, at)
			continue
		}
		_, err = io.Copy(io.Discard, &paced{r: res.Body, rate: 256 << 10})
		res.Body.Close()
		s.record("slow read 2 MiB", res.StatusCode, res.Header.Get("Retry-After") != "", err, at)
	}
}

// paced reads at rate bytes per second: the client's link, not a wait of the tool's.
type paced struct {
	r     io.Reader
	rate  int
	start time.Time
	n     int
}

func (p *paced) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if due := p.start.Add(time.Duration(float64(p.n) / float64(p.rate) * float64(time.Second))); time.Until(due) > 0 {
		time.Sleep(time.Until(due))
	}
	n, err := p.r.Read(b[:min(len(b), 16<<10)])
	p.n += n
	return n, err
}

// wsLoop opens Streamlit sessions: handshake, a rerun, the app's messages until it
// finished, a few seconds held, close.
func (s *soak) wsLoop(end time.Time) {
	for time.Now().Before(end) {
		at := time.Now()
		code, err := s.session()
		s.record("WebSocket session", code, code == 503, err, at)
		if err != nil || code != 101 {
			time.Sleep(200 * time.Millisecond) // a refused client retries soon, not in a tight loop
		}
	}
}

func (s *soak) session() (int, error) {
	hostport := strings.TrimPrefix(s.base, "http://")
	c, err := net.DialTimeout("tcp", hostport, ioTimeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	key := make([]byte, 16)
	rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(c, "GET /_stcore/stream HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n", hostport, s.base, k)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	if res.StatusCode != 101 {
		io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if res.Header.Get("Sec-Websocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		return 101, errors.New("bad Sec-WebSocket-Accept")
	}
	// BackMsg{rerun_script (11): ClientState{}}: Streamlit runs the app and streams it.
	if err := writeFrame(c, 2, []byte{11<<3 | 2, 0}); err != nil {
		return 101, err
	}
	for {
		op, msg, err := readFrame(br)
		if err != nil {
			return 101, err
		}
		if op == 8 {
			return 101, fmt.Errorf("closed by the server: % x", msg[:min(len(msg), 2)])
		}
		if op == 2 && hasField(msg, 6) { // ForwardMsg.script_finished
			break
		}
	}
	time.Sleep(2 * time.Second) // a session that stays a while, as a reader's does
	writeFrame(c, 8, []byte{0x03, 0xe8})
	return 101, nil
}

// hasField reports whether the protobuf message b has a top-level field num.
func hasField(b []byte, num uint64) bool {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		if key>>3 == num {
			return true
		}
		switch key & 7 {
		case 0:
			_, n = binary.Uvarint(b)
		case 1:
			n = 8
		case 2:
			l, m := binary.Uvarint(b)
			n = m + int(l)
			if m <= 0 || l > uint64(len(b)) {
				return false
			}
		case 5:
			n = 4
		default:
			return false
		}
		if n <= 0 || n > len(b) {
			return false
		}
		b = b[n:]
	}
	return false
}

func writeFrame(c net.Conn, op byte, p []byte) error {
	var mask [4]byte
	rand.Read(mask[:])
	h := []byte{0x80 | op}
	switch {
	case len(p) < 126:
		h = append(h, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		h = append(h, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, uint64(len(p)))
	}
	h = append(h, mask[:]...)
	body := make([]byte, len(p))
	for i := range p {
		body[i] = p[i] ^ mask[i%4]
	}
	_, err := c.Write(append(h, body...))
	return err
}

func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, errors.New("frame over 16 MiB")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h[0] & 0x0f, p, err
}

// killLoop kills a child every killEvery, the API first, and waits for it to be ready again
// (the debug page's state), marking the restart window.
func (s *soak) killLoop(end time.Time, every time.Duration, sig string) {
	signum := syscall.SIGKILL
	if sig == "TERM" {
		signum = syscall.SIGTERM
	}
	for i := 0; ; i++ {
		next := time.Now().Add(every)
		if next.After(end.Add(-5 * time.Second)) {
			return
		}
		time.Sleep(time.Until(next))
		name := []string{"api", "streamlit"}[i%2]
		pid, restarts := s.child(name)
		if pid == 0 {
			s.mu.Lock()
			s.kills = append(s.kills, fmt.Sprintf("| %s | %s | not running: skipped | |", time.Now().Format("15:04:05"), name))
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.windows = append(s.windows, window{start: time.Now()})
		w := len(s.windows) - 1
		s.mu.Unlock()
		killed := time.Now()
		syscall.Kill(pid, signum)
		back := "not back within 60 s"
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if p, r := s.child(name); p != 0 && p != pid && r > restarts {
				back = time.Since(killed).Round(10 * time.Millisecond).String()
				break
			}
		}
		s.mu.Lock()
		s.windows[w].end = time.Now()
		s.kills = append(s.kills, fmt.Sprintf("| %s | %s | pid %d, SIG%s | %s |", killed.Format("15:04:05"), name, pid, sig, back))
		s.mu.Unlock()
	}
}

// child is the pid of a ready child (0 otherwise) and its restarts, from the debug page.
func (s *soak) child(name string) (pid, restarts int) {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(s.base + "/__fluxlit/debug")
	if err != nil {
		return 0, 0
	}
	defer res.Body.Close()
	var page struct {
		Children []struct {
			Name     string `json:"name"`
			State    string `json:"state"`
			PID      int    `json:"pid"`
			Restarts int    `json:"restarts"`
		} `json:"children"`
	}
	if json.NewDecoder(res.Body).Decode(&page) != nil {
		return 0, 0
	}
	for _, ch := range page.Children {
		if ch.Name == name && ch.State == "ready" {
			return ch.PID, ch.Restarts
		}
	}
	return 0, 0
}

// rssLoop samples fluxlit's resident memory every 15 s.
func (s *soak) rssLoop(end time.Time) {
	start := time.Now()
	for {
		rss := vmRSS(s.fl.Process.Pid)
		s.mu.Lock()
		s.rss = append(s.rss, fmt.Sprintf("| %.0f | %.1f | %d |", time.Since(start).Seconds(), float64(rss)/1024, s.served.Load()))
		s.mu.Unlock()
		if !time.Now().Add(15 * time.Second).Before(end) {
			return
		}
		time.Sleep(15 * time.Second)
	}
}

func vmRSS(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

func (s *soak) report(duration, killEvery time.Duration, sig string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("## Soak: %v, a child killed (SIG%s) every %v\n\n", duration, sig, killEvery)
	fmt.Printf("Served: %d requests and sessions. Outside restart windows, unexpected outcomes: **%d**.\n\n", s.served.Load(), s.unexpected)
	fmt.Printf("| what | outcome | count |\n|---|---|---:|\n")
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		what, outcome, _ := strings.Cut(k, "\t")
		fmt.Printf("| %s | %s | %d |\n", what, outcome, s.counts[k])
	}
	fmt.Printf("\n| kill at | child | how | ready again after |\n|---|---|---|---|\n")
	for _, k := range s.kills {
		fmt.Println(k)
	}
	fmt.Printf("\n| t (s) | fluxlit RSS (MiB) | served so far |\n|---:|---:|---:|\n")
	for _, r := range s.rss {
		fmt.Println(r)
	}
	if len(s.samples) > 0 {
		fmt.Printf("\nUnexpected (first %d):\n\n", len(s.samples))
		for _, x := range s.samples {
			fmt.Println("- " + x)
		}
	}
}
