// configcmd.go owns "fluxlit config" (the effective configuration with each value's source,
// secrets redacted) and "fluxlit shutdown" (stop the instance named by the pidfile).

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

func configCommand(args []string, stdout, stderr io.Writer) int {
	cf := newCommandFlags("config", stderr)
	asJSON := cf.fs.Bool("json", false, "")
	strict := cf.fs.Bool("strict", false, "")
	describe := cf.fs.Bool("describe", false, "")
	if in, err := cf.parse(args); err == nil && *describe {
		if in.Positional != "" {
			return usageError(stderr, fmt.Errorf("fluxlit config: --describe takes no argument (got %q)", in.Positional))
		}
		writeSettingsDescribe(stdout) // the settings themselves, from the table: no project needed
		return 0
	}
	cfg, code := cf.load(args, nil, stderr)
	if cfg == nil {
		return code
	}
	warnings := configWarnings(cfg, envMap(os.Environ()))
	if *asJSON {
		writeConfigJSON(stdout, cfg, warnings)
	} else {
		writeConfigText(stdout, cfg, warnings)
	}
	// Python FluxLit's rule: an error-level warning exits 1; --strict, any warning.
	for _, w := range warnings {
		if w.Level == "error" || *strict {
			return 1
		}
	}
	return 0
}

// configWarningJSON is one warning as Python FluxLit's "fluxlit config --json" writes it.
type configWarningJSON struct {
	Level   string `json:"level"` // "warn" or "error"
	Code    string `json:"code"`
	Message string `json:"message"`
	Doc     string `json:"doc"`
}

// configDocs is where the README explains each kind of warning.
const (
	configDocConfiguration = "README.md#configuration"
	configDocSecurity      = "README.md#security"
	configDocMigration     = "README.md#migrating-from-python-fluxlit"
)

// configWarnings is everything "fluxlit config" warns about: the loader's warnings, unknown
// FLUXLIT_* variables, and Python FluxLit's configuration advisories (same codes, so scripts
// that read them keep working).
func configWarnings(cfg *Config, env map[string]string) []configWarningJSON {
	var out []configWarningJSON
	add := func(level, code, doc, msg string) {
		out = append(out, configWarningJSON{Level: level, Code: code, Message: msg, Doc: doc})
	}
	for _, w := range cfg.Warnings {
		doc := configDocConfiguration
		if w.Code == "python_setting_ignored" || w.Code == "unknown_key" || w.Code == "project_file_value_skipped" {
			doc = configDocMigration
		}
		add("warn", w.Code, doc, w.Msg)
	}
	for _, line := range cfg.UnknownEnv {
		add("warn", "unknown_env", configDocConfiguration, line)
	}
	if cfg.AppErr != "" {
		add("warn", "app_settings_unread", configDocConfiguration, "settings in the app's code were not read: "+cfg.AppErr)
	}
	if internal := strings.TrimSpace(env["FLUXLIT_INTERNAL_API_BASE"]); internal != "" {
		u, err := url.Parse(internal)
		switch {
		case err != nil || u.Scheme == "" || u.Host == "":
			add("error", "internal_api_base_invalid", configDocConfiguration, "FLUXLIT_INTERNAL_API_BASE is set but is not a valid absolute URL; unset it (fluxlit sets it for its children)")
		case strings.TrimSuffix(u.Path, "/") != cfg.APIMountPath && strings.TrimSuffix(u.Path, "/") != cfg.publicAPIMount():
			add("warn", "internal_api_base_path", configDocConfiguration, fmt.Sprintf("FLUXLIT_INTERNAL_API_BASE path %q should match api_mount_path %q for Streamlit → API calls", strings.TrimSuffix(u.Path, "/"), cfg.publicAPIMount()))
		case strings.TrimSuffix(internal, "/") != cfg.internalAPIBase(cfg.GatewayPort):
			add("warn", "internal_api_base_mismatch", configDocConfiguration, fmt.Sprintf("FLUXLIT_INTERNAL_API_BASE differs from the URL fluxlit gives its children (%s); unset it", cfg.internalAPIBase(cfg.GatewayPort)))
		}
	}
	if cfg.TrustProxy && (len(cfg.ForwardedAllowIPs) == 0 || slices.Contains(cfg.ForwardedAllowIPs, "*")) {
		add("warn", "forwarded_allow_ips_broad", configDocSecurity, "trust_proxy is on and forwarded_allow_ips is unset (loopback proxies only) or \"*\" (everyone); list your reverse proxy's addresses")
	}
	if u, err := url.Parse(cfg.PublicBaseURL); cfg.PublicBaseURL != "" && err == nil {
		if p := strings.TrimSuffix(u.Path, "/"); cfg.RootPath != "" && p != "" && p != cfg.RootPath {
			add("warn", "public_base_url_path_mismatch", configDocConfiguration, fmt.Sprintf("public_base_url path %q does not match public mount %q: OAuth redirects and absolute links may be wrong", p, cfg.RootPath))
		}
	}
	if cfg.RootPath != "" && cfg.PublicBaseURL == "" {
		add("warn", "oauth_public_base_url", configDocConfiguration, "a subpath (root_path) is set but public_base_url is empty: set FLUXLIT_PUBLIC_BASE_URL for correct OAuth redirect_uri behind a reverse proxy")
	}
	if cfg.RootPath != "" && !cfg.TrustProxy {
		add("warn", "subpath_without_trust_proxy", configDocSecurity, "root_path is set but trust_proxy is off: behind a proxy set FLUXLIT_TRUST_PROXY=1 (or pass --proxy-headers) so forwarded host/proto are seen")
	}
	if len(cfg.CORSAllowOrigins) > 0 && !cfg.EnableSecurityHeader {
		add("warn", "cors_without_security_headers", configDocSecurity, "CORS is on but security headers are off: consider FLUXLIT_ENABLE_SECURITY_HEADERS=1")
	}
	if pc, _ := cfg.PythonOnly["streamlit_page_config"].(map[string]any); cfg.EnableSecurityHeader && pc["csp"] != nil {
		add("warn", "csp_with_security_headers", configDocSecurity, "both enable_security_headers and a streamlit_page_config CSP hint are set: check they do not break Streamlit's WebSockets or assets")
	}
	if cfg.TrustProxy && cfg.MaxBodyBytes == 0 {
		add("warn", "gateway_max_body_unlimited_trust_proxy", configDocConfiguration, "trust_proxy is on and gateway_max_proxy_request_body_bytes is 0 (unlimited): set FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES for production")
	}
	return out
}

// configJSON is "fluxlit config --json": Python FluxLit's schema (target, binding,
// project_file, computed, settings as name -> value, warnings), plus fluxlit's "sources"
// (where each value came from) and "derived".
type configJSON struct {
	Target      string              `json:"target"`
	Binding     configBinding       `json:"binding"`
	ProjectFile map[string]any      `json:"project_file"`
	Computed    configComputed      `json:"computed"`
	Settings    map[string]any      `json:"settings"`
	Warnings    []configWarningJSON `json:"warnings"`
	Sources     map[string]string   `json:"sources"`
	Derived     map[string]string   `json:"derived"`
}

type configBinding struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	LogLevel string `json:"log_level"`
}

type configComputed struct {
	PublicMountPath        string  `json:"public_mount_path"`
	DerivedInternalAPIBase string  `json:"derived_internal_api_base"`
	AmbientInternalAPIBase *string `json:"ambient_internal_api_base"`
}

func configDerived(cfg *Config) map[string]string {
	port := cfg.GatewayPort
	return map[string]string{
		"internal_api_base": cfg.internalAPIBase(port),
		"public_mount":      cfg.publicAPIMount(),
		"config_file":       cfg.ConfigFile,
		"project_dir":       cfg.ProjectDir,
	}
}

// configProjectFile is what the project file set (name -> value, secrets redacted), or nil
// when there is no project file, as Python's "project_file".
func configProjectFile(cfg *Config) map[string]any {
	if cfg.ConfigFile == "" {
		return nil
	}
	values := cfg.redactedSettings()
	out := map[string]any{}
	file := filepath.Base(cfg.ConfigFile) + ":"
	for name, src := range cfg.Sources {
		if strings.HasPrefix(src, file) {
			out[name] = values[name]
		}
	}
	return out
}

func configReport(cfg *Config, warnings []configWarningJSON) configJSON {
	var ambient *string
	if v := strings.TrimSpace(os.Getenv("FLUXLIT_INTERNAL_API_BASE")); v != "" {
		ambient = &v
	}
	if warnings == nil {
		warnings = []configWarningJSON{}
	}
	return configJSON{
		Target:      cfg.Target,
		Binding:     configBinding{Host: cfg.GatewayHost, Port: cfg.GatewayPort, LogLevel: cfg.LogLevel},
		ProjectFile: configProjectFile(cfg),
		Computed:    configComputed{PublicMountPath: cfg.RootPath, DerivedInternalAPIBase: cfg.internalAPIBase(cfg.GatewayPort), AmbientInternalAPIBase: ambient},
		Settings:    cfg.redactedSettings(),
		Warnings:    warnings,
		Sources:     cfg.Sources,
		Derived:     configDerived(cfg),
	}
}

func writeConfigJSON(w io.Writer, cfg *Config, warnings []configWarningJSON) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(configReport(cfg, warnings))
}

// configRow is one setting as the text output and doctor --verbose show it.
type configRow struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

func configRows(cfg *Config) []configRow {
	values := cfg.redactedSettings()
	rows := make([]configRow, 0, len(values))
	for _, name := range settingNames() {
		rows = append(rows, configRow{Name: name, Value: values[name], Source: cfg.Sources[name]})
	}
	return rows
}

func writeConfigText(w io.Writer, cfg *Config, warnings []configWarningJSON) {
	rows := configRows(cfg)
	width := 0
	for _, r := range rows {
		width = max(width, len(r.Name))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s = %s  (%s)\n", width, r.Name, formatConfigValue(r.Value), r.Source)
	}
	fmt.Fprintln(w)
	derived := configDerived(cfg)
	keys := make([]string, 0, len(derived))
	for k := range derived {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%-*s = %s  (derived)\n", width, k, derived[k])
	}
	for _, warn := range warnings {
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(warn.Level), warn.Code, warn.Message)
	}
}

func formatConfigValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []string, map[string]any, nil:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// shutdownMain parses "fluxlit shutdown" flags; the pidfile comes from --pidfile,
// FLUXLIT_PIDFILE, the project's pidfile setting, else .fluxlit.pid.
func shutdownMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fluxlit shutdown", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pidfile := fs.String("pidfile", "", "")
	force := fs.Bool("force", false, "")
	fs.BoolVar(force, "f", false, "")
	wait := fs.Float64("wait", 15, "")
	if err := parseFlags(fs, args); err != nil {
		return usageError(stderr, err)
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Errorf("fluxlit shutdown: unexpected argument %q", fs.Arg(0)))
	}
	if *wait < 0 || *wait > 3600 {
		return usageError(stderr, fmt.Errorf("fluxlit shutdown: --wait %v is out of range [0, 3600]", *wait))
	}
	path := *pidfile
	if path == "" {
		wd, _ := os.Getwd()
		in := loadInput{Env: os.Environ(), WorkDir: wd}
		cfg, err := loadConfig(in)
		if err == nil {
			path = cfg.pidfilePath()
		} else {
			path = filepath.Join(wd, ".fluxlit.pid")
		}
		// Python FluxLit's default pidfile, for a runbook that started it there: used when
		// fluxlit's own default names no file.
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) && (err != nil || cfg.Sources["pidfile"] == "default") {
			if py := filepath.Join(wd, ".fluxlit-dev.pid"); fileExists(py) {
				path = py
			}
		}
	}
	return shutdownCommand(strings.TrimSpace(path), *force, seconds(*wait), stdout)
}

var _ = time.Second

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
