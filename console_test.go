package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// consoleLine renders one record with the console handler at a fixed local time.
func consoleLine(t *testing.T, color bool, level slog.Level, msg string, attrs ...slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	h := &consoleHandler{w: &buf, level: slog.LevelDebug, color: color}
	r := slog.NewRecord(time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local), level, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestConsoleFormat(t *testing.T) {
	tb := "Traceback (most recent call last):\n  File \"/venv/lib/python3.11/site-packages/starlette/middleware/exceptions.py\", line 63, in __call__ and a long tail\n    return 1/0\nZeroDivisionError: division by zero"
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string
	}{
		{"own line", slog.LevelInfo, "fluxlit ready in 1.2s", nil,
			"15:04:05 INFO  fluxlit ready in 1.2s\n"},
		{"attributes", slog.LevelWarn, "configuration: x", []slog.Attr{slog.String("setting", "a b"), slog.Int("n", 3)},
			"15:04:05 WARN  configuration: x setting=\"a b\" n=3\n"},
		{"child line", slog.LevelInfo, "Application startup complete.", []slog.Attr{slog.String("child", "api"), slog.String("stream", "stderr")},
			"15:04:05 INFO  api: Application startup complete.\n"},
		{"access line", slog.LevelInfo, "access", []slog.Attr{slog.String("request_id", "4f2a-1"), slog.String("dispatch", "api"),
			slog.String("method", "GET"), slog.String("path", "/api/users"), slog.Int("status", 200), slog.Int64("bytes", 512),
			slog.Int64("bytes_in", 0), slog.Float64("duration_ms", 3.14), slog.String("client", "127.0.0.1"), slog.String("query", "page=2")},
			"15:04:05 INFO  GET /api/users?page=2 200 3.1ms 512B (api) id=4f2a-1 client=127.0.0.1\n"},
		{"5xx access line", slog.LevelWarn, "access", []slog.Attr{slog.String("request_id", "r"), slog.String("dispatch", "api"),
			slog.String("method", "POST"), slog.String("path", "/api/x"), slog.Int("status", 500), slog.Int64("bytes", 21),
			slog.Float64("duration_ms", 1500), slog.String("client", "10.0.0.1")},
			"15:04:05 WARN  POST /api/x 500 1.5s 21B (api) id=r client=10.0.0.1\n"},
		{"websocket close", slog.LevelInfo, "websocket close", []slog.Attr{slog.String("request_id", "r"), slog.String("dispatch", "streamlit"),
			slog.String("method", "websocket"), slog.String("path", "/_stcore/stream"), slog.Int("status", 101),
			slog.Float64("duration_ms", 12345), slog.Int64("bytes_in", 1200), slog.Int64("bytes_out", 34000),
			slog.String("closed_by", "client"), slog.String("client", "127.0.0.1")},
			"15:04:05 INFO  WEBSOCKET /_stcore/stream 101 closed by client 12.3s in 1.2kB out 34.0kB (streamlit) id=r\n" +
				"               client=127.0.0.1\n"},
		{"traceback block", slog.LevelError, "ZeroDivisionError: division by zero (app.py:6, in boom)", []slog.Attr{
			slog.String("child", "api"), slog.String("file", "/proj/app.py"), slog.Int("line", 6), slog.String("traceback", tb), slog.String("request_id", "r")},
			"15:04:05 ERROR api: ZeroDivisionError: division by zero (app.py:6, in boom) request_id=r\n" +
				"               Traceback (most recent call last):\n" +
				"                 File \"/venv/lib/python3.11/site-packages/starlette/middleware/exceptions.py\", line 63, in __call__ and\n" +
				"                     a long tail\n" +
				"                   return 1/0\n" +
				"               ZeroDivisionError: division by zero\n"},
		{"long message wraps under itself", slog.LevelInfo, strings.TrimSpace(strings.Repeat("word ", 30)), nil,
			"15:04:05 INFO  " + strings.TrimSpace(strings.Repeat("word ", 21)) + "\n               " + strings.TrimSpace(strings.Repeat("word ", 9)) + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := consoleLine(t, false, tc.level, tc.msg, tc.attrs...)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			for _, l := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
				if n := utf8.RuneCountInString(l); n > consoleWidth {
					t.Errorf("line of %d columns: %q", n, l)
				}
			}
		})
	}
}

func TestConsoleColor(t *testing.T) {
	got := consoleLine(t, true, slog.LevelError, "boom")
	if want := "\x1b[2m15:04:05\x1b[0m \x1b[1;31mERROR\x1b[0m boom\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	tests := []struct {
		name     string
		format   string
		terminal bool
		env      map[string]string
		want     logStyle
	}{
		{"terminal", "auto", true, nil, logStyle{color: true}},
		{"NO_COLOR", "auto", true, map[string]string{"NO_COLOR": "1"}, logStyle{}},
		{"TERM=dumb", "auto", true, map[string]string{"TERM": "dumb"}, logStyle{}},
		{"pipe", "auto", false, nil, logStyle{json: true}},
		{"text on a pipe", "text", false, nil, logStyle{}},
		{"json on a terminal", "json", true, nil, logStyle{json: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logStyleFor(&Config{LogFormat: tc.format}, tc.terminal, tc.env); got != tc.want {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

// TestConsoleQuietsStaticFiles: in the console format a page load's static files served well
// are DEBUG lines (a page load fetches some seventy); the page, a static file that failed and
// every line at log_level debug still show, and JSON logs keep them all at INFO.
func TestConsoleQuietsStaticFiles(t *testing.T) {
	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing.js") {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(ui.Close)
	for _, tc := range []struct {
		name, level string
		json        bool
		want        []string // the paths with an access line, in order
	}{
		{"console, info", "info", false, []string{"/apps/demo/", "/apps/demo/static/missing.js", "/static/x.js"}},
		{"console, debug", "debug", false, []string{"/apps/demo/", "/apps/demo/static/js/index.js", "/apps/demo/static/missing.js", "/static/x.js"}},
		{"json, info", "info", true, []string{"/apps/demo/", "/apps/demo/static/js/index.js", "/apps/demo/static/missing.js", "/static/x.js"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL, "root_path": "/apps/demo", "log_level": tc.level, "enable_gateway_access_log": "true"})
			logs := &obsLogBuffer{}
			g, err := newGateway(cfg, newLogger(cfg, logs, logStyle{json: tc.json}), "127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			gw := httptest.NewServer(g)
			t.Cleanup(gw.Close)
			// /static/x.js is outside root_path: not Streamlit's static files.
			for _, p := range []string{"/apps/demo/", "/apps/demo/static/js/index.js", "/apps/demo/static/missing.js", "/static/x.js"} {
				obsDo(t, "GET", gw.URL+p, nil, "")
			}
			var got []string
			for _, line := range strings.Split(logs.String(), "\n") {
				for _, p := range []string{"/apps/demo/", "/apps/demo/static/js/index.js", "/apps/demo/static/missing.js", "/static/x.js"} {
					if strings.Contains(line, " "+p+" ") || strings.Contains(line, `"path":"`+p+`"`) {
						got = append(got, p)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("access lines for %q; want %q\n%s", got, tc.want, logs.String())
			}
		})
	}
}

// TestConsoleCollapsesLibraryFrames: at a terminal, a route's traceback (real uvicorn output,
// 23 frames of uvicorn, FastAPI, Starlette and anyio above the user's one) shows the user's
// frame and the exception under one line for the library frames; log_level debug shows every
// frame, as JSON logs do.
func TestConsoleCollapsesLibraryFrames(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  []string // the lines of the ERROR record, after the time and level column
	}{
		{slog.LevelInfo, []string{
			"api: Exception in ASGI application: ZeroDivisionError: division by zero (app.py:6, in boom)",
			"Traceback (most recent call last):",
			"  [23 frames in uvicorn, fastapi, starlette, anyio]",
			`  File "/proj/app.py", line 6, in boom`,
			"    return 1/0",
			"           ~^~",
			"ZeroDivisionError: division by zero",
		}},
		{slog.LevelDebug, nil},
	} {
		var buf syncBuffer
		c := newChildLog(childLogOptions{Log: slog.New(&consoleHandler{w: &buf, level: tc.level}), Child: "api",
			Stream: "stderr", Project: "/proj", Quiet: time.Hour})
		for _, l := range childLogFixture(t, "uvicorn_route_raises.txt") {
			c.Line(l)
		}
		c.Close()
		var got []string // the ERROR record's lines, without the time and level column
		for _, l := range strings.Split(buf.String(), "\n") {
			if len(got) > 0 && l != "" && l[0] != ' ' {
				break // the next record
			}
			if len(l) > consoleIndent && (len(got) > 0 || strings.Contains(l[:consoleIndent], "ERROR")) {
				got = append(got, l[consoleIndent:])
			}
		}
		if tc.want == nil {
			if n := strings.Count(strings.Join(got, "\n"), `File "/venv/lib/python3.11/site-packages/`); n != 23 {
				t.Errorf("log_level debug: %d library frames shown; want all 23:\n%s", n, strings.Join(got, "\n"))
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("level %v: the record reads\n%s\nwant\n%s", tc.level, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
