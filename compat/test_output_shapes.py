"""Not a port: the output shapes Python FluxLit's runbooks parse, compared between the two
runtimes on the same project. Every key Python FluxLit writes is there in fluxlit's output
with the same JSON type (fluxlit may add keys): "fluxlit config --json" and
"fluxlit doctor --json --verbose"."""

from __future__ import annotations

import json

from conftest import cli, free_port

APP = ("from fluxlit import FluxLit\nfrom fluxlit.config import FluxlitSettings\n\n"
       "app = FluxLit(title='Shapes', settings=FluxlitSettings(gateway_port={port}, root_path='/sub'))\n\n"
       "@app.page('/')\ndef home(st, client):\n    st.write('x')\n")


def json_type(v) -> str:
    return {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number", type(None): "null"}[type(v)]


def missing_or_retyped(py, go, path: str = "") -> list[str]:
    """Where go lacks a key py has, or holds it with another JSON type (null matches any)."""
    out = []
    if isinstance(py, dict):
        if not isinstance(go, dict):
            return [f"{path or '/'}: object vs {json_type(go)}"]
        for k, v in py.items():
            if k not in go:
                out.append(f"{path}/{k}: missing")
            else:
                out += missing_or_retyped(v, go[k], f"{path}/{k}")
        return out
    if py is None or go is None or json_type(py) == json_type(go):
        return out
    return [f"{path}: {json_type(py)} vs {json_type(go)}"]


def test_config_json_has_python_schema(tmp_path) -> None:
    (tmp_path / "app.py").write_text(APP.format(port=free_port()))
    py = json.loads(cli("python", ["config", "--json"], tmp_path).stdout)
    go = json.loads(cli("go", ["config", "--json"], tmp_path).stdout)
    # Top level, binding and computed keep Python's keys and types; settings has every Python
    # setting (some typed differently on purpose: lists where Python has strings, README).
    assert missing_or_retyped({k: v for k, v in py.items() if k != "settings"}, go) == []
    assert set(py["settings"]) <= set(go["settings"])
    assert all(set(w) == {"level", "code", "message", "doc"} for w in go["warnings"])
    assert go["binding"] == py["binding"]
    assert go["computed"]["public_mount_path"] == py["computed"]["public_mount_path"] == "/sub"


def test_doctor_verbose_json_has_python_schema(tmp_path) -> None:
    (tmp_path / "app.py").write_text(APP.format(port=free_port()))
    py = json.loads(cli("python", ["doctor", "--json", "--verbose"], tmp_path).stdout)
    go = json.loads(cli("go", ["doctor", "--json", "--verbose"], tmp_path).stdout)
    assert set(py) == set(go)
    pv, gv = py["verbose"], go["verbose"]
    assert missing_or_retyped({k: v for k, v in pv.items() if k != "settings_redacted"}, gv) == []
    assert set(pv["settings_redacted"]) <= set(gv["settings_redacted"])
    assert gv["pages"] == pv["pages"]
    # Python's row names are all there (fluxlit adds its own).
    assert {c["name"] for c in py["checks"]} <= {c["name"] for c in go["checks"]}
