// configsrc.go owns reading the project file into raw setting values: fluxlit.toml (or
// --config / FLUXLIT_CONFIG), else the [tool.fluxlit] table of pyproject.toml, as Python
// FluxLit 0.13 finds them. The .env file is read by dotenv.go; precedence is config.go's.

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// pyFileKeys are the keys Python FluxLit 0.13 reads from its project file
// (fluxlit/config/project.py). For these, a value it accepted is accepted (gateway_port =
// "8000") and a value it skipped (gateway_port = true) is skipped with a warning.
var pyFileKeys = []string{"target", "gateway_host", "gateway_port", "log_level", "api_mount_path", "root_path"}

// projectFile is what a project file contributed: values by setting name, and the keys that
// are no setting (warnings, or errors under strict_config).
type projectFile struct {
	values  map[string]rawValue
	unknown []unknownKey
}

type unknownKey struct{ where, key string }

// readProjectFile finds and reads the project file. A missing default fluxlit.toml is fine
// (pyproject.toml is tried next); a missing file the user named is an error. A file that is
// not valid TOML is an error in both cases, where Python FluxLit silently ignored the whole
// file: ignoring it could drop a security setting (jwt_protect) without a word.
func readProjectFile(in loadInput, env map[string]string, cfg *Config) (projectFile, error) {
	path, explicit := in.ConfigPath, in.ConfigPath != ""
	if !explicit && env["FLUXLIT_CONFIG"] != "" {
		path, explicit = env["FLUXLIT_CONFIG"], true
	}
	if path == "" {
		path = filepath.Join(in.WorkDir, "fluxlit.toml")
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(in.WorkDir, path)
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return parseProjectFile(path, data, false, cfg)
	case !errors.Is(err, os.ErrNotExist) || explicit:
		return projectFile{}, &configError{Where: path, Msg: "cannot read configuration file: " + errText(err)}
	}
	pyproject := filepath.Join(in.WorkDir, "pyproject.toml")
	data, err = os.ReadFile(pyproject)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return projectFile{}, nil
	case err != nil:
		return projectFile{}, &configError{Where: pyproject, Msg: "cannot read: " + errText(err)}
	}
	return parseProjectFile(pyproject, data, true, cfg)
}

// parseProjectFile turns a parsed file into raw values. In fluxlit.toml every key is a
// setting (a "tool.fluxlit." prefix is allowed, so a [tool.fluxlit] table copied from
// pyproject.toml works); in pyproject.toml only the keys under [tool.fluxlit] are.
func parseProjectFile(path string, data []byte, pyproject bool, cfg *Config) (projectFile, error) {
	name := filepath.Base(path)
	entries, err := parseTOML(data)
	if err != nil {
		var te *tomlError
		if errors.As(err, &te) {
			return projectFile{}, &configError{Where: fmt.Sprintf("%s:%d:%d", name, te.Line, te.Col), Msg: te.Msg}
		}
		return projectFile{}, &configError{Where: name, Msg: err.Error()}
	}
	pf := projectFile{values: map[string]rawValue{}}
	for _, e := range entries {
		key, inTool := strings.CutPrefix(e.Key, "tool.fluxlit.")
		if pyproject && !inTool {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, e.Line)
		parts := tomlSplitKey(key)
		s := settingsByName[parts[0]]
		switch {
		case s != nil && len(parts) == 1:
			pf.values[key] = rawValue{value: tomlTyped{v: e.Value, lax: slices.Contains(pyFileKeys, key)}, source: where, where: where}
		case s != nil && s.kind == kindDict:
			// streamlit_page_config = { layout = "wide" } arrives flattened: rebuild the table.
			rv, ok := pf.values[parts[0]]
			if !ok {
				rv = rawValue{value: tomlTyped{v: map[string]any{}}, source: where, where: where}
				pf.values[parts[0]] = rv
			}
			tomlSetNested(rv.value.(tomlTyped).v.(map[string]any), parts[1:], e.Value)
		default:
			pf.unknown = append(pf.unknown, unknownKey{where: where, key: key})
		}
	}
	if pyproject && len(pf.values) == 0 && len(pf.unknown) == 0 {
		return pf, nil // no [tool.fluxlit]: not fluxlit's file
	}
	cfg.ConfigFile = path
	cfg.ProjectDir = filepath.Dir(path)
	return pf, nil
}
