// deploy.go owns "fluxlit build": the deployment files derived from the configuration — a
// scratch and a Python Containerfile, each with the ignore file BuildKit reads beside it, a
// systemd unit and a Kubernetes manifest. Each is generated from the loaded Config, starts with a comment naming the
// settings it came from, and is never overwritten without --force.

package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Where the generated files put things. They are conventions a reader can change in the
// files; the tests and docs-deploy.md use the same values.
const (
	deployBinaryPath   = "/usr/local/bin/fluxlit" // systemd ExecStart and the Python image
	deployInstallDir   = "/srv/fluxlit"           // systemd WorkingDirectory: the project folder
	deployEnvFile      = "/etc/fluxlit/fluxlit.env"
	deployUID          = 65532 // distroless "nonroot": numeric so runAsNonRoot can verify it
	deployDefaultOut   = "deploy"
	deployAppName      = "fluxlit"
	deployImagePython  = "fluxlit-app:latest"
	deployImageScratch = "fluxlit-gateway:latest"
)

// Stop budgets. fluxlit drains for shutdown_timeout_s, then gives each child childStopGrace
// before SIGKILL; deployStopMargin covers process start-up of the stop path and a slow
// journal, so that systemd's or the kubelet's SIGKILL only comes after fluxlit's own.
// deployPreStopS is the time Kubernetes needs to take the pod out of the Service endpoints
// before SIGTERM arrives (endpoint propagation is a few seconds; the Python package's
// example uses 5 s).
const (
	deployStopMarginS  = 10
	deployPreStopS     = 5
	deployWatchdogS    = 30 // fluxlit pings at half of it, only while /healthz answers
	deployStartMarginS = 30 // above child_ready_timeout_s: uvicorn/streamlit import time
)

// deployPods is the Kubernetes Deployment's replica count: two, so that a node drain or a
// rolling update (with the PodDisruptionBudget) always leaves a pod serving.
const deployPods = 2

// deployIngressBodyMB is the ingress's request body limit: Streamlit's own default upload
// limit (server.maxUploadSize, 200 MB); ingress-nginx's default of 1 MB would refuse uploads.
const deployIngressBodyMB = 200

// deployFile is one generated file: its name in the output folder and its content.
type deployFile struct {
	Name    string
	Content string
}

func buildCommand(args []string, stdout, stderr io.Writer) int {
	cf := newCommandFlags("build", stderr)
	out := cf.fs.String("out", deployDefaultOut, "")
	cf.fs.StringVar(out, "output", deployDefaultOut, "") // Python FluxLit's name, and its -o
	cf.fs.StringVar(out, "o", deployDefaultOut, "")
	force := cf.fs.Bool("force", false, "")
	cf.fs.BoolVar(force, "f", false, "")
	cfg, code := cf.load(args, nil, stderr)
	if cfg == nil {
		return code
	}
	if cfg.GatewayPort == 0 {
		fmt.Fprintln(stderr, "fluxlit: build: gateway_port 0 picks a free port at start; deployment files need a fixed one (set --port or gateway_port)")
		return 2
	}
	if *out == "" {
		return usageError(stderr, errors.New("fluxlit build: --out must not be empty"))
	}
	files := deployFiles(cfg)
	if err := writeDeployFiles(*out, files, *force); err != nil {
		fmt.Fprintf(stderr, "fluxlit: build: %v\n", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, f.Name))
	}
	if deployNeedsPython(cfg) && !deployHasRequirements(cfg) {
		fmt.Fprintf(stderr, "fluxlit: build: note: %s installs %s, which %s lacks; list your Python packages there with their versions (pip freeze > %s pins what you tested; fluxlit new writes one)\n",
			filepath.Join(*out, "Containerfile.python"), deployRequirements, cfg.ProjectDir, deployRequirements)
	}
	return 0
}

// deployRequirements is the file the Python image installs from, in the project folder.
const deployRequirements = "requirements.txt"

func deployHasRequirements(cfg *Config) bool {
	st, err := os.Stat(filepath.Join(cfg.ProjectDir, deployRequirements))
	return err == nil && !st.IsDir()
}

// writeDeployFiles refuses before writing anything when a file exists and force is off, so
// a refused build leaves the folder as it was.
func writeDeployFiles(dir string, files []deployFile, force bool) error {
	if !force {
		for _, f := range files {
			p := filepath.Join(dir, f.Name)
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists (use --force to overwrite)", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %v", dir, errText(err))
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("write %s: %v", p, errText(err))
		}
	}
	return nil
}

// deployFiles renders every file for cfg, in the order they are written and reported.
func deployFiles(cfg *Config) []deployFile {
	return []deployFile{
		{"Containerfile.scratch", deployContainerfileScratch(cfg)},
		{"Containerfile.scratch.dockerignore", deployScratchIgnore(cfg)},
		{"Containerfile.python", deployContainerfilePython(cfg)},
		{"Containerfile.python.dockerignore", deployPythonIgnore(cfg)},
		{"fluxlit.service", deploySystemdUnit(cfg)},
		{"kubernetes.yaml", deployKubernetes(cfg)},
	}
}

// deployHeader is the opening comment of every file: generated by whom, from which
// configuration, and the value and source of each setting the file depends on.
func deployHeader(cfg *Config, settings ...string) string {
	from := "defaults and environment (no fluxlit.toml)"
	if cfg.ConfigFile != "" {
		// The file's name only: the generated files are committed and built elsewhere, and
		// the generating machine's folders mean nothing there.
		from = filepath.Base(cfg.ConfigFile)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by `fluxlit build` (fluxlit %s) from %s.\n", version, from)
	values := cfg.redactedSettings()
	parts := make([]string, 0, len(settings))
	for _, name := range settings {
		src := cfg.Sources[name]
		if src == "" {
			src = "default"
		}
		parts = append(parts, fmt.Sprintf("%s = %s (%s)", name, formatConfigValue(values[name]), src))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "# Settings: %s.\n", strings.Join(parts, ", "))
	}
	b.WriteString("# Change the settings and run `fluxlit build --force` to regenerate.\n")
	return b.String()
}

// deployProbePath is the browser-visible path of a health route: fluxlit serves under
// root_path, so an orchestrator talking to the pod directly uses the full prefix.
func deployProbePath(cfg *Config, route string) string {
	return cfg.publicAPIMount() + "/" + route
}

// deployStopSeconds is fluxlit's worst-case stop time, rounded up to whole seconds: the
// drain, the children's grace, and the margin.
func deployStopSeconds(cfg *Config) int {
	return int(math.Ceil(cfg.ShutdownTimeoutS + childStopGrace.Seconds() + deployStopMarginS))
}

// deployNeedsPython reports whether fluxlit runs a child (so the image needs Python).
func deployNeedsPython(cfg *Config) bool {
	return cfg.APIUpstream == "" || cfg.StreamlitUpstream == ""
}

// deployBinaryContext says how the binary gets into the build context: the Containerfiles
// COPY it from dist/ in the project folder, where `make release` in a fluxlit checkout
// writes it (and a release archive's names are the same).
const deployBinaryContext = `# The build context is the project folder. The image takes the static Linux binary for its
# architecture from dist/fluxlit-linux-amd64 (or dist/fluxlit-linux-arm64) there: copy a
# release binary in first, or dist/ after ` + "`make release`" + ` in a fluxlit checkout.
`

// deployScratchEnv is the image's environment, set in both stages of the scratch file so that
// the build-time check sees what fluxlit run will.
const deployScratchEnv = `# Listen on every interface inside the container; the pidfile has no writable home here.
ENV FLUXLIT_GATEWAY_HOST=0.0.0.0 \
    FLUXLIT_NO_PIDFILE=1
`

// deployContainerfileScratch is two stages: "check" runs doctor on the binary and fluxlit.toml
// as the image will run them, and the image copies both from it. Copying from the check stage
// is what makes BuildKit run it (it skips stages nothing uses), and leaves the RUN step's
// mount-point stubs (podman/buildah add /dev, /proc, /etc/hosts, …) out of the image.
func deployContainerfileScratch(cfg *Config) string {
	var b strings.Builder
	b.WriteString(deployHeader(cfg, "gateway_port", "api_mount_path", "root_path", "api_upstream", "streamlit_upstream"))
	b.WriteString(`#
# The gateway alone, for a fluxlit that fronts an API and a Streamlit running elsewhere
# (api_upstream and streamlit_upstream set): the image holds the static binary and
# fluxlit.toml, nothing else.
`)
	b.WriteString(deployBinaryContext)
	fmt.Fprintf(&b, `# Then, from the project folder:
#   podman build --format docker --ignorefile deploy/Containerfile.scratch.dockerignore -f deploy/Containerfile.scratch -t %[1]s .
#   docker build -f deploy/Containerfile.scratch -t %[1]s .
# BuildKit reads Containerfile.scratch.dockerignore beside this file by itself; podman and
# buildah are given it. podman keeps HEALTHCHECK only with --format docker. The classic docker builder (not
# BuildKit) does not set TARGETARCH: add --build-arg TARGETARCH=amd64.
# Outbound HTTPS (jwt_jwks_url, https upstreams) needs CA certificates: see
# "Outbound HTTPS in a scratch image" in the README.
`, deployImageScratch)
	if deployNeedsPython(cfg) {
		b.WriteString("# NOTE: this configuration runs Python children, so the check below fails; use\n# Containerfile.python, or set api_upstream and streamlit_upstream.\n")
	}
	fmt.Fprintf(&b, `
# The check: doctor --build reads fluxlit.toml as the image will run it (same user, same
# environment) and fails the build on a FAIL row: a fluxlit.toml that does not load
# (syntax, unknown key, bad value) or cannot be read, or a setting that needs Python. WARNs
# do not fail it; the rows about the build machine (gateway_bind, pidfile, the upstream
# connects) are SKIP. RUN works in a scratch image because the binary is static.
FROM scratch AS check
ARG TARGETARCH
COPY dist/fluxlit-linux-${TARGETARCH} /fluxlit
COPY fluxlit.toml /app/fluxlit.toml
WORKDIR /app
USER %[1]d:%[1]d
%[2]sRUN ["/fluxlit", "doctor", "--build"]

# The image: what the check passed, without the check's own layer.
FROM scratch
COPY --from=check /fluxlit /fluxlit
COPY --from=check /app/fluxlit.toml /app/fluxlit.toml
WORKDIR /app
USER %[1]d:%[1]d
%[2]sEXPOSE %[3]d
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/fluxlit", "healthcheck"]
ENTRYPOINT ["/fluxlit"]
CMD ["run"]
`, deployUID, deployScratchEnv, cfg.GatewayPort)
	return b.String()
}

func deployContainerfilePython(cfg *Config) string {
	var b strings.Builder
	b.WriteString(deployHeader(cfg, "gateway_port", "api_mount_path", "root_path", "target", "streamlit_script"))
	b.WriteString(`#
# fluxlit supervising uvicorn and streamlit.
` + deployBinaryContext + `# Then, from the project folder:
#   podman build --format docker --ignorefile deploy/Containerfile.python.dockerignore -f deploy/Containerfile.python -t ` + deployImagePython + ` .
#   docker build -f deploy/Containerfile.python -t ` + deployImagePython + ` .
# BuildKit reads Containerfile.python.dockerignore beside this file by itself; podman and
# buildah are given it. The Python packages come from requirements.txt in the project
# folder, pinned there (fluxlit new writes one; pip freeze > requirements.txt pins what you
# tested). Pin the base image by digest too for reproducible images.
`)
	if !deployHasRequirements(cfg) {
		b.WriteString("# NOTE: the project folder has no requirements.txt yet, so the build below fails until\n# you write one.\n")
	}
	b.WriteString(`FROM python:3.12-slim
ARG TARGETARCH
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
`)
	b.WriteString(deployFluxLitPackage(cfg))
	b.WriteString(``)
	fmt.Fprintf(&b, `RUN groupadd --gid %d fluxlit \
    && useradd --uid %d --gid %d --create-home --home-dir /home/fluxlit --shell /usr/sbin/nologin fluxlit
COPY dist/fluxlit-linux-${TARGETARCH} %s
WORKDIR /app
COPY . /app
USER %d:%d
ENV FLUXLIT_GATEWAY_HOST=0.0.0.0 \
    FLUXLIT_NO_PIDFILE=1 \
    HOME=/home/fluxlit
EXPOSE %d
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["fluxlit", "healthcheck"]
ENTRYPOINT ["fluxlit"]
CMD ["run"]
`, deployUID, deployUID, deployUID, deployBinaryPath, deployUID, deployUID, cfg.GatewayPort)
	return b.String()
}

// deployFluxLitPackage is what a FluxLit project's requirements.txt must hold besides its
// own packages: the Python package its app imports, at the version fluxlit found (its own
// "fluxlit" command is then overwritten by the binary copied to the same path).
func deployFluxLitPackage(cfg *Config) string {
	if cfg.App == nil {
		return ""
	}
	pkg := "fluxlit"
	if cfg.App.Version != "" {
		pkg += "==" + cfg.App.Version
	}
	return "# " + cfg.Target + " is a FluxLit app: requirements.txt lists the Python package it imports,\n# " +
		pkg + " (fluxlit[auth] when it uses make_jwt_bearer or OIDC login).\n"
}

// deployIgnoreHow is the opening of both ignore files: who reads them, and how.
const deployIgnoreHow = `# BuildKit (docker build, the default builder since Docker 23) reads <Containerfile>.dockerignore
# beside the Containerfile by itself; podman and buildah take it with --ignorefile.
`

// deployScratchIgnore sends the builder only what the scratch image takes: fluxlit.toml and
// the Linux release binaries.
func deployScratchIgnore(cfg *Config) string {
	return deployHeader(cfg) + deployIgnoreHow + `*
!fluxlit.toml
!dist/fluxlit-linux-amd64
!dist/fluxlit-linux-arm64
`
}

// deployPythonIgnore keeps caches, virtualenvs and secrets out of the Python image's build
// context (the Python package's list), and keeps only the Linux release binaries of dist/.
func deployPythonIgnore(cfg *Config) string {
	return deployHeader(cfg) + deployIgnoreHow + `__pycache__
*.py[cod]
.git
.venv
venv
.pytest_cache
.mypy_cache
.ruff_cache
*.egg-info
build
.env
*.env
.fluxlit.pid
deploy
dist/*
!dist/fluxlit-linux-amd64
!dist/fluxlit-linux-arm64
`
}

// deploySystemdUnit is a Type=notify service: fluxlit sends READY=1 once both children are
// ready and pings the watchdog only while its own /healthz answers (anchors.md §2.1).
func deploySystemdUnit(cfg *Config) string {
	var b strings.Builder
	b.WriteString(deployHeader(cfg, "gateway_port", "shutdown_timeout_s", "child_ready_timeout_s", "pidfile", "no_pidfile"))
	fmt.Fprintf(&b, `#
# Install: the project (fluxlit.toml, app.py, streamlit_app.py) in %[1]s, the binary at
# %[2]s, secrets (FLUXLIT_JWT_HS256_SECRET=…) in %[3]s (mode 0600), then
#   useradd --system --home-dir /var/lib/fluxlit --shell /usr/sbin/nologin fluxlit
#   cp deploy/fluxlit.service /etc/systemd/system/ && systemctl daemon-reload
#   systemctl enable --now fluxlit
# A virtualenv at %[1]s/.venv is used as it is; elsewhere, set python in fluxlit.toml.
[Unit]
Description=fluxlit: Streamlit UI and HTTP API on port %[4]d
Wants=network-online.target
After=network-online.target
# fluxlit already backs off crashing children and exits only when that fails, so systemd
# keeps restarting it instead of giving up after 5 starts in 10 s.
StartLimitIntervalSec=0

[Service]
Type=notify
# all: after "systemctl reload" the new fluxlit process names itself the main process
# (MAINPID=) and sends READY=1 before the old one exits.
NotifyAccess=all
User=fluxlit
Group=fluxlit
WorkingDirectory=%[1]s
ExecStart=%[2]s run
# Zero-downtime deploys: replace the binary and/or the project, then "systemctl reload fluxlit".
# The running fluxlit starts the binary on disk on its own listening socket; the new process
# starts its children with the current code and fluxlit.toml and takes over once they are
# ready; the old one drains and exits. Nothing is refused meanwhile; if the new one cannot
# start, the reload fails with its reason and the old one keeps serving. (A change of
# EnvironmentFile or of gateway_host/gateway_port needs "systemctl restart".)
ExecReload=%[2]s upgrade --pid $MAINPID
EnvironmentFile=-%[3]s
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/var/lib/fluxlit
StateDirectory=fluxlit
WatchdogSec=%[5]d
Restart=on-failure
RestartSec=1
# Exit 2 is a configuration error: restarting cannot fix it.
RestartPreventExitStatus=2
# READY=1 comes once both children answer: child_ready_timeout_s plus import time. It also
# bounds ExecReload (an upgrade waits for the new process's children).
TimeoutStartSec=%[6]d
# SIGTERM to fluxlit only; it drains (shutdown_timeout_s), stops its children (5 s grace),
# then systemd SIGKILLs whatever is left in the cgroup.
KillMode=mixed
TimeoutStopSec=%[7]d
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
`, deployInstallDir, deployBinaryPath, deployEnvFile, cfg.GatewayPort, deployWatchdogS,
		int(math.Ceil(cfg.ChildReadyTimeoutS))+deployStartMarginS, deployStopSeconds(cfg))
	if cfg.NoPidfile {
		b.WriteString("# no_pidfile is set: nothing under the project folder needs to be writable.\n")
	} else {
		fmt.Fprintf(&b, "# The pidfile's folder (fluxlit shutdown reads it).\nReadWritePaths=%s\n", deployPidfileDir(cfg))
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return b.String()
}

// deployPidfileDir is where the pidfile lives on the target host: a relative pidfile is
// relative to the project folder, which is the unit's WorkingDirectory.
func deployPidfileDir(cfg *Config) string {
	p := cfg.Pidfile
	if !filepath.IsAbs(p) {
		p = filepath.Join(deployInstallDir, p)
	}
	return filepath.Dir(p)
}

// deployKubernetes is a Deployment of deployPods pods, a Service, an Ingress and a
// PodDisruptionBudget. The preStop sleep (a kubelet action, so it works in the scratch image
// that has no sleep binary; Kubernetes ≥ 1.30) keeps the pod serving while its endpoint is
// removed, then SIGTERM starts fluxlit's drain (shutdown_timeout_s: requests finish,
// WebSockets get 1001 and reconnect to another pod); terminationGracePeriodSeconds covers
// both.
//
// Session affinity: a Streamlit session lives in one pod's memory (its WebSocket, uploads,
// media), and inside the pod fluxlit's own cookie keeps it on one replica. Between pods, the
// Ingress pins a browser with a cookie (ingress-nginx's affinity annotations), not by client
// address: behind a NAT or a corporate proxy many browsers share one address and would all
// land on one pod, and ingress-nginx balances over the pods itself, past the Service, so the
// Service's affinity would not apply to it. The Service keeps sessionAffinity: ClientIP for
// clients that reach it without the Ingress (a LoadBalancer Service, port-forward).
func deployKubernetes(cfg *Config) string {
	image, home := deployImagePython, "/home/fluxlit"
	if !deployNeedsPython(cfg) {
		image, home = deployImageScratch, ""
	}
	var b strings.Builder
	b.WriteString(deployHeader(cfg, "gateway_port", "api_mount_path", "root_path", "shutdown_timeout_s"))
	fmt.Fprintf(&b, `#
# kubectl apply -f deploy/kubernetes.yaml (after pushing the image and renaming it below,
# and setting the Ingress's host).
# Streamlit keeps each session in the pod's memory: the Ingress pins a browser to one pod
# with a cookie (ingress-nginx), the Service pins a client address for direct traffic.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  # More pods for more sessions; each also runs streamlit_replicas Streamlit processes.
  replicas: %[9]d
  # A rolling update starts the new pod before it stops an old one.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      # Pods on different nodes where there are several, so one node's loss keeps half.
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: %[1]s
      # preStop + shutdown_timeout_s + child stop grace + margin
      terminationGracePeriodSeconds: %[2]d
      securityContext:
        runAsNonRoot: true
        runAsUser: %[3]d
        runAsGroup: %[3]d
        fsGroup: %[3]d
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: fluxlit
          image: %[4]s
          args: ["run", "--no-pidfile"]
          ports:
            - name: http
              containerPort: %[5]d
          env:
            - name: FLUXLIT_GATEWAY_HOST
              value: "0.0.0.0"
            - name: FLUXLIT_GATEWAY_PORT
              value: "%[5]d"
          livenessProbe:
            httpGet:
              path: %[6]s
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: %[7]s
              port: http
            initialDelaySeconds: 5
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 2
          lifecycle:
            preStop:
              sleep:
                seconds: %[8]d
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          resources:
            requests:
              cpu: 250m
              memory: 512Mi
            limits:
              memory: 2Gi
          volumeMounts:
            - name: tmp
              mountPath: /tmp
`, deployAppName, deployPreStopS+deployStopSeconds(cfg), deployUID, image, cfg.GatewayPort,
		deployProbePath(cfg, "healthz"), deployProbePath(cfg, "readyz"), deployPreStopS, deployPods)
	if home != "" {
		fmt.Fprintf(&b, "            - name: home\n              mountPath: %s\n", home)
	}
	b.WriteString("      volumes:\n        - name: tmp\n          emptyDir: {}\n")
	if home != "" {
		b.WriteString("        - name: home\n          emptyDir: {}\n")
	}
	fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
    - name: http
      port: %[2]d
      targetPort: http
  # For clients that reach the Service directly (the Ingress below keeps its own cookie):
  # Streamlit sessions live in one pod's memory; three hours covers a working session.
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 10800
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
  annotations:
    # Cookie affinity: a browser stays on the pod that holds its Streamlit session, across
    # page reloads; "persistent" keeps it there when pods are added; a pod that is gone
    # gets the browser a new one (its WebSocket reconnects there by itself).
    nginx.ingress.kubernetes.io/affinity: "cookie"
    nginx.ingress.kubernetes.io/affinity-mode: "persistent"
    nginx.ingress.kubernetes.io/session-cookie-name: "fluxlit_pod"
    nginx.ingress.kubernetes.io/session-cookie-path: "%[3]s"
    nginx.ingress.kubernetes.io/session-cookie-samesite: "Lax"
    nginx.ingress.kubernetes.io/session-cookie-change-on-failure: "true"
    # Streamlit's WebSocket stays open for the whole session; uploads up to its 200 MB.
    nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
    nginx.ingress.kubernetes.io/proxy-send-timeout: "3600"
    nginx.ingress.kubernetes.io/proxy-body-size: "%[4]dm"
spec:
  ingressClassName: nginx
  rules:
    - host: app.example.com
      http:
        paths:
          - path: %[3]s
            pathType: Prefix
            backend:
              service:
                name: %[1]s
                port:
                  name: http
---
# At most one pod down at a time for voluntary disruptions (node drains, cluster upgrades):
# the sessions of the pod that goes get 1001 and reconnect to the others.
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
`, deployAppName, cfg.GatewayPort, deployIngressPath(cfg), deployIngressBodyMB)
	return b.String()
}

// deployIngressPath is the prefix the Ingress routes to fluxlit: root_path, or everything.
func deployIngressPath(cfg *Config) string {
	if cfg.RootPath == "" {
		return "/"
	}
	return cfg.RootPath
}
