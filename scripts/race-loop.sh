#!/usr/bin/env bash
# race-loop.sh N [go test arguments] — runs the README's test command
# (FLUXLIT_REQUIRE_INTEGRATION=1 go test -race -count=1 -timeout 25m ./...) N times in a row, stops at the
# first run that fails, and reports how many consecutive runs passed. Arguments after N
# replace ./... (e.g. -run 'Integration|SecInt' .). Bounded: N runs, each under a 25 min
# go test timeout. Every run's output is kept in a temporary directory it names.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
export CGO_ENABLED=${CGO_ENABLED:-1} # the race detector needs cgo

n=${1:-}
if [[ ! $n =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/race-loop.sh N [go test arguments, default ./...]" >&2
  exit 2
fi
shift
args=("$@")
((${#args[@]} > 0)) || args=(./...)
logs=$(mktemp -d /tmp/race-loop.XXXXXX)

for ((i = 1; i <= n; i++)); do
  start=$(date +%s)
  if FLUXLIT_REQUIRE_INTEGRATION=1 go test -race -count=1 -timeout 25m "${args[@]}" >"$logs/run-$i.log" 2>&1; then
    echo "run $i of $n: ok ($(($(date +%s) - start)) s)"
  else
    echo "run $i of $n: FAILED ($(($(date +%s) - start)) s), log $logs/run-$i.log"
    grep -E '^ *--- FAIL|^FAIL|^panic:' "$logs/run-$i.log" | head -20 || true
    echo "race-loop: $((i - 1)) consecutive runs passed, then run $i failed"
    exit 1
  fi
done
echo "race-loop: $n consecutive runs passed (logs in $logs)"
