"""Golden outputs for the small run: any change to the look must be looked at and accepted.

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/replay/test_replay_golden.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_builders import SMALL_SUMMARY, make_console, render, strip_lines
from rich.console import Console

from sandbox.record.reader import iter_events, read_header
from sandbox.replay.explain import explain_finding
from sandbox.replay.explain_view import render_explanation
from sandbox.replay.filters import ReplayFilter, parse_session_range
from sandbox.replay.memory_view import memory_states, render_memory_states
from sandbox.replay.style import SimClock
from sandbox.replay.summary_view import render_summary

GOLDEN = Path(__file__).parent / "golden"


def _to_text(draw: Callable[[Console], object]) -> str:
    console, buf = make_console(100)
    draw(console)
    return buf.getvalue()


CASES: dict[str, Callable[[Path], str]] = {
    "replay_full.txt": lambda run: render(run)[0],
    "replay_findings_only.txt": lambda run: render(run, flt=ReplayFilter(findings_only=True))[0],
    "replay_memory_maya_s1.txt": lambda run: _to_text(
        lambda c: render_memory_states(
            memory_states(iter_events(run), {"maya"}, parse_session_range("1")),
            c,
            SimClock("2026-01-05"),
        )
    ),
    "explain_F00001.txt": lambda run: _to_text(
        lambda c: render_explanation(explain_finding(run, "F00001"), c)  # type: ignore[arg-type]
    ),
    "show.txt": lambda run: _to_text(
        lambda c: render_summary({**read_header(run), "start_date": "2026-01-05"}, SMALL_SUMMARY, c)
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(small_run: Path, name: str):
    got = strip_lines(CASES[name](small_run))
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden {name}; run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
