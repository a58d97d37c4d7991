package main

// Python FluxLit's own black-box checks, run against the fluxlit binary (issue #18): its
// scripts/smoke_fluxlit_run.sh as shipped, its proxy-deployment smoke test re-stated with real
// nginx standing in for its docker-compose setup, and test_runtime_contract.py's subprocess
// test. They use the source distribution of fluxlit 0.13.2 from the package index
// (scripts/fluxlit-sdist.sh unpacks it): the scripts and examples/smoke_app are Python
// FluxLit's, the fluxlit on PATH is this binary.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smokeSdistDefault is where scripts/fluxlit-sdist.sh unpacks Python FluxLit 0.13.2's sdist;
// FLUXLIT_TEST_FLUXLIT_SDIST overrides it.
const smokeSdistDefault = "/opt/fluxlit-venvs/sdist/fluxlit-0.13.2"

// smokeSdist returns the unpacked sdist, or skips/fails the test when it is missing.
func smokeSdist(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLUXLIT_TEST_FLUXLIT_SDIST")
	if dir == "" {
		dir = smokeSdistDefault
	}
	for _, f := range []string{"scripts/smoke_fluxlit_run.sh", "examples/smoke_app/app.py"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			harnessUnavailable(t, "Python FluxLit's sdist: %v (run scripts/fluxlit-sdist.sh)", err)
		}
	}
	return dir
}

// smokeCopy copies the named files of the sdist into a fresh directory with the same layout,
// so that what the scripts write (pidfiles, caches) stays in the test's directory.
func smokeCopy(t *testing.T, sdist string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(sdist, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(data))
	}
	return dir
}

// smokePath is a PATH on which "fluxlit" is this binary and "python3" the test venv's
// interpreter, ahead of the venv's own bin directory (which holds Python FluxLit's "fluxlit"
// console script: a user who activates the venv must put the binary first, as here).
func smokePath(t *testing.T, py string) string {
	t.Helper()
	bin := t.TempDir()
	for name, target := range map[string]string{"fluxlit": fluxlitBinary(t), "python3": py} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return bin + string(os.PathListSeparator) + filepath.Dir(py) + string(os.PathListSeparator) + os.Getenv("PATH")
}

// smokeEnv is the environment of an activated venv with the binary first on PATH (complete for
// a script; as launchFluxlit's extra environment its values win over the test's).
func smokeEnv(t *testing.T, py string, extra ...string) []string {
	t.Helper()
	env := harnessEnvWithout("PATH=", "VIRTUAL_ENV=", "FLUXLIT_")
	env = append(env, "PATH="+smokePath(t, py), "VIRTUAL_ENV="+filepath.Dir(filepath.Dir(py)))
	return append(env, extra...)
}

// TestIntegrationPythonSmokeRun runs Python FluxLit's scripts/smoke_fluxlit_run.sh, unchanged,
// with the binary as "fluxlit": `fluxlit run app:app --host H --port P` in examples/smoke_app
// (a FluxLit app, no streamlit_app.py), then /api/healthz, then /api/readyz until 200.
// Before the FluxLit app model, the Streamlit child (streamlit_app.py) never started and the
// script ended "FAIL readyz never reached 200 (last=503)".
func TestIntegrationPythonSmokeRun(t *testing.T) {
	py := fluxlitPython(t)
	requireIntegration(t, "curl")
	root := smokeCopy(t, smokeSdist(t), "scripts/smoke_fluxlit_run.sh", "examples/smoke_app/app.py")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "smoke_fluxlit_run.sh"))
	cmd.Dir = root
	cmd.Env = smokeEnv(t, py, "FLUXLIT_SMOKE_PORT="+strconv.Itoa(freePort(t)))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "smoke_fluxlit_run: OK (healthz + readyz)") {
		t.Fatalf("smoke_fluxlit_run.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"app":"FluxLit 0.13.2 app app:app`) {
		t.Errorf("the run did not take the FluxLit app model:\n%s", out)
	}
}

// TestIntegrationPythonChaosScripts runs Python FluxLit's chaos scripts that hold for the
// binary, unchanged (scripts/, from the sdist root: `fluxlit run examples.smoke_app.app:app`):
// SIGTERM stops it, and a body over FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES posted as soon
// as /api/healthz answers gets 413. Before, that POST met a Streamlit child still starting
// and got 503 ("FAIL: expected 413, got 503"): Python's gateway accepts connections only once
// Streamlit's port is open, fluxlit's healthz answers from the start. Not run:
// chaos_streamlit_kill.sh (Python's gateway exits when Streamlit dies; fluxlit restarts it,
// README "Migrating from Python FluxLit"), chaos_dropped_websocket.sh (needs the websockets
// package, which the venvs do not have; the compat suite's WebSocket tests cover the tunnel),
// chaos_slow_upstream.sh (builds Python's gateway in process).
func TestIntegrationPythonChaosScripts(t *testing.T) {
	py := fluxlitPython(t)
	requireIntegration(t, "curl")
	sdist := smokeSdist(t)
	for _, tt := range []struct{ script, want string }{
		{"chaos_graceful_shutdown.sh", "PASS: gateway exited after SIGTERM"},
		{"chaos_oversized_body.sh", "PASS: oversized proxied body returned 413"},
	} {
		t.Run(tt.script, func(t *testing.T) {
			root := smokeCopy(t, sdist, "scripts/"+tt.script, "examples/smoke_app/app.py")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", filepath.Join("scripts", tt.script))
			cmd.Dir = root
			cmd.Env = smokeEnv(t, py, "PORT="+strconv.Itoa(freePort(t)))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) {
				log, _ := os.ReadFile(filepath.Join(root, ".fluxlit-chaos-shutdown.log"))
				if len(log) == 0 {
					log, _ = os.ReadFile(filepath.Join(root, ".fluxlit-chaos-oversized.log"))
				}
				t.Fatalf("%s: %v\n%s\nfluxlit's log:\n%s", tt.script, err, out, log)
			}
		})
	}
}

// smokeNginxConf is docker/proxy-deployment/nginx.conf's location (strip the /myapp/ prefix)
// plus a second server forwarding the full path (its docker-compose.fullpath.yml shape), in a
// config nginx can run as the test's child. Arguments: pid/log dir, strip port, full-path port,
// fluxlit port.
const smokeNginxConf = `worker_processes 1;
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
        listen 127.0.0.1:%[2]d;
        location = /myapp { return 301 /myapp/; }
        location /myapp/ {
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 86400;
            proxy_pass http://127.0.0.1:%[4]d/;
        }
    }
    server {
        listen 127.0.0.1:%[3]d;
        location /myapp/ {
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 86400;
            proxy_pass http://127.0.0.1:%[4]d;
        }
    }
}
`

// smokeStartNginx runs nginx with smokeNginxConf and returns the strip-prefix and full-path ports.
func smokeStartNginx(t *testing.T, fluxlitPort int) (strip, full int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		strip, full = freePort(t), freePort(t)
		conf := filepath.Join(dir, "nginx.conf")
		writeFile(t, conf, fmt.Sprintf(smokeNginxConf, dir, strip, full, fluxlitPort))
		cmd := exec.Command("nginx", "-e", "stderr", "-p", dir, "-c", conf, "-g", "daemon off;")
		ready := func() bool {
			return harnessHTTPStatus("http://127.0.0.1:"+strconv.Itoa(strip)+"/") != 0 &&
				harnessHTTPStatus("http://127.0.0.1:"+strconv.Itoa(full)+"/") != 0
		}
		if harnessStart(t, fmt.Sprintf("nginx-%d", strip), cmd, ready, attempt == harnessStartAttempts) {
			return strip, full
		}
	}
}

// TestIntegrationPythonProxySmoke re-states Python FluxLit's docker/proxy-deployment/
// smoke-test.sh (not in the sdist; checks taken from the public repository's version) against
// the binary behind real nginx, for both proxy shapes of that directory: strip-prefix
// (nginx.conf) and full path. fluxlit runs the sdist's examples/smoke_app as its Dockerfile
// runs it (FLUXLIT_ROOT_PATH=/myapp, FLUXLIT_TRUST_PROXY=1, a 64-byte body limit from its
// docker-compose.yml, `fluxlit run app:app --host … --port … --no-pidfile`). Checks: healthz
// status ok, readyz status ready, /api/smoke's marker, X-Request-ID reaching the app, the root
// page is Streamlit's, a 256-byte POST gets 413, and the WebSocket /_stcore/stream handshake
// with subprotocol streamlit.
func TestIntegrationPythonProxySmoke(t *testing.T) {
	py := fluxlitPython(t)
	requireIntegration(t, "nginx")
	app := filepath.Join(smokeCopy(t, smokeSdist(t), "examples/smoke_app/app.py"), "examples", "smoke_app")
	env := smokeEnv(t, py, "PYTHONPATH="+app, "FLUXLIT_ROOT_PATH=/myapp", "FLUXLIT_TRUST_PROXY=1",
		"FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES=64")
	port := freePort(t)
	p := launchFluxlit(t, app, env, "run", "app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--no-pidfile")
	strip, full := smokeStartNginx(t, port)
	browserWaitReady(t, p, "/myapp")

	for _, shape := range []struct {
		name string
		port int
	}{{"strip-prefix", strip}, {"full-path", full}} {
		t.Run(shape.name, func(t *testing.T) {
			base := "http://127.0.0.1:" + strconv.Itoa(shape.port) + "/myapp"
			smokeJSON(t, base+"/api/healthz", nil, "status", "ok")
			smokeJSON(t, base+"/api/readyz", nil, "status", "ready")
			smokeJSON(t, base+"/api/smoke", nil, "marker", "fluxlit_smoke_ok")
			rid := fmt.Sprintf("proxy-smoke-%d", time.Now().UnixNano()%100000)
			smokeJSON(t, base+"/api/request-id", map[string]string{"X-Request-ID": rid}, "request_id", rid)
			// /api/docs under the subpath: the page's OpenAPI URL, followed as a browser does,
			// is the app's schema (FastAPI's root_path is the app's own /myapp, as in Python;
			// fluxlit redirects /myapp/openapi.json to the API mount).
			res, body := httpDo(t, "GET", base+"/api/docs", nil, nil)
			m := regexp.MustCompile(`url: '([^']+)'`).FindSubmatch(body)
			if res.StatusCode != 200 || m == nil {
				t.Errorf("GET %s/api/docs: %d; want Swagger UI naming its OpenAPI URL:\n%.300s", base, res.StatusCode, body)
			} else if res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(shape.port) + string(m[1])); err != nil {
				t.Errorf("GET the docs' OpenAPI URL %s: %v", m[1], err)
			} else {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !strings.Contains(string(body), `"/smoke"`) {
					t.Errorf("GET the docs' OpenAPI URL %s (redirects followed, to %s): %d %.200s; want the app's schema", m[1], res.Request.URL, res.StatusCode, body)
				}
			}
			res, body = httpDo(t, "GET", base+"/", nil, nil)
			if res.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), "streamlit") {
				t.Errorf("GET %s/: %d; want Streamlit's page:\n%.300s", base, res.StatusCode, body)
			}
			res, body = httpDo(t, "POST", base+"/oversized", nil, strings.NewReader(strings.Repeat("x", 256)))
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("POST 256 bytes to %s/oversized: %d %s; want 413", base, res.StatusCode, body)
			}
			ws, wres, err := dialWS(t, "ws://127.0.0.1:"+strconv.Itoa(shape.port)+"/myapp/_stcore/stream",
				http.Header{"Sec-WebSocket-Protocol": {"streamlit"}, "Origin": {"http://127.0.0.1:" + strconv.Itoa(shape.port)}})
			if err != nil {
				t.Fatalf("WebSocket /myapp/_stcore/stream: %v (%v)", err, wres)
			}
			ws.Close()
			if got := wres.Header.Get("Sec-WebSocket-Protocol"); got != "streamlit" {
				t.Errorf("WebSocket subprotocol %q; want streamlit", got)
			}
		})
	}
}

// smokeJSON GETs url and checks that the JSON body's key is want, as the smoke script's grep does.
func smokeJSON(t *testing.T, url string, hdr map[string]string, key, want string) {
	t.Helper()
	res, body := httpDo(t, "GET", url, hdr, nil)
	var doc map[string]any
	if res.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || doc[key] != want {
		t.Errorf("GET %s: %d %s; want 200 with %q: %q", url, res.StatusCode, body, key, want)
	}
}

// TestIntegrationPythonRuntimeContract is tests/test_runtime_contract.py::
// test_run_unified_subprocess_serves_api_healthz with the binary in place of run_unified: in a
// checkout of Python FluxLit (here its sdist, plus the one-line tests/e2e/minimal_app.py that
// re-exports the smoke app, which the sdist does not ship), with PYTHONPATH at the checkout
// and FLUXLIT_NO_PIDFILE=1, `fluxlit run tests.e2e.minimal_app:app --host 127.0.0.1 --port P`
// serves GET /api/healthz 200 {"status": "ok"} within 120 s without exiting. Beyond the Python
// test, readyz must reach 200: the dotted, re-exported target is found to be a FluxLit app.
func TestIntegrationPythonRuntimeContract(t *testing.T) {
	py := fluxlitPython(t)
	repo := smokeCopy(t, smokeSdist(t), "examples/smoke_app/app.py")
	writeFile(t, filepath.Join(repo, "tests", "e2e", "minimal_app.py"), "from examples.smoke_app.app import app as app\n")
	port := freePort(t)
	p := launchFluxlit(t, repo, smokeEnv(t, py, "FLUXLIT_NO_PIDFILE=1", "PYTHONPATH="+repo),
		"run", "tests.e2e.minimal_app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	deadline := time.Now().Add(120 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("fluxlit subprocess exited early: %v", p.err)
		default:
		}
		if res, err := http.Get(p.base + "/api/healthz"); err == nil {
			var doc map[string]any
			ok := res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&doc) == nil && doc["status"] == "ok"
			res.Body.Close()
			if ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("Gateway did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	browserWaitReady(t, p, "")
	if !strings.Contains(p.log.String(), `"app":"FluxLit 0.13.2 app tests.e2e.minimal_app:app`) {
		t.Errorf("the re-exported target was not run as a FluxLit app")
	}
}
