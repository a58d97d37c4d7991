#!/usr/bin/env bash
# demo.sh — set up a fresh Debian machine with Go and run the hello example on
# http://127.0.0.1:8000: FastAPI under uvicorn at /api, Streamlit everywhere else, one port.
# Python packages come from pip when an index is reachable, else from Debian plus the
# Streamlit wheel route of scripts/real-streamlit.sh (no PyPI needed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

python=""
if python3 -c 'import streamlit, uvicorn, fastapi' 2>/dev/null; then
  python=$(command -v python3)
elif [ "$(id -u)" = 0 ]; then
  echo "demo: installing FastAPI, uvicorn and Streamlit (Debian packages + the Streamlit wheel)…"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-fastapi python3-uvicorn >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-fastapi python3-uvicorn >/dev/null; }
  python=$(bash scripts/real-streamlit.sh install | tail -1)
else
  echo "demo: need Python with streamlit, uvicorn and fastapi (pip install streamlit uvicorn fastapi), or run as root to install them" >&2
  exit 1
fi

echo "demo: building fluxlit…"
CGO_ENABLED=0 go build -trimpath -o fluxlit .
echo "demo: open http://127.0.0.1:8000/ (API docs: http://127.0.0.1:8000/api/docs); Ctrl-C stops"
cd examples/hello
FLUXLIT_PYTHON="$python" exec ../../fluxlit run --no-pidfile "$@"
