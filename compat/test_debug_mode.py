"""Ported from Python FluxLit's tests/test_debug_mode.py: GET /__fluxlit/debug answers JSON in
debug mode and 404 otherwise, also when the API mount covers it. Adapted: FluxlitSettings(
debug=True) becomes FLUXLIT_DEBUG=1 for the process. Not ported (they inspect Python
objects): merge_debug_settings, the debug ring, get_client's request-id propagation."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes
from stubs import DEAD_UPSTREAM, PLAIN_FLUXLIT_APP


@pytest.mark.parametrize("runtime", runtimes())
def test_debug_endpoint_returns_json_when_debug_enabled(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_DEBUG": "1"})
    res = httpx.get(s.base + "/__fluxlit/debug")
    assert res.status_code == 200
    body = res.json()
    assert body.get("fluxlit_debug") is True
    assert "settings" in body
    assert "recent_dispatches" in body


@pytest.mark.parametrize("runtime", runtimes())
def test_debug_gateway_emits_split_log_on_non_snapshot_paths(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_DEBUG": "1"})
    assert httpx.get(s.base + "/api/healthz").status_code == 200


@pytest.mark.parametrize("runtime", runtimes())
def test_debug_endpoint_disabled_when_api_prefix_conflicts(serve, runtime) -> None:
    env = {"FLUXLIT_DEBUG": "1", "FLUXLIT_API_MOUNT_PATH": "/__fluxlit/debug", "FLUXLIT_API_PREFIX": "/__fluxlit/debug"}
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM, env=env, ready="/__fluxlit/debug/openapi.json")
    assert httpx.get(s.base + "/__fluxlit/debug").status_code == 404


@pytest.mark.parametrize("runtime", runtimes())
def test_debug_endpoint_not_found_when_debug_disabled(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM)
    assert httpx.get(s.base + "/__fluxlit/debug").status_code == 404
