// pysettings.go owns what fluxlit does with the Python FluxLit 0.13 settings that are not
// plain gateway settings: the aliases it maps onto its own (streamlit_public_path,
// uvicorn_graceful_shutdown_timeout_s, cors_middleware_kwargs.max_age), the one-line WARN for
// each setting that means nothing to fluxlit, and the app settings it passes to the children.

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// applyPythonSettings maps the Python package's aliases onto fluxlit's settings (only when
// fluxlit's own setting was not given) and records a warning for each accepted setting that
// has no effect. It runs after every source is assigned and before validation.
func applyPythonSettings(c *Config) {
	given := func(name string) bool { return c.Sources[name] != "default" }
	if given("streamlit_public_path") && !given("root_path") && c.RootPath == "" {
		if p, _ := c.PythonOnlyOrField("streamlit_public_path").(string); p != "" {
			c.RootPath = p
			c.Sources["root_path"] = "streamlit_public_path (" + c.Sources["streamlit_public_path"] + ")"
		}
	}
	if given("uvicorn_graceful_shutdown_timeout_s") && !given("shutdown_timeout_s") {
		if v, _ := c.PythonOnlyOrField("uvicorn_graceful_shutdown_timeout_s").(float64); v >= 0 {
			// fluxlit's drain needs a moment to close tunnels with 1001; 0.1 s is its floor.
			c.ShutdownTimeoutS = max(v, 0.1)
			c.Sources["shutdown_timeout_s"] = "uvicorn_graceful_shutdown_timeout_s (" + c.Sources["uvicorn_graceful_shutdown_timeout_s"] + ")"
		}
	}
	if given("cors_middleware_kwargs") {
		applyCORSKwargs(c)
	}
	for _, s := range settingsTable {
		if s.role == roleIgnored && given(s.name) {
			c.Warnings = append(c.Warnings, configWarning{Code: "python_setting_ignored",
				Msg: fmt.Sprintf("%s: %s is accepted for Python FluxLit and has no effect: %s", c.Sources[s.name], s.name, s.why)})
		}
	}
}

// PythonOnlyOrField is the effective value of a setting, with or without a Config field.
func (c *Config) PythonOnlyOrField(name string) any { return settingFieldValue(c, name) }

// corsKwargsOwned are the CORSMiddleware arguments Python FluxLit sets itself and drops from
// cors_middleware_kwargs; fluxlit's cors_* settings hold them.
var corsKwargsOwned = []string{"allow_origins", "allow_credentials", "allow_methods", "allow_headers"}

// applyCORSKwargs takes max_age into cors_max_age_s and warns about every other key.
func applyCORSKwargs(c *Config) {
	kwargs, _ := c.PythonOnly["cors_middleware_kwargs"].(map[string]any)
	where := c.Sources["cors_middleware_kwargs"]
	var ignored, unsupported []string
	for _, k := range slices.Sorted(maps.Keys(kwargs)) {
		switch {
		case k == "max_age":
			secs, ok := kwargs[k].(float64)
			if n, isInt := kwargs[k].(int64); isInt {
				secs, ok = float64(n), true
			}
			if !ok || secs < 0 || secs > 86400 || secs != math.Trunc(secs) {
				unsupported = append(unsupported, fmt.Sprintf("max_age %v (want whole seconds, 0 to 86400)", kwargs[k]))
			} else if c.Sources["cors_max_age_s"] == "default" {
				c.CORSMaxAgeS = int64(secs)
				c.Sources["cors_max_age_s"] = "cors_middleware_kwargs.max_age (" + where + ")"
			}
		case slices.Contains(corsKwargsOwned, k):
			ignored = append(ignored, k)
		default:
			unsupported = append(unsupported, k)
		}
	}
	if len(ignored) > 0 {
		c.Warnings = append(c.Warnings, configWarning{Code: "python_setting_ignored",
			Msg: fmt.Sprintf("%s: cors_middleware_kwargs %s ignored, as in Python FluxLit; set cors_allow_* instead", where, strings.Join(ignored, ", "))})
	}
	if len(unsupported) > 0 {
		c.Warnings = append(c.Warnings, configWarning{Code: "python_setting_ignored",
			Msg: fmt.Sprintf("%s: cors_middleware_kwargs %s has no effect: fluxlit answers CORS at the edge and supports max_age only (cors_max_age_s)", where, strings.Join(unsupported, ", "))})
	}
}

// appSettingsEnv is the environment a FluxLit app in the children needs for the settings
// only it reads (title, streamlit_page_config, ...), when fluxlit got them from the project
// file or a flag: the app reads FLUXLIT_* and .env itself, so values from there already reach
// it. Values are written as pydantic-settings reads them (lists and tables as JSON).
func (c *Config) appSettingsEnv() map[string]string {
	out := map[string]string{}
	for _, s := range settingsTable {
		src := c.Sources[s.name]
		if s.role != roleApp || s.secret || src == "default" || strings.HasPrefix(src, "env ") || strings.HasPrefix(src, ".env") {
			continue
		}
		out["FLUXLIT_"+strings.ToUpper(s.name)] = envText(settingFieldValue(c, s.name))
	}
	return out
}

// envText writes a parsed setting value in the environment's syntax.
func envText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// pythonSettingNames lists the settings of Python FluxLit 0.13, sorted.
func pythonSettingNames() []string {
	var names []string
	for _, s := range settingsTable {
		if s.py {
			names = append(names, s.name)
		}
	}
	sort.Strings(names)
	return names
}
