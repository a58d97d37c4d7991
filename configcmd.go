// configcmd.go owns "fluxlit config" (the effective configuration with each value's source,
// secrets redacted) and "fluxlit shutdown" (stop the instance named by the pidfile).

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func configCommand(args []string, stdout, stderr io.Writer) int {
	cf := newCommandFlags("config", stderr)
	asJSON := cf.fs.Bool("json", false, "")
	strict := cf.fs.Bool("strict", false, "")
	cfg, code := cf.load(args, nil, stderr)
	if cfg == nil {
		return code
	}
	warnings := append(append([]string{}, cfg.Warnings...), cfg.UnknownEnv...)
	if cfg.AppErr != "" {
		warnings = append(warnings, "settings in the app's code were not read: "+cfg.AppErr)
	}
	if *asJSON {
		writeConfigJSON(stdout, cfg, warnings)
	} else {
		writeConfigText(stdout, cfg, warnings)
	}
	if *strict && len(warnings) > 0 {
		return 1
	}
	return 0
}

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

func configDerived(cfg *Config) map[string]string {
	port := cfg.GatewayPort
	return map[string]string{
		"internal_api_base": cfg.internalAPIBase(port),
		"public_mount":      cfg.publicAPIMount(),
		"config_file":       cfg.ConfigFile,
		"project_dir":       cfg.ProjectDir,
	}
}

func writeConfigJSON(w io.Writer, cfg *Config, warnings []string) {
	if warnings == nil {
		warnings = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"settings": configRows(cfg), "derived": configDerived(cfg), "warnings": warnings})
}

func writeConfigText(w io.Writer, cfg *Config, warnings []string) {
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
		fmt.Fprintf(w, "WARN  %s\n", warn)
	}
}

func formatConfigValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []string:
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
	wait := fs.Float64("wait", 15, "")
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, fmt.Errorf("fluxlit shutdown: %v", err))
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
		if cfg, err := loadConfig(in); err == nil {
			path = cfg.pidfilePath()
		} else {
			path = filepath.Join(wd, ".fluxlit.pid")
		}
	}
	return shutdownCommand(strings.TrimSpace(path), *force, seconds(*wait), stdout)
}

var _ = time.Second
