// reload.go owns "fluxlit dev --reload": a polling watcher (standard library only, no
// inotify) over the project's *.py files, its configuration files and Streamlit's own files,
// which restarts only the child whose files changed and re-reads the configuration when a
// configuration file changed (by restarting fluxlit itself in place, see reexec).

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// reloadPollInterval: fast enough that a save feels immediate, slow enough that walking a
// project of a few thousand files costs well under 1 % of a core.
const reloadPollInterval = 500 * time.Millisecond

// reloadSkipDirs are never watched: VCS data, virtualenvs, caches and dependencies change
// without the user editing code.
var reloadSkipDirs = map[string]bool{".git": true, ".hg": true, ".venv": true, "venv": true, "env": true,
	"__pycache__": true, "node_modules": true, ".mypy_cache": true, ".pytest_cache": true, ".ruff_cache": true,
	"site-packages": true, ".tox": true, "build": true, "dist": true}

// reloadKind is whose a watched file is, which decides what a change to it does.
type reloadKind int

const (
	reloadAPI       reloadKind = iota // any other *.py: the API's code (or shared by both)
	reloadStreamlit                   // the Streamlit script, pages/ beside it, .streamlit/*.toml
	reloadConfig                      // fluxlit.toml (or the --config file), .env, pyproject.toml
)

// reloadWatch is what the watcher looks at, derived from the configuration.
type reloadWatch struct {
	root      string // the project directory
	script    string // the Streamlit script, absolute
	pagesDir  string // Streamlit's multipage folder beside the script
	configs   []string
	streamlit bool // fluxlit runs Streamlit (else its files are only code)
}

func newReloadWatch(cfg *Config, runsStreamlit bool) reloadWatch {
	root := cfg.ProjectDir
	script := cfg.StreamlitScript
	if !filepath.IsAbs(script) {
		script = filepath.Join(root, script)
	}
	configFile := cfg.ConfigFile
	if configFile == "" {
		configFile = filepath.Join(root, "fluxlit.toml") // creating one applies it too
	}
	return reloadWatch{root: root, script: script, pagesDir: filepath.Join(filepath.Dir(script), "pages"),
		configs:   []string{configFile, filepath.Join(root, ".env"), filepath.Join(root, "pyproject.toml")},
		streamlit: runsStreamlit}
}

// kind classifies a path the snapshot holds.
func (w reloadWatch) kind(p string) reloadKind {
	if slices.Contains(w.configs, p) {
		return reloadConfig
	}
	if w.streamlit && (p == w.script || strings.HasPrefix(p, w.pagesDir+string(filepath.Separator)) ||
		filepath.Base(filepath.Dir(p)) == ".streamlit") {
		return reloadStreamlit
	}
	return reloadAPI
}

// snapshot returns a fingerprint of the watched files: path -> mtime+size.
func (w reloadWatch) snapshot() map[string]string {
	snap := map[string]string{}
	add := func(p string, info fs.FileInfo) {
		snap[p] = info.ModTime().String() + "/" + itoa(int(info.Size()))
	}
	filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != w.root && d.Name() != ".streamlit" && (reloadSkipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		watched := strings.HasSuffix(name, ".py") || p == w.script || slices.Contains(w.configs, p) ||
			filepath.Base(filepath.Dir(p)) == ".streamlit" && strings.HasSuffix(name, ".toml")
		if watched {
			if info, err := d.Info(); err == nil {
				add(p, info)
			}
		}
		return nil
	})
	return snap
}

// describe is the line dev prints at start: what is watched and what a change does.
func (w reloadWatch) describe(scope string, hasAPI bool) string {
	var parts []string
	if hasAPI {
		parts = append(parts, "*.py restarts api")
	}
	if w.streamlit {
		script := w.rel(w.script)
		if scope == "full" {
			parts = append(parts, script+" and pages/ restart streamlit")
			if hasAPI {
				parts[0] = "*.py restarts api and streamlit"
			}
		} else {
			parts = append(parts, "Streamlit reruns "+script+" and pages/ itself")
		}
	}
	parts = append(parts, w.rel(w.configs[0])+" re-reads the configuration")
	return "reload: watching " + w.root + ": " + strings.Join(parts, "; ")
}

func (w reloadWatch) rel(p string) string {
	if r, err := filepath.Rel(w.root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func changedFiles(old, cur map[string]string) []string {
	var changed []string
	for p, v := range cur {
		if old[p] != v {
			changed = append(changed, p)
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			changed = append(changed, p)
		}
	}
	slices.Sort(changed)
	return changed
}

// watchReload polls until ctx ends; it returns a stop function. snap is the files as they
// were before the children started, so that a save during the start is not missed.
func (r *runner) watchReload(ctx context.Context, w reloadWatch, snap map[string]string) func() {
	ctx, cancel := context.WithCancel(ctx)
	r.log.Info(w.describe(r.cfg.ReloadScope, r.sup.has(dispatchAPI)))
	go func() {
		t := time.NewTicker(reloadPollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur := w.snapshot()
			changed := changedFiles(snap, cur)
			snap = cur
			if len(changed) > 0 {
				r.reload(w, changed)
			}
		}
	}()
	return cancel
}

// reload acts on one batch of changed files: the configuration first (a change there
// restarts everything anyway), then the API's code, then Streamlit's files.
func (r *runner) reload(w reloadWatch, changed []string) {
	byKind := map[reloadKind][]string{}
	for _, p := range changed {
		byKind[w.kind(p)] = append(byKind[w.kind(p)], w.rel(p))
	}
	if files := byKind[reloadConfig]; len(files) > 0 && r.reloadConfig(files) {
		return
	}
	full := r.cfg.ReloadScope == "full"
	restart := map[string]bool{}
	if files := byKind[reloadAPI]; len(files) > 0 {
		restart[dispatchAPI] = true
		restart[dispatchStreamlit] = full
		r.restartFor(files, restart)
	}
	if files := byKind[reloadStreamlit]; len(files) > 0 {
		if full {
			r.restartFor(files, map[string]bool{dispatchStreamlit: true})
		} else {
			r.log.Info(strings.Join(files, ", ") + " changed: Streamlit reruns it itself (reload_scope = \"full\" restarts Streamlit)")
		}
	}
}

// restartFor restarts the named children that fluxlit runs, API first.
func (r *runner) restartFor(files []string, names map[string]bool) {
	for _, name := range []string{dispatchAPI, dispatchStreamlit} {
		if !names[name] || !r.sup.has(name) {
			continue
		}
		r.log.Info(strings.Join(files, ", ") + " changed: restarting " + name)
		err := r.sup.Restart(name)
		if err != nil && !strings.Contains(err.Error(), errSuperviseWaiting.Error()) {
			r.log.Warn("reload: restart failed", "child", name, "error", err.Error())
		}
	}
}

// reloadConfig re-reads the configuration after one of its files changed. A configuration
// that does not load is reported and the running one kept; one that changes a setting
// restarts fluxlit in place (reexec), because the gateway's routes, listener and children
// all derive from it. It reports whether fluxlit is restarting.
func (r *runner) reloadConfig(files []string) bool {
	cfg, err := loadAppConfig(r.input)
	if err == nil && cfg.AppErr != "" {
		err = errors.New(cfg.AppErr)
	}
	if err != nil {
		r.log.Error(fmt.Sprintf("%v; still running with the configuration fluxlit started with", err))
		return false
	}
	for _, w := range cfg.Warnings {
		if !slices.Contains(r.cfg.Warnings, w) {
			r.log.Warn("configuration: " + w)
		}
	}
	changed := changedSettings(r.cfg, cfg)
	if len(changed) == 0 {
		r.log.Info(strings.Join(files, ", ") + " changed; no setting changed")
		return false
	}
	r.log.Info(strings.Join(files, ", ") + " changed (" + strings.Join(changed, ", ") + "): restarting fluxlit with the new configuration")
	select {
	case r.restartSelf <- struct{}{}:
	default:
	}
	return true
}

// changedSettings names the settings whose effective values differ.
func changedSettings(a, b *Config) []string {
	var names []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		name := va.Type().Field(i).Tag.Get("setting")
		if name != "" && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			names = append(names, name)
		}
	}
	return names
}
