package main

// Integration tests of the zero-downtime reload (issue #20) with the real binary and real
// children, under a steady load of HTTP requests and open Streamlit sessions: the load
// generator's count of failed requests stays zero, every open WebSocket is closed with 1001
// and reconnects to the new code, and a broken app is rolled back while the old generation
// keeps serving.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadAPI and reloadUI are the app at version %s.
const reloadAPI = `from fastapi import FastAPI

app = FastAPI()


@app.get("/version")
def version():
    return {"version": "%s"}
`

const reloadUI = `import streamlit as st

st.write("code: %s")
`

// reloadProject writes a project at version v1 with extra fluxlit.toml lines.
func reloadProject(t *testing.T, extraTOML string) string {
	t.Helper()
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	dir := t.TempDir()
	reloadWriteVersion(t, dir, "v1")
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), "python = "+strconv.Quote(streamlitPython(t))+
		"\ntarget = \"app:app\"\nstreamlit_script = \"streamlit_app.py\"\ndebug = true\nrestart_max_backoff_s = 1\n"+extraTOML)
	return dir
}

func reloadWriteVersion(t *testing.T, dir, v string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "app.py"), fmt.Sprintf(reloadAPI, v))
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), fmt.Sprintf(reloadUI, v))
}

// loadGen is a steady load on a fluxlit: workers that each request paths in turn, every
// request bounded, counting answers that are not 200 (and refused connections apart).
type loadGen struct {
	ok, failed, refused atomic.Int64
	mu                  sync.Mutex
	errs                []string
	stop                chan struct{}
	wg                  sync.WaitGroup
}

// loadMaxRun bounds any load loop, whatever the test does.
const loadMaxRun = 5 * time.Minute

// startLoad runs workers over paths of base. Half the workers keep their connections alive
// (with a cookie jar, like a browser); the others open a new connection per request, so that
// connections keep being accepted throughout.
func startLoad(t *testing.T, base string, workers int, paths []string) *loadGen {
	l := &loadGen{stop: make(chan struct{})}
	for w := range workers {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			Transport: &http.Transport{DisableKeepAlives: w%2 == 1, Proxy: nil}}
		l.wg.Go(func() {
			end := time.Now().Add(loadMaxRun)
			for i := 0; time.Now().Before(end); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(client, base+paths[(i+w)%len(paths)])
				time.Sleep(10 * time.Millisecond) // a steady load, not a saturating one: the box has 2 cores
			}
		})
	}
	t.Cleanup(l.finish)
	return l
}

func (l *loadGen) one(client *http.Client, url string) {
	res, err := client.Get(url)
	if err == nil {
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil && res.StatusCode != 200 {
			err = fmt.Errorf("status %d", res.StatusCode)
		}
	}
	if err == nil {
		l.ok.Add(1)
		return
	}
	l.failed.Add(1)
	if errors.Is(err, syscall.ECONNREFUSED) {
		l.refused.Add(1)
	}
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" GET "+url+": "+err.Error())
	}
	l.mu.Unlock()
}

func (l *loadGen) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// check stops the load and fails the test on any failed request.
func (l *loadGen) check(t *testing.T, what string) {
	t.Helper()
	l.finish()
	t.Logf("%s: %d requests answered 200, %d failed (%d refused)", what, l.ok.Load(), l.failed.Load(), l.refused.Load())
	if l.failed.Load() != 0 {
		t.Errorf("%s: %d requests failed (%d connections refused); first: %q", what, l.failed.Load(), l.refused.Load(), l.errs)
	}
	if l.ok.Load() < 50 {
		t.Errorf("%s: only %d requests answered; the load did not run", what, l.ok.Load())
	}
}

// fluxlitCommand runs the fluxlit binary with args in dir and returns its exit code and output.
func fluxlitCommand(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(fluxlitBinary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("fluxlit %v: %v", args, err)
	return -1, ""
}

// sessionUntilClose reads c until the server closes it and returns the close code and when
// the close came.
func sessionUntilClose(t *testing.T, c *wsConn, within time.Duration) (int, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		op, msg, err := c.ReadMessage(time.Until(deadline))
		if err != nil {
			t.Fatalf("WebSocket read before a close frame: %v", err)
		}
		if op == wscOpClose {
			code, _ := wscCloseCode(msg)
			return code, time.Now()
		}
	}
	t.Fatalf("no close frame within %v", within)
	return 0, time.Time{}
}

func apiVersion(t *testing.T, base string) string {
	t.Helper()
	res, body := httpDo(t, "GET", base+"/api/version", nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("/api/version: %d %s", res.StatusCode, body)
	}
	return string(body)
}

func TestIntegrationReloadZeroDowntime(t *testing.T) {
	dir := reloadProject(t, "reload_drain_s = 2\n")
	p := launchFluxlit(t, dir, nil, "run")
	waitStatus(t, p.base+"/api/readyz", 200, 120*time.Second)

	// Three open sessions on the first generation.
	type session struct {
		c      *wsConn
		cookie string
	}
	var sessions []session
	for range 3 {
		c, cookie := replicaSession(t, p, "")
		if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "code: v1") {
			t.Fatalf("session before the reload: %q", seen)
		}
		sessions = append(sessions, session{c, cookie})
	}
	load := startLoad(t, p.base, 4, []string{"/api/version", "/", "/_stcore/health", "/api/healthz"})
	time.Sleep(time.Second)

	// The new code, two replicas instead of one, and a gateway setting a reload cannot apply.
	reloadWriteVersion(t, dir, "v2")
	toml, _ := os.ReadFile(filepath.Join(dir, "fluxlit.toml"))
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), string(toml)+"streamlit_replicas = 2\nenable_security_headers = true\n")
	reloadAt := time.Now()
	code, out := fluxlitCommand(t, dir, "reload")
	if code != 0 || !strings.Contains(out, "generation 2 serving (api, 2 streamlit replicas); generation 1 drains") ||
		!strings.Contains(out, "not applied") || !strings.Contains(out, "enable_security_headers") {
		t.Fatalf("fluxlit reload: exit %d, %q; want 0 and generation 2 serving, enable_security_headers not applied", code, out)
	}
	if v := apiVersion(t, p.base); !strings.Contains(v, "v2") {
		t.Errorf("/api/version right after the reload: %s; want v2", v)
	}

	// Every open session is told to go away (1001) once reload_drain_s has passed, and its
	// reconnect (with its cookie, naming a replica of generation 1) runs the new code.
	for i, s := range sessions {
		code, at := sessionUntilClose(t, s.c, 30*time.Second)
		if code != 1001 {
			t.Errorf("session %d closed with %d; want 1001", i, code)
		}
		if d := at.Sub(reloadAt); d < 2*time.Second {
			t.Errorf("session %d closed %v after the reload; want after reload_drain_s (2s)", i, d)
		}
		c, cookie := replicaSession(t, p, s.cookie)
		if !strings.Contains(cookie, "=2.") {
			t.Errorf("session %d reconnected with cookie %q; want a replica of generation 2", i, cookie)
		}
		if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "code: v2") {
			t.Errorf("session %d after the reload: %q; want the new code", i, seen)
		}
		c.Close()
	}
	waitLog(t, p, "reload: generation 1 stopped", 30*time.Second)
	gen, reps := debugReplicas(t, p.base)
	if gen != 2 || len(reps) != 2 || reps["2.1"].State != "ok" || reps["2.2"].State != "ok" {
		t.Errorf("debug page after the reload: generation %d, replicas %+v; want 2 with 2.1 and 2.2 ok", gen, reps)
	}

	// A broken app: the new generation fails, is rolled back, and generation 2 never stops.
	writeFile(t, filepath.Join(dir, "app.py"), "from fastapi import FastAPI\napp = FastAPI(\n")
	code, out = fluxlitCommand(t, dir, "reload")
	if code != 1 || !strings.HasPrefix(out, "reload rolled back: ") ||
		!strings.Contains(out, "SyntaxError") || !strings.Contains(out, "generation 2 keeps serving") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("fluxlit reload of a broken app: exit %d, %q; want 1 and one line: rolled back, its SyntaxError, generation 2 keeps serving", code, out)
	}
	if v := apiVersion(t, p.base); !strings.Contains(v, "v2") {
		t.Errorf("/api/version after the rollback: %s; want v2", v)
	}
	c, _ := replicaSession(t, p, "")
	if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "code: v2") {
		t.Errorf("session after the rollback: %q", seen)
	}
	c.Close()
	load.check(t, "load during two reloads")
	if gen, _ := debugReplicas(t, p.base); gen != 2 {
		t.Errorf("generation %d after the rollback; want 2", gen)
	}
}

// TestIntegrationReloadWhileStarting: SIGHUP and SIGUSR2 that arrive while the children start
// are answered (not applied), and fluxlit goes on to be ready. (Seen to fail before the signals
// were caught from the start: SIGHUP's default action ended fluxlit, and readyz never came.)
func TestIntegrationReloadWhileStarting(t *testing.T) {
	dir := reloadProject(t, "")
	p := launchFluxlit(t, dir, nil, "run")
	waitHTTP(t, p.base+"/api/healthz", 10*time.Second, p)
	if code := statusOf(t, p.base+"/api/readyz"); code != 503 {
		t.Fatalf("readyz %d; want 503 while the children start", code)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.cmd.Process.Signal(syscall.SIGUSR2)
	waitStatus(t, p.base+"/api/readyz", 200, 120*time.Second)
	select {
	case <-p.done:
		t.Fatalf("fluxlit exited: %v", p.err)
	default:
	}
	res, err := readOutcome(outcomePath(filepath.Join(dir, ".fluxlit.pid")))
	if err != nil || res.OK || !strings.Contains(res.Message, "still starting") {
		t.Errorf("outcome %+v (%v); want a refusal naming the start", res, err)
	}
}
