// deploy_image_test.go builds the image a user ships — the Containerfile.scratch that
// "fluxlit build" writes for a front-only project — with podman, running the commands of
// README's "Scratch container" section, and runs fluxlit from the built image with buildah.
//
// Two facts of this machine shape the test; nothing else differs from a user's run:
//   - `podman run` (and podman's default OCI isolation) cannot start a container here: crun
//     fails to set RLIMIT_NOFILE/RLIMIT_NPROC. The README's `podman build` line therefore runs
//     unchanged under BUILDAH_ISOLATION=chroot, and the image's process runs through
//     `buildah run --isolation chroot --network host`: the image's root, user, working
//     directory and environment, on the host's network (where `podman run -p` would publish
//     the port), listening on loopback only.
//   - The image store is a fresh vfs store in the test's temporary folder
//     (CONTAINERS_STORAGE_CONF): every run builds the image for real, shares nothing with
//     other runs and leaves nothing behind. (overlay works here too; vfs needs no mount.)
//
// The Python-base Containerfile.python cannot be built here: its base image
// (python:3.12-slim) would have to be pulled from a registry, and none is reachable. Its
// content is checked by TestDeployFilesContent.

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageCommandTimeout bounds one podman or buildah command. A build of the scratch image
// takes 2-4 s here (vfs copies an 11 MB layer a few times); a minute is a hang.
const imageCommandTimeout = time.Minute

// imageTag is the tag README's commands build.
const imageTag = "fluxlit-gateway:latest"

// imageEnv is the environment of every podman and buildah command: a private vfs store and
// chroot isolation (see the file comment).
func imageEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	writeFile(t, conf, fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "run")))
	return append(os.Environ(), "CONTAINERS_STORAGE_CONF="+conf, "BUILDAH_ISOLATION=chroot")
}

// imageRun runs a command line through sh in dir, as a user's shell would, and returns its
// combined output and error.
func imageRun(t *testing.T, dir string, env []string, line string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), imageCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s: did not finish within %v\n%s", line, imageCommandTimeout, out)
	}
	return string(out), err
}

// imageMust runs argv (no shell) and fails the test when it fails.
func imageMust(t *testing.T, env []string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), imageCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr.String())
	}
	return string(out)
}

// readmeScratchCommands returns the command lines of the README block that follows the
// TestIntegrationScratchImage marker, and the lines of the Docker block after it.
func readmeScratchCommands(t *testing.T) (podman, docker []string) {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- TestIntegrationScratchImage runs these commands")
	if !ok {
		t.Fatal("README.md: no TestIntegrationScratchImage marker before the scratch image's commands")
	}
	block := func(s string) ([]string, string) {
		_, s, ok := strings.Cut(s, "```sh\n")
		body, after, ok2 := strings.Cut(s, "```\n")
		if !ok || !ok2 {
			t.Fatal("README.md: the scratch image's commands are not in ```sh blocks")
		}
		return strings.Split(strings.TrimSpace(body), "\n"), after
	}
	podman, rest = block(rest)
	docker, _ = block(rest)
	return podman, docker
}

// imageLayerFile is one entry of a layer of a saved image.
type imageLayerFile struct {
	Layer int
	Name  string
	Mode  int64
	Body  string // regular files only
}

// imageLayers saves the image as a docker-archive and lists every entry of every layer.
func imageLayers(t *testing.T, env []string, image string) []imageLayerFile {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	imageMust(t, env, "podman", "save", "--quiet", "--format", "docker-archive", "-o", archive, image)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("image archive manifest.json: %v (%d images)", err, len(manifest))
	}
	var out []imageLayerFile
	for i, name := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(files[name]))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %d (%s): %v", i, name, err)
			}
			body, _ := io.ReadAll(lr)
			out = append(out, imageLayerFile{Layer: i, Name: h.Name, Mode: h.Mode & 0o7777, Body: string(body)})
		}
	}
	return out
}

// imageConfig is what `podman image inspect` says about the parts of the image's
// configuration that `podman run` uses.
type imageConfig struct {
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		WorkingDir   string
		ExposedPorts map[string]any
	}
	Healthcheck *struct{ Test []string }
}

// imageProcess finds the process running argv below the process pid (buildah run starts it
// through buildah-chroot-runtime and buildah-chroot-exec), or returns 0. Each thread of a
// process lists the children it started in /proc/PID/task/TID/children.
func imageProcess(pid int, argv string) int {
	queue := []int{pid}
	for len(queue) > 0 {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", queue[0]))
		queue = queue[1:]
		for _, task := range tasks {
			list, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(list)) {
				child, _ := strconv.Atoi(f)
				if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); string(cmdline) == argv {
					return child
				}
				queue = append(queue, child)
			}
		}
	}
	return 0
}

func TestIntegrationScratchImage(t *testing.T) {
	for _, tool := range []string{"podman", "buildah"} {
		requireIntegration(t, tool)
	}
	requireIntegration(t, "streamlit")
	requireIntegration(t, "fastapi")
	if os.Geteuid() != 0 {
		harnessUnavailable(t, "podman/buildah with chroot isolation need root here")
	}
	started := time.Now()
	bin := fluxlitBinary(t) // CGO_ENABLED=0: the static binary a release ships
	env := imageEnv(t)
	// `fluxlit` on PATH is the binary under test, as an installed one would be.
	env = append(env, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	// The upstreams run outside the image, as the containers it fronts would.
	api := startUvicorn(t, apiAppDir(t), "app:app", "--root-path", "/api")
	ui := startStreamlit(t, uiScript(t), "")
	port := freePort(t)
	project := t.TempDir()
	healthy := fmt.Sprintf("# front-only: fluxlit runs no child\napi_upstream = %q\nstreamlit_upstream = %q\ngateway_port = %d\n", api, ui, port)
	toml := filepath.Join(project, "fluxlit.toml")
	writeFile(t, toml, healthy)

	podman, docker := readmeScratchCommands(t)
	var buildLine, runLine string
	for _, line := range podman {
		switch {
		case line == "fluxlit build":
			if out, err := imageRun(t, project, env, line); err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
		case strings.HasPrefix(line, "mkdir -p dist && cp "):
			// The user copies their binary from wherever it is; the test copies its build to
			// the path the generated file's COPY names.
			imagePlaceBinary(t, project, bin)
		case strings.HasPrefix(line, "podman build "):
			buildLine = line
		case strings.HasPrefix(line, "podman run "):
			runLine = line
		default:
			t.Fatalf("README's scratch-image command %q: the test does not run it; teach it or change README", line)
		}
	}
	if buildLine == "" || runLine == "" {
		t.Fatalf("README's scratch-image commands %q: want a podman build and a podman run line", podman)
	}
	// Docker's commands are podman's without --format docker (BuildKit keeps HEALTHCHECK)
	// and without --ignorefile (BuildKit reads Containerfile.scratch.dockerignore itself).
	dockerBuild := strings.Replace(strings.Replace(buildLine, "podman", "docker", 1), " --format docker", "", 1)
	dockerBuild = strings.Replace(dockerBuild, " --ignorefile deploy/Containerfile.scratch.dockerignore", "", 1)
	wantDocker := []string{dockerBuild,
		strings.Replace(runLine, "podman", "docker", 1)}
	if !slices.Equal(docker, wantDocker) {
		t.Errorf("README's Docker commands: got %q; want %q (podman's, as the test runs them)", docker, wantDocker)
	}
	generated, err := os.ReadFile(filepath.Join(project, "deploy", "Containerfile.scratch"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{buildLine, wantDocker[0]} {
		if !strings.Contains(string(generated), "\n#   "+line+"\n") {
			t.Errorf("generated Containerfile.scratch: got no comment line %q (README's command)", line)
		}
	}

	// The build-time check fails the build on a broken fluxlit.toml, edited after `fluxlit
	// build` as a user would. (Before doctor --build, the file ran doctor --warnings-only,
	// which exits 0 on a FAIL row: the unknown-key build passed.)
	broken := []struct {
		name, toml string
		mode       os.FileMode
		want       string // in the build output
	}{
		{"unknown key (strict_config)", healthy + "strict_config = true\ngatway_port = 9000\n", 0o644, `unknown setting "gatway_port" (did you mean "gateway_port"?)`},
		{"bad value", healthy + "shutdown_timeout_s = \"soon\"\n", 0o644, "shutdown_timeout_s"},
		{"unreadable by the image's user", healthy, 0o600, "/app/fluxlit.toml: cannot read configuration file: permission denied"},
	}
	for _, tt := range broken {
		writeFile(t, toml, tt.toml)
		if err := os.Chmod(toml, tt.mode); err != nil {
			t.Fatal(err)
		}
		out, err := imageRun(t, project, env, buildLine)
		if err == nil || !strings.Contains(out, "FAIL  config_file:") || !strings.Contains(out, tt.want) {
			t.Errorf("%s: %s: got %v; want a failed build naming %q\n%s", tt.name, buildLine, err, tt.want, out)
		}
	}
	if out, err := imageRun(t, project, env, "podman image exists "+imageTag); err == nil {
		t.Fatalf("after the failed builds: %s exists; want no image\n%s", imageTag, out)
	}
	writeFile(t, toml, healthy)
	if err := os.Chmod(toml, 0o644); err != nil {
		t.Fatal(err)
	}
	buildStart := time.Now()
	out, err := imageRun(t, project, env, buildLine)
	if err != nil || !strings.Contains(out, ", 0 failed") {
		t.Fatalf("healthy: %s: got %v; want a build whose check reports 0 failed\n%s", buildLine, err, out)
	}
	t.Logf("podman build of the healthy project: %v", time.Since(buildStart).Round(10*time.Millisecond))

	// The image is the binary and fluxlit.toml, one layer each, and nothing else.
	binBytes, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var listing []string
	for _, f := range imageLayers(t, env, imageTag) {
		listing = append(listing, fmt.Sprintf("%d %s %o", f.Layer, f.Name, f.Mode))
		if f.Name == "fluxlit" && f.Body != string(binBytes) {
			t.Errorf("image /fluxlit: got %d bytes; want the %d bytes of the binary under test", len(f.Body), len(binBytes))
		}
		if f.Name == "app/fluxlit.toml" && f.Body != healthy {
			t.Errorf("image /app/fluxlit.toml: got %q; want the project's", f.Body)
		}
	}
	if want := []string{"0 fluxlit 755", "1 app/ 755", "1 app/fluxlit.toml 644"}; !slices.Equal(listing, want) {
		t.Errorf("image layers (layer path mode): got %q; want %q", listing, want)
	}
	var inspect []imageConfig
	if err := json.Unmarshal([]byte(imageMust(t, env, "podman", "image", "inspect", imageTag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	cfg := inspect[0].Config
	checks := []struct {
		what      string
		got, want any
	}{
		{"User", cfg.User, fmt.Sprintf("%d:%d", deployUID, deployUID)},
		{"Entrypoint", strings.Join(cfg.Entrypoint, " "), "/fluxlit"},
		{"Cmd", strings.Join(cfg.Cmd, " "), "run"},
		{"WorkingDir", cfg.WorkingDir, "/app"},
		{"ExposedPorts", fmt.Sprint(cfg.ExposedPorts), fmt.Sprintf("map[%d/tcp:map[]]", port)},
		{"FLUXLIT_GATEWAY_HOST", slices.Contains(cfg.Env, "FLUXLIT_GATEWAY_HOST=0.0.0.0"), true},
		{"FLUXLIT_NO_PIDFILE", slices.Contains(cfg.Env, "FLUXLIT_NO_PIDFILE=1"), true},
	}
	if hc := inspect[0].Healthcheck; hc != nil {
		checks = append(checks, struct {
			what      string
			got, want any
		}{"Healthcheck", strings.Join(hc.Test, " "), "CMD /fluxlit healthcheck"})
	} else {
		t.Errorf("image Healthcheck: none; want CMD /fluxlit healthcheck (--format docker keeps it)")
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("image %s: got %v; want %v", c.what, c.got, c.want)
		}
	}

	// From the image. `podman run IMAGE` would run ENTRYPOINT + CMD, /fluxlit run, as the
	// image's user: buildah run does the same with the argv spelled out (see the file comment).
	ctr := strings.TrimSpace(imageMust(t, env, "buildah", "from", "--pull=never", "--quiet", imageTag))
	t.Cleanup(func() {
		rm := exec.Command("buildah", "rm", ctr)
		rm.Env = env
		if out, err := rm.CombinedOutput(); err != nil {
			t.Errorf("buildah rm %s: %v\n%s", ctr, err, out)
		}
	})
	// On the host's network the image's FLUXLIT_GATEWAY_HOST=0.0.0.0 would listen on every
	// interface of this machine; tests keep to loopback, so the run says 127.0.0.1 (the
	// image's own value is checked above).
	fromImage := func(args ...string) []string {
		return append([]string{"buildah", "run", "--isolation", "chroot", "--network", "host",
			"--env", "FLUXLIT_GATEWAY_HOST=127.0.0.1", ctr}, args...)
	}
	if out := imageMust(t, env, fromImage("/fluxlit", "version")...); !strings.HasPrefix(out, "fluxlit ") || strings.Count(out, "\n") != 1 {
		t.Errorf("image fluxlit version: got %q; want one line \"fluxlit …\"", out)
	}
	doctor := imageMust(t, env, fromImage("/fluxlit", "doctor", "--warnings-only")...)
	for _, row := range []string{"python_version", "import_target", "dependencies", "streamlit_version"} {
		if st, detail, ok := doctorRowOf(doctor, row); !ok || st != doctorSkip {
			t.Errorf("image doctor --warnings-only: %s row got %q (%s); want SKIP (no Python in the image)", row, st, detail)
		}
	}
	for _, row := range []string{"api_upstream", "streamlit_upstream", "gateway_bind", "pidfile"} {
		if st, detail, ok := doctorRowOf(doctor, row); !ok || st != doctorPass {
			t.Errorf("image doctor --warnings-only: %s row got %q (%s); want PASS", row, st, detail)
		}
	}
	if !strings.Contains(doctor, ", 0 failed") {
		t.Errorf("image doctor --warnings-only: got\n%s\nwant 0 failed", doctor)
	}

	var log syncBuffer
	runArgv := slices.Concat(cfg.Entrypoint, cfg.Cmd)
	argv := fromImage(runArgv...)
	run := exec.Command(argv[0], argv[1:]...)
	run.Env, run.Stdout, run.Stderr = env, &log, &log
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	t.Cleanup(func() {
		run.Process.Kill()
		if t.Failed() {
			t.Logf("fluxlit run from the image:\n%s", log.String())
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitHTTP(t, base+"/api/readyz", 30*time.Second, nil)
	if res, body := httpDo(t, "GET", base+"/api/readyz", nil, nil); res.StatusCode != http.StatusOK {
		t.Errorf("image /api/readyz: got %d %s; want 200 (both upstreams ready)", res.StatusCode, body)
	}
	if res, body := httpDo(t, "GET", base+"/", nil, nil); res.StatusCode != http.StatusOK ||
		!strings.Contains(string(body), "<title>Streamlit</title>") || !strings.Contains(string(body), `<div id="root"></div>`) {
		t.Errorf("image GET /: got %d, %.300q; want 200 and Streamlit's page", res.StatusCode, body)
	}
	if res, body := httpDo(t, "GET", base+"/api/users", nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"Ada"`) {
		t.Errorf("image GET /api/users: got %d %s; want 200 and the API's users", res.StatusCode, body)
	}
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	c, res, err := dialWS(t, "ws://127.0.0.1:"+strconv.Itoa(port)+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("image WebSocket /_stcore/stream: %v (%v)", err, res)
	}
	if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "Hello fluxlit", "script_finished") {
		t.Errorf("image Streamlit session: got %q; want the page's text and script_finished", seen)
	}
	c.Close()

	// `podman stop` sends SIGTERM to the container's process; buildah run does not pass a
	// signal on (it kills its child), so the test sends it to fluxlit itself.
	pid := imageProcess(run.Process.Pid, strings.Join(runArgv, "\x00")+"\x00")
	if pid == 0 {
		t.Fatalf("no %q process below buildah run (pid %d)", runArgv, run.Process.Pid)
	}
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Errorf("fluxlit from the image: %v", err)
	} else if uid := st.Sys().(*syscall.Stat_t).Uid; uid != deployUID {
		t.Errorf("fluxlit from the image: got uid %d; want the image's user %d", uid, deployUID)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(log.String(), "fluxlit stopped") {
			t.Errorf("fluxlit run from the image after SIGTERM: got %v; want exit 0 and \"fluxlit stopped\"\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("fluxlit run from the image: still running 30 s after SIGTERM")
	}
	t.Logf("whole test: %v", time.Since(started).Round(100*time.Millisecond))
}

// imagePlaceBinary copies bin to the path the generated Containerfile.scratch's COPY names
// for this machine's architecture, as a user copies a release binary into dist/.
func imagePlaceBinary(t *testing.T, project, bin string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(project, "deploy", "Containerfile.scratch"))
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "COPY" && f[2] == "/fluxlit" {
			src = strings.ReplaceAll(f[1], "${TARGETARCH}", runtime.GOARCH)
		}
	}
	if src == "" || filepath.IsAbs(src) || strings.Contains(src, "..") {
		t.Fatalf("Containerfile.scratch: got no COPY of the binary from the build context to /fluxlit (%q)", src)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(project, filepath.Dir(src)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, src), b, 0o755); err != nil {
		t.Fatal(err)
	}
}
