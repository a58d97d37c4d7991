// browser_app_test.go owns issue #17's browser tests: Streamlit's real React frontend in headless
// Chromium, through fluxlit, on the newest and on the oldest supported Streamlit, each asserting
// what a person sees on the page (rendered text, element state, the bytes a download saved).
// The app is testdata/apps/browser/streamlit_app.py; the CDP plumbing is in browser_e2e_test.go.

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// browserReconnectTimeout bounds the page coming back by itself after Streamlit or fluxlit
	// went away: the restart (fluxlit's backoff, capped at 2 s in these projects, plus
	// Streamlit's start of a few seconds, more under -race) and the frontend's own reconnect
	// backoff, which grows to a few seconds between health polls.
	browserReconnectTimeout = 90 * time.Second
	// browserDownloadTimeout bounds a 16 KiB download, which takes milliseconds.
	browserDownloadTimeout = 20 * time.Second
)

// browserAppDownload is the app's DOWNLOAD: every byte value 64 times, then a trailer.
var browserAppDownload = append(bytes.Repeat(func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}(), 64), "fluxlit download end\n"...)

// browserAppProject writes a fluxlit project running the browser test app with python, the
// test FastAPI app as its API, debug on (the child pids come from /__fluxlit/debug) and a short
// restart backoff, plus extraTOML.
func browserAppProject(t *testing.T, python, extraTOML string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(apiAppDir(t), "app.py"):                            "app.py",
		filepath.Join("testdata", "apps", "browser", "streamlit_app.py"): "streamlit_app.py",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, dst), string(data))
	}
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), fmt.Sprintf("python = %q\ntarget = \"app:app\"\n"+
		"streamlit_script = \"streamlit_app.py\"\ndebug = true\nrestart_max_backoff_s = 2\n%s", python, extraTOML))
	return dir
}

// exampleHelloProject copies examples/hello (what scripts/demo.sh runs) into a temp dir.
func exampleHelloProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"app.py", "streamlit_app.py", "fluxlit.toml"} {
		data, err := os.ReadFile(filepath.Join("examples", "hello", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(data))
	}
	return dir
}

// browserUsersLine is the line the app renders from GET <api>/users, built here from what the
// API answers to a Go client: the page must show exactly this.
func browserUsersLine(t *testing.T, client *http.Client, apiURL string) string {
	t.Helper()
	res, err := client.Get(apiURL)
	if err != nil {
		t.Fatalf("GET %s: %v", apiURL, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: %v", apiURL, err)
	}
	var users []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if res.StatusCode != 200 || json.Unmarshal(body, &users) != nil || len(users) == 0 {
		t.Fatalf("GET %s: %d %.200s; want a JSON list of users", apiURL, res.StatusCode, body)
	}
	parts := make([]string, len(users))
	for i, u := range users {
		parts[i] = fmt.Sprintf("%d=%s", u.ID, u.Name)
	}
	return "users: " + strings.Join(parts, ", ")
}

// browserOpenApp opens a fresh page (its own cookies, so its own Streamlit session) on url and
// waits for the home page to be rendered and connected.
func browserOpenApp(t *testing.T, cdp *cdpClient, url string) *browserPage {
	t.Helper()
	p := browserOpenPage(t, cdp)
	p.navigate(url)
	p.waitText("the home page", browserSessionTimeout, func(s browserPageText) bool {
		// The first and the last lines of the home page: the script has run to its end.
		return browserShows(s.Text, "fluxlit browser test", "clicks: 0", "upload sha256: (none)", "Download data") && s.Connection == ""
	})
	return p
}

// browserPoint is where to click: the centre of an element, in CSS pixels of the viewport.
type browserPoint struct {
	X, Y  float64
	Found bool
}

// browserFindJS scrolls to the first element matching %[1]s whose text (trimmed) is %[2]s (""
// for any) and returns its centre. %[3]s is a JS expression picking the element to click
// inside it (e.g. its button), or "" for itself.
const browserFindJS = `(() => {
  const want = %[2]s;
  for (const el of document.querySelectorAll(%[1]s)) {
    if (want !== "" && el.innerText.trim() !== want) continue;
    const target = %[3]s || el;
    target.scrollIntoView({block: "center"});
    const r = target.getBoundingClientRect();
    return {X: r.left + r.width / 2, Y: r.top + r.height / 2, Found: r.width > 0 && r.height > 0};
  }
  return {X: 0, Y: 0, Found: false};
})()`

// click clicks, as a mouse does, the element found by selector and text (see browserFindJS).
func (p *browserPage) click(selector, text, inner string) {
	p.t.Helper()
	sel, _ := json.Marshal(selector)
	txt, _ := json.Marshal(text)
	if inner == "" {
		inner = "null"
	}
	var at browserPoint
	deadline := time.Now().Add(browserSessionTimeout)
	for {
		p.eval(fmt.Sprintf(browserFindJS, sel, txt, inner), &at)
		if at.Found {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("click: no visible %s with text %q on the page", selector, text)
		}
		time.Sleep(browserPollInterval)
	}
	for _, ev := range []map[string]any{
		{"type": "mouseMoved", "x": at.X, "y": at.Y},
		{"type": "mousePressed", "x": at.X, "y": at.Y, "button": "left", "clickCount": 1},
		{"type": "mouseReleased", "x": at.X, "y": at.Y, "button": "left", "clickCount": 1},
	} {
		if err := p.c.call(p.session, "Input.dispatchMouseEvent", ev, nil); err != nil {
			p.t.Fatal(err)
		}
	}
}

// clickButton clicks the Streamlit button labelled label.
func (p *browserPage) clickButton(label string) {
	p.t.Helper()
	p.click(`[data-testid="stButton"], [data-testid="stDownloadButton"]`, label, "el.querySelector('button')")
}

// typeText clicks the text input labelled label, types text and presses Enter, which is when
// Streamlit sends the new value and reruns the script.
func (p *browserPage) typeText(label, text string) {
	p.t.Helper()
	p.click(`input[aria-label="`+label+`"]`, "", "")
	if err := p.c.call(p.session, "Input.insertText", map[string]any{"text": text}, nil); err != nil {
		p.t.Fatal(err)
	}
	for _, typ := range []string{"keyDown", "keyUp"} {
		ev := map[string]any{"type": typ, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
		if typ == "keyDown" {
			ev["text"] = "\r"
		}
		if err := p.c.call(p.session, "Input.dispatchKeyEvent", ev, nil); err != nil {
			p.t.Fatal(err)
		}
	}
}

// chooseFile sets the page's file input to path, as choosing it in the file dialog does.
func (p *browserPage) chooseFile(path string) {
	p.t.Helper()
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	if err := p.c.call(p.session, "DOM.getDocument", map[string]any{"depth": 0}, &doc); err != nil {
		p.t.Fatal(err)
	}
	var input struct {
		NodeID int `json:"nodeId"`
	}
	if err := p.c.call(p.session, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": `input[type="file"]`}, &input); err != nil || input.NodeID == 0 {
		p.t.Fatalf("no file input on the page: %v", err)
	}
	if err := p.c.call(p.session, "DOM.setFileInputFiles", map[string]any{"files": []string{path}, "nodeId": input.NodeID}, nil); err != nil {
		p.t.Fatal(err)
	}
}

// browserCheckRender is test 1: the title, no connection-error state or error element, and the
// users line equal to what the API answers (the script fetched it through fluxlit's /api).
func browserCheckRender(t *testing.T, cdp *cdpClient, client *http.Client, origin, rootPath string) *browserPage {
	t.Helper()
	want := browserUsersLine(t, client, origin+rootPath+"/api/users")
	p := browserOpenApp(t, cdp, origin+rootPath+"/")
	got := p.waitText("the users from the API", browserSessionTimeout, func(s browserPageText) bool {
		return browserShows(s.Text, want)
	})
	var errs int
	p.eval(`document.querySelectorAll('[data-testid="stException"], [data-testid="stAlert"], [role="dialog"]').length`, &errs)
	if got.Connection != "" || errs != 0 || strings.Contains(got.Text, "Connection error") {
		t.Errorf("page shows connection status %q, %d error elements or dialogs; want none:\n%s", got.Connection, errs, got.Text)
	}
	var title string
	p.eval(`document.title`, &title)
	if !strings.Contains(title, "Home") {
		t.Errorf("document title %q; want the page's title (Home)", title)
	}
	return p
}

// browserCheckInteract is test 2: a button click and a text input each rerun the script and
// the new output appears.
func browserCheckInteract(t *testing.T, cdp *cdpClient, origin, rootPath string) {
	t.Helper()
	p := browserOpenApp(t, cdp, origin+rootPath+"/")
	for n := 1; n <= 2; n++ {
		p.clickButton("Count")
		line := "clicks: " + strconv.Itoa(n)
		p.waitText(line, browserSessionTimeout, func(s browserPageText) bool { return browserShows(s.Text, line) })
	}
	p.typeText("Your name", "Grace Hopper")
	p.waitText("the typed name", browserSessionTimeout, func(s browserPageText) bool {
		return browserShows(s.Text, "hello: Grace Hopper", "clicks: 2")
	})
}

// browserCheckUpload is test 3: a file chosen in the page reaches the script (it shows the
// file's SHA-256), through Streamlit's upload endpoint with its XSRF token and cookie.
func browserCheckUpload(t *testing.T, cdp *cdpClient, origin, rootPath string) {
	t.Helper()
	content := []byte("fluxlit upload check\n" + strings.Repeat("0123456789abcdef", 4096) + "\x00\xff end\n")
	path := filepath.Join(t.TempDir(), "upload.bin")
	writeFile(t, path, string(content))
	sum := sha256.Sum256(content)
	line := "upload sha256: " + hex.EncodeToString(sum[:])

	p := browserOpenApp(t, cdp, origin+rootPath+"/")
	p.chooseFile(path)
	p.waitText("the uploaded file's SHA-256", browserSessionTimeout, func(s browserPageText) bool { return browserShows(s.Text, line) })

	// The browser's own record of the upload: a PUT under rootPath to Streamlit's endpoint,
	// carrying the X-Xsrftoken header, answered 2xx (403 if the token or cookie was lost).
	uploadPrefix := origin + rootPath + "/_stcore/upload_file/"
	var req struct {
		RequestID string `json:"requestId"`
		Request   struct {
			URL     string            `json:"url"`
			Method  string            `json:"method"`
			Headers map[string]string `json:"headers"`
		} `json:"request"`
	}
	_, err := p.c.waitEvent(p.session, "Network.requestWillBeSent", func(raw json.RawMessage) bool {
		return json.Unmarshal(raw, &req) == nil && strings.HasPrefix(req.Request.URL, uploadPrefix) && req.Request.Method == "PUT"
	}, browserLoadTimeout)
	if err != nil {
		t.Fatalf("no PUT to %s*: %v", uploadPrefix, err)
	}
	if tok, _ := browserHeader(req.Request.Headers, "X-Xsrftoken"); tok == "" {
		t.Errorf("upload PUT %s carried no X-Xsrftoken header", req.Request.URL)
	}
	var res cdpResponse
	if _, err := p.c.waitEvent(p.session, "Network.responseReceived", func(raw json.RawMessage) bool {
		var r struct {
			RequestID string `json:"requestId"`
		}
		return json.Unmarshal(raw, &r) == nil && r.RequestID == req.RequestID && json.Unmarshal(raw, &res) == nil
	}, browserLoadTimeout); err != nil || res.Response.Status/100 != 2 {
		t.Errorf("upload PUT %s: status %d (%v); want 2xx", req.Request.URL, res.Response.Status, err)
	}
	var cookies struct {
		Cookies []struct {
			Name string `json:"name"`
		} `json:"cookies"`
	}
	if err := p.c.call(p.session, "Network.getCookies", map[string]any{"urls": []string{origin + rootPath + "/"}}, &cookies); err != nil {
		t.Fatal(err)
	}
	hasXSRF := false
	for _, c := range cookies.Cookies {
		hasXSRF = hasXSRF || c.Name == "_streamlit_xsrf"
	}
	if !hasXSRF {
		t.Errorf("browser cookies %+v; want Streamlit's _streamlit_xsrf", cookies.Cookies)
	}
}

// browserCheckMultipage is test 5: the sidebar link opens the second page (new text, new URL),
// and reloading that deep link shows it again.
func browserCheckMultipage(t *testing.T, cdp *cdpClient, origin, rootPath string) {
	t.Helper()
	p := browserOpenApp(t, cdp, origin+rootPath+"/")
	p.click(`[data-testid="stSidebarNav"] a`, "Second page", "")
	onSecond := func(s browserPageText) bool {
		return browserShows(s.Text, "Second page", "second page: reached") && s.Path == rootPath+"/second" &&
			!browserShows(s.Text, "clicks: 0") && s.Connection == ""
	}
	p.waitText("the second page after its link", browserSessionTimeout, onSecond)
	if err := p.c.call(p.session, "Page.reload", map[string]any{"ignoreCache": true}, nil); err != nil {
		t.Fatal(err)
	}
	p.waitText("the second page after a reload of "+rootPath+"/second", browserSessionTimeout, onSecond)
	// The reload was a real request for the deep link, answered with the app.
	var nav struct {
		Status int    `json:"status"`
		URL    string `json:"url"`
	}
	p.eval(`(() => { const e = performance.getEntriesByType("navigation")[0]; return {status: e.responseStatus, url: e.name}; })()`, &nav)
	if nav.URL != origin+rootPath+"/second" {
		t.Errorf("reloaded document %q; want %s", nav.URL, origin+rootPath+"/second")
	}
	t.Logf("deep link %s answered %d", nav.URL, nav.Status)
}

// browserImage is the app's image element as the page has it.
type browserImage struct {
	Width    int    `json:"width"` // natural width: 0 until loaded
	Complete bool   `json:"complete"`
	Src      string `json:"src"`
}

// browserWaitImage waits (up to browserSessionTimeout) until the app's image has loaded, and
// returns it as it is then. The home page's text is there before its image is.
func browserWaitImage(p *browserPage) browserImage {
	var img browserImage
	deadline := time.Now().Add(browserSessionTimeout)
	for {
		p.eval(`(() => { const i = document.querySelector('[data-testid="stImage"] img');
		  return i ? {width: i.naturalWidth, complete: i.complete, src: i.src} : {width: 0, complete: false, src: ""}; })()`, &img)
		if img.Complete && img.Width > 0 || time.Now().After(deadline) {
			return img
		}
		time.Sleep(browserPollInterval)
	}
}

// browserCheckMedia is test 4: the image has loaded (its natural width is the PNG's 96 pixels)
// and the download button saves exactly the app's bytes.
func browserCheckMedia(t *testing.T, cdp *cdpClient, origin string) {
	t.Helper()
	p := browserOpenApp(t, cdp, origin+"/")
	img := browserWaitImage(p)
	if img.Width != 96 || !strings.HasPrefix(img.Src, origin+"/media/") {
		t.Errorf("image: natural width %d, complete %v, src %q; want 96 px loaded from %s/media/", img.Width, img.Complete, img.Src, origin)
	}

	dir := t.TempDir()
	if err := p.c.call("", "Browser.setDownloadBehavior", map[string]any{
		"behavior": "allow", "downloadPath": dir, "browserContextId": p.context, "eventsEnabled": true,
	}, nil); err != nil {
		t.Fatal(err)
	}
	p.clickButton("Download data")
	var begin struct {
		GUID              string `json:"guid"`
		URL               string `json:"url"`
		SuggestedFilename string `json:"suggestedFilename"`
	}
	raw, err := p.c.waitEvent("", "Browser.downloadWillBegin", nil, browserDownloadTimeout)
	if err != nil || json.Unmarshal(raw, &begin) != nil {
		t.Fatalf("download: %v %.300s", err, raw)
	}
	if _, err := p.c.waitEvent("", "Browser.downloadProgress", func(raw json.RawMessage) bool {
		var pr struct {
			GUID  string `json:"guid"`
			State string `json:"state"`
		}
		return json.Unmarshal(raw, &pr) == nil && pr.GUID == begin.GUID && pr.State != "inProgress"
	}, browserDownloadTimeout); err != nil {
		t.Fatalf("download %s: %v", begin.URL, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, begin.SuggestedFilename))
	if begin.SuggestedFilename != "fluxlit-download.bin" || err != nil || !bytes.Equal(got, browserAppDownload) {
		t.Errorf("download %s saved as %q: %d bytes (%v); want fluxlit-download.bin with the app's %d bytes",
			begin.URL, begin.SuggestedFilename, len(got), err, len(browserAppDownload))
	}
}

// browserCheckScreenshot is test 9: a screenshot of the rendered page is saved to the artifact
// directory and is not blank: a good share of it is not background, and the app's gradient
// image (green 64, red and blue summing to 255) is in it.
func browserCheckScreenshot(t *testing.T, p *browserPage, path string) {
	t.Helper()
	// The page's text comes before its image: a screenshot taken once the text was there
	// (under -race, at load 17) had the text and no image ("0 gradient pixels").
	browserWaitImage(p)
	p.eval(`window.scrollTo(0, 0); true`, nil)
	p.screenshot(path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	ink, gradient, total := browserInk(img)
	t.Logf("screenshot %s: %d of %d pixels not background, %d in the gradient", path, ink, total, gradient)
	if ink*100 < total || gradient < 96*24 {
		t.Errorf("screenshot %s looks blank: %d of %d pixels not background, %d gradient pixels; want >= 1%% and the 96x48 image",
			path, ink, total, gradient)
	}
}

// browserInk counts the pixels that are not the page's white background, and those that are the
// app's gradient image.
func browserInk(img image.Image) (ink, gradient, total int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			total++
			if r < 235 || g < 235 || bl < 235 {
				ink++
			}
			if g >= 54 && g <= 74 && r+bl >= 240 && r+bl <= 270 {
				gradient++
			}
		}
	}
	return ink, gradient, total
}

// browserSignalChild sends sig to fluxlit's child named name (pid from the debug page) and
// returns the pid it had.
func browserSignalChild(t *testing.T, p *fluxlitProc, name string, sig syscall.Signal) int {
	t.Helper()
	pid := debugChildren(t, p.base)[name].PID
	if pid <= 0 {
		t.Fatalf("debug page: no pid for child %s", name)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill %s (pid %d): %v", name, pid, err)
	}
	return pid
}

// browserWaitConnecting waits for the page to show Streamlit's reconnecting state.
func browserWaitConnecting(p *browserPage) {
	p.t.Helper()
	p.waitText("Streamlit's reconnecting state", browserSessionTimeout, func(s browserPageText) bool {
		return strings.EqualFold(s.Connection, "Connecting")
	})
}

// browserCheckReconnects waits for the page to come back by itself, and checks that a click
// still reruns the script.
func browserCheckReconnects(t *testing.T, p *browserPage) {
	t.Helper()
	var clicks int
	back := p.waitText("the page reconnected", browserReconnectTimeout, func(s browserPageText) bool {
		return s.Connection == "" && browserShows(s.Text, "fluxlit browser test")
	})
	if strings.Contains(back.Text, "Connection error") {
		t.Errorf("page came back with a connection error:\n%s", back.Text)
	}
	// A new server has a new session, whose counter starts again; the page may still show the
	// old session's count until the reconnect's rerun ends (seen: "clicks: 2" read, the click
	// counted 1 by the new session). A click is counted by whichever session it reaches.
	p.waitText("a clicks line", browserSessionTimeout, func(s browserPageText) bool {
		clicks = browserClicks(s.Text)
		return clicks >= 0
	})
	p.clickButton("Count")
	want, fresh := "clicks: "+strconv.Itoa(clicks+1), "clicks: 1"
	p.waitText(want+" (or "+fresh+" on a new session) after the reconnect", browserSessionTimeout, func(s browserPageText) bool {
		return browserShows(s.Text, want) || browserShows(s.Text, fresh)
	})
}

// browserClicks reads the "clicks: N" line, or -1.
func browserClicks(text string) int {
	for _, l := range strings.Split(text, "\n") {
		if n, ok := strings.CutPrefix(strings.TrimSpace(l), "clicks: "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return v
			}
		}
	}
	return -1
}

// browserAppArtifact returns the path for a screenshot named name in the artifact directory.
func browserAppArtifact(t *testing.T, dir, name string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// TestIntegrationBrowserApp is issue #17's browser Must-show, tests 1-9. Three fluxlit
// instances start at once and are shared by the checks: the newest Streamlit at the root
// (tests 1-7 and 9; 6 and 7 break and restart things, so they run last), the oldest supported
// Streamlit at the root (tests 1-3), and the newest behind nginx with TLS under /apps/demo/
// (test 8). Each check opens its own page, so it has its own Streamlit session.
//
// How each was seen to fail (the app or fluxlit broken locally, then restored; 2026-12-04):
//   - 1 render: the app adding a user to what it fetched → "no the users from the API".
//   - 2 interact: the app's button not incrementing → "no clicks: 1".
//   - 3 upload: fluxlit dropping X-Xsrftoken on the Streamlit hop (proxy.go and fastpath.go) →
//     Streamlit answered the PUT 403 and "no the uploaded file's SHA-256".
//   - 4 media: st.image(..., width=40) → "natural width 40 ... want 96 px"; one byte more in
//     the app's download → "16406 bytes ... want ... 16405 bytes".
//   - 5 multipage: url_path "two" instead of "second" → "no the second page ... path /two".
//   - 6 child killed: fluxlit's restart delay set to 10 minutes (supervise.go) → "no the page
//     reconnected within 1m30s; it shows (connection "CONNECTING")".
//   - 7 fluxlit restarted: not starting it again → the same, still "CONNECTING".
//   - 8 nginx TLS subpath: root_path left out of the project → /apps/demo/api/users answered
//     Streamlit's index.html, not the users. (Before the nginx config streamed request bodies,
//     8's upload failed too: nginx's workers could not spool the PUT into the test's directory.)
//   - 9 screenshot: taken right after navigation, before the frontend rendered → "looks blank:
//     0 of 697344 pixels not background".
func TestIntegrationBrowserApp(t *testing.T) {
	for _, what := range []string{"chromium", "nginx", "openssl", "streamlit", "fastapi"} {
		requireIntegration(t, what)
	}
	newest := launchFluxlit(t, browserAppProject(t, streamlitPython(t), ""), nil, "run", "--no-pidfile")
	oldest := launchFluxlit(t, browserAppProject(t, oldestStreamlitPython(t), ""), nil, "run", "--no-pidfile")
	behindDir := browserAppProject(t, streamlitPython(t), "root_path = \""+browserRootPath+"\"\ntrust_proxy = true\n")
	behind := launchFluxlit(t, behindDir, nil, "run", "--no-pidfile")
	// The demo's project (scripts/demo.sh), as it is but for the port and the interpreter.
	hello := launchFluxlit(t, exampleHelloProject(t), []string{"FLUXLIT_PYTHON=" + streamlitPython(t)}, "run", "--no-pidfile")
	cert := browserMakeCert(t, t.TempDir())
	ngxPort := browserStartNginx(t, cert, behind.port)
	cdp := browserStartChromium(t, cert.spki)
	browserWaitReady(t, newest, "")
	browserWaitReady(t, oldest, "")
	browserWaitReady(t, behind, browserRootPath)
	browserWaitReady(t, hello, "")
	shots := browserArtifactDir(t)

	// The demo: examples/hello's page shows the users its script fetched from the API through
	// fluxlit. Seen to fail with the example's API answering a third user the page did not show.
	t.Run("demo-hello", func(t *testing.T) {
		p := browserOpenPage(t, cdp)
		p.navigate(hello.base + "/")
		p.waitText("the hello example's users", browserSessionTimeout, func(s browserPageText) bool {
			return browserShows(s.Text, "Hello from fluxlit", "2 users from the API:", "Ada (id 1)", "Linus (id 2)") && s.Connection == ""
		})
		p.screenshot(browserAppArtifact(t, shots, "browser-demo-hello.png"))
	})

	for _, v := range []struct {
		name string
		p    *fluxlitProc
	}{{"newest", newest}, {"oldest", oldest}} {
		origin := v.p.base
		t.Run("1-render/"+v.name, func(t *testing.T) { browserCheckRender(t, cdp, http.DefaultClient, origin, "") })
		t.Run("2-interact/"+v.name, func(t *testing.T) { browserCheckInteract(t, cdp, origin, "") })
		t.Run("3-upload/"+v.name, func(t *testing.T) { browserCheckUpload(t, cdp, origin, "") })
	}
	t.Run("4-media", func(t *testing.T) { browserCheckMedia(t, cdp, newest.base) })
	t.Run("5-multipage", func(t *testing.T) { browserCheckMultipage(t, cdp, newest.base, "") })
	t.Run("8-nginx-tls-subpath", func(t *testing.T) {
		origin := "https://localhost:" + strconv.Itoa(ngxPort)
		t.Run("1-render", func(t *testing.T) { browserCheckRender(t, cdp, browserHTTPSClient(cert), origin, browserRootPath) })
		t.Run("2-interact", func(t *testing.T) { browserCheckInteract(t, cdp, origin, browserRootPath) })
		t.Run("3-upload", func(t *testing.T) { browserCheckUpload(t, cdp, origin, browserRootPath) })
		t.Run("5-multipage", func(t *testing.T) { browserCheckMultipage(t, cdp, origin, browserRootPath) })
	})
	t.Run("9-screenshot", func(t *testing.T) {
		p := browserOpenApp(t, cdp, newest.base+"/")
		browserCheckScreenshot(t, p, browserAppArtifact(t, shots, "browser-app-newest.png"))
	})
	t.Run("6-streamlit-killed", func(t *testing.T) {
		p := browserOpenApp(t, cdp, newest.base+"/")
		old := browserSignalChild(t, newest, "streamlit", syscall.SIGKILL)
		browserWaitConnecting(p)
		browserCheckReconnects(t, p)
		if pid := debugChildren(t, newest.base)["streamlit"].PID; pid == old || pid <= 0 {
			t.Errorf("streamlit child pid %d after the kill; want a new one (was %d)", pid, old)
		}
	})
	t.Run("7-fluxlit-restarted", func(t *testing.T) {
		p := browserOpenApp(t, cdp, newest.base+"/")
		if err := newest.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		browserWaitConnecting(p)
		if code := newest.exitCode(t, 30*time.Second); code != 0 {
			t.Errorf("fluxlit exit code %d after SIGTERM; want 0", code)
		}
		again := launchFluxlit(t, newest.cmd.Dir, nil, "run", "--no-pidfile", "--port", strconv.Itoa(newest.port))
		browserWaitReady(t, again, "")
		browserCheckReconnects(t, p)
		if res := harnessHTTPStatus(again.base + "/api/readyz"); res != http.StatusOK {
			t.Errorf("readyz after the restart: %d; want 200", res)
		}
	})
}
