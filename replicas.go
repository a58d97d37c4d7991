// replicas.go owns where a request for a child goes: the generations of children (one per
// start and per reload), each with its API upstream and its Streamlit replicas; the choice of
// a replica for every Streamlit request (the replica its affinity cookie names, else the
// least-loaded ready replica of the current generation); the affinity cookie itself; and how
// many replicas "auto" means. hop.go asks it for a plan's upstream; reload.go switches
// generations.

package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxStreamlitReplicas bounds streamlit_replicas: each replica is a Python process of 150 MB
// or more, so 64 is past any machine one fluxlit fronts; a bigger number is a typo.
const maxStreamlitReplicas = 64

// placementWindow is how long a new session placed on a replica counts towards its load
// before its WebSocket does: a browser opens the page first and the WebSocket a moment later,
// so a burst of new visitors would otherwise all land on the replica that looked emptiest.
// Counted in two windows of this length, so a placement weighs for 10 to 20 seconds.
const placementWindow = 10 * time.Second

// generation is one start of the children: the first at "fluxlit run", the next at each
// reload. Requests go to the current one; the ones before drain (reload.go) and are gone.
type generation struct {
	n        int
	api      *upstream  // nil when no API is configured
	ui       []*replica // the Streamlit replicas; one for an external streamlit_upstream
	sup      *supervisor
	plan     *childPlan
	draining atomic.Bool
}

// replica is one Streamlit process (or the external streamlit_upstream). A browser session
// lives in one replica's memory: its WebSocket, its uploads, its media and component files.
type replica struct {
	up  *upstream
	id  string // "<generation>.<n>": in the cookie, the access log, metrics and the debug page
	gen *generation
	// cookie is the affinity cookie's value that names this replica; setCookie the
	// Set-Cookie values that give it to a browser, over plain HTTP and over HTTPS.
	cookie    string
	setCookie [2]string
	sessions  atomic.Int64 // open WebSockets
	placed    placements
}

// ready reports whether the replica takes new requests: an external upstream always does
// (fluxlit cannot know; the dial decides), a supervised one while its child is ready.
func (r *replica) ready() bool { return r.up.down == nil || !r.up.down() }

// load is what least-loaded compares: open sessions plus sessions placed but not yet
// connected.
func (r *replica) load(now time.Time) int64 { return r.sessions.Load() + r.placed.count(now) }

// cookieHeader is the Set-Cookie value that keeps a browser on r; secure when the browser
// came over HTTPS.
func (r *replica) cookieHeader(secure bool) string {
	if secure {
		return r.setCookie[1]
	}
	return r.setCookie[0]
}

// placements counts recent placements in two windows of placementWindow.
type placements struct {
	window    atomic.Int64
	cur, prev atomic.Int64
}

func (p *placements) add(now time.Time) {
	p.roll(now)
	p.cur.Add(1)
}

func (p *placements) count(now time.Time) int64 {
	p.roll(now)
	return p.cur.Load() + p.prev.Load()
}

func (p *placements) roll(now time.Time) {
	w := now.UnixNano() / int64(placementWindow)
	old := p.window.Load()
	if w == old || !p.window.CompareAndSwap(old, w) {
		return
	}
	if w == old+1 {
		p.prev.Store(p.cur.Swap(0))
	} else {
		p.prev.Store(0)
		p.cur.Store(0)
	}
}

// affinity is the cookie that keeps a browser on one replica.
//
// Why a cookie fluxlit sets, and not Streamlit's session id or the client's address: the
// session id exists only once the WebSocket is open (the server assigns it inside the
// protobuf stream), and of the requests that must reach the session's process only the
// uploads carry it in their URL; media (/media/<hash>) and component files do not. A client
// address hash (nginx ip_hash) puts a whole office behind one NAT on one replica, and moves a
// phone between networks to another. A cookie goes with every request of the browser,
// survives a reload of the page, and costs nothing to look up.
//
// The value names a replica and carries an HMAC-SHA256 of that name under a key made at
// start, so a client cannot forge a value that reaches a replica fluxlit did not give it
// (to pile sessions onto one replica, or to keep talking to a draining generation). A value
// fluxlit does not recognise (forged, from another fluxlit, from before a restart, naming a
// replica that is gone) is ignored: the request goes to the least-loaded replica and gets
// a fresh cookie. The cookie is per browser, not per tab: every tab of a browser shares the
// replica, which keeps the cookie simple and costs nothing but balance.
type affinity struct {
	name string // "fluxlit_replica_<port>": two fluxlits on one host (cookies ignore the port) keep theirs apart
	path string // root_path, or "/"
	key  []byte
}

// affinityKeyBytes is the HMAC key's size: SHA-256's block-sized keys gain nothing over 32 bytes.
const affinityKeyBytes = 32

// affinityMACBytes is how much of the HMAC the cookie carries: 128 bits cannot be guessed.
const affinityMACBytes = 16

func newAffinity(port int, rootPath string) *affinity {
	key := make([]byte, affinityKeyBytes)
	rand.Read(key)
	path := rootPath
	if path == "" {
		path = "/"
	}
	return &affinity{name: "fluxlit_replica_" + strconv.Itoa(port), path: path, key: key}
}

// value is the cookie value naming replica id.
func (a *affinity) value(id string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("fluxlit replica " + id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:affinityMACBytes])
}

// label gives the replica r its cookie and the Set-Cookie values. A session cookie (no Max-Age): it
// lasts while the browser runs, like Streamlit's own session; HttpOnly, as no script needs it.
func (a *affinity) label(r *replica) {
	r.cookie = a.value(r.id)
	base := a.name + "=" + r.cookie + "; Path=" + a.path + "; HttpOnly; SameSite=Lax"
	r.setCookie = [2]string{base, base + "; Secure"}
}

// cookieValue returns the value of the cookie named name in one Cookie header (RFC 6265
// §4.2.1: "a=1; b=2"), and whether it was there.
func cookieValue[T ~string | ~[]byte](header T, name string) (T, bool) {
	for len(header) > 0 {
		var pair T
		if i := indexOf(header, ';'); i >= 0 {
			pair, header = header[:i], header[i+1:]
		} else {
			pair, header = header, header[:0]
		}
		for len(pair) > 0 && (pair[0] == ' ' || pair[0] == '\t') {
			pair = pair[1:]
		}
		if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
			v := pair[len(name)+1:]
			for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
				v = v[:len(v)-1]
			}
			return v, true
		}
	}
	return header, false
}

func indexOf[T ~string | ~[]byte](s T, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// generations are the generations still running: the current one and those draining.
type generations struct {
	cur  atomic.Pointer[generation]
	live atomic.Pointer[[]*generation] // the current generation first, then the draining ones
	aff  *affinity                     // nil: no affinity cookie (an external streamlit_upstream)
	next atomic.Uint32                 // rotates ties between equally loaded replicas
	mu   sync.Mutex                    // orders add and retire
}

// current is the generation new requests and new sessions go to.
func (gs *generations) current() *generation { return gs.cur.Load() }

// all returns the live generations, the current one first.
func (gs *generations) all() []*generation {
	if l := gs.live.Load(); l != nil {
		return *l
	}
	return nil
}

// api is the API upstream of the current generation (nil: none configured). API requests
// hold no session state, so they always go to the newest generation.
func (gs *generations) api() *upstream {
	if g := gs.cur.Load(); g != nil {
		return g.api
	}
	return nil
}

// switchTo makes next the current generation; the one before it keeps serving the sessions
// its cookies name (HTTP only) until it is retired. It returns the previous generation.
func (gs *generations) switchTo(next *generation) *generation {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	prev := gs.cur.Load()
	if prev != nil {
		prev.draining.Store(true)
	}
	live := append([]*generation{next}, gs.all()...)
	gs.live.Store(&live)
	gs.cur.Store(next)
	return prev
}

// retire removes a drained generation: no request is routed to it any more.
func (gs *generations) retire(old *generation) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	var live []*generation
	for _, g := range gs.all() {
		if g != old {
			live = append(live, g)
		}
	}
	gs.live.Store(&live)
}

// pickStreamlit chooses the replica of a Streamlit request: the one its affinity cookie names,
// while that replica is ready (and, for a WebSocket, belongs to the current generation, so
// that a session reconnecting after a reload lands on the new code); else, for a browser
// without the cookie, the least-loaded ready replica of the current generation, and for one
// whose cookie cannot be honoured, the one its value hashes to; place is then true: the
// answer gives the browser the cookie naming it (the engine that writes it counts the
// placement). With no ready replica it returns the first one, for the plan's 503.
func (gs *generations) pickStreamlit(cookie []byte, websocket bool) (rep *replica, place bool) {
	cur := gs.cur.Load()
	if cur == nil || len(cur.ui) == 0 {
		return nil, false
	}
	if gs.aff == nil {
		return cur.ui[0], false
	}
	if len(cookie) > 0 {
		if r := gs.byCookie(cookie); r != nil && r.ready() && (r.gen == cur || !websocket) {
			return r, false
		}
		// A cookie fluxlit cannot honour (its replica is down or gone, or the value is not
		// one it made): the browser's requests that carry it arrive together (the
		// frontend's health polls and its WebSocket reconnect), and each answer sets a
		// cookie, so they must all pick the same replica: a hash of the value, not the load.
		if r := rendezvous(cur, cookie); r != nil {
			return r, true
		}
	}
	now := time.Now()
	var best *replica
	var bestLoad int64
	n := len(cur.ui)
	start := 0
	if n > 1 {
		start = int(gs.next.Add(1) % uint32(n))
	}
	for i := range n {
		r := cur.ui[(start+i)%n]
		if !r.ready() {
			continue
		}
		if l := r.load(now); best == nil || l < bestLoad {
			best, bestLoad = r, l
		}
	}
	if best == nil {
		return cur.ui[0], false
	}
	return best, true
}

// rendezvous is the ready replica of gen that cookie hashes highest with (rendezvous
// hashing: the same value picks the same replica, and the sessions of a replica that went
// down spread evenly over the others), or nil when none is ready.
func rendezvous(gen *generation, cookie []byte) *replica {
	var best *replica
	var bestHash uint64
	for _, r := range gen.ui {
		if !r.ready() {
			continue
		}
		h := fnv.New64a()
		h.Write(cookie)
		h.Write([]byte(r.id))
		if v := h.Sum64(); best == nil || v > bestHash {
			best, bestHash = r, v
		}
	}
	return best
}

// byCookie is the live replica the cookie value names, or nil.
func (gs *generations) byCookie(cookie []byte) *replica {
	for _, g := range gs.all() {
		for _, r := range g.ui {
			if string(cookie) == r.cookie {
				return r
			}
		}
	}
	return nil
}

// newGeneration builds generation n's upstreams: from the plan's children, or from the
// external upstream URLs of the configuration when fluxlit runs none.
func (g *gateway) newGeneration(n int, cfg *Config, plan *childPlan) (*generation, error) {
	gen := &generation{n: n, plan: plan}
	apiURL, uiURLs := cfg.APIUpstream, []string{}
	if cfg.StreamlitUpstream != "" {
		uiURLs = append(uiURLs, cfg.StreamlitUpstream)
	}
	if plan != nil {
		if plan.apiURL != "" {
			apiURL = plan.apiURL
		}
		if len(plan.uiURLs) > 0 {
			uiURLs = plan.uiURLs
		}
	}
	var err error
	if apiURL != "" {
		if gen.api, err = newUpstream(dispatchAPI, apiURL, cfg, g); err != nil {
			return nil, fmt.Errorf("api_upstream: %v", err)
		}
		gen.api.gen = gen
	}
	for i, u := range uiURLs {
		up, err := newUpstream(dispatchStreamlit, u, cfg, g)
		if err != nil {
			return nil, fmt.Errorf("streamlit_upstream: %v", err)
		}
		up.gen = gen
		r := &replica{up: up, id: childID(n, i+1), gen: gen}
		if g.gens.aff != nil {
			g.gens.aff.label(r)
		}
		gen.ui = append(gen.ui, r)
	}
	return gen, nil
}

// childID names child n of its kind in generation gen: "2.1".
func childID(gen, n int) string { return strconv.Itoa(gen) + "." + strconv.Itoa(n) }

// attach connects generation gen's supervised children to routing: an upstream whose child
// is not ready gets 503 (or, for a replica, its sessions go elsewhere).
func (gen *generation) attach(s *supervisor) {
	gen.sup = s
	if gen.api != nil {
		if c := s.childByKind(dispatchAPI, 1); c != nil {
			gen.api.child, gen.api.down = c, c.notReady
		}
	}
	for i, r := range gen.ui {
		if c := s.childByKind(dispatchStreamlit, i+1); c != nil {
			r.up.child, r.up.down = c, c.notReady
		}
	}
}

// upstreams lists the generation's upstreams.
func (gen *generation) upstreams() []*upstream {
	var ups []*upstream
	if gen.api != nil {
		ups = append(ups, gen.api)
	}
	for _, r := range gen.ui {
		ups = append(ups, r.up)
	}
	return ups
}

// inflight is the number of proxied HTTP exchanges the generation is serving.
func (gen *generation) inflight() int64 {
	var n int64
	for _, up := range gen.upstreams() {
		n += up.inflight.Load()
	}
	return n
}

// sessions is the number of WebSockets open to the generation's replicas.
func (gen *generation) sessions() int64 {
	var n int64
	for _, r := range gen.ui {
		n += r.sessions.Load()
	}
	return n
}

// closeIdle closes the fast engine's idle connections to the generation's upstreams.
func (gen *generation) closeIdle() {
	for _, up := range gen.upstreams() {
		if up.fast != nil {
			up.fast.closeIdle()
		}
		up.transport.CloseIdleConnections()
	}
}

// replicaCount is how many Streamlit children streamlit_replicas asks for: "auto" is the
// CPUs fluxlit may use (a Streamlit process runs its scripts on one core at a time).
func (c *Config) replicaCount() int {
	if c.StreamlitReplicas == "auto" {
		return usableCPUs(runtime.NumCPU(), "/proc/self/cgroup", "/sys/fs/cgroup")
	}
	n, err := strconv.Atoi(c.StreamlitReplicas)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// usableCPUs is the number of CPUs this process may use: the scheduler's affinity mask
// (runtime.NumCPU counts only the CPUs in it: taskset, cpuset cgroups, Kubernetes static CPU
// manager), capped by the cgroup's CPU quota (Docker --cpus, Kubernetes limits.cpu), rounded
// down: a replica per whole CPU, since a quota of 1.5 shared by two CPU-bound replicas is
// throttled every period and the gateway and the API child need CPU too. At least 1.
func usableCPUs(affinity int, procCgroup, cgroupRoot string) int {
	n := affinity
	if q, ok := cgroupCPUQuota(procCgroup, cgroupRoot); ok && int(q) < n {
		n = int(q)
	}
	return max(n, 1)
}

// cgroupCPUQuota reads the CPU quota (in CPUs) of this process's cgroup: cgroup v2's cpu.max
// ("max 100000" is none) or v1's cpu.cfs_quota_us / cpu.cfs_period_us (-1 is none).
func cgroupCPUQuota(procCgroup, root string) (float64, bool) {
	data, err := os.ReadFile(procCgroup)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // v2 unified hierarchy
			b, err := os.ReadFile(filepath.Join(root, parts[2], "cpu.max"))
			if err != nil {
				continue
			}
			f := strings.Fields(string(b))
			if len(f) == 2 && f[0] != "max" {
				quota, err1 := strconv.ParseFloat(f[0], 64)
				period, err2 := strconv.ParseFloat(f[1], 64)
				if err1 == nil && err2 == nil && period > 0 && quota > 0 {
					return quota / period, true
				}
			}
		case hasCgroupController(parts[1], "cpu"): // v1
			dir := filepath.Join(root, "cpu", parts[2])
			if _, err := os.Stat(dir); err != nil {
				dir = filepath.Join(root, "cpu,cpuacct", parts[2])
			}
			qb, err1 := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
			pb, err2 := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
			if err1 != nil || err2 != nil {
				continue
			}
			quota, err1 := strconv.ParseFloat(string(bytes.TrimSpace(qb)), 64)
			period, err2 := strconv.ParseFloat(string(bytes.TrimSpace(pb)), 64)
			if err1 == nil && err2 == nil && quota > 0 && period > 0 {
				return quota / period, true
			}
		}
	}
	return 0, false
}

func hasCgroupController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
