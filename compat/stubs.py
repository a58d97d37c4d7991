"""Upstreams the original tests start in-process, as they are: a Streamlit stand-in that
answers "/" only, a header echo, and a WebSocket echo with the streamlit subprotocol."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_upstream(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", _port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class RootHandler(BaseHTTPRequestHandler):
    """test_gateway_readyz.py's _RootHandler: 200 on "/", 404 elsewhere."""

    def do_GET(self) -> None:
        if self.path in {"/", ""}:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        else:
            self.send_error(404)

    def log_message(self, *_args: Any) -> None:
        return


class StreamlitLikeHandler(RootHandler):
    """Answers "/" and Streamlit's own health path, as a real Streamlit does."""

    def do_GET(self) -> None:
        if self.path == "/_stcore/health":
            self.path = "/"
        super().do_GET()


class HeaderEchoHandler(BaseHTTPRequestHandler):
    """Echoes the request's headers (lower-case names) and body length as JSON."""

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length:
            self.rfile.read(length)
        payload = json.dumps({
            "x_request_id": self.headers.get("X-Request-Id", ""),
            "content_length": length or None,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "path": self.path,
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _echo
    do_POST = _echo

    def log_message(self, *_args: Any) -> None:
        return


@contextmanager
def ws_echo_upstream() -> Iterator[str]:
    """test_gateway_ws_echo.py's echo server (websockets, subprotocol streamlit)."""
    from websockets.asyncio.server import serve

    port = _port()
    ready, stop = threading.Event(), threading.Event()

    async def handler(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    async def runner() -> None:
        async with serve(handler, "127.0.0.1", port, subprotocols=["streamlit"], compression=None):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(runner()), daemon=True)
    thread.start()
    assert ready.wait(timeout=15), "WebSocket echo server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)


# The apps of the original tests, as FluxLit apps (both runtimes serve a FluxLit target).
PING_APP = '''
from fastapi import Request
from fluxlit import FluxLit

app = FluxLit(title="T")


@app.api.get("/ping")
def ping() -> dict[str, str]:
    return {"ok": "pong"}


@app.api.post("/echo")
async def echo(request: Request) -> dict[str, str]:
    data = await request.json()
    got = data.get("k", "") if isinstance(data, dict) else ""
    return {"got": str(got)}
'''

PLAIN_FLUXLIT_APP = 'from fluxlit import FluxLit\n\napp = FluxLit(title="R")\n'

# Nothing listens on port 9 (discard) on a test machine: the original tests' dead upstream.
DEAD_UPSTREAM = "http://127.0.0.1:9"
