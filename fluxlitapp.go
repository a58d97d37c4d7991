// fluxlitapp.go owns the FluxLit app model: deciding, before any child starts, whether target
// names a Python FluxLit object (one probe run in the configured interpreter), reading the
// settings its code declares (the configuration layer shown as "app.py"), and the children
// such a project runs: the API child on the object's FastAPI app (app.api) and the Streamlit
// child on FluxLit's own page entry script, with the environment Python FluxLit sets.
//
// A project whose interpreter cannot import the fluxlit package is a plain project (FastAPI +
// streamlit_app.py): the probe then only asks Python whether the package exists (~30 ms) and
// never imports the target.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fluxlitApp is what the probe learnt about a FluxLit target.
type fluxlitApp struct {
	Version       string   // the fluxlit package's __version__
	ModuleFile    string   // the target module's file
	StreamlitMain string   // FluxLit's page entry script (fluxlit.testing.streamlit_main_path())
	CodeSettings  []string // names of the settings read from the app's code, sorted
	Source        string   // how config names the code layer: the module file, relative to the project
	Pages         int      // the @app.page pages registered at import
}

// appProbeReport is the JSON the probe script prints.
type appProbeReport struct {
	Package        bool           `json:"package"`         // the fluxlit package is importable
	ImportsPackage bool           `json:"imports_package"` // without it, the target module imports fluxlit
	App            bool           `json:"app"`             // target is a fluxlit.app.FluxLit instance
	Type           string         `json:"type"`            // the target object's type
	Version        string         `json:"version"`
	ModuleFile     string         `json:"module_file"`
	StreamlitMain  string         `json:"streamlit_main"`
	Pages          int            `json:"pages"`
	Settings       map[string]any `json:"settings"` // FluxlitSettings fields the code set, as JSON
	Error          string         `json:"error"`    // one line: the target did not import
}

// appProbeScript runs in the configured interpreter with argv TARGET PROJECT_DIR, in the
// project directory and the children's environment. User code may print, so stdout is stderr
// until the one-line JSON report. The target is imported as uvicorn (dotted attributes) and
// Python FluxLit (a ./file.py module) do; a FluxLit instance needs fluxlit.app imported, so a
// target whose import did not load it is plain without importing fluxlit (about a second).
// The code-declared settings are the fields where app.settings differs from FluxlitSettings()
// built from the same environment and .env (with FluxLit's debug defaults merged, as
// FluxLit() does): FluxlitSettings(...) and FluxLit(title=..., ...) arguments.
const appProbeScript = `
import importlib, importlib.util, json, os, re, sys
out = sys.stdout
sys.stdout = sys.stderr
target, project = sys.argv[1], sys.argv[2]
if project not in sys.path:
    sys.path.insert(0, project)
rep = {"package": False, "imports_package": False, "app": False, "type": "", "version": "",
       "module_file": "", "streamlit_main": "", "pages": 0, "settings": {}, "error": ""}
def one_line(e):
    lines = str(e).strip().splitlines()
    return type(e).__name__ + (": " + lines[0] if lines else "")
def done():
    out.write(json.dumps(rep, default=str) + "\n")
    out.flush()
    os._exit(0)
mod_name, _, attr = target.partition(":")
by_file = mod_name.endswith(".py") or "/" in mod_name
def module_path():
    if by_file:
        return os.path.join(project, mod_name)
    rel = mod_name.replace(".", os.sep)
    for c in (os.path.join(project, rel + ".py"), os.path.join(project, rel, "__init__.py")):
        if os.path.isfile(c):
            return c
    return ""
try:
    rep["package"] = importlib.util.find_spec("fluxlit") is not None
except Exception:
    pass
if not rep["package"]:
    try:
        with open(module_path(), encoding="utf-8", errors="replace") as f:
            rep["imports_package"] = re.search(r"^\s*(from\s+fluxlit[\s.]|import\s+fluxlit\b)", f.read(), re.M) is not None
    except Exception:
        pass
    done()
try:
    if by_file:
        path = os.path.join(project, mod_name)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        m = importlib.util.module_from_spec(spec)
        sys.modules[name] = m
        spec.loader.exec_module(m)
    else:
        m = importlib.import_module(mod_name)
    rep["module_file"] = str(getattr(m, "__file__", "") or "")
    obj = m
    for part in [a for a in attr.split(".") if a]:
        obj = getattr(obj, part)
except BaseException as e:
    rep["error"] = one_line(e)
    done()
rep["type"] = type(obj).__module__ + "." + type(obj).__qualname__
flapp = sys.modules.get("fluxlit.app")
if flapp is None or not isinstance(obj, flapp.FluxLit):
    done()
rep["app"] = True
try:
    rep["pages"] = len(getattr(obj, "page_records", ()) or ())
    import fluxlit
    rep["version"] = str(getattr(fluxlit, "__version__", ""))
    try:
        from fluxlit.testing import streamlit_main_path
        rep["streamlit_main"] = str(streamlit_main_path())
    except ImportError:
        rep["streamlit_main"] = os.path.join(os.path.dirname(fluxlit.__file__), "streamlit", "main.py")
    from fluxlit.config import FluxlitSettings
    base = FluxlitSettings()
    try:
        from fluxlit.runtime.debug_settings import merge_debug_settings
        base = merge_debug_settings(base)
    except ImportError:
        pass
    for name in FluxlitSettings.model_fields:
        v = getattr(obj.settings, name, None)
        if v != getattr(base, name, None):
            rep["settings"][name] = v
except BaseException as e:
    rep["error"] = "reading the FluxLit app: " + one_line(e)
done()
`

// appCodeIgnored are FluxlitSettings fields that are not taken from code: which object to
// run and with what interpreter cannot come from the object itself, and Python FluxLit
// ignores streamlit_host/streamlit_port ("reserved"), which fluxlit would use as a fixed port.
var appCodeIgnored = map[string]bool{"target": true, "python": true, "streamlit_host": true, "streamlit_port": true}

// appProbeNeeded: only a child started with the configured interpreter's default command can
// be a FluxLit child; api_command, streamlit_command and the upstreams run something else.
func appProbeNeeded(c *Config) bool {
	api, ui := doctorPythonNeed(c)
	return api || ui
}

// loadAppConfig is loadConfig plus the FluxLit app layer: when a default child would run,
// the probe decides the app model and the settings the app's code declares join the
// configuration (between flags and the environment). A probe that cannot answer leaves the
// Config as loaded and says why in AppErr: run stops on it, config and doctor report it.
func loadAppConfig(in loadInput) (*Config, error) {
	return loadAppConfigWithin(in, 0)
}

// loadAppConfigWithin bounds the probe by timeout instead (doctor's interpreter bound); 0
// means child_ready_timeout_s.
func loadAppConfigWithin(in loadInput, timeout time.Duration) (*Config, error) {
	cfg, err := loadConfig(in)
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		timeout = seconds(cfg.ChildReadyTimeoutS)
	}
	if appProbeNeeded(cfg) {
		if cfg, err = loadApp(cfg, in, timeout); err != nil {
			return nil, err
		}
	}
	if err := appEdgeJWT(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadApp runs the probe for cfg and, for a FluxLit target, reloads with the app's code layer.
func loadApp(cfg *Config, in loadInput, timeout time.Duration) (*Config, error) {
	var err error
	rep, perr := runAppProbe(cfg, in.Env, timeout)
	if perr != nil {
		cfg.AppErr = perr.Error()
		return cfg, nil
	}
	// The target is the API child's: when fluxlit does not run the API, a target that does
	// not import only means the project is not a FluxLit one.
	apiChild, _ := doctorPythonNeed(cfg)
	if rep.Error != "" {
		if apiChild {
			mod, _, _ := strings.Cut(cfg.Target, ":")
			cfg.AppErr = fmt.Sprintf("cannot load %s: %s; run %s -c 'import %s' in %s to see the traceback", cfg.Target, rep.Error, cfg.Python, mod, cfg.ProjectDir)
		}
		return cfg, nil
	}
	if !rep.App {
		if rep.ImportsPackage && apiChild {
			cfg.AppErr = fmt.Sprintf("%s imports the Python package fluxlit, which %s cannot import; install it into that interpreter (pip install fluxlit) or set python (FLUXLIT_PYTHON) to one that has it", appModuleName(cfg.Target), cfg.Python)
		}
		return cfg, nil
	}
	app := &fluxlitApp{Version: rep.Version, ModuleFile: rep.ModuleFile, StreamlitMain: rep.StreamlitMain,
		Source: appSourceName(rep.ModuleFile, cfg.ProjectDir), Pages: rep.Pages}
	code := map[string]string{}
	names := make([]string, 0, len(rep.Settings))
	for name := range rep.Settings {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad value named is always the same one
	for _, name := range names {
		v := rep.Settings[name]
		if _, known := settingsByName[name]; !known || appCodeIgnored[name] || v == nil {
			continue
		}
		text, err := appEnvSyntax(v)
		if err != nil {
			return nil, &configError{Where: app.Source, Setting: name, Msg: err.Error()}
		}
		code[name] = text
		app.CodeSettings = append(app.CodeSettings, name)
	}
	if len(code) > 0 {
		in.Code, in.CodeSource = code, app.Source
		if cfg, err = loadConfig(in); err != nil {
			return nil, err
		}
	}
	cfg.App = app
	if w := appPagesUnserved(cfg); w != "" {
		cfg.Warnings = append(cfg.Warnings, configWarning{Code: "app_pages_unserved", Msg: w})
	}
	return cfg, nil
}

// appPagesUnserved says when a FluxLit app's @app.page pages will not be served because
// streamlit_script names a script of its own: explicit wins (a project may want its own
// entry), but a project that was a plain one (fluxlit new writes streamlit_app.py) and now
// registers pages would otherwise show the old script with no word why.
func appPagesUnserved(cfg *Config) string {
	if cfg.App == nil || cfg.App.Pages == 0 || appUsesPageEntry(cfg) {
		return ""
	}
	return fmt.Sprintf("%s registers %d @app.page page(s), which are not served: streamlit_script = %q (%s) runs instead; remove streamlit_script to serve them through FluxLit's page entry",
		cfg.App.Source, cfg.App.Pages, cfg.StreamlitScript, cfg.Sources["streamlit_script"])
}

// appSourceName is how config names the code layer: the module file relative to the project
// ("app.py", "service/main.py"), else its absolute path.
func appSourceName(file, project string) string {
	if file == "" {
		return "app code"
	}
	if rel, err := filepath.Rel(project, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return file
}

// appModuleName is the module part of a target, as a file name for messages.
func appModuleName(target string) string {
	mod, _, _ := strings.Cut(target, ":")
	if strings.HasSuffix(mod, ".py") {
		return mod
	}
	return strings.ReplaceAll(mod, ".", "/") + ".py"
}

// appEnvSyntax writes a value from Python (decoded JSON) the way the environment would carry
// it, so that a code value goes through the same parser and checks as FLUXLIT_<NAME>: lists
// and objects as JSON, numbers without an exponent, booleans as true/false.
func appEnvSyntax(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any, map[string]any:
		b, err := json.Marshal(x)
		return string(b), err
	}
	return "", fmt.Errorf("unsupported value %v from the app's code", v)
}

// runAppProbe runs appProbeScript with cfg's interpreter, bounded by timeout (the time a
// child may take to start, since importing the app is the first thing a child does).
func runAppProbe(cfg *Config, environ []string, timeout time.Duration) (appProbeReport, error) {
	var rep appProbeReport
	env := envMap(environ)
	path, err := doctorLookPath(cfg.Python, env["PATH"], cfg.ProjectDir)
	if err != nil {
		return rep, fmt.Errorf("cannot run the Python interpreter to load %s: %v; install Python 3 or set python (FLUXLIT_PYTHON) to your virtualenv's interpreter", cfg.Target, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-c", appProbeScript, cfg.Target, cfg.ProjectDir)
	cmd.Dir = cfg.ProjectDir
	cmd.Env = childEnv(environ, childContract(cfg, cfg.GatewayPort), func(string) bool { return false })
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Something the module started on import may hold the pipes open: stop waiting then.
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("importing %s with %s took longer than %v (child_ready_timeout_s for run); move slow start-up work out of import time, or raise child_ready_timeout_s", cfg.Target, path, timeout)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		why := lastLine(stderr.String())
		if why == "" && runErr != nil {
			why = runErr.Error()
		}
		return rep, fmt.Errorf("%s could not load %s (%s); set python (FLUXLIT_PYTHON) to a Python 3 interpreter", path, cfg.Target, why)
	}
	return rep, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// appAPIEntry runs a FluxLit object's FastAPI app under uvicorn, in the shape Python
// FluxLit's gateway hands it a request (gateway/paths.py strip_prefix_scope): the path
// relative to the API mount, root_path = the public API mount (so /api/docs loads
// /api/openapi.json); FastAPI's own root_path, when the app set one, still wins as in Python.
// argv: TARGET PUBLIC_API_MOUNT, then uvicorn's own flags. The object is loaded by
// fluxlit.runtime.load_fluxlit, as the page entry script loads it, and uvicorn serves it
// through a module registered under a name no project uses.
const appAPIEntry = `
import sys, types
target, mount = sys.argv[1], sys.argv[2]
sys.argv = ["uvicorn", "fluxlit_api_entry:app"] + sys.argv[3:]
from fluxlit.runtime import load_fluxlit
api = load_fluxlit(target).api
async def app(scope, receive, send):
    if scope["type"] in ("http", "websocket"):
        scope = dict(scope)
        scope["root_path"] = mount
    await api(scope, receive, send)
entry = types.ModuleType("fluxlit_api_entry")
entry.app = app
sys.modules["fluxlit_api_entry"] = entry
from uvicorn.main import main
main()
`

// appStreamlitFlags are the flags Python FluxLit gives its Streamlit child on top of
// fluxlit's own (runtime/streamlit_proc.py). fluxlit passes them to a FluxLit project's
// Streamlit child too, so its pages (and components) run as they did under Python; the
// README says how to turn XSRF protection back on.
var appStreamlitFlags = []string{"--server.enableXsrfProtection", "false", "--server.enableCORS", "false"}

// appUsesPageEntry: a FluxLit project's Streamlit child runs FluxLit's page entry unless the
// user named a streamlit_script of their own.
func appUsesPageEntry(cfg *Config) bool {
	return cfg.App != nil && cfg.Sources["streamlit_script"] == "default"
}

// appChildEnv is what Python FluxLit's runtime adds to a child's environment beyond the
// contract every child gets: FLUXLIT_DEBUG=1 when --debug was given (Python's `--debug` sets
// it for the process and its Streamlit child, so the app's settings.debug follows).
func appChildEnv(cfg *Config, contract map[string]string) map[string]string {
	if cfg.App != nil && cfg.Debug && cfg.Sources["debug"] == "flag" {
		contract["FLUXLIT_DEBUG"] = "1"
	}
	return contract
}

// appDescribe names what the app model decided, for the start-up log.
func appDescribe(cfg *Config) string {
	if cfg.App == nil {
		api, ui := doctorPythonNeed(cfg)
		var parts []string
		if api {
			parts = append(parts, "uvicorn "+cfg.Target)
		}
		if ui {
			parts = append(parts, "streamlit run "+cfg.StreamlitScript)
		}
		return "plain project: " + strings.Join(parts, ", ")
	}
	s := "FluxLit " + cfg.App.Version + " app " + cfg.Target
	if len(cfg.App.CodeSettings) > 0 {
		s += "; settings from " + cfg.App.Source + ": " + strings.Join(cfg.App.CodeSettings, ", ")
	}
	return s
}

// edgeKeySettings names the JWT key settings that are set, in table order.
func edgeKeySettings(c *Config) []string {
	var names []string
	for _, s := range []struct{ name, v string }{{"jwt_hs256_secret", c.JWTHS256Secret}, {"jwt_hs_secret_file", c.JWTHSSecretFile},
		{"jwt_public_key_file", c.JWTPublicKeyFile}, {"jwt_jwks_file", c.JWTJWKSFile}, {"jwt_jwks_url", c.JWTJWKSURL}} {
		if s.v != "" {
			names = append(names, s.name)
		}
	}
	return names
}

// appEdgeJWT decides what JWT key settings without jwt_protect mean. In a FluxLit project
// they are the app's own (FluxLit.make_jwt_bearer() reads them; the edge stays off). In a
// plain project they used to turn edge JWT on for the whole API: rather than silently stop
// checking tokens there, the configuration is refused until jwt_protect says which it is.
func appEdgeJWT(c *Config) error {
	keys := edgeKeySettings(c)
	if c.App != nil || c.AppErr != "" || len(keys) == 0 || c.Sources["jwt_protect"] != "default" {
		return nil
	}
	return &configError{Where: whereOf(c, keys[0]), Setting: keys[0], Msg: "set without jwt_protect, and edge JWT is on only where jwt_protect says: " +
		`set jwt_protect = ["/*"] to check tokens on the whole API as before, or jwt_protect = [] if the API checks its own`}
}
