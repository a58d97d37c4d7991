// health.go owns <mount>/healthz and <mount>/readyz: liveness of the gateway itself, and
// readiness of every configured upstream (Streamlit's /_stcore/health, the API's
// api_health_path or a TCP connect). The bodies are Python FluxLit's, with fluxlit's
// per-upstream detail added under keys of its own.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// probeTimeout bounds one readiness probe: orchestrators call readyz every few seconds with
// a timeout of their own (Kubernetes: 1 s by default), so a probe must answer inside it.
const probeTimeout = 800 * time.Millisecond

// readiness answers the probes. A supervised child is judged by the supervisor first (a
// child that is restarting is not ready even if its old port still answers).
type readiness struct {
	g        *gateway
	client   *http.Client
	supReady func(name string) (ready bool, state string) // nil when fluxlit runs no children
	mu       sync.Mutex
	last     map[string]string // last probe error per upstream, for the debug page
	// starting is true from fluxlit's start until it has reported ready (pidfile written,
	// READY=1 sent), so that readyz never says ready before the process itself does.
	starting atomic.Bool
}

func newReadiness(g *gateway) *readiness {
	return &readiness{g: g, last: map[string]string{}, client: &http.Client{
		Timeout: probeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (rd *readiness) serveHealthz(w http.ResponseWriter, r *http.Request) {
	if !healthMethodAllowed(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// healthMethodAllowed answers anything but GET and HEAD as Python FluxLit's GET routes do:
// 405 {"detail":"Method Not Allowed"}. HEAD is allowed (Python answers it 405), because load
// balancers probe with it and a probe that fails on its method takes the instance out.
func healthMethodAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	w.Write([]byte(`{"detail":"Method Not Allowed"}`))
	return false
}

// upstreamState is one upstream's line in readyz: "ok", or what failed. A supervised
// child is judged by its supervisor first (one that is restarting is not ready even if its
// old port still answers).
func (rd *readiness) upstreamState(ctx context.Context, up *upstream) (state, detail string) {
	if up.child != nil {
		if st := up.child.state(); st != childReady {
			return string(st), up.name + " child is " + string(st)
		}
	}
	var err error
	if !up.isAPI() {
		err = rd.probeHTTP(ctx, up, rd.g.rootPath+"/_stcore/health")
	} else if rd.g.cfg.APIHealthPath != "" {
		err = rd.probeHTTP(ctx, up, rd.g.cfg.APIHealthPath)
	} else {
		err = rd.probeTCP(ctx, up)
	}
	rd.mu.Lock()
	if err != nil {
		rd.last[up.name] = err.Error()
	} else {
		delete(rd.last, up.name)
	}
	rd.mu.Unlock()
	if err != nil {
		return "unavailable", err.Error()
	}
	return "ok", ""
}

func (rd *readiness) probeHTTP(ctx context.Context, up *upstream, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.target.String()+path, nil)
	if err != nil {
		return err
	}
	res, err := (&http.Client{Transport: up.transport, Timeout: probeTimeout, CheckRedirect: rd.client.CheckRedirect}).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, unwrapURLError(err))
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("GET %s: status %d", path, res.StatusCode)
	}
	return nil
}

func (rd *readiness) probeTCP(ctx context.Context, up *upstream) error {
	d := net.Dialer{Timeout: probeTimeout}
	network, addr := "tcp", up.target.Host
	if up.unixPath != "" {
		network, addr = "unix", up.unixPath
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, map[bool]string{true: "443", false: "80"}[up.target.Scheme == "https"])
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func unwrapURLError(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		inner := u.Unwrap()
		if inner == nil {
			return err
		}
		if _, isOp := inner.(*net.OpError); isOp {
			return inner
		}
		err = inner
	}
}

// check probes the current generation's upstreams concurrently: the API and every Streamlit
// replica. Streamlit is ready when one of its replicas is (it can serve; the others' sessions
// move to it); replicas holds each replica's state by its id.
func (rd *readiness) check(ctx context.Context) (ready bool, states, details, replicas map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	states, details, replicas = map[string]string{}, map[string]string{}, map[string]string{}
	gen := rd.g.gens.current()
	var mu sync.Mutex
	var wg sync.WaitGroup
	if gen.api == nil {
		states[dispatchAPI] = "not_configured"
	} else {
		wg.Go(func() {
			st, detail := rd.upstreamState(ctx, gen.api)
			mu.Lock()
			states[dispatchAPI] = st
			if detail != "" {
				details[dispatchAPI] = detail
			}
			mu.Unlock()
		})
	}
	uiDetails := make([]string, len(gen.ui))
	for i, r := range gen.ui {
		wg.Go(func() {
			st, detail := rd.upstreamState(ctx, r.up)
			mu.Lock()
			replicas[r.id] = st
			if detail != "" && len(gen.ui) > 1 {
				detail = "replica " + r.id + ": " + detail
			}
			uiDetails[i] = detail
			mu.Unlock()
		})
	}
	wg.Wait()
	switch {
	case len(gen.ui) == 0:
		states[dispatchStreamlit] = "not_configured"
	default:
		states[dispatchStreamlit] = replicas[gen.ui[0].id]
		for _, r := range gen.ui {
			if replicas[r.id] == "ok" {
				states[dispatchStreamlit] = "ok"
			}
		}
		if states[dispatchStreamlit] != "ok" {
			details[dispatchStreamlit] = strings.Join(slices.DeleteFunc(uiDetails, func(d string) bool { return d == "" }), "; ")
		}
	}
	ready = !rd.starting.Load()
	if !ready {
		details["fluxlit"] = "starting"
	}
	for _, st := range states {
		if st != "ok" && st != "not_configured" {
			ready = false
		}
	}
	return ready, states, details, replicas
}

// serveReadyz answers Python FluxLit's shape: 200 {"status":"ready","streamlit":…} and 503
// {"status":"not_ready","detail":"<one line>"}; fluxlit adds "api" (the API's state, which
// Python did not probe) and, on 503, "upstream_detail" (what failed, per upstream).
func (rd *readiness) serveReadyz(w http.ResponseWriter, r *http.Request) {
	if !healthMethodAllowed(w, r) {
		return
	}
	ready, states, details, replicas := rd.check(r.Context())
	body := map[string]any{"status": "ready", "api": states["api"], "streamlit": states["streamlit"]}
	if len(replicas) > 1 {
		body["streamlit_replicas"] = replicas
	}
	status := http.StatusOK
	if !ready {
		body["status"] = "not_ready"
		body["detail"] = readyzDetailLine(details)
		body["upstream_detail"] = details
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// readyzDetailLine is the per-upstream detail as the one string Python FluxLit's "detail"
// is: "api: dial unix …: connection refused; streamlit: GET /_stcore/health: status 503".
func readyzDetailLine(details map[string]string) string {
	parts := make([]string, 0, len(details))
	for _, name := range slices.Sorted(maps.Keys(details)) {
		parts = append(parts, name+": "+details[name])
	}
	return strings.Join(parts, "; ")
}

// lastErrors returns the last probe error per upstream (debug page).
func (rd *readiness) lastErrors() map[string]string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	out := make(map[string]string, len(rd.last))
	for k, v := range rd.last {
		out[k] = v
	}
	return out
}
