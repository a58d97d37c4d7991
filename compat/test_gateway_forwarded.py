"""Ported from Python FluxLit's tests/test_gateway_forwarded.py: what the Streamlit hop is
told about the original request (Host, X-Forwarded-*, the gateway's X-Request-ID) and which
browser headers it carries. Adapted: the originals call _proxy_http with a hand-made ASGI
scope (scheme https, client 198.51.100.2) and a fake httpx client; here a client talks to
each runtime over loopback, which proxy trust lets speak for the original client
(X-Forwarded-Proto/-For from 127.0.0.1), and a header-echo upstream shows the hop."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes
from stubs import PLAIN_FLUXLIT_APP, HeaderEchoHandler, http_upstream

# Python FluxLit trusts X-Forwarded-* from FLUXLIT_FORWARDED_ALLOW_IPS when trust_proxy is on
# (uvicorn's proxy headers); fluxlit the same: loopback is the proxy here.
TRUST = {"FLUXLIT_TRUST_PROXY": "1", "FLUXLIT_FORWARDED_ALLOW_IPS": "127.0.0.1"}


XFF_DIFFERS = ("fluxlit sends the trusted chain as X-Forwarded-For (client, then the trusted proxy: "
               "'198.51.100.2, 127.0.0.1'); Python FluxLit sends the client alone")


@pytest.fixture
def echo_upstream():
    with http_upstream(HeaderEchoHandler) as url:
        yield url


@pytest.mark.parametrize("runtime", runtimes(go=XFF_DIFFERS))
def test_proxy_http_sets_host_and_forwarded_headers(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream, env={**TRUST, "FLUXLIT_ROOT_PATH": "/myapp"},
              ready="/myapp/api/healthz")
    r = httpx.get(s.base + "/myapp/st/asset.js", headers={"Host": "public.example:8443", "X-Request-ID": "abc",
                                                           "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.2"})
    assert r.status_code == 200
    h = r.json()["headers"]
    assert r.json()["path"] == "/myapp/st/asset.js"
    assert h.get("host") == "public.example:8443"
    assert h.get("x-forwarded-host") == "public.example:8443"
    assert h.get("x-forwarded-proto") == "https"
    assert h.get("x-forwarded-port") == "8443"
    assert h.get("x-forwarded-for") == "198.51.100.2"
    assert h.get("x-forwarded-prefix") == "/myapp"
    assert h.get("x-request-id")


@pytest.mark.parametrize("runtime", runtimes())
def test_proxy_http_sets_host_and_forwarded_headers_but_for(serve, runtime, echo_upstream) -> None:
    """The same, less X-Forwarded-For (see XFF_DIFFERS): its client comes first in both."""
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream, env={**TRUST, "FLUXLIT_ROOT_PATH": "/myapp"},
              ready="/myapp/api/healthz")
    r = httpx.get(s.base + "/myapp/st/asset.js", headers={"Host": "public.example:8443", "X-Request-ID": "abc",
                                                           "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.2"})
    h = r.json()["headers"]
    assert (h.get("host"), h.get("x-forwarded-host"), h.get("x-forwarded-proto"), h.get("x-forwarded-port"),
            h.get("x-forwarded-prefix")) == ("public.example:8443", "public.example:8443", "https", "8443", "/myapp")
    assert h.get("x-forwarded-for", "").split(",")[0] == "198.51.100.2"
    assert h.get("x-request-id")


@pytest.mark.parametrize("runtime", runtimes())
def test_proxy_http_forwards_allowlisted_browser_headers(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream,
              env={"FLUXLIT_GATEWAY_FORWARD_CLIENT_HEADERS_TO_STREAMLIT": '["traceparent"]'})
    r = httpx.get(s.base + "/", headers={"Host": "public.example", "traceparent": "00-ab-cd-01", "X-Request-ID": "rid-tp"})
    h = r.json()["headers"]
    assert h.get("traceparent") == "00-ab-cd-01"
    assert h.get("x-request-id") == "rid-tp"


@pytest.mark.parametrize("runtime", runtimes())
def test_proxy_http_forwards_only_allowlisted_browser_headers(serve, runtime, echo_upstream) -> None:
    """Client x-forwarded-for must not appear upstream unless explicitly allowlisted."""
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream,
              env={"FLUXLIT_GATEWAY_FORWARD_CLIENT_HEADERS_TO_STREAMLIT": '["traceparent"]'})
    r = httpx.get(s.base + "/", headers={"Host": "public.example", "x-forwarded-for": "6.6.6.6", "traceparent": "00-aaa-bbb-01"})
    h = r.json()["headers"]
    assert h.get("traceparent") == "00-aaa-bbb-01"
    assert h.get("x-forwarded-for") == "127.0.0.1"  # the original: the ASGI client, 198.51.100.9
    assert "6.6.6.6" not in str(h.get("x-forwarded-for"))


@pytest.mark.parametrize("runtime", runtimes())
def test_proxy_http_forwards_multiple_allowlisted_headers(serve, runtime, echo_upstream) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=echo_upstream,
              env={"FLUXLIT_GATEWAY_FORWARD_CLIENT_HEADERS_TO_STREAMLIT": '["traceparent", "x-remote-user"]'})
    r = httpx.get(s.base + "/stream", headers={"Host": "edge", "traceparent": "00-tp-01", "x-remote-user": "ada", "X-Request-ID": "rid-multi"})
    h = r.json()["headers"]
    assert h.get("traceparent") == "00-tp-01"
    assert h.get("x-remote-user") == "ada"
    assert h.get("x-request-id") == "rid-multi"
