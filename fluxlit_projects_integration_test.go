package main

// Issue #18's acceptance as a FluxLit user runs it: FluxLit projects the binary did not write
// for itself — a fresh `fluxlit new --fluxlit` project, the app of Python FluxLit's quick
// start (docs/quickstart.md: app.py alone, `fluxlit dev`), and examples shipped in Python
// FluxLit 0.13.2's source distribution, unchanged — run by the binary, their pages rendered
// by headless Chromium with the data each page fetched through `client`.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quickstartApp is docs/quickstart.md's "Minimal app", as the page shows it.
const quickstartApp = `from typing import Any

from fluxlit import FluxLit
from fluxlit.client import ApiClient

app = FluxLit(title="Admin Portal")


@app.api.get("/users")
def users():
    return [{"name": "Ada"}]


@app.page("/")
def home(st: Any, client: ApiClient) -> None:
    st.title("Dashboard")
    st.write(client.get("/users").json())
`

// TestIntegrationFluxLitProjects: each project's pages render in a real browser with the data
// their `client` fetched, and its API answers, on the binary with no change to the project.
func TestIntegrationFluxLitProjects(t *testing.T) {
	py := fluxlitPython(t)
	requireIntegration(t, "chromium")
	sdist := smokeSdist(t)
	cdp := browserStartChromium(t, "")
	env := []string{"FLUXLIT_PYTHON=" + py}

	t.Run("new --fluxlit", func(t *testing.T) {
		dir := t.TempDir()
		if code, out, errOut := fluxlitCLI(t, dir, nil, "new", "flapp", "--fluxlit"); code != 0 {
			t.Fatalf("new flapp --fluxlit: exit %d: %s%s", code, out, errOut)
		}
		p, page := projectPage(t, cdp, filepath.Join(dir, "flapp"), env, "", "run", "--no-pidfile")
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Ada")
	})

	// The quick start's habits: app.py alone (target app:app by default), `fluxlit dev`, and a
	// page edited while it runs shows the edit at the next load.
	t.Run("quickstart", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "app.py"), quickstartApp)
		p, page := projectPage(t, cdp, dir, env, "", "dev", "--no-pidfile")
		res, body := httpDo(t, "GET", p.base+"/api/users", nil, nil)
		if res.StatusCode != 200 || string(body) != `[{"name":"Ada"}]` {
			t.Errorf("GET /api/users: %d %s; want 200 [{\"name\":\"Ada\"}]", res.StatusCode, body)
		}
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Ada")

		edited := strings.Replace(quickstartApp, `st.title("Dashboard")`, `st.title("Edited dashboard")`, 1)
		edited = strings.Replace(edited, `[{"name": "Ada"}]`, `[{"name": "Grace"}]`, 1)
		writeFile(t, filepath.Join(dir, "app.py"), edited)
		deadline := time.Now().Add(browserSessionTimeout)
		for {
			page.navigate(p.base + "/")
			text, ok := pageTextHas(page, 10*time.Second, pageBodyText, "Edited dashboard", "Grace")
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after editing app.py under fluxlit dev: page text lacks one of %q; page:\n%.1500s", []string{"Edited dashboard", "Grace"}, text)
			}
		}
	})

	// The quick start with its optional scaffold step: `fluxlit new my-app` (fluxlit's plain
	// project), then app.py written as the quick start shows. The app's page is what renders,
	// not the scaffold's streamlit_app.py.
	t.Run("quickstart after new", func(t *testing.T) {
		dir := t.TempDir()
		if code, out, errOut := fluxlitCLI(t, dir, nil, "new", "my-app"); code != 0 {
			t.Fatalf("new my-app: exit %d: %s%s", code, out, errOut)
		}
		project := filepath.Join(dir, "my-app")
		writeFile(t, filepath.Join(project, "app.py"), quickstartApp)
		p, page := projectPage(t, cdp, project, env, "", "dev", "--no-pidfile")
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Ada")
	})

	// The same app under a subpath (FLUXLIT_ROOT_PATH, as Python FluxLit's proxy deployments
	// set it): the page, its client and the API all live under /myapp.
	t.Run("quickstart under root_path", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "app.py"), quickstartApp)
		p, page := projectPage(t, cdp, dir, append([]string{"FLUXLIT_ROOT_PATH=/myapp"}, env...), "/myapp", "run", "--no-pidfile")
		page.navigate(p.base + "/myapp/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Dashboard", "Ada")
		waitLog(t, p, `"path":"/myapp/api/users","query":"","dispatch":"api","method":"GET","status":200`, browserSessionTimeout)
	})

	// Python FluxLit's examples/roadmap_09: typed pages (Depends, PageMeta, a query model) and
	// a navigation order that puts About first, so its home page is the ?page=home deep link.
	t.Run("sdist roadmap_09", func(t *testing.T) {
		dir := smokeCopy(t, sdist, "examples/roadmap_09/app.py")
		p, page := projectPage(t, cdp, filepath.Join(dir, "examples", "roadmap_09"), env, "", "run", "--no-pidfile")
		page.navigate(p.base + "/?page=home")
		fluxlitWaitText(t, page, browserSessionTimeout, "Roadmap 0.9 example", "Demo", "tab home", `"ok":true`)
		page.navigate(p.base + "/?page=about")
		fluxlitWaitText(t, page, browserSessionTimeout, "About", "Home")
	})

	// Python FluxLit's examples/reference_auth, run as its README says (`fluxlit dev app:app`):
	// the page's injected client posts the dev login, then ApiClient.for_fluxlit sends the
	// bearer token to the app's own JWT-checked route.
	t.Run("sdist reference_auth", func(t *testing.T) {
		dir := smokeCopy(t, sdist, "examples/reference_auth/app.py")
		p, page := projectPage(t, cdp, filepath.Join(dir, "examples", "reference_auth"), env, "", "dev", "app:app", "--no-pidfile")
		res, body := httpDo(t, "GET", p.base+"/api/me", nil, nil)
		if res.StatusCode != 401 {
			t.Errorf("GET /api/me without a token: %d %s; want the app's own 401", res.StatusCode, body)
		}
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Reference auth")
		page.clickButton("Sign in (dev)")
		fluxlitWaitText(t, page, browserSessionTimeout, "demo-user", "read")
	})

	// Python FluxLit's examples/multipage_apptest, run as its README says: from the folder
	// above examples/, `fluxlit dev examples.multipage_apptest.app:app`; the Admin page
	// (a ?page= deep link) shows the users its client fetched.
	t.Run("sdist multipage_apptest", func(t *testing.T) {
		dir := smokeCopy(t, sdist, "examples/multipage_apptest/app.py")
		p, page := projectPage(t, cdp, dir, env, "", "dev", "examples.multipage_apptest.app:app", "--no-pidfile")
		page.navigate(p.base + "/")
		fluxlitWaitText(t, page, browserSessionTimeout, "Home Page", "Admin")
		page.navigate(p.base + "/?page=admin")
		fluxlitWaitText(t, page, browserSessionTimeout, "Admin Page")
		// st.dataframe draws its cells on a canvas; the grid's accessible table holds them.
		cells, ok := pageTextHas(page, browserSessionTimeout, `(document.querySelector('[data-testid="stDataFrame"]') || {}).textContent || ""`, "Ada", "Grace")
		if !ok {
			t.Fatalf("the Admin page's dataframe holds %q; want the users Ada and Grace its client fetched", cells)
		}
	})
}

// projectPage starts fluxlit in dir with args and, once it is ready (under rootPath), opens a
// Chromium page for it.
func projectPage(t *testing.T, cdp *cdpClient, dir string, env []string, rootPath string, args ...string) (*fluxlitProc, *browserPage) {
	t.Helper()
	p := launchFluxlit(t, dir, env, args...)
	browserWaitReady(t, p, rootPath)
	return p, browserOpenPage(t, cdp)
}
