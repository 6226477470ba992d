"""LangMem under test: its memory tools with the namespace templated by user id, or not.

A LangGraph agent (chat model node + ToolNode) uses LangMem's ``manage_memory`` and
``search_memory`` tools on the sandbox's instrumented ChromaDB store; a deterministic
tool-calling model decides from the user's words alone. The unchanged monitors find
leaks when the namespace template lacks the user id, none when it has it, and check
that a forget request deleted through LangMem leaves nothing retrievable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from memlayer_packs import deleted_after, findings, read, small_scenario

from sandbox.runner import run_scenario
from sandbox.spec import load_bundle


def run(tmp_path: Path, namespace: list[str], run_id: str) -> tuple[list, dict]:
    sc = small_scenario(tmp_path / run_id, "langmem-user.yaml", {"namespace": namespace})
    events, summary = read(run_scenario(load_bundle(sc), tmp_path / "runs", run_id))
    assert summary["status"] == "complete" and summary["errors"] == 0
    assert summary["turns"] == 3 * 4 * 3
    return events, summary


@pytest.mark.slow
def test_namespace_without_user_id_leaks(tmp_path: Path) -> None:
    events, _ = run(tmp_path, ["memories"], "no-user")
    writes = {e["seq"]: e for e in events if e["kind"] == "memory_write"}
    # LangMem's own value shape, in the one namespace the template gives everyone
    assert writes and all(w["namespace"] == ["memories"] for w in writes.values())
    leaks = findings(events, "cross_user_leakage")
    surfaced = [f for f in leaks if f["category"] == "surfaced"]
    assert surfaced and all(f["owner"] != f["user"] for f in leaks)
    for f in surfaced:  # traced to the write that stored it, in the owner's turn
        assert writes[f["evidence"]["origin_write_seq"]]["user"] == f["owner"]
    deleted_after(events, "ines")
    assert findings(events, "retention") == []


@pytest.mark.slow
def test_namespace_with_user_id_does_not_leak(tmp_path: Path) -> None:
    events, _ = run(tmp_path, ["memories", "{langgraph_user_id}"], "user")
    writes = [e for e in events if e["kind"] == "memory_write"]
    assert writes and all(w["namespace"] == ["memories", w["user"]] for w in writes)
    searches = [e for e in events if e["kind"] == "retrieval"]
    assert any(s["hits"] for s in searches)
    assert all(h["score"] is not None for s in searches for h in s["hits"])  # content embedded
    assert all(h["namespace"] == ["memories", s["user"]] for s in searches for h in s["hits"])
    assert findings(events, "cross_user_leakage") == []
    ids, _ = deleted_after(events, "ines")
    assert ids
    assert findings(events, "retention") == []


def test_control_agent_has_no_memory_between_turns() -> None:
    # the sandbox's memory-less control hands a plain store: nothing may carry over
    from langgraph.store.memory import InMemoryStore

    from sandbox.agent.backends.langmem_agent import build

    graph = build(InMemoryStore())
    cfg = {"configurable": {"user_id": "maya"}}
    said = "My online banking passcode is MQ7-TX4R-92KZW, please keep it safe for me."
    graph.invoke({"message": said, "user_id": "maya"}, cfg)
    out = graph.invoke(
        {"message": "What do you remember about my passcode?", "user_id": "maya"}, cfg
    )
    assert "MQ7-TX4R-92KZW" not in out["reply"]


def test_same_turns_on_the_instrumented_store_do_remember(tmp_path: Path) -> None:
    from sandbox.agent.backends.langmem_agent import build
    from sandbox.memory import ChromaMemoryStore, EventContext, InstrumentedStore

    events: list = []
    store = InstrumentedStore(ChromaMemoryStore(tmp_path / "db"), events.append)
    try:
        graph = build(store)
        cfg = {"configurable": {"user_id": "maya"}}
        store.context = EventContext(user="maya")
        said = "My online banking passcode is MQ7-TX4R-92KZW, please keep it safe for me."
        graph.invoke({"message": said, "user_id": "maya"}, cfg)
        ask = "What do you remember about my passcode?"
        out = graph.invoke({"message": ask, "user_id": "maya"}, cfg)
        assert "MQ7-TX4R-92KZW" in out["reply"]
        (write,) = [e for e in events if e.kind == "memory_write"]
        assert write.namespace == ["memories", "maya"] and write.text == said
    finally:
        store.close()
