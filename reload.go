// reload.go owns "fluxlit dev --reload": a polling watcher (standard library only, no
// inotify) over the project's *.py files, fluxlit.toml and the Streamlit script, that
// restarts the API child (reload_scope "gateway") or both children ("full") on a change.

package main

import (
	"context"
	"io/fs"
	"path/filepath"
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

// snapshotSources returns a fingerprint of the watched files: path -> mtime+size.
func snapshotSources(root, script string) map[string]string {
	snap := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (reloadSkipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".py") || name == "fluxlit.toml" || name == filepath.Base(script) {
			if info, err := d.Info(); err == nil {
				snap[p] = info.ModTime().String() + "/" + itoa(int(info.Size()))
			}
		}
		return nil
	})
	return snap
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
	return changed
}

// watchReload polls until ctx ends; it returns a stop function.
func (r *runner) watchReload(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	root := r.cfg.ProjectDir
	go func() {
		snap := snapshotSources(root, r.cfg.StreamlitScript)
		t := time.NewTicker(reloadPollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cur := snapshotSources(root, r.cfg.StreamlitScript)
			changed := changedFiles(snap, cur)
			snap = cur
			if len(changed) == 0 {
				continue
			}
			r.reloadChildren(changed)
		}
	}()
	return cancel
}

func (r *runner) reloadChildren(changed []string) {
	names := []string{dispatchAPI}
	if r.cfg.ReloadScope == "full" {
		names = []string{dispatchAPI, dispatchStreamlit}
	}
	sup := r.gw.gens.current().sup
	for _, name := range names {
		if !sup.has(name) {
			continue
		}
		r.log.Info("reload: restarting child", "child", name, "changed", strings.Join(changed, ","), "scope", r.cfg.ReloadScope)
		if err := sup.Restart(name); err != nil {
			r.log.Error("reload: restart failed", "child", name, "error", err.Error())
		}
	}
}
