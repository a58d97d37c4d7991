// deploy_test.go tests "fluxlit build" (the generated files, checked by systemd-analyze and a
// YAML parser), "fluxlit healthcheck", "fluxlit new", and the static release binary.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// deployTestConfig loads a configuration from env alone (no fluxlit.toml, no flags).
func deployTestConfig(t *testing.T, env ...string) *Config {
	t.Helper()
	cfg, err := loadConfig(loadInput{Env: env, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("loadConfig(%v): %v", env, err)
	}
	return cfg
}

// deployRequireTool skips, or fails when integration is required, if a tool is missing.
func deployRequireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		deployMissing(t, name+" is not installed")
	}
	return p
}

func deployMissing(t *testing.T, why string) {
	t.Helper()
	skipTest(t, "%s", why)
}

func deployLines(s string) []string { return strings.Split(s, "\n") }

// The files' lines. Containerfile.scratch is also built and run (TestIntegrationScratchImage);
// Containerfile.python is checked here only: its base image cannot be pulled on this machine.
func TestDeployFilesContent(t *testing.T) {
	cfg := deployTestConfig(t)
	files := map[string]string{}
	for _, f := range deployFiles(cfg) {
		files[f.Name] = f.Content
	}
	tests := []struct {
		name string // file
		in   string // exact line that must be present
	}{
		{"Containerfile.scratch", "FROM scratch AS check"},
		{"Containerfile.scratch", "COPY dist/fluxlit-linux-${TARGETARCH} /fluxlit"},
		{"Containerfile.scratch", "COPY fluxlit.toml /app/fluxlit.toml"},
		{"Containerfile.scratch", `RUN ["/fluxlit", "doctor", "--build"]`},
		{"Containerfile.scratch", "FROM scratch"},
		{"Containerfile.scratch", "COPY --from=check /fluxlit /fluxlit"},
		{"Containerfile.scratch", "COPY --from=check /app/fluxlit.toml /app/fluxlit.toml"},
		{"Containerfile.scratch", "USER 65532:65532"},
		{"Containerfile.scratch", "EXPOSE 8000"},
		{"Containerfile.scratch", "ENV FLUXLIT_GATEWAY_HOST=0.0.0.0 \\"},
		{"Containerfile.scratch", "#   podman build --format docker --ignorefile deploy/Containerfile.scratch.dockerignore -f deploy/Containerfile.scratch -t fluxlit-gateway:latest ."},
		{"Containerfile.scratch", `HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/fluxlit", "healthcheck"]`},
		{"Containerfile.scratch", `ENTRYPOINT ["/fluxlit"]`},
		{"Containerfile.python", "FROM python:3.12-slim"},
		{"Containerfile.python", "COPY requirements.txt /app/requirements.txt"},
		{"Containerfile.python", "RUN pip install --no-cache-dir -r /app/requirements.txt"},
		{"Containerfile.python", "#   docker build -f deploy/Containerfile.python -t fluxlit-app:latest ."},
		{"Containerfile.python", "COPY dist/fluxlit-linux-${TARGETARCH} /usr/local/bin/fluxlit"},
		{"Containerfile.python", "COPY . /app"},
		{"Containerfile.python", "USER 65532:65532"},
		{"Containerfile.python", "EXPOSE 8000"},
		{"Containerfile.python", `HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["fluxlit", "healthcheck"]`},
		{"Containerfile.python.dockerignore", ".venv"},
		{"Containerfile.python.dockerignore", ".env"},
		{"Containerfile.python.dockerignore", "!dist/fluxlit-linux-arm64"},
		{"Containerfile.scratch.dockerignore", "*"},
		{"Containerfile.scratch.dockerignore", "!fluxlit.toml"},
		{"Containerfile.scratch.dockerignore", "!dist/fluxlit-linux-amd64"},
		{"fluxlit.service", "Type=notify"},
		{"fluxlit.service", "NotifyAccess=all"},
		{"fluxlit.service", "ExecReload=/usr/local/bin/fluxlit upgrade --pid $MAINPID"},
		{"fluxlit.service", "WatchdogSec=30"},
		{"fluxlit.service", "Restart=on-failure"},
		{"fluxlit.service", "RestartSec=1"},
		{"fluxlit.service", "KillMode=mixed"},
		{"fluxlit.service", "TimeoutStopSec=25"},
		{"fluxlit.service", "TimeoutStartSec=90"},
		{"fluxlit.service", "NoNewPrivileges=yes"},
		{"fluxlit.service", "ProtectSystem=strict"},
		{"fluxlit.service", "ProtectHome=yes"},
		{"fluxlit.service", "PrivateTmp=yes"},
		{"fluxlit.service", "ReadWritePaths=/srv/fluxlit"},
		{"fluxlit.service", "EnvironmentFile=-/etc/fluxlit/fluxlit.env"},
		{"fluxlit.service", "WorkingDirectory=/srv/fluxlit"},
		{"fluxlit.service", "ExecStart=/usr/local/bin/fluxlit run"},
		{"fluxlit.service", "User=fluxlit"},
		{"fluxlit.service", "Group=fluxlit"},
		{"kubernetes.yaml", "      terminationGracePeriodSeconds: 30"},
		{"kubernetes.yaml", "              path: /api/healthz"},
		{"kubernetes.yaml", "              path: /api/readyz"},
		{"kubernetes.yaml", "  sessionAffinity: ClientIP"},
		{"kubernetes.yaml", "          image: fluxlit-app:latest"},
	}
	for _, tt := range tests {
		content, ok := files[tt.name]
		if !ok {
			t.Fatalf("%s: not generated", tt.name)
		}
		if !slices.Contains(deployLines(content), tt.in) {
			t.Errorf("%s: got no line %q; want it in:\n%s", tt.name, tt.in, content)
		}
	}
	for name, content := range files {
		want := "# Generated by `fluxlit build` (fluxlit " + version + ") from defaults and environment (no fluxlit.toml).\n"
		if !strings.HasPrefix(content, want) {
			t.Errorf("%s: got first line %q; want %q", name, deployLines(content)[0], want)
		}
	}
	if got, want := deployLines(files["fluxlit.service"])[1], "# Settings: gateway_port = 8000 (default), shutdown_timeout_s = 10 (default), child_ready_timeout_s = 60 (default), pidfile = .fluxlit.pid (default), no_pidfile = false (default)."; got != want {
		t.Errorf("unit settings line: got %q; want %q", got, want)
	}
	if !strings.Contains(files["Containerfile.scratch"], "# NOTE: this configuration runs Python children") {
		t.Errorf("scratch Containerfile: got no note that the default configuration needs Python")
	}
}

// The header names the settings' sources, and the scratch image is chosen when fluxlit runs
// no child.
func TestDeployFilesFollowSettings(t *testing.T) {
	cfg := deployTestConfig(t, "FLUXLIT_GATEWAY_PORT=9100", "FLUXLIT_API_UPSTREAM=http://10.0.0.5:8080",
		"FLUXLIT_STREAMLIT_UPSTREAM=http://10.0.0.6:8501", "FLUXLIT_PIDFILE=/run/fluxlit/fluxlit.pid")
	files := map[string]string{}
	for _, f := range deployFiles(cfg) {
		files[f.Name] = f.Content
	}
	tests := []struct{ name, in string }{
		{"Containerfile.scratch", "EXPOSE 9100"},
		{"Containerfile.python", "EXPOSE 9100"},
		{"fluxlit.service", "ReadWritePaths=/run/fluxlit"},
		{"fluxlit.service", "Description=fluxlit: Streamlit UI and HTTP API on port 9100"},
		{"kubernetes.yaml", "          image: fluxlit-gateway:latest"},
		{"kubernetes.yaml", "      port: 9100"},
	}
	for _, tt := range tests {
		if !slices.Contains(deployLines(files[tt.name]), tt.in) {
			t.Errorf("%s: got no line %q; want it in:\n%s", tt.name, tt.in, files[tt.name])
		}
	}
	if !strings.Contains(files["Containerfile.scratch"], "gateway_port = 9100 (env FLUXLIT_GATEWAY_PORT)") {
		t.Errorf("scratch header: got %q; want the port's source named", deployLines(files["Containerfile.scratch"])[1])
	}
	if strings.Contains(files["Containerfile.scratch"], "# NOTE:") {
		t.Errorf("scratch Containerfile: got the needs-Python note for a configuration with both upstreams")
	}
	if strings.Contains(files["kubernetes.yaml"], "mountPath: /home/fluxlit") {
		t.Errorf("kubernetes.yaml: got a home volume for the scratch image")
	}
	noPid := deployTestConfig(t, "FLUXLIT_NO_PIDFILE=1")
	if unit := deploySystemdUnit(noPid); strings.Contains(unit, "ReadWritePaths=") {
		t.Errorf("no_pidfile unit: got ReadWritePaths; want none")
	}
	// A FluxLit project's Python image installs the Python package its app imports: its
	// requirements.txt must list it, and the file says at which version.
	if py := deployContainerfilePython(noPid); strings.Contains(py, "fluxlit==") {
		t.Errorf("plain project's Containerfile.python installs the fluxlit package")
	}
	noPid.App = &fluxlitApp{Version: "0.13.2"}
	if want := `# fluxlit==0.13.2 (fluxlit[auth] when it uses make_jwt_bearer or OIDC login).`; !slices.Contains(deployLines(deployContainerfilePython(noPid)), want) {
		t.Errorf("FluxLit project's Containerfile.python: no line %q", want)
	}
}

// The scratch file's build-time check, run as the generated RUN line and ENV say, exits
// non-zero on a broken fluxlit.toml and 0 on a healthy one, even when this machine holds the
// gateway port (as a builder sharing the host network sees it). The image itself is built
// by TestIntegrationScratchImage. Before doctor --build the RUN line was doctor
// --warnings-only, which exited 0 on every case here.
func TestDeployScratchCheck(t *testing.T) {
	held := localListener(t, "tcp")
	port := held.Addr().(*net.TCPAddr).Port
	healthy := fmt.Sprintf("api_upstream = \"http://api:8080\"\nstreamlit_upstream = \"http://ui:8501\"\ngateway_port = %d\n", port)
	file := deployContainerfileScratch(deployTestConfig(t, "FLUXLIT_API_UPSTREAM=http://api:8080", "FLUXLIT_STREAMLIT_UPSTREAM=http://ui:8501"))
	var argv []string
	for _, line := range deployLines(file) {
		if rest, ok := strings.CutPrefix(line, "RUN "); ok {
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("RUN line %q: %v", line, err)
			}
		}
	}
	if len(argv) < 2 || argv[0] != "/fluxlit" {
		t.Fatalf("Containerfile.scratch: got RUN %q; want /fluxlit and a command", argv)
	}
	tests := []struct {
		name string
		in   string // fluxlit.toml
		want int
	}{
		{"healthy", healthy, 0},
		{"unknown key (strict_config)", healthy + "strict_config = true\ngatway_port = 9000\n", 1},
		{"bad value", healthy + "shutdown_timeout_s = \"soon\"\n", 1},
		{"syntax", healthy + "root_path = \"/a\n", 1},
		{"needs Python", "gateway_port = 8000\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "fluxlit.toml"), tt.in)
			t.Chdir(dir)
			t.Setenv("PATH", "") // a scratch image has no python3
			t.Setenv("FLUXLIT_GATEWAY_HOST", "0.0.0.0")
			t.Setenv("FLUXLIT_NO_PIDFILE", "1")
			var out bytes.Buffer
			if code := fluxlitMain(argv[1:], &out, &out); code != tt.want {
				t.Errorf("%q: got exit %d; want %d\n%s", argv, code, tt.want, out.String())
			}
		})
	}
}

// Changing shutdown_timeout_s moves both stop budgets: they must stay above fluxlit's own
// drain plus the children's grace, or the SIGKILL arrives mid-drain.
func TestDeployStopBudgetFollowsShutdownTimeout(t *testing.T) {
	tests := []struct {
		name      string
		in        string // shutdown_timeout_s
		wantUnit  string
		wantGrace string
	}{
		{"default", "10", "TimeoutStopSec=25", "      terminationGracePeriodSeconds: 30"},
		{"fractional rounds up", "42.5", "TimeoutStopSec=58", "      terminationGracePeriodSeconds: 63"},
		{"minimum", "0.1", "TimeoutStopSec=16", "      terminationGracePeriodSeconds: 21"},
		{"an hour", "3600", "TimeoutStopSec=3615", "      terminationGracePeriodSeconds: 3620"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := deployTestConfig(t, "FLUXLIT_SHUTDOWN_TIMEOUT_S="+tt.in)
			if got := deployLines(deploySystemdUnit(cfg)); !slices.Contains(got, tt.wantUnit) {
				t.Errorf("unit: got %v; want line %q", got, tt.wantUnit)
			}
			if got := deployLines(deployKubernetes(cfg)); !slices.Contains(got, tt.wantGrace) {
				t.Errorf("manifest: got %v; want line %q", got, tt.wantGrace)
			}
		})
	}
}

// systemd-analyze verify runs against a temporary root holding the unit, the binary at the
// unit's ExecStart path, and a copy of the system's units (for sysinit.target and friends).
func TestDeploySystemdAnalyzeVerify(t *testing.T) {
	analyze := deployRequireTool(t, "systemd-analyze")
	sysUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(sysUnits, "sysinit.target")); err != nil {
		deployMissing(t, "no systemd units under "+sysUnits)
	}
	verify := func(t *testing.T, unit string) (string, error) {
		root := t.TempDir()
		for _, d := range []string{"usr/local/bin", "etc/systemd/system", "usr/lib/systemd"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.CopyFS(filepath.Join(root, "usr/lib/systemd/system"), os.DirFS(sysUnits)); err != nil {
			t.Fatalf("copy units: %v", err)
		}
		// Only the ExecStart path's existence and mode are checked.
		if err := os.WriteFile(filepath.Join(root, "usr/local/bin/fluxlit"), []byte("#!/bin/false\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/fluxlit.service"), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--man=false", "--root="+root, "/etc/systemd/system/fluxlit.service")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	unit := deploySystemdUnit(deployTestConfig(t))
	if out, err := verify(t, unit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: got err %v, output %q; want success and no output", err, out)
	}
	// The check must be able to fail: an unknown key is reported.
	bad := strings.Replace(unit, "WatchdogSec=30", "WatchdogSeconds=30", 1)
	if out, _ := verify(t, bad); !strings.Contains(out, "WatchdogSeconds") {
		t.Errorf("systemd-analyze verify of a bad unit: got output %q; want the unknown key named", out)
	}
}

// deployParseYAML parses a multi-document YAML file with python3's yaml module and returns
// the documents as JSON-decoded values.
func deployParseYAML(t *testing.T, doc string) []map[string]any {
	t.Helper()
	// Debian's interpreter first: python3-yaml installs the module there.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = deployRequireTool(t, "python3")
	}
	if err := exec.Command(py, "-c", "import yaml").Run(); err != nil {
		deployMissing(t, "python3 has no yaml module (Debian python3-yaml)")
	}
	cmd := exec.Command(py, "-c", "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)")
	cmd.Stdin = strings.NewReader(doc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("yaml parse: %v: %s", err, stderr.String())
	}
	var docs []map[string]any
	if err := json.Unmarshal(out, &docs); err != nil {
		t.Fatalf("yaml parse output: %v", err)
	}
	return docs
}

// deployDig walks maps and lists ("spec", "template", 0, …) and returns what it finds.
func deployDig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestDeployKubernetesParses(t *testing.T) {
	tests := []struct {
		name                string
		in                  []string // environment
		wantLive, wantReady string
		wantPort, wantGrace float64
		wantImage           string
	}{
		{"default", nil, "/api/healthz", "/api/readyz", 8000, 30, "fluxlit-app:latest"},
		{"subpath", []string{"FLUXLIT_ROOT_PATH=/apps/demo", "FLUXLIT_GATEWAY_PORT=8080", "FLUXLIT_SHUTDOWN_TIMEOUT_S=30"},
			"/apps/demo/api/healthz", "/apps/demo/api/readyz", 8080, 50, "fluxlit-app:latest"},
		{"mount and upstreams", []string{"FLUXLIT_API_MOUNT_PATH=/backend", "FLUXLIT_API_UPSTREAM=http://api:80",
			"FLUXLIT_STREAMLIT_UPSTREAM=http://ui:8501"}, "/backend/healthz", "/backend/readyz", 8000, 30, "fluxlit-gateway:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := deployTestConfig(t, tt.in...)
			docs := deployParseYAML(t, deployKubernetes(cfg))
			if len(docs) != 4 {
				t.Fatalf("got %d documents; want 4 (Deployment, Service, Ingress, PodDisruptionBudget)", len(docs))
			}
			dep, svc, ing, pdb := docs[0], docs[1], docs[2], docs[3]
			if dep["kind"] != "Deployment" || svc["kind"] != "Service" || ing["kind"] != "Ingress" || pdb["kind"] != "PodDisruptionBudget" {
				t.Fatalf("got kinds %v, %v, %v, %v; want Deployment, Service, Ingress, PodDisruptionBudget", dep["kind"], svc["kind"], ing["kind"], pdb["kind"])
			}
			annotations := deployDig(ing, "metadata", "annotations")
			ingressPath := "/"
			if cfg.RootPath != "" {
				ingressPath = cfg.RootPath
			}
			// The pod's grace covers the preStop sleep, then fluxlit's whole drain.
			if grace, ok := deployDig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(float64); !ok || grace < 5+cfg.ShutdownTimeoutS+childStopGrace.Seconds() {
				t.Errorf("terminationGracePeriodSeconds %v; want at least preStop 5 + shutdown_timeout_s %v + child grace", grace, cfg.ShutdownTimeoutS)
			}
			pod := deployDig(dep, "spec", "template", "spec")
			c := deployDig(pod, "containers", 0)
			checks := []struct {
				what string
				got  any
				want any
			}{
				{"liveness path", deployDig(c, "livenessProbe", "httpGet", "path"), tt.wantLive},
				{"readiness path", deployDig(c, "readinessProbe", "httpGet", "path"), tt.wantReady},
				{"probe port", deployDig(c, "readinessProbe", "httpGet", "port"), "http"},
				{"container port", deployDig(c, "ports", 0, "containerPort"), tt.wantPort},
				{"port env", deployDig(c, "env", 1, "value"), strconv.Itoa(int(tt.wantPort))},
				{"grace", deployDig(pod, "terminationGracePeriodSeconds"), tt.wantGrace},
				{"preStop", deployDig(c, "lifecycle", "preStop", "sleep", "seconds"), float64(5)}, // README: preStop sleep 5 s
				{"runAsNonRoot", deployDig(pod, "securityContext", "runAsNonRoot"), true},
				{"runAsUser", deployDig(pod, "securityContext", "runAsUser"), float64(65532)}, // README: user 65532
				{"image", deployDig(c, "image"), tt.wantImage},
				{"service port", deployDig(svc, "spec", "ports", 0, "port"), tt.wantPort},
				{"affinity", deployDig(svc, "spec", "sessionAffinity"), "ClientIP"},
				{"pods", deployDig(dep, "spec", "replicas"), float64(2)},
				{"rolling update surge", deployDig(dep, "spec", "strategy", "rollingUpdate", "maxUnavailable"), float64(0)},
				{"ingress cookie affinity", deployDig(annotations, "nginx.ingress.kubernetes.io/affinity"), "cookie"},
				{"ingress affinity mode", deployDig(annotations, "nginx.ingress.kubernetes.io/affinity-mode"), "persistent"},
				{"ingress cookie path", deployDig(annotations, "nginx.ingress.kubernetes.io/session-cookie-path"), ingressPath},
				{"ingress body size", deployDig(annotations, "nginx.ingress.kubernetes.io/proxy-body-size"), "200m"},
				{"ingress path", deployDig(ing, "spec", "rules", 0, "http", "paths", 0, "path"), ingressPath},
				{"ingress backend", deployDig(ing, "spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"), deployDig(svc, "metadata", "name")},
				{"pdb", deployDig(pdb, "spec", "maxUnavailable"), float64(1)},
				{"pdb selector", deployDig(pdb, "spec", "selector", "matchLabels", "app.kubernetes.io/name"), deployDig(dep, "spec", "selector", "matchLabels", "app.kubernetes.io/name")},
				{"selector", deployDig(svc, "spec", "selector", "app.kubernetes.io/name"), deployDig(dep, "spec", "selector", "matchLabels", "app.kubernetes.io/name")},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s: got %v; want %v", ck.what, ck.got, ck.want)
				}
			}
		})
	}
}

func TestBuildCommandWritesAndRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("FLUXLIT_GATEWAY_PORT", "8000")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := fluxlitMain(append([]string{"build"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := run(); code != 0 {
		t.Fatalf("first build: got exit %d (%s%s); want 0", code, out, errs)
	}
	names := []string{"Containerfile.scratch", "Containerfile.scratch.dockerignore", "Containerfile.python", "Containerfile.python.dockerignore", "fluxlit.service", "kubernetes.yaml"}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, "deploy", n)); err != nil {
			t.Errorf("deploy/%s: %v", n, err)
		}
	}
	edited := filepath.Join(dir, "deploy", "fluxlit.service")
	if err := os.WriteFile(edited, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run()
	if want := "fluxlit: build: deploy/Containerfile.scratch exists (use --force to overwrite)\n"; code != 1 || errs != want {
		t.Errorf("second build: got exit %d, stderr %q; want 1, %q", code, errs, want)
	}
	if b, _ := os.ReadFile(edited); string(b) != "mine\n" {
		t.Errorf("refused build: got fluxlit.service %q; want it untouched", b)
	}
	if code, _, errs := run("--force"); code != 0 {
		t.Fatalf("build --force: got exit %d (%s); want 0", code, errs)
	}
	if b, _ := os.ReadFile(edited); !strings.Contains(string(b), "Type=notify") {
		t.Errorf("build --force: got fluxlit.service %q; want it regenerated", b)
	}
	// Another folder, and a flag that changes a setting.
	if code, out, errs := run("--out", "other", "--port", "9200"); code != 0 || !strings.Contains(out, "wrote other/kubernetes.yaml") {
		t.Fatalf("build --out other: got exit %d, %q %q; want 0 and the files listed", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "other", "Containerfile.scratch")); !strings.Contains(string(b), "\nEXPOSE 9200\n") {
		t.Errorf("build --port 9200: got no EXPOSE 9200 in %s", b)
	}
	errTests := []struct {
		name string
		in   []string
		env  string
		want int
	}{
		{"unknown flag", []string{"--nope"}, "", 2},
		{"bad config value", []string{"--out", "x"}, "FLUXLIT_SHUTDOWN_TIMEOUT_S=soon", 2},
		{"port zero", []string{"--out", "y", "--port", "0"}, "", 2},
		{"empty out", []string{"--out", ""}, "", 2},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				k, v, _ := strings.Cut(tt.env, "=")
				t.Setenv(k, v)
			}
			code, _, errs := run(tt.in...)
			if code != tt.want || strings.Count(errs, "\n") != 1 {
				t.Errorf("got exit %d, stderr %q; want %d and one line", code, errs, tt.want)
			}
		})
	}
}

func TestHealthcheckCommand(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer ok.Close()
	refused := refusedPort(t) + "/api/healthz"
	tests := []struct {
		name    string
		in      string
		want    int
		wantOut string // substring of the one line on stdout (0) or stderr
	}{
		{"200", ok.URL + "/ok", 0, "200 OK"},
		{"503", ok.URL + "/down", 1, "GET " + ok.URL + "/down: 503 Service Unavailable"},
		{"redirect is not healthy", ok.URL + "/redirect", 1, "302 Found"},
		{"refused", refused, 1, "GET " + refused + ": connection refused"},
		{"no scheme", "127.0.0.1:8000/api/healthz", 2, "is not an absolute http(s) URL"},
		{"ftp", "ftp://127.0.0.1/x", 2, "is not an absolute http(s) URL"},
		{"no host", "http:///api/healthz", 2, "is not an absolute http(s) URL"},
		{"bad port", "http://127.0.0.1:70000/", 2, `port "70000" is not in 1-65535`},
		{"garbage", "%zz", 2, "is not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := fluxlitMain([]string{"healthcheck", tt.in}, &out, &errb)
			text := errb.String()
			if tt.want == 0 {
				text = out.String()
			}
			if code != tt.want || !strings.Contains(text, tt.wantOut) || strings.Count(text, "\n") != 1 {
				t.Errorf("got exit %d, stdout %q, stderr %q; want %d and one line with %q", code, out.String(), errb.String(), tt.want, tt.wantOut)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := fluxlitMain([]string{"healthcheck", ok.URL + "/ok", "extra"}, &out, &errb); code != 2 {
		t.Errorf("two arguments: got exit %d; want 2", code)
	}
}

// Without a URL, healthcheck asks the configured port under root_path + api_mount_path.
func TestHealthcheckDefaultURL(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"default", nil, "http://127.0.0.1:8000/api/healthz"},
		{"unspecified v4", []string{"FLUXLIT_GATEWAY_HOST=0.0.0.0"}, "http://127.0.0.1:8000/api/healthz"},
		{"unspecified v6", []string{"FLUXLIT_GATEWAY_HOST=::"}, "http://127.0.0.1:8000/api/healthz"},
		{"v6 loopback", []string{"FLUXLIT_GATEWAY_HOST=::1"}, "http://[::1]:8000/api/healthz"},
		{"subpath", []string{"FLUXLIT_ROOT_PATH=/apps/demo", "FLUXLIT_GATEWAY_PORT=9000"}, "http://127.0.0.1:9000/apps/demo/api/healthz"},
		{"mount", []string{"FLUXLIT_API_MOUNT_PATH=/backend"}, "http://127.0.0.1:8000/backend/healthz"},
	}
	for _, tt := range tests {
		if got := healthcheckDefaultURL(deployTestConfig(t, tt.in...)); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotPath = r.URL.Path }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	t.Chdir(t.TempDir())
	t.Setenv("FLUXLIT_GATEWAY_HOST", "0.0.0.0")
	t.Setenv("FLUXLIT_GATEWAY_PORT", port)
	t.Setenv("FLUXLIT_ROOT_PATH", "/apps/demo")
	var out, errb bytes.Buffer
	if code := fluxlitMain([]string{"healthcheck"}, &out, &errb); code != 0 || gotPath != "/apps/demo/api/healthz" {
		t.Errorf("default URL: got exit %d, path %q (%s); want 0, /apps/demo/api/healthz", code, gotPath, errb.String())
	}
	t.Setenv("FLUXLIT_GATEWAY_PORT", "eighty")
	if code := fluxlitMain([]string{"healthcheck"}, &out, &errb); code != 2 {
		t.Errorf("bad configuration: got exit %d; want 2", code)
	}
}

func FuzzHealthcheckParseURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8000/api/healthz", "https://[::1]/x", "ftp://a", "%zz", "http://:80", "", "http://a:0", "http://a:65536/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := healthcheckParseURL(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "http") && !strings.Contains(err.Error(), "port") {
				t.Errorf("error %q does not say what is expected", err)
			}
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Errorf("accepted %q as %v", raw, u)
		}
	})
}

// TestScaffoldRequirementsPinned: the requirements.txt that "fluxlit new" writes pins the
// versions the test suite runs on (requirements/newest.txt), so a new project starts on
// what was tested; this fails when that file moves and the scaffold does not.
func TestScaffoldRequirementsPinned(t *testing.T) {
	tested, err := os.ReadFile("requirements/newest.txt")
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z0-9_.-]+)==([^ \\]+)`).FindAllStringSubmatch(string(tested), -1) {
		pins[m[1]] = m[2]
	}
	roots := []string{scaffoldRoot}
	for _, p := range scaffoldProfiles {
		roots = append(roots, path.Join(scaffoldProfilesRoot, p))
	}
	for _, root := range roots {
		data, err := scaffoldFS.ReadFile(path.Join(root, "requirements.txt"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, ver, ok := strings.Cut(line, "==")
			name, _, _ = strings.Cut(name, "[")
			if !ok || pins[name] == "" || ver != pins[name] {
				t.Errorf("%s/requirements.txt: %q; want NAME==%s as requirements/newest.txt pins it", root, line, pins[name])
			}
			n++
		}
		if n < 3 {
			t.Errorf("%s/requirements.txt pins %d packages; want fastapi, streamlit, uvicorn at least", root, n)
		}
	}
}

func TestNewCommand(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := fluxlitMain(append([]string{"new"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("myapp"); code != 0 || !strings.Contains(out, "\n  cd myapp\n  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n  fluxlit dev\n") {
		t.Fatalf("new myapp: got exit %d, %q; want 0 and the next step", code, out)
	}
	names, err := scaffoldFiles(scaffoldRoot)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".gitignore", "app.py", "fluxlit.toml", "requirements.txt", "streamlit_app.py"}; !slices.Equal(names, want) {
		t.Errorf("scaffold files: got %v; want %v", names, want)
	}
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(dir, "myapp", n))
		want, _ := scaffoldFS.ReadFile(path.Join(scaffoldRoot, n))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("myapp/%s: got %d bytes (err %v); want the %d embedded bytes", n, len(got), err, len(want))
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []string
		want    int
		wantOut string
	}{
		{"non-empty folder", []string{"myapp"}, 1, "myapp exists and is not empty"},
		{"a file", []string{"afile"}, 1, "afile exists and is not a folder"},
		{"empty folder is fine", []string{"empty"}, 0, "Created empty/"},
		{"nested", []string{"a/b"}, 0, "Created a/b/"},
		{"missing NAME", nil, 2, "expected one argument NAME"},
		{"two names", []string{"x", "y"}, 2, "expected one argument NAME"},
		{"blank", []string{" "}, 2, "NAME must not be empty"},
		{"control character", []string{"a\nb"}, 2, "control character"},
		{"unknown flag", []string{"--nope", "x"}, 2, "unknown flag --nope"},
		{"flag after NAME", []string{"late", "--nope"}, 2, "fluxlit new: unknown flag --nope"},
		{"FluxLit app", []string{"flapp", "--fluxlit"}, 0, "Created flapp/ (minimal)"},
		{"FluxLit app, flag first", []string{"--fluxlit", "flapp2"}, 0, "Created flapp2/ (minimal)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := run(tt.in...)
			if code != tt.want || !strings.Contains(out, tt.wantOut) {
				t.Errorf("got exit %d, %q; want %d and %q", code, out, tt.want, tt.wantOut)
			}
		})
	}
	for _, n := range []string{".gitignore", "app.py", "fluxlit.toml", "requirements.txt"} {
		got, err := os.ReadFile(filepath.Join(dir, "flapp", n))
		want, _ := scaffoldFS.ReadFile(path.Join(scaffoldProfilesRoot, "minimal", n))
		if err != nil || !bytes.Equal(got, want) || (n == "app.py" && !bytes.Contains(got, []byte("app = FluxLit("))) {
			t.Errorf("flapp/%s: got %d bytes (err %v); want the %d embedded bytes of the FluxLit skeleton", n, len(got), err, len(want))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "flapp", "streamlit_app.py")); err == nil {
		t.Errorf("flapp/streamlit_app.py exists; a FluxLit project has its pages in app.py")
	}
}

// The Python files at least compile (py_compile needs neither FastAPI nor Streamlit).
func TestScaffoldPythonCompiles(t *testing.T) {
	py := deployRequireTool(t, "python3")
	names := []string{scaffoldRoot + "/app.py", scaffoldRoot + "/streamlit_app.py"}
	for _, p := range scaffoldProfiles {
		names = append(names, scaffoldProfilesRoot+"/"+p+"/app.py")
	}
	for _, n := range names {
		src, _ := scaffoldFS.ReadFile(n)
		cmd := exec.Command(py, "-c", "import sys; compile(sys.stdin.read(), sys.argv[1], 'exec')", n)
		cmd.Stdin = bytes.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", n, err, out)
		}
	}
}

// The release binary is static: ldd finds no interpreter, and it runs alone in an empty
// root (chroot), as in a scratch container.
func TestStaticReleaseRunsAlone(t *testing.T) {
	skipInShortMode(t, "integration: builds the binary")
	goBin := deployRequireTool(t, "go")
	ldd := deployRequireTool(t, "ldd")
	chroot := deployRequireTool(t, "chroot")
	if os.Geteuid() != 0 {
		deployMissing(t, "chroot needs root")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "fluxlit")
	build := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X main.version=v9.9.9-static -X main.commit=abcdef123456", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _ := exec.Command(ldd, bin).CombinedOutput()
	if !strings.Contains(string(out), "not a dynamic executable") {
		t.Errorf("ldd: got %q; want \"not a dynamic executable\"", out)
	}
	out, err := exec.Command(chroot, root, "/fluxlit", "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "fluxlit v9.9.9-static (commit abcdef123456, go") {
		t.Errorf("chroot version: got %v, %q; want exit 0 and the version line", err, out)
	}
	toml := "api_upstream = \"http://127.0.0.1:9\"\nstreamlit_upstream = \"http://127.0.0.1:9\"\n"
	if err := os.WriteFile(filepath.Join(root, "fluxlit.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chroot, root, "/fluxlit", "doctor", "--warnings-only")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("chroot doctor --warnings-only: got %v; want exit 0\n%s", err, out)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 2 {
		t.Errorf("chroot: got %d entries in the root; want only the binary and fluxlit.toml", len(entries))
	}
	// Serving from the real image is TestIntegrationScratchImage's (it replaced a chroot that
	// imitated the image here).
}

// The header names the configuration file the settings came from.
func TestBuildHeaderNamesConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "prod.toml"), []byte("# no settings: every value is a default\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := fluxlitMain([]string{"build", "--config", "prod.toml", "--out", "d"}, &out, &errb); code != 0 {
		t.Fatalf("build --config: got exit %d (%s); want 0", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "d", "kubernetes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The file's name, not the generating machine's path (issue #19 item 10).
	want := "# Generated by `fluxlit build` (fluxlit " + version + ") from prod.toml."
	if got := deployLines(string(b))[0]; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if code := fluxlitMain([]string{"build", "--config", "missing.toml", "--out", "e"}, &out, &errb); code != 2 {
		t.Errorf("build --config missing.toml: got exit %d; want 2", code)
	}
}

// TestBuildPythonImageRequirements: the Python image installs the project's requirements.txt;
// without one, fluxlit build says so and the file says why its build would fail. Before #19
// the image ran an unpinned "pip install streamlit uvicorn fastapi".
func TestBuildPythonImageRequirements(t *testing.T) {
	for _, withReq := range []bool{false, true} {
		dir := t.TempDir()
		t.Chdir(dir)
		if withReq {
			writeFile(t, filepath.Join(dir, "requirements.txt"), "fastapi==0.136.1\n")
		}
		var out, errb bytes.Buffer
		if code := fluxlitMain([]string{"build"}, &out, &errb); code != 0 {
			t.Fatalf("build: exit %d: %s", code, errb.String())
		}
		file, err := os.ReadFile(filepath.Join(dir, "deploy", "Containerfile.python"))
		if err != nil {
			t.Fatal(err)
		}
		note := "fluxlit: build: note: deploy/Containerfile.python installs requirements.txt, which " + dir + " lacks"
		hasNote := strings.HasPrefix(errb.String(), note)
		hasFileNote := strings.Contains(string(file), "# NOTE: the project folder has no requirements.txt yet")
		if hasNote == withReq || hasFileNote == withReq {
			t.Errorf("requirements.txt present %v: stderr %q, NOTE in the file %v", withReq, errb.String(), hasFileNote)
		}
	}
}
