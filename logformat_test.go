// logformat_test.go checks that fluxlit's JSON log lines read as Python FluxLit's: its base
// fields (time, level, logger, message), its access-log fields (request_id, fluxlit_dispatch,
// http_method_or_type, path, query), its level names, and DEBUG access lines when the access
// log is off (5xx stay WARNING); fluxlit's own names (msg, dispatch, method) stay beside them.

package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// logTestGateway serves a gateway whose log is newLogger's, as fluxlit run builds it.
func logTestGateway(t *testing.T, settings map[string]string) (*httptest.Server, *obsLogBuffer, *slog.Logger) {
	t.Helper()
	cfg := testConfig(t, settings)
	logs := &obsLogBuffer{}
	log := newLogger(cfg, logs, logStyle{json: true})
	g, err := newGateway(cfg, log, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.listen = srv.Listener.Addr().String()
	return srv, logs, log
}

func TestJSONLogsHavePythonFields(t *testing.T) {
	api, _ := echoUpstream(t)
	gw, logs, log := logTestGateway(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": api.URL, "enable_gateway_access_log": "true"})
	obsDo(t, "GET", gw.URL+"/api/healthz?fluxlit_sid=topsecret&other=ok", map[string]string{"X-Request-Id": "py-1"}, "")
	obsDo(t, "GET", gw.URL+"/page", map[string]string{"X-Request-Id": "py-2"}, "")
	log.Warn("something to see")
	log.Log(context.Background(), slogLevelCritical, "the end")
	recs := logs.records(t)
	a := obsAccess(t, recs, "access", "py-1")
	want := map[string]any{"logger": "fluxlit.gateway", "message": "gateway GET /api/healthz request_id=py-1", "level": "INFO",
		"request_id": "py-1", "fluxlit_dispatch": "api", "http_method_or_type": "GET", "path": "/api/healthz", "dispatch": "api", "method": "GET"}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("access line %s: got %v; want %v", k, a[k], v)
		}
	}
	if q, _ := a["query"].(string); q != "fluxlit_sid=[REDACTED]&other=ok" {
		t.Errorf("query %q; want the session id redacted", q)
	}
	if b := obsAccess(t, recs, "access", "py-2"); b["query"] != "" || b["fluxlit_dispatch"] != "streamlit" {
		t.Errorf("a line without a query: query %v (present: want \"\"), fluxlit_dispatch %v", b["query"], b["fluxlit_dispatch"])
	}
	levels := map[string]string{}
	for _, r := range recs {
		if r["logger"] == "fluxlit" {
			levels[r["message"].(string)] = r["level"].(string)
			if r["msg"] != r["message"] {
				t.Errorf("line %v: msg and message differ", r)
			}
		}
	}
	if levels["something to see"] != "WARNING" || levels["the end"] != "CRITICAL" {
		t.Errorf("levels %v; want WARNING and CRITICAL, Python's names", levels)
	}
}

// TestAccessLogOffIsDebug: with enable_gateway_access_log off (Python FluxLit's default),
// access lines are DEBUG: written at log_level debug, not at info.
func TestAccessLogOffIsDebug(t *testing.T) {
	api, _ := echoUpstream(t)
	for _, tt := range []struct {
		level string
		lines int
	}{{"debug", 1}, {"info", 0}} {
		gw, logs, _ := logTestGateway(t, map[string]string{"streamlit_upstream": api.URL, "enable_gateway_access_log": "false", "log_level": tt.level})
		obsDo(t, "GET", gw.URL+"/some-streamlit-path", map[string]string{"X-Request-Id": "dbg-1"}, "")
		n := 0
		for _, r := range logs.records(t) {
			if r["msg"] == "access" {
				n++
				if r["level"] != "DEBUG" {
					t.Errorf("log_level %s: access line at %v; want DEBUG", tt.level, r["level"])
				}
			}
		}
		if n != tt.lines {
			t.Errorf("log_level %s, access log off: %d access lines; want %d", tt.level, n, tt.lines)
		}
	}
}

// TestAccessLogOffFailureIsWarn: turning the access log off quiets routine lines, not
// failures: an upstream's 5xx is still one WARNING line at log_level warn.
func TestAccessLogOffFailureIsWarn(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	gw, logs, _ := logTestGateway(t, map[string]string{"streamlit_upstream": failing.URL, "enable_gateway_access_log": "false", "log_level": "warn"})
	obsDo(t, "GET", gw.URL+"/some-streamlit-path", map[string]string{"X-Request-Id": "fail-1"}, "")
	a := obsAccess(t, logs.records(t), "access", "fail-1")
	if a["level"] != "WARNING" || a["status"] != float64(500) {
		t.Errorf("access line %v; want level WARNING, status 500", a)
	}
}
