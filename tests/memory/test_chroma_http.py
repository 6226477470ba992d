"""Memory on a ChromaDB server (``memory: {backend: chroma-http, host, port}``).

The conformance and parity suites run on the server store through their shared
fixtures (``chroma-http-*`` cases in conftest.py and test_store_parity.py). Here: runs
sharing one server are isolated from each other, a run folder reopens its own memory,
a scenario records the same events as with embedded memory, a server that is down (or
goes down) is a clear error and ``sandbox run`` exits 3 without a traceback, and the
agent config refuses bad memory settings with file:line [field] and exit 2.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.memory import (
    ChromaMemoryStore,
    ChromaServer,
    Embedder,
    MemoryBackendError,
    open_memory,
)
from sandbox.memory._server import POINTER
from sandbox.record import iter_events
from sandbox.record.events import WALL_CLOCK_FIELDS
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle
from sandbox.spec.agent import MemoryPolicy

ROOT = Path(__file__).resolve().parents[2]
ALICE = ("memories", "alice")
BOB = ("memories", "bob")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _down() -> ChromaServer:
    return ChromaServer("127.0.0.1", free_port())  # nothing listens there


# -- isolation and reopening -----------------------------------------------------------


def test_two_runs_on_one_server_do_not_see_each_other(
    tmp_path: Path, chroma_server: ChromaServer, embedder: Embedder
) -> None:
    a = ChromaMemoryStore(
        tmp_path / "run-a" / "memory", "shared", embedder=embedder, server=chroma_server
    )
    b = ChromaMemoryStore(
        tmp_path / "run-b" / "memory", "shared", embedder=embedder, server=chroma_server
    )
    try:
        a.put(ALICE, "k", {"text": "my sister's name is Ruth and she keeps bees"})
        b.put(BOB, "k", {"text": "I sold my red car last spring"})
        # the same namespace and key in both: still two items
        b.put(ALICE, "k", {"text": "run b has its own alice"})
        # a shared pool in each run reads every user of that run, and only that run
        assert [h.value["text"] for h in a.search(("memories",), query="bees")] == [
            "my sister's name is Ruth and she keeps bees"
        ]
        assert sorted(h.value["text"] for h in b.search(("memories",), query="bees")) == [
            "I sold my red car last spring",
            "run b has its own alice",
        ]
        assert a.list_namespaces() == [ALICE]
        assert a.get(BOB, "k") is None
        da = json.loads((tmp_path / "run-a" / "memory" / POINTER).read_text())
        db = json.loads((tmp_path / "run-b" / "memory" / POINTER).read_text())
        assert da["url"] == db["url"] == chroma_server.url
        assert da["database"] != db["database"]
        assert a.location.endswith(da["database"])
    finally:
        a.close()
        b.close()


def test_a_run_folder_reopens_its_own_memory(
    tmp_path: Path, chroma_server: ChromaServer, embedder: Embedder
) -> None:
    folder = tmp_path / "run" / "memory"
    with ChromaMemoryStore(folder, embedder=embedder, server=chroma_server) as s:
        s.put(ALICE, "k1", {"text": "I keep two hives of honey bees"})
        s.put(ALICE, "k2", {"text": "my car is a red hatchback"})
        s.delete(ALICE, "k2")
    with ChromaMemoryStore(folder, embedder=embedder, server=chroma_server) as s:
        assert [h.key for h in s.search(ALICE, query="beekeeping")] == ["k1"]
        assert s.stats()["items"] == 1
    with (
        ChromaMemoryStore(folder, embedder=embedder, server=chroma_server),
        pytest.raises(RuntimeError, match="already open"),
    ):
        ChromaMemoryStore(folder, embedder=embedder, server=chroma_server)


def test_a_store_without_folder_drops_its_database(
    chroma_server: ChromaServer, embedder: Embedder
) -> None:
    s = ChromaMemoryStore(None, embedder=embedder, server=chroma_server)
    s.put(ALICE, "k", {"text": "temporary"})
    database = s.location.rsplit("/", 1)[-1]
    url = f"{chroma_server.url}/api/v2/tenants/default_tenant/databases/{database}"
    with httpx.Client() as http:
        assert http.get(url).status_code == 200
        s.close()
        assert http.get(url).status_code == 404


def test_a_folder_that_names_another_server_is_refused(
    tmp_path: Path, chroma_server: ChromaServer, embedder: Embedder
) -> None:
    folder = tmp_path / "memory"
    ChromaMemoryStore(folder, embedder=embedder, server=chroma_server).close()
    other = ChromaServer("127.0.0.1", chroma_server.port + 1)
    with pytest.raises(MemoryBackendError, match="lives on"):
        ChromaMemoryStore(folder, embedder=embedder, server=other)
    # a database that vanished from the server is named, not silently recreated
    data = json.loads((folder / POINTER).read_text())
    (folder / POINTER).write_text(json.dumps({**data, "database": "sandbox-gone"}))
    with pytest.raises(MemoryBackendError, match="sandbox-gone"):
        ChromaMemoryStore(folder, embedder=embedder, server=chroma_server)


# -- a server that is down -------------------------------------------------------------


def test_a_server_that_is_down_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    down = _down()
    with pytest.raises(MemoryBackendError) as info:
        ChromaMemoryStore(tmp_path / "m", embedder=embedder, server=down)
    msg = str(info.value)
    assert down.url in msg and "not reachable" in msg and "chroma run" in msg
    assert not (tmp_path / "m" / POINTER).exists()
    # the folder is free again for a store that can open
    policy = MemoryPolicy(backend="chroma-http", host=down.host, port=down.port)
    with pytest.raises(MemoryBackendError):
        open_memory(policy, tmp_path / "m")


def test_a_server_that_goes_down_mid_run_is_a_clear_error(
    tmp_path: Path, embedder: Embedder
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "chroma"),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(tmp_path / "db"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        server = ChromaServer("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            try:
                store = ChromaMemoryStore(tmp_path / "m", embedder=embedder, server=server)
                break
            except MemoryBackendError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        store.put(ALICE, "k", {"text": "before the outage"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with pytest.raises(MemoryBackendError, match="not reachable"):
        store.search(ALICE, query="outage")
    store.close()


def test_sandbox_run_exits_3_when_the_memory_server_is_down(tmp_path: Path) -> None:
    scenario = _tiny(tmp_path, {"backend": "chroma-http", "host": "127.0.0.1", "port": free_port()})
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out), "--run-id", "r", "-q"])
    assert res.exit_code == 3, res.output
    assert "not reachable" in res.output and "chroma run" in res.output
    assert "Traceback" not in res.output
    header = json.loads((out / "r" / "run.json").read_text())
    assert header["status"] == "failed"
    errors = [e for e in iter_events(out / "r") if e["kind"] == "error"]
    assert errors and "MemoryBackendError" in errors[0]["message"]


# -- same events as embedded -----------------------------------------------------------


def _tiny(folder: Path, memory: dict[str, Any]) -> Path:
    """Two users, two sessions of three turns, the shared-memory reference agent."""
    folder.mkdir(parents=True, exist_ok=True)
    agent = yaml.safe_load((ROOT / "scenarios" / "agents" / "shared.yaml").read_text())
    agent["memory"] = {**agent.get("memory", {}), **memory}
    (folder / "agent.yaml").write_text(yaml.safe_dump(agent))
    scenario = {
        "name": "tiny-memory",
        "seed": 7,
        "start_date": "2026-01-05",
        "cast": [{"persona": str(ROOT / "personas" / f"{p}.yaml")} for p in ("maya", "quinn")],
        "schedule": {
            "sessions_per_user": 2,
            "turns_per_session": 3,
            "gap": {"dist": "fixed", "days": 1.0},
        },
        "agent": "agent.yaml",
        "monitors": [{"name": "cross_user_leakage"}, {"name": "retention"}],
    }
    (folder / "s.yaml").write_text(yaml.safe_dump(scenario))
    return folder / "s.yaml"


def _comparable(run: Path) -> list[dict[str, Any]]:
    out = []
    for e in iter_events(run):
        e = {k: v for k, v in e.items() if k not in WALL_CLOCK_FIELDS}
        if e["kind"] == "run_start":
            e["agent"] = {**e["agent"], "memory": None}  # names the backend: differs
        out.append(e)
    return out


def test_a_scenario_records_the_same_events_as_with_embedded_memory(
    tmp_path: Path, chroma_server: ChromaServer
) -> None:
    embedded = run_scenario(load_bundle(_tiny(tmp_path / "e", {})), tmp_path / "e" / "runs", "r")
    http = {"backend": "chroma-http", "host": chroma_server.host, "port": chroma_server.port}
    served = run_scenario(load_bundle(_tiny(tmp_path / "h", http)), tmp_path / "h" / "runs", "r")
    a, b = _comparable(embedded), _comparable(served)
    assert any(e["kind"] == "retrieval" and e["hits"] for e in a)  # memory was exercised
    assert any(e["kind"] == "memory_write" for e in a)
    assert a == b
    assert (served / "memory" / POINTER).is_file()
    assert not (served / "memory" / "chroma.sqlite3").exists()  # nothing kept locally
    start = next(iter_events(served))
    assert start["agent"]["memory"]["backend"] == "chroma-http"
    assert json.loads((served / "summary.json").read_text())["status"] == "complete"


# -- the agent config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory", "field", "message"),
    [
        ("backend: chroma-http", "memory", "needs a host"),
        ("backend: redis", "memory.backend", "'chroma' or 'chroma-http'"),
        ("{backend: chroma-http, host: h, port: 70000}", "memory.port", "65535"),
        ("{backend: chroma, host: h}", "memory", "'chroma-http' only"),
        ("{backend: chroma-http, host: ''}", "memory.host", "at least 1 character"),
    ],
)
def test_bad_memory_settings_exit_2_with_file_line_and_field(
    tmp_path: Path, memory: str, field: str, message: str
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"name: srv\nmemory: {memory}\n"
        if memory.startswith("{")
        else f"name: srv\nmemory:\n  {memory}\n"
    )
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert f"{path}:" in res.output and f"[{field}]" in res.output
    assert message in res.output


def test_the_shipped_server_agent_validates() -> None:
    res = CliRunner().invoke(app, ["validate", str(ROOT / "scenarios/agents/shared-http.yaml")])
    assert res.exit_code == 0, res.output
