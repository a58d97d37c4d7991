#!/usr/bin/env bash
# bench/run.sh: fluxlit's front-door benchmark in one invocation. Runs the same workloads against
# the Go upstream directly, nginx (tuned as a good reverse proxy), Caddy (reverse_proxy) and
# fluxlit, and the real Python FluxLit gateway (the package's `fluxlit run`), plus the /api hop to
# a FastAPI app under uvicorn[standard] (TCP and --uds) and the same app in Python FluxLit, 9,000
# idle WebSocket tunnels through fluxlit and fluxlit's start-up time. Loopback only; every process
# it starts is stopped by PID. See bench/README.md for the columns and the noise rules.
#
#   bench/run.sh [--quick] [--build] [-d SECONDS] [-c CONNS] [--tunnels N] [--starts N] [--keep]
#                [--only REGEX] [--rounds N] [--floor]
#   --only runs just the workloads whose name matches REGEX (no /api, tunnels or start-up);
#   --rounds repeats the workloads N times (default 3, 4 s each), the door order rotated, and
#   reports the median of the same-round ratios; FLUXLIT_BIN_B adds a second
#   fluxlit door ("fluxlit-b") for an A/B of two builds in the same run. --floor adds two
#   doors that are Go's floor, bench/relay relaying bytes without parsing (go-copy, go-raw).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DUR=4         # seconds per HTTP / WS-echo workload and round (3 rounds: 12 s per door)
CONNS=64      # concurrent connections for wrk and the WS echo (perf-baseline.md uses 64)
CONNECT_WORKERS=4 # parallel dial+upgrade loops for the WS connect rate (2 vCPU: 4 saturates it)
TUNNELS=9000  # idle WS tunnels held through fluxlit (the issue's number)
STARTS=20     # fluxlit start-up samples (median of 20, the issue's number)
QUICK=0 BUILD=0 KEEP=0 FLOOR=0
ONLY='' ROUNDS=3 # rounds: the machine drifts; a median of same-round ratios does not
API_DUR=3     # seconds per /api hop row and round (2 s was too short to read)
API_ROUNDS=3  # /api rounds, the row order rotated (one 5-s sample per row was too noisy)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--build) BUILD=1 ;;
	--keep) KEEP=1 ;;
	--floor) FLOOR=1 ;;
	-d | --duration) DUR=${2:-}; shift ;;
	-c | --conns) CONNS=${2:-}; shift ;;
	--tunnels) TUNNELS=${2:-}; shift ;;
	--starts) STARTS=${2:-}; shift ;;
	--only) ONLY=${2:-}; shift ;;
	--rounds) ROUNDS=${2:-}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then DUR=2 ROUNDS=1 API_DUR=2 API_ROUNDS=1 TUNNELS=1000 STARTS=5; fi
for v in DUR CONNS TUNNELS STARTS ROUNDS; do
	case "${!v}" in '' | *[!0-9]*) echo "run.sh: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;; esac
	[ "${!v}" -gt 0 ] || { echo "run.sh: $v must be > 0" >&2; exit 2; }
done
# Connect-rate runs are half length: connects are cheap to count.
HALF=$(( DUR / 2 > 2 ? DUR / 2 : 2 ))

BIN_GIVEN=${FLUXLIT_BIN:+1}
FLUXLIT_BIN=${FLUXLIT_BIN:-./fluxlit}
case "$FLUXLIT_BIN" in /*) ;; *) FLUXLIT_BIN="$ROOT/${FLUXLIT_BIN#./}" ;; esac
# The newest pinned venv (requirements/newest.txt): FastAPI, uvicorn[standard] and the Python
# FluxLit package, whose console script is also named fluxlit, so it is called by its path.
PY=${FLUXLIT_BENCH_PYTHON:-/opt/fluxlit-venvs/newest/bin/python}
PYFL=$(dirname "$PY")/fluxlit

T=$(mktemp -d /tmp/fluxlit-bench.XXXXXX)
RES="$T/results.tsv"; : >"$RES"
OUT="$T/latest.md"; : >"$OUT"
PIDS=()
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
emit() { printf '%s\n' "$*" >>"$OUT"; }

# ---- process bookkeeping: every process we start is recorded and stopped by PID ----
tree_pids() { # PID and its descendants
	local p c
	for p in "$@"; do
		[ -d "/proc/$p" ] || continue
		echo "$p"
		for c in $(pgrep -P "$p" 2>/dev/null); do tree_pids "$c"; done
	done
}
stop_pid() { # SIGTERM the PID, SIGKILL after 3 s; then any descendant that outlived it
	local pid=$1 kids i
	[ -d "/proc/$pid" ] || return 0
	kids=$(tree_pids "$pid" | tail -n +2)
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 30); do [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for k in $kids; do kill -KILL "$k" 2>/dev/null; done
	return 0
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_bg() { # start_bg NAME CMD... : run in background, log to $T/NAME.log, record the PID
	local name=$1; shift
	"$@" </dev/null >"$T/$name.log" 2>&1 &
	LASTPID=$!
	PIDS+=("$LASTPID")
}

# ---- /proc accounting (bash builtins only: forks are slow on a loaded 2-vCPU box) ----
CLK=$(getconf CLK_TCK)
NCPU=$(nproc)
declare -A TREE_CACHE
cached_tree() { # door trees are stable while they run (nginx keeps its workers), so look them up once
	local p
	for p in "$@"; do
		[ -n "${TREE_CACHE[$p]:-}" ] || TREE_CACHE[$p]=$(tree_pids "$p" | tr '\n' ' ')
		echo "${TREE_CACHE[$p]}"
	done
}
cpu_ticks() { # utime+stime summed over the trees of the given PIDs (threads included)
	local t=0 p line rest
	for p in $(cached_tree "$@"); do
		read -r line <"/proc/$p/stat" 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		t=$(( t + ${12} + ${13} ))
	done
	echo "$t"
}
rss_kib() { # rss_kib VmRSS|VmHWM PID... : summed over the trees
	local field=$1 p t=0 k v _; shift
	for p in $(tree_pids "$@"); do
		while read -r k v _; do
			[ "$k" = "$field:" ] && { t=$(( t + v )); break; }
		done <"/proc/$p/status"
	done
	echo "$t"
}
box_busy() { local c u n s i w q sq st _; read -r c u n s i w q sq st _ </proc/stat; echo $(( u + n + s + q + sq + st )); }
now_ns() { local e=${EPOCHREALTIME/./}; echo "${e}000"; }

# ---- tools: install via apt only when missing, never concurrently with another apt ----
wait_for_apt() {
	local i
	for i in $(seq 300); do
		pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null || return 0
		[ "$i" = 1 ] && log "another apt/dpkg is running; waiting for it (up to 10 min)"
		sleep 2
	done
	return 1
}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
if ! "$PY" -c 'import fastapi, uvicorn, fluxlit' 2>/dev/null && [ -z "${FLUXLIT_BENCH_PYTHON:-}" ]; then
	log "making the newest Python venv (scripts/python-envs.sh newest)"
	bash "$ROOT/scripts/python-envs.sh" newest >"$T/python-envs.log" 2>&1 ||
		log "scripts/python-envs.sh failed (see $T/python-envs.log); the /api and Python FluxLit doors will be reported as failed"
fi
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && wait_for_apt; then
		log "installing ${need[*]} with apt"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 "${need[@]}" >"$T/apt.log" 2>&1 ||
			log "apt-get install failed (see $T/apt.log); the doors needing it will be reported as failed"
	else
		log "missing ${need[*]} and cannot apt-get install (not root, or apt busy)"
	fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v wrk >/dev/null || { echo "run.sh: wrk is required (apt-get install wrk)" >&2; exit 1; }

# ---- build the bench programs (and fluxlit with --build) ----
log "building bench/upstream, bench/wsload and bench/relay"
(cd "$ROOT" && go build -o "$T/upstream" ./bench/upstream && go build -o "$T/wsload" ./bench/wsload &&
	go build -o "$T/relay" ./bench/relay) ||
	{ echo "run.sh: go build of the bench programs failed" >&2; exit 1; }
FLUXLIT_NOTE=""
# The default ./fluxlit is rebuilt when it is missing or older than the sources: a stale binary
# benchmarked in silence cost a run once (BENCHMARKS.md, run 10). FLUXLIT_BIN is taken as given.
if [ "$BUILD" = 0 ] && [ -z "$BIN_GIVEN" ] && { [ ! -x "$FLUXLIT_BIN" ] ||
	[ -n "$(find "$ROOT" -maxdepth 1 \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -newer "$FLUXLIT_BIN" -print -quit)" ]; }; then
	log "./fluxlit is missing or older than the sources: building it (FLUXLIT_BIN=... runs a given binary as it is)"
	BUILD=1
fi
if [ "$BUILD" = 1 ]; then
	log "building fluxlit -> $FLUXLIT_BIN"
	(cd "$ROOT" && go build -o "$FLUXLIT_BIN" .) >"$T/fluxlit-build.log" 2>&1 ||
		FLUXLIT_NOTE="go build failed: $(grep -m1 . "$T/fluxlit-build.log")"
fi
WSLOAD="$T/wsload"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || log "could not raise the soft file limit"
read -r -a P < <("$WSLOAD" -mode ports -n 20 | sed 's/^BENCH ports=//; s/,/ /g')
[ ${#P[@]} = 20 ] || { echo "run.sh: could not get free ports" >&2; exit 1; }
UP_DIRECT=${P[0]} UP_NGINX=${P[1]} UP_CADDY=${P[2]} UP_FLUX=${P[3]}
NGINX_PORT=${P[4]} CADDY_PORT=${P[5]} FLUX_PORT=${P[6]} FLUXU_PORT=${P[7]} UV_PORT=${P[8]} START_PORT=${P[9]}
START_PORT2=${P[10]} UP_FLUXB=${P[12]} FLUXB_PORT=${P[13]}
UP_GOCOPY=${P[14]} UP_GORAW=${P[15]} GOCOPY_PORT=${P[16]} GORAW_PORT=${P[17]}
UP_PYFL=${P[18]} PYFL_PORT=${P[19]}
UV_SOCK="$T/uvicorn.sock"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- door state: DOOR_PID[door] (CPU/RSS accounted), DOOR_UP[door] (its origin), DOOR_FAIL[door] ----
declare -A DOOR_PID DOOR_UP DOOR_FAIL DOOR_PORT RSS_IDLE RSS_PEAK
DOORS=(direct nginx caddy fluxlit python-fluxlit)
FLUXLIT_BIN_B=${FLUXLIT_BIN_B:-}
[ -n "$FLUXLIT_BIN_B" ] && DOORS+=(fluxlit-b)
[ "$FLOOR" = 1 ] && DOORS+=(go-copy go-raw)

wait_http() { "$WSLOAD" -mode wait -url "$1" -d "${2:-10s}" >/dev/null 2>"$T/wait.err"; }
fail_door() { DOOR_FAIL[$1]=$2; log "door $1 FAILED: $2"; }
last_log() { grep -v '^\s*$' "$T/$1.log" 2>/dev/null | tail -1 | cut -c1-160; }

log "starting upstreams"
for d in "${DOORS[@]}"; do
	case $d in direct) p=$UP_DIRECT ;; nginx) p=$UP_NGINX ;; caddy) p=$UP_CADDY ;; fluxlit) p=$UP_FLUX ;; fluxlit-b) p=$UP_FLUXB ;;
	go-copy) p=$UP_GOCOPY ;; go-raw) p=$UP_GORAW ;; python-fluxlit) p=$UP_PYFL ;; esac
	# Python FluxLit's WebSocket hop sends Host twice, which net/http refuses (upstream -one-host).
	if [ "$d" = python-fluxlit ]; then
		start_bg "upstream-$d" "$T/upstream" -addr "127.0.0.1:$p" -one-host
	else
		start_bg "upstream-$d" "$T/upstream" -addr "127.0.0.1:$p"
	fi
	DOOR_UP[$d]=$LASTPID
	wait_http "http://127.0.0.1:$p/healthz" || { echo "run.sh: upstream on :$p did not start: $(cat "$T/wait.err")" >&2; exit 1; }
done
DOOR_PID[direct]=${DOOR_UP[direct]}; DOOR_UP[direct]=""; DOOR_PORT[direct]=$UP_DIRECT

# FastAPI under uvicorn, once on TCP and once on a unix socket.
API_OK=1
mkdir -p "$T/api"
cat >"$T/api/benchapi.py" <<'EOF'
# A small but real FastAPI endpoint: path and query validation plus a pydantic response model.
from typing import List, Optional

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    item_id: int
    q: Optional[str] = None
    tags: List[str] = []


@app.get("/items/{item_id}", response_model=Item)
async def read_item(item_id: int, q: Optional[str] = None) -> Item:
    return Item(item_id=item_id, q=q, tags=["bench", "fluxlit"])


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
EOF
UVICORN_ARGS=(-m uvicorn benchapi:app --app-dir "$T/api" --no-access-log --log-level warning)
if $PY -c 'import fastapi, uvicorn' 2>/dev/null; then
	start_bg uvicorn-tcp $PY "${UVICORN_ARGS[@]}" --host 127.0.0.1 --port "$UV_PORT"; UV_PID=$LASTPID
	start_bg uvicorn-uds $PY "${UVICORN_ARGS[@]}" --uds "$UV_SOCK"; UVU_PID=$LASTPID
	wait_http "http://127.0.0.1:$UV_PORT/healthz" 20s || { API_OK=0; API_FAIL="uvicorn did not start: $(last_log uvicorn-tcp)"; }
	for i in $(seq 100); do [ -S "$UV_SOCK" ] && break; sleep 0.1; done
	[ -S "$UV_SOCK" ] || { API_OK=0; API_FAIL="uvicorn --uds did not create $UV_SOCK: $(last_log uvicorn-uds)"; }
else
	API_OK=0; API_FAIL="fastapi / uvicorn not importable by $PY (scripts/python-envs.sh newest)"
fi

log "starting nginx"
mkdir -p "$T/nginx/tmp"
NGINX_USER=""; [ "$(id -u)" = 0 ] && NGINX_USER="user root;"
cat >"$T/nginx/nginx.conf" <<EOF
# Generated by bench/run.sh: nginx as a good reverse proxy (see perf-baseline.md): upstream
# keepalive, HTTP/1.1 upstream, WebSocket upgrade map, no access log, request bodies streamed
# (no buffering to disk), response buffers large enough that nothing spills to a temp file.
$NGINX_USER
worker_processes auto;
worker_rlimit_nofile $(ulimit -Hn);
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 10000; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    keepalive_requests 1000000;   # Go servers never close a busy keep-alive conn; neither should nginx
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    upstream app    { server 127.0.0.1:$UP_NGINX; keepalive 128; keepalive_requests 1000000; }
    upstream api    { server 127.0.0.1:$UV_PORT;  keepalive 128; keepalive_requests 1000000; }
    upstream apiuds { server unix:$UV_SOCK;       keepalive 128; keepalive_requests 1000000; }
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_set_header Upgrade \$http_upgrade;
    proxy_set_header Connection \$connection_upgrade;
    proxy_request_buffering off;
    client_body_buffer_size 256k;
    client_max_body_size 0;
    proxy_buffers 8 64k;
    proxy_max_temp_file_size 0;
    proxy_read_timeout 120s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /      { proxy_pass http://app; }
        location /api/  { proxy_pass http://api/; }
        location /apiu/ { proxy_pass http://apiuds/; }
    }
}
EOF
if [ -x "$NGINX" ]; then
	start_bg nginx "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" -g 'daemon off;'
	DOOR_PID[nginx]=$LASTPID
	wait_http "http://127.0.0.1:$NGINX_PORT/bytes?n=1" || fail_door nginx "not ready: $(cat "$T/wait.err") $(tail -1 "$T/nginx/error.log" 2>/dev/null)"
else
	fail_door nginx "nginx not installed"
fi
DOOR_PORT[nginx]=$NGINX_PORT

log "starting caddy"
mkdir -p "$T/caddy/data" "$T/caddy/config"
cat >"$T/caddy/Caddyfile" <<EOF
# Generated by bench/run.sh: Caddy's stock reverse_proxy (keep-alive pool, streaming, WebSocket).
{
	admin off
	auto_https off
	log {
		level ERROR
	}
}
:$CADDY_PORT {
	bind 127.0.0.1
	handle_path /api/* {
		reverse_proxy 127.0.0.1:$UV_PORT
	}
	handle_path /apiu/* {
		reverse_proxy unix/$UV_SOCK
	}
	handle {
		reverse_proxy 127.0.0.1:$UP_CADDY
	}
}
EOF
if command -v caddy >/dev/null; then
	XDG_DATA_HOME="$T/caddy/data" XDG_CONFIG_HOME="$T/caddy/config" start_bg caddy caddy run --config "$T/caddy/Caddyfile" --adapter caddyfile
	DOOR_PID[caddy]=$LASTPID
	wait_http "http://127.0.0.1:$CADDY_PORT/bytes?n=1" || fail_door caddy "not ready: $(cat "$T/wait.err") $(last_log caddy)"
else
	fail_door caddy "caddy not installed"
fi
DOOR_PORT[caddy]=$CADDY_PORT

# fluxlit: fronting external upstreams; run in an empty dir so no fluxlit.toml is picked up.
mkdir -p "$T/fluxlit-cwd"
start_fluxlit() { # start_fluxlit NAME PORT API_UPSTREAM [BINARY ORIGIN_PORT] : sets LASTPID or returns 1 with FAILMSG
	local name=$1 port=$2 api=$3 bin=${4:-$FLUXLIT_BIN} origin=${5:-$UP_FLUX}
	FAILMSG="" FLUXPID=""
	if [ -n "$FLUXLIT_NOTE" ]; then FAILMSG=$FLUXLIT_NOTE; return 1; fi
	if [ ! -x "$bin" ]; then FAILMSG="binary $bin not found (use --build or FLUXLIT_BIN=...)"; return 1; fi
	(cd "$T/fluxlit-cwd" && exec env FLUXLIT_GATEWAY_HOST=127.0.0.1 FLUXLIT_GATEWAY_PORT="$port" \
		FLUXLIT_STREAMLIT_UPSTREAM="http://127.0.0.1:$origin" FLUXLIT_API_UPSTREAM="$api" \
		FLUXLIT_LOG_LEVEL=warn FLUXLIT_ENABLE_GATEWAY_ACCESS_LOG=0 \
		"$bin" run --no-pidfile) </dev/null >"$T/$name.log" 2>&1 &
	LASTPID=$!
	FLUXPID=$LASTPID
	PIDS+=("$LASTPID")
	local i rc
	for i in $(seq 50); do # 50 x 0.2 s, leaving early if the binary exits
		wait_http "http://127.0.0.1:$port/api/healthz" 200ms && break
		if ! [ -d "/proc/$FLUXPID" ] || grep -q '^State:.*Z' "/proc/$FLUXPID/status" 2>/dev/null; then
			wait "$FLUXPID" 2>/dev/null; rc=$?
			FAILMSG="exited with status $rc before GET /api/healthz answered: $(last_log "$name")"
			[ -n "$(last_log "$name")" ] || FAILMSG="exited with status $rc before GET /api/healthz answered (no output)"
			return 1
		fi
		if [ "$i" = 50 ]; then
			FAILMSG="GET /api/healthz never answered 200 in 10 s ($(cut -c1-120 "$T/wait.err")); log: $(last_log "$name")"
			return 1
		fi
	done
	wait_http "http://127.0.0.1:$port/bytes?n=1" 3s || { FAILMSG="proxying GET /bytes?n=1 failed: $(cat "$T/wait.err" | cut -c1-160)"; return 1; }
}
log "starting fluxlit ($FLUXLIT_BIN)"
if start_fluxlit fluxlit "$FLUX_PORT" "http://127.0.0.1:$UV_PORT"; then
	DOOR_PID[fluxlit]=$FLUXPID
else
	fail_door fluxlit "$FAILMSG"
	[ -n "$FLUXPID" ] && stop_pid "$FLUXPID"
fi
DOOR_PORT[fluxlit]=$FLUX_PORT
if [ -n "$FLUXLIT_BIN_B" ]; then
	case "$FLUXLIT_BIN_B" in /*) ;; *) FLUXLIT_BIN_B="$ROOT/${FLUXLIT_BIN_B#./}" ;; esac
	log "starting fluxlit-b ($FLUXLIT_BIN_B)"
	if start_fluxlit fluxlit-b "$FLUXB_PORT" "http://127.0.0.1:$UV_PORT" "$FLUXLIT_BIN_B" "$UP_FLUXB"; then
		DOOR_PID[fluxlit-b]=$FLUXPID
	else
		fail_door fluxlit-b "$FAILMSG"
		[ -n "$FLUXPID" ] && stop_pid "$FLUXPID"
	fi
	DOOR_PORT[fluxlit-b]=$FLUXB_PORT
fi
# Python FluxLit: the package's own `fluxlit run` on the bench API as a FluxLit app (served in
# process, as FluxLit serves its API). It always starts its Streamlit sidecar and re-reads the
# sidecar's URL from a state file on every request (a restarted sidecar is picked up that way);
# once it is up, that file is pointed at this door's own bench origin, so the door fronts the same
# origin as the others. The file is found through TMPDIR, which mkstemp honours. The sidecar sits
# idle in the door's process tree (its RSS is in the RSS table; its CPU is near zero).
log "starting Python FluxLit ($PYFL)"
DOOR_PORT[python-fluxlit]=$PYFL_PORT
cat >"$T/api/benchfl.py" <<'EOF'
# The bench API as a Python FluxLit app, for `fluxlit run benchfl:app`.
import benchapi
from fluxlit import FluxLit

app = FluxLit(title="bench")
app.api.include_router(benchapi.app.router)
EOF
mkdir -p "$T/pyfl-tmp"
if [ ! -x "$PYFL" ]; then
	fail_door python-fluxlit "$PYFL not found (the Python FluxLit package in $PY's venv)"
else
	start_bg python-fluxlit env -C "$T/api" TMPDIR="$T/pyfl-tmp" PYTHONPATH="$T/api" \
		"$PYFL" run benchfl:app --host 127.0.0.1 --port "$PYFL_PORT" --no-pidfile --log-level warning
	DOOR_PID[python-fluxlit]=$LASTPID
	if ! wait_http "http://127.0.0.1:$PYFL_PORT/api/items/1" 90s; then
		fail_door python-fluxlit "not ready in 90 s: $(cut -c1-120 "$T/wait.err") $(last_log python-fluxlit)"
	else
		state=$(ls "$T"/pyfl-tmp/fluxlit-upstream-*.txt 2>/dev/null | head -1)
		if [ -z "$state" ]; then
			fail_door python-fluxlit "no fluxlit-upstream-*.txt state file in $T/pyfl-tmp"
		else
			printf 'http://127.0.0.1:%s' "$UP_PYFL" >"$state"
			wait_http "http://127.0.0.1:$PYFL_PORT/bytes?n=1" 5s ||
				fail_door python-fluxlit "proxying GET /bytes?n=1 to the bench origin failed: $(cut -c1-160 "$T/wait.err")"
		fi
	fi
fi
# The Go floor (--floor): bench/relay, which relays bytes and parses nothing, in its two modes.
if [ "$FLOOR" = 1 ]; then
	for d in go-copy go-raw; do
		case $d in go-copy) port=$GOCOPY_PORT origin=$UP_GOCOPY ;; go-raw) port=$GORAW_PORT origin=$UP_GORAW ;; esac
		start_bg "$d" "$T/relay" -mode "${d#go-}" -listen "127.0.0.1:$port" -to "127.0.0.1:$origin"
		DOOR_PID[$d]=$LASTPID DOOR_PORT[$d]=$port
		wait_http "http://127.0.0.1:$port/bytes?n=1" || fail_door "$d" "not ready: $(cat "$T/wait.err") $(last_log "$d")"
	done
fi

sleep 1
for d in "${DOORS[@]}"; do [ -z "${DOOR_FAIL[$d]:-}" ] && RSS_IDLE[$d]=$(rss_kib VmRSS "${DOOR_PID[$d]}"); done

# ---- one measured run: measure SECTION WORKLOAD DOOR DOOR_PID UPSTREAM_PID -- CMD... ----
measure() {
	local sec=$1 wl=$2 door=$3 dpid=$4 upid=$5; shift 6
	local c0 u0 b0 t0 c1 u1 b1 t1 rc line
	log "$wl via $door"
	c0=$(cpu_ticks "$dpid"); u0=0; [ -n "$upid" ] && u0=$(cpu_ticks "$upid")
	b0=$(box_busy); t0=$(now_ns)
	( "$@" >"$T/run.out" 2>"$T/run.err"; rc=$?; times >"$T/run.times"; exit $rc )
	rc=$?
	t1=$(now_ns); b1=$(box_busy)
	c1=$(cpu_ticks "$dpid"); u1=0; [ -n "$upid" ] && u1=$(cpu_ticks "$upid")
	line=""; while read -r f; do [ "${f#BENCH }" != "$f" ] && { line=${f#BENCH }; break; }; done <"$T/run.out"
	local lg; { read -r _; read -r lg; } <"$T/run.times"; lg="${lg// /+}" # "0m1.2s+0m0.3s", summed in awk below
	local req="" rate="" p50="" p99="" errs="" non2xx="" f
	for f in $line; do
		case ${f%%=*} in
		requests) req=${f#*=} ;; rate) rate=${f#*=} ;; p50_us) p50=${f#*=} ;; p99_us) p99=${f#*=} ;;
		errors) errs=${f#*=} ;; non2xx) non2xx=${f#*=} ;;
		esac
	done
	local status=ok note=""
	if [ -z "$line" ] || [ "${req:-0}" = 0 ]; then
		status=FAILED; note=$(grep -m1 . "$T/run.err" | cut -c1-160)
		[ -n "$line" ] && [ -z "$note" ] && note="0 requests completed (door stalled?)"
		[ -n "$note" ] || note="no result line (rc=$rc)"
	elif [ $(( ${errs:-0} + ${non2xx:-0} )) -gt $(( req / 100 )) ]; then
		status=FAILED; note="${errs:-0} socket errors, ${non2xx:-0} non-2xx of $req; $(grep -m1 . "$T/run.err" | cut -c1-120)"
	elif [ $rc != 0 ]; then
		status=errors; note=$(grep -m1 . "$T/run.err" | cut -c1-120)
	fi
	awk -v OFS='\t' -v sec="$sec" -v wl="$wl" -v door="$door" -v st="$status" -v rate="${rate:-0}" \
		-v p50="${p50:-0}" -v p99="${p99:-0}" -v req="${req:-0}" -v dc=$((c1 - c0)) -v uc=$((u1 - u0)) \
		-v busy=$((b1 - b0)) -v wall=$((t1 - t0)) -v lg="$lg" -v clk="$CLK" -v ncpu="$NCPU" \
		-v errs=$(( ${errs:-0} + ${non2xx:-0} )) -v note="$note" 'BEGIN {
		n = split(lg, tt, /[ms+]/); lgs = 0; for (i = 1; i + 1 <= n; i += 3) lgs += tt[i] * 60 + tt[i + 1]
		w = wall / 1e9; cpu10k = (req > 0) ? dc / clk / req * 10000 : 0; u10k = (req > 0) ? uc / clk / req * 10000 : 0
		foreign = (busy / clk - dc / clk - uc / clk - lgs) / (ncpu * w) * 100; if (foreign < 0) foreign = 0
		print sec, wl, door, st, rate, p50 / 1000, p99 / 1000, cpu10k, foreign, errs, u10k, note }' >>"$RES"
}
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1==k{print $2; exit}'; }
record_fail() { printf '%s\t%s\t%s\tFAILED\t0\t0\t0\t0\t0\t0\t0\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; }

WRK=(wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$HERE/wrk.lua")
run_workload() { # run_workload NAME KIND ARG : every door in turn (workload-major, as perf-baseline.md)
	local wl=$1 kind=$2 arg=$3 d port i n=${#DOORS[@]} order=()
	[ -z "$ONLY" ] || [[ "$wl" =~ $ONLY ]] || return 0
	# Each round starts one door later, so that no door is always the one measured last
	# while the shared machine drifts.
	for i in $(seq 0 $((n - 1))); do order+=("${DOORS[$(( (i + round - 1) % n ))]}"); done
	for d in "${order[@]}"; do
		if [ -n "${DOOR_FAIL[$d]:-}" ]; then record_fail main "$wl" "$d" "${DOOR_FAIL[$d]}"; continue; fi
		port=${DOOR_PORT[$d]}
		case $kind in
		get) measure main "$wl" "$d" "${DOOR_PID[$d]}" "${DOOR_UP[$d]}" -- "${WRK[@]}" "http://127.0.0.1:$port$arg" ;;
		post) measure main "$wl" "$d" "${DOOR_PID[$d]}" "${DOOR_UP[$d]}" -- env BENCH_BODY_BYTES=1048576 "${WRK[@]}" "http://127.0.0.1:$port$arg" ;;
		echo) measure main "$wl" "$d" "${DOOR_PID[$d]}" "${DOOR_UP[$d]}" -- "$WSLOAD" -mode echo -url "ws://127.0.0.1:$port/ws" -c "$CONNS" -d "${DUR}s" -size 1024 ;;
		connect) measure main "$wl" "$d" "${DOOR_PID[$d]}" "${DOOR_UP[$d]}" -- "$WSLOAD" -mode connect -url "ws://127.0.0.1:$port/ws" -c "$CONNECT_WORKERS" -d "${HALF}s" ;;
		esac
	done
}
BENCH_T0=$(date +%s)
for round in $(seq "$ROUNDS"); do
	run_workload "GET 100 B" get "/bytes?n=100"
	run_workload "GET 1 MiB" get "/1m"
	run_workload "POST 1 MiB" post "/sink"
	run_workload "WS echo 1 KiB" echo ""
	run_workload "WS connect" connect ""
done
for d in "${DOORS[@]}"; do [ -z "${DOOR_FAIL[$d]:-}" ] && RSS_PEAK[$d]=$(rss_kib VmHWM "${DOOR_PID[$d]}"); done

# ---- /api hop: FastAPI under uvicorn, direct vs through each door, TCP and unix socket ----
# API_ROUNDS rounds, the row order rotated each round, as for the main workloads: one sample per
# row swung the fluxlit ÷ uvicorn ratio from 0.86 to 1.10 between two back-to-back runs.
API_PATH="/items/42?q=bench"
WRK_API=(wrk -t2 -c"$CONNS" -d"${API_DUR}s" --timeout 10s -s "$HERE/wrk.lua")
api_row() { # api_row LABEL : one measurement of that row (LABEL as in the report)
	case $1 in
	"direct (TCP)") measure api "uvicorn" "$1" "$UV_PID" "" -- "${WRK_API[@]}" "http://127.0.0.1:$UV_PORT$API_PATH" ;;
	"nginx (TCP)") measure api "uvicorn" "$1" "${DOOR_PID[nginx]}" "$UV_PID" -- "${WRK_API[@]}" "http://127.0.0.1:${DOOR_PORT[nginx]}/api$API_PATH" ;;
	"nginx (UDS)") measure api "uvicorn" "$1" "${DOOR_PID[nginx]}" "$UVU_PID" -- "${WRK_API[@]}" "http://127.0.0.1:${DOOR_PORT[nginx]}/apiu$API_PATH" ;;
	"fluxlit (TCP)") measure api "uvicorn" "$1" "${DOOR_PID[fluxlit]}" "$UV_PID" -- "${WRK_API[@]}" "http://127.0.0.1:$FLUX_PORT/api$API_PATH" ;;
	"fluxlit (UDS)") measure api "uvicorn" "$1" "$FLUXU_PID" "$UVU_PID" -- "${WRK_API[@]}" "http://127.0.0.1:$FLUXU_PORT/api$API_PATH" ;;
	"Python FluxLit (in process)") measure api "uvicorn" "$1" "${DOOR_PID[python-fluxlit]}" "" -- "${WRK_API[@]}" "http://127.0.0.1:$PYFL_PORT/api$API_PATH" ;;
	esac
}
if [ -n "$ONLY" ]; then
	: # --only: the main workloads alone
elif [ "$API_OK" = 1 ]; then
	API_ROWS=("direct (TCP)") # the rows that can run; a door that failed is recorded once
	if [ -n "${DOOR_FAIL[nginx]:-}" ]; then # Caddy is left out here to keep the whole run under 5 minutes
		record_fail api uvicorn "nginx (TCP)" "${DOOR_FAIL[nginx]}"; record_fail api uvicorn "nginx (UDS)" "${DOOR_FAIL[nginx]}"
	else
		API_ROWS+=("nginx (TCP)" "nginx (UDS)")
	fi
	if [ -n "${DOOR_FAIL[fluxlit]:-}" ]; then
		record_fail api uvicorn "fluxlit (TCP)" "${DOOR_FAIL[fluxlit]}"
	elif wait_http "http://127.0.0.1:$FLUX_PORT/api$API_PATH" 3s; then
		API_ROWS+=("fluxlit (TCP)")
	else
		record_fail api uvicorn "fluxlit (TCP)" "GET /api$API_PATH: $(cut -c1-140 "$T/wait.err")"
	fi
	if [ -n "${DOOR_FAIL[python-fluxlit]:-}" ]; then
		record_fail api uvicorn "Python FluxLit (in process)" "${DOOR_FAIL[python-fluxlit]}"
	else
		API_ROWS+=("Python FluxLit (in process)")
	fi
	FLUXU_PID=""
	if start_fluxlit fluxlit-uds "$FLUXU_PORT" "unix:$UV_SOCK" && wait_http "http://127.0.0.1:$FLUXU_PORT/api$API_PATH" 3s; then
		FLUXU_PID=$FLUXPID
		API_ROWS+=("fluxlit (UDS)")
	else
		[ -n "$FAILMSG" ] || FAILMSG="api_upstream unix:$UV_SOCK: GET /api$API_PATH: $(cut -c1-140 "$T/wait.err")"
		record_fail api uvicorn "fluxlit (UDS)" "$FAILMSG"
	fi
	for ((r = 0; r < API_ROUNDS; r++)); do
		for ((k = 0; k < ${#API_ROWS[@]}; k++)); do api_row "${API_ROWS[$(((k + r) % ${#API_ROWS[@]}))]}"; done
	done
	[ -n "$FLUXPID" ] && stop_pid "$FLUXPID"
else
	record_fail api uvicorn "all" "$API_FAIL"
fi

# ---- idle tunnels: TUNNELS WebSockets held through fluxlit (Caddy as the same-language reference) ----
TUN_LINES=()
idle_run() { # idle_run DOOR N
	local d=$1 n=$2 out
	if [ -n "${DOOR_FAIL[$d]:-}" ]; then TUN_LINES+=("| $d | $n | - | - | - | - | FAILED: ${DOOR_FAIL[$d]} |"); return; fi
	log "$n idle tunnels via $d"
	out=$("$WSLOAD" -mode idle -url "ws://127.0.0.1:${DOOR_PORT[$d]}/ws" -n "$n" -c 64 -d 2s -rss-pid "${DOOR_PID[$d]}" 2>"$T/idle.err")
	local l=${out#BENCH } op ec b a per verdict
	op=$(kv opened "$l"); ec=$(kv echoed "$l"); b=$(kv rss_before_kib "$l"); a=$(kv rss_after_kib "$l"); per=$(kv per_tunnel_kib "$l")
	if [ -z "$l" ]; then verdict="FAILED: $(head -c 160 "$T/idle.err")"; [ -s "$T/idle.err" ] || verdict="FAILED: wsload ended without a result"
	elif [ "$d" != fluxlit ]; then verdict="reference $(head -c 120 "$T/idle.err")"
	elif [ "$op" = "$n" ] && [ "$ec" = "$n" ] && awk -v p="$per" 'BEGIN{exit !(p <= 20)}'; then verdict="PASS"
	else verdict="FAIL (need all $n opened and echoed, ≤ 20 KiB/tunnel) $(head -c 120 "$T/idle.err")"; fi
	TUN_LINES+=("| $d | $n | ${op:-0} | ${ec:-0} | $(awk -v b="${b:-0}" -v a="${a:-0}" 'BEGIN{printf "%.1f → %.1f", b/1024, a/1024}') | ${per:-} | $verdict |")
}
if [ -z "$ONLY" ]; then
	idle_run fluxlit "$TUNNELS"
	# Caddy as the same-language reference, at 1,000 tunnels: its KiB/tunnel is already clear there,
	# and 9,000 through Caddy (about 0.7 GiB) would cost time the 5-minute budget does not have.
	idle_run caddy $(( TUNNELS < 1000 ? TUNNELS : 1000 ))
fi

# ---- start-up: fluxlit run (upstreams external) until it accepts a TCP connection ----
START_LINES=()
start_run() { # start_run LABEL PORT CMD...
	local label=$1 port=$2 out l med verdict; shift 2
	log "start-up x$STARTS: $label"
	out=$(cd "$T/fluxlit-cwd" && "$WSLOAD" -mode start -addr "127.0.0.1:$port" -n "$STARTS" -- "$@" 2>"$T/start.err")
	l=${out#BENCH }
	if [ -z "$l" ]; then START_LINES+=("| $label | $STARTS | - | - | - | FAILED: $(grep -m1 wsload "$T/start.err" | cut -c1-160) |"); return; fi
	med=$(kv median_ms "$l")
	verdict=""; [ "$label" = fluxlit ] && { awk -v m="$med" 'BEGIN{exit !(m <= 50)}' && verdict=PASS || verdict="FAIL (> 50 ms)"; }
	START_LINES+=("| $label | $(kv starts "$l") | $med | $(kv min_ms "$l") | $(kv max_ms "$l") | $verdict |")
}
if [ -n "$ONLY" ]; then
	:
elif [ -n "$FLUXLIT_NOTE" ] || [ ! -x "$FLUXLIT_BIN" ]; then
	START_LINES+=("| fluxlit | $STARTS | - | - | - | FAILED: ${FLUXLIT_NOTE:-binary $FLUXLIT_BIN not found} |")
else
	# Assignments before a function call are exported to what it runs: here, each fluxlit start.
	FLUXLIT_GATEWAY_HOST=127.0.0.1 FLUXLIT_GATEWAY_PORT="$START_PORT" \
		FLUXLIT_STREAMLIT_UPSTREAM="http://127.0.0.1:$UP_FLUX" FLUXLIT_API_UPSTREAM="http://127.0.0.1:$UV_PORT" \
		FLUXLIT_LOG_LEVEL=warn FLUXLIT_ENABLE_GATEWAY_ACCESS_LOG=0 \
		start_run fluxlit "$START_PORT" "$FLUXLIT_BIN" run --no-pidfile
fi
[ -n "$ONLY" ] || start_run "bench upstream (bare Go net/http, floor)" "$START_PORT2" "$T/upstream" -addr "127.0.0.1:$START_PORT2"
BENCH_SECS=$(( $(date +%s) - BENCH_T0 ))

# ---- report ----
ver() { "$@" 2>&1 | head -1 | cut -c1-60; }
emit "# fluxlit front-door benchmark"
emit ""
emit "$(date -u '+%Y-%m-%d %H:%M UTC') · $NCPU vCPU $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo) · kernel $(uname -r) · loadavg before: $LOAD0 · after: $(cut -d' ' -f1-3 /proc/loadavg)"
emit ""
emit "Versions: $(go version | cut -d' ' -f3) · $(ver wrk -v | cut -d' ' -f1-2) · $(ver "$NGINX" -v | sed 's/.*version: //') · caddy $(ver caddy version | cut -d' ' -f1) · uvicorn $($PY -c 'import uvicorn; print(uvicorn.__version__)' 2>/dev/null) · fastapi $($PY -c 'import fastapi; print(fastapi.__version__)' 2>/dev/null) · Python FluxLit $($PY -c 'import importlib.metadata as m; print(m.version("fluxlit"))' 2>/dev/null) · fluxlit: $FLUXLIT_BIN"
emit ""
emit "Settings: ${DUR} s per workload (WS connect: ${HALF} s), $ROUNDS round(s) with the door order rotated, /api rows ${API_DUR} s in $API_ROUNDS rounds, $CONNS connections (wrk -t2 --timeout 10s), WS connect with $CONNECT_WORKERS workers, 1 KiB WS messages. Measured part took ${BENCH_SECS} s."
emit ""
emit "CPU s/10k = utime+stime of the door's process tree per 10,000 requests (WS: round trips / connects); for direct it is the origin's own; origin CPU is that door's upstream's. Foreign = busy CPU of the box that neither the door, its origin nor the load generator used, as % of all CPUs; discard rows above ~15 % (see bench/README.md)."
emit ""
NOISY=$(awk -F'\t' '$4 != "FAILED" && $9 > 15 { n++ } END { print n + 0 }' "$RES")
[ "$NOISY" -gt 0 ] && emit "**Noisy run: $NOISY measured rows had foreign CPU above 15 %. Rerun on a quieter box before drawing conclusions.**" && emit ""
awk -F'\t' '$1=="main"' "$RES" | awk -F'\t' '
	$2 != last { if (last != "") print ""; print "### " $2; print ""; print "| door | req/s | p50 ms | p99 ms | CPU s/10k | origin CPU s/10k | foreign % | errors | status |"; print "|---|---:|---:|---:|---:|---:|---:|---:|---|"; last = $2 }
	$4 == "FAILED" && $5 == 0 { printf "| %s | - | - | - | - | - | - | - | FAILED: %s |\n", $3, $12; next }
	{ u = ($3 == "direct") ? "(= door)" : sprintf("%.3f", $11)
	  printf "| %s | %.0f | %.2f | %.2f | %.3f | %s | %.0f | %d | %s%s |\n", $3, $5, $6, $7, $8, u, $9, $10, $4, ($12 != "" ? ": " $12 : "") }' >>"$OUT"
emit ""
emit "### RSS per door (process tree; peak = summed VmHWM after the five workloads)"
emit ""
emit "| door | RSS idle MiB | RSS peak MiB |"
emit "|---|---:|---:|"
for d in "${DOORS[@]}"; do
	if [ -n "${DOOR_FAIL[$d]:-}" ]; then emit "| $d | - | - |"; continue; fi
	emit "| $d | $(awk -v k="${RSS_IDLE[$d]}" 'BEGIN{printf "%.1f", k/1024}') | $(awk -v k="${RSS_PEAK[$d]}" 'BEGIN{printf "%.1f", k/1024}') |"
done
emit ""
emit "### fluxlit ratios (same run; req/s ratio > 1 and CPU ratio < 1 favour fluxlit)"
emit ""
if [ -n "${DOOR_FAIL[fluxlit]:-}" ]; then
	emit "n/a: fluxlit door failed: ${DOOR_FAIL[fluxlit]}"
else
	[ "$ROUNDS" -gt 1 ] && emit "Each ratio is the median over the $ROUNDS rounds of that round's own ratio." && emit ""
	[ "$FLOOR" = 1 ] && emit "go-copy and go-raw are bench/relay, Go's floor: bytes relayed without parsing (no routing, headers, limits or logs)." && emit ""
	emit "| workload | door | req/s ÷ nginx | ÷ caddy | ÷ direct | ÷ Python FluxLit | CPU/10k ÷ nginx | ÷ caddy | ÷ direct | ÷ Python FluxLit | p99 ÷ nginx |"
	emit "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' -v fdoors="$(printf '%s\n' "${DOORS[@]}" | grep -E '^(fluxlit|go-)' | tr '\n' ' ')" '
	$1=="main" { k = $2 SUBSEP $3; i = ++cnt[k]; ok[k, i] = ($4 != "FAILED"); r[k, i] = $5; c[k, i] = $8; p[k, i] = $7
		if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
	function med(v, m,   a, b, t) { for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
		return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
	function ratio(arr, f, o,   i, m, v) { m = 0; delete v
		for (i = 1; i <= cnt[f]; i++) if (ok[f, i] && ok[o, i] && arr[f, i] > 0 && arr[o, i] > 0) v[++m] = arr[f, i] / arr[o, i]
		return m ? sprintf("%.2f", med(v, m)) : "-" }
	END { nf = split(fdoors, fd, " ")
		for (i = 1; i <= n; i++) for (x = 1; x <= nf; x++) { w = order[i]; f = w SUBSEP fd[x]
			printf "| %s | %s", w, fd[x]
			split("nginx caddy direct python-fluxlit", ds, " "); for (j = 1; j <= 4; j++) printf " | %s", ratio(r, f, w SUBSEP ds[j])
			for (j = 1; j <= 4; j++) printf " | %s", ratio(c, f, w SUBSEP ds[j])
			printf " | %s |\n", ratio(p, f, w SUBSEP "nginx") } }' "$RES" >>"$OUT"
fi
emit ""
if [ -z "$ONLY" ]; then # --only: no /api, tunnel or start-up tables
	UV_STACK=$($PY -c "import importlib.util as u; print(('uvloop' if u.find_spec('uvloop') else 'asyncio') + '+' + ('httptools' if u.find_spec('httptools') else 'h11'))" 2>/dev/null)
	emit "### /api hop: FastAPI under uvicorn ($UV_STACK, one process), GET $API_PATH, ${API_DUR} s per row, $API_ROUNDS rounds"
	emit ""
	emit "| door | req/s | p50 ms | p99 ms | door CPU s/10k | uvicorn CPU s/10k | foreign % | errors | status |"
	emit "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	awk -F'\t' '$1=="api" {
		if ($4 == "FAILED" && $5 == 0) { printf "| %s | - | - | - | - | - | - | - | FAILED: %s |\n", $3, $12; next }
		u = ($3 ~ /^direct/) ? "(= door)" : sprintf("%.3f", $11)
		printf "| %s | %.0f | %.2f | %.2f | %.3f | %s | %.0f | %d | %s%s |\n", $3, $5, $6, $7, $8, u, $9, $10, $4, ($12 != "" ? ": " $12 : "") }' "$RES" >>"$OUT"
	emit ""
	emit "Each door's throughput ÷ uvicorn alone (direct, TCP) and ÷ Python FluxLit (which serves the same app in its own process: no hop), and door CPU per call ÷ nginx's over the same transport, the median over the $API_ROUNDS rounds of that round's own ratio:"
	emit ""
	emit "| door | req/s ÷ uvicorn alone | req/s ÷ Python FluxLit | door CPU ÷ nginx's |"
	emit "|---|---:|---:|---:|"
	awk -F'\t' '$1=="api" { i = ++cnt[$3]; ok[$3, i] = ($4 != "FAILED" && $5 > 0); r[$3, i] = $5; c[$3, i] = $8
			if ($3 !~ /^direct/ && !($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
		function med(v, m,   a, b, t) { for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
			return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
		function ratio(arr, f, o,   i, m, v) { m = 0; delete v
			for (i = 1; i <= cnt[f]; i++) if (ok[f, i] && ok[o, i] && arr[f, i] > 0 && arr[o, i] > 0) v[++m] = arr[f, i] / arr[o, i]
			return m ? sprintf("%.2f", med(v, m)) : "-" }
		END { for (k = 1; k <= n; k++) { d = order[k]; t = d; sub(/^[^ ]+/, "nginx", t)
			printf "| %s | %s | %s | %s |\n", d, ratio(r, d, "direct (TCP)"), ratio(r, d, "Python FluxLit (in process)"), (d ~ /^nginx/) ? "1" : ratio(c, d, t) } }' "$RES" >>"$OUT"
	emit ""
	emit "### Idle WebSocket tunnels (held 2 s, then each echoes 1 KiB once; RSS of the door process)"
	emit ""
	emit "| door | tunnels | opened | echoed | RSS MiB before → after | KiB/tunnel | verdict (fluxlit: ≤ 20 KiB/tunnel, all echo; others are references) |"
	emit "|---|---:|---:|---:|---|---:|---|"
	for l in "${TUN_LINES[@]}"; do emit "$l"; done
	emit ""
	emit "### Start-up: exec until the port accepts a TCP connection (upstreams external), $STARTS starts"
	emit ""
	emit "| binary | starts | median ms | min ms | max ms | verdict (fluxlit: median ≤ 50 ms) |"
	emit "|---|---:|---:|---:|---:|---|"
	for l in "${START_LINES[@]}"; do emit "$l"; done
fi

mkdir -p "$HERE/results"
cp "$OUT" "$HERE/results/latest.md"
cat "$OUT"
log "wrote $HERE/results/latest.md"
