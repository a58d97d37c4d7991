package main

// Unit tests of observability (issue #6): the access line's fields, query redaction, control
// character escaping, the debug ring, the metrics text, and the /__fluxlit/debug page against
// testdata/debug.golden (volatile fields masked; rewrite with -update).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// obsLogBuffer collects a gateway's log lines (syncBuffer, with a parser of its records).
type obsLogBuffer struct{ syncBuffer }

// records parses every line as a JSON object; a line that is not one fails the test.
func (l *obsLogBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	return obsJSONLines(t, l.String())
}

func obsJSONLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %d is not JSON: %v: %q", i+1, err, line)
			continue
		}
		out = append(out, rec)
	}
	return out
}

// obsGateway serves a gateway for settings (access log on unless overridden) with a JSON
// logger writing into the returned buffer.
func obsGateway(t *testing.T, settings map[string]string) (*gateway, *httptest.Server, *obsLogBuffer) {
	t.Helper()
	s := map[string]string{"enable_gateway_access_log": "true"}
	for k, v := range settings {
		s[k] = v
	}
	cfg := testConfig(t, s)
	logs := &obsLogBuffer{}
	g, err := newGateway(cfg, slog.New(slog.NewJSONHandler(logs, nil)), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.listen = srv.Listener.Addr().String()
	return g, srv, logs
}

func obsDo(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// obsAccess returns the access record with request_id id.
func obsAccess(t *testing.T, recs []map[string]any, msg, id string) map[string]any {
	t.Helper()
	for _, r := range recs {
		if r["msg"] == msg && r["request_id"] == id {
			return r
		}
	}
	t.Fatalf("no %q record with request_id %s in %v", msg, id, recs)
	return nil
}

func TestAccessLineFields(t *testing.T) {
	api, _ := echoUpstream(t)
	ui, _ := echoUpstream(t)
	_, gw, logs := obsGateway(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": ui.URL})
	res, body := obsDo(t, "POST", gw.URL+"/api/items?token=s3cret&x=1", map[string]string{"X-Request-Id": "acc-1"}, "hello")
	if res.StatusCode != 200 {
		t.Fatalf("POST: %d %s", res.StatusCode, body)
	}
	obsDo(t, "GET", gw.URL+"/page", map[string]string{"X-Request-Id": "acc-2", "X-Forwarded-For": "203.0.113.7"}, "")
	obsDo(t, "GET", gw.URL+"/docs", map[string]string{"X-Request-Id": "acc-3"}, "")

	recs := logs.records(t)
	a := obsAccess(t, recs, "access", "acc-1")
	want := map[string]any{"dispatch": "api", "method": "POST", "path": "/api/items", "query": "token=[REDACTED]&x=1",
		"status": float64(200), "bytes": float64(len(body)), "bytes_in": float64(5), "client": "127.0.0.1", "level": "INFO"}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("access %s: got %v; want %v", k, a[k], v)
		}
	}
	for _, k := range []string{"duration_ms", "upstream_ms"} {
		if v, ok := a[k].(float64); !ok || v < 0 {
			t.Errorf("access %s: got %v; want a number of milliseconds", k, a[k])
		}
	}
	if a["upstream_ms"].(float64) > a["duration_ms"].(float64) {
		t.Errorf("upstream_ms %v > duration_ms %v", a["upstream_ms"], a["duration_ms"])
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("the token value reached the log:\n%s", logs.String())
	}
	// Trust is off: a client's X-Forwarded-For does not change the logged client.
	if b := obsAccess(t, recs, "access", "acc-2"); b["client"] != "127.0.0.1" || b["dispatch"] != "streamlit" {
		t.Errorf("untrusted XFF: client %v dispatch %v; want 127.0.0.1 streamlit", b["client"], b["dispatch"])
	}
	if c := obsAccess(t, recs, "access", "acc-3"); c["dispatch"] != "fluxlit" || c["status"] != float64(307) || c["upstream_ms"] != nil {
		t.Errorf("/docs: %v; want dispatch fluxlit, 307, no upstream_ms", c)
	}
}

func TestAccessClientAfterProxyTrust(t *testing.T) {
	ui, _ := echoUpstream(t)
	_, gw, logs := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL, "trust_proxy": "true", "forwarded_allow_ips": "127.0.0.0/8"})
	obsDo(t, "GET", gw.URL+"/page", map[string]string{"X-Request-Id": "trust-1", "X-Forwarded-For": "198.51.100.4, 203.0.113.7"}, "")
	if a := obsAccess(t, logs.records(t), "access", "trust-1"); a["client"] != "203.0.113.7" {
		t.Errorf("client behind a trusted proxy: got %v; want 203.0.113.7", a["client"])
	}
}

func TestAccessLogOff(t *testing.T) {
	ui, _ := echoUpstream(t)
	_, gw, logs := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL, "enable_gateway_access_log": "false"})
	obsDo(t, "GET", gw.URL+"/page", nil, "")
	if s := logs.String(); strings.Contains(s, `"access"`) {
		t.Errorf("access log off, got: %s", s)
	}
}

func TestWebSocketAccessLines(t *testing.T) {
	ui := wsEchoUpstream(t, 0)
	g, gw, logs := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL, "enable_gateway_prometheus_metrics": "true", "debug": "true"})
	c, br, res := testDialWS(t, gw.Listener.Addr().String(), "/_stcore/stream?fluxlit_sid=abc", "X-Request-Id: ws-1\r\n", []byte("hello"))
	if res.StatusCode != 101 {
		t.Fatalf("handshake %d", res.StatusCode)
	}
	if _, p, err := testReadFrame(br); err != nil || string(p) != "hello" {
		t.Fatalf("echo: %q %v", p, err)
	}
	c.Close() // the client goes first, without a close frame: the tunnel must say so
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "websocket close") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	recs := logs.records(t)
	open := obsAccess(t, recs, "websocket open", "ws-1")
	if open["method"] != "websocket" || open["status"] != float64(101) || open["query"] != "fluxlit_sid=[REDACTED]" {
		t.Errorf("open line: %v", open)
	}
	cl := obsAccess(t, recs, "websocket close", "ws-1")
	if cl["closed_by"] != "client" || cl["bytes_in"].(float64) < 5 || cl["bytes_out"].(float64) < 5 || cl["duration_ms"] == nil {
		t.Errorf("close line: %v; want closed_by client, bytes both ways, a duration", cl)
	}
	for _, r := range recs {
		if r["msg"] == "access" && r["request_id"] == "ws-1" {
			t.Errorf("a tunnel also got an access line: %v", r)
		}
	}
	text := obsScrape(t, g)
	for _, want := range []string{
		`fluxlit_gateway_requests_total{dispatch="streamlit",method_kind="WEBSOCKET"} 1`,
		`fluxlit_gateway_responses_total{dispatch="streamlit",code="101"} 1`,
		`fluxlit_gateway_websocket_connections 0`,
		`fluxlit_gateway_websocket_opened_total 1`,
		`fluxlit_gateway_websocket_closed_total{closed_by="client"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	ring := g.obs.debug.snapshot()
	if len(ring) != 1 || ring[0].RequestID != "ws-1" || ring[0].Method != "websocket" || ring[0].Status != 101 {
		t.Errorf("debug ring: %+v; want the tunnel", ring)
	}
}

func TestQueryRedaction(t *testing.T) {
	q := newQueryRedactor([]string{"X-Custom"}, "my_sid")
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"nothing sensitive", "a=1&b=2", "a=1&b=2"},
		{"token", "token=abc&x=1", "token=[REDACTED]&x=1"},
		{"python defaults", "fluxlit_sid=1&auth_code=2", "fluxlit_sid=[REDACTED]&auth_code=[REDACTED]"},
		{"case-insensitive", "ToKeN=abc", "ToKeN=[REDACTED]"},
		{"escaped key", "%74oken=abc", "%74oken=[REDACTED]"},
		{"session param", "my_sid=zzz", "my_sid=[REDACTED]"},
		{"extra key", "x-custom=1", "x-custom=[REDACTED]"},
		{"key without value", "token", "token"},
		{"repeated", "code=1&code=2", "code=[REDACTED]&code=[REDACTED]"},
		{"bad escape kept", "%zz=1&password=p", "%zz=1&password=[REDACTED]"},
		{"value looks like key", "a=token", "a=token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := q.redact(tt.in); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestDebugRedactURL(t *testing.T) {
	q := newQueryRedactor(nil, "")
	tests := []struct {
		name, in, want string
	}{
		{"plain", "http://127.0.0.1:8501", "http://127.0.0.1:8501"},
		{"password", "https://u:pw@idp.example/jwks", "https://%5BREDACTED%5D@idp.example/jwks"},
		{"query", "https://idp.example/jwks?api_key=k&v=2", "https://idp.example/jwks?api_key=[REDACTED]&v=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := debugRedactURL(tt.in, q); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEscapeControl(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "/api/users", "/api/users"},
		{"newline", "/a\nb", `/a\nb`},
		{"ansi", "/\x1b[31mred", `/\x1b[31mred`},
		{"cr and tab", "a\r\tb", `a\r\tb`},
		{"del", "a\x7fb", `a\x7fb`},
		{"nul", "a\x00b", `a\x00b`},
		{"unicode kept", "/café", "/café"},
		{"bidi override", "/a\u202eb", `/a\u202eb`},
		{"invalid utf8", "/a\xffb", `/a\xffb`},
		{"literal backslash", `/a\nb`, `/a\\nb`},
		{"quote kept", `/a"b` + "\n", `/a"b\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := escapeControl(tt.in)
			if got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
			if obsHasControl(got) {
				t.Errorf("output %q still holds a control character", got)
			}
		})
	}
}

func FuzzEscapeControl(f *testing.F) {
	for _, s := range []string{"", "/a", "/a\nb", "\x1b[31m", "\xff\xfe", `\`, "a\u202e", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := escapeControl(s)
		if obsHasControl(got) {
			t.Fatalf("escapeControl(%q) = %q holds a control character", s, got)
		}
		if !strings.ContainsAny(s, "\\") && got == s {
			return
		}
		// Anything escaped must unquote back to the input.
		back, err := strconv.Unquote(`"` + strings.ReplaceAll(got, `"`, `\"`) + `"`)
		if err != nil || back != s {
			t.Fatalf("escapeControl(%q) = %q does not unquote back: %q %v", s, got, back, err)
		}
	})
}

// FuzzQueryRedact: for any query, every parameter whose name an application would read as
// a configured key (decoded as Python's parse_qsl and Go's ParseQuery decode it: %XX and '+',
// ASCII case ignored) comes out as name=[REDACTED]; every other parameter comes out
// unchanged or redacted, never altered otherwise; and none is added or lost.
func FuzzQueryRedact(f *testing.F) {
	for _, s := range []string{"", "token=a", "a=1&b=2", "%zz=1", "&&=&", "TOKEN=x&token", "%74oken=s", "to+ken=s",
		"my%5Fkey=s&x=1", "token=a=b", "Fluxlit_Sid=s", "%2574oken=s", "state", "code=&code=s", "tok%65n%=s"} {
		f.Add(s)
	}
	q := newQueryRedactor([]string{"my_key"}, "fluxlit_sid")
	keys := map[string]bool{"my_key": true, "fluxlit_sid": true}
	for _, k := range defaultRedactedQueryKeys {
		keys[k] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := q.redact(s)
		in, out := strings.Split(s, "&"), strings.Split(got, "&")
		if len(in) != len(out) {
			t.Fatalf("redact(%q) = %q: %d parameters became %d", s, got, len(in), len(out))
		}
		for i, p := range in {
			name, _, hasValue := strings.Cut(p, "=")
			redacted := name + "=" + redactedValue
			switch {
			case hasValue && keys[obsASCIILower(obsLenientUnquote(name))]:
				if out[i] != redacted {
					t.Fatalf("redact(%q) = %q: parameter %q came out as %q; want %q", s, got, p, out[i], redacted)
				}
			case out[i] != p && out[i] != redacted:
				t.Fatalf("redact(%q) = %q: parameter %q came out as %q", s, got, p, out[i])
			}
		}
	})
}

// obsLenientUnquote decodes a query name as Python's unquote_plus does: '+' is a space and
// %XX a byte, and a '%' without two hex digits stays as it is.
func obsLenientUnquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b.WriteByte(' ')
		case s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func obsASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// obsHasControl reports a raw control character (C0, DEL or C1) or an ANSI escape.
func obsHasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// TestControlCharactersNotLogged sends a path with ESC [31m and a newline (percent-encoded:
// Go's server decodes them into r.URL.Path), and headers with those bytes raw (which the
// server refuses with 400 before any handler runs). No log line may hold a raw control byte,
// in either log format.
func TestControlCharactersNotLogged(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			ui, _ := echoUpstream(t)
			cfg := testConfig(t, map[string]string{"streamlit_upstream": ui.URL, "enable_gateway_access_log": "true", "debug": "true"})
			logs := &obsLogBuffer{}
			var h slog.Handler = slog.NewJSONHandler(logs, nil)
			if format == "text" {
				h = slog.NewTextHandler(logs, nil)
			}
			log := slog.New(h)
			g, err := newGateway(cfg, log, "127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(g)
			srv.Config.ErrorLog = slog.NewLogLogger(h, slog.LevelDebug)
			srv.Start()
			t.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			raw := func(req string) int {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, req)
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return 0
				}
				res.Body.Close()
				return res.StatusCode
			}
			if code := raw("GET /a%1b[31mred%0Aforged%20INFO%20line?q=%1b%0a HTTP/1.1\r\nHost: x\r\nX-Request-Id: cc-1\r\nConnection: close\r\n\r\n"); code != 200 {
				t.Errorf("encoded control path: %d; want 200 from the upstream", code)
			}
			if code := raw("GET /b HTTP/1.1\r\nHost: x\r\nUser-Agent: \x1b[31mred\r\nX-Note: a\nb\r\nConnection: close\r\n\r\n"); code != 400 {
				t.Errorf("raw control header: %d; want 400 from Go's server", code)
			}
			if code := raw("GET /c\x1b[31m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); code != 400 {
				t.Errorf("raw control in the request line: %d; want 400", code)
			}
			out := logs.String()
			if !strings.Contains(out, "cc-1") {
				t.Fatalf("no access line for the encoded path:\n%s", out)
			}
			for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				if obsHasControl(line) {
					t.Errorf("log line %d holds a raw control character: %q", i+1, line)
				}
				if strings.HasPrefix(line, "forged") || strings.Contains(line, "level=INFO line") {
					t.Errorf("log line %d was forged by the path: %q", i+1, line)
				}
			}
			if format == "json" {
				obsJSONLines(t, out)
			}
			if ring := g.obs.debug.snapshot(); len(ring) == 0 || obsHasControl(ring[0].Path) || !strings.Contains(ring[0].Path, `\x1b[31m`) {
				t.Errorf("debug ring path: %+v; want the escape written as \\x1b", ring)
			}
		})
	}
}

func TestDebugRingKeepsLast32(t *testing.T) {
	d := &debugRing{}
	if got := d.snapshot(); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	for i := 0; i < 40; i++ {
		d.add(&accessRecord{id: "r" + strconv.Itoa(i), dispatch: dispatchAPI, method: "GET", path: "/p", status: 200, start: time.Unix(0, 0)}, time.Millisecond)
	}
	got := d.snapshot()
	if len(got) != debugRingSize || got[0].RequestID != "r8" || got[31].RequestID != "r39" {
		t.Fatalf("ring after 40: len %d first %s last %s; want 32 from r8 to r39", len(got), got[0].RequestID, got[len(got)-1].RequestID)
	}
	var nilRing *debugRing
	nilRing.add(&accessRecord{}, 0)
	if got := nilRing.snapshot(); got == nil || len(got) != 0 {
		t.Errorf("nil ring snapshot: %v; want an empty list (JSON [])", got)
	}
}

func TestDebugRingConcurrent(t *testing.T) {
	d := &debugRing{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				d.add(&accessRecord{id: fmt.Sprintf("w%d-%d", w, i)}, 0)
				if i%50 == 0 {
					if n := len(d.snapshot()); n > debugRingSize {
						t.Errorf("snapshot of %d entries", n)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := len(d.snapshot()); n != debugRingSize {
		t.Errorf("after 2000 adds: %d entries; want %d", n, debugRingSize)
	}
}

func TestDebugLocalClient(t *testing.T) {
	loop := loopbackAllowList()
	tests := []struct {
		name   string
		remote string
		hdr    map[string]string
		trust  *ipAllowList
		want   bool
	}{
		{"loopback v4", "127.0.0.1:5000", nil, nil, true},
		{"loopback v6", "[::1]:5000", nil, nil, true},
		{"remote", "192.0.2.1:5000", nil, nil, false},
		{"garbage", "nonsense", nil, nil, false},
		{"untrusted proxy on loopback", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, nil, false},
		{"untrusted Forwarded", "127.0.0.1:5000", map[string]string{"Forwarded": "for=203.0.113.9"}, nil, false},
		{"trusted proxy, remote client", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, loop, false},
		{"trusted proxy, local client", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, loop, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/__fluxlit/debug", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			if got := debugLocalClient(r, tt.trust); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// obsScrape fetches the metrics text straight from the observer.
func obsScrape(t *testing.T, g *gateway) string {
	t.Helper()
	rec := httptest.NewRecorder()
	g.obs.serveMetrics(rec, httptest.NewRequest("GET", "/__fluxlit/metrics", nil), g)
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// obsParseMetrics reads exposition text into "name{labels}" -> value, checking that every
// sample's family was declared with # TYPE first.
func obsParseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	types := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Errorf("bad sample %q", line)
			continue
		}
		key := line[:i]
		name := key
		if j := strings.IndexByte(key, '{'); j >= 0 {
			name = key[:j]
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if types[name] == "" && types[base] != "histogram" {
			t.Errorf("sample %q before its # TYPE", line)
		}
		out[key] = v
	}
	return out
}

func TestMetricsText(t *testing.T) {
	api, _ := echoUpstream(t)
	ui, _ := echoUpstream(t)
	g, gw, _ := obsGateway(t, map[string]string{"api_upstream": api.URL, "streamlit_upstream": ui.URL,
		"enable_gateway_prometheus_metrics": "true", "gateway_max_proxy_request_body_bytes": "100"})
	for i := 0; i < 3; i++ {
		obsDo(t, "GET", gw.URL+"/api/users", nil, "")
	}
	obsDo(t, "POST", gw.URL+"/api/items", nil, "0123456789")
	obsDo(t, "POST", gw.URL+"/api/items", nil, strings.Repeat("x", 200)) // 413
	obsDo(t, "GET", gw.URL+"/", nil, "")
	obsDo(t, "BREW", gw.URL+"/pot", nil, "")
	obsDo(t, "GET", gw.URL+"/docs", nil, "")
	obsDo(t, "GET", gw.URL+"/__fluxlit/metrics", nil, "") // a scrape is not counted
	text := obsScrape(t, g)
	got := obsParseMetrics(t, text)
	want := map[string]float64{
		`fluxlit_gateway_requests_total{dispatch="api",method_kind="GET"}`:                    3,
		`fluxlit_gateway_requests_total{dispatch="api",method_kind="POST"}`:                   2,
		`fluxlit_gateway_requests_total{dispatch="streamlit",method_kind="GET"}`:              1,
		`fluxlit_gateway_requests_total{dispatch="streamlit",method_kind="OTHER"}`:            1,
		`fluxlit_gateway_requests_total{dispatch="fluxlit",method_kind="GET"}`:                1,
		`fluxlit_gateway_responses_total{dispatch="api",code="200"}`:                          4,
		`fluxlit_gateway_responses_total{dispatch="api",code="413"}`:                          1,
		`fluxlit_gateway_responses_total{dispatch="fluxlit",code="307"}`:                      1,
		`fluxlit_gateway_request_duration_seconds_count{dispatch="api"}`:                      5,
		`fluxlit_gateway_request_duration_seconds_bucket{dispatch="api",le="+Inf"}`:           5,
		`fluxlit_gateway_upstream_errors_total{dispatch="api",reason="body_too_large"}`:       1,
		`fluxlit_gateway_upstream_errors_total{dispatch="streamlit",reason="refused"}`:        0,
		`fluxlit_gateway_bytes_total{dispatch="api",direction="in"}`:                          10,
		`fluxlit_gateway_websocket_connections`:                                               0,
		`fluxlit_rate_limited_total`:                                                          0,
		`fluxlit_jwt_rejections_total{reason="expired"}`:                                      0,
		`fluxlit_upstream_ready{upstream="api"}`:                                              1,
		`fluxlit_upstream_ready{upstream="streamlit"}`:                                        1,
		`fluxlit_build_info{version="` + version + `",goversion="` + runtime.Version() + `"}`: 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: got %v (present %v); want %v", k, g, ok, v)
		}
	}
	if got[`fluxlit_gateway_bytes_total{dispatch="api",direction="out"}`] <= 0 {
		t.Errorf("api bytes out not counted")
	}
	for _, k := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "go_goroutines"} {
		if got[k] <= 0 {
			t.Errorf("%s: got %v; want > 0", k, got[k])
		}
	}
	// The Python package's buckets, with its le spelling.
	var les []string
	for _, m := range regexp.MustCompile(`_bucket\{dispatch="api",le="([^"]+)"\}`).FindAllStringSubmatch(text, -1) {
		les = append(les, m[1])
	}
	if want := "0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1.0 2.5 5.0 10.0 +Inf"; strings.Join(les, " ") != want {
		t.Errorf("buckets: got %v; want %v", strings.Join(les, " "), want)
	}
	obsPromtool(t, text)
}

// obsPromtool runs "promtool check metrics" on text when promtool is installed (Debian's
// prometheus package); it exits non-zero on a format error, and prints lint problems.
func obsPromtool(t *testing.T, text string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("FLUXLIT_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("promtool not found (FLUXLIT_REQUIRE_INTEGRATION=1)")
		}
		t.Logf("promtool not installed: format check skipped")
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMetricsRecordingIsBounded(t *testing.T) {
	m := newMetrics()
	m.observeRequest("weird-dispatch", "M\x1bETHOD", 999, 0, 0, time.Hour)
	m.observeRequest(dispatchAPI, "GET", -5, 0, 0, 0)
	m.upstreamError(dispatchAPI, "made-up")
	m.jwtRejected("made-up")
	m.wsOpened(dispatchStreamlit)
	m.wsClosed(dispatchStreamlit, "", 3, 4)
	var b strings.Builder
	m.write(&b, map[string]bool{"api": false})
	text := b.String()
	for _, want := range []string{
		`fluxlit_gateway_requests_total{dispatch="fluxlit",method_kind="OTHER"} 1`,
		`fluxlit_gateway_responses_total{dispatch="fluxlit",code="0xx"} 1`,
		`fluxlit_gateway_responses_total{dispatch="api",code="0xx"} 1`,
		`fluxlit_gateway_request_duration_seconds_bucket{dispatch="fluxlit",le="10.0"} 0`,
		`fluxlit_gateway_request_duration_seconds_bucket{dispatch="fluxlit",le="+Inf"} 1`,
		`fluxlit_jwt_rejections_total{reason="other"} 1`,
		`fluxlit_gateway_websocket_closed_total{closed_by="unknown"} 1`,
		`fluxlit_gateway_bytes_total{dispatch="streamlit",direction="in"} 3`,
		`fluxlit_upstream_ready{upstream="api"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "made-up") || strings.Contains(text, "weird") || strings.Contains(text, "\x1b") {
		t.Errorf("a client value became a label:\n%s", text)
	}
	obsPromtool(t, text)
}

func TestMetricsFloatAndEscape(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"integer", 1, "1.0"},
		{"ten", 10, "10.0"},
		{"fraction", 0.005, "0.005"},
		{"tiny", 1e-7, "1e-07"},
		{"zero", 0, "0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metricsFloat(tt.in); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
	if got, want := metricsEscapeLabel("a\"b\\c\nd"), `a\"b\\c\nd`; got != want {
		t.Errorf("escape: got %v; want %v", got, want)
	}
}

func TestMetricsEndpointRouting(t *testing.T) {
	ui, seen := echoUpstream(t)
	_, on, _ := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL, "enable_gateway_prometheus_metrics": "true"})
	res, body := obsDo(t, "GET", on.URL+"/__fluxlit/metrics", nil, "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" || !strings.Contains(body, "# TYPE fluxlit_gateway_requests_total counter") {
		t.Errorf("metrics on: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res, _ := obsDo(t, "POST", on.URL+"/__fluxlit/metrics", nil, "x"); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST metrics: %d Allow %q; want 405 GET, HEAD", res.StatusCode, res.Header.Get("Allow"))
	}
	for len(seen) > 0 {
		if s := <-seen; s.Path != "/_stcore/health" { // the scrape's readiness probe
			t.Errorf("metrics request proxied to Streamlit: %+v", s)
		}
	}
	// Metrics off: the path is Streamlit's, as in the Python package.
	_, off, _ := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL})
	obsDo(t, "GET", off.URL+"/__fluxlit/metrics", nil, "")
	select {
	case s := <-seen:
		if s.Path != "/__fluxlit/metrics" {
			t.Errorf("metrics off: Streamlit saw %q", s.Path)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("metrics off: the path did not reach Streamlit")
	}
	// Under the API mount: disabled with a warning, the API gets the path.
	cfg := testConfig(t, map[string]string{"enable_gateway_prometheus_metrics": "true", "gateway_prometheus_metrics_path": "/api/metrics"})
	if !obsHasWarning(cfg, "metrics are disabled") {
		t.Errorf("metrics path under the mount: warnings %q", cfg.Warnings)
	}
}

func obsHasWarning(cfg *Config, part string) bool {
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, part) {
			return true
		}
	}
	return false
}

// Secret values the debug tests set; none may appear on the page or in a log line.
const (
	obsSecretHS  = "obs-S3CRET-hs256-0123456789abcdef0123456789abcdef"
	obsSecretBFF = "obs-S3CRET-bff"
	obsSecretQ   = "obs-S3CRET-query"
	obsSecretTok = "obs-S3CRET-bearer"
)

func TestDebugOffIs404AndNotProxied(t *testing.T) {
	ui, seen := echoUpstream(t)
	_, gw, _ := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL})
	for _, m := range []string{"GET", "POST"} {
		res, body := obsDo(t, m, gw.URL+"/__fluxlit/debug", nil, "")
		if res.StatusCode != 404 || strings.Contains(body, "fluxlit_debug") {
			t.Errorf("%s debug off: %d %q; want 404", m, res.StatusCode, body)
		}
	}
	select {
	case s := <-seen:
		t.Errorf("the debug path reached Streamlit: %+v", s)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestDebugMountCollision(t *testing.T) {
	for _, mount := range []string{"/__fluxlit", "/__fluxlit/debug"} {
		t.Run(mount, func(t *testing.T) {
			api, seen := echoUpstream(t)
			g, gw, _ := obsGateway(t, map[string]string{"debug": "true", "api_mount_path": mount, "api_upstream": api.URL})
			if !obsHasWarning(g.cfg, "debug route is disabled") || debugEnabled(g.cfg) {
				t.Errorf("warnings %q enabled %v; want the route disabled with a warning", g.cfg.Warnings, debugEnabled(g.cfg))
			}
			_, body := obsDo(t, "GET", gw.URL+"/__fluxlit/debug", nil, "")
			if strings.Contains(body, `"fluxlit_debug"`) {
				t.Errorf("the debug page was served under a colliding mount: %s", body)
			}
			select {
			case <-seen: // the API owns its mount
			case <-time.After(2 * time.Second):
				t.Errorf("the request did not reach the API that owns %s", mount)
			}
			var banner strings.Builder
			printDebugBanner(&banner, g, "http://x", nil)
			if !strings.Contains(banner.String(), "[fluxlit-debug] debug route disabled") {
				t.Errorf("banner: %s", banner.String())
			}
		})
	}
}

func TestDebugRemoteClientRefused(t *testing.T) {
	ui, _ := echoUpstream(t)
	g, _, _ := obsGateway(t, map[string]string{"streamlit_upstream": ui.URL, "debug": "true"})
	for _, allow := range []bool{false, true} {
		g.cfg.DebugAllowRemote = allow
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/__fluxlit/debug", nil)
		r.RemoteAddr = "192.0.2.10:4000"
		g.ServeHTTP(rec, r)
		want := map[bool]int{false: 403, true: 200}[allow]
		if rec.Code != want {
			t.Errorf("remote client, debug_allow_remote=%v: %d; want %d", allow, rec.Code, want)
		}
	}
}

// TestDebugPageGolden fetches /__fluxlit/debug after a few requests, with every secret
// setting set, and compares it with testdata/debug.golden after masking what changes from
// run to run (ports, pids, times, durations, the version).
func TestDebugPageGolden(t *testing.T) {
	api, _ := echoUpstream(t)
	ui, _ := echoUpstream(t)
	g, gw, logs := obsGateway(t, map[string]string{
		"api_upstream": api.URL, "streamlit_upstream": ui.URL, "debug": "true",
		"enable_gateway_prometheus_metrics": "true",
		"jwt_hs256_secret":                  obsSecretHS, "oidc_bff_secret": obsSecretBFF,
		"jwt_protect": "/*", "log_redact_query_keys": "session_hint",
	})
	started := time.Now().Add(-3 * time.Second)
	g.children = func() []childStatus {
		return []childStatus{
			{Name: "api", State: childReady, PID: 4242, Restarts: 1, LastExit: "signal: killed", StartedAt: started, Output: []string{"INFO:     Uvicorn running"}},
			{Name: "streamlit", State: childBackoff, PID: 0, Restarts: 2, LastExit: "exit status 3", StartedAt: started, LastError: "exit status 3"},
		}
	}
	hdr := func(id string) map[string]string {
		return map[string]string{"X-Request-Id": id, "Authorization": "Bearer " + obsSecretTok, "Cookie": "s=" + obsSecretTok}
	}
	obsDo(t, "GET", gw.URL+"/api/users?token="+obsSecretQ, hdr("golden-1"), "")
	obsDo(t, "GET", gw.URL+"/api/healthz", hdr("golden-2"), "")
	obsDo(t, "POST", gw.URL+"/page?session_hint="+obsSecretQ, hdr("golden-3"), "body")
	obsDo(t, "GET", gw.URL+"/docs", hdr("golden-4"), "")
	obsDo(t, "GET", gw.URL+"/__fluxlit/metrics", hdr("golden-5"), "")
	obsDo(t, "GET", gw.URL+"/__fluxlit/debug", hdr("golden-6"), "")
	res, body := obsDo(t, "GET", gw.URL+"/__fluxlit/debug", nil, "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("debug page: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	for _, secret := range []string{obsSecretHS, obsSecretBFF, obsSecretQ, obsSecretTok, "S3CRET"} {
		if strings.Contains(body, secret) {
			t.Errorf("the debug page holds %q", secret)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a log line holds %q", secret)
		}
	}
	var page map[string]any
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("debug page is not JSON: %v\n%s", err, body)
	}
	children := page["children"].([]any)
	if up := children[0].(map[string]any)["uptime_s"].(float64); up < 2.5 || up > 60 {
		t.Errorf("api uptime_s %v; want about 3", up)
	}
	if up := children[1].(map[string]any)["uptime_s"].(float64); up != 0 {
		t.Errorf("streamlit in backoff: uptime_s %v; want 0", up)
	}
	got := obsMask(body)
	golden := filepath.Join("testdata", "debug.golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("debug page differs from %s (rerun with -update if intended):\n--- got\n%s", golden, got)
	}
}

// obsMaskLine matches one "key": value line of the indented page whose value changes from run
// to run: ports, the interpreter path, pids and times, durations, the version.
var obsMaskLine = regexp.MustCompile(`(?m)^(\s*"(?:version|listen|api_upstream|streamlit_upstream|python|url|started_at|time|duration_ms)": )(?:"[^"]*"|[-0-9.e]+)(,?)$`)

// obsUptimeLine matches a non-zero uptime (zero stays: it says the child is not running).
var obsUptimeLine = regexp.MustCompile(`(?m)^(\s*"uptime_s": )[0-9.]*[1-9][0-9.]*(,?)$`)

// obsMask replaces the debug page's run-dependent values with "<masked>", keeping the page's
// own key order and layout.
func obsMask(body string) []byte {
	body = obsMaskLine.ReplaceAllString(body, `${1}"<masked>"${2}`)
	return []byte(obsUptimeLine.ReplaceAllString(body, `${1}"<masked>"${2}`))
}
