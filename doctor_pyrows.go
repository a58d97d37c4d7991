// doctor_pyrows.go owns the doctor rows Python FluxLit 0.13 has that fluxlit added for
// parity (fluxlit_auth_extra, fluxlit_metrics_extra, config.url_session,
// async_depends_streamlit, streamlit_upstream_state, pages_validate, experimental_yield_pages),
// and the rows that tell a Python FluxLit user where fluxlit deliberately differs
// (python_settings, binding_precedence, project_file_mount).

package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// doctorAuthEnv lists the FLUXLIT_JWT_* and FLUXLIT_OIDC_* variables that are set: Python
// FluxLit's test for "JWT/OIDC env present".
func doctorAuthEnv(env map[string]string) []string {
	var names []string
	for k, v := range env {
		if strings.TrimSpace(v) != "" && (strings.HasPrefix(k, "FLUXLIT_JWT_") || strings.HasPrefix(k, "FLUXLIT_OIDC_")) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// doctorAuthExtra: with JWT/OIDC settings in the environment, a FluxLit app checks tokens with
// PyJWT (fluxlit[auth]); fluxlit's own edge check needs nothing from Python.
func doctorAuthExtra(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "fluxlit_auth_extra"
	if len(doctorAuthEnv(env)) == 0 {
		return nil
	}
	return doctorPyRow(name, d, func(py doctorPython) []doctorRow {
		switch {
		case py.Report.Extras.PyJWT:
			return doctorOne(name, doctorPass, "PyJWT importable (fluxlit[auth])")
		case py.Report.FluxLit:
			return doctorOne(name, doctorFail, fmt.Sprintf("JWT/OIDC env vars set but PyJWT is missing in %s; pip install 'fluxlit[auth]'", py.Path))
		}
		return doctorOne(name, doctorPass, "PyJWT is not installed; fluxlit checks tokens at the edge (jwt_protect) without it, only a FluxLit app's own checks need it")
	})
}

// doctorMetricsExtra: Python FluxLit needs prometheus-client for its metrics; fluxlit writes
// them itself.
func doctorMetricsExtra(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if !c.Metrics {
		return nil
	}
	return doctorOne("fluxlit_metrics_extra", doctorPass, "fluxlit serves the metrics itself at "+c.MetricsPath+"; prometheus-client is not needed")
}

// doctorURLSession is Python FluxLit's config.url_session row, in its words.
func doctorURLSession(c *Config, env map[string]string) doctorRow {
	pyBool := func(name string) string {
		if env[name] != "" {
			return "True"
		}
		return "False"
	}
	return doctorRow{Name: "config.url_session", Status: doctorPass,
		Detail: fmt.Sprintf("param=%s; tests=%s; disabled=%s", pyRepr(c.URLSessionQuery), pyBool("FLUXLIT_TESTS"), pyBool("FLUXLIT_DISABLE_URL_SESSION"))}
}

// pyRepr quotes s as Python's repr does for a plain string.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func doctorAsyncDepends(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "async_depends_streamlit"
	if on, _ := c.PythonOnly["async_page_depends"].(bool); on {
		return doctorOne(name, doctorWarn, "Async Depends enabled — deps may run on an isolated thread loop; avoid thread-unsafe globals")
	}
	return doctorOne(name, doctorPass, "async page Depends disabled (FLUXLIT_ASYNC_PAGE_DEPENDS unset)")
}

// doctorStreamlitUpstreamState checks Python FluxLit's FLUXLIT_STREAMLIT_UPSTREAM_FILE (the
// file its runtime writes the Streamlit URL to). fluxlit does not use it, but a process that
// reads it (Python FluxLit's gateway factory) does.
func doctorStreamlitUpstreamState(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	const name = "streamlit_upstream_state"
	p := strings.TrimSpace(env["FLUXLIT_STREAMLIT_UPSTREAM_FILE"])
	if p == "" {
		return nil
	}
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return doctorOne(name, doctorFail, "state file missing: "+p+"; unset FLUXLIT_STREAMLIT_UPSTREAM_FILE (fluxlit does not use it) or start what writes it")
	case err != nil:
		return doctorOne(name, doctorFail, fmt.Sprintf("cannot read the state file %s (%s)", p, errText(err)))
	case strings.TrimSpace(string(data)) == "":
		return doctorOne(name, doctorWarn, "state file is empty: "+p)
	}
	if d.Build {
		return doctorOne(name, doctorSkip, "not checked with --build: the URL in "+p+" is reached from the deployment's network")
	}
	raw := strings.TrimSpace(string(data))
	network, addr, err := doctorUpstreamAddr(raw)
	if err == nil {
		var conn net.Conn
		if conn, err = net.DialTimeout(network, addr, d.DialTimeout); err == nil {
			conn.Close()
			return doctorOne(name, doctorPass, addr+" reachable")
		}
	}
	return doctorOne(name, doctorWarn, fmt.Sprintf("%s unreachable (%s)", raw, errText(doctorUnwrapDial(err))))
}

// doctorPagesValidate runs Python FluxLit's page validation on a FluxLit app (--check-pages,
// --verbose), as its doctor does.
func doctorPagesValidate(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if !d.Pages || d.py.Skip != "" || d.py.Err != "" || !d.py.Report.PagesChecked {
		return nil
	}
	r := d.py.Report
	rows := doctorOne("pages_validate", doctorPass, "manifest JSON-serializable and page signature checks passed")
	if len(r.PageErrors) > 0 {
		rows = doctorOne("pages_validate", doctorFail, strings.Join(r.PageErrors, "; "))
	}
	if r.YieldPages {
		rows = append(rows, doctorRow{Name: "experimental_yield_pages", Status: doctorWarn, Detail: "FLUXLIT_EXPERIMENTAL_YIELD_PAGES is on — generator pages are experimental"})
	}
	return rows
}

// doctorPythonSettings lists the Python FluxLit settings this configuration sets that mean
// nothing to fluxlit, with why (also the start-up warnings).
func doctorPythonSettings(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	var lines []string
	for _, w := range c.Warnings {
		if w.Code == "python_setting_ignored" {
			lines = append(lines, w.Msg)
		}
	}
	if len(lines) == 0 {
		return doctorOne("python_settings", doctorPass, "every Python FluxLit setting given has its effect in fluxlit")
	}
	return doctorOne("python_settings", doctorWarn, strings.Join(lines, "; ")+"; remove them, or see the README's migration section")
}

// doctorBindingPrecedence: Python FluxLit 0.13 took gateway_host, gateway_port and log_level
// from the project file before the environment; fluxlit has one order for every setting
// (environment first). Where both give a value, the project behaves differently.
func doctorBindingPrecedence(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if len(c.Shadowed) == 0 {
		return nil
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(c.Shadowed)) {
		s := c.Shadowed[name]
		parts = append(parts, fmt.Sprintf("%s: %s (%v) wins over %s (%s), which Python FluxLit 0.13 used", name, s.Winner, settingFieldValue(c, name), s.FileWhere, s.FileValue))
	}
	return doctorOne("binding_precedence", doctorWarn, strings.Join(parts, "; ")+"; keep one of the two")
}

// doctorProjectFileMount: Python FluxLit 0.13 read api_mount_path and root_path from its
// project file but did not apply them (its "project_file_mount_not_merged" warning); fluxlit
// applies them, so a FluxLit app's URLs move.
func doctorProjectFileMount(c *Config, env map[string]string, d doctorDeps) []doctorRow {
	if c.App == nil || c.ConfigFile == "" {
		return nil
	}
	file := filepath.Base(c.ConfigFile) + ":"
	var set []string
	for _, name := range []string{"api_mount_path", "root_path"} {
		if strings.HasPrefix(c.Sources[name], file) {
			set = append(set, fmt.Sprintf("%s %q (%s)", name, settingFieldValue(c, name), c.Sources[name]))
		}
	}
	if len(set) == 0 {
		return nil
	}
	return doctorOne("project_file_mount", doctorWarn, strings.Join(set, ", ")+" is applied; Python FluxLit 0.13 ignored it in the project file (project_file_mount_not_merged), so the app's URLs differ from Python's; keep it if that is what you meant")
}
