package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLineRedactor: the one rule for lines fluxlit relays from its children.
func TestLineRedactor(t *testing.T) {
	secret := "hs-secret-" + strings.Repeat("x", 30)
	r := newLineRedactor(newQueryRedactor([]string{"session_key"}, "fluxlit_sid"), []string{secret, "ab"})
	tests := []struct{ in, want string }{
		{`INFO: 127.0.0.1:4000 - "GET /items?token=abc123&x=1 HTTP/1.1" 200 OK`, `INFO: 127.0.0.1:4000 - "GET /items?token=[REDACTED]&x=1 HTTP/1.1" 200 OK`},
		{"url http://app/cb?code=xyz&state=s1#frag", "url http://app/cb?code=[REDACTED]&state=[REDACTED]#frag"},
		{"password=hunter2 user=ada", "password=[REDACTED] user=ada"},
		{"cfg(api_key=K1, debug=True)", "cfg(api_key=[REDACTED], debug=True)"},
		{"x?%74oken=enc", "x?%74oken=[REDACTED]"},
		{"?session_key=mine&fluxlit_sid=sid", "?session_key=[REDACTED]&fluxlit_sid=[REDACTED]"},
		{"mytoken=keep notatoken=keep", "mytoken=keep notatoken=keep"},
		{"token= empty", "token= empty"},
		{"Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization: Bearer [REDACTED]"},
		{"auth bearer abcdefgh12345678 then BEARER  zzzzzzzz", "auth bearer [REDACTED] then BEARER  [REDACTED]"},
		{"the bearer of bad news", "the bearer of bad news"},
		{"secret is " + secret + ".", "secret is [REDACTED]."},
		{"a short setting (ab) is not searched for", "a short setting (ab) is not searched for"},
		{"plain line", "plain line"},
	}
	for _, tt := range tests {
		if got := r.redact(tt.in); got != tt.want {
			t.Errorf("redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestSuperviseRedactsOutput: what a child prints reaches the log, the status (the debug
// page's recent output) and the crash-loop error only redacted.
func TestSuperviseRedactsOutput(t *testing.T) {
	opts, log := superviseTestOptions(t)
	opts.CrashLimit = 2
	opts.MaxBackoff = 100 * time.Millisecond
	opts.Redact = newLineRedactor(newQueryRedactor(nil, ""), []string{"s3cr3t-setting-value"}).redact
	script := `echo 'GET /x?token=qtok-1234 HTTP/1.1'; echo 'Authorization: Bearer btok-abcdefgh' >&2; echo 's3cr3t-setting-value'; sleep 0.1; exit 3`
	s := newSupervisor([]childSpec{{Name: "api", Argv: []string{"sh", "-c", script}}}, opts)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the crash loop did not end")
	}
	var logged []string
	log.mu.Lock()
	for _, r := range log.records {
		logged = append(logged, r.msg)
	}
	log.mu.Unlock()
	everything := s.Err().Error() + "\n" + strings.Join(superviseStatusOf(s, "api").Output, "\n") + "\n" + strings.Join(logged, "\n")
	for _, leak := range []string{"qtok-1234", "btok-abcdefgh", "s3cr3t-setting-value"} {
		if strings.Contains(everything, leak) {
			t.Errorf("%q was relayed: %s", leak, everything)
		}
	}
	if !strings.Contains(s.Err().Error(), "token=[REDACTED]") {
		t.Errorf("crash-loop error %q; want the child's last lines, redacted", s.Err())
	}
}

// redactTestApp prints what a careless app prints: its URL with the query, the Authorization
// header, a query in a log record, and an environment secret at start.
const redactTestApp = `import logging, os, sys
from fastapi import FastAPI, Request

app = FastAPI()
print("secret at start: " + os.environ.get("FLUXLIT_OIDC_BFF_SECRET", ""), flush=True)

@app.get("/echo")
def echo(request: Request):
    print(f"url {request.url}", flush=True)
    print(f"auth {request.headers.get('authorization')}", file=sys.stderr, flush=True)
    logging.getLogger("app").warning("query %s", request.url.query)
    return {"ok": True}
`

// TestIntegrationChildOutputRedacted (issue #15, finding 5), with the real uvicorn child: a
// query token and a bearer token sent to /api/..., and a secret setting the app prints,
// appear in no log line and nowhere in /__fluxlit/debug; uvicorn's own access line is gone
// (fluxlit's is the one). Before the fix uvicorn's access line carried ?token=… and the
// debug page kept it among the child's recent output.
func TestIntegrationChildOutputRedacted(t *testing.T) {
	requireIntegration(t, "uvicorn")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), redactTestApp)
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\ntarget = \"app:app\"\nstreamlit_upstream = %q\ndebug = true\n",
		streamlitPython(t), relStreamlitStub(t)))
	const query, bearer = "qtok-7f3a9c", "btok-51e0d2aa"
	secret := "bff-" + strings.Repeat("k", 36)
	p := relStart(t, dir, []string{"FLUXLIT_OIDC_BFF_SECRET=" + secret})
	req, _ := http.NewRequest("GET", p.base+"/api/echo?token="+query+"&x=1", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("X-Request-Id", "redact-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/echo: %d", res.StatusCode)
	}
	p.out.waitFor(t, `"msg":"query token=`, 10*time.Second) // the app's log record, the last line it prints
	out := p.out.waitFor(t, `"request_id":"redact-1"`, 10*time.Second)
	res, err = http.Get(p.base + "/__fluxlit/debug")
	if err != nil {
		t.Fatal(err)
	}
	debug, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, leak := range []string{query, bearer, secret} {
		if strings.Contains(out, leak) {
			t.Errorf("%q is in fluxlit's output", leak)
		}
		if strings.Contains(string(debug), leak) {
			t.Errorf("%q is in /__fluxlit/debug", leak)
		}
	}
	var childLines, accessLines int
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		msg, _ := rec["msg"].(string)
		switch {
		case rec["child"] == "api" && strings.Contains(msg, `HTTP/1.1" 200`):
			t.Errorf("uvicorn's own access line was relayed: %s", line)
		case rec["child"] == "api" && strings.Contains(msg, "token=[REDACTED]"):
			childLines++
		case msg == "access" && rec["request_id"] == "redact-1":
			accessLines++
		}
	}
	if childLines == 0 || accessLines != 1 {
		t.Errorf("%d redacted child lines with the token key, %d access lines for the request; want some, and one", childLines, accessLines)
	}
	if !strings.Contains(string(debug), "token=[REDACTED]") {
		t.Errorf("/__fluxlit/debug does not show the child's recent output, redacted: %s", debug)
	}
}
