#!/usr/bin/env bash
# bench/reruns.sh: what Streamlit replicas buy on this machine's cores (issue #20). A CPU-bound
# Streamlit app, whose every rerun burns about 50 ms of CPU in Python (holding the GIL, as pandas
# glue and plain Python do), is served by fluxlit with streamlit_replicas = 1 and = 2, and driven
# by real sessions: wsload -mode reruns opens C Streamlit WebSockets through fluxlit and reruns
# the script back to back on each. Reported per run: reruns per second, latency, CPU per rerun
# (fluxlit and its children, from /proc) and the load average before it; per round, the ratio
# of 2 replicas to 1. Every process it starts is stopped by PID.
#
#   bench/reruns.sh [--rounds N] [-c SESSIONS] [-d SECONDS] [--warmup SECONDS] [--nice N]
#   defaults: 2 rounds (the replica order flips each round), 8 sessions, 20 s measured after 5 s;
#   the last line is the median of the rounds' ratios (on a busy box, more and shorter rounds:
#   --rounds 6 -d 10);
#   --nice runs fluxlit, its children and the load generator at that niceness (negative needs
#   root): on a box shared with other work, the question is what two replicas do with two
#   cores, not how the scheduler splits them with strangers.
#   FLUXLIT_BIN=path runs that binary (default: ./fluxlit, rebuilt when older than the sources);
#   FLUXLIT_TEST_PYTHON=path the interpreter with Streamlit (default /opt/fluxlit-venvs/newest).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROUNDS=2 SESSIONS=8 DUR=20 WARMUP=5 NICE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:-}; shift ;;
	-c) SESSIONS=${2:-}; shift ;;
	-d) DUR=${2:-}; shift ;;
	--warmup) WARMUP=${2:-}; shift ;;
	--nice) NICE=${2:-}; shift ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "reruns.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$NICE" in '' | *[!0-9-]*) echo "reruns.sh: --nice must be a number from -20 to 19, got '$NICE'" >&2; exit 2 ;; esac
for v in ROUNDS SESSIONS DUR WARMUP; do
	case "${!v}" in '' | *[!0-9]*) echo "reruns.sh: $v must be a whole number, got '${!v}'" >&2; exit 2 ;; esac
done
PY=${FLUXLIT_TEST_PYTHON:-/opt/fluxlit-venvs/newest/bin/python}
"$PY" -c 'import streamlit, fastapi, uvicorn' 2>/dev/null || { echo "reruns.sh: $PY cannot import streamlit, fastapi and uvicorn" >&2; exit 1; }

T=$(mktemp -d /tmp/fluxlit-reruns.XXXXXX)
PIDS=()
log() { printf '[reruns %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
tree_pids() { local p c; for p in "$@"; do [ -d "/proc/$p" ] || continue; echo "$p"; for c in $(pgrep -P "$p"); do tree_pids "$c"; done; done; }
stop_pid() { # SIGTERM, SIGKILL after 15 s (fluxlit drains, then stops its children)
	local pid=$1 i
	[ -d "/proc/$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop_pid "$p"; done; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
CLK=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of the trees of the PIDs
	local t=0 p line rest
	for p in $(tree_pids "$@"); do
		read -r line <"/proc/$p/stat" 2>/dev/null || continue
		rest=${line##*) }
		set -- $rest
		t=$(( t + ${12} + ${13} ))
	done
	echo "$t"
}

BIN_GIVEN=${FLUXLIT_BIN:+1}
FLUXLIT_BIN=${FLUXLIT_BIN:-$ROOT/fluxlit}
if [ -z "$BIN_GIVEN" ] && { [ ! -x "$FLUXLIT_BIN" ] ||
	[ -n "$(find "$ROOT" -maxdepth 1 -name '*.go' ! -name '*_test.go' -newer "$FLUXLIT_BIN" -print -quit)" ]; }; then
	log "building fluxlit -> $FLUXLIT_BIN"
	(cd "$ROOT" && go build -o "$FLUXLIT_BIN" .) || exit 1
fi
(cd "$ROOT" && go build -o "$T/wsload" ./bench/wsload) || exit 1

# The project: a trivial API (fluxlit runs one) and the CPU-bound Streamlit script.
mkdir -p "$T/app"
cat >"$T/app/app.py" <<'EOF'
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
def ping():
    return {"ok": True}
EOF
cat >"$T/app/streamlit_app.py" <<'EOF'
# Every rerun burns about 50 ms of this thread's CPU in pure Python: it holds the GIL, so one
# Streamlit process runs such reruns one at a time, whatever the machine's cores.
import time

import streamlit as st

start = time.thread_time()
n = 0
while time.thread_time() - start < 0.05:
    n += 1
st.write(f"burned {n} loops")
EOF

OUT="$T/reruns.md"
emit() { printf '%s\n' "$*" | tee -a "$OUT"; }
emit "| round | replicas | reruns/s | p50 ms | p99 ms | CPU ms/rerun | load avg before | errors |"
emit "|---:|---:|---:|---:|---:|---:|---|---:|"
declare -A RATE
run_one() { # run_one ROUND REPLICAS
	local round=$1 n=$2 port load pid t0 t1 line rate p50 p99 reruns errs cpu
	port=$("$T/wsload" -mode ports -n 1 | sed 's/^BENCH ports=//')
	cat >"$T/app/fluxlit.toml" <<EOF
python = "$PY"
target = "app:app"
streamlit_script = "streamlit_app.py"
streamlit_replicas = $n
no_pidfile = true
log_level = "warn"
enable_gateway_access_log = false
EOF
	(cd "$T/app" && exec nice -n "$NICE" "$FLUXLIT_BIN" run --port "$port") >"$T/fluxlit-$round-$n.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! "$T/wsload" -mode wait -url "http://127.0.0.1:$port/api/readyz" -d 120s >/dev/null 2>"$T/wait.err"; then
		log "fluxlit with $n replicas did not become ready: $(cat "$T/wait.err"); $(tail -3 "$T/fluxlit-$round-$n.log")"
		stop_pid "$pid"
		return 1
	fi
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	log "round $round, $n replica(s): $SESSIONS sessions, ${WARMUP}s warm-up, ${DUR}s measured (load $load)"
	t0=$(cpu_ticks "$pid")
	line=$(nice -n "$NICE" "$T/wsload" -mode reruns -url "ws://127.0.0.1:$port/_stcore/stream" -c "$SESSIONS" -d "${DUR}s" -warmup "${WARMUP}s")
	t1=$(cpu_ticks "$pid")
	stop_pid "$pid"
	rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$line")
	reruns=$(sed -n 's/.* reruns=\([0-9]*\).*/\1/p' <<<"$line")
	p50=$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
	p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
	errs=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
	[ -n "$rate" ] || { log "wsload: $line"; return 1; }
	# CPU over warm-up and measurement, per rerun of the measurement window scaled to both.
	cpu=$(awk -v t="$(( t1 - t0 ))" -v clk="$CLK" -v r="$reruns" -v d="$DUR" -v w="$WARMUP" \
		'BEGIN { printf "%.1f", (r > 0) ? t / clk * 1000 / (r * (d + w) / d) : 0 }')
	RATE[$round,$n]=$rate
	emit "| $round | $n | $rate | $p50 | $p99 | $cpu | $load | $errs |"
}
for round in $(seq "$ROUNDS"); do
	order="1 2"
	[ $((round % 2)) = 0 ] && order="2 1"
	for n in $order; do run_one "$round" "$n" || exit 1; done
done
emit ""
RATIOS=()
for round in $(seq "$ROUNDS"); do
	RATIOS+=("$(awk -v a="${RATE[$round,2]}" -v b="${RATE[$round,1]}" 'BEGIN { printf "%.2f", a / b }')")
	emit "round $round: 2 replicas ÷ 1 = ${RATIOS[-1]}"
done
# The median of the rounds' ratios: on a shared box one round can land in another job's burst.
emit "median of $ROUNDS rounds: 2 replicas ÷ 1 = $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
emit ""
emit "machine: $(nproc) CPUs, $(uname -r); nice $NICE; fluxlit $("$FLUXLIT_BIN" version | head -1); streamlit $("$PY" -c 'import streamlit; print(streamlit.__version__)')"
mkdir -p "$HERE/results" && cp "$OUT" "$HERE/results/reruns-latest.md"
