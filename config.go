// config.go owns fluxlit's settings: the table of every setting (name, kind, default, secrecy),
// loading them with one precedence for all (flag > FluxLit app code > environment >
// fluxlit.toml > default; the app-code layer is read by fluxlitapp.go),
// and validating the result into one immutable Config that the rest of the program reads.
// Nothing else in fluxlit reads FLUXLIT_* variables or fluxlit.toml.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration. Field tags name the setting; loadConfig fills every
// tagged field from the settings table, so a setting is declared once, in settingsTable.
type Config struct {
	// Gateway listener and routing.
	GatewayHost  string `setting:"gateway_host"`
	GatewayPort  int    `setting:"gateway_port"`
	APIMountPath string `setting:"api_mount_path"`
	RootPath     string `setting:"root_path"`

	// Upstreams not run by fluxlit.
	APIUpstream       string `setting:"api_upstream"`
	StreamlitUpstream string `setting:"streamlit_upstream"`

	// Proxy trust and public URL.
	TrustProxy           bool     `setting:"trust_proxy"`
	ForwardedAllowIPs    []string `setting:"forwarded_allow_ips"`
	PublicBaseURL        string   `setting:"public_base_url"`
	StrictPublicBaseURL  bool     `setting:"strict_public_base_url"`
	ForwardClientHeaders []string `setting:"gateway_forward_client_headers_to_streamlit"`

	// Upstream limits.
	ClientHeaderTimeoutS float64 `setting:"gateway_client_header_timeout_s"`
	ClientBodyTimeoutS   float64 `setting:"gateway_client_body_timeout_s"`
	ClientSendTimeoutS   float64 `setting:"gateway_client_send_timeout_s"`
	ConnectTimeoutS      float64 `setting:"gateway_upstream_connect_timeout_s"`
	SendTimeoutS         float64 `setting:"gateway_upstream_send_timeout_s"`
	ReadTimeoutS         float64 `setting:"gateway_upstream_read_timeout_s"`
	BodyTimeoutS         float64 `setting:"gateway_upstream_body_timeout_s"`
	RequestBuffering     bool    `setting:"gateway_request_buffering"`
	RequestBufferDir     string  `setting:"gateway_request_buffer_dir"`
	RequestBufferMax     int64   `setting:"gateway_request_buffer_max_bytes"`
	MaxBodyBytes         int64   `setting:"gateway_max_proxy_request_body_bytes"`
	WSMaxMessageSize     int64   `setting:"gateway_ws_max_message_bytes"`
	ShutdownTimeoutS     float64 `setting:"shutdown_timeout_s"`
	APIHealthPath        string  `setting:"api_health_path"`
	MaxConnections       int     `setting:"max_connections"`

	// Children.
	Target               string   `setting:"target"`
	StreamlitScript      string   `setting:"streamlit_script"`
	Python               string   `setting:"python"`
	APICommand           []string `setting:"api_command"`
	StreamlitCommand     []string `setting:"streamlit_command"`
	StreamlitRunCLIArgs  []string `setting:"streamlit_run_cli_args"`
	APIPort              int      `setting:"api_port"`
	APIChildTransport    string   `setting:"api_child_transport"`
	StreamlitPort        int      `setting:"streamlit_port"`
	StreamlitReplicas    string   `setting:"streamlit_replicas"`
	APIWorkers           int      `setting:"api_workers"`
	ReloadDrainS         float64  `setting:"reload_drain_s"`
	ChildEnvDeny         []string `setting:"child_env_deny"`
	RestartMaxBackoffS   float64  `setting:"restart_max_backoff_s"`
	ChildReadyTimeoutS   float64  `setting:"child_ready_timeout_s"`
	Pidfile              string   `setting:"pidfile"`
	NoPidfile            bool     `setting:"no_pidfile"`
	ReloadScope          string   `setting:"reload_scope"`
	Reload               bool     `setting:"reload"`
	EnableSecurityHeader bool     `setting:"enable_security_headers"`
	HSTSMaxAgeS          int64    `setting:"hsts_max_age_s"`

	// CORS for the API mount.
	CORSAllowOrigins     []string `setting:"cors_allow_origins"`
	CORSAllowCredentials bool     `setting:"cors_allow_credentials"`
	CORSAllowMethods     []string `setting:"cors_allow_methods"`
	CORSAllowHeaders     []string `setting:"cors_allow_headers"`
	CORSMaxAgeS          int64    `setting:"cors_max_age_s"`

	// Edge authentication.
	JWTHS256Secret     string   `setting:"jwt_hs256_secret"`
	JWTHSSecretFile    string   `setting:"jwt_hs_secret_file"`
	JWTPublicKeyFile   string   `setting:"jwt_public_key_file"`
	JWTJWKSFile        string   `setting:"jwt_jwks_file"`
	JWTJWKSURL         string   `setting:"jwt_jwks_url"`
	JWTIssuer          string   `setting:"jwt_issuer"`
	JWTAudience        []string `setting:"jwt_audience"`
	JWTAlgorithms      []string `setting:"jwt_algorithms"`
	JWTLeewaySeconds   float64  `setting:"jwt_leeway_seconds"`
	JWTRequiredScopes  []string `setting:"jwt_required_scopes"`
	JWTProtect         []string `setting:"jwt_protect"`
	JWTPublicPaths     []string `setting:"jwt_public_paths"`
	OIDCBFFSecret      string   `setting:"oidc_bff_secret"`
	RateLimitRPS       float64  `setting:"rate_limit_rps"`
	RateLimitBurst     int      `setting:"rate_limit_burst"`
	RateLimitPaths     []string `setting:"rate_limit_paths"`
	LogRedactQueryKeys []string `setting:"log_redact_query_keys"`

	// Observability.
	Debug             bool   `setting:"debug"`
	DebugAllowRemote  bool   `setting:"debug_allow_remote"`
	LogLevel          string `setting:"log_level"`
	LogFormat         string `setting:"log_format"`
	AccessLog         bool   `setting:"enable_gateway_access_log"`
	Metrics           bool   `setting:"enable_gateway_prometheus_metrics"`
	MetricsPath       string `setting:"gateway_prometheus_metrics_path"`
	MetricsListen     string `setting:"metrics_listen"`
	StartupBanner     bool   `setting:"startup_banner"`
	URLSessionQuery   string `setting:"url_session_query_param"`
	GatewayGOGC       int    `setting:"gateway_gogc"`
	GatewayMemLimitMB int    `setting:"gateway_memory_limit_mb"`
	FastPath          bool   `setting:"gateway_fast_path"`

	// Derived, not settings.
	ConfigFile string            // the fluxlit.toml that was read, "" when none
	ProjectDir string            // where fluxlit.toml is, else the working directory
	Sources    map[string]string // setting name -> "flag", "env FLUXLIT_X", "fluxlit.toml:12", "default"
	Warnings   []string          // configuration warnings (doctor and config show them)
	UnknownEnv []string          // FLUXLIT_* variables that are no setting, with a suggestion
	App        *fluxlitApp       // the Python FluxLit object target names; nil for a plain project (fluxlitapp.go)
	AppErr     string            // why the app model could not be decided ("" when it was, or was not needed)
}

type settingKind int

const (
	kindString settingKind = iota
	kindInt
	kindFloat
	kindBool
	kindList
)

func (k settingKind) String() string {
	return [...]string{"a string", "an integer", "a number", "a boolean", "a list of strings"}[k]
}

// setting describes one configuration name. def is written in the environment syntax and
// parsed like a value from the environment, so defaults go through the same checks.
type setting struct {
	name     string
	kind     settingKind
	def      string
	secret   bool
	min, max float64 // numeric range; both zero means unchecked
	doc      string
	orInt    bool // a string setting that also takes a TOML integer ("auto" or 4)
}

// Durations are seconds; a day bounds every timeout so that a typo of extra zeros is caught.
const maxTimeoutS = 86400

var settingsTable = []setting{
	{name: "gateway_host", kind: kindString, def: "127.0.0.1", doc: "public listen address"},
	{name: "gateway_port", kind: kindInt, def: "8000", max: 65535, doc: "public listen port (0 picks a free one)"},
	{name: "api_mount_path", kind: kindString, def: "/api", doc: "path prefix routed to the API"},
	{name: "root_path", kind: kindString, def: "", doc: "browser-visible prefix when a proxy serves the app under a subpath"},
	{name: "api_upstream", kind: kindString, doc: "URL of an API not run by fluxlit (http(s)://host:port or unix:/path.sock)"},
	{name: "streamlit_upstream", kind: kindString, doc: "URL of a Streamlit not run by fluxlit"},
	{name: "trust_proxy", kind: kindBool, def: "false", doc: "believe X-Forwarded-* from forwarded_allow_ips (loopback when unset)"},
	{name: "forwarded_allow_ips", kind: kindList, doc: "addresses and CIDRs of trusted proxies"},
	{name: "public_base_url", kind: kindString, doc: "public origin (+prefix) for redirects and links; PUBLIC_BASE_URL is a fallback"},
	{name: "strict_public_base_url", kind: kindBool, def: "false", doc: "doctor FAILs when FLUXLIT_PUBLIC_BASE_URL and PUBLIC_BASE_URL differ"},
	{name: "gateway_forward_client_headers_to_streamlit", kind: kindList, doc: "extra browser headers the Streamlit hop may carry (max 32)"},
	{name: "gateway_client_header_timeout_s", kind: kindFloat, def: "10", min: 0.1, max: 3600, doc: "time a client has to send a request head, from connecting (a silent connection is closed then) or from the first byte of a later request"},
	{name: "gateway_client_body_timeout_s", kind: kindFloat, def: "60", min: 0.001, max: maxTimeoutS, doc: "longest pause of a client between two reads of its request body (then 408)"},
	{name: "gateway_client_send_timeout_s", kind: kindFloat, def: "60", min: 0.001, max: maxTimeoutS, doc: "longest a write to a client may wait for it to read (then the connection is cut)"},
	{name: "gateway_upstream_connect_timeout_s", kind: kindFloat, def: "30", min: 0.001, max: maxTimeoutS, doc: "upstream dial timeout"},
	{name: "gateway_upstream_send_timeout_s", kind: kindFloat, def: "60", min: 0.001, max: maxTimeoutS, doc: "longest a write of a request to an upstream may wait for it to read (then 504)"},
	{name: "gateway_upstream_read_timeout_s", kind: kindFloat, def: "120", min: 0.001, max: maxTimeoutS, doc: "time an upstream may take to send response headers, counted from the end of the request body"},
	{name: "gateway_upstream_body_timeout_s", kind: kindFloat, def: "120", max: maxTimeoutS, doc: "longest silence of an upstream inside a response body (then the client's response is cut); 0: none, for event streams without heartbeats"},
	{name: "gateway_request_buffering", kind: kindBool, def: "true", doc: "read a request body whole (memory, then a file) before the upstream is dialled, as nginx does"},
	{name: "gateway_request_buffer_dir", kind: kindString, doc: "where request bodies over 1 MiB wait (default: $TMPDIR or /tmp); unwritable: such bodies are streamed"},
	{name: "gateway_request_buffer_max_bytes", kind: kindInt, def: "1073741824", max: math.MaxInt64, doc: "bytes of request bodies that may wait in files at once; a body that does not fit is streamed"},
	{name: "gateway_max_proxy_request_body_bytes", kind: kindInt, def: "0", max: math.MaxInt64, doc: "larger request bodies get 413 (0: no limit)"},
	{name: "gateway_ws_max_message_bytes", kind: kindInt, def: "0", max: math.MaxInt64, doc: "larger WebSocket messages close with 1009 (0: no limit)"},
	{name: "shutdown_timeout_s", kind: kindFloat, def: "10", min: 0.1, max: 3600, doc: "drain time on stop before children are killed"},
	{name: "api_health_path", kind: kindString, doc: "API readiness path (else a TCP connect)"},
	{name: "max_connections", kind: kindInt, def: "0", max: 1 << 24, doc: "cap on concurrent client connections (0: none)"},

	{name: "target", kind: kindString, def: "app:app", doc: "module:attr of the ASGI app run by uvicorn"},
	{name: "streamlit_script", kind: kindString, def: "streamlit_app.py", doc: "the Streamlit script"},
	{name: "python", kind: kindString, doc: "interpreter for both children ($VIRTUAL_ENV/bin/python, else python3)"},
	{name: "api_command", kind: kindList, doc: "argv replacing the uvicorn command; {host} {port} {root_path} substituted"},
	{name: "streamlit_command", kind: kindList, doc: "argv replacing the streamlit command; {host} {port} {root_path} substituted"},
	{name: "streamlit_run_cli_args", kind: kindList, doc: "extra `streamlit run` flags (not port, address or baseUrlPath)"},
	{name: "api_port", kind: kindInt, def: "0", max: 65535, doc: "fixed loopback port of the API child (0: a free one)"},
	{name: "api_child_transport", kind: kindString, def: "unix", doc: "how the uvicorn child listens: unix (a private socket) or tcp (loopback)"},
	{name: "streamlit_port", kind: kindInt, def: "0", max: 65535, doc: "fixed loopback port of the Streamlit child (0: a free one)"},
	{name: "streamlit_replicas", kind: kindString, def: "1", doc: "Streamlit children, each a process of its own with sticky sessions: a number (1-64), or auto (the CPUs fluxlit may use)", orInt: true},
	{name: "api_workers", kind: kindInt, def: "1", min: 1, max: 64, doc: "uvicorn worker processes of the API child (uvicorn --workers)"},
	{name: "reload_drain_s", kind: kindFloat, def: "5", min: 0, max: 3600, doc: "after a reload or upgrade, how long the old generation keeps its open WebSockets before closing them with 1001"},
	{name: "child_env_deny", kind: kindList, doc: "environment names never passed to the Streamlit child"},
	{name: "restart_max_backoff_s", kind: kindFloat, def: "30", min: 0.1, max: 3600, doc: "cap of the crash-restart backoff"},
	{name: "child_ready_timeout_s", kind: kindFloat, def: "60", min: 1, max: 3600, doc: "how long a child may take to become ready"},
	{name: "pidfile", kind: kindString, def: ".fluxlit.pid", doc: "pidfile path, relative to the project directory"},
	{name: "no_pidfile", kind: kindBool, def: "false", doc: "do not write a pidfile"},
	{name: "reload", kind: kindBool, def: "false", doc: "restart children when sources change (dev)"},
	{name: "reload_scope", kind: kindString, def: "gateway", doc: "what --reload restarts: gateway (the API child) or full (both)"},
	{name: "enable_security_headers", kind: kindBool, def: "false", doc: "nosniff, SAMEORIGIN, Referrer-Policy, HSTS over HTTPS"},
	{name: "hsts_max_age_s", kind: kindInt, def: "63072000", max: 1 << 31, doc: "HSTS max-age (two years)"},

	{name: "cors_allow_origins", kind: kindList, doc: "origins allowed to call the API from a browser"},
	{name: "cors_allow_credentials", kind: kindBool, def: "false", doc: "allow credentials in CORS requests"},
	{name: "cors_allow_methods", kind: kindList, def: "GET,POST,PUT,PATCH,DELETE,OPTIONS", doc: "CORS allowed methods"},
	{name: "cors_allow_headers", kind: kindList, def: "Authorization,Content-Type,X-Request-ID", doc: "CORS allowed request headers"},
	{name: "cors_max_age_s", kind: kindInt, def: "600", max: 86400, doc: "how long a browser caches a preflight"},

	{name: "jwt_hs256_secret", kind: kindString, secret: true, doc: "HMAC secret for HS256/384/512 tokens"},
	{name: "jwt_hs_secret_file", kind: kindString, doc: "file holding the HMAC secret"},
	{name: "jwt_public_key_file", kind: kindString, doc: "PEM public key (RSA, EC, Ed25519)"},
	{name: "jwt_jwks_file", kind: kindString, doc: "JWKS document on disk"},
	{name: "jwt_jwks_url", kind: kindString, doc: "JWKS URL of the identity provider"},
	{name: "jwt_issuer", kind: kindString, doc: "required iss"},
	{name: "jwt_audience", kind: kindList, doc: "accepted aud values"},
	{name: "jwt_algorithms", kind: kindList, doc: "allowed algorithms (default: those the keys can verify)"},
	{name: "jwt_leeway_seconds", kind: kindFloat, def: "0", max: 3600, doc: "clock skew allowed on exp/nbf/iat"},
	{name: "jwt_required_scopes", kind: kindList, doc: "scopes every token must carry"},
	{name: "jwt_protect", kind: kindList, doc: "path patterns under the API mount that need a token at the edge (\"/*\": all); empty: edge JWT off"},
	{name: "jwt_public_paths", kind: kindList, doc: "path patterns exempt from jwt_protect"},
	{name: "oidc_bff_secret", kind: kindString, secret: true, doc: "kept from the Python package; never passed to Streamlit"},
	{name: "rate_limit_rps", kind: kindFloat, def: "0", max: 1e6, doc: "requests per second per client (0: off)"},
	{name: "rate_limit_burst", kind: kindInt, def: "0", max: 1e6, doc: "bucket size (0: max(1, rps))"},
	{name: "rate_limit_paths", kind: kindList, doc: "path prefixes that are rate limited (default: the API mount)"},
	{name: "log_redact_query_keys", kind: kindList, doc: "extra query keys whose values are redacted in logs"},

	{name: "debug", kind: kindBool, def: "false", doc: "debug mode: [fluxlit-debug] lines and /__fluxlit/debug"},
	{name: "debug_allow_remote", kind: kindBool, def: "false", doc: "serve /__fluxlit/debug to non-loopback clients"},
	{name: "log_level", kind: kindString, def: "info", doc: "debug, info, warn or error"},
	{name: "log_format", kind: kindString, def: "auto", doc: "text, json, or auto (text on a terminal)"},
	{name: "enable_gateway_access_log", kind: kindBool, def: "true", doc: "one line per request"},
	{name: "enable_gateway_prometheus_metrics", kind: kindBool, def: "false", doc: "serve Prometheus metrics"},
	{name: "gateway_prometheus_metrics_path", kind: kindString, def: "/__fluxlit/metrics", doc: "metrics path"},
	{name: "metrics_listen", kind: kindString, doc: "host:port to serve metrics on instead of the public port"},
	{name: "startup_banner", kind: kindBool, def: "false", doc: "print URLs at start (workbench)"},
	{name: "url_session_query_param", kind: kindString, def: "fluxlit_sid", doc: "URL-session query key, redacted in logs"},
	{name: "gateway_gogc", kind: kindInt, def: "100", min: -1, max: 10000, doc: "GOGC of the gateway: 100 measured best (BENCHMARKS.md); -1 turns the collector off"},
	{name: "gateway_memory_limit_mb", kind: kindInt, def: "0", max: 1 << 20, doc: "soft memory limit for the Go runtime (0: none)"},
	{name: "gateway_fast_path", kind: kindBool, def: "true", doc: "serve plain proxied requests with the hand-written HTTP/1.1 front end (false: net/http only)"},
}

var settingsByName = func() map[string]*setting {
	m := make(map[string]*setting, len(settingsTable))
	for i := range settingsTable {
		m[settingsTable[i].name] = &settingsTable[i]
	}
	return m
}()

// nonSettingEnv are FLUXLIT_* variables that exist but are not settings: fluxlit sets the
// first three for its children, the rest are read by the loader or the test suite.
var nonSettingEnv = []string{"FLUXLIT_INTERNAL_API_BASE", "FLUXLIT_API_PREFIX", "FLUXLIT_APP",
	"FLUXLIT_CONFIG", "FLUXLIT_REQUIRE_INTEGRATION", "FLUXLIT_TEST_PYTHON", "FLUXLIT_BIN",
	"FLUXLIT_STREAMLIT_ROOT"}

// secretNames are environment names never passed to the Streamlit child, besides
// FLUXLIT_JWT_* and FLUXLIT_OIDC_* (see streamlitEnvDenied).
func isSecretSetting(name string) bool {
	s, ok := settingsByName[name]
	return ok && s.secret
}

// configError is a configuration mistake: where (file:line, env NAME, flag --x), which
// setting, and what is wrong. Its text is the one line fluxlit prints before exiting 2.
type configError struct {
	Where   string
	Setting string
	Msg     string
}

func (e *configError) Error() string {
	switch {
	case e.Where != "" && e.Setting != "":
		return e.Where + ": " + e.Setting + ": " + e.Msg
	case e.Where != "":
		return e.Where + ": " + e.Msg
	case e.Setting != "":
		return e.Setting + ": " + e.Msg
	}
	return e.Msg
}

// loadInput is everything a configuration is made from, so that loading is a pure function
// of its input and tests need no process state.
type loadInput struct {
	Flags      map[string]string // setting name -> value given on the command line
	Env        []string          // os.Environ() form
	WorkDir    string
	ConfigPath string            // --config; FLUXLIT_CONFIG is read from Env
	Positional string            // TARGET argument; a flag-level value for "target"
	Defaults   map[string]string // a command's own defaults (dev: debug on), below every source
	Code       map[string]string // settings a FluxLit app declares in code, in env syntax (fluxlitapp.go)
	CodeSource string            // where Code came from, as config shows it ("app.py")
}

type rawValue struct {
	value  any    // string from flags/env, typed from TOML
	source string // for Sources and error positions
	where  string // error prefix: "fluxlit.toml:12", "env FLUXLIT_X", "flag --port"
}

// loadConfig resolves every setting by precedence flag > app code > environment > file >
// default, parses and validates it, and returns the Config or the first *configError.
func loadConfig(in loadInput) (*Config, error) {
	env := envMap(in.Env)
	raw := map[string]rawValue{}
	cfg := &Config{Sources: map[string]string{}, ProjectDir: in.WorkDir}

	for name, value := range in.Defaults {
		raw[name] = rawValue{value: value, source: "default", where: "default"}
	}
	path, explicit := in.ConfigPath, in.ConfigPath != ""
	if !explicit && env["FLUXLIT_CONFIG"] != "" {
		path, explicit = env["FLUXLIT_CONFIG"], true
	}
	if path == "" {
		path = filepath.Join(in.WorkDir, "fluxlit.toml")
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(in.WorkDir, path)
	}
	if err := readConfigFile(path, explicit, raw, cfg); err != nil {
		return nil, err
	}
	for name, value := range env {
		sname, ok := strings.CutPrefix(name, "FLUXLIT_")
		if !ok {
			continue
		}
		sname = strings.ToLower(sname)
		if _, known := settingsByName[sname]; known {
			raw[sname] = rawValue{value: value, source: "env " + name, where: "env " + name}
		} else if !slices.Contains(nonSettingEnv, name) && !strings.HasPrefix(name, "FLUXLIT_TEST_") {
			cfg.UnknownEnv = append(cfg.UnknownEnv, unknownEnvLine(name))
		}
	}
	sort.Strings(cfg.UnknownEnv)
	// Settings made in a FluxLit app's code beat the environment, as FluxlitSettings(...)
	// keyword arguments do in Python; they are parsed like environment values.
	for name, value := range in.Code {
		raw[name] = rawValue{value: value, source: in.CodeSource, where: in.CodeSource}
	}
	if _, set := raw["public_base_url"]; !set && env["PUBLIC_BASE_URL"] != "" {
		raw["public_base_url"] = rawValue{value: env["PUBLIC_BASE_URL"], source: "env PUBLIC_BASE_URL", where: "env PUBLIC_BASE_URL"}
	}
	if in.Positional != "" {
		raw["target"] = rawValue{value: in.Positional, source: "flag", where: "argument TARGET"}
	}
	for name, value := range in.Flags {
		raw[name] = rawValue{value: value, source: "flag", where: "flag --" + flagNameFor(name)}
	}
	if err := assignSettings(cfg, raw); err != nil {
		return nil, err
	}
	if cfg.Python == "" {
		cfg.Python = defaultPython(env)
		cfg.Sources["python"] = "default"
	}
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func defaultPython(env map[string]string) string {
	if venv := env["VIRTUAL_ENV"]; venv != "" {
		return filepath.Join(venv, "bin", "python")
	}
	return "python3"
}

// readConfigFile adds the file's values to raw. A missing default fluxlit.toml is fine; a
// missing file the user named is an error.
func readConfigFile(path string, explicit bool, raw map[string]rawValue, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return nil
		}
		return &configError{Where: path, Msg: "cannot read configuration file: " + errText(err)}
	}
	name := filepath.Base(path)
	cfg.ConfigFile = path
	cfg.ProjectDir = filepath.Dir(path)
	entries, err := parseTOML(data)
	if err != nil {
		var te *tomlError
		if errors.As(err, &te) {
			return &configError{Where: fmt.Sprintf("%s:%d:%d", name, te.Line, te.Col), Msg: te.Msg}
		}
		return &configError{Where: name, Msg: err.Error()}
	}
	for _, e := range entries {
		key := strings.TrimPrefix(e.Key, "tool.fluxlit.")
		where := fmt.Sprintf("%s:%d", name, e.Line)
		if _, ok := settingsByName[key]; !ok {
			return &configError{Where: where, Msg: unknownKeyMessage(key)}
		}
		raw[key] = rawValue{value: tomlTyped{e.Value}, source: where, where: where}
	}
	return nil
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unknownKeyMessage(key string) string {
	msg := fmt.Sprintf("unknown setting %q", key)
	if s := suggestSetting(key); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

func unknownEnvLine(name string) string {
	line := name + " is not a fluxlit setting"
	if s := suggestSetting(strings.ToLower(strings.TrimPrefix(name, "FLUXLIT_"))); s != "" {
		line += " (did you mean FLUXLIT_" + strings.ToUpper(s) + "?)"
	}
	return line
}

// suggestSetting returns the setting closest to name by edit distance, when close enough to
// be a typo: at most a third of the name's length, and never more than 4 edits.
func suggestSetting(name string) string {
	best, bestDist := "", math.MaxInt
	for _, s := range settingsTable {
		if d := editDistance(name, s.name); d < bestDist {
			best, bestDist = s.name, d
		}
	}
	if bestDist <= min(4, max(1, len(name)/3)) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// assignSettings parses every setting (given or default) into its Config field.
func assignSettings(cfg *Config, raw map[string]rawValue) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("setting")
		if name == "" {
			continue
		}
		s := settingsByName[name]
		rv, ok := raw[name]
		if !ok {
			rv = rawValue{value: s.def, source: "default", where: "default"}
		}
		parsed, err := parseSettingValue(s, rv.value)
		if err != nil {
			return &configError{Where: rv.where, Setting: name, Msg: err.Error()}
		}
		setField(v.Field(i), parsed)
		cfg.Sources[name] = rv.source
	}
	return nil
}

func setField(f reflect.Value, parsed any) {
	switch x := parsed.(type) {
	case int64:
		f.SetInt(x)
	default:
		f.Set(reflect.ValueOf(parsed))
	}
}

// parseSettingValue turns a string (flag, env, default) or a TOML value into the setting's
// Go type: string, int64, float64, bool or []string. It never guesses: a TOML string for a
// number is an error, as is "80a" in the environment.
func parseSettingValue(s *setting, value any) (any, error) {
	var out any
	var err error
	switch val := value.(type) {
	case tomlTyped:
		out, err = convertTOMLValue(s, val.v)
	case string:
		out, err = parseSettingString(s, val)
	default:
		return nil, fmt.Errorf("unsupported value %v", value)
	}
	if err != nil {
		return nil, err
	}
	return out, checkRange(s, out)
}

func parseSettingString(s *setting, val string) (any, error) {
	trimmed := strings.TrimSpace(val)
	switch s.kind {
	case kindString:
		return val, nil
	case kindInt:
		n, err := strconv.ParseInt(trimmed, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected an integer, got %q", val)
		}
		return n, nil
	case kindFloat:
		f, err := strconv.ParseFloat(trimmed, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("expected a number of seconds, got %q", val)
		}
		return f, nil
	case kindBool:
		return parseBool(val)
	default:
		return parseList(val)
	}
}

func parseBool(val string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(val)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("expected a boolean (1/0, true/false, yes/no, on/off), got %q", val)
}

// parseList reads a list from the environment: a JSON array of strings, or a
// comma-separated string (items trimmed, empty items dropped).
func parseList(val string) ([]string, error) {
	trimmed := strings.TrimSpace(val)
	if strings.HasPrefix(trimmed, "[") {
		var items []string
		if err := json.Unmarshal([]byte(trimmed), &items); err != nil {
			return nil, fmt.Errorf("expected a JSON array of strings, got %q", val)
		}
		return items, nil
	}
	items := []string{}
	for _, item := range strings.Split(trimmed, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items, nil
}

// tomlTyped marks a value that came from fluxlit.toml: it keeps its TOML type, so a quoted
// "8000" for an integer setting is an error rather than a string parsed like the environment.
type tomlTyped struct{ v any }

func convertTOMLValue(s *setting, val any) (any, error) {
	switch s.kind {
	case kindString:
		if str, ok := val.(string); ok {
			return str, nil
		}
		if n, ok := val.(int64); ok && s.orInt {
			return strconv.FormatInt(n, 10), nil
		}
	case kindInt:
		if n, ok := val.(int64); ok {
			return n, nil
		}
	case kindFloat:
		switch n := val.(type) {
		case int64:
			return float64(n), nil
		case float64:
			if !math.IsNaN(n) && !math.IsInf(n, 0) {
				return n, nil
			}
		}
	case kindBool:
		if b, ok := val.(bool); ok {
			return b, nil
		}
	case kindList:
		if str, ok := val.(string); ok {
			return []string{str}, nil // one value for a list setting: jwt_audience = "api"
		}
		if arr, ok := val.([]any); ok {
			items := make([]string, 0, len(arr))
			for _, item := range arr {
				str, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("expected a list of strings, got an item %s", tomlDescribe(item))
				}
				items = append(items, str)
			}
			return items, nil
		}
	}
	return nil, fmt.Errorf("expected %s, got %s", s.kind, tomlDescribe(val))
}

func tomlDescribe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any:
		return "an array"
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func checkRange(s *setting, v any) error {
	if s.min == 0 && s.max == 0 {
		return nil
	}
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	if f < s.min || f > s.max {
		return fmt.Errorf("%v is out of range [%v, %v]", v, s.min, s.max)
	}
	return nil
}

// Durations derived from the seconds settings.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (c *Config) clientHeaderTimeout() time.Duration { return seconds(c.ClientHeaderTimeoutS) }
func (c *Config) clientBodyTimeout() time.Duration   { return seconds(c.ClientBodyTimeoutS) }
func (c *Config) clientSendTimeout() time.Duration   { return seconds(c.ClientSendTimeoutS) }
func (c *Config) sendTimeout() time.Duration         { return seconds(c.SendTimeoutS) }
func (c *Config) bodyTimeout() time.Duration         { return seconds(c.BodyTimeoutS) }
func (c *Config) connectTimeout() time.Duration      { return seconds(c.ConnectTimeoutS) }
func (c *Config) readTimeout() time.Duration         { return seconds(c.ReadTimeoutS) }
func (c *Config) shutdownTimeout() time.Duration     { return seconds(c.ShutdownTimeoutS) }

// listenAddr is the public listener address.
func (c *Config) listenAddr() string {
	return net.JoinHostPort(c.GatewayHost, strconv.Itoa(c.GatewayPort))
}

// publicMount is the browser-visible prefix of the API: root_path + api_mount_path.
func (c *Config) publicAPIMount() string { return c.RootPath + c.APIMountPath }

// internalAPIBase is FLUXLIT_INTERNAL_API_BASE: the API mount over loopback, for children.
// An unspecified listen address (0.0.0.0, ::) is reached through 127.0.0.1.
func (c *Config) internalAPIBase(port int) string {
	host := c.GatewayHost
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + c.publicAPIMount()
}

// redactedSettings returns every setting's effective value as text, secrets replaced.
func (c *Config) redactedSettings() map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("setting")
		if name == "" {
			continue
		}
		val := v.Field(i).Interface()
		if isSecretSetting(name) && !v.Field(i).IsZero() {
			val = "[REDACTED]"
		}
		if name == "jwt_jwks_url" || name == "public_base_url" || strings.HasSuffix(name, "_upstream") {
			val = redactURLCredentials(fmt.Sprint(val))
		}
		out[name] = val
	}
	return out
}

func redactURLCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("[REDACTED]")
	return u.String()
}

// settingNames lists every setting in table order (for help and the doctor).
func settingNames() []string {
	names := make([]string, len(settingsTable))
	for i, s := range settingsTable {
		names[i] = s.name
	}
	return names
}
