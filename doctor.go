// doctor.go owns "fluxlit doctor": one small check per row (name, PASS/WARN/FAIL/SKIP, a
// one-line detail that says what to do), in a stable order, printed as aligned text or one
// JSON object. Row names and conditions follow the FluxLit Python package where a check
// applies; the Python rows are in doctor_python.go.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row statuses. SKIP is fluxlit's: a check that does not apply to this deployment (no child
// runs Python in a scratch container) is neither a pass nor a failure.
const (
	doctorPass = "PASS"
	doctorWarn = "WARN"
	doctorFail = "FAIL"
	doctorSkip = "SKIP"
)

// doctorDialTimeout bounds each upstream connect. The Python package used 0.25 s (loopback);
// fluxlit's upstreams may be across a network, and a doctor run can afford a second.
const doctorDialTimeout = time.Second

// doctorMinReadTimeoutS is the Python package's floor for gateway_upstream_read_timeout_s:
// below 5 s a slow API response or a Streamlit rerun is cut off as a 504.
const doctorMinReadTimeoutS = 5.0

// doctorStreamlitMin is the oldest Streamlit fluxlit supports; below it streamlit_version
// WARNs. 1.36 added st.navigation, which a FluxLit project's page entry calls, and the Python
// package declares streamlit>=1.36; CI runs the browser tests on it (requirements/oldest.txt).
// The Python package's own row WARNs only below 1.33, so 1.33-1.35 PASS there and WARN here:
// they cannot run a FluxLit project's pages.
var doctorStreamlitMin = [2]int{1, 36}

// doctorStrictRows are the Python package's --strict list: these WARNs become FAILs.
var doctorStrictRows = []string{"public_base_url_precedence", "oauth_public_base_url", "proxy_headers",
	"forwarded_allow_ips", "gateway_max_proxy_body", "public_base_url", "gateway_upstream_timeouts",
	"gateway_forward_rejected_names", "security_headers"}

// doctorRow is one line of the report.
type doctorRow struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

func doctorOne(name, status, detail string) []doctorRow {
	return []doctorRow{{Name: name, Status: status, Detail: detail}}
}

// doctorDeps is what the checks may use besides the Config and the environment: the bounds
// on real work (the interpreter run, upstream connects) and the interpreter's answer.
type doctorDeps struct {
	PythonTimeout time.Duration // 0: child_ready_timeout_s
	DialTimeout   time.Duration
	// Build is --build: doctor runs in a container build, so the rows that look at the
	// machine it runs on (its ports, its processes, its network) say nothing about the
	// deployment and are SKIP. A builder that shares the host network (podman/buildah
	// --isolation chroot, --network host) would otherwise FAIL gateway_bind whenever the
	// build host holds the port.
	Build bool
	// Pages is --check-pages or --verbose: the probe validates a FluxLit app's pages with Python
	// FluxLit's own code (rows pages_validate, experimental_yield_pages), as Python's doctor does.
	Pages bool
	py    doctorPython // filled by doctorProbePython before the checks run
	live  *doctorLive  // the project's running fluxlit, if any (doctor_live.go)
}

// doctorOptions are doctor's own flags. Their effect on the exit code: none, 1 on a FAIL
// row; Strict turns the strict-listed WARNs into FAILs; WarningsOnly always exits 0 (the
// Python package's meaning); Build skips the rows about this machine (doctorDeps.Build)
// and leaves the exit rule as it is.
type doctorOptions struct {
	JSON, Verbose, Strict, WarningsOnly, Build, Color bool
	CheckPages                                        bool // validate a FluxLit app's pages (also with Verbose, as Python FluxLit)
}

// doctorCheck is one check: it returns its row, or none when its condition does not hold.
type doctorCheck func(c *Config, env map[string]string, d doctorDeps) []doctorRow

// doctorChecks is the row order: configuration, Python, the children, then the gateway
// rows in the Python package's order, then fluxlit's own runtime rows.
var doctorChecks = []doctorCheck{
	doctorConfigFile, doctorUnknownEnvCheck, doctorPythonSettings, doctorBindingPrecedence, doctorProjectFileMount,
	doctorPythonCheck, doctorSysPathHead, doctorImportShadowing, doctorImportTarget, doctorImportModuleFile,
	doctorDependencies, doctorStreamlitVersion,
	doctorAppModel, doctorStreamlitScript, doctorAPICommand, doctorStreamlitCommand,
	doctorStreamlitChildSecrets, doctorGatewayBind, doctorInternalAPIBase, doctorJWTClockSkew,
	doctorAuthExtra, doctorMetricsExtra, doctorJWTEdge,
	doctorConfigValues, doctorPublicBaseURLPrecedence, doctorOAuthPublicBaseURL,
	doctorProxyHeaders, doctorForwardedAllowIPs, doctorMaxProxyBody, doctorPublicBaseURL,
	doctorReadinessRoute, doctorL7WebSocket, doctorUpstreamTimeouts, doctorAsyncDepends,
	doctorForwardClientHeaders, doctorForwardRejectedNames,
	doctorAPIUpstream, doctorStreamlitUpstreamState, doctorStreamlitUpstream, doctorSecurityHeaders,
	doctorPagesValidate, doctorDebugExposure, doctorPidfile,
}

func doctorCommand(args []string, stdout, stderr io.Writer) int {
	in, opts, err := doctorParseArgs(args, stderr)
	if err != nil {
		return usageError(stderr, err)
	}
	opts.Color = doctorUseColor(isTerminal(stdout), envMap(in.Env))
	// The interpreter run waits as long as a start would (child_ready_timeout_s): an app
	// that imports slowly but within it starts, so doctor must not call it broken.
	deps := doctorDeps{DialTimeout: doctorDialTimeout}
	return doctorMain(in, opts, deps, stdout)
}

// doctorParseArgs reads the configuration flags, TARGET and doctor's own flags.
func doctorParseArgs(args []string, stderr io.Writer) (loadInput, doctorOptions, error) {
	cf := newCommandFlags("doctor", stderr)
	var opts doctorOptions
	cf.fs.BoolVar(&opts.JSON, "json", false, "")
	cf.fs.BoolVar(&opts.Verbose, "verbose", false, "")
	cf.fs.BoolVar(&opts.Verbose, "v", false, "")
	cf.fs.BoolVar(&opts.CheckPages, "check-pages", false, "")
	cf.fs.BoolVar(&opts.Strict, "strict", false, "")
	cf.fs.BoolVar(&opts.WarningsOnly, "warnings-only", false, "")
	cf.fs.BoolVar(&opts.Build, "build", false, "")
	in, err := cf.parse(args)
	return in, opts, err
}

// doctorUseColor: colour only on a terminal, and never when NO_COLOR is set (no-color.org).
func doctorUseColor(terminal bool, env map[string]string) bool {
	return terminal && env["NO_COLOR"] == ""
}

// doctorMain runs the checks for one configuration input and prints the report. A
// configuration that does not load is a FAIL row (exit 1), not a usage error.
func doctorMain(in loadInput, opts doctorOptions, deps doctorDeps, stdout io.Writer) int {
	env := envMap(in.Env)
	deps.Build = opts.Build
	deps.Pages = opts.CheckPages || opts.Verbose
	cfg, err := loadAppConfigWithin(in, deps.PythonTimeout)
	rows, py := doctorCollect(cfg, err, env, deps)
	if opts.Strict {
		rows = doctorApplyStrict(rows)
	}
	target := in.Positional
	if cfg != nil {
		target = cfg.Target
	}
	var verbose map[string]any
	if opts.Verbose {
		if err != nil {
			cfg = nil
		}
		verbose = doctorVerbose(cfg, target, env, py)
	}
	if opts.JSON {
		doctorWriteJSON(stdout, rows, target, verbose, opts)
	} else {
		doctorWriteText(stdout, rows, cfg, verbose, opts)
	}
	if doctorCount(rows, doctorFail) > 0 && !opts.WarningsOnly {
		return 1
	}
	return 0
}

// doctorCollect runs every check in order, and returns the interpreter's answer with the rows.
// Without a Config only the rows that need none run.
func doctorCollect(cfg *Config, loadErr error, env map[string]string, deps doctorDeps) ([]doctorRow, doctorPython) {
	if loadErr != nil {
		rows := doctorOne("config_file", doctorFail, loadErr.Error()+"; fix that value and run fluxlit doctor again")
		rows = append(rows, doctorUnknownEnvRow(doctorUnknownEnv(env)))
		return append(rows, doctorJWTClockSkew(nil, env, deps)...), doctorPython{}
	}
	deps.py = doctorProbePython(cfg, env, deps)
	deps.live = doctorFindLive(cfg, deps)
	var rows []doctorRow
	for _, check := range doctorChecks {
		rows = append(rows, check(cfg, env, deps)...)
	}
	return rows, deps.py
}

func doctorApplyStrict(rows []doctorRow) []doctorRow {
	out := slices.Clone(rows)
	for i, r := range out {
		if r.Status == doctorWarn && slices.Contains(doctorStrictRows, r.Name) {
			out[i].Status = doctorFail
			out[i].Detail += " (--strict)"
		}
	}
	return out
}

func doctorCount(rows []doctorRow, status string) int {
	n := 0
	for _, r := range rows {
		if r.Status == status {
			n++
		}
	}
	return n
}

// ---- configuration rows ----

// doctorCoveredWarnings are Config.Warnings codes that have their own row.
var doctorCoveredWarnings = []string{"gateway_forward_blocked_names", "debug_exposure", "python_setting_ignored", "app_pages_unserved"}

func doctorConfigFile(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	var extra []string
	for _, w := range c.Warnings {
		if !slices.Contains(doctorCoveredWarnings, w.Code) {
			extra = append(extra, w.Msg)
		}
	}
	if len(extra) > 0 {
		return doctorOne("config_file", doctorWarn, strings.Join(extra, "; ")+"; change the settings named here (fluxlit config shows where each value comes from)")
	}
	if c.ConfigFile == "" {
		return doctorOne("config_file", doctorPass, "no fluxlit.toml in "+c.ProjectDir+" (defaults, environment and flags only)")
	}
	return doctorOne("config_file", doctorPass, "read "+c.ConfigFile)
}

func doctorUnknownEnvCheck(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return []doctorRow{doctorUnknownEnvRow(c.UnknownEnv)}
}

func doctorUnknownEnvRow(lines []string) doctorRow {
	if len(lines) == 0 {
		return doctorRow{Name: "unknown_env", Status: doctorPass, Detail: "no unknown FLUXLIT_* variables"}
	}
	return doctorRow{Name: "unknown_env", Status: doctorWarn, Detail: strings.Join(lines, "; ") + "; rename or unset it"}
}

// doctorUnknownEnv is loadConfig's rule for UnknownEnv, for when the configuration did not
// load and Config.UnknownEnv is not there.
func doctorUnknownEnv(env map[string]string) []string {
	var lines []string
	for name := range env {
		s, ok := strings.CutPrefix(name, "FLUXLIT_")
		if !ok || settingsByName[strings.ToLower(s)] != nil || slices.Contains(nonSettingEnv, name) || strings.HasPrefix(name, "FLUXLIT_TEST_") {
			continue
		}
		lines = append(lines, unknownEnvLine(name))
	}
	sort.Strings(lines)
	return lines
}

// ---- children ----

func doctorStreamlitScript(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.StreamlitUpstream != "" || len(c.StreamlitCommand) > 0 {
		return doctorOne("streamlit_script", doctorSkip, "fluxlit does not run streamlit_script ("+doctorHowRun(c.StreamlitUpstream, "streamlit")+" is set)")
	}
	if appUsesPageEntry(c) {
		return doctorOne("streamlit_script", doctorPass, "FluxLit's page entry "+c.App.StreamlitMain+" (target is a FluxLit app)")
	}
	p := c.StreamlitScript
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.ProjectDir, p)
	}
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return doctorOne("streamlit_script", doctorFail, p+" not found; create it or set streamlit_script to your Streamlit script")
	}
	return doctorOne("streamlit_script", doctorPass, p)
}

func doctorAPICommand(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if len(c.APICommand) == 0 || c.APIUpstream != "" {
		return nil
	}
	return doctorCommandRow("api_command", c.APICommand[0], env, c.ProjectDir)
}

func doctorStreamlitCommand(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if len(c.StreamlitCommand) == 0 || c.StreamlitUpstream != "" {
		return nil
	}
	return doctorCommandRow("streamlit_command", c.StreamlitCommand[0], env, c.ProjectDir)
}

func doctorCommandRow(name, argv0 string, env map[string]string, dir string) []doctorRow {
	p, err := doctorLookPath(argv0, env["PATH"], dir)
	if err != nil {
		return doctorOne(name, doctorFail, err.Error()+"; install it or give its absolute path in "+name)
	}
	return doctorOne(name, doctorPass, p)
}

// ---- gateway rows (the Python package's order) ----

// doctorGatewayBind binds the gateway address as the Python package does: an unspecified
// host is tried on its loopback equivalent.
func doctorGatewayBind(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if d.Build {
		return doctorOne("gateway_bind", doctorSkip, "not checked with --build: the build host's ports are not the deployment's")
	}
	if c.GatewayPort == 0 {
		return doctorOne("gateway_bind", doctorPass, "gateway_port 0: a free port is picked at start")
	}
	host := c.GatewayHost
	switch host {
	case "0.0.0.0", "":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(c.GatewayPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil && d.live != nil {
		return doctorLiveRow(addr, d.live)
	}
	if err != nil {
		return doctorOne("gateway_bind", doctorFail, fmt.Sprintf("cannot bind %s (%s); stop what holds it (\"fluxlit shutdown\" if it is fluxlit) or choose another --port", addr, errText(err)))
	}
	ln.Close()
	return doctorOne("gateway_bind", doctorPass, addr+" is available")
}

func doctorInternalAPIBase(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "FLUXLIT_INTERNAL_API_BASE"
	v, set := env[name]
	if !set || v == "" {
		return doctorOne(name, doctorPass, "unset (normal when not inside a fluxlit child)")
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return doctorOne(name, doctorFail, fmt.Sprintf("%q is not an absolute URL; unset it (fluxlit sets it for its children)", v))
	}
	// fluxlit gives children root_path + api_mount_path; the bare mount is what the Python
	// package expected, and is accepted too.
	p := strings.TrimSuffix(u.Path, "/")
	if p != c.publicAPIMount() && p != c.APIMountPath {
		return doctorOne(name, doctorWarn, fmt.Sprintf("path %s should match api_mount_path %s; unset it or make its path %s", pyRepr(p), pyRepr(c.publicAPIMount()), c.publicAPIMount()))
	}
	return doctorOne(name, doctorPass, "set and matches api_mount_path ("+redactURLCredentials(v)+")")
}

// doctorJWTClockSkew works without a Config (c may be nil): it reads the environment, and
// the key settings when a Config loaded.
func doctorJWTClockSkew(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	var names []string
	for k, v := range env {
		if v != "" && (strings.HasPrefix(k, "FLUXLIT_JWT_") || strings.HasPrefix(k, "FLUXLIT_OIDC_")) {
			names = append(names, k)
		}
	}
	if c != nil {
		for _, s := range []struct{ name, v string }{{"jwt_hs256_secret", c.JWTHS256Secret}, {"jwt_hs_secret_file", c.JWTHSSecretFile},
			{"jwt_public_key_file", c.JWTPublicKeyFile}, {"jwt_jwks_file", c.JWTJWKSFile}, {"jwt_jwks_url", c.JWTJWKSURL}} {
			if s.v != "" && !strings.HasPrefix(c.Sources[s.name], "env ") {
				names = append(names, s.name)
			}
		}
	}
	if len(names) == 0 {
		return doctorOne("jwt_clock_skew", doctorPass, "no FLUXLIT_JWT_* or FLUXLIT_OIDC_* settings")
	}
	sort.Strings(names)
	return doctorOne("jwt_clock_skew", doctorWarn, strings.Join(names, ", ")+" set: token times (exp, nbf, iat) are checked against this host's clock; synchronize clocks (NTP)")
}

func doctorConfigValues(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	orEmpty := func(s string) string {
		if s == "" {
			return "(empty)"
		}
		return s
	}
	return []doctorRow{
		{Name: "config.api_mount_path", Status: doctorPass, Detail: c.APIMountPath},
		doctorURLSession(c, env),
		{Name: "config.root_path", Status: doctorPass, Detail: orEmpty(c.RootPath)},
		{Name: "config.trust_proxy", Status: doctorPass, Detail: map[bool]string{true: "True", false: "False"}[c.TrustProxy]},
		{Name: "config.public_base_url", Status: doctorPass, Detail: orEmpty(redactURLCredentials(c.PublicBaseURL))},
	}
}

func doctorPublicBaseURLPrecedence(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "public_base_url_precedence"
	own, legacy := env["FLUXLIT_PUBLIC_BASE_URL"], env["PUBLIC_BASE_URL"]
	if own == "" && legacy == "" {
		return nil
	}
	if own != "" && legacy != "" && own != legacy {
		status := doctorWarn
		if c.StrictPublicBaseURL {
			status = doctorFail
		}
		return doctorOne(name, status, fmt.Sprintf("PUBLIC_BASE_URL and FLUXLIT_PUBLIC_BASE_URL differ; FluxLit uses FLUXLIT_PUBLIC_BASE_URL (%q, not %q); unset one or make them equal", redactURLCredentials(own), redactURLCredentials(legacy)))
	}
	switch src := c.Sources["public_base_url"]; {
	case src == "env PUBLIC_BASE_URL":
		return doctorOne(name, doctorPass, "using PUBLIC_BASE_URL fallback")
	case src == "env FLUXLIT_PUBLIC_BASE_URL":
		return doctorOne(name, doctorPass, "using FLUXLIT_PUBLIC_BASE_URL")
	default:
		return doctorOne(name, doctorPass, "using "+src)
	}
}

func doctorOAuthPublicBaseURL(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.RootPath == "" || c.PublicBaseURL != "" {
		return nil
	}
	return doctorOne("oauth_public_base_url", doctorWarn, fmt.Sprintf("root_path %s is set but public_base_url is empty, so OAuth redirects and absolute links use the address a request arrived on; set public_base_url to https://<public host>%s", c.RootPath, c.RootPath))
}

func doctorProxyHeaders(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.RootPath == "" {
		return nil
	}
	if c.TrustProxy {
		return doctorOne("proxy_headers", doctorPass, "trust_proxy enabled for subpath deployment")
	}
	return doctorOne("proxy_headers", doctorWarn, "subpath/root_path set but trust_proxy false, so the edge proxy's X-Forwarded-* headers are ignored; set FLUXLIT_TRUST_PROXY=1 or pass --proxy-headers, and set forwarded_allow_ips to the proxy's address")
}

func doctorForwardedAllowIPs(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if !c.TrustProxy {
		return nil
	}
	if len(c.ForwardedAllowIPs) == 0 {
		return doctorOne("forwarded_allow_ips", doctorWarn, "trust_proxy is on but forwarded_allow_ips is unset (loopback proxies only); list your proxy's addresses or CIDRs")
	}
	for _, ip := range c.ForwardedAllowIPs {
		if ip == "*" || ip == "0.0.0.0/0" || ip == "::/0" {
			return doctorOne("forwarded_allow_ips", doctorWarn, fmt.Sprintf("%q trusts every client to set X-Forwarded-*; list your proxy's addresses or CIDRs instead", ip))
		}
	}
	return doctorOne("forwarded_allow_ips", doctorPass, strings.Join(c.ForwardedAllowIPs, ", "))
}

func doctorMaxProxyBody(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if !c.TrustProxy || c.MaxBodyBytes != 0 {
		return nil
	}
	return doctorOne("gateway_max_proxy_body", doctorWarn, "trust_proxy is on and request bodies are unlimited; set gateway_max_proxy_request_body_bytes (for example 104857600, 100 MiB)")
}

func doctorPublicBaseURL(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.PublicBaseURL == "" {
		return nil
	}
	shown := redactURLCredentials(c.PublicBaseURL)
	if err := checkHTTPURL(c.PublicBaseURL); err != nil {
		return doctorOne("public_base_url", doctorFail, err.Error()+"; set it to the public origin, such as https://app.example.com")
	}
	u, _ := url.Parse(c.PublicBaseURL)
	p := strings.TrimSuffix(u.Path, "/")
	if p != "" && c.RootPath != "" && p != c.RootPath {
		return doctorOne("public_base_url", doctorWarn, fmt.Sprintf("path %s does not match public mount %s (public_base_url %s); make them the same", pyRepr(p), pyRepr(c.RootPath), shown))
	}
	return doctorOne("public_base_url", doctorPass, shown)
}

func doctorReadinessRoute(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorOne("readiness_route", doctorPass, fmt.Sprintf("GET %s/readyz answers 200 when every upstream is ready (liveness: %s/healthz)", c.publicAPIMount(), c.publicAPIMount()))
}

func doctorL7WebSocket(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorOne("l7_websocket", doctorPass, fmt.Sprintf("ensure L7 proxies allow Upgrade/WebSocket for %s/_stcore/*", c.RootPath))
}

func doctorUpstreamTimeouts(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	detail := fmt.Sprintf("HTTP read timeout=%gs; connect timeout=%gs", c.ReadTimeoutS, c.ConnectTimeoutS)
	if c.ReadTimeoutS < doctorMinReadTimeoutS {
		return doctorOne("gateway_upstream_timeouts", doctorWarn, fmt.Sprintf("%s, under %gs, so slow responses become 504; raise gateway_upstream_read_timeout_s", detail, doctorMinReadTimeoutS))
	}
	return doctorOne("gateway_upstream_timeouts", doctorPass, detail)
}

func doctorForwardClientHeaders(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	allowed, _, err := splitForwardHeaders(c.ForwardClientHeaders)
	if err != nil || len(allowed) == 0 {
		return doctorOne("gateway_forward_client_headers", doctorPass, "no extra browser→Streamlit header forwarding (default)")
	}
	return doctorOne("gateway_forward_client_headers", doctorWarn, fmt.Sprintf("%d header name(s) forwarded from the browser to Streamlit (%s); keep only those the app reads", len(allowed), strings.Join(allowed, ", ")))
}

func doctorForwardRejectedNames(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	_, rejected, err := splitForwardHeaders(c.ForwardClientHeaders)
	if err != nil || len(rejected) == 0 {
		return nil
	}
	return doctorOne("gateway_forward_rejected_names", doctorWarn, fmt.Sprintf("never forwarded to Streamlit (credential, framing or forwarding headers): %s; remove them from gateway_forward_client_headers_to_streamlit", strings.Join(rejected, ", ")))
}

func doctorAPIUpstream(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorUpstreamRow("api_upstream", c.APIUpstream, d)
}

func doctorStreamlitUpstream(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorUpstreamRow("streamlit_upstream", c.StreamlitUpstream, d)
}

// doctorUpstreamRow connects to an external upstream. Unreachable is a WARN, as in the Python
// package: the upstream may simply start after fluxlit, and readyz reports it meanwhile.
func doctorUpstreamRow(name, raw string, d doctorDeps) []doctorRow {
	if raw == "" {
		return nil
	}
	shown := redactURLCredentials(raw)
	if d.Build {
		return doctorOne(name, doctorSkip, "not checked with --build: "+shown+" is reached from the deployment's network, not the build's")
	}
	network, addr, err := doctorUpstreamAddr(raw)
	if err == nil {
		var conn net.Conn
		conn, err = net.DialTimeout(network, addr, d.DialTimeout)
		if err == nil {
			conn.Close()
			return doctorOne(name, doctorPass, shown+" is reachable")
		}
	}
	return doctorOne(name, doctorWarn, fmt.Sprintf("cannot connect to %s (%s); start it or correct %s", shown, errText(doctorUnwrapDial(err)), name))
}

// doctorUpstreamAddr turns an upstream URL into what net.Dial takes.
func doctorUpstreamAddr(raw string) (network, addr string, err error) {
	if p, ok := strings.CutPrefix(raw, "unix:"); ok {
		return "unix", p, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q is not a URL", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return "tcp", net.JoinHostPort(u.Hostname(), port), nil
}

// doctorUnwrapDial keeps the cause ("connection refused") of a dial error.
func doctorUnwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err
		}
		return op.Err
	}
	return err
}

func doctorSecurityHeaders(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	switch {
	case c.EnableSecurityHeader && !c.TrustProxy:
		// Python FluxLit sent HSTS on any client's X-Forwarded-Proto: https; a project behind a
		// TLS proxy that never set trust_proxy loses the header here, and this row says so.
		return doctorOne("security_headers", doctorPass, "enable_security_headers is on; HSTS is sent only with requests a trusted proxy marks HTTPS, none while trust_proxy is off: behind a TLS proxy, set trust_proxy (and forwarded_allow_ips)")
	case len(c.CORSAllowOrigins) == 0 || c.EnableSecurityHeader:
		return nil
	}
	return doctorOne("security_headers", doctorWarn, "cors_allow_origins is set while enable_security_headers is off; turn on enable_security_headers")
}

// ---- fluxlit's runtime rows ----

func doctorDebugExposure(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	switch {
	case !c.Debug:
		return doctorOne("debug_exposure", doctorPass, "debug is off")
	case isLoopbackHost(c.GatewayHost):
		return doctorOne("debug_exposure", doctorPass, "debug is on; gateway_host "+c.GatewayHost+" is loopback")
	}
	reach := "the debug page answers loopback clients only"
	if c.DebugAllowRemote {
		reach = "debug_allow_remote serves the debug page to anyone who reaches the port"
	}
	return doctorOne("debug_exposure", doctorWarn, fmt.Sprintf("debug is on while gateway_host %s is not loopback (%s); turn debug off in production", c.GatewayHost, reach))
}

func doctorPidfile(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.NoPidfile {
		return doctorOne("pidfile", doctorPass, "no_pidfile is set: no pidfile is written")
	}
	if d.Build {
		return doctorOne("pidfile", doctorSkip, "not checked with --build: no fluxlit runs in a build")
	}
	path := c.pidfilePath()
	pid, err := readPidfile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return doctorOne("pidfile", doctorPass, "no pidfile at "+path+" (no fluxlit running from it)")
	case errors.Is(err, errPidfileInvalid):
		return doctorOne("pidfile", doctorWarn, path+" does not hold a pid; delete it")
	case err != nil:
		return doctorOne("pidfile", doctorWarn, fmt.Sprintf("cannot read %s (%s); fix its permissions or delete it", path, errText(err)))
	case d.live != nil && d.live.PID == pid:
		return doctorOne("pidfile", doctorPass, fmt.Sprintf("%s names pid %d, this project's running fluxlit (see gateway_bind)", path, pid))
	case processAlive(pid):
		return doctorOne("pidfile", doctorWarn, fmt.Sprintf("%s names pid %d, which is running; run \"fluxlit shutdown\" before starting another fluxlit", path, pid))
	}
	return doctorOne("pidfile", doctorWarn, fmt.Sprintf("%s is stale (pid %d is not running); delete it (fluxlit run also replaces it)", path, pid))
}

// ---- output ----

// doctorColors are ANSI colours per status, used only on a terminal without NO_COLOR.
var doctorColors = map[string]string{doctorPass: "\x1b[32m", doctorWarn: "\x1b[33m", doctorFail: "\x1b[31m", doctorSkip: "\x1b[2m"}

// doctorWriteText writes Python FluxLit's text report: "FluxLit doctor", a blank line, and one
// "STATUS  name: detail" line per row (status padded to four, as Python's f"{status:4}"),
// then fluxlit's summary line.
func doctorWriteText(w io.Writer, rows []doctorRow, cfg *Config, verbose map[string]any, opts doctorOptions) {
	fmt.Fprint(w, "FluxLit doctor\n\n")
	for _, r := range rows {
		status := r.Status
		if opts.Color {
			status = doctorColors[r.Status] + r.Status + "\x1b[0m"
		}
		fmt.Fprintf(w, "%s  %s: %s\n", status, r.Name, r.Detail)
	}
	fmt.Fprintf(w, "\n%s\n", doctorSummary(rows))
	if verbose != nil {
		doctorWriteVerboseText(w, cfg, verbose)
	}
}

// doctorSummary is "3 passed, 1 warning, 0 failed", plus ", N skipped" when rows were skipped.
func doctorSummary(rows []doctorRow) string {
	warn := doctorCount(rows, doctorWarn)
	plural := "s"
	if warn == 1 {
		plural = ""
	}
	s := fmt.Sprintf("%d passed, %d warning%s, %d failed", doctorCount(rows, doctorPass), warn, plural, doctorCount(rows, doctorFail))
	if skip := doctorCount(rows, doctorSkip); skip > 0 {
		s += fmt.Sprintf(", %d skipped", skip)
	}
	return s
}

// doctorReport is the --json object: the Python package's schema.
type doctorReport struct {
	Status       string         `json:"status"`
	Target       string         `json:"target"`
	WarningsOnly bool           `json:"warnings_only"`
	Checks       []doctorRow    `json:"checks"`
	Verbose      map[string]any `json:"verbose,omitempty"`
}

func doctorWriteJSON(w io.Writer, rows []doctorRow, target string, verbose map[string]any, opts doctorOptions) {
	rep := doctorReport{Status: doctorOverall(rows, opts.WarningsOnly), Target: target, WarningsOnly: opts.WarningsOnly, Checks: rows, Verbose: verbose}
	json.NewEncoder(w).Encode(rep)
}

// doctorOverall is the Python package's rule: "fail" on a FAIL unless --warnings-only, else
// "warn" on a WARN (or a FAIL under --warnings-only), else "pass".
func doctorOverall(rows []doctorRow, warningsOnly bool) string {
	fails := doctorCount(rows, doctorFail)
	switch {
	case fails > 0 && !warningsOnly:
		return "fail"
	case fails > 0 || doctorCount(rows, doctorWarn) > 0:
		return "warn"
	}
	return "pass"
}
