package main

// Integration tests of what a person sees in the log (issue #19): a failing route with
// log_level = "warn", in both formats (the console on a terminal is console_tty_linux_test.go).
// The real binary, the real uvicorn from the newest venv.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// raisingApp is a FastAPI app with a route that raises.
const raisingApp = `from fastapi import FastAPI

app = FastAPI()


@app.get("/users")
def users():
    return [{"name": "Ada"}]


@app.get("/boom")
def boom():
    return 1 / 0
`

// TestIntegrationRouteRaisesLogged: with log_level = "warn", a route that raises leaves an
// ERROR record with the traceback (naming app.py and the line) and a WARN access line for
// the 500, carrying the same request id; in JSON, every line fluxlit writes on either
// stream parses, [fluxlit-debug] lines included. Before #19: nothing at all (the traceback
// was ~60 INFO records, the 500 an INFO access line, both filtered out at "warn").
func TestIntegrationRouteRaisesLogged(t *testing.T) {
	requireIntegration(t, "fastapi")
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "app.py"), raisingApp)
			writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf(
				"python = %q\nstreamlit_upstream = %q\nlog_level = \"warn\"\ndebug = true\n", streamlitPython(t), relStreamlitStub(t)))
			port := freePort(t)
			cmd := exec.Command(fluxlitBinary(t), "run", "--port", strconv.Itoa(port), "--no-pidfile", "--log-format", format)
			cmd.Dir = dir
			cmd.Env = cleanFluxlitEnv()
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				<-done
			}()
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			waitStatus(t, base+"/api/readyz", 200, 90*time.Second)
			res, _ := httpDo(t, "GET", base+"/api/boom", nil, nil)
			if res.StatusCode != 500 {
				t.Fatalf("/api/boom: %d; want 500", res.StatusCode)
			}
			id := res.Header.Get("X-Request-Id")
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "ZeroDivisionError: division by zero (app.py:13, in boom)") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("no exit 30 s after SIGTERM")
			}
			out := stderr.String()
			if format == "text" {
				checkTextRaise(t, out, id)
			} else {
				checkJSONRaise(t, out, id)
				for name, s := range map[string]string{"stdout": stdout.String(), "stderr": out} {
					for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
						if l != "" && !json.Valid([]byte(l)) {
							t.Errorf("%s line %d is not JSON: %q", name, i+1, l)
						}
					}
				}
			}
			if t.Failed() {
				t.Logf("stderr:\n%s\nstdout:\n%s", out, stdout.String())
			}
		})
	}
}

func checkTextRaise(t *testing.T, out, id string) {
	t.Helper()
	var errors, warns []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.Contains(l, " ERROR "):
			errors = append(errors, l)
		case strings.Contains(l, " WARN "):
			warns = append(warns, l)
		case strings.Contains(l, " INFO "):
			t.Errorf("INFO line at log_level = warn: %q", l)
		}
	}
	want := "ERROR api: Exception in ASGI application: ZeroDivisionError: division by zero (app.py:13, in boom)"
	if len(errors) != 1 || !strings.Contains(errors[0], want) {
		t.Errorf("ERROR lines %q; want one with %q", errors, want)
	}
	if !strings.Contains(out, "               Traceback (most recent call last):\n") ||
		!strings.Contains(out, "               ZeroDivisionError: division by zero\n") {
		t.Errorf("no indented traceback under the ERROR line")
	}
	access := "WARN  GET /api/boom 500 "
	if n := strings.Count(out, access); n != 1 || !strings.Contains(out, "id="+id) {
		t.Errorf("%d lines with %q (want 1, with id=%s)", n, access, id)
	}
}

func checkJSONRaise(t *testing.T, out, id string) {
	t.Helper()
	var errRecs, access []map[string]any
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue // reported by the caller
		}
		switch {
		case rec["level"] == "ERROR":
			errRecs = append(errRecs, rec)
		case rec["level"] == "INFO":
			t.Errorf("INFO record at log_level = warn: %s", l)
		case rec["status"] != nil:
			access = append(access, rec)
		}
	}
	if len(errRecs) != 1 {
		t.Fatalf("%d ERROR records; want 1", len(errRecs))
	}
	e := errRecs[0]
	tb, _ := e["traceback"].(string)
	if e["child"] != "api" || !strings.HasSuffix(e["file"].(string), "app.py") || e["line"] != 13.0 ||
		!strings.HasPrefix(tb, "Traceback (most recent call last):") || !strings.HasSuffix(tb, "ZeroDivisionError: division by zero") {
		t.Errorf("ERROR record %v; want child api, app.py line 13 and the traceback", e)
	}
	if e["request_id"] != id {
		t.Errorf("ERROR record's request_id %v; want %s (the 500's)", e["request_id"], id)
	}
	if len(access) != 1 || !isWarnLevel(access[0]["level"]) || access[0]["status"] != 500.0 || access[0]["request_id"] != id {
		t.Errorf("access records %v; want one WARN for the 500 with request_id %s", access, id)
	}
}

// isWarnLevel accepts slog's name for WARN and Python's (WARNING), which JSON lines may use.
func isWarnLevel(level any) bool { return level == "WARN" || level == "WARNING" }

// TestIntegrationStreamlitScriptRaisesLogged: a Streamlit script that raises is one ERROR
// record naming the script and line, its traceback plain text. Streamlit draws the traceback
// with rich when rich is installed (FastAPI's standard extras install it; the newest venv has
// it): colour codes and box characters on a forced terminal, which reached fluxlit's log as
// some thirty INFO records of escaped ANSI codes, none of them saying where it failed.
func TestIntegrationStreamlitScriptRaisesLogged(t *testing.T) {
	dir := devProject(t, "")
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), "import streamlit as st\n\nst.title(\"Before\")\n1 / 0\n")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 90*time.Second)
	streamlitSession(t, openSession(t, p), 30*time.Second)
	want := "Uncaught app execution: ZeroDivisionError: division by zero (streamlit_app.py:4)"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.log.String(), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	var errs []map[string]any
	for _, rec := range logRecords(t, p.log.String()) {
		if rec["child"] != "streamlit" {
			continue
		}
		if msg, _ := rec["msg"].(string); strings.Contains(msg, "\x1b") || strings.Contains(msg, `\x1b`) || strings.Contains(msg, "─") {
			t.Errorf("a Streamlit line with terminal drawing: %q", msg)
		}
		if rec["level"] == "ERROR" {
			errs = append(errs, rec)
		}
	}
	if len(errs) != 1 || errs[0]["msg"] != want || errs[0]["line"] != float64(4) {
		t.Fatalf("Streamlit's ERROR records %v; want one, %q at line 4", errs, want)
	}
	if tb, _ := errs[0]["traceback"].(string); !strings.HasPrefix(tb, "Traceback (most recent call last):") || !strings.HasSuffix(tb, "ZeroDivisionError: division by zero") {
		t.Errorf("traceback %q; want Python's plain one", tb)
	}
}
