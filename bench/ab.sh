#!/usr/bin/env bash
# bench/ab.sh: an A/B of two builds of fluxlit on the request path, in one command. Builds OLD
# and NEW (git revisions of this repo), runs bench/run.sh twice on the main workloads with the
# two builds swapped between its fluxlit and fluxlit-b doors (a door's place in the order has
# an effect of its own), and prints, per workload, the median over every round of both runs of
# NEW ÷ OLD req/s and NEW ÷ OLD CPU per request, with the load average before and after.
# Issue #15's bar: every workload's req/s ratio >= 0.95.
#
#   bench/ab.sh OLD [NEW] [--rounds N] [--only REGEX]
#   NEW defaults to HEAD; --rounds (default 3) and --only (default: every main workload) go
#   to bench/run.sh. The two reports are kept in bench/results/ab-<old>-<new>-{1,2}.md.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OLD='' NEW=HEAD ROUNDS=3 ONLY='GET|POST|WS'
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:-}; shift ;;
	--only) ONLY=${2:-}; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "ab.sh: unknown flag '$1' (see --help)" >&2; exit 2 ;;
	*) if [ -z "$OLD" ]; then OLD=$1; else NEW=$1; fi ;;
	esac
	shift
done
[ -n "$OLD" ] || { echo "ab.sh: name the old revision (see --help)" >&2; exit 2; }

T=$(mktemp -d /tmp/fluxlit-ab.XXXXXX)
cleanup() {
	for w in "$T/old" "$T/new"; do [ -d "$w" ] && git -C "$ROOT" worktree remove --force "$w" >/dev/null 2>&1; done
	rm -rf "$T"
}
trap cleanup EXIT
trap "exit 130" INT TERM # so that EXIT runs cleanup
build() { # build REV NAME: the binary of REV at $T/fluxlit-NAME
	git -C "$ROOT" worktree add --detach "$T/$2" "$1" >/dev/null 2>&1 || { echo "ab.sh: no revision '$1'" >&2; exit 2; }
	(cd "$T/$2" && CGO_ENABLED=0 go build -o "$T/fluxlit-$2" .) || { echo "ab.sh: building '$1' failed" >&2; exit 1; }
}
build "$OLD" old
build "$NEW" new
tag="$(git -C "$ROOT" rev-parse --short "$OLD")-$(git -C "$ROOT" rev-parse --short "$NEW")"
echo "A/B: old $OLD ($(git -C "$ROOT" rev-parse --short "$OLD")), new $NEW ($(git -C "$ROOT" rev-parse --short "$NEW")); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Run 1: new is the fluxlit door, old fluxlit-b; run 2 the other way round.
FLUXLIT_BIN="$T/fluxlit-new" FLUXLIT_BIN_B="$T/fluxlit-old" "$HERE/run.sh" --only "$ONLY" --rounds "$ROUNDS" >"$HERE/results/ab-$tag-1.md" 2>"$T/run1.log" ||
	{ cat "$T/run1.log" >&2; exit 1; }
FLUXLIT_BIN="$T/fluxlit-old" FLUXLIT_BIN_B="$T/fluxlit-new" "$HERE/run.sh" --only "$ONLY" --rounds "$ROUNDS" >"$HERE/results/ab-$tag-2.md" 2>"$T/run2.log" ||
	{ cat "$T/run2.log" >&2; exit 1; }
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); reports: bench/results/ab-$tag-{1,2}.md"

# Every round's table holds a fluxlit and a fluxlit-b row: req/s is column 3, CPU s/10k column 6.
rounds() { # rounds FILE NEWDOOR: workload, new÷old req/s, new÷old CPU, one line per round
	awk -F'|' -v new="$2" '
		/^### / { w = substr($0, 5); a = b = ""; next }
		$2 ~ /^ fluxlit(-b)? $/ {
			d = $2; gsub(/ /, "", d)
			if (d == new) { a = $3; ac = $6 } else { b = $3; bc = $6 }
			if (a != "" && b != "" && b + 0 > 0 && bc + 0 > 0) { printf "%s\t%.3f\t%.3f\n", w, a / b, ac / bc; a = b = "" }
		}' "$1"
}
{
	rounds "$HERE/results/ab-$tag-1.md" fluxlit
	rounds "$HERE/results/ab-$tag-2.md" fluxlit-b
} | sort -t$'\t' -k1,1 -s | awk -F'\t' '
	function median(s,   n, v, i, j, t) {
		n = split(s, v, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	{ rq[$1] = rq[$1] " " $2; cpu[$1] = cpu[$1] " " $3; n[$1]++; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
	END {
		print "| workload | rounds | new ÷ old req/s (median) | new ÷ old CPU/req (median) | req/s per round |"
		print "|---|---:|---:|---:|---|"
		for (i = 1; i <= k; i++) { w = order[i]; printf "| %s | %d | %.2f | %.2f |%s |\n", w, n[w], median(rq[w]), median(cpu[w]), rq[w] }
	}'
