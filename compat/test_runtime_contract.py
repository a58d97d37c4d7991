"""Ported from Python FluxLit's tests/test_runtime_contract.py::
test_run_unified_subprocess_serves_api_healthz: "fluxlit run" of a FluxLit app, as a process,
serves /api/healthz. Adapted: run_unified(...) in a subprocess becomes each runtime's
"fluxlit run TARGET" (Python FluxLit starts its real Streamlit sidecar; so does fluxlit)."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes

MINIMAL_APP = '''
from fluxlit import FluxLit

app = FluxLit(title="Minimal")


@app.api.get("/ping")
def ping() -> dict[str, str]:
    return {"ok": "pong"}


@app.page("/")
def home(st, client):
    st.write(client.get("/ping").json())
'''


@pytest.mark.parametrize("runtime", runtimes())
def test_run_unified_subprocess_serves_api_healthz(serve, runtime) -> None:
    s = serve(runtime, MINIMAL_APP, target="minimal_app:app")
    r = httpx.get(s.base + "/api/healthz", timeout=1.0)
    assert r.status_code == 200 and r.json().get("status") == "ok"
