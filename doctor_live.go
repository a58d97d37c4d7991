// doctor_live.go owns recognising a running fluxlit of the project doctor checks: its
// pidfile names a live process and the configured port answers fluxlit's readiness route.
// doctor is what the README sends people to when a deployment misbehaves, so a port held by
// that very deployment is reported as it (with its readyz answer), not as a bind failure.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// doctorLive is the running instance, found by doctorFindLive.
type doctorLive struct {
	PID     int
	Pidfile string
	URL     string // its readyz URL
	Status  int    // readyz's status code
	Summary string // readyz's body, briefly: "ready", or each upstream's detail
}

// doctorFindLive returns the project's running fluxlit, or nil. It asks only when the
// pidfile names a live process: a port held by anything else stays a bind failure.
func doctorFindLive(c *Config, d doctorDeps) *doctorLive {
	if d.Build || c.NoPidfile || c.GatewayPort == 0 {
		return nil
	}
	path := c.pidfilePath()
	pid, err := readPidfile(path)
	if err != nil || !processAlive(pid) {
		return nil
	}
	host := c.GatewayHost
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(c.GatewayPort)) + c.publicAPIMount() + "/readyz"
	client := &http.Client{Timeout: doctorLiveTimeout, Transport: &http.Transport{Proxy: nil}}
	res, err := client.Get(url)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var ready map[string]any
	if json.Unmarshal(body, &ready) != nil || ready["status"] == nil || res.Header.Get("X-Request-Id") == "" {
		return nil // something answers, but not fluxlit's readyz
	}
	return &doctorLive{PID: pid, Pidfile: path, URL: url, Status: res.StatusCode, Summary: doctorReadySummary(ready)}
}

// doctorLiveTimeout bounds the readyz request: fluxlit answers it from memory (its probes
// of external upstreams are bounded at 2 s), so a slower answer means it is not fluxlit's.
const doctorLiveTimeout = 3 * time.Second

// doctorReadySummary is a readyz body in a few words: "ready", or "not ready: api starting".
func doctorReadySummary(ready map[string]any) string {
	if ready["status"] == "ready" {
		return "ready"
	}
	var parts []string
	if detail, ok := ready["detail"].(map[string]any); ok {
		for _, k := range []string{"fluxlit", "api", "streamlit"} {
			if v, ok := detail[k]; ok {
				parts = append(parts, k+" "+fmt.Sprint(v))
			}
		}
	}
	if len(parts) == 0 {
		return fmt.Sprint(ready["status"])
	}
	return "not ready: " + strings.Join(parts, ", ")
}

// doctorLiveRow is gateway_bind's row for a port the project's own fluxlit holds: PASS when
// it is ready, WARN with readyz's detail when not.
func doctorLiveRow(addr string, live *doctorLive) []doctorRow {
	detail := fmt.Sprintf("%s is served by this project's running fluxlit (pid %d, %s); %s: %d %s",
		addr, live.PID, live.Pidfile, live.URL, live.Status, live.Summary)
	if live.Status != http.StatusOK {
		return doctorOne("gateway_bind", doctorWarn, detail)
	}
	return doctorOne("gateway_bind", doctorPass, detail)
}
