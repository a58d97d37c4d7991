package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// childLogRecords feeds lines to a childLog of the api child (project /proj) and returns the
// JSON records it wrote, in order.
func childLogRecords(t *testing.T, lines []string, opts childLogOptions) []map[string]any {
	t.Helper()
	var buf syncBuffer
	opts.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Child == "" {
		opts.Child = "api"
	}
	opts.Stream, opts.Project = "stderr", "/proj"
	// The lines stand for one write of the child: on a loaded machine this loop can pause
	// longer than childQuiet between two of them (seen: a 6,001-line traceback came out as
	// 5,442 records under -race at load 25). TestChildLogQuietFlush tests the quiet flush.
	opts.Quiet = time.Hour
	c := newChildLog(opts)
	for _, l := range lines {
		c.Line(l)
	}
	c.Close()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func childLogFixture(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/childlog/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// The fixtures are real uvicorn output (paths shortened to /venv, /usr and /proj): a route
// that raises ZeroDivisionError, and an app.py with a syntax error. Before childlog.go each
// of their lines was its own INFO record (69 and 42 records, "ERROR:" among them at INFO).
func TestChildLogTracebacks(t *testing.T) {
	tests := []struct {
		name, fixture string
		wantMsgs      []string // level + " " + msg of every record
		wantFile      string
		wantLine      float64
		tbLines       int // at least this many traceback lines
	}{
		{
			name: "route raises", fixture: "uvicorn_route_raises.txt",
			wantMsgs: []string{
				"INFO Started server process [10093]", "INFO Waiting for application startup.",
				"INFO Application startup complete.", "DEBUG Uvicorn running on http://127.0.0.1:18999 (Press CTRL+C to quit)",
				"ERROR Exception in ASGI application: ZeroDivisionError: division by zero (app.py:6, in boom)",
				"INFO Shutting down", "INFO Waiting for application shutdown.", "INFO Application shutdown complete.",
				"INFO Finished server process [10093]",
			},
			wantFile: "/proj/app.py", wantLine: 6, tbLines: 60,
		},
		{
			name: "syntax error at import", fixture: "uvicorn_syntax_error.txt",
			wantMsgs: []string{"ERROR SyntaxError: invalid syntax (app.py:5)"},
			wantFile: "/proj/app.py", wantLine: 5, tbLines: 40,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := childLogRecords(t, childLogFixture(t, tc.fixture), childLogOptions{})
			var got []string
			for _, r := range recs {
				got = append(got, r["level"].(string)+" "+r["msg"].(string))
				if r["level"] != "ERROR" {
					continue
				}
				if r["file"] != tc.wantFile || r["line"] != tc.wantLine {
					t.Errorf("file, line = %v, %v; want %s, %v", r["file"], r["line"], tc.wantFile, tc.wantLine)
				}
				tb, _ := r["traceback"].(string)
				if n := strings.Count(tb, "\n") + 1; n < tc.tbLines || !strings.HasPrefix(tb, "Traceback (most recent call last):") {
					t.Errorf("traceback of %d lines starting %.40q; want >= %d from the header", n, tb, tc.tbLines)
				}
				if r["child"] != "api" || r["stream"] != "stderr" {
					t.Errorf("child, stream = %v, %v", r["child"], r["stream"])
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.wantMsgs, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantMsgs, "\n"))
			}
		})
	}
}

func TestChildLogLines(t *testing.T) {
	tests := []struct {
		name  string
		child string
		in    []string
		want  []string // level + " " + msg
	}{
		{"streamlit start-up: blank lines dropped, its own address is DEBUG", "streamlit",
			[]string{"INFO: Uvicorn server started on 127.0.0.1:18998", "", "  You can now view your Streamlit app in your browser.", "", "  URL: http://127.0.0.1:18998", "", "  Stopping..."},
			[]string{"DEBUG Uvicorn server started on 127.0.0.1:18998", "DEBUG You can now view your Streamlit app in your browser.", "DEBUG URL: http://127.0.0.1:18998", "INFO Stopping..."}},
		{"levels from prefixes", "api",
			[]string{"DEBUG:    d", "INFO:     i", "WARNING:  w", "ERROR:    e", "CRITICAL: c", "print output", "WARNING: streamlit style"},
			[]string{"DEBUG d", "INFO i", "WARN w", "ERROR e", "ERROR c", "INFO print output", "WARN streamlit style"}},
		{"a warning and its source line", "api",
			[]string{"/proj/app.py:3: DeprecationWarning: old", "  import imp", "INFO:     next"},
			[]string{"WARN /proj/app.py:3: DeprecationWarning: old", "INFO next"}},
		{"an ERROR line without a traceback stays one line", "api",
			[]string{"ERROR:    Error loading ASGI app. Could not import module \"main\".", "INFO:     after"},
			[]string{"ERROR Error loading ASGI app. Could not import module \"main\".", "INFO after"}},
		{"chained exceptions are one record naming the last", "api",
			[]string{"Traceback (most recent call last):", "  File \"/proj/app.py\", line 2, in <module>", "    x()", "KeyError: 'a'", "",
				"During handling of the above exception, another exception occurred:", "",
				"Traceback (most recent call last):", "  File \"/proj/app.py\", line 4, in <module>", "    y()", "ValueError: b", "INFO:     next"},
			[]string{"ERROR ValueError: b (app.py:4)", "INFO next"}},
		{"an exception group", "api",
			[]string{"ERROR:    Exception in ASGI application", "  + Exception Group Traceback (most recent call last):",
				"  |   File \"/venv/site-packages/anyio/_backends/_asyncio.py\", line 763, in __aexit__",
				"  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)", "  +-+---------------- 1 ----------------",
				"    | Traceback (most recent call last):", "    |   File \"/proj/app.py\", line 9, in handler", "    | ValueError: x",
				"    +------------------------------------"},
			[]string{"ERROR Exception in ASGI application (app.py:9, in handler)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := childLogRecords(t, tc.in, childLogOptions{Child: tc.child})
			var got []string
			for _, r := range recs {
				got = append(got, r["level"].(string)+" "+r["msg"].(string))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// A serving API's traceback names the one request that failed meanwhile; a child that is
// not serving (starting, a syntax error) or two failures at once name none.
func TestChildLogRequestID(t *testing.T) {
	lines := childLogFixture(t, "uvicorn_route_raises.txt")
	tests := []struct {
		name    string
		serving bool
		failed  []string
		want    any
	}{
		{"one failure", true, []string{"rid-1"}, "rid-1"},
		{"two failures: ambiguous", true, []string{"rid-1", "rid-2"}, nil},
		{"not serving", false, []string{"rid-1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &failedRequests{}
			f.add("streamlit", "rid-ui")
			for _, id := range tc.failed {
				f.add("api", id)
			}
			recs := childLogRecords(t, lines, childLogOptions{
				Serving:   func() bool { return tc.serving },
				RequestID: func(since time.Time) string { return f.since("api", since) },
			})
			for _, r := range recs {
				if r["level"] == "ERROR" && r["request_id"] != tc.want {
					t.Errorf("request_id %v; want %v", r["request_id"], tc.want)
				}
			}
		})
	}
}

// The traceback of a runaway recursion keeps its head and tail and says what it left out.
func TestChildLogTracebackBounded(t *testing.T) {
	lines := []string{"Traceback (most recent call last):"}
	for i := 0; i < 3000; i++ {
		lines = append(lines, "  File \"/proj/app.py\", line 2, in f", "    return f()")
	}
	lines = append(lines, "RecursionError: maximum recursion depth exceeded")
	recs := childLogRecords(t, lines, childLogOptions{})
	if len(recs) != 1 {
		t.Fatalf("%d records; want 1", len(recs))
	}
	tb := recs[0]["traceback"].(string)
	if n := strings.Count(tb, "\n") + 1; n > childTracebackMax+1 || !strings.HasSuffix(tb, "lines left out]") ||
		!strings.Contains(tb, "RecursionError") || recs[0]["msg"] != "RecursionError: maximum recursion depth exceeded (app.py:2, in f)" {
		t.Errorf("%d lines, msg %q, tail %q", n, recs[0]["msg"], tb[len(tb)-120:])
	}
}

// A traceback is written once its lines stop coming, without waiting for the next line.
func TestChildLogQuietFlush(t *testing.T) {
	var buf syncBuffer
	c := newChildLog(childLogOptions{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Child: "api", Stream: "stderr"})
	for _, l := range []string{"Traceback (most recent call last):", "  File \"/x.py\", line 1, in <module>", "ValueError: v"} {
		c.Line(l)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Contains([]byte(buf.String()), []byte("ValueError: v")) {
		if time.Now().After(deadline) {
			t.Fatalf("traceback not written %v after its last line", 5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCollapseLibraryFrames: runs of two or more library frames become one line at their
// indent (an exception group's bars kept); one library frame, the user's frames, the chain
// lines and the exceptions stay as printed.
func TestCollapseLibraryFrames(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"stdlib, frozen and a package",
			"Traceback (most recent call last):\n" +
				`  File "<frozen runpy>", line 198, in _run_module_as_main` + "\n" +
				`  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import` + "\n" +
				`  File "<frozen importlib._bootstrap_external>", line 940, in exec_module` + "\n" +
				`  File "/usr/lib/python3.11/asyncio/runners.py", line 190, in run` + "\n    return runner.run(main)\n" +
				`  File "/srv/.venv/lib/python3.11/site-packages/uvicorn/main.py", line 4, in run` + "\n    server.run()\n" +
				`  File "/srv/app.py", line 3, in <module>` + "\n    import missing\n" +
				"ModuleNotFoundError: No module named 'missing'",
			"Traceback (most recent call last):\n  [5 frames in runpy, importlib, asyncio, uvicorn]\n" +
				`  File "/srv/app.py", line 3, in <module>` + "\n    import missing\n" +
				"ModuleNotFoundError: No module named 'missing'"},
		{"one library frame stays",
			"Traceback (most recent call last):\n" +
				`  File "/usr/lib/python3/dist-packages/yaml/__init__.py", line 81, in load` + "\n    return loader.get_single_data()\n" +
				"yaml.YAMLError: bad",
			"Traceback (most recent call last):\n" +
				`  File "/usr/lib/python3/dist-packages/yaml/__init__.py", line 81, in load` + "\n    return loader.get_single_data()\n" +
				"yaml.YAMLError: bad"},
		{"a chain and an exception group",
			"Traceback (most recent call last):\n" +
				`  File "/v/lib/python3.12/site-packages/anyio/a.py", line 1, in f` + "\n    x()\n" +
				`  File "/v/lib/python3.12/site-packages/anyio/b.py", line 2, in g` + "\n    y()\n" +
				"KeyError: 'a'\n\nThe above exception was the direct cause of the following exception:\n\n" +
				"  + Exception Group Traceback (most recent call last):\n" +
				`  |   File "/v/lib/python3.12/site-packages/starlette/m.py", line 9, in h` + "\n  |     z()\n" +
				`  |   File "/v/lib/python3.12/site-packages/starlette/n.py", line 8, in i` + "\n  |     w()\n" +
				"  | ExceptionGroup: one (1 sub-exception)\n  +-+---------------- 1 ----------------",
			"Traceback (most recent call last):\n  [2 frames in anyio]\n" +
				"KeyError: 'a'\n\nThe above exception was the direct cause of the following exception:\n\n" +
				"  + Exception Group Traceback (most recent call last):\n  |   [2 frames in starlette]\n" +
				"  | ExceptionGroup: one (1 sub-exception)\n  +-+---------------- 1 ----------------"},
	} {
		got := strings.Join(collapseLibraryFrames(strings.Split(tc.in, "\n")), "\n")
		if got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// TestStreamlitLogOptions: the Streamlit child gets fluxlit's log format and plain tracebacks
// through its environment, unless the user set either in the environment or in
// streamlit_run_cli_args.
func TestStreamlitLogOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string
		environ  []string
		want     map[string]string // "" = not set by fluxlit
	}{
		{"defaults", nil, nil, map[string]string{"STREAMLIT_LOGGER_ENABLE_RICH": "false", "STREAMLIT_LOGGER_MESSAGE_FORMAT": "%(levelname)s: %(message)s"}},
		{"the user's environment", nil, []string{"STREAMLIT_LOGGER_ENABLE_RICH=true"},
			map[string]string{"STREAMLIT_LOGGER_ENABLE_RICH": "true", "STREAMLIT_LOGGER_MESSAGE_FORMAT": "%(levelname)s: %(message)s"}},
		{"the user's flag", map[string]string{"streamlit_run_cli_args": `["--logger.enableRich=true"]`}, nil,
			map[string]string{"STREAMLIT_LOGGER_ENABLE_RICH": "", "STREAMLIT_LOGGER_MESSAGE_FORMAT": "%(levelname)s: %(message)s"}},
	} {
		settings := map[string]string{"streamlit_script": "ui.py"}
		for k, v := range tc.settings {
			settings[k] = v
		}
		spec, _, err := streamlitChildSpec(testConfig(t, settings), 8000, tc.environ, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range tc.want {
			got := ""
			for _, kv := range spec.Env {
				if v, ok := strings.CutPrefix(kv, name+"="); ok {
					got = v
				}
			}
			if got != want {
				t.Errorf("%s: %s=%q; want %q", tc.name, name, got, want)
			}
		}
	}
}
