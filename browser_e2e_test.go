// browser_e2e_test.go owns the end-to-end browser test of issue #8 and the browser plumbing the
// other browser tests share: headless Debian Chromium, driven over the DevTools protocol (CDP) by
// a small client on dialWS, loads Streamlit's real frontend through real nginx (TLS with a
// certificate the test makes with openssl) under /apps/demo/, and from fluxlit alone at the root.
// Identifiers are prefixed browser (the test) and cdp (the protocol client).

package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// browserRootPath is where nginx serves the app, and fluxlit's root_path there.
	browserRootPath = "/apps/demo"
	// browserHSTS is fluxlit's HSTS value at the default hsts_max_age_s (two years).
	browserHSTS = "max-age=63072000; includeSubDomains"
	// cdpCallTimeout bounds one CDP command. Chromium answers in milliseconds; an evaluate that
	// awaits a fetch through nginx, fluxlit and uvicorn takes well under a second.
	cdpCallTimeout = 15 * time.Second
	// browserLoadTimeout bounds a navigation up to the load event (three small requests).
	browserLoadTimeout = 20 * time.Second
	// browserSessionTimeout bounds one Streamlit run seen from the page: the hello script runs
	// in well under a second, but the first run imports Streamlit's script machinery and a
	// -race run of the suite slows everything several times.
	browserSessionTimeout = 30 * time.Second
	// browserReadyTimeout bounds fluxlit's children becoming ready (Streamlit takes about 3-5 s
	// idle; see harnessStartTimeout for why it is generous).
	browserReadyTimeout = 90 * time.Second
	// browserPollInterval is how often the test reads the page's WebSocket state.
	browserPollInterval = 100 * time.Millisecond
	// cdpReadIdle bounds how long the CDP reader blocks for one message. Events keep coming
	// while the test runs; the connection is closed at cleanup, which ends the read sooner.
	cdpReadIdle = 5 * time.Minute
	// cdpReaderStop bounds the wait for the reader goroutine after the connection closed.
	cdpReaderStop = 5 * time.Second
)

// browserChromiumFlags are the flags Chromium needs in this sandbox and for a test: no GPU and
// no sandbox (root in a container), no QUIC and no background networking (the closed network
// refuses Chromium's own connections, many at a time), and the DevTools port chosen by Chromium
// (0) and written to <user-data-dir>/DevToolsActivePort.
var browserChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--window-size=1024,768", "--remote-debugging-port=0",
}

// cdpMessage is any CDP frame: a reply has ID, an event has Method; SessionID names the
// attached target (flat session mode), empty for the browser itself.
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

// cdpClient is one DevTools connection to the browser. A reader goroutine routes replies to
// the waiting call by id and keeps every event, so a test can wait for one that already came.
type cdpClient struct {
	ws *wsConn

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	events  []cdpMessage
	changed chan struct{} // closed and replaced whenever an event arrives or the reader stops
	readErr error         // set once the reader stopped
	done    chan struct{} // closed when the reader stopped
}

// cdpDial connects to a DevTools WebSocket URL. No Origin header is sent: Chromium refuses
// DevTools connections whose Origin is not allowed by --remote-allow-origins.
func cdpDial(t *testing.T, wsURL string) *cdpClient {
	t.Helper()
	ws, res, err := dialWS(t, wsURL, nil)
	if err != nil {
		t.Fatalf("DevTools WebSocket %s: %v (%v)", wsURL, err, res)
	}
	c := &cdpClient{ws: ws, pending: map[int64]chan cdpMessage{}, changed: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		ws.Close()
		select {
		case <-c.done:
		case <-time.After(cdpReaderStop):
			t.Errorf("CDP reader still running %v after close", cdpReaderStop)
		}
	})
	return c
}

// read runs until the connection fails or closes; it never touches the testing.T.
func (c *cdpClient) read() {
	var err error
	for {
		var op byte
		var data []byte
		op, data, err = c.ws.ReadMessage(cdpReadIdle)
		if err != nil {
			break
		}
		if op == wscOpClose {
			code, reason := wscCloseCode(data)
			err = fmt.Errorf("DevTools closed the connection (%d %q)", code, reason)
			break
		}
		var m cdpMessage
		if err = json.Unmarshal(data, &m); err != nil {
			err = fmt.Errorf("DevTools message %.200q: %w", data, err)
			break
		}
		c.mu.Lock()
		if m.ID != 0 {
			if ch, ok := c.pending[m.ID]; ok {
				delete(c.pending, m.ID)
				ch <- m // buffered: never blocks
			}
		} else if m.Method != "" {
			c.events = append(c.events, m)
			close(c.changed)
			c.changed = make(chan struct{})
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.readErr = err
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	close(c.done)
}

// call sends method with params to the target attached as session ("" for the browser) and
// waits at most cdpCallTimeout for the reply, decoding its result into result when non-nil.
func (c *cdpClient) call(session, method string, params any, result any) error {
	if params == nil {
		params = struct{}{}
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s: params: %w", method, err)
	}
	ch := make(chan cdpMessage, 1)
	c.mu.Lock()
	if c.readErr != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: connection gone: %w", method, c.readErr)
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: raw, SessionID: session})
	if err := c.ws.WriteMessage(wscOpText, msg); err != nil {
		return fmt.Errorf("%s: send: %w", method, err)
	}
	timer := time.NewTimer(cdpCallTimeout)
	defer timer.Stop()
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: DevTools error %d: %s %s", method, m.Error.Code, m.Error.Message, m.Error.Data)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: result %.200s: %w", method, m.Result, err)
			}
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: connection gone while waiting: %v", method, c.readErr)
	case <-timer.C:
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: no reply within %v", method, cdpCallTimeout)
	}
}

// waitEvent returns the params of the first event named method on session, received since
// the client started, for which match (nil: any) is true; it waits at most timeout.
func (c *cdpClient) waitEvent(session, method string, match func(json.RawMessage) bool, timeout time.Duration) (json.RawMessage, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if e.SessionID == session && e.Method == method && (match == nil || match(e.Params)) {
				c.mu.Unlock()
				return e.Params, nil
			}
		}
		changed, readErr := c.changed, c.readErr
		c.mu.Unlock()
		if readErr != nil {
			return nil, fmt.Errorf("waiting for %s: connection gone: %w", method, readErr)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, fmt.Errorf("no %s event within %v", method, timeout)
		}
	}
}

// browserStartChromium starts headless Chromium in its own process group (killed at cleanup,
// its log printed when the test failed) with a fresh profile, and connects to its DevTools.
// spki is the base64 SHA-256 of the test certificate's public key: Chromium accepts that
// certificate (and only that one) although no trust store holds the test's self-signed CA.
func browserStartChromium(t *testing.T, spki string) *cdpClient {
	t.Helper()
	profile := t.TempDir()
	args := append(append([]string{}, browserChromiumFlags...),
		"--user-data-dir="+profile, "--ignore-certificate-errors-spki-list="+spki, "about:blank")
	cmd := exec.Command("chromium", args...)
	// HOME in the profile keeps Chromium's caches and crash dumps out of the user's home.
	cmd.Env = append(harnessEnvWithout("HOME="), "HOME="+profile)
	portFile := filepath.Join(profile, "DevToolsActivePort")
	var wsPath string
	ready := func() bool {
		data, err := os.ReadFile(portFile)
		if err != nil {
			return false
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "/devtools/browser/") {
			return false // written but not complete yet
		}
		if _, err := strconv.Atoi(lines[0]); err != nil {
			return false
		}
		wsPath = "ws://127.0.0.1:" + lines[0] + lines[1]
		return true
	}
	harnessStart(t, "chromium", cmd, ready, true)
	return cdpDial(t, wsPath)
}

// browserPage is one tab in its own browser context (a fresh cookie jar and cache), attached
// in flat mode so its commands and events carry session.
type browserPage struct {
	t       *testing.T
	c       *cdpClient
	session string
	context string // the browser context id (downloads are set per context)
}

// browserOpenPage opens about:blank in a new browser context and enables the Page and Network
// domains, so load and response events are recorded from the first navigation on.
func browserOpenPage(t *testing.T, c *cdpClient) *browserPage {
	t.Helper()
	var ctx struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := c.call("", "Target.createBrowserContext", nil, &ctx); err != nil {
		t.Fatal(err)
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call("", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": ctx.BrowserContextID}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Best effort: the browser dies at cleanup anyway, and may already be gone.
		_ = c.call("", "Target.disposeBrowserContext", map[string]any{"browserContextId": ctx.BrowserContextID}, nil)
	})
	p := &browserPage{t: t, c: c, session: att.SessionID, context: ctx.BrowserContextID}
	for _, m := range []string{"Page.enable", "Network.enable"} {
		if err := c.call(p.session, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// navigate loads url and waits for the load event (the page and its script have loaded).
func (p *browserPage) navigate(url string) {
	p.t.Helper()
	var nav struct {
		FrameID   string `json:"frameId"`
		LoaderID  string `json:"loaderId"`
		ErrorText string `json:"errorText"`
	}
	if err := p.c.call(p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		p.t.Fatal(err)
	}
	if nav.ErrorText != "" {
		p.t.Fatalf("navigate %s: %s", url, nav.ErrorText)
	}
	if _, err := p.c.waitEvent(p.session, "Page.loadEventFired", nil, browserLoadTimeout); err != nil {
		p.t.Fatalf("navigate %s: %v", url, err)
	}
}

// cdpResponse is the part of Network.responseReceived the test reads.
type cdpResponse struct {
	Type     string `json:"type"`
	Response struct {
		URL      string            `json:"url"`
		Status   int               `json:"status"`
		Headers  map[string]string `json:"headers"`
		Protocol string            `json:"protocol"`
	} `json:"response"`
}

// response returns the browser's record of the response for url (exact match).
func (p *browserPage) response(url string) cdpResponse {
	p.t.Helper()
	var got cdpResponse
	_, err := p.c.waitEvent(p.session, "Network.responseReceived", func(raw json.RawMessage) bool {
		var r cdpResponse
		if json.Unmarshal(raw, &r) != nil || r.Response.URL != url {
			return false
		}
		got = r
		return true
	}, browserLoadTimeout)
	if err != nil {
		p.t.Fatalf("response for %s: %v", url, err)
	}
	return got
}

// eval runs expression in the page (awaiting it when it is a promise) and decodes its value,
// returned by value as JSON, into out. A thrown exception fails the test with its text.
func (p *browserPage) eval(expression string, out any) {
	p.t.Helper()
	if err := p.tryEval(expression, out); err != nil {
		p.t.Fatal(err)
	}
}

// tryEval is eval returning the failure, for a caller that polls across a navigation (while
// the page reloads, Chromium answers "Inspected target navigated or closed").
func (p *browserPage) tryEval(expression string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expression, "awaitPromise": true, "returnByValue": true}
	if err := p.c.call(p.session, "Runtime.evaluate", params, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("page JavaScript threw: %s %s\n(expression: %.300s)", e.Text, e.Exception.Description, expression)
	}
	if out != nil {
		if err := json.Unmarshal(res.Result.Value, out); err != nil {
			return fmt.Errorf("page JavaScript returned %.300s (%s): %v", res.Result.Value, res.Result.Type, err)
		}
	}
	return nil
}

// screenshot saves a PNG of the page to path and checks that it is one.
func (p *browserPage) screenshot(path string) {
	p.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.c.call(p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		p.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		p.t.Fatalf("screenshot: not a PNG (%d bytes, %v)", len(png), err)
	}
	writeFile(p.t, path, string(png))
	p.t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// browserHeader looks name up case-insensitively in a CDP header object (HTTP/2 names are
// lower case, HTTP/1.1 names as sent); Chromium joins repeated headers with "\n".
func browserHeader(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// browserCert is the test's self-signed certificate for localhost and 127.0.0.1.
type browserCert struct {
	certPath, keyPath string
	spki              string // base64(SHA-256(SubjectPublicKeyInfo)), for Chromium
	pool              *x509.CertPool
}

// browserMakeCert makes a self-signed certificate with openssl, as an operator would.
func browserMakeCert(t *testing.T, dir string) browserCert {
	t.Helper()
	c := browserCert{certPath: filepath.Join(dir, "cert.pem"), keyPath: filepath.Join(dir, "key.pem")}
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
		"-keyout", c.keyPath, "-out", c.certPath, "-days", "2", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	data, err := os.ReadFile(c.certPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", c.certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", c.certPath, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	c.spki = base64.StdEncoding.EncodeToString(sum[:])
	c.pool = x509.NewCertPool()
	c.pool.AddCert(cert)
	return c
}

// browserNginxConf is nginx terminating TLS for the app under /apps/demo/, as DESIGN's
// deployment notes describe: Host kept (Streamlit compares it with Origin), X-Forwarded-* set
// (fluxlit trusts them from loopback), WebSocket upgrades passed on, no buffering either way
// (Streamlit streams; an st.file_uploader PUT is passed on as it comes, and Streamlit's own
// 200 MB upload limit applies, not nginx's 1 MB default), and an hour of read timeout (a
// session is idle between reruns). Every path nginx writes is in the test's directory (its
// workers run as nobody, so a request body nginx spooled to disk there failed with EACCES:
// the upload test caught that). Arguments: pid/log dir, port, cert, key, fluxlit port.
const browserNginxConf = `worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }
    server {
        listen 127.0.0.1:%[2]d ssl http2;
        server_name localhost;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        location /apps/demo/ {
            proxy_pass http://127.0.0.1:%[5]d;
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
            proxy_buffering off;
            proxy_request_buffering off;
            client_max_body_size 200m;
        }
    }
}
`

// browserStartNginx runs nginx in the foreground as the test's child (own process group,
// killed at cleanup, log printed on failure) and returns its TLS port.
func browserStartNginx(t *testing.T, cert browserCert, upstreamPort int) int {
	t.Helper()
	client := browserHTTPSClient(cert)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		port := freePort(t)
		conf := filepath.Join(dir, "nginx.conf")
		writeFile(t, conf, fmt.Sprintf(browserNginxConf, dir, port, cert.certPath, cert.keyPath, upstreamPort))
		// -e stderr: nginx opens its compiled-in error log before reading the config unless told.
		cmd := exec.Command("nginx", "-e", "stderr", "-p", dir, "-c", conf, "-g", "daemon off;")
		ready := func() bool {
			res, err := client.Get("https://localhost:" + strconv.Itoa(port) + "/")
			if err != nil {
				return false
			}
			res.Body.Close()
			return true
		}
		if harnessStart(t, fmt.Sprintf("nginx-%d", port), cmd, ready, attempt == harnessStartAttempts) {
			return port
		}
	}
}

// browserHTTPSClient trusts the test certificate only, and verifies it (no InsecureSkipVerify).
func browserHTTPSClient(cert browserCert) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: cert.pool}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// browserProject writes the hello example (testdata/apps/ui/hello.py and the test FastAPI app)
// as a fluxlit project with extraTOML appended to its fluxlit.toml.
func browserProject(t *testing.T, extraTOML string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(apiAppDir(t), "app.py"): "app.py",
		uiScript(t):                           "hello.py",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, dst), string(data))
	}
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf(
		"python = %q\ntarget = \"app:app\"\nstreamlit_script = \"hello.py\"\n%s", streamlitPython(t), extraTOML))
	return dir
}

// browserWaitReady waits for readyz (both children up), failing early if fluxlit exits.
func browserWaitReady(t *testing.T, p *fluxlitProc, rootPath string) {
	t.Helper()
	url := p.base + rootPath + "/api/readyz"
	deadline := time.Now().Add(browserReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("fluxlit exited before %s answered 200: %v", url, p.err)
		default:
		}
		if harnessHTTPStatus(url) == http.StatusOK {
			return
		}
		time.Sleep(browserPollInterval)
	}
	t.Fatalf("%s not 200 within %v", url, browserReadyTimeout)
}

// browserFetch is what the page's fetch of the API saw.
type browserFetch struct {
	Status int     `json:"status"`
	URL    string  `json:"url"`
	Type   string  `json:"type"`
	HSTS   *string `json:"hsts"`
	CType  string  `json:"ctype"`
	Body   string  `json:"body"`
}

// browserFetchJS fetches the API from the page, so the request has the page's origin and goes
// through whatever sits in front (nginx, or nothing). %s is the JSON-quoted path.
const browserFetchJS = `(async () => {
  const r = await fetch(%s, {headers: {"Accept": "application/json"}});
  return {status: r.status, url: r.url, type: r.type, hsts: r.headers.get("strict-transport-security"),
          ctype: r.headers.get("content-type"), body: await r.text()};
})()`

// browserPageText is what a person sees on the page: its visible text, and whether Streamlit
// shows its connection status ("Connecting", "Error") or the connection-error dialog.
type browserPageText struct {
	Text       string `json:"text"`
	Connection string `json:"connection"` // the stConnectionStatus widget's text, "" when absent
	Path       string `json:"path"`
}

// browserPageTextJS reads browserPageText. innerText is the rendered text: hidden elements
// are left out, as a person would not see them.
const browserPageTextJS = `(() => {
  const c = document.querySelector('[data-testid="stConnectionStatus"]');
  return {text: document.body ? document.body.innerText : "", connection: c ? (c.innerText || "shown") : "",
          path: location.pathname};
})()`

// waitText polls the page until ok accepts what it shows, or fails the test after timeout
// with the last text seen; what names the wait in the failure.
func (p *browserPage) waitText(what string, timeout time.Duration, ok func(browserPageText) bool) browserPageText {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got browserPageText
		err := p.tryEval(browserPageTextJS, &got)
		if err == nil && ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("page: no %s within %v (last read: %v); it shows (connection %q, path %q):\n%s", what, timeout, err, got.Connection, got.Path, got.Text)
		}
		time.Sleep(browserPollInterval)
	}
}

// browserShows reports whether every line in lines is a whole line of the page's text.
func browserShows(text string, lines ...string) bool {
	have := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range lines {
		if !have[l] {
			return false
		}
	}
	return true
}

// browserCheckApp is what both halves assert: the page at origin+rootPath+"/" loads, Streamlit's
// frontend opens its WebSocket under rootPath and renders the hello script's output, the page's
// fetch of the API succeeds (with HSTS exactly once when wantHSTS, else none); shot is where
// the screenshot goes.
func browserCheckApp(t *testing.T, p *browserPage, origin, rootPath string, wantHSTS bool, shot string) {
	t.Helper()
	pageURL := origin + rootPath + "/"
	p.navigate(pageURL)

	doc := p.response(pageURL)
	if doc.Response.Status != 200 || doc.Type != "Document" {
		t.Errorf("page %s: status %d type %q; want 200 Document", pageURL, doc.Response.Status, doc.Type)
	}
	t.Logf("page %s: %d over %s", pageURL, doc.Response.Status, doc.Response.Protocol)
	// The script's heading and text, rendered by Streamlit's frontend from the ForwardMsgs it
	// received over its own WebSocket through every proxy in front.
	p.waitText("hello script output", browserSessionTimeout, func(s browserPageText) bool {
		return browserShows(s.Text, "Hello fluxlit", "ok") && s.Connection == ""
	})
	p.screenshot(shot)

	// HSTS is checked on the browser's own record of the page response too: Chromium joins a
	// repeated header with "\n", so exactly one value has neither "\n" nor ",".
	hsts, has := browserHeader(doc.Response.Headers, "Strict-Transport-Security")
	switch {
	case wantHSTS && hsts != browserHSTS:
		t.Errorf("page Strict-Transport-Security %q (present %v); want exactly one %q", hsts, has, browserHSTS)
	case !wantHSTS && has:
		t.Errorf("page Strict-Transport-Security %q over plain HTTP; want none", hsts)
	}

	apiPath := rootPath + "/api/users"
	apiJSON, _ := json.Marshal(apiPath)
	var f browserFetch
	p.eval(fmt.Sprintf(browserFetchJS, apiJSON), &f)
	var users []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if f.Status != 200 || f.URL != origin+apiPath || f.Type != "basic" || !strings.HasPrefix(f.CType, "application/json") {
		t.Errorf("page fetch %s: status %d url %q type %q content-type %q; want 200 same-origin (basic) JSON",
			apiPath, f.Status, f.URL, f.Type, f.CType)
	}
	if err := json.Unmarshal([]byte(f.Body), &users); err != nil || len(users) != 2 || users[0].Name != "Ada" || users[1].Name != "Linus" {
		t.Errorf("page fetch %s: body %q (%v); want Ada and Linus", apiPath, f.Body, err)
	}
	// fetch's Headers.get joins repeated headers with ", ": one HSTS has no comma in it.
	switch {
	case wantHSTS && (f.HSTS == nil || *f.HSTS != browserHSTS):
		t.Errorf("page fetch Strict-Transport-Security %v; want exactly one %q", browserDeref(f.HSTS), browserHSTS)
	case !wantHSTS && f.HSTS != nil:
		t.Errorf("page fetch Strict-Transport-Security %q over plain HTTP; want none", *f.HSTS)
	}

	// The frontend's own WebSocket: its URL is under rootPath and its handshake was a 101.
	wantScheme := "ws://"
	if strings.HasPrefix(origin, "https://") {
		wantScheme = "wss://"
	}
	wantWS := wantScheme + strings.SplitN(origin, "://", 2)[1] + rootPath + "/_stcore/stream"
	var created struct {
		RequestID string `json:"requestId"`
		URL       string `json:"url"`
	}
	raw, err := p.c.waitEvent(p.session, "Network.webSocketCreated", nil, browserLoadTimeout)
	if err != nil || json.Unmarshal(raw, &created) != nil || created.URL != wantWS {
		t.Errorf("page WebSocket: %v %.300s; want one to %s", err, raw, wantWS)
	}
	hs, err := p.c.waitEvent(p.session, "Network.webSocketHandshakeResponseReceived", nil, browserLoadTimeout)
	var hsr struct {
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	}
	if err != nil || json.Unmarshal(hs, &hsr) != nil || hsr.Response.Status != 101 {
		t.Errorf("browser's WebSocket handshake record: %v %.300s; want status 101", err, hs)
	}
}

func browserDeref(s *string) string {
	if s == nil {
		return "(absent)"
	}
	return strconv.Quote(*s)
}

// browserArtifactDir is where screenshots go: the test's temp dir, or FLUXLIT_TEST_ARTIFACTS
// when set (so a CI run or a developer can keep and look at them).
func browserArtifactDir(t *testing.T) string {
	if d := os.Getenv("FLUXLIT_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// TestIntegrationBrowserE2E is issue #8's browser Must-show. Both fluxlit instances, nginx and
// Chromium start at once; Streamlit's start (a few seconds) dominates the run time.
func TestIntegrationBrowserE2E(t *testing.T) {
	for _, what := range []string{"chromium", "nginx", "openssl", "streamlit", "fastapi"} {
		requireIntegration(t, what)
	}
	behind := launchFluxlit(t, browserProject(t, "root_path = \""+browserRootPath+"\"\ntrust_proxy = true\nenable_security_headers = true\n"),
		nil, "run", "--no-pidfile")
	alone := launchFluxlit(t, browserProject(t, "enable_security_headers = true\n"), nil, "run", "--no-pidfile")
	cert := browserMakeCert(t, t.TempDir())
	ngxPort := browserStartNginx(t, cert, behind.port)
	cdp := browserStartChromium(t, cert.spki)
	browserWaitReady(t, behind, browserRootPath)
	browserWaitReady(t, alone, "")
	shots := browserArtifactDir(t)

	t.Run("nginx-tls-subpath", func(t *testing.T) {
		origin := "https://localhost:" + strconv.Itoa(ngxPort)
		// The same check from a Go client that verifies the certificate: net/http keeps
		// repeated headers apart, so exactly one means a slice of length one.
		client := browserHTTPSClient(cert)
		for _, path := range []string{browserRootPath + "/api/users", browserRootPath + "/"} {
			res, err := client.Get(origin + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			res.Body.Close()
			if got := res.Header["Strict-Transport-Security"]; res.StatusCode != 200 || len(got) != 1 || got[0] != browserHSTS {
				t.Errorf("GET %s through nginx: %d, Strict-Transport-Security %q; want 200 and exactly [%q]",
					path, res.StatusCode, got, browserHSTS)
			}
		}
		browserCheckApp(t, browserOpenPage(t, cdp), origin, browserRootPath, true, filepath.Join(shots, "browser-nginx-apps-demo.png"))
	})

	t.Run("fluxlit-alone-root", func(t *testing.T) {
		origin := "http://127.0.0.1:" + strconv.Itoa(alone.port)
		res, body := httpDo(t, "GET", origin+"/api/users", nil, nil)
		if res.StatusCode != 200 || res.Header.Get("X-Content-Type-Options") != "nosniff" || len(res.Header["Strict-Transport-Security"]) != 0 {
			t.Errorf("GET /api/users: %d nosniff %q HSTS %q %.100s; want 200, security headers on, no HSTS over http",
				res.StatusCode, res.Header.Get("X-Content-Type-Options"), res.Header["Strict-Transport-Security"], body)
		}
		browserCheckApp(t, browserOpenPage(t, cdp), origin, "", false, filepath.Join(shots, "browser-fluxlit-root.png"))
	})
}
