"""Ported from Python FluxLit's tests/test_gateway_readyz.py. Adapted: the in-process gateway
with FLUXLIT_STREAMLIT_UPSTREAM becomes each runtime in front of the same upstream."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes
from stubs import PLAIN_FLUXLIT_APP, RootHandler, StreamlitLikeHandler, http_upstream

PROBE_DIFFERS = ("fluxlit's readiness is Streamlit's own health endpoint, GET /_stcore/health "
                 "(Python FluxLit probes GET /); this stand-in answers / only")


@pytest.mark.parametrize("runtime", runtimes(go=PROBE_DIFFERS))
def test_readyz_200_when_upstream_ok(serve, runtime) -> None:
    with http_upstream(RootHandler) as upstream:
        s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=upstream)
        r = httpx.get(s.base + "/api/readyz", timeout=10)
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "ready"
        assert body["streamlit"] == "ok"


@pytest.mark.parametrize("runtime", runtimes())
def test_readyz_200_when_upstream_is_streamlit_like(serve, runtime) -> None:
    """The same with an upstream that answers like a real Streamlit (/ and /_stcore/health)."""
    with http_upstream(StreamlitLikeHandler) as upstream:
        s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=upstream, ready="/api/readyz")
        body = httpx.get(s.base + "/api/readyz").json()
        assert body["status"] == "ready"
        assert body["streamlit"] == "ok"


@pytest.mark.parametrize("runtime", runtimes())
def test_readyz_503_when_upstream_unreachable(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream="http://127.0.0.1:59222")
    r = httpx.get(s.base + "/api/readyz", timeout=10)
    assert r.status_code == 503
    assert r.json()["status"] == "not_ready"
    # Not in the original test: Python FluxLit's "detail" is a string, and runbooks read it.
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]
