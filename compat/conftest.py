"""Fixtures of the compatibility suite: each test runs against both runtimes, Python FluxLit
("python": its own command line, compat/pyfluxlit.py) and the fluxlit binary ("go":
FLUXLIT_BIN), started as processes in a project folder, and asserts what a client sees.

A deliberate difference is a strict xfail on the runtime that differs (runtimes(go=...)),
with its reason; README.md's migration section lists each one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
FLUXLIT_BIN = os.environ.get("FLUXLIT_BIN", "")
PYTHON = sys.executable
START_TIMEOUT_S = 90.0


def runtimes(go: str | None = None, python: str | None = None) -> list:
    """The runtime parameter, with a strict xfail (and its reason) on a runtime that differs."""
    params = []
    for name, reason in (("python", python), ("go", go)):
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def differs(request, runtime: str, *, go: str | None = None, python: str | None = None) -> None:
    """Mark this run a strict xfail when runtime is the one that deliberately differs (for
    tests whose runtime comes from a shared, module-scoped server)."""
    reason = {"go": go, "python": python}.get(runtime)
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without FLUXLIT_* (both runtimes read them), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FLUXLIT_")}
    env["FLUXLIT_PYTHON"] = PYTHON  # the binary's children use this interpreter
    env.update(extra or {})
    return env


def cli(runtime: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run "fluxlit ARGS" of runtime in cwd."""
    cmd = [PYTHON, str(HERE / "pyfluxlit.py"), *args] if runtime == "python" else [FLUXLIT_BIN, *args]
    return subprocess.run(cmd, cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=120)


class Server:
    """One runtime serving a project on a free port: "fluxlit run TARGET", or the gateway alone
    in front of an upstream Streamlit (FLUXLIT_STREAMLIT_UPSTREAM)."""

    def __init__(self, runtime: str, project: Path, target: str, env: dict[str, str] | None = None, upstream: str | None = None):
        self.runtime, self.project = runtime, project
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(env or {})
        if upstream:
            env["FLUXLIT_STREAMLIT_UPSTREAM"] = upstream
        env.setdefault("FLUXLIT_NO_PIDFILE", "1")
        env.setdefault("FLUXLIT_LOG_FORMAT", "json")
        if runtime == "python":
            args = ["gateway", target, str(self.port)] if upstream else ["run", target, "--host", "127.0.0.1", "--port", str(self.port), "--no-pidfile"]
            cmd = [PYTHON, str(HERE / "pyfluxlit.py"), *args]
        else:
            cmd = [FLUXLIT_BIN, "run", target, "--host", "127.0.0.1", "--port", str(self.port), "--no-pidfile"]
        self.log_path = project / f"server-{runtime}-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=project, env=clean_env(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, path: str = "/api/healthz", status: int = 200, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.runtime} exited early ({self.proc.returncode}):\n{self.log()}")
            try:
                r = httpx.get(self.base + path, timeout=2.0)
                if r.status_code == status:
                    return
                last = r.status_code
            except httpx.HTTPError as e:
                last = e
            time.sleep(0.1)
        pytest.fail(f"{self.runtime}: {path} never answered {status} (last {last}):\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self, until=None, timeout: float = 5.0) -> list[dict]:
        """The JSON lines of the server's log; with until, wait (fluxlit writes its log from a
        queue) until one of them satisfies it, or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self._records()
            if until is None or any(until(r) for r in recs) or time.monotonic() > deadline:
                return recs
            time.sleep(0.05)

    def _records(self) -> list[dict]:
        out = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def stop(self) -> None:
        """SIGTERM the runtime's process group (SIGKILL after 20 s), then make sure nothing it
        started lives on. Python FluxLit starts its Streamlit in a session of its own
        (start_new_session), out of the group's reach: left running after its runtime ended,
        such a Streamlit served on with PPID 1 (seen on the test machine). The binary's
        children must end with it (README: "kill -9 of fluxlit leaves nothing behind"), so
        for "go" a survivor fails the test."""
        kids = descendants(self.proc.pid)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        deadline = time.monotonic() + 10
        while (left := [p for p in kids if alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if left and self.runtime == "go":
            pytest.fail(f"processes of the binary outlived it by 10 s (killed now): {left}")


def descendants(pid: int) -> list[int]:
    """The pids of pid's children, their children and so on, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue  # ended
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # "pid (comm) state ppid ..."
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie has ended: its parent, or PID 1, reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def start_server(runtime: str, project: Path, app_source: str, *, env: dict[str, str] | None = None,
                 upstream: str | None = None, target: str = "app:app", ready: str = "/api/healthz",
                 files: dict[str, str] | None = None) -> Server:
    """Write the app (and files) into project and start runtime there, waiting for ready."""
    project.mkdir(parents=True, exist_ok=True)
    (project / target.split(":")[0].replace(".", "/")).with_suffix(".py").write_text(app_source)
    for name, body in (files or {}).items():
        (project / name).write_text(body)
    s = Server(runtime, project, target, env, upstream)
    try:
        s.wait(ready)
    except BaseException:
        s.stop()
        raise
    return s


@pytest.fixture
def serve(tmp_path: Path):
    """serve(runtime, app_source, ...) writes app.py into a fresh project and starts a Server."""
    servers: list[Server] = []

    def start(runtime: str, app_source: str, **kw) -> Server:
        s = start_server(runtime, tmp_path / f"{runtime}-{len(servers)}", app_source, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def pytest_configure(config) -> None:
    if not FLUXLIT_BIN or not os.access(FLUXLIT_BIN, os.X_OK):
        raise pytest.UsageError("set FLUXLIT_BIN to the fluxlit binary (go test -run TestCompatSuite does)")


def pytest_collection_modifyitems(config, items) -> None:
    """COMPAT_SHARD=i/n keeps shard i of n (go test runs the shards at once: the suite mostly
    waits for processes to start). Tests sharing a module-scoped server stay together, one
    unit per file and runtime; the rest are spread one by one, largest unit first onto the
    lightest shard, the same way in every shard since each collects the same items."""
    shard = os.environ.get("COMPAT_SHARD", "")
    if not shard:
        return
    index, count = (int(x) for x in shard.split("/"))
    units: dict[str, list] = {}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        shared = [name for name in params if item._fixtureinfo.name2fixturedefs.get(name, [None])[-1] is not None
                  and item._fixtureinfo.name2fixturedefs[name][-1].scope == "module"]
        key = f"{item.path.name}[{params[shared[0]]}]" if shared else item.nodeid
        units.setdefault(key, []).append(item)
    loads = [0] * count
    keep: set[str] = set()
    for key in sorted(units, key=lambda k: (-len(units[k]), k)):
        lightest = loads.index(min(loads))
        loads[lightest] += len(units[key])
        if lightest == index:
            keep.add(key)
    kept = [it for key, group in units.items() if key in keep for it in group]
    kept_ids = {id(it) for it in kept}
    config.hook.pytest_deselected(items=[it for it in items if id(it) not in kept_ids])
    items[:] = [it for it in items if id(it) in kept_ids]
