"""Ported from Python FluxLit's tests/test_cli.py: its doctor, dev, build, new and shutdown
tests that a user can see from the command line. Adapted: typer's CliRunner(app) becomes each
runtime's "fluxlit" process in the project folder (monkeypatch.syspath_prepend(tmp_path)
becomes the working directory), and where a test blocks an import through sys.modules, a
module in the project folder that refuses to import does the same. Not ported: tests that
replace run_unified, socket or find_spec inside the Python process (_doctor_checks,
_tcp_url_reachable, the run/dev stubs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli, free_port, runtimes

BUILD_DIFFERS = ("fluxlit build writes Containerfile.scratch and Containerfile.python (each with its "
                 ".dockerignore beside it), fluxlit.service and kubernetes.yaml (no Dockerfile) into "
                 "deploy/ (or -o DIR)")
NEW_DEFAULT_DIFFERS = ("fluxlit new NAME writes a plain FastAPI + Streamlit project; "
                       "--profile minimal (or --fluxlit) writes Python FluxLit's app")
NEW_EXISTING_DIFFERS = "fluxlit new accepts an existing empty folder (Python FluxLit refuses any existing path)"


def app_module(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body, encoding="utf-8")


def fluxlit_app(settings: str = "", title: str = "CLI App", pages: str = "") -> str:
    return ("from fluxlit import FluxLit\nfrom fluxlit.config import FluxlitSettings\n\n"
            f"app = FluxLit(title={title!r}, settings=FluxlitSettings({settings}))\n" + pages)


PAGE = "\n@app.page('/')\ndef h(st, client):\n    del st, client\n"
BROKEN = "# not a FluxLit instance\napp = 123\n"


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_prints_checks(tmp_path, runtime) -> None:
    app_module(tmp_path, "demo_cli_app", fluxlit_app(f"gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "demo_cli_app:app"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "FluxLit doctor" in res.stdout
    assert "PASS" in res.stdout
    assert "import_target:" in res.stdout
    assert "demo_cli_app:app" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_check_pages_runs_pages_validate(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_pages_app", fluxlit_app(f"gateway_port={free_port()}", "D", PAGE))
    res = cli(runtime, ["doctor", "doc_pages_app:app", "--check-pages"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pages_validate" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_check_pages_warns_experimental_yield(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_yield_app", fluxlit_app(f"gateway_port={free_port()}", "Y", PAGE))
    res = cli(runtime, ["doctor", "doc_yield_app:app", "--check-pages"], tmp_path, {"FLUXLIT_EXPERIMENTAL_YIELD_PAGES": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "experimental_yield_pages" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_check_pages_fails_when_validate_errors(tmp_path, runtime) -> None:
    # The original forces validate_fluxlit_pages to fail; here a page's manifest is not JSON.
    bad = "\n@app.page('/', tags=[object()])\ndef h(st, client):\n    del st, client\n"
    app_module(tmp_path, "doc_bad_pages_app", fluxlit_app(f"gateway_port={free_port()}", "B", bad))
    res = cli(runtime, ["doctor", "doc_bad_pages_app:app", "--check-pages"], tmp_path)
    assert res.returncode == 1
    assert "pages_validate" in res.stdout
    assert "FAIL" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_verbose_prints_effective_block(tmp_path, runtime) -> None:
    app_module(tmp_path, "demo_cli_verbose_app", fluxlit_app(f"gateway_port={free_port()}", "V"))
    res = cli(runtime, ["doctor", "demo_cli_verbose_app:app", "--verbose"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Verbose (effective configuration" in res.stdout
    assert "resolved_target: demo_cli_verbose_app:app" in res.stdout
    assert "internal_api_base (derived for Streamlit)" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_verbose_includes_verbose_object(tmp_path, runtime) -> None:
    app_module(tmp_path, "demo_cli_json_verbose_app", fluxlit_app(f"gateway_port={free_port()}", "JV"))
    res = cli(runtime, ["doctor", "demo_cli_json_verbose_app:app", "--json", "--verbose"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    payload = json.loads(res.stdout)
    assert "verbose" in payload
    assert payload["verbose"]["resolved_target"] == "demo_cli_json_verbose_app:app"
    assert "effective" in payload["verbose"]


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_without_verbose_omits_verbose_key(tmp_path, runtime) -> None:
    app_module(tmp_path, "demo_cli_json_no_verbose", fluxlit_app(f"gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "demo_cli_json_no_verbose:app", "--json"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "verbose" not in json.loads(res.stdout)


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_collect_verbose_import_failed_detail(tmp_path, runtime) -> None:
    res = cli(runtime, ["doctor", "nonexistent_module_xyz_fluxlit:app", "--json", "--verbose"], tmp_path)
    payload = json.loads(res.stdout)
    assert payload["verbose"] == {"resolved_target": "nonexistent_module_xyz_fluxlit:app", "import_failed": True}
    assert any(c["name"] == "import_target" and c["status"] == "FAIL" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_verbose_import_failed_includes_verbose_stub(tmp_path, runtime) -> None:
    app_module(tmp_path, "broken_verbose_json_app", BROKEN)
    res = cli(runtime, ["doctor", "broken_verbose_json_app:app", "--json", "--verbose"], tmp_path)
    assert res.returncode == 1
    assert json.loads(res.stdout)["verbose"]["import_failed"] is True


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_outputs_structured_checks(tmp_path, runtime) -> None:
    app_module(tmp_path, "demo_cli_json_app", fluxlit_app(f"gateway_port={free_port()}", "CLI JSON App"))
    res = cli(runtime, ["doctor", "demo_cli_json_app:app", "--json"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    payload = json.loads(res.stdout)
    assert payload["status"] in {"pass", "warn"}
    assert payload["target"] == "demo_cli_json_app:app"
    assert {"name": "import_target", "status": "PASS", "detail": "demo_cli_json_app:app"} in payload["checks"]


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_failure_reports_fail_status(tmp_path, runtime) -> None:
    app_module(tmp_path, "broken_json_app", BROKEN)
    res = cli(runtime, ["doctor", "broken_json_app:app", "--json"], tmp_path)
    assert res.returncode == 1
    payload = json.loads(res.stdout)
    assert payload["status"] == "fail"
    assert any(c["name"] == "import_target" and c["status"] == "FAIL" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_warnings_only_exits_zero(tmp_path, runtime) -> None:
    app_module(tmp_path, "broken_json_warn_app", BROKEN)
    res = cli(runtime, ["doctor", "broken_json_warn_app:app", "--json", "--warnings-only"], tmp_path)
    assert res.returncode == 0
    payload = json.loads(res.stdout)
    assert payload["status"] == "warn"
    assert payload["warnings_only"] is True


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_warning_status_and_check_schema(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_json_warn_only", fluxlit_app(f"trust_proxy=True, forwarded_allow_ips='*', gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "doc_json_warn_only:app", "--json"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "FluxLit doctor" not in res.stdout
    payload = json.loads(res.stdout)
    assert payload["status"] == "warn"
    assert payload["warnings_only"] is False
    assert payload["target"] == "doc_json_warn_only:app"
    assert all(set(check) == {"name", "status", "detail"} for check in payload["checks"])
    assert any(c["name"] == "forwarded_allow_ips" and c["status"] == "WARN" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_json_missing_upstream_file_reports_structured_failure(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_json_missing_upstream", fluxlit_app(f"gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "doc_json_missing_upstream:app", "--json"], tmp_path,
              {"FLUXLIT_STREAMLIT_UPSTREAM_FILE": str(tmp_path / "missing.txt")})
    assert res.returncode == 1
    payload = json.loads(res.stdout)
    assert payload["status"] == "fail"
    assert any(c["name"] == "streamlit_upstream_state" and c["status"] == "FAIL" and "state file missing" in c["detail"]
               for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warns_when_internal_api_path_mismatches_mount(tmp_path, runtime) -> None:
    port = free_port()
    app_module(tmp_path, "doc_mount_app", fluxlit_app(f"api_mount_path='/api/v1', gateway_port={port}", "M"))
    res = cli(runtime, ["doctor", "doc_mount_app:app"], tmp_path, {"FLUXLIT_INTERNAL_API_BASE": f"http://127.0.0.1:{port}/api"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARN" in res.stdout
    assert "api_mount_path" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_passes_proxy_headers_when_subpath_and_trust_proxy(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_subpath_trust_ok", fluxlit_app(
        f"root_path='/content/1', trust_proxy=True, public_base_url='https://example.com', gateway_port={free_port()}", "ST"))
    res = cli(runtime, ["doctor", "doc_subpath_trust_ok:app"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "proxy_headers" in res.stdout
    assert "PASS" in res.stdout
    assert "trust_proxy enabled" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warns_when_trust_proxy_has_broad_forwarded_allow_ips(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_proxy_broad", fluxlit_app(f"trust_proxy=True, forwarded_allow_ips='*', gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "doc_proxy_broad:app"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "forwarded_allow_ips" in res.stdout
    assert "WARN" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warns_when_public_base_url_path_mismatches_root_path(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_public_base_mismatch", fluxlit_app(
        f"root_path='/apps/demo', public_base_url='https://example.com/wrong', gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "doc_public_base_mismatch:app"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "public_base_url" in res.stdout
    assert "does not match public mount" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_fails_missing_streamlit_upstream_state_file(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_missing_upstream_file", fluxlit_app(f"gateway_port={free_port()}"))
    res = cli(runtime, ["doctor", "doc_missing_upstream_file:app"], tmp_path,
              {"FLUXLIT_STREAMLIT_UPSTREAM_FILE": str(tmp_path / "missing.txt")})
    assert res.returncode == 1
    assert "streamlit_upstream_state" in res.stdout
    assert "state file missing" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_fails_fluxlit_auth_extra_when_pyjwt_unimportable(tmp_path, runtime) -> None:
    # The original puts None in sys.modules["jwt"]; a jwt package in the project that refuses
    # to import blocks PyJWT for the interpreter the same way.
    (tmp_path / "jwt").mkdir()
    (tmp_path / "jwt" / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    app_module(tmp_path, "doc_jwt_blocked", fluxlit_app(f"gateway_port={free_port()}", "B"))
    res = cli(runtime, ["doctor", "doc_jwt_blocked:app"], tmp_path, {"FLUXLIT_JWT_ISSUER": "https://issuer.blocked"})
    assert res.returncode == 1
    assert "fluxlit_auth_extra" in res.stdout
    assert "FAIL" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_reports_auth_extra_when_jwt_env_set(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_jwt_env", fluxlit_app(f"gateway_port={free_port()}", "J"))
    res = cli(runtime, ["doctor", "doc_jwt_env:app"], tmp_path, {"FLUXLIT_JWT_ISSUER": "https://issuer.example"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fluxlit_auth_extra" in res.stdout
    assert "PyJWT" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warns_when_subpath_without_trust_proxy(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_subpath_proxy", fluxlit_app(
        f"root_path='/content/1', trust_proxy=False, public_base_url='https://example.com', gateway_port={free_port()}", "S"))
    res = cli(runtime, ["doctor", "doc_subpath_proxy:app"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "proxy_headers" in res.stdout
    assert "FLUXLIT_TRUST_PROXY" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_passes_when_internal_api_path_matches_mount(tmp_path, runtime) -> None:
    port = free_port()
    app_module(tmp_path, "doc_mount_ok", fluxlit_app(f"api_mount_path='/api/v1', gateway_port={port}", "M"))
    res = cli(runtime, ["doctor", "doc_mount_ok:app"], tmp_path, {"FLUXLIT_INTERNAL_API_BASE": f"http://127.0.0.1:{port}/api/v1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "FLUXLIT_INTERNAL_API_BASE" in res.stdout
    assert "matches api_mount_path" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_exit_one_on_failure_without_warnings_only(tmp_path, runtime) -> None:
    app_module(tmp_path, "broken_app2", BROKEN)
    res = cli(runtime, ["doctor", "broken_app2:app"], tmp_path)
    assert res.returncode == 1
    assert "FAIL" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warnings_only_exit_zero(tmp_path, runtime) -> None:
    app_module(tmp_path, "broken_app", BROKEN)
    res = cli(runtime, ["doctor", "broken_app:app", "--warnings-only"], tmp_path)
    assert res.returncode == 0
    assert "FAIL" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_checks_oauth_public_base_url_warning(tmp_path, runtime) -> None:
    app_module(tmp_path, "doctor_oauth_base_app", fluxlit_app(f"root_path='/content/2', gateway_port={free_port()}"))
    payload = json.loads(cli(runtime, ["doctor", "doctor_oauth_base_app:app", "--json"], tmp_path).stdout)
    assert any(c["name"] == "oauth_public_base_url" and c["status"] == "WARN" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_checks_upstream_state_file_empty(tmp_path, runtime) -> None:
    app_module(tmp_path, "doctor_upstream_app", fluxlit_app(f"gateway_port={free_port()}"))
    state = tmp_path / "upstream.txt"
    state.write_text("", encoding="utf-8")
    payload = json.loads(cli(runtime, ["doctor", "doctor_upstream_app:app", "--json"], tmp_path,
                             {"FLUXLIT_STREAMLIT_UPSTREAM_FILE": str(state)}).stdout)
    assert any(c["name"] == "streamlit_upstream_state" and c["status"] == "WARN" and "empty" in c["detail"] for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_checks_public_base_url_precedence_and_config_rows(tmp_path, runtime) -> None:
    app_module(tmp_path, "doctor_public_base_app", fluxlit_app(f"gateway_port={free_port()}"))
    payload = json.loads(cli(runtime, ["doctor", "doctor_public_base_app:app", "--json"], tmp_path,
                             {"PUBLIC_BASE_URL": "https://legacy.example", "FLUXLIT_PUBLIC_BASE_URL": "https://fluxlit.example"}).stdout)
    rows = [(c["name"], c["status"], c["detail"]) for c in payload["checks"]]
    assert any(name == "import_module_file" and status == "PASS" for name, status, _ in rows)
    assert ("config.api_mount_path", "PASS", "/api") in rows
    assert any(n == "public_base_url_precedence" and s == "WARN" and "FluxLit uses" in d for n, s, d in rows)


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_checks_public_base_url_strict_fails(tmp_path, runtime) -> None:
    app_module(tmp_path, "doctor_public_base_strict_app", fluxlit_app(f"strict_public_base_url=True, gateway_port={free_port()}"))
    payload = json.loads(cli(runtime, ["doctor", "doctor_public_base_strict_app:app", "--json"], tmp_path,
                             {"PUBLIC_BASE_URL": "https://legacy.example", "FLUXLIT_PUBLIC_BASE_URL": "https://fluxlit.example"}).stdout)
    assert any(c["name"] == "public_base_url_precedence" and c["status"] == "FAIL" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_doctor_warns_gateway_upstream_read_timeout_when_low(tmp_path, runtime) -> None:
    app_module(tmp_path, "doc_low_gateway_read", fluxlit_app(f"gateway_port={free_port()}, gateway_upstream_read_timeout_s=1.0"))
    payload = json.loads(cli(runtime, ["doctor", "doc_low_gateway_read:app", "--json"], tmp_path).stdout)
    assert any(c["name"] == "gateway_upstream_timeouts" and c["status"] == "WARN" for c in payload["checks"])


@pytest.mark.parametrize("runtime", runtimes())
def test_dev_invalid_reload_scope_exits_two(tmp_path, runtime) -> None:
    app_module(tmp_path, "reload_app", "from fluxlit import FluxLit\napp = FluxLit(title='R')\n")
    res = cli(runtime, ["dev", "reload_app:app", "--reload", "--reload-scope", "bogus"], tmp_path)
    assert res.returncode == 2
    assert "reload-scope" in res.stderr.lower()


@pytest.mark.parametrize("runtime", runtimes(go=BUILD_DIFFERS))
def test_build_refuses_overwrite_without_force(tmp_path, runtime) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    res = cli(runtime, ["build", "-o", str(out), "app:app"], tmp_path)
    assert res.returncode == 1
    assert "--force" in res.stderr or "force" in res.stderr.lower()


@pytest.mark.parametrize("runtime", runtimes(go=BUILD_DIFFERS))
def test_build_writes_docker_files(tmp_path, runtime) -> None:
    res = cli(runtime, ["build", "--force", "-o", str(tmp_path / "out"), "app:app"], tmp_path)
    assert res.returncode == 0
    df = tmp_path / "out" / "Dockerfile"
    assert df.is_file()
    body = df.read_text(encoding="utf-8")
    assert "fluxlit" in body
    assert 'CMD ["fluxlit", "run", "app:app"]' in body
    assert "USER appuser" in body
    assert "FROM python@sha256:" in body
    assert (tmp_path / "out" / ".dockerignore").is_file()


@pytest.mark.parametrize("runtime", runtimes(go=NEW_DEFAULT_DIFFERS))
def test_new_scaffold_writes_app_py(tmp_path, runtime) -> None:
    res = cli(runtime, ["new", "scaffold_demo"], tmp_path)
    assert res.returncode == 0
    app_py = tmp_path / "scaffold_demo" / "app.py"
    assert app_py.is_file()
    assert "FluxLit" in app_py.read_text(encoding="utf-8")
    assert "Depends" in app_py.read_text(encoding="utf-8")
    toml = tmp_path / "scaffold_demo" / "fluxlit.toml"
    assert toml.is_file()
    assert 'target = "app:app"' in toml.read_text(encoding="utf-8")


@pytest.mark.parametrize("runtime", runtimes())
@pytest.mark.parametrize(("profile", "expected"), [("minimal", "FluxLit Demo"), ("auth-ready", "Auth-ready Dashboard"), ("deploy", "Deployment Dashboard")])
def test_new_scaffold_profiles(tmp_path, runtime, profile, expected) -> None:
    res = cli(runtime, ["new", f"scaffold_{profile}", "--profile", profile], tmp_path)
    assert res.returncode == 0
    assert profile in res.stdout
    assert expected in (tmp_path / f"scaffold_{profile}" / "app.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("runtime", runtimes(go=NEW_EXISTING_DIFFERS))
def test_new_exits_when_destination_exists(tmp_path, runtime) -> None:
    (tmp_path / "exists").mkdir()
    res = cli(runtime, ["new", "exists"], tmp_path)
    assert res.returncode == 1


@pytest.mark.parametrize("runtime", runtimes())
def test_shutdown_no_pidfile_exits_two(tmp_path, runtime) -> None:
    res = cli(runtime, ["shutdown"], tmp_path)
    assert res.returncode == 2
    assert "No pid file" in res.stdout


@pytest.mark.parametrize("runtime", runtimes())
def test_shutdown_exits_zero_on_stale_pid(tmp_path, runtime) -> None:
    pid_path = tmp_path / ".fluxlit-dev.pid"
    pid_path.write_text("999999999\n", encoding="ascii")
    res = cli(runtime, ["shutdown", "--pidfile", str(pid_path)], tmp_path)
    assert res.returncode == 0
    assert not pid_path.exists()


@pytest.mark.parametrize("runtime", runtimes())
def test_shutdown_sends_sigterm_to_recorded_pid(tmp_path, runtime) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_path = tmp_path / "sub.pid"
    pid_path.write_text(f"{proc.pid}\n", encoding="ascii")
    try:
        res = cli(runtime, ["shutdown", "--pidfile", str(pid_path), "--wait", "5"], tmp_path)
        assert res.returncode == 0
        proc.wait(timeout=15)
        assert proc.returncode is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=3)
