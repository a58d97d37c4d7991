// debug.go owns debug mode: the [fluxlit-debug] start-up lines and GET /__fluxlit/debug, a
// JSON snapshot of the effective prefix and mount, the redacted settings, each child's
// state, each upstream's readiness, and the last 32 dispatches. It answers loopback clients
// only unless debug_allow_remote is set, and is 404 (never proxied) with debug off.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// debugRingSize is the Python package's: enough to see the requests around a failure
// without turning the page into a log.
const debugRingSize = 32

type dispatchEntry struct {
	RequestID  string  `json:"request_id"`
	Dispatch   string  `json:"dispatch"`
	Method     string  `json:"method"`
	Path       string  `json:"path"` // without the query: it may carry tokens
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Time       string  `json:"time"`
	seq        uint64  // position in the ring's sequence, to skip a slot overwritten meanwhile
}

// debugRing keeps the last dispatches without a lock: a sequence number picks the slot and
// each slot holds an immutable entry behind an atomic pointer. It exists only in debug mode
// (nil otherwise), so a production run does not even pay the entry's allocation.
type debugRing struct {
	next  atomic.Uint64
	slots [debugRingSize]atomic.Pointer[dispatchEntry]
}

func (d *debugRing) add(a *accessRecord, dur time.Duration) {
	if d == nil {
		return
	}
	e := &dispatchEntry{RequestID: a.id, Dispatch: a.dispatch, Method: a.methodLabel(), Path: escapeControl(a.path),
		Status: a.status, DurationMS: accessMS(dur), Time: a.start.UTC().Format(time.RFC3339Nano)}
	e.seq = d.next.Add(1) - 1
	d.slots[e.seq%debugRingSize].Store(e)
}

// snapshot returns the entries oldest first. A slot that a concurrent add already reused
// for a newer request is skipped rather than shown out of order.
func (d *debugRing) snapshot() []dispatchEntry {
	out := []dispatchEntry{}
	if d == nil {
		return out
	}
	n := d.next.Load()
	for i := n - min(n, debugRingSize); i < n; i++ {
		if e := d.slots[i%debugRingSize].Load(); e != nil && e.seq == i {
			out = append(out, *e)
		}
	}
	return out
}

// debugEnabled reports whether the route serves: debug on and the API mount not covering it.
func debugEnabled(c *Config) bool {
	return c.Debug && !debugPathShadowed(c.APIMountPath)
}

func (o *observer) serveDebug(w http.ResponseWriter, r *http.Request, g *gateway) {
	markInternal(w)
	if !debugEnabled(g.cfg) || r.Method != http.MethodGet && r.Method != http.MethodHead {
		g.writeError(w, r, http.StatusNotFound, "not found", false)
		return
	}
	if !g.cfg.DebugAllowRemote && !debugLocalClient(r, g.trust) {
		g.writeError(w, r, http.StatusForbidden, "the debug page answers loopback clients only (set debug_allow_remote)", false)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(g.debugSnapshot(r.Context()))
}

// debugLocalClient reports whether the client, as fluxlit believes it after proxy trust, is
// on loopback. A request relayed by a proxy fluxlit does not trust is not local even when
// that proxy is: behind a same-host nginx every peer is 127.0.0.1, and the page would be
// open to the internet.
func debugLocalClient(r *http.Request, trust *ipAllowList) bool {
	fi := resolveForwarded(r, trust)
	if !fi.Trusted && (len(r.Header["X-Forwarded-For"]) > 0 || len(r.Header["Forwarded"]) > 0) {
		return false
	}
	return fi.ClientIP.IsValid() && fi.ClientIP.Unmap().IsLoopback()
}

// debugPage is the JSON of /__fluxlit/debug. Structs, not maps, keep the key order stable.
type debugPage struct {
	FluxlitDebug     bool                     `json:"fluxlit_debug"`
	Version          string                   `json:"version"`
	Gateway          debugGateway             `json:"gateway"`
	Settings         map[string]any           `json:"settings"`
	Children         []debugChildInfo         `json:"children"`
	Generation       int                      `json:"generation"` // of the children: 1, then one more per reload
	Replicas         []debugReplica           `json:"streamlit_replicas"`
	Upstreams        map[string]debugUpstream `json:"upstreams"`
	WebSocketsOpen   int64                    `json:"websockets_open"`
	RecentDispatches []dispatchEntry          `json:"recent_dispatches"`
}

type debugGateway struct {
	APIPrefix string `json:"api_prefix"` // api_mount_path
	RootMount string `json:"root_mount"` // root_path
	PublicAPI string `json:"public_api"` // root_path + api_mount_path, what browsers use
	Listen    string `json:"listen"`
}

// debugReplica is one Streamlit replica: its state as readyz sees it and its open sessions.
type debugReplica struct {
	replicaState
	State string `json:"state"`
}

type debugChildInfo struct {
	Name      string   `json:"name"`
	ID        string   `json:"id"`
	State     string   `json:"state"`
	PID       int      `json:"pid"`
	Restarts  int      `json:"restarts"`
	LastExit  string   `json:"last_exit"`
	StartedAt string   `json:"started_at"` // RFC 3339, "" before the first start
	UptimeS   float64  `json:"uptime_s"`   // since the current process started; 0 when not running
	Output    []string `json:"output"`     // the last 20 lines, stdout and stderr interleaved
	LastError string   `json:"last_error"`
}

type debugUpstream struct {
	Configured bool   `json:"configured"`
	URL        string `json:"url,omitempty"`
	State      string `json:"state,omitempty"` // readyz's word: ok, unavailable, starting...
	Ready      bool   `json:"ready"`
	LastError  string `json:"last_error"`
}

// debugURLSettings hold URLs: their credentials and sensitive query values are redacted.
var debugURLSettings = []string{"api_upstream", "streamlit_upstream", "jwt_jwks_url", "public_base_url"}

func (g *gateway) debugSnapshot(ctx context.Context) debugPage {
	page := debugPage{
		FluxlitDebug: true,
		Version:      version,
		Gateway:      debugGateway{APIPrefix: g.cfg.APIMountPath, RootMount: g.rootPath, PublicAPI: g.apiPrefix, Listen: g.listen},
		Settings:     g.cfg.redactedSettings(),
		Children:     []debugChildInfo{},
		Replicas:     []debugReplica{},
		Upstreams:    map[string]debugUpstream{},
	}
	for _, name := range debugURLSettings {
		if s, ok := page.Settings[name].(string); ok {
			page.Settings[name] = debugRedactURL(s, g.obs.redact)
		}
	}
	if g.children != nil {
		now := time.Now()
		for _, c := range g.children() {
			page.Children = append(page.Children, debugChildFrom(c, now))
		}
	}
	_, states, details, replicas := g.ready.check(ctx)
	lastErr := g.ready.lastErrors()
	gen := g.gens.current()
	page.Generation = gen.n
	for _, r := range g.replicaStatus() {
		st := replicas[r.ID]
		if !r.Current {
			st = "draining"
		}
		page.Replicas = append(page.Replicas, debugReplica{replicaState: r, State: st})
	}
	var ui *upstream
	if len(gen.ui) > 0 {
		ui = gen.ui[0].up
	}
	for name, up := range map[string]*upstream{dispatchAPI: gen.api, dispatchStreamlit: ui} {
		if up == nil {
			page.Upstreams[name] = debugUpstream{}
			continue
		}
		u := debugUpstream{Configured: true, URL: debugRedactURL(up.target.String(), g.obs.redact), State: states[name],
			Ready: states[name] == "ok", LastError: details[name]}
		if u.LastError == "" && !u.Ready {
			u.LastError = lastErr[name]
		}
		if up.unixPath != "" {
			u.URL = "unix:" + up.unixPath
		}
		page.Upstreams[name] = u
	}
	page.WebSocketsOpen = g.tunnels.count.Load()
	page.RecentDispatches = g.obs.debug.snapshot()
	return page
}

func debugChildFrom(c childStatus, now time.Time) debugChildInfo {
	out := debugChildInfo{Name: c.Name, ID: c.ID, State: string(c.State), PID: c.PID, Restarts: c.Restarts, LastExit: c.LastExit,
		Output: c.Output, LastError: c.LastError}
	if out.Output == nil {
		out.Output = []string{}
	}
	if !c.StartedAt.IsZero() {
		out.StartedAt = c.StartedAt.UTC().Format(time.RFC3339Nano)
		if c.PID > 0 && c.State != childStopped && c.State != childFailed && c.State != childBackoff {
			out.UptimeS = float64(now.Sub(c.StartedAt).Milliseconds()) / 1000
		}
	}
	return out
}

// debugRedactURL removes a URL's password and sensitive query values.
func debugRedactURL(raw string, q *queryRedactor) string {
	raw = redactURLCredentials(raw)
	base, query, ok := strings.Cut(raw, "?")
	if !ok || q == nil {
		return raw
	}
	return base + "?" + q.redact(query)
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
		fmt.Fprintf(w, "[fluxlit-debug] %s\n", escapeControl(l))
	}
	if debugPathShadowed(g.cfg.APIMountPath) {
		fmt.Fprintf(w, "[fluxlit-debug] debug route disabled: api_mount_path %s covers %s\n", g.cfg.APIMountPath, debugPath)
	} else {
		fmt.Fprintf(w, "[fluxlit-debug] debug page: %s%s (loopback clients only unless debug_allow_remote)\n", g.rootPath, debugPath)
	}
}
