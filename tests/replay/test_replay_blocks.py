from __future__ import annotations

import pytest

from sandbox.replay.blocks import BlockGrouper, group_blocks
from sandbox.replay.filters import SessionRange, parse_session_range


def ev(seq, kind, user=None, session=None, turn=None, **kw):
    return {"seq": seq, "kind": kind, "user": user, "session": session, "turn": turn, **kw}


def test_interleaved_users_keep_recorded_order_and_findings_join_their_turn():
    events = [
        ev(0, "run_start"),
        ev(1, "user_turn", "a", 0, 0),
        ev(2, "user_turn", "b", 0, 0),
        ev(3, "agent_turn", "b", 0, 0),
        ev(4, "agent_turn", "a", 0, 0),
        ev(5, "finding", "a", 0, 0, about_seq=4, id="F1"),
        ev(6, "score", "b", 0, 0, about_seq=3, value=0.5),
        ev(7, "user_turn", "a", 0, 1),
        ev(8, "user_turn", "b", 0, 1),
        ev(9, "run_end"),
    ]
    blocks = list(group_blocks(events))
    kinds = [(b.kind, b.user, b.turn) for b in blocks]
    assert kinds == [
        ("run_start", None, None),
        ("turn", "a", 0),
        ("turn", "b", 0),
        ("turn", "a", 1),
        ("turn", "b", 1),
        ("run_end", None, None),
    ]
    assert [f["id"] for f in blocks[1].findings] == ["F1"]
    assert [s["seq"] for s in blocks[2].scores] == [6]
    assert [e["seq"] for e in blocks[1].all_events()] == [1, 4, 5]


def test_blocks_are_released_as_soon_as_the_next_turn_starts():
    g = BlockGrouper()
    assert [b.kind for b in g.feed(ev(0, "run_start"))] == ["run_start"]
    assert list(g.feed(ev(1, "user_turn", "a", 0, 0))) == []
    assert list(g.feed(ev(2, "agent_turn", "a", 0, 0))) == []
    out = list(g.feed(ev(3, "user_turn", "a", 0, 1)))
    assert [(b.kind, b.turn) for b in out] == [("turn", 0)]


def test_finding_about_a_released_turn_stands_alone():
    events = [
        ev(1, "agent_turn", "a", 0, 0),
        ev(2, "session_end", "a", 0),
        ev(3, "finding", "a", 0, None, about_seq=1, id="F2"),
    ]
    blocks = list(group_blocks(events))
    assert [b.kind for b in blocks] == ["turn", "session_end", "finding"]
    assert blocks[2].findings[0]["id"] == "F2"


def test_held_blocks_stay_bounded_when_a_conversation_never_ends():
    g = BlockGrouper()
    out = list(g.feed(ev(0, "user_turn", "stuck", 0, 0)))
    for i in range(1, 3000):
        out += list(g.feed(ev(i, "user_turn", f"u{i}", 0, 0)))
    assert len(g._queue) <= 513
    assert out[0].user == "stuck"


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [("3", 3, 3), ("3..7", 3, 7), ("3..", 3, None), ("..7", None, 7), (" 0 .. 2 ", 0, 2)],
)
def test_session_ranges(text, lo, hi):
    assert parse_session_range(text) == SessionRange(lo, hi)


@pytest.mark.parametrize("text", ["", "..", "a", "7..3", "3...7", "1,2"])
def test_bad_session_ranges(text):
    with pytest.raises(ValueError):
        parse_session_range(text)


def test_range_membership():
    r = parse_session_range("2..4")
    assert [s for s in range(7) if s in r] == [2, 3, 4]
    assert None not in r and True not in r
