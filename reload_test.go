package main

import (
	"strings"
	"testing"
)

// TestReloadWatchFluxLitPages: in a FluxLit project the pages are in the project's *.py,
// which FluxLit's page entry imports once per Streamlit process, so dev's watcher restarts
// Streamlit on a *.py change too (before, it restarted the API only and an edited page never
// showed: TestIntegrationFluxLitProjects/quickstart). An explicit reload_scope = "gateway"
// keeps Python FluxLit's meaning (Streamlit keeps running); a plain project's Streamlit
// reruns its own script.
func TestReloadWatchFluxLitPages(t *testing.T) {
	cfg := func(app bool, scope string) *Config {
		c := &Config{ProjectDir: "/p", StreamlitScript: "streamlit_app.py", ReloadScope: "gateway",
			Sources: map[string]string{"streamlit_script": "default", "reload_scope": "default"}}
		if app {
			c.App = &fluxlitApp{Pages: 1}
		}
		if scope != "" {
			c.ReloadScope, c.Sources["reload_scope"] = scope, "flag"
		}
		return c
	}
	tests := []struct {
		name     string
		cfg      *Config
		appPages bool
		describe string
	}{
		{"FluxLit app", cfg(true, ""), true, "*.py restarts api and streamlit (the app's pages)"},
		{"FluxLit app, --reload-scope gateway", cfg(true, "gateway"), false, "*.py restarts api; Streamlit keeps running with the app's pages as they were"},
		{"FluxLit app, --reload-scope full", cfg(true, "full"), false, "*.py restarts api and streamlit (the app's pages); fluxlit.toml"},
		{"plain project", cfg(false, ""), false, "*.py restarts api; Streamlit reruns streamlit_app.py and pages/ itself"},
	}
	for _, tt := range tests {
		w := newReloadWatch(tt.cfg, true)
		if w.appPages != tt.appPages {
			t.Errorf("%s: appPages %v; want %v", tt.name, w.appPages, tt.appPages)
		}
		if got := w.describe(tt.cfg.ReloadScope, true); !strings.Contains(got, tt.describe) {
			t.Errorf("%s: %q; want it to say %q", tt.name, got, tt.describe)
		}
	}
}
