// doctor_python.go owns doctor's Python rows: which children need the interpreter, the one
// probe run (a script given to the configured python with a timeout, answering in JSON), and
// the rows read from its answer (python_version, sys_path_head, import_*, dependencies,
// streamlit_version); doctor_pyrows.go reads the rest of it (extras, pages).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// doctorPython is the interpreter's answer, or why there is none.
type doctorPython struct {
	Skip   string // why no Python row applies ("" when the probe ran)
	Path   string // the interpreter that ran
	Err    string // interpreter missing, timed out, or no report: the python row's FAIL detail
	API    bool   // fluxlit runs the API with Python (uvicorn TARGET)
	UI     bool   // fluxlit runs Streamlit with Python
	Report doctorPyReport
}

// doctorPyReport is the JSON the probe script prints.
type doctorPyReport struct {
	Version      string            `json:"version"`
	Modules      map[string]string `json:"modules"`       // importable module -> __version__
	ImportErrors map[string]string `json:"import_errors"` // module -> one-line exception
	TargetError  string            `json:"target_error"`  // "" when TARGET imported
	TargetFile   string            `json:"target_file"`
	TargetSecs   float64           `json:"target_seconds"` // how long importing TARGET took
	Candidates   []string          `json:"candidates"`     // files the top-level module could load from
	Shadowed     []string          `json:"shadowed"`       // dependencies with a same-named file in the project
	SysPathHead  []string          `json:"sys_path_head"`
	FluxLit      bool              `json:"fluxlit"` // the target is a Python FluxLit object
	Extras       struct {
		PyJWT            bool `json:"pyjwt_available"`
		PrometheusClient bool `json:"prometheus_client_available"`
		AppTestOK        bool `json:"streamlit_apptest_version_ok"`
	} `json:"extras"`
	OpenAPI      map[string]*string  `json:"openapi"` // the API object's openapi_url, docs_url, redoc_url
	Pages        []map[string]string `json:"pages"`   // a FluxLit app's pages: path, title, handler
	PagesChecked bool                `json:"pages_checked"`
	PageErrors   []string            `json:"page_errors"` // Python FluxLit's validate_fluxlit_pages
	YieldPages   bool                `json:"yield_pages"` // experimental_yield_pages is on for the app
}

// doctorProbeScript runs inside the configured interpreter. argv: TARGET ("" for none), the
// project directory, the comma-separated modules to import, and "1" to validate a FluxLit
// app's pages with Python FluxLit's own code (doctor --check-pages / --verbose). User code may
// print, so stdout is swapped for stderr until the report is written. No f-strings: an old
// Python must still answer with a version rather than a SyntaxError.
const doctorProbeScript = `
import importlib, importlib.util, json, os, sys, time
out_stream = sys.stdout
sys.stdout = sys.stderr
target, project, wanted, check_pages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
sys.path.insert(0, project)
rep = {"version": sys.version.split()[0], "modules": {}, "import_errors": {},
       "target_error": "", "target_file": "", "candidates": [], "shadowed": [],
       "sys_path_head": [(p or ".") for p in sys.path[:3]], "fluxlit": False, "extras": {},
       "openapi": {}, "pages": [], "pages_checked": False, "page_errors": [], "yield_pages": False}
def one_line(e):
    lines = str(e).strip().splitlines()
    return type(e).__name__ + (": " + lines[0] if lines else "")
def has(name):
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False
def imports(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:
        return False
for dep in ("uvicorn", "fastapi", "starlette", "streamlit"):
    if os.path.isfile(os.path.join(project, dep + ".py")) or os.path.isfile(os.path.join(project, dep, "__init__.py")):
        rep["shadowed"].append(dep)
for dep in [w for w in wanted.split(",") if w]:
    try:
        m = importlib.import_module(dep)
        rep["modules"][dep] = str(getattr(m, "__version__", ""))
    except BaseException as e:
        rep["import_errors"][dep] = one_line(e)
rep["extras"]["pyjwt_available"] = imports("jwt")  # as Python FluxLit's doctor: import it
rep["extras"]["prometheus_client_available"] = has("prometheus_client")
try:
    v = rep["modules"].get("streamlit") or ""
    rep["extras"]["streamlit_apptest_version_ok"] = tuple(int(x) for x in v.split(".")[:2]) >= (1, 30)
except Exception:
    rep["extras"]["streamlit_apptest_version_ok"] = False
obj = None
if target:
    mod, _, attr = target.partition(":")
    top = mod.split(".")[0]
    for p in sys.path:
        base = os.path.abspath(p or ".")
        for c in (os.path.join(base, top + ".py"), os.path.join(base, top, "__init__.py")):
            if os.path.isfile(c) and c not in rep["candidates"]:
                rep["candidates"].append(c)
    started = time.time()
    try:
        m = importlib.import_module(mod)
        rep["target_file"] = str(getattr(m, "__file__", "") or "")
        obj = m
        for part in [a for a in attr.split(".") if a]:
            obj = getattr(obj, part)
        flapp = sys.modules.get("fluxlit.app")
        rep["fluxlit"] = flapp is not None and isinstance(obj, flapp.FluxLit)
        if not rep["fluxlit"] and not callable(obj):
            rep["target_error"] = target + " must resolve to a FluxLit instance or an ASGI app, not " + repr(type(obj).__name__)
    except BaseException as e:
        rep["target_error"] = one_line(e)
    rep["target_seconds"] = time.time() - started
if obj is not None and not rep["target_error"]:
    api = obj.api if rep["fluxlit"] else obj
    for k in ("openapi_url", "docs_url", "redoc_url"):
        v = getattr(api, k, None)
        rep["openapi"][k] = None if v is None or v is False else str(v)
if rep["fluxlit"]:
    try:
        for path, title, fn in obj.pages:
            mod_, qn = getattr(fn, "__module__", ""), getattr(fn, "__qualname__", "")
            rep["pages"].append({"path": path, "title": title, "handler": (mod_ + "." + qn) if mod_ else qn})
    except Exception:
        pass
    if check_pages:
        try:
            from fluxlit.pages.validate import validate_fluxlit_pages
            from fluxlit.pages.flags import FluxlitFeatureFlags
            rep["page_errors"] = [str(e) for e in validate_fluxlit_pages(obj, strict_signatures=None)]
            rep["yield_pages"] = bool(FluxlitFeatureFlags.from_environ().experimental_yield_pages or obj.settings.experimental_yield_pages)
            rep["pages_checked"] = True
        except BaseException as e:
            rep["page_errors"] = ["cannot run Python FluxLit's page validation: " + one_line(e)]
            rep["pages_checked"] = True
out_stream.write(json.dumps(rep) + "\n")
out_stream.flush()
`

// doctorPythonNeed says which children fluxlit would start with the Python interpreter.
func doctorPythonNeed(c *Config) (api, ui bool) {
	return c.APIUpstream == "" && len(c.APICommand) == 0, c.StreamlitUpstream == "" && len(c.StreamlitCommand) == 0
}

// doctorProbePython runs the probe script once, in the project directory, with the
// environment the children would get.
func doctorProbePython(c *Config, env map[string]string, d doctorDeps) doctorPython {
	py := doctorPython{}
	py.API, py.UI = doctorPythonNeed(c)
	if !py.API && !py.UI {
		py.Skip = "no child runs Python (the API is " + doctorHowRun(c.APIUpstream, "api") + " and Streamlit is " + doctorHowRun(c.StreamlitUpstream, "streamlit") + ")"
		return py
	}
	path, err := doctorLookPath(c.Python, env["PATH"], c.ProjectDir)
	if err != nil {
		py.Err = err.Error() + "; install Python 3 or set python (FLUXLIT_PYTHON) to your virtualenv's interpreter"
		return py
	}
	py.Path = path
	target, wanted := "", []string{}
	if py.API {
		target, wanted = c.Target, append(wanted, "uvicorn", "fastapi")
	}
	if py.UI {
		wanted = append(wanted, "streamlit")
	}
	timeout := d.PythonTimeout
	if timeout <= 0 {
		timeout = seconds(c.ChildReadyTimeoutS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pages := "0"
	if d.Pages {
		pages = "1"
	}
	cmd := exec.CommandContext(ctx, path, "-c", doctorProbeScript, target, c.ProjectDir, strings.Join(wanted, ","), pages)
	cmd.Dir = c.ProjectDir
	cmd.Env = doctorEnviron(env)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	// A module that starts a process on import could keep the pipe open; stop waiting then.
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		py.Err = fmt.Sprintf("%s did not answer within %v (child_ready_timeout_s, as long as a start may take): importing %s is that slow, or blocks; raise child_ready_timeout_s if it is slow, or move blocking start-up code out of the import (under a main guard, or into the app's lifespan)", path, timeout, c.Target)
		return py
	}
	if err := doctorParseReport(stdout.Bytes(), &py.Report); err != nil {
		py.Err = fmt.Sprintf("%s gave no report (%s); set python (FLUXLIT_PYTHON) to a Python 3 interpreter", path, doctorRunError(runErr, err))
	}
	return py
}

func doctorHowRun(upstream, name string) string {
	if upstream != "" {
		return name + "_upstream"
	}
	return name + "_command"
}

func doctorRunError(runErr, parseErr error) string {
	if runErr != nil {
		return errText(runErr)
	}
	return parseErr.Error()
}

// doctorParseReport reads the last non-empty line of the probe's stdout as its report.
func doctorParseReport(out []byte, rep *doctorPyReport) error {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return errors.New("empty output")
	}
	if err := json.Unmarshal([]byte(last), rep); err != nil {
		return errors.New("output is not the probe's JSON")
	}
	if rep.Version == "" {
		return errors.New("the report names no Python version")
	}
	return nil
}

// doctorEnviron turns the environment map back into a sorted os/exec environment.
func doctorEnviron(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// doctorLookPath finds an executable the way a child's argv[0] is found: a name with a slash
// is a path (relative to the project directory, the child's working directory), else each
// PATH entry is tried. PATH comes from the environment map, not the process.
func doctorLookPath(file, pathList, dir string) (string, error) {
	if file == "" {
		return "", errors.New("no command given")
	}
	if strings.ContainsRune(file, '/') {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if doctorExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s is not an executable file", p)
	}
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			continue // an empty entry means "the working directory": not where fluxlit looks
		}
		if p := filepath.Join(d, file); doctorExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", file)
}

func doctorExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// doctorPyRow is the common shape of the Python rows: SKIP without a probe, else fn's row.
func doctorPyRow(name string, d doctorDeps, fn func(py doctorPython) []doctorRow) []doctorRow {
	switch {
	case d.py.Skip != "":
		return doctorOne(name, doctorSkip, d.py.Skip)
	case d.py.Err != "":
		return doctorOne(name, doctorSkip, "needs the Python interpreter (see the python_version row)")
	}
	return fn(d.py)
}

// doctorPythonCheck is Python FluxLit's python_version row: the interpreter's version, and
// which interpreter it is (fluxlit runs the children with it, not with its own process).
func doctorPythonCheck(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	switch {
	case d.py.Skip != "":
		return doctorOne("python_version", doctorSkip, d.py.Skip)
	case d.py.Err != "":
		return doctorOne("python_version", doctorFail, d.py.Err)
	}
	return doctorOne("python_version", doctorPass, d.py.Report.Version+" ("+d.py.Path+")")
}

// doctorSysPathHead is Python FluxLit's sys_path_head: the first three import paths the
// children see (the project directory first, as uvicorn --app-dir puts it).
func doctorSysPathHead(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("sys_path_head", d, func(py doctorPython) []doctorRow {
		head := strings.Join(py.Report.SysPathHead, ", ")
		if head == "" {
			head = "(empty)"
		}
		return doctorOne("sys_path_head", doctorPass, head)
	})
}

const doctorNoAPI = "fluxlit does not run the API with Python (api_upstream or api_command is set)"

func doctorImportShadowing(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("import_shadowing", d, func(py doctorPython) []doctorRow {
		r := py.Report
		if len(r.Shadowed) > 0 {
			var files []string
			for _, s := range r.Shadowed {
				files = append(files, s+".py")
			}
			return doctorOne("import_shadowing", doctorWarn, fmt.Sprintf("%s in %s shadows the package of the same name; rename it", strings.Join(files, ", "), c.ProjectDir))
		}
		if !py.API {
			return doctorOne("import_shadowing", doctorPass, "no project file shadows uvicorn, fastapi, starlette or streamlit")
		}
		top := strings.Split(strings.SplitN(c.Target, ":", 2)[0], ".")[0]
		switch len(r.Candidates) {
		case 0:
			return doctorOne("import_shadowing", doctorPass, fmt.Sprintf("no top-level file/package candidates for %q on sys.path", top))
		case 1:
			return doctorOne("import_shadowing", doctorPass, fmt.Sprintf("%q resolves from %s", top, r.Candidates[0]))
		}
		shown := r.Candidates
		more := ""
		if len(shown) > 4 {
			shown, more = shown[:4], fmt.Sprintf(" (+%d more)", len(r.Candidates)-4)
		}
		return doctorOne("import_shadowing", doctorWarn, fmt.Sprintf("%q has %d candidates: %s%s; rename one or use a package target such as my_service.main:app", top, len(r.Candidates), strings.Join(shown, ", "), more))
	})
}

func doctorImportTarget(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("import_target", d, func(py doctorPython) []doctorRow {
		if !py.API {
			return doctorOne("import_target", doctorSkip, doctorNoAPI)
		}
		if py.Report.TargetError != "" {
			mod := strings.SplitN(c.Target, ":", 2)[0]
			return doctorOne("import_target", doctorFail, fmt.Sprintf("%s: %s; run %s -c 'import %s' in %s to see the traceback and fix it", c.Target, py.Report.TargetError, py.Path, mod, c.ProjectDir))
		}
		took := py.Report.TargetSecs
		switch {
		case took > c.ChildReadyTimeoutS/2:
			return doctorOne("import_target", doctorWarn, fmt.Sprintf("%s imports in %.1fs, over half of child_ready_timeout_s = %g: a busy machine may time a start out; raise child_ready_timeout_s", c.Target, took, c.ChildReadyTimeoutS))
		case took >= doctorSlowImportS:
			return doctorOne("import_target", doctorPass, fmt.Sprintf("%s (imports in %.1fs; a start waits up to child_ready_timeout_s = %g)", c.Target, took, c.ChildReadyTimeoutS))
		}
		return doctorOne("import_target", doctorPass, c.Target)
	})
}

// doctorSlowImportS: an import this slow is worth a word in the row (most apps import in
// well under a second; Streamlit's own import takes 1-3 s and is not the target).
const doctorSlowImportS = 2.0

func doctorImportModuleFile(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("import_module_file", d, func(py doctorPython) []doctorRow {
		switch {
		case !py.API:
			return doctorOne("import_module_file", doctorSkip, doctorNoAPI)
		case py.Report.TargetError != "":
			return nil // the Python package shows this row only when the import worked
		case py.Report.TargetFile == "":
			return doctorOne("import_module_file", doctorPass, "(not available)")
		}
		return doctorOne("import_module_file", doctorPass, py.Report.TargetFile)
	})
}

func doctorDependencies(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("dependencies", d, func(py doctorPython) []doctorRow {
		var need []string
		if py.API {
			need = append(need, "uvicorn")
		}
		if py.UI {
			need = append(need, "streamlit")
		}
		var missing []string
		for _, m := range need {
			if e, bad := py.Report.ImportErrors[m]; bad {
				missing = append(missing, m+" ("+e+")")
			}
		}
		if len(missing) > 0 {
			return doctorOne("dependencies", doctorFail, fmt.Sprintf("%s cannot import %s; install them into that interpreter (pip install) or set python to the one that has them", py.Path, strings.Join(missing, ", ")))
		}
		have := slices.Sorted(func(yield func(string) bool) {
			for m := range py.Report.Modules {
				if !yield(m) {
					return
				}
			}
		})
		detail := strings.Join(have, ", ") + " importable"
		if _, bad := py.Report.ImportErrors["fastapi"]; bad {
			detail += "; fastapi is not (fine unless " + c.Target + " is a FastAPI app)"
		}
		return doctorOne("dependencies", doctorPass, detail)
	})
}

func doctorStreamlitVersion(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	return doctorPyRow("streamlit_version", d, func(py doctorPython) []doctorRow {
		if !py.UI {
			return doctorOne("streamlit_version", doctorSkip, "fluxlit does not run Streamlit with Python (streamlit_upstream or streamlit_command is set)")
		}
		v, ok := py.Report.Modules["streamlit"]
		if !ok {
			return doctorOne("streamlit_version", doctorWarn, "streamlit is not importable (see dependencies); install streamlit>=1.36")
		}
		major, minor, err := doctorParseVersion(v)
		if err != nil {
			return doctorOne("streamlit_version", doctorWarn, fmt.Sprintf("cannot read streamlit.__version__ %q; reinstall streamlit>=1.36", v))
		}
		if major < doctorStreamlitMin[0] || major == doctorStreamlitMin[0] && minor < doctorStreamlitMin[1] {
			return doctorOne("streamlit_version", doctorWarn, fmt.Sprintf("Streamlit %s is older than %d.%d, the oldest fluxlit supports (FluxLit pages need st.navigation; FluxLit declares streamlit>=1.36); upgrade with pip install -U 'streamlit>=1.36'", v, doctorStreamlitMin[0], doctorStreamlitMin[1]))
		}
		return doctorOne("streamlit_version", doctorPass, v)
	})
}

// doctorParseVersion reads the major and minor numbers of a version such as "1.31.0",
// "1.40" or "1.41.0rc1".
func doctorParseVersion(v string) (major, minor int, err error) {
	parts := strings.SplitN(strings.TrimSpace(v), ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("version %q has no minor number", v)
	}
	major, err = strconv.Atoi(parts[0])
	if err != nil || major < 0 {
		return 0, 0, fmt.Errorf("version %q: bad major number", v)
	}
	digits := parts[1]
	if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = digits[:i]
	}
	minor, err = strconv.Atoi(digits)
	if err != nil {
		return 0, 0, fmt.Errorf("version %q: bad minor number", v)
	}
	return major, minor, nil
}
