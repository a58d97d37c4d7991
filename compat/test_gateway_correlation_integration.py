"""Ported from Python FluxLit's tests/test_gateway_correlation_integration.py: the upstream
gets the resolved X-Request-ID, and a proxied body over the limit is 413. Adapted: each
runtime in front of the header-echo upstream. Not ported (they inspect httpx.AsyncClient's
arguments inside the Python process): the two httpx timeout/limits tests."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import httpx
import pytest

from conftest import runtimes
from stubs import PLAIN_FLUXLIT_APP, HeaderEchoHandler, http_upstream


@pytest.fixture
def echo_upstream():
    with http_upstream(HeaderEchoHandler) as url:
        yield url


@pytest.mark.parametrize("runtime", runtimes())
def test_gateway_upstream_receives_resolved_x_request_id_when_client_omits_header(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream)
    r1 = httpx.get(s.base + "/echo")
    r2 = httpx.get(s.base + "/echo")
    assert r1.status_code == 200
    assert r2.status_code == 200
    rid1 = r1.json()["x_request_id"]
    rid2 = r2.json()["x_request_id"]
    assert rid1
    assert rid2
    assert rid1 != rid2


@pytest.mark.parametrize("runtime", runtimes())
def test_gateway_upstream_x_request_id_matches_client_header_when_present(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream)
    # httpx (h11) refuses to send a value with surrounding spaces; http.client sends it as
    # written, as the original's ASGI scope holds it.
    conn = http.client.HTTPConnection(urlparse(s.base).netloc, timeout=10)
    conn.request("GET", "/echo", headers={"X-Request-ID": "  trace-from-client  "})
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 200
    assert body["x_request_id"] == "trace-from-client"


@pytest.mark.parametrize("runtime", runtimes())
def test_build_gateway_post_over_max_proxy_body_returns_413(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream, env={"FLUXLIT_GATEWAY_MAX_PROXY_REQUEST_BODY_BYTES": "20"})
    r = httpx.post(s.base + "/echo", content=b"x" * 50)
    assert r.status_code == 413
    assert b"Payload Too Large" in r.content
