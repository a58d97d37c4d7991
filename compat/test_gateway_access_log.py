"""Ported from Python FluxLit's tests/test_gateway_access_log.py: access lines are INFO with
the structured fields GATEWAY_ACCESS_LOG_FIELDS when the access log is on, DEBUG otherwise,
and the URL-session query value is redacted. Adapted: caplog becomes the process's JSON log
lines (Python FluxLit's JsonLogFormatter, fluxlit's log_format json); a record's "extra"
attributes are the line's keys."""

from __future__ import annotations

import httpx
import pytest

from conftest import runtimes
from stubs import DEAD_UPSTREAM, PLAIN_FLUXLIT_APP

GATEWAY_ACCESS_LOG_FIELDS = ("request_id", "fluxlit_dispatch", "http_method_or_type", "path", "query")

DEFAULT_DIFFERS = ("fluxlit's access log is on by default (enable_gateway_access_log = true), "
                   "Python FluxLit's is off (DEBUG lines only)")


def _gateway(records: list[dict], level: str | None = None) -> list[dict]:
    return [r for r in records if r.get("logger") == "fluxlit.gateway" and (level is None or r.get("level") == level)]


@pytest.mark.parametrize("runtime", runtimes())
def test_gateway_access_log_emits_info_with_extra(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_ENABLE_GATEWAY_ACCESS_LOG": "1"})
    httpx.get(s.base + "/api/healthz", headers={"X-Request-ID": "access-log-test"})
    mine = lambda r: r.get("request_id") == "access-log-test"  # noqa: E731
    api_records = [r for r in _gateway(s.log_records(until=mine), "INFO") if mine(r)]
    assert api_records, "expected INFO from fluxlit.gateway"
    assert any(r.get("fluxlit_dispatch") == "api" for r in api_records)
    assert any("access-log-test" in r.get("message", "") for r in api_records)
    for field in GATEWAY_ACCESS_LOG_FIELDS:
        assert field in api_records[0]


@pytest.mark.parametrize("runtime", runtimes())
def test_gateway_debug_log_extra_includes_redacted_query(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM,
              env={"FLUXLIT_ENABLE_GATEWAY_ACCESS_LOG": "0", "FLUXLIT_URL_SESSION_QUERY_PARAM": "fluxlit_sid",
                   "COMPAT_LOG_LEVEL": "DEBUG", "FLUXLIT_LOG_LEVEL": "debug"})
    # A request id of its own: the start-up wait's healthz requests are in the same log.
    httpx.get(s.base + "/api/healthz?fluxlit_sid=topsecret&other=ok", headers={"X-Request-ID": "redact-1"})
    mine = lambda r: r.get("fluxlit_dispatch") == "api" and "/healthz" in r.get("path", "") and r.get("request_id") == "redact-1"  # noqa: E731
    api_recs = [r for r in _gateway(s.log_records(until=mine)) if mine(r)]
    assert api_recs, "expected gateway access DEBUG record for API healthz"
    q = api_recs[0].get("query", "")
    assert "topsecret" not in q
    assert "redacted" in q.lower()
    assert "other" in q


@pytest.mark.parametrize("runtime", runtimes(go=DEFAULT_DIFFERS))
def test_gateway_access_log_default_stays_debug_for_streamlit_path(serve, runtime) -> None:
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM)
    httpx.get(s.base + "/some-streamlit-path")
    assert not _gateway(s.log_records(until=lambda r: r.get("path") == "/some-streamlit-path", timeout=2), "INFO")


@pytest.mark.parametrize("runtime", runtimes())
def test_gateway_access_log_off_stays_debug_for_streamlit_path(serve, runtime) -> None:
    """The same with the access log off explicitly: fluxlit then writes no INFO line either."""
    s = serve(runtime, PLAIN_FLUXLIT_APP, upstream=DEAD_UPSTREAM, env={"FLUXLIT_ENABLE_GATEWAY_ACCESS_LOG": "false"})
    httpx.get(s.base + "/some-streamlit-path")
    assert not _gateway(s.log_records(until=lambda r: r.get("path") == "/some-streamlit-path", timeout=2), "INFO")
