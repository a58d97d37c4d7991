package main

// Integration tests of Streamlit replicas (issue #20) with the real binary and real Streamlit
// children: sessions spread over the replicas and stay on theirs, readiness, the debug page
// and the metrics report each replica, and the sessions of a replica that dies reconnect to
// another while it restarts.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replicaSession opens a Streamlit WebSocket through fluxlit with cookie (may be empty) and
// returns it with the affinity cookie the 101 set ("" when none).
func replicaSession(t *testing.T, p *fluxlitProc, cookie string) (*wsConn, string) {
	t.Helper()
	hostPort := "127.0.0.1:" + strconv.Itoa(p.port)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", "streamlit")
	h.Set("Origin", "http://"+hostPort)
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	c, res, err := dialWS(t, "ws://"+hostPort+"/_stcore/stream", h)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, res)
	}
	set := ""
	for _, sc := range res.Header.Values("Set-Cookie") {
		if name := "fluxlit_replica_" + strconv.Itoa(p.port) + "="; strings.HasPrefix(sc, name) {
			set, _, _ = strings.Cut(sc, ";")
		}
	}
	return c, set
}

// replicaOf is the replica id a cookie "name=<id>.<mac>" names.
func replicaOf(cookie string) string {
	_, v, _ := strings.Cut(cookie, "=")
	return v[:strings.LastIndexByte(v, '.')]
}

type debugReplicaView struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Sessions int64  `json:"sessions"`
	Current  bool   `json:"current"`
}

type debugChildView struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	PID   int    `json:"pid"`
	State string `json:"state"`
}

// debugPageView is what these tests read of /__fluxlit/debug.
type debugPageView struct {
	Generation int                `json:"generation"`
	Replicas   []debugReplicaView `json:"streamlit_replicas"`
	Children   []debugChildView   `json:"children"`
}

func debugView(t *testing.T, base string) debugPageView {
	t.Helper()
	res, err := http.Get(base + "/__fluxlit/debug")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page debugPageView
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatalf("debug page: %v", err)
	}
	return page
}

// debugReplicas is the current generation and the replicas by id.
func debugReplicas(t *testing.T, base string) (generation int, reps map[string]debugReplicaView) {
	t.Helper()
	page := debugView(t, base)
	reps = map[string]debugReplicaView{}
	for _, r := range page.Replicas {
		reps[r.ID] = r
	}
	return page.Generation, reps
}

func TestIntegrationStreamlitReplicas(t *testing.T) {
	dir := obsProject(t, superviseStreamlitScript, "streamlit_replicas = 2\n")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 120*time.Second)

	res, body := httpDo(t, "GET", p.base+"/api/readyz", nil, nil)
	var ready struct {
		Streamlit string            `json:"streamlit"`
		Replicas  map[string]string `json:"streamlit_replicas"`
	}
	if err := json.Unmarshal(body, &ready); err != nil || res.StatusCode != 200 || ready.Replicas["1.1"] != "ok" || ready.Replicas["1.2"] != "ok" {
		t.Fatalf("readyz: %d %s; want both replicas ok", res.StatusCode, body)
	}

	// Two new sessions land on the two replicas, each told so by a cookie on its 101.
	c1, cookie1 := replicaSession(t, p, "")
	c2, cookie2 := replicaSession(t, p, "")
	if cookie1 == "" || cookie2 == "" || replicaOf(cookie1) == replicaOf(cookie2) {
		t.Fatalf("two new sessions got cookies %q and %q; want one per replica", cookie1, cookie2)
	}
	for _, c := range []*wsConn{c1, c2} {
		if seen := streamlitSession(t, c, 30*time.Second); !containsAll(seen, "user: Ada", "script_finished") {
			t.Errorf("session: %q", seen)
		}
	}
	_, reps := debugReplicas(t, p.base)
	if reps["1.1"].Sessions != 1 || reps["1.2"].Sessions != 1 || reps["1.1"].State != "ok" {
		t.Errorf("debug page replicas: %+v; want one session on each, ok", reps)
	}
	res, body = httpDo(t, "GET", p.base+"/__fluxlit/metrics", nil, nil)
	for _, want := range []string{`fluxlit_streamlit_replica_sessions{replica="1.1",current="1"} 1`,
		`fluxlit_streamlit_replica_sessions{replica="1.2",current="1"} 1`,
		`fluxlit_child_up{child="streamlit",replica="1.2"} 1`, `fluxlit_child_up{child="api",replica="1.1"} 1`,
		"fluxlit_generation 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Plain requests with a cookie stay on its replica: the access log says which served them.
	for range 5 {
		httpDo(t, "GET", p.base+"/_stcore/health", map[string]string{"Cookie": cookie1}, nil)
	}

	// Kill the second session's replica: its WebSocket ends; the reconnect (with the cookie
	// naming the dead replica) goes to the other replica and works.
	dead := replicaOf(cookie2)
	pid := 0
	for _, c := range debugView(t, p.base).Children {
		if c.ID == dead && c.Name == "streamlit" {
			pid = c.PID
		}
	}
	if pid == 0 {
		t.Fatalf("no pid for replica %s in the debug page", dead)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if _, _, err := c2.ReadMessage(10 * time.Second); err == nil {
		for {
			op, _, err := c2.ReadMessage(10 * time.Second)
			if err != nil || op == wscOpClose {
				break
			}
		}
	}
	// Routing follows the supervisor's view of a replica, which sees the exit a few
	// milliseconds after readyz's probe sees the port refuse: wait for both, or the reconnect
	// below may still be routed to the dead replica (a 502 seen in a -race loop).
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := debugView(t, p.base)
		probed, supervised := "ok", "ready"
		for _, r := range page.Replicas {
			if r.ID == dead {
				probed = r.State
			}
		}
		for _, c := range page.Children {
			if c.ID == dead && c.Name == "streamlit" {
				supervised = c.State
			}
		}
		if probed != "ok" && supervised != "ready" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c3, cookie3 := replicaSession(t, p, cookie2)
	if cookie3 == "" || replicaOf(cookie3) == dead {
		t.Fatalf("reconnect with the dead replica's cookie got %q; want a cookie naming the other replica", cookie3)
	}
	if seen := streamlitSession(t, c3, 30*time.Second); !containsAll(seen, "user: Ada", "script_finished") {
		t.Errorf("session after its replica died: %q", seen)
	}
	// The dead replica comes back (restarted by its supervisor) and takes new sessions again.
	deadline = time.Now().Add(90 * time.Second)
	for {
		_, reps = debugReplicas(t, p.base)
		if reps[dead].State == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not back: %+v", dead, reps)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c1.Close()
	c3.Close()

	// Every access line for a cookie's requests names that cookie's replica.
	waitLog(t, p, `"closed_by"`, 5*time.Second)
	n := 0
	for _, line := range strings.Split(p.log.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "access" || rec["path"] != "/_stcore/health" {
			continue
		}
		n++
		if rec["replica"] != replicaOf(cookie1) {
			t.Errorf("a request with the cookie of %s was served by %v: %s", replicaOf(cookie1), rec["replica"], line)
		}
	}
	if n != 5 {
		t.Errorf("%d access lines for /_stcore/health; want 5", n)
	}
}

// waitLog waits until p's output holds s.
func waitLog(t *testing.T, p *fluxlitProc, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in fluxlit's output within %v", s, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
