from __future__ import annotations

from pathlib import Path

from replay_builders import SECRET, make_console, start

from sandbox.record.events import (
    AgentTurn,
    Finding,
    Hit,
    MemoryWrite,
    Retrieval,
    SessionStart,
    UserTurn,
)
from sandbox.record.writer import RunWriter
from sandbox.replay.explain import explain_finding, find_finding
from sandbox.replay.explain_view import explanation_json, render_explanation


def test_chain_from_finding_back_to_first_said(small_run: Path):
    ex = explain_finding(small_run, "F00001")
    assert ex is not None
    assert ex.about is not None and ex.about["seq"] == 14
    assert ex.prompt is not None and ex.prompt["text"] == "Any news from Leo?"
    assert [r["seq"] for r in ex.retrievals] == [13]
    assert [w["seq"] for w in ex.writes] == [3]
    assert ex.origins[3]["seq"] == 2  # leo's turn that led to the write
    assert ex.first_said is not None and ex.first_said["user"] == "leo"
    console, buf = make_console(120)
    render_explanation(ex, console)
    out = buf.getvalue()
    sections = ["finding", "the turn it is about", "memory it came from", "first said", "chain"]
    assert [out.index(s) for s in sections] == sorted(out.index(s) for s in sections)
    assert f"⟦{SECRET}⟧" in out
    assert "written leo s0 t0 · Mon 2026-01-05 09:36 · seq 3" in out
    assert "after the user said, leo s0 t0" in out
    chain = out[out.index("chain") :]
    assert "said by leo" in chain and "stored as m-leo-1 (seq 3)" in chain
    assert "retrieved for maya, score 0.82" in chain and "F00001" in chain
    assert explanation_json(ex)["writes"][0]["id"] == "m-leo-1"


def test_unknown_finding(small_run: Path):
    assert explain_finding(small_run, "F99999") is None
    assert find_finding(small_run, "F0000") is None  # a prefix is not an id


def test_writes_found_by_memory_id_when_no_write_seqs(tmp_path: Path):
    w = RunWriter(tmp_path / "ids", {"run_id": "ids"})
    start(w, "ids")
    w.emit(SessionStart(user="leo", session=0, t_sim=0.1, date="2026-01-05"))
    w.emit(UserTurn(user="leo", session=0, turn=0, t_sim=0.1, text="I chat a lot."))
    w.emit(UserTurn(user="leo", session=0, turn=1, t_sim=0.1, text="My PIN is 4321, keep it."))
    w.emit(
        MemoryWrite(
            user="leo",
            session=0,
            turn=1,
            t_sim=0.1,
            namespace=["s"],
            id="k",
            owner="leo",
            text="PIN is 4321",
        )
    )
    w.emit(SessionStart(user="maya", session=0, t_sim=0.2, date="2026-01-05"))
    w.emit(
        Retrieval(
            user="maya",
            session=0,
            turn=0,
            t_sim=0.2,
            namespace=["s"],
            hits=[Hit(id="k", namespace=["s"], owner="leo", text="PIN is 4321")],
        )
    )
    a = w.emit(AgentTurn(user="maya", session=0, turn=0, t_sim=0.2, text="Leo's PIN is 4321."))
    # a later re-write of the same id must not be taken for the source
    w.emit(
        MemoryWrite(
            user="maya",
            session=0,
            turn=0,
            t_sim=0.2,
            namespace=["s"],
            id="k",
            owner="maya",
            text="rewritten",
        )
    )
    w.emit(
        Finding(
            user="maya",
            session=0,
            turn=0,
            t_sim=0.2,
            id="F7",
            monitor="leak",
            category="surfaced",
            about_seq=a.seq,
            evidence={"memory_ids": ["k"], "text": "4321"},
        )
    )
    w.close("complete")
    ex = explain_finding(w.dir, "F7")
    assert ex is not None
    assert [x["text"] for x in ex.writes] == ["PIN is 4321"]
    assert ex.origins[ex.writes[0]["seq"]]["text"] == "My PIN is 4321, keep it."
    assert ex.first_said is not None and ex.first_said["turn"] == 1
