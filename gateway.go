// gateway.go owns building the gateway from a Config: the upstreams (external URLs or the
// children fluxlit runs), proxy trust, the edge features (auth, CORS, security headers,
// rate limit) and the observers. After newGateway returns, the gateway is read-only.

package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rateLimitMaxKeys bounds the limiter's memory: 100k clients at ~100 bytes each is ~10 MiB,
// and an attacker cycling addresses evicts idle buckets rather than growing the map.
const rateLimitMaxKeys = 100_000

func newGateway(cfg *Config, log *slog.Logger, listen string, plan *childPlan) (*gateway, error) {
	g := &gateway{
		cfg:       cfg,
		log:       log,
		rootPath:  cfg.RootPath,
		mount:     cfg.APIMountPath,
		apiPrefix: cfg.RootPath + cfg.APIMountPath,
		maxBody:   cfg.MaxBodyBytes,
		tunnels:   newTunnelSet(),
		reqIDs:    newRequestIDSource(),
		listen:    listen,
	}
	g.obs = &observer{log: log, accessLog: cfg.AccessLog, pyJSON: logsPythonJSON(log),
		quietStatic: consoleStaticPrefix(log, cfg.RootPath), redact: newQueryRedactor(cfg.LogRedactQueryKeys, cfg.URLSessionQuery),
		failures: &failedRequests{}}
	if cfg.Metrics {
		g.obs.metrics = newMetrics()
	}
	if cfg.Debug {
		g.obs.debug = &debugRing{}
	}
	g.ready = newReadiness(g)
	g.spool = newBodySpooler(cfg, log)
	g.gens = &generations{}
	if plan != nil && len(plan.uiURLs) > 0 {
		g.gens.aff = newAffinity(listenPort(listen), cfg.RootPath)
	}
	first, err := g.newGeneration(1, cfg, plan)
	if err != nil {
		return nil, err
	}
	g.gens.switchTo(first)
	if err := g.buildEdge(cfg, log); err != nil {
		return nil, err
	}
	g.obs.trust = g.trust
	if g.obs.metrics != nil {
		g.obs.metrics.upstreamUp = g.upstreamReadyMap
	}
	return g, nil
}

// listenPort is the port of a listen address ("127.0.0.1:8000"), 0 when it has none.
func listenPort(listen string) int {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

func (g *gateway) buildEdge(cfg *Config, log *slog.Logger) error {
	if cfg.TrustProxy {
		if len(cfg.ForwardedAllowIPs) == 0 {
			g.trust = loopbackAllowList()
		} else {
			list, err := parseAllowIPs(cfg.ForwardedAllowIPs)
			if err != nil {
				return err
			}
			g.trust = list
		}
	}
	allowed, _, err := splitForwardHeaders(cfg.ForwardClientHeaders)
	if err != nil {
		return fmt.Errorf("gateway_forward_client_headers_to_streamlit: %v", err)
	}
	g.uiKeep = newUIKeep(allowed)
	if cfg.EnableSecurityHeader {
		g.secHeaders = newSecurityHeaders(time.Duration(cfg.HSTSMaxAgeS) * time.Second)
	}
	if len(cfg.CORSAllowOrigins) > 0 {
		p, err := newCORSPolicy(cfg.CORSAllowOrigins, cfg.CORSAllowCredentials, cfg.CORSAllowMethods, cfg.CORSAllowHeaders, time.Duration(cfg.CORSMaxAgeS)*time.Second)
		if err != nil {
			return err
		}
		g.cors = p
	}
	if cfg.RateLimitRPS > 0 {
		burst := cfg.RateLimitBurst
		if burst <= 0 {
			burst = max(1, int(cfg.RateLimitRPS))
		}
		g.limiter = newRateLimiter(cfg.RateLimitRPS, burst, rateLimitMaxKeys)
		g.limitPaths = cfg.RateLimitPaths
		if len(g.limitPaths) == 0 {
			g.limitPaths = []string{g.apiPrefix, g.mount}
		}
	}
	// Edge JWT is on only where jwt_protect says: the key settings alone are Python FluxLit's
	// too, where they configure the app's own per-route checks (fluxlitapp.go appEdgeJWT).
	if len(cfg.JWTProtect) == 0 {
		return nil
	}
	auth, err := newEdgeAuth(authConfigFrom(cfg), log)
	if err != nil {
		return err
	}
	g.auth = auth
	return nil
}

// authConfigFrom picks the JWT settings out of the Config.
func authConfigFrom(cfg *Config) authConfig {
	ac := authConfig{
		HSSecretFile:   cfg.JWTHSSecretFile,
		PublicKeyFile:  cfg.JWTPublicKeyFile,
		JWKSFile:       cfg.JWTJWKSFile,
		JWKSURL:        cfg.JWTJWKSURL,
		Issuer:         cfg.JWTIssuer,
		Audience:       cfg.JWTAudience,
		Algorithms:     cfg.JWTAlgorithms,
		Leeway:         seconds(cfg.JWTLeewaySeconds),
		RequiredScopes: cfg.JWTRequiredScopes,
		Protect:        cfg.JWTProtect,
		PublicPaths:    cfg.JWTPublicPaths,
		HTTPClient:     &http.Client{Timeout: 10 * time.Second},
	}
	if cfg.JWTHS256Secret != "" {
		ac.HSSecret = []byte(cfg.JWTHS256Secret)
	}
	for _, f := range []*string{&ac.HSSecretFile, &ac.PublicKeyFile, &ac.JWKSFile} {
		if *f != "" && !strings.HasPrefix(*f, "/") {
			*f = cfg.ProjectDir + "/" + *f
		}
	}
	return ac
}

func (g *gateway) upstreamReadyMap() map[string]bool {
	out := map[string]bool{}
	errs := g.ready.lastErrors()
	gen := g.gens.current()
	if gen.api != nil {
		out["api"] = errs["api"] == "" && (gen.api.down == nil || !gen.api.down())
	}
	if len(gen.ui) > 0 {
		ready := false
		for _, r := range gen.ui {
			ready = ready || r.ready()
		}
		out["streamlit"] = errs["streamlit"] == "" && ready
	}
	return out
}

// attachSupervisor connects the supervised children of the current generation to routing
// (503 while down, sessions moved off a replica that is down), readiness, metrics and the
// debug page.
func (g *gateway) attachSupervisor(s *supervisor) {
	g.gens.current().attach(s)
	g.children = g.childStatus
	if g.obs.metrics != nil {
		g.obs.metrics.childInfo = g.childStatus
		g.obs.metrics.replicaInfo = g.replicaStatus
		g.obs.metrics.generation = func() int { return g.gens.current().n }
	}
}

// childStatus is every supervised child of every live generation, the current one first.
func (g *gateway) childStatus() []childStatus {
	var out []childStatus
	for _, gen := range g.gens.all() {
		if gen.sup != nil {
			out = append(out, gen.sup.Status()...)
		}
	}
	return out
}

// replicaState is one Streamlit replica as metrics and the debug page show it.
type replicaState struct {
	ID         string `json:"id"`
	Generation int    `json:"generation"`
	Current    bool   `json:"current"` // of the current generation (else draining)
	Ready      bool   `json:"ready"`
	Sessions   int64  `json:"sessions"` // open WebSockets
	URL        string `json:"url"`
}

// replicaStatus is every Streamlit replica of every live generation.
func (g *gateway) replicaStatus() []replicaState {
	cur := g.gens.current()
	var out []replicaState
	for _, gen := range g.gens.all() {
		for _, r := range gen.ui {
			out = append(out, replicaState{ID: r.id, Generation: gen.n, Current: gen == cur, Ready: r.ready(),
				Sessions: r.sessions.Load(), URL: describeUpstream(r.up)})
		}
	}
	return out
}
