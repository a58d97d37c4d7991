package main

// Integration tests of Streamlit replicas (issue #20) with the real binary and real Streamlit
// children: sessions spread over the replicas and stay on theirs, readiness, the debug page
// and the metrics report each replica, and the sessions of a replica that dies reconnect to
// another while it restarts.

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// workersAPI answers the pid of the uvicorn worker that served the request.
const workersAPI = `import os
import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/pid")
def pid():
    time.sleep(0.2)  # held long enough that a burst of requests needs several connections
    return {"pid": os.getpid()}
`

// workerPIDs is the uvicorn worker processes of the API child pid: its children started by
// multiprocessing's spawn (uvicorn --workers), not multiprocessing's resource tracker.
func workerPIDs(t *testing.T, pid int) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing paren.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(cmd), "spawn_main") {
			out[n] = true
		}
	}
	return out
}

// TestIntegrationAPIWorkers: api_workers = 2 runs the API child as uvicorn with two worker
// processes sharing its socket; both answer requests through fluxlit, a worker that dies is
// replaced by uvicorn while the other keeps answering (no failed request), and stopping
// fluxlit leaves no worker behind. (Seen to fail with the --workers flag left out of the
// child's command line: one process, no worker children.)
func TestIntegrationAPIWorkers(t *testing.T) {
	requireIntegration(t, "fastapi")
	requireIntegration(t, "streamlit")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), workersAPI)
	writeFile(t, filepath.Join(dir, "streamlit_app.py"), "import streamlit as st\n\nst.write(\"workers\")\n")
	writeFile(t, filepath.Join(dir, "fluxlit.toml"), "python = "+strconv.Quote(streamlitPython(t))+
		"\ntarget = \"app:app\"\nstreamlit_script = \"streamlit_app.py\"\ndebug = true\napi_workers = 2\n")
	p := launchFluxlit(t, dir, nil, "run", "--no-pidfile")
	waitStatus(t, p.base+"/api/readyz", 200, 120*time.Second)

	api := debugChildren(t, p.base)["api"].PID
	workers := map[int]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(workers) < 2 && time.Now().Before(deadline) { // uvicorn starts its workers one by one
		workers = workerPIDs(t, api)
		time.Sleep(100 * time.Millisecond)
	}
	if len(workers) != 2 {
		t.Fatalf("the API child (pid %d) has worker processes %v; want 2", api, workers)
	}
	// Bursts of concurrent requests: fluxlit opens a connection to the API per request in
	// flight (sequential requests share one pooled connection, so one worker), and the kernel
	// hands each to whichever worker accepts it first.
	served := func(bursts, n int) map[int]int {
		seen := map[int]int{}
		var mu sync.Mutex
		for range bursts {
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					res, err := http.Get(p.base + "/api/pid")
					if err != nil {
						t.Errorf("GET /api/pid: %v", err)
						return
					}
					var got struct{ PID int }
					err = json.NewDecoder(res.Body).Decode(&got)
					res.Body.Close()
					if res.StatusCode != 200 || err != nil {
						t.Errorf("GET /api/pid: %d (%v)", res.StatusCode, err)
						return
					}
					mu.Lock()
					seen[got.PID]++
					mu.Unlock()
				})
			}
			wg.Wait()
		}
		return seen
	}
	seen := map[int]int{}
	for range 10 {
		for pid, n := range served(1, 8) {
			seen[pid] += n
		}
		if len(seen) >= 2 {
			break
		}
	}
	for pid := range seen {
		if !workers[pid] {
			t.Errorf("a request was answered by pid %d, not one of the workers %v", pid, workers)
		}
	}
	if len(seen) != 2 {
		t.Errorf("bursts of 8 concurrent requests were answered by %v; want both workers %v", seen, workers)
	}

	// A worker dies: the other answers meanwhile, and uvicorn starts a new one.
	var dead int
	for pid := range workers {
		dead = pid
		break
	}
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	served(3, 8)
	deadline = time.Now().Add(60 * time.Second)
	for {
		now := workerPIDs(t, api)
		if len(now) == 2 && !now[dead] {
			workers = now
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d killed; the API child's workers are %v; want 2 again, a new one in its place", dead, now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := debugChildren(t, p.base)["api"]; st.PID != api {
		t.Errorf("the API child is pid %d after a worker died; want %d still (uvicorn replaces its workers)", st.PID, api)
	}

	// Stopping fluxlit stops the workers too.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 60*time.Second); code != 0 {
		t.Errorf("fluxlit exit %d after SIGTERM; want 0", code)
	}
	for pid := range workers {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("worker %d still runs after fluxlit stopped", pid)
		}
	}
}
