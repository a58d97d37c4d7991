// debug.go owns debug mode: the [fluxlit-debug] start-up lines and GET /__fluxlit/debug, a
// JSON snapshot of the effective prefix and mount, the redacted settings, each child's
// state, each upstream's readiness, and the last 32 dispatches. It answers loopback clients
// only unless debug_allow_remote is set, and is 404 (never proxied) with debug off.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// debugRingSize is the Python package's: enough to see the requests around a failure
// without turning the page into a log.
const debugRingSize = 32

type dispatchEntry struct {
	RequestID  string  `json:"request_id"`
	Dispatch   string  `json:"dispatch"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Time       string  `json:"time"`
}

// debugRing keeps the last dispatches. It exists only in debug mode (nil otherwise), so the
// mutex is never on the request path of a production run.
type debugRing struct {
	mu      sync.Mutex
	entries [debugRingSize]dispatchEntry
	next    int
	full    bool
}

func (d *debugRing) add(a *accessRecord, dur time.Duration) {
	if d == nil {
		return
	}
	method := a.method
	if a.websocket {
		method = "websocket"
	}
	e := dispatchEntry{RequestID: a.id, Dispatch: a.dispatch, Method: escapeControl(method), Path: escapeControl(a.path),
		Status: a.status, DurationMS: ms(dur), Time: a.start.UTC().Format(time.RFC3339Nano)}
	d.mu.Lock()
	d.entries[d.next] = e
	d.next = (d.next + 1) % debugRingSize
	if d.next == 0 {
		d.full = true
	}
	d.mu.Unlock()
}

func (d *debugRing) snapshot() []dispatchEntry {
	out := []dispatchEntry{}
	if d == nil {
		return out
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		out = append(out, d.entries[d.next:]...)
	}
	return append(out, d.entries[:d.next]...)
}

// debugEnabled reports whether the route serves: debug on and the API mount not covering it.
func debugEnabled(c *Config) bool {
	return c.Debug && !debugPathShadowed(c.APIMountPath)
}

func (o *observer) serveDebug(w http.ResponseWriter, r *http.Request, g *gateway) {
	if !debugEnabled(g.cfg) || r.Method != http.MethodGet && r.Method != http.MethodHead {
		g.writeError(w, r, http.StatusNotFound, "not found", false)
		return
	}
	if !g.cfg.DebugAllowRemote && !isLoopbackPeer(r.RemoteAddr) {
		g.writeError(w, r, http.StatusForbidden, "the debug page answers loopback clients only (set debug_allow_remote)", false)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(g.debugSnapshot())
}

func isLoopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (g *gateway) debugSnapshot() map[string]any {
	upstreams := map[string]any{}
	lastErr := g.ready.lastErrors()
	for name, up := range map[string]*upstream{"api": g.api, "streamlit": g.ui} {
		if up == nil {
			upstreams[name] = map[string]any{"configured": false}
			continue
		}
		entry := map[string]any{"configured": true, "url": redactURLCredentials(up.target.String()), "ready": lastErr[name] == "", "last_error": lastErr[name]}
		if up.unixPath != "" {
			entry["url"] = "unix:" + up.unixPath
		}
		upstreams[name] = entry
	}
	children := []childStatus{}
	if g.children != nil {
		children = g.children()
	}
	return map[string]any{
		"fluxlit_debug": true,
		"version":       version,
		"gateway": map[string]any{
			"api_prefix": g.cfg.APIMountPath,
			"root_mount": g.rootPath,
			"public_api": g.apiPrefix,
			"listen":     g.listen,
		},
		"settings":          g.cfg.redactedSettings(),
		"children":          children,
		"upstreams":         upstreams,
		"websockets_open":   g.tunnels.count.Load(),
		"recent_dispatches": g.obs.debug.snapshot(),
	}
}

// printDebugBanner writes the [fluxlit-debug] start-up lines.
func printDebugBanner(w io.Writer, g *gateway, internalBase string, childLines []string) {
	fmt.Fprintf(w, "[fluxlit-debug] internal API base: %s\n", internalBase)
	fmt.Fprintf(w, "[fluxlit-debug] API prefix: %s (public %s)\n", g.cfg.APIMountPath, g.apiPrefix)
	mount := g.rootPath
	if mount == "" {
		mount = "/"
	}
	fmt.Fprintf(w, "[fluxlit-debug] public mount: %s\n", mount)
	trust := "off: X-Forwarded-* from clients are ignored"
	if g.trust != nil {
		trust = "on: X-Forwarded-* believed from " + g.trust.String()
	}
	fmt.Fprintf(w, "[fluxlit-debug] proxy trust: %s\n", trust)
	for _, l := range childLines {
		fmt.Fprintf(w, "[fluxlit-debug] %s\n", l)
	}
	if debugPathShadowed(g.cfg.APIMountPath) {
		fmt.Fprintf(w, "[fluxlit-debug] debug route disabled: api_mount_path %s covers %s\n", g.cfg.APIMountPath, debugPath)
	} else {
		fmt.Fprintf(w, "[fluxlit-debug] debug page: %s%s (loopback clients only unless debug_allow_remote)\n", g.rootPath, debugPath)
	}
}
