#!/usr/bin/env bash
# demo.sh — run the hello example on http://127.0.0.1:8000 from a fresh clone: FastAPI under
# uvicorn at /api, the real Streamlit app everywhere else, one port. Python packages come from
# the newest pinned venv (scripts/python-envs.sh, requirements/newest.txt), made here on first
# run (about a minute); FLUXLIT_PYTHON picks another interpreter that has them. Extra arguments
# go to `fluxlit run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

if [[ -n ${FLUXLIT_PYTHON:-} ]]; then
  python=$FLUXLIT_PYTHON
else
  echo "demo: preparing the Python environment (Streamlit, FastAPI, uvicorn; first run takes a minute)…"
  python=$(bash scripts/python-envs.sh newest)
fi
"$python" -c 'import streamlit, fastapi, uvicorn' ||
  { echo "demo: $python cannot import streamlit, fastapi and uvicorn" >&2; exit 1; }

echo "demo: building fluxlit…"
CGO_ENABLED=0 go build -trimpath -o fluxlit .
echo "demo: starting; fluxlit prints the addresses to open once the app is ready (Ctrl-C stops)"
cd examples/hello
FLUXLIT_PYTHON="$python" exec ../../fluxlit run --no-pidfile "$@"
