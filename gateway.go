// gateway.go owns building the gateway from a Config: the upstreams (external URLs or the
// children fluxlit runs), proxy trust, the edge features (auth, CORS, security headers,
// rate limit) and the observers. After newGateway returns, the gateway is read-only.

package main

import (
	"fmt"
	"log/slog"
	"net/http"
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
	g.obs = &observer{log: log, accessLog: cfg.AccessLog, redact: newQueryRedactor(cfg.LogRedactQueryKeys, cfg.URLSessionQuery)}
	if cfg.Metrics {
		g.obs.metrics = newMetrics()
	}
	if cfg.Debug {
		g.obs.debug = &debugRing{}
	}
	g.ready = newReadiness(g)
	g.spool = newBodySpooler(cfg, log)
	if err := g.buildUpstreams(cfg, plan); err != nil {
		return nil, err
	}
	if err := g.buildEdge(cfg, log); err != nil {
		return nil, err
	}
	g.obs.trust = g.trust
	if g.obs.metrics != nil {
		g.obs.metrics.upstreamUp = g.upstreamReadyMap
	}
	return g, nil
}

func (g *gateway) buildUpstreams(cfg *Config, plan *childPlan) error {
	apiURL, uiURL := cfg.APIUpstream, cfg.StreamlitUpstream
	if plan != nil {
		if plan.apiURL != "" {
			apiURL = plan.apiURL
		}
		if plan.uiURL != "" {
			uiURL = plan.uiURL
		}
	}
	var err error
	if apiURL != "" {
		if g.api, err = newUpstream(dispatchAPI, apiURL, cfg, g); err != nil {
			return fmt.Errorf("api_upstream: %v", err)
		}
	}
	if uiURL != "" {
		if g.ui, err = newUpstream(dispatchStreamlit, uiURL, cfg, g); err != nil {
			return fmt.Errorf("streamlit_upstream: %v", err)
		}
	}
	return nil
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
	if g.api != nil {
		out["api"] = errs["api"] == "" && (g.api.down == nil || !g.api.down())
	}
	if g.ui != nil {
		out["streamlit"] = errs["streamlit"] == "" && (g.ui.down == nil || !g.ui.down())
	}
	return out
}

// attachSupervisor connects the supervised children to routing (503 while down),
// readiness, metrics and the debug page.
func (g *gateway) attachSupervisor(s *supervisor) {
	for _, up := range []*upstream{g.api, g.ui} {
		if up == nil {
			continue
		}
		name := up.name
		if !s.has(name) {
			continue
		}
		up.down = func() bool { return !s.Ready(name) }
	}
	g.ready.supReady = func(name string) (bool, string) {
		if !s.has(name) {
			return true, "ok"
		}
		for _, st := range s.Status() {
			if st.Name == name {
				return st.State == childReady, string(st.State)
			}
		}
		return false, "unknown"
	}
	g.children = s.Status
	if g.obs.metrics != nil {
		g.obs.metrics.childInfo = s.Status
	}
}
