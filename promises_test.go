// promises_test.go holds the tests of README promises that had none (issue #22): each test
// names the promise it keeps, and fails when the behaviour behind it breaks. Where a promise
// differs between the two engines, both are run: net/http (the definition) and the fast path.

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// promiseEngines serves g through each engine built in, in turn.
var promiseEngines = testEngines()

// promiseGateway is a gateway for settings whose JSON log (access lines on) goes to the
// returned buffer.
func promiseGateway(t *testing.T, settings map[string]string) (*gateway, *obsLogBuffer) {
	t.Helper()
	s := map[string]string{"enable_gateway_access_log": "true"}
	for k, v := range settings {
		s[k] = v
	}
	logs := &obsLogBuffer{}
	g, err := newGateway(testConfig(t, s), slog.New(slog.NewJSONHandler(logs, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	return g, logs
}

// promiseWaitAccess waits for the access line of request id and returns it.
func promiseWaitAccess(t *testing.T, logs *obsLogBuffer, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range obsJSONLines(t, logs.String()) {
			if r["msg"] == "access" && r["request_id"] == id {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for %s within 10 s:\n%s", id, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientGoneIs499: "A client that goes away is logged as 499, not as an upstream error"
// (README, Routing). The client sends a request and closes its connection while the API is
// still working on it; the API then answers, or never does (the read timeout fires).
func TestClientGoneIs499(t *testing.T) {
	for _, engine := range promiseEngines {
		for _, answers := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/API answers %v", engine.name, answers), func(t *testing.T) {
				arrived, canceled, release := make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					arrived <- struct{}{}
					select {
					case <-r.Context().Done():
						canceled <- struct{}{}
					case <-release:
						io.WriteString(w, "too late")
					}
				}))
				t.Cleanup(api.Close)
				t.Cleanup(func() { close(release) })
				g, logs := promiseGateway(t, map[string]string{"api_upstream": api.URL, "gateway_upstream_read_timeout_s": "1"})
				srv := engine.start(t, g)
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, "GET /api/slow HTTP/1.1\r\nHost: app\r\nX-Request-Id: gone-1\r\n\r\n")
				select {
				case <-arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the request never reached the API")
				}
				c.Close()
				// A gateway that notices the client leaving cancels the API request; one
				// that does not gets the API's answer (or its timeout) for nobody. Either
				// way the access line must say 499.
				if answers {
					select {
					case <-canceled:
					case <-time.After(100 * time.Millisecond):
						release <- struct{}{}
					}
				}
				rec := promiseWaitAccess(t, logs, "gone-1")
				if rec["status"] != float64(499) || rec["dispatch"] != "api" {
					t.Errorf("access line %v; want status 499, dispatch api", rec)
				}
				if strings.Contains(logs.String(), `"level":"WARN"`) {
					t.Errorf("the client leaving was logged as an upstream failure:\n%s", logs.String())
				}
			})
		}
	}
}

// TestReadyzDetailPerUpstream: readyz is "503 with a detail per upstream" when one is not
// ready (README, Routing): the one that is down is named with what failed, the ready one is
// "ok" and has none. The per-upstream detail is "upstream_detail"; "detail" is Python
// FluxLit's one string.
func TestReadyzDetailPerUpstream(t *testing.T) {
	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_stcore/health" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(ui.Close)
	cfg := testConfig(t, map[string]string{"api_upstream": refusedPort(t), "streamlit_upstream": ui.URL})
	_, gw := startGateway(t, cfg)
	res, body := get(t, gw.URL+"/api/readyz", nil)
	var got struct {
		Status, API, Streamlit string
		Detail                 map[string]string `json:"upstream_detail"`
		Line                   string            `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || res.StatusCode != 503 {
		t.Fatalf("readyz: %d %q (%v); want 503 with a JSON body", res.StatusCode, body, err)
	}
	if got.Status != "not_ready" || got.API != "unavailable" || got.Streamlit != "ok" {
		t.Errorf("readyz %s; want not_ready, api unavailable, streamlit ok", body)
	}
	if d := got.Detail["api"]; !strings.Contains(d, "connection refused") || len(got.Detail) != 1 || got.Line != "api: "+d {
		t.Errorf("readyz detail %v; want the API's failure (connection refused), and nothing for the ready Streamlit", got.Detail)
	}
}

// TestAPISocketDirPrivateAndFresh: the API child listens on "a Unix socket in a fresh 0700
// directory" (README, Children): a new directory for each run, readable by fluxlit's user
// alone, empty until uvicorn makes its socket, and removed at stop.
func TestAPISocketDirPrivateAndFresh(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	cfg := testConfig(t, nil)
	var dirs []string
	for range 2 {
		plan, err := planChildren(cfg, 8000, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(plan.cleanup)
		st, err := os.Lstat(plan.sockDir)
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Fatalf("socket directory %q: %v %v; want a directory of mode 0700", plan.sockDir, st.Mode(), err)
		}
		if entries, _ := os.ReadDir(plan.sockDir); len(entries) != 0 {
			t.Errorf("socket directory %q holds %v before the child starts; want it empty", plan.sockDir, entries)
		}
		if want := "unix:" + filepath.Join(plan.sockDir, "api.sock"); plan.apiURL != want || !slices.Contains(plan.specs[0].Argv, "--uds") {
			t.Errorf("API child %v at %q; want uvicorn --uds on %q", plan.specs[0].Argv, plan.apiURL, want)
		}
		dirs = append(dirs, plan.sockDir)
		plan.cleanup()
		if _, err := os.Lstat(plan.sockDir); !os.IsNotExist(err) {
			t.Errorf("socket directory %q after cleanup: %v; want it removed", plan.sockDir, err)
		}
	}
	if dirs[0] == dirs[1] {
		t.Errorf("two runs got the same socket directory %q; want a fresh one each", dirs[0])
	}
}

// TestGetRetriedOnClosedPooledConnection: "A GET that still meets a closed connection is
// retried once on a fresh one" (CONTRIBUTING.md, The two engines and the sockets). The upstream answers each request and
// closes the connection without saying so (as uvicorn does at its keep-alive timeout), so
// the next request within the probe-free second meets a closed pooled connection.
func TestGetRetriedOnClosedPooledConnection(t *testing.T) {
	for _, engine := range promiseEngines {
		t.Run(engine.name, func(t *testing.T) {
			var conns, requests atomic.Int32
			closed := make(chan struct{}, 10)
			up := fastRawUpstream(t, func(c net.Conn, br *bufio.Reader) {
				conns.Add(1)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				n := requests.Add(1)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n)
				c.Close()
				closed <- struct{}{}
			})
			g, _ := promiseGateway(t, map[string]string{"streamlit_upstream": up})
			srv := engine.start(t, g)
			client := &http.Client{Transport: &http.Transport{}}
			t.Cleanup(client.CloseIdleConnections)
			send := func(method string) (int, string) {
				req, _ := http.NewRequest(method, srv.URL+"/page", nil)
				res, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(b)
			}
			if code, body := send("GET"); code != 200 || body != "1" {
				t.Fatalf("first GET: %d %q; want 200 1", code, body)
			}
			<-closed // the pooled connection is closed now, unknown to the gateway until it uses it
			if code, body := send("GET"); code != 200 || body != "2" {
				t.Errorf("GET after the upstream closed the pooled connection: %d %q; want 200 from a fresh connection", code, body)
			}
			if c, r := conns.Load(), requests.Load(); c != 2 || r != 2 {
				t.Errorf("the upstream saw %d connections and %d requests; want 2 and 2", c, r)
			}
		})
	}
}

// TestWatchdogOnlyWhileHealthzAnswers: under systemd fluxlit sends WATCHDOG=1 at half of
// WATCHDOG_USEC "while its own /api/healthz answers" (README, Children): no ping follows a
// probe that failed (503) or did not answer in time, and the pings resume with the answers.
// Here the healthz the watchdog probes is a stand-in the test turns bad and good again.
func TestWatchdogOnlyWhileHealthzAnswers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn := sdnotifyListen(t, sock)
	var mode atomic.Int32 // 0 healthy, 1 answers 503, 2 does not answer in time
	var ok, failed atomic.Int32
	healthz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			ok.Add(1)
			io.WriteString(w, `{"status":"ok"}`)
		case 1:
			failed.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			failed.Add(1)
			time.Sleep(300 * time.Millisecond) // past the 100 ms the watchdog waits
		}
	}))
	t.Cleanup(healthz.Close)
	r := &runner{env: []string{"WATCHDOG_USEC=200000"}, notify: newSDNotifier(sock),
		gw: &gateway{listen: healthz.Listener.Addr().String(), apiPrefix: "/api"}}
	stop := r.startWatchdog(context.Background())
	t.Cleanup(stop)
	var pings atomic.Int32
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "WATCHDOG=1" {
				pings.Add(1)
			}
		}
	}()
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		superviseWaitFor(t, 20*time.Second, what, cond)
	}
	waitUntil("two pings", func() bool { return pings.Load() >= 2 })
	for _, bad := range []int32{1, 2} {
		mode.Store(bad)
		base := failed.Load()
		waitUntil("three failed probes", func() bool { return failed.Load() >= base+3 })
		// Every ping answers a healthy probe: none came for the failed ones.
		waitUntil("the healthy probes' pings", func() bool { return pings.Load() >= ok.Load() })
		if p, o := pings.Load(), ok.Load(); p != o {
			t.Fatalf("mode %d: %d pings for %d healthy answers; want one each, none for a failed probe", bad, p, o)
		}
		mode.Store(0)
		before := pings.Load()
		waitUntil("pings again once healthz answers", func() bool { return pings.Load() > before })
	}
}

// promiseStopChild serves 200 on the port it is given, and on SIGTERM writes "NAME term",
// takes half a second to stop (forever when a fourth argument says "ignore"), and writes
// "NAME exit" to the log file it is given.
const promiseStopChild = `import http.server, os, signal, sys, time
name, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ignore = sys.argv[4:] == ["ignore"]
def stop(*_):
    with open(log, "a") as f:
        f.write(name + " term\n")
    if ignore:
        return
    time.sleep(0.5)
    with open(log, "a") as f:
        f.write(name + " exit\n")
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Ok).serve_forever()
`

// promiseStopRun runs fluxlit, in debug mode, with promiseStopChild as both children (the
// Streamlit one with streamlitExtra after its arguments), waits until it is ready, and
// returns it and the children's log file.
func promiseStopRun(t *testing.T, streamlitExtra string) (*fluxlitProc, string) {
	t.Helper()
	requireIntegration(t, "streamlit") // the children are small Python servers
	py := streamlitPython(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "stops.log")
	writeFile(t, filepath.Join(dir, "child.py"), promiseStopChild)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf(
		"api_command = [%[1]q, \"child.py\", \"api\", \"{port}\", %[2]q]\nstreamlit_command = [%[1]q, \"child.py\", \"streamlit\", \"{port}\", %[2]q%[3]s]\ndebug = true\n", py, log, streamlitExtra))
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 60*time.Second)
	return p, log
}

// TestStopsStreamlitFirst: on stop fluxlit SIGTERMs "each child's process group (Streamlit
// first)" (README, Children): the API child is signalled only once Streamlit has ended, so
// that a page never finds its API gone.
func TestStopsStreamlitFirst(t *testing.T) {
	p, log := promiseStopRun(t, "")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d; want 0", code)
	}
	got, _ := os.ReadFile(log)
	if want := "streamlit term\nstreamlit exit\napi term\napi exit\n"; string(got) != want {
		t.Errorf("the children stopped in this order:\n%s\nwant:\n%s", got, want)
	}
}

// TestStopKillsAfterFiveSeconds: on stop fluxlit SIGTERMs each child's process group and sends
// "SIGKILL after 5 s" (README, Children), then exits 0. Streamlit here ignores SIGTERM: it
// must live through 5 s after it was signalled (no earlier kill), then be killed, and only
// then is the API signalled. The 5 is the README's number, not the code's constant.
// Seen failing with childStopGrace set to 2 s: "fluxlit stopped 2.0s after Streamlit's
// SIGTERM; want at least 5s".
func TestStopKillsAfterFiveSeconds(t *testing.T) {
	p, log := promiseStopRun(t, `, "ignore"`)
	ui := debugChildren(t, p.base)["streamlit"].PID
	p.cmd.Process.Signal(syscall.SIGTERM)
	// The grace starts when Streamlit is signalled, which its log line marks.
	var signalled time.Time
	for deadline := time.Now().Add(30 * time.Second); signalled.IsZero(); time.Sleep(10 * time.Millisecond) {
		if got, _ := os.ReadFile(log); strings.HasPrefix(string(got), "streamlit term\n") {
			signalled = time.Now()
		} else if time.Now().After(deadline) {
			t.Fatalf("Streamlit was not signalled within 30 s of fluxlit's SIGTERM (log %q)", got)
		}
	}
	if code := p.exitCode(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d; want 0", code)
	}
	// Streamlit wrote its line before this test saw it: the grace ran at least this long.
	if d := time.Since(signalled); d < 5*time.Second {
		t.Errorf("fluxlit stopped %.1fs after Streamlit's SIGTERM; want at least 5s (the SIGKILL comes after 5 s)", d.Seconds())
	}
	if !groupGone(ui) {
		t.Errorf("the Streamlit child's group (pid %d) outlived fluxlit", ui)
	}
	got, _ := os.ReadFile(log)
	if want := "streamlit term\napi term\napi exit\n"; string(got) != want {
		t.Errorf("the children stopped in this order:\n%s\nwant (Streamlit killed, never exiting by itself, before the API is signalled):\n%s", got, want)
	}
	if !strings.Contains(p.log.String(), "child ignored SIGTERM; killing it") {
		t.Errorf("no line saying Streamlit ignored SIGTERM and was killed:\n%s", p.log.String())
	}
}
