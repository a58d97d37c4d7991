package main

// Integration tests of issue #16: under slow clients, stalled log readers and floods, the real
// fluxlit binary keeps serving a real uvicorn child (testdata/apps/api) and loses nothing. Streamlit is a Go stand-in where the test is not about Streamlit (it says so), so
// that each test starts in about a second.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// relOutput reads fluxlit's stdout and stderr (one pipe) and can stop reading, as a stalled
// log shipper does, or close the pipe, as one that exits does.
type relOutput struct {
	r       *os.File
	mu      sync.Mutex
	buf     bytes.Buffer
	paused  bool
	resume  chan struct{} // closed to let a paused reader go on
	changed chan struct{} // closed and replaced whenever buf grows
}

func newRelOutput(r *os.File) *relOutput {
	o := &relOutput{r: r, resume: make(chan struct{}), changed: make(chan struct{})}
	go o.loop()
	return o
}

func (o *relOutput) loop() {
	chunk := make([]byte, 64<<10)
	for {
		o.mu.Lock()
		paused, resume := o.paused, o.resume
		o.mu.Unlock()
		if paused {
			<-resume
			continue
		}
		n, err := o.r.Read(chunk)
		o.mu.Lock()
		o.buf.Write(chunk[:n])
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// pause stops reading after the read in progress: the pipe fills.
func (o *relOutput) pause() {
	o.mu.Lock()
	o.paused = true
	o.resume = make(chan struct{})
	o.mu.Unlock()
}

func (o *relOutput) unpause() {
	o.mu.Lock()
	o.paused = false
	close(o.resume)
	o.mu.Unlock()
}

func (o *relOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output contains s and returns the output.
func (o *relOutput) waitFor(t *testing.T, s string, within time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		out, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if strings.Contains(out, s) {
			return out
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("fluxlit's output has no %q after %v:\n%s", s, within, out)
		}
	}
}

// relProc is a fluxlit run whose output goes to a pipe the test controls.
type relProc struct {
	cmd  *exec.Cmd
	port int
	base string
	out  *relOutput
	done chan struct{}
	err  error
}

// relStreamlitStub stands in for Streamlit in the tests that are not about it.
func relStreamlitStub(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "streamlit stand-in\n")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// relProject writes a project whose API child is the test API app under the real uvicorn, with toml appended to its fluxlit.toml.
func relProject(t *testing.T, toml string) string {
	t.Helper()
	requireIntegration(t, "uvicorn")
	dir := t.TempDir()
	app, err := os.ReadFile(filepath.Join(apiAppDir(t), "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.py"), string(app))
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf(
		"python = %q\ntarget = \"app:app\"\nstreamlit_upstream = %q\ndebug = true\nenable_gateway_prometheus_metrics = true\n%s",
		streamlitPython(t), relStreamlitStub(t), toml))
	return dir
}

// relStart runs `fluxlit run` in dir with stdout and stderr on one pipe and waits until it
// is ready (its children too).
func relStart(t *testing.T, dir string, env []string, args ...string) *relProc {
	t.Helper()
	p := relLaunch(t, dir, env, args...)
	p.out.waitFor(t, `"msg":"fluxlit ready"`, 60*time.Second)
	return p
}

func relLaunch(t *testing.T, dir string, env []string, args ...string) *relProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := &relProc{port: port, base: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	full := append([]string{"run", "--port", strconv.Itoa(port)}, args...)
	p.cmd = exec.Command(fluxlitBinary(t), full...)
	p.cmd.Dir = dir
	p.cmd.Env = append(append(cleanFluxlitEnv(), "FLUXLIT_LOG_FORMAT=json"), env...)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := harnessRun(p.cmd, func(err error) { p.err = err; close(p.done) }); err != nil {
		t.Fatal(err)
	}
	w.Close() // fluxlit holds the only write end: EOF when it exits
	p.out = newRelOutput(r)
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		r.Close()
		if t.Failed() {
			t.Logf("fluxlit output:\n%s", p.out.String())
		}
	})
	return p
}

// alive fails the test when fluxlit has exited.
func (p *relProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("fluxlit exited: %v (%s)", p.err, p.cmd.ProcessState)
	default:
	}
}

// stopWithin sends SIGTERM and returns how long fluxlit took to exit, failing after within.
func (p *relProc) stopWithin(t *testing.T, within time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("fluxlit still running %v after SIGTERM", within)
	}
	return time.Since(start), p.cmd.ProcessState.ExitCode()
}

// relClient is a client with a deadline per request, so that a hang is a failure, not a
// stuck test.
func relClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}

// relGet GETs url and returns the status and body, failing the test on a transport error.
func relGet(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %s", relShort(url), relShort(err.Error()))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", relShort(url), err)
	}
	return res.StatusCode, b
}

func relShort(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// relMetric scrapes fluxlit's metrics and returns the value of one unlabelled sample, 0 when
// there is none (the loops that wait on a counter fail on their own bound).
func relMetric(t *testing.T, p *relProc, name string) float64 {
	t.Helper()
	_, body := relGet(t, relClient(5*time.Second), p.base+"/__fluxlit/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	return 0
}

// relChildPID is the API child's pid from the debug page.
func relChildPID(t *testing.T, p *relProc) int {
	t.Helper()
	_, body := relGet(t, relClient(5*time.Second), p.base+"/__fluxlit/debug")
	var snap struct {
		Children []debugChild `json:"children"`
	}
	if err := json.Unmarshal(body, &snap); err != nil {
		t.Fatalf("debug page: %v", err)
	}
	for _, c := range snap.Children {
		if c.Name == "api" && c.State == "ready" {
			return c.PID
		}
	}
	t.Fatalf("no ready api child on the debug page: %s", body)
	return 0
}

// relFloodUntilDropped sends requests whose access lines are long (a 3 KB query) until the log
// queue has dropped lines, failing when any request takes longer than a second (before #16,
// every request hung once the pipe and the log buffer were full).
func relFloodUntilDropped(t *testing.T, p *relProc, above float64) {
	t.Helper()
	c := relClient(time.Second)
	url := p.base + "/api/users?pad=" + strings.Repeat("x", 3000)
	for i := 0; ; i++ {
		if i%50 == 0 && relMetric(t, p, "fluxlit_log_lines_dropped_total") > above {
			return
		}
		if i > 20000 {
			t.Fatalf("no log line dropped after %d long requests with the reader stalled", i)
		}
		if status, _ := relGet(t, c, url); status != 200 {
			t.Fatalf("request %d with the log reader stalled: %d; want 200", i, status)
		}
	}
}

// Item 2: the process reading fluxlit's output exits (a log shipper restarting, `| tee`
// closed). Before #16, the next flush of the log killed fluxlit with SIGPIPE (exit 141 in a
// shell) and both children with it: this test saw "signal: broken pipe".
func TestReliabilityOutputReaderGone(t *testing.T) {
	dir := relProject(t, "")
	p := relStart(t, dir, nil)
	child := relChildPID(t, p)
	p.out.r.Close() // the reader exits: every later write to the pipe is EPIPE

	c := relClient(2 * time.Second)
	for i := 0; relMetricAlive(t, p) == 0; i++ {
		if i > 100 {
			t.Fatal("no line dropped after 100 requests with the reader gone")
		}
		if status := relGetAlive(t, p, c, p.base+"/api/users"); status != 200 {
			t.Fatalf("GET /api/users after the reader left: %d; want 200", status)
		}
	}
	p.alive(t)
	if status, _ := relGet(t, c, p.base+"/api/users"); status != 200 {
		t.Fatalf("GET /api/users after lines were dropped: %d; want 200", status)
	}
	if got := relChildPID(t, p); got != child {
		t.Fatalf("api child pid %d, was %d: the child died with fluxlit's output", got, child)
	}
	if _, code := p.stopWithin(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM %d; want 0", code)
	}
}

// relMetricAlive is relMetric for the dropped-lines counter, failing at once if fluxlit died
// meanwhile (a scrape of a dead process would only say "connection refused").
func relMetricAlive(t *testing.T, p *relProc) float64 {
	t.Helper()
	relGetAlive(t, p, relClient(5*time.Second), p.base+"/api/healthz")
	return relMetric(t, p, "fluxlit_log_lines_dropped_total")
}

// relGetAlive GETs url and returns the status; a failed request fails the test, saying so
// when fluxlit died.
func relGetAlive(t *testing.T, p *relProc, c *http.Client, url string) int {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		select {
		case <-p.done:
			t.Fatalf("fluxlit died: %v", p.err)
		case <-time.After(time.Second):
		}
		t.Fatalf("GET %s: %s", relShort(url), relShort(err.Error()))
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// Item 3: the reader of fluxlit's output stops reading (a stalled shipper). Before #16, once
// the pipe and the 32 KiB log buffer were full every request hung, /api/healthz included, and
// SIGTERM had no effect: this test saw its flood time out after about 100 requests.
func TestReliabilityOutputReaderStalls(t *testing.T) {
	dir := relProject(t, "shutdown_timeout_s = 5\n")
	p := relStart(t, dir, nil)
	// A one-page pipe fills after a dozen lines instead of a few hundred.
	syscall.Syscall(syscall.SYS_FCNTL, p.out.r.Fd(), 1031 /* F_SETPIPE_SZ */, 4096)

	p.out.pause()
	relFloodUntilDropped(t, p, 0)
	start := time.Now()
	if status, _ := relGet(t, relClient(time.Second), p.base+"/api/healthz"); status != 200 {
		t.Fatalf("healthz with the reader stalled: %d", status)
	}
	t.Logf("healthz with the reader stalled answered in %v", time.Since(start))

	// The reader comes back: the lines queued before the stall arrive, then the report.
	p.out.unpause()
	out := p.out.waitFor(t, "lines were dropped", 10*time.Second)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "lines were dropped") {
			var rec struct {
				Level   string  `json:"level"`
				Dropped float64 `json:"dropped_lines"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level != "WARNING" || rec.Dropped < 1 {
				t.Fatalf("drop report %q (%v); want a WARNING line (Python's level name) with dropped_lines >= 1", line, err)
			}
		}
	}
	if status, _ := relGet(t, relClient(2*time.Second), p.base+"/api/users"); status != 200 {
		t.Fatalf("GET /api/users after the reader came back: %d", status)
	}

	// Stalled again, SIGTERM stops it within shutdown_timeout_s.
	p.out.pause()
	relFloodUntilDropped(t, p, relMetric(t, p, "fluxlit_log_lines_dropped_total"))
	took, code := p.stopWithin(t, 5*time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM with the reader stalled; want 0", code)
	}
	t.Logf("stopped %v after SIGTERM with the reader stalled", took)
}

// Item 7: a pidfile that cannot be written stops the run with one line and exit 1, before any
// child starts. Before #16 it was a warning and fluxlit ran on without one, so "fluxlit
// shutdown" could not find it and a second instance was not refused: this test saw it still
// running after 10 s.
func TestReliabilityPidfileUnwritable(t *testing.T) {
	dir := relProject(t, "")
	notADir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notADir, "")
	pidfile := filepath.Join(notADir, "fluxlit.pid")
	p := relLaunch(t, dir, nil, "--pidfile", pidfile)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("fluxlit with an unwritable pidfile still running after 10 s")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d; want 1", code)
	}
	// The run logs JSON (FLUXLIT_LOG_FORMAT=json), so its last line is the one ERROR record.
	out := p.out.waitFor(t, "cannot write pidfile", 5*time.Second)
	last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	want := "cannot write pidfile " + pidfile + ": not a directory (make its folder writable, choose another with --pidfile, or set --no-pidfile)"
	var rec struct{ Level, Msg string }
	if err := json.Unmarshal([]byte(last), &rec); err != nil || rec.Level != "ERROR" || rec.Msg != want {
		t.Fatalf("last line %q; want an ERROR record %q", last, want)
	}
	if strings.Contains(out, `"child":"api"`) {
		t.Fatalf("a child was started before the pidfile failed:\n%s", out)
	}
}

// Item 7: kill -9 leaves the API child's private socket directory behind (fluxlit cannot run
// its cleanup); the next start removes it, and only it: a live instance's directory, one
// holding anything but the socket, and names fluxlit did not make stay. Before #16 the killed
// instance's directory stayed: this test saw it after the second start.
func TestReliabilityStaleSocketDirRemoved(t *testing.T) {
	dir := relProject(t, "")
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	p := relStart(t, dir, env, "--no-pidfile")
	left, _ := filepath.Glob(filepath.Join(tmp, "fluxlit-api-*"))
	if len(left) != 1 {
		t.Fatalf("socket directories of the running instance: %v; want one", left)
	}
	p.cmd.Process.Kill()
	<-p.done
	if _, err := os.Stat(filepath.Join(left[0], "api.sock")); err != nil {
		t.Fatalf("after kill -9 the socket is gone already (%v): nothing to test", err)
	}

	// Decoys the sweep must not touch.
	live := filepath.Join(tmp, fmt.Sprintf("fluxlit-api-%d-1", os.Getpid())) // a live owner
	extra := filepath.Join(tmp, "fluxlit-api-999999999-2")                   // dead owner, but not only a socket
	foreign := filepath.Join(tmp, "fluxlit-api-3")                           // no pid: an older name
	for _, d := range []string{live, extra, foreign} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(extra, "notes.txt"), "keep me")
	ln, err := net.Listen("unix", filepath.Join(live, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	q := relStart(t, dir, env, "--no-pidfile")
	if _, err := os.Stat(left[0]); !os.IsNotExist(err) {
		t.Fatalf("the killed instance's socket directory %s is still there after the next start (%v)", left[0], err)
	}
	for _, d := range []string{live, extra, foreign} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("decoy %s was removed: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(extra, "notes.txt")); err != nil {
		t.Fatalf("a file in a decoy was removed: %v", err)
	}
	if status, _ := relGet(t, relClient(5*time.Second), q.base+"/api/users"); status != 200 {
		t.Fatalf("GET /api/users from the second instance: %d", status)
	}
}

// relLabeledMetric reads one labelled sample ("name{a=\"b\"}") from a metrics URL.
func relLabeledMetric(t *testing.T, url, sample string) float64 {
	t.Helper()
	_, body := relGet(t, relClient(5*time.Second), url)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no sample %s at %s", sample, url)
	return 0
}

// relRawRequest writes a request on a new connection and returns it unread.
func relRawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// relReadResponse reads the answer on c within d.
func relReadResponse(t *testing.T, c net.Conn, d time.Duration) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", d, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return res, b
}

// Item 4: at max_connections a new client gets an answer at once, never silence; connections
// that send nothing are closed (to make room, or at gateway_client_header_timeout_s) long
// before they can starve the cap; with every slot busy, health probes are still served and
// anything else gets 503 + Retry-After with a request id, logged with its real status and size.
// Before #16, 200 silent connections locked every new client out for 120 s (the fast path
// waited that long for a first byte), health checks included, and a client over the cap got
// a TCP connect and then silence: this test saw no answer within 2 s.
func TestReliabilityMaxConnections(t *testing.T) {
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast_path=%v", fast), func(t *testing.T) {
			const max = 200
			metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			dir := relProject(t, fmt.Sprintf("max_connections = %d\ngateway_client_header_timeout_s = 3\nshutdown_timeout_s = 2\ngateway_fast_path = %v\nmetrics_listen = %q\n", max, fast, metricsAddr))
			p := relStart(t, dir, nil, "--no-pidfile")
			addr := "127.0.0.1:" + strconv.Itoa(p.port)
			metrics := "http://" + metricsAddr + "/__fluxlit/metrics"

			silent := make([]net.Conn, max)
			for i := range silent {
				silent[i] = relRawRequest(t, addr, "")
			}
			for relLabeledMetric(t, metrics, `fluxlit_connections_open{state="idle"}`) < max {
				time.Sleep(10 * time.Millisecond) // accepting 200 takes milliseconds
			}
			start := time.Now()
			c := relRawRequest(t, addr, "GET /api/users HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, _ := relReadResponse(t, c, 2*time.Second); res.StatusCode != 200 {
				t.Fatalf("new client with %d silent connections: %d; want 200", max, res.StatusCode)
			}
			t.Logf("new client at the cap answered in %v", time.Since(start))
			closed := 0
			for _, s := range silent {
				s.SetReadDeadline(time.Now().Add(5 * time.Second)) // header timeout 3 s, and margin
				if _, err := s.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
					closed++
				}
			}
			if closed != max {
				t.Fatalf("%d of %d silent connections closed within the header timeout; want all", closed, max)
			}

			// Every slot busy with a request in flight: health probes pass, the rest get 503.
			for i := 0; i < max; i++ {
				relRawRequest(t, addr, "GET /api/slow?s=30 HTTP/1.1\r\nHost: x\r\n\r\n")
			}
			for relLabeledMetric(t, metrics, `fluxlit_connections_open{state="busy"}`) < max ||
				relLabeledMetric(t, metrics, `fluxlit_connections_open{state="idle"}`) > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			probe := relRawRequest(t, addr, "GET /api/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, body := relReadResponse(t, probe, 2*time.Second); res.StatusCode != 200 {
				t.Fatalf("healthz with every slot busy: %d %s; want 200", res.StatusCode, body)
			}
			over := relRawRequest(t, addr, "GET /api/users HTTP/1.1\r\nHost: x\r\nX-Request-Id: over-the-cap-1\r\n\r\n")
			res, body := relReadResponse(t, over, 2*time.Second)
			if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" || res.Header.Get("X-Request-Id") != "over-the-cap-1" ||
				!strings.Contains(string(body), "over-the-cap-1") || !res.Close {
				t.Fatalf("request over the cap: %d %v %q; want 503, Retry-After: 1, the request id, Connection: close", res.StatusCode, res.Header, body)
			}
			line := p.out.waitFor(t, `"request_id":"over-the-cap-1"`, 5*time.Second)
			line = line[strings.LastIndex(line[:strings.Index(line, `"request_id":"over-the-cap-1"`)], "\n")+1:]
			line = line[:strings.Index(line, "\n")]
			want := fmt.Sprintf(`"status":503,"bytes":%d`, len(body))
			if !strings.Contains(line, want) {
				t.Fatalf("access line %s; want %s", line, want)
			}
		})
	}
}
