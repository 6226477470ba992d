"""mem0 under test, offline: correct user_id filtering vs. the scoping misconfigurations.

The agent is a LangGraph graph over mem0's own ``Memory`` (packaged MiniLM through
mem0's huggingface embedder, ChromaDB and the SQLite history store in the run folder,
``infer=False``). The unchanged monitors read the events mem0's operations produce.
The correct configuration is run inside a network namespace with no route anywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from memlayer_packs import ROOT, deleted_after, findings, read, small_scenario

from sandbox.runner import run_scenario
from sandbox.spec import load_bundle


def scenario(folder: Path, scope: str) -> Path:
    return small_scenario(folder, "mem0-user.yaml", {"search_scope": scope})


def check_retention(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ines's forget request deletes through mem0; its history store keeps the text."""
    by_seq = {e["seq"]: e for e in events}
    deleted_after(events, "ines")  # after the delete no search returns the deleted memory
    deletes = [e for e in events if e["kind"] == "memory_delete"]
    assert all(d["namespace"] == ["mem0", "ines"] for d in deletes)
    kept = findings(events, "retention")
    assert kept, "mem0's history store kept the forgotten fact: retention must report it"
    for f in kept:
        assert f["owner"] == "ines" and f["category"] == "rewritten"
        write = by_seq[f["about_seq"]]
        assert write["kind"] == "memory_write" and write["namespace"] == ["mem0-history", "ines"]
        assert write["source"] == "mem0_history:DELETE"
    return kept


@pytest.mark.slow
def test_agent_id_scoped_search_leaks_across_users(tmp_path: Path) -> None:
    run = run_scenario(load_bundle(scenario(tmp_path / "spec", "agent_id")), tmp_path, "agent")
    events, summary = read(run)
    assert summary["status"] == "complete" and summary["errors"] == 0
    leaks = findings(events, "cross_user_leakage")
    surfaced = [f for f in leaks if f["category"] == "surfaced"]
    assert surfaced and all(f["owner"] != f["user"] for f in leaks)
    # traced to the mem0 write that stored it
    writes = {e["seq"]: e for e in events if e["kind"] == "memory_write"}
    for f in surfaced:
        origin = writes[f["evidence"]["origin_write_seq"]]
        assert origin["namespace"] == ["mem0", f["owner"]] and origin["user"] == f["owner"]
    # the hits mem0 returned carry other users' user_id
    searches = [e for e in events if e["kind"] == "retrieval"]
    assert any(h["owner"] not in (None, s["user"]) for s in searches for h in s["hits"])
    check_retention(events)


@pytest.mark.slow
def test_user_id_filter_no_leaks_with_the_network_denied(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux unshare is needed for the network-denied run"
    sc = scenario(tmp_path / "spec", "user_id")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [unshare, "-n", sys.executable, "-m", "sandbox", "run", str(sc),
           "--out", str(tmp_path), "--run-id", "user"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Failed to download" not in done.stderr  # spaCy's download path is off
    events, summary = read(tmp_path / "user")
    assert summary["status"] == "complete" and summary["errors"] == 0
    assert summary["turns"] == 3 * 4 * 3
    assert findings(events, "cross_user_leakage") == []
    searches = [e for e in events if e["kind"] == "retrieval"]
    assert searches and all(h["owner"] == s["user"] for s in searches for h in s["hits"])
    assert any(s["hits"] for s in searches)
    kinds = Counter(e["kind"] for e in events)
    assert kinds["memory_write"] > 0 and kinds["memory_delete"] >= 1
    check_retention(events)
    assert (tmp_path / "user" / "mem0" / "history.db").is_file()


@pytest.mark.slow
def test_mem0_layer_scopes_and_history(tmp_path: Path) -> None:
    # the layer alone: what each search scope returns, and what delete leaves behind
    from sandbox.agent.backends.mem0_agent import Mem0Memory
    from sandbox.record.events import Event

    events: list[Event] = []
    where = {"user": "bob", "session": 0, "turn": 0, "t_sim": 0.0}
    scopes = {}
    for scope in ("user_id", "agent_id", "wildcard"):
        scopes[scope] = Mem0Memory(tmp_path / scope, events.append, lambda: where,
                                   search_scope=scope)  # type: ignore[arg-type]  # fmt: skip
        scopes[scope].add("alice", "My locker code is QX7-PL2M-88RW")
        scopes[scope].add("bob", "I play the cello on weekends")
    query = "what is the locker code?"
    owners = {s: {r["user_id"] for r in m.search("bob", query, top_k=5)} for s, m in scopes.items()}
    assert owners["user_id"] == {"bob"}
    assert owners["agent_id"] == owners["wildcard"] == {"alice", "bob"}
    mem = scopes["user_id"]
    (hit,) = mem.search("alice", query, top_k=1)
    events.clear()
    mem.delete("alice", [hit["id"]])
    kinds = [(e.kind, getattr(e, "namespace", None)) for e in events]
    assert kinds == [
        ("memory_delete", ["mem0", "alice"]),
        ("memory_write", ["mem0-history", "alice"]),
    ]
    assert hit["id"] not in {r["id"] for r in mem.search("alice", query, top_k=5)}
    # mem0's own history API still returns the deleted text
    rows = mem.memory.history(hit["id"])
    assert [r["event"] for r in rows] == ["ADD", "DELETE"]
    assert rows[1]["old_memory"] == "My locker code is QX7-PL2M-88RW"
    for m in scopes.values():
        m.close()
