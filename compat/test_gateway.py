"""Ported from Python FluxLit's tests/test_gateway.py: the gateway routes the API under its
prefix, answers healthz, turns a dead Streamlit into 502 "Bad Gateway", and logs the request
id. Adapted: build_gateway(api, "http://127.0.0.1:9") in-process becomes each runtime serving
the same FluxLit app in front of that dead upstream; caplog becomes the process's JSON log."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes, start_server
from stubs import DEAD_UPSTREAM, PING_APP


@pytest.fixture(scope="module", params=runtimes())
def gw(request, tmp_path_factory):
    # COMPAT_LOG_LEVEL / log_level debug: the request-id log test reads DEBUG access lines.
    s = start_server(request.param, tmp_path_factory.mktemp(request.param), PING_APP, upstream=DEAD_UPSTREAM,
                     ready="/api/ping", env={"COMPAT_LOG_LEVEL": "DEBUG", "FLUXLIT_LOG_LEVEL": "debug"})
    yield s
    s.stop()


def test_api_routes_are_prefixed_with_api(gw) -> None:
    res = httpx.get(gw.base + "/api/ping")
    assert res.status_code == 200
    assert res.json() == {"ok": "pong"}


def test_openapi_available_under_api_prefix(gw) -> None:
    res = httpx.get(gw.base + "/api/openapi.json")
    assert res.status_code == 200
    assert "/ping" in res.json().get("paths", {})


@pytest.mark.parametrize("runtime", runtimes())
def test_custom_api_prefix(serve, runtime) -> None:
    # FLUXLIT_API_PREFIX is what Python FluxLit's gateway reads; FLUXLIT_API_MOUNT_PATH the setting.
    s = serve(runtime, PING_APP, upstream=DEAD_UPSTREAM, ready="/x/ping",
              env={"FLUXLIT_API_PREFIX": "/x", "FLUXLIT_API_MOUNT_PATH": "/x"})
    assert httpx.get(s.base + "/x/ping").status_code == 200
    assert httpx.get(s.base + "/api/ping").status_code != 200


def test_healthz_available_under_api_prefix(gw) -> None:
    res = httpx.get(gw.base + "/api/healthz")
    assert res.status_code == 200
    assert res.json() == {"status": "ok"}


def test_healthz_not_in_openapi(gw) -> None:
    body = httpx.get(gw.base + "/api/openapi.json").json()
    assert "/healthz" not in body.get("paths", {})


def test_gateway_log_includes_request_id(gw) -> None:
    httpx.get(gw.base + "/api/ping", headers={"X-Request-ID": "unit-test-rid"})
    seen = lambda r: r.get("logger") == "fluxlit.gateway" and "unit-test-rid" in r.get("message", "")  # noqa: E731
    assert any(seen(r) for r in gw.log_records(until=seen))


def test_non_api_path_returns_502_when_upstream_unreachable(gw) -> None:
    res = httpx.get(gw.base + "/some-streamlit-path")
    assert res.status_code == 502
    assert b"Bad Gateway" in res.content


def test_api_accepts_post_json_body(gw) -> None:
    res = httpx.post(gw.base + "/api/echo", json={"k": "v"})
    assert res.status_code == 200
    assert res.json() == {"got": "v"}
