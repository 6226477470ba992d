from __future__ import annotations

from pathlib import Path

from replay_builders import make_console, start

from sandbox.record.events import MemoryDelete, MemoryWrite, SessionEnd, SessionStart
from sandbox.record.reader import iter_events
from sandbox.record.writer import RunWriter
from sandbox.replay.filters import SessionRange, parse_session_range
from sandbox.replay.memory_view import memory_states, render_memory_states, state_json
from sandbox.replay.style import SimClock


def ids(items):
    return sorted(i.id for i in items)


def _run(root: Path) -> Path:
    """maya, three sessions: writes, an update, a hard delete and a soft delete."""
    w = RunWriter(root / "mem", {"run_id": "mem"})
    start(w, "mem")
    own = ["users", "maya"]

    def session(n, body):
        w.emit(SessionStart(user="maya", session=n, t_sim=n + 0.5, date=f"2026-01-0{5 + n}"))
        body()
        w.emit(SessionEnd(user="maya", session=n, t_sim=n + 0.6))

    def put(n, mid, text, ns=own, owner="maya", user="maya"):
        w.emit(
            MemoryWrite(
                user=user,
                session=n,
                turn=0,
                t_sim=n + 0.5,
                namespace=ns,
                id=mid,
                owner=owner,
                text=text,
            )
        )

    session(
        0,
        lambda: (
            put(0, "a", "likes tea"),
            put(0, "b", "works at Acme"),
            put(0, "c", "sister is ill"),
        ),
    )
    session(
        1,
        lambda: (
            put(1, "a", "likes green tea"),
            put(1, "d", "new job at Beta"),
            w.emit(MemoryDelete(user="maya", session=1, namespace=own, ids=["b"])),
            w.emit(MemoryDelete(user="maya", session=1, namespace=own, ids=["c"], mode="soft")),
        ),
    )
    # leo's write into a shared namespace, owned by maya's data, and one unrelated
    w.emit(
        MemoryWrite(
            user="leo",
            session=0,
            turn=0,
            t_sim=1.8,
            namespace=["shared"],
            id="x",
            owner="maya",
            text="maya's address",
        )
    )
    w.emit(
        MemoryWrite(
            user="leo",
            session=0,
            turn=0,
            t_sim=1.8,
            namespace=["users", "leo"],
            id="y",
            owner="leo",
            text="leo's own",
        )
    )
    session(2, lambda: put(2, "e", "moved to Oslo"))
    w.emit(SessionStart(user="maya", session=3, t_sim=3.5, date="2026-01-08"))
    put(3, "f", "half-written session")
    w.close("failed")
    return w.dir


def test_state_after_session_and_diff_since_previous(tmp_path: Path):
    run = _run(tmp_path)
    [st] = memory_states(iter_events(run), {"maya"}, parse_session_range("1"))
    assert st.user == "maya" and st.session == 1 and st.baseline_session == 0 and st.ended
    assert ids(st.items) == ["a", "c", "d"]
    assert ids(st.diff.added) == ["d"]
    assert ids(st.diff.updated) == ["a"]
    assert ids(st.diff.soft_deleted) == ["c"]
    assert ids(st.diff.deleted) == ["b"]
    assert st.diff.unchanged == 0
    assert next(i for i in st.items if i.id == "c").forgotten
    assert next(i for i in st.items if i.id == "a").text == "likes green tea"


def test_items_owned_by_the_user_in_other_namespaces_count(tmp_path: Path):
    [st] = memory_states(iter_events(_run(tmp_path)), {"maya"}, parse_session_range("2"))
    assert ids(st.items) == ["a", "c", "d", "e", "x"]
    assert ids(st.diff.added) == ["e", "x"]
    assert st.diff.unchanged == 3


def test_range_diffs_against_the_session_before_it(tmp_path: Path):
    [st] = memory_states(iter_events(_run(tmp_path)), {"maya"}, parse_session_range("1..2"))
    assert st.session == 2 and st.baseline_session == 0
    assert ids(st.diff.added) == ["d", "e", "x"] and ids(st.diff.deleted) == ["b"]


def test_unended_session_is_marked(tmp_path: Path):
    [st] = memory_states(iter_events(_run(tmp_path)), {"maya"}, parse_session_range("3"))
    assert not st.ended and "f" in ids(st.items)
    [last] = memory_states(iter_events(_run(tmp_path / "b")), {"maya"}, SessionRange())
    assert last.session == 3 and not last.ended and last.baseline_session is None


def test_missing_session_gives_nothing(tmp_path: Path):
    assert memory_states(iter_events(_run(tmp_path)), {"maya"}, parse_session_range("9")) == []


def test_all_users_when_none_selected(small_run: Path):
    states = memory_states(iter_events(small_run), None, parse_session_range("0"))
    assert sorted(s.user for s in states) == ["leo", "maya"]


def test_render_and_json(tmp_path: Path):
    [st] = memory_states(iter_events(_run(tmp_path)), {"maya"}, parse_session_range("2"))
    console, buf = make_console(120)
    render_memory_states([st], console, SimClock("2026-01-05"))
    out = buf.getvalue()
    assert "memory of maya after session 2 · Wed 2026-01-07 14:24" in out
    assert "+2 added · ~0 updated · ⊘0 soft-deleted · −0 deleted · 3 unchanged" in out
    row_x = next(line for line in out.splitlines() if " x " in line)
    assert row_x.lstrip().startswith("+") and "maya's address" in row_x
    row_c = next(line for line in out.splitlines() if "sister is ill" in line)
    assert "forgotten" in row_c
    data = state_json(st)
    assert data["diff"]["added"] == ["e", "x"] or sorted(data["diff"]["added"]) == ["e", "x"]
    assert data["items"][0]["namespace"] == ["users", "maya"]
