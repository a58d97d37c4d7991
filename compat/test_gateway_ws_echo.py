"""Ported from Python FluxLit's tests/test_gateway_ws_echo.py: a WebSocket on Streamlit's path
is proxied both ways, at the root and under a subpath. Adapted: each runtime in front of the
same websockets echo server; the subpath is root_path (FLUXLIT_ROOT_PATH) as root_mount is."""

from __future__ import annotations

import pytest
from websockets.sync.client import connect

from conftest import runtimes
from stubs import PLAIN_FLUXLIT_APP, ws_echo_upstream


@pytest.mark.parametrize("runtime", runtimes())
def test_websocket_proxy_echo_root_path(serve, runtime) -> None:
    with ws_echo_upstream() as upstream:
        s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=upstream)
        with connect(s.base.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"], open_timeout=10) as ws:
            ws.send("ping-echo")
            assert ws.recv(timeout=10) == "ping-echo"


@pytest.mark.parametrize("runtime", runtimes())
def test_websocket_proxy_echo_under_subpath(serve, runtime) -> None:
    with ws_echo_upstream() as upstream:
        s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=upstream, env={"FLUXLIT_ROOT_PATH": "/myapp"}, ready="/myapp/api/healthz")
        with connect(s.base.replace("http", "ws") + "/myapp/_stcore/stream", subprotocols=["streamlit"], open_timeout=10) as ws:
            ws.send("subpath")
            assert ws.recv(timeout=10) == "subpath"
