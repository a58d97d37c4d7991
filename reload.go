// reload.go owns "fluxlit dev --reload": a polling watcher (standard library only, no
// inotify) over the project's *.py files, its configuration files and Streamlit's own files,
// which restarts only the child whose files changed, and re-reads the configuration when one
// of its files changed: a change to the children's settings is a reload (a new generation,
// reloadgen.go), a change to the gateway's restarts fluxlit itself in place (reexec).

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
	watchAPI       reloadKind = iota // any other *.py: the API's code (or shared by both)
	watchStreamlit                   // the Streamlit script, pages/ beside it, .streamlit/*.toml
	watchConfig                      // fluxlit.toml (or the --config file), .env, pyproject.toml
)

// reloadWatch is what the watcher looks at, derived from the configuration.
type reloadWatch struct {
	root      string // the project directory
	script    string // the Streamlit script, absolute
	pagesDir  string // Streamlit's multipage folder beside the script
	configs   []string
	streamlit bool // fluxlit runs Streamlit (else its files are only code)
	// pageEntry: Streamlit runs FluxLit's page entry, which imports the app's modules once per
	// process; the pages live in the project's *.py, outside what Streamlit watches, so only a
	// restart shows an edited page: appPages restarts it on a *.py change, unless an explicit
	// reload_scope = "gateway" keeps Python FluxLit's meaning (Streamlit keeps running).
	pageEntry, appPages bool
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
	w := reloadWatch{root: root, script: script, pagesDir: filepath.Join(filepath.Dir(script), "pages"),
		configs:   []string{configFile, filepath.Join(root, ".env"), filepath.Join(root, "pyproject.toml")},
		streamlit: runsStreamlit, pageEntry: runsStreamlit && appUsesPageEntry(cfg)}
	w.appPages = w.pageEntry && cfg.Sources["reload_scope"] == "default"
	return w
}

// kind classifies a path the snapshot holds.
func (w reloadWatch) kind(p string) reloadKind {
	if slices.Contains(w.configs, p) {
		return watchConfig
	}
	if w.streamlit && (p == w.script || strings.HasPrefix(p, w.pagesDir+string(filepath.Separator)) ||
		filepath.Base(filepath.Dir(p)) == ".streamlit") {
		return watchStreamlit
	}
	return watchAPI
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
	switch {
	case w.appPages || w.pageEntry && scope == "full":
		parts = []string{"*.py restarts streamlit (the app's pages)"}
		if hasAPI {
			parts[0] = "*.py restarts api and streamlit (the app's pages)"
		}
	case w.pageEntry:
		parts = append(parts, "Streamlit keeps running with the app's pages as they were (reload_scope = \"gateway\")")
	case w.streamlit:
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
// were before the children started, so that a save during the start is not missed. A change
// to the configuration's files is sent on configChanged, for the run's loop to act on.
func (r *runner) watchReload(ctx context.Context, w reloadWatch, snap map[string]string, configChanged chan<- []string) func() {
	ctx, cancel := context.WithCancel(ctx)
	r.log.Info(w.describe(r.cfg.ReloadScope, r.gw.gens.current().sup.has(dispatchAPI)))
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
				r.reloadFiles(w, changed, configChanged)
			}
		}
	}()
	return cancel
}

// reloadFiles acts on one batch of changed files: the configuration's go to the run's loop
// (a reload or a restart starts every child again anyway), the API's code restarts the API,
// Streamlit's files are Streamlit's to rerun.
func (r *runner) reloadFiles(w reloadWatch, changed []string, configChanged chan<- []string) {
	byKind := map[reloadKind][]string{}
	for _, p := range changed {
		byKind[w.kind(p)] = append(byKind[w.kind(p)], w.rel(p))
	}
	if files := byKind[watchConfig]; len(files) > 0 {
		configChanged <- files
		return
	}
	full := r.cfg.ReloadScope == "full"
	restart := map[string]bool{}
	if files := byKind[watchAPI]; len(files) > 0 {
		restart[dispatchAPI] = true
		restart[dispatchStreamlit] = full || w.appPages
		r.restartFor(files, restart)
	}
	if files := byKind[watchStreamlit]; len(files) > 0 {
		if full {
			r.restartFor(files, map[string]bool{dispatchStreamlit: true})
		} else {
			r.log.Info(strings.Join(files, ", ") + " changed: Streamlit reruns it itself (reload_scope = \"full\" restarts Streamlit)")
		}
	}
}

// restartFor restarts the named children that fluxlit runs, API first.
func (r *runner) restartFor(files []string, names map[string]bool) {
	sup := r.gw.gens.current().sup
	for _, name := range []string{dispatchAPI, dispatchStreamlit} {
		if !names[name] || !sup.has(name) {
			continue
		}
		r.log.Info(strings.Join(files, ", ") + " changed: restarting " + name)
		err := sup.Restart(name)
		if err != nil && !strings.Contains(err.Error(), errSuperviseWaiting.Error()) {
			r.log.Warn("reload: restart failed", "child", name, "error", err.Error())
		}
	}
}

// configAction is what a changed configuration file asks of the run.
type configAction int

const (
	configKeep    configAction = iota // it does not load, or no setting changed
	configReload                      // the children's settings changed: a new generation
	configRestart                     // a gateway setting changed: fluxlit restarts in place
)

// configChange reads the configuration again after one of its files changed. A
// configuration that does not load is reported and the running one kept. One that changes
// only the children's settings is a reload; one that changes the gateway's (its listener,
// routes, auth, logging), or that a reload cannot run (fixed child ports), restarts fluxlit.
// It runs on the run's loop, which owns childCfg.
func (r *runner) configChange(files []string) configAction {
	fresh, err := r.configAgain()
	if err == nil && fresh.AppErr != "" {
		err = errors.New(fresh.AppErr)
	}
	if err != nil {
		r.log.Error(fmt.Sprintf("%v; still running with the configuration fluxlit started with", err))
		return configKeep
	}
	for _, w := range fresh.Warnings {
		if !slices.Contains(r.cfg.Warnings, w) {
			r.log.Warn("configuration: " + w.Msg)
		}
	}
	what := strings.Join(files, ", ") + " changed"
	merged, gateway := reloadConfig(r.childCfg, fresh)
	if len(gateway) > 0 || reloadChecks(merged) != nil {
		r.log.Info(what + " (" + strings.Join(changedSettings(r.childCfg, fresh), ", ") + "): restarting fluxlit with the new configuration")
		return configRestart
	}
	children := changedSettings(r.childCfg, merged)
	if len(children) == 0 {
		r.log.Info(what + "; no setting changed")
		return configKeep
	}
	r.log.Info(what + " (" + strings.Join(children, ", ") + "): reloading the children with the new configuration")
	return configReload
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
