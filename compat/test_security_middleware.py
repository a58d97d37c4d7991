"""Ported from Python FluxLit's tests/test_security_middleware.py: with security headers on,
responses carry nosniff and SAMEORIGIN, and HSTS when the request came over HTTPS. Adapted:
SecurityHeadersMiddleware on a Starlette app becomes enable_security_headers on each runtime
serving a FluxLit app's API route."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes
from stubs import DEAD_UPSTREAM, PING_APP

HSTS_DIFFERS = ("fluxlit sends HSTS only when a trusted proxy says the request came over HTTPS; "
                "Python FluxLit believes X-Forwarded-Proto from any client")


@pytest.mark.parametrize("runtime", runtimes())
def test_security_headers_middleware_sets_baseline_headers(serve, runtime) -> None:
    s = serve(runtime, PING_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_ENABLE_SECURITY_HEADERS": "1"}, ready="/api/ping")
    r = httpx.get(s.base + "/api/ping")
    assert r.status_code == 200
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "SAMEORIGIN"


@pytest.mark.parametrize("runtime", runtimes(go=HSTS_DIFFERS))
def test_security_headers_adds_hsts_when_forwarded_proto_https(serve, runtime) -> None:
    s = serve(runtime, PING_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_ENABLE_SECURITY_HEADERS": "1"}, ready="/api/ping")
    r = httpx.get(s.base + "/api/ping", headers={"X-Forwarded-Proto": "https"})
    assert r.headers.get("strict-transport-security", "").startswith("max-age=")
