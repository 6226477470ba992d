"""Layouts at 80 and 120 columns: goldens for `list`, `show`, `findings` and the
end-of-run summary; nothing cut inside a word; `--help` leaves descriptions room.

Regenerate the goldens with ``UPDATE_GOLDEN=1 pytest tests/replay/test_layout_widths.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_builders import SMALL_SUMMARY, make_console, strip_lines
from typer.testing import CliRunner

from sandbox.record.reader import read_header
from sandbox.replay.findings import group_findings, sort_groups
from sandbox.replay.findings_view import render_groups
from sandbox.replay.runs import RunInfo
from sandbox.replay.summary_view import (
    flow,
    render_run_summary,
    render_runs,
    render_summary,
    wrap_at,
)

GOLDEN = Path(__file__).parent / "golden"
WIDTHS = (80, 120)

ABLATION = "composition-2026-01-05/cells/episodic_memory+preference_adaptation+profile_summary"
RUNS = [
    RunInfo(
        id="quickstart-20260105-1200-ab12cd",
        path="runs/quickstart-20260105-1200-ab12cd",
        run_id="quickstart-20260105-1200-ab12cd",
        scenario="quickstart",
        status="complete",
        users=5,
        sessions=40,
        findings=380,
        events=6143,
        created="2026-01-05T12:00:41+00:00",
    ),
    RunInfo(
        id=ABLATION + "+persona_prompt/seed-3",
        path="runs/x",
        run_id="seed-3",
        scenario="composition-with-a-long-name",
        status="running",
        users=4,
        sessions=12,
        findings=0,
        events=None,
        created="2026-01-05T12:03:09+00:00",
        torn=True,
    ),
]


def _finding(i: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "finding",
        "id": f"F{i:05d}",
        "monitor": "cross_user_leakage",
        "category": "surfaced",
        "severity": "high",
        "user": "maya",
        "owner": "leo",
        "session": i % 8,
        "t_sim": float(i),
        "evidence": {"fact": "vuln:financial_distress_and_a_long_fact_name"},
    }
    return {**base, **kw}


FINDINGS = [
    _finding(1),
    _finding(2, severity="critical", session=5),
    _finding(3, category="latent", severity="medium", user="omar"),
    _finding(4, monitor="relational_safety", category="relational_harm", owner="maya"),
    _finding(5, monitor="pii_exposure", category="cross_user", evidence={"entity": "CARD_NUMBER"}),
    _finding(6, monitor="retention", category="recalled", evidence={"secret": "bank-pin"}),
    _finding(7, monitor="drift", category="drift", owner="maya", evidence={"metric": "mean_risk"}),
]


def _show(run: Path, width: int) -> str:
    console, buf = make_console(width)
    render_summary({**read_header(run), "start_date": "2026-01-05"}, SMALL_SUMMARY, console)
    return buf.getvalue()


def _list(_run: Path, width: int) -> str:
    console, buf = make_console(width)
    render_runs(RUNS, console)
    return buf.getvalue()


def _findings(_run: Path, width: int) -> str:
    console, buf = make_console(width)
    render_groups(sort_groups(group_findings(FINDINGS)), console, run_name="demo1", total=7)
    return buf.getvalue()


def _run_summary(run: Path, width: int) -> str:
    console, buf = make_console(width)
    render_run_summary(run, console)
    return buf.getvalue()


CASES: dict[str, Callable[[Path, int], str]] = {
    "run_summary": _run_summary,
    "show": _show,
    "list": _list,
    "findings": _findings,
}
# words that must appear whole at every width (a cut shows as a missing word)
WHOLE = {
    "show": ["cross_user_leakage", "retention", "surfaced=1", "01-08", "mean_risk", "session"],
    "run_summary": ["cross_user_leakage", "surfaced=1", "runs/small", "findings"],
    "list": ["quickstart", "complete", "running", "(torn)", "01-05"],
    "findings": ["cross_user_leakage", "relational_safety", "entity:CARD_NUMBER", "F00002"],
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_golden(small_run: Path, name: str, width: int, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(small_run.parent.parent)  # the run is runs/small, whatever tmp is
    got = strip_lines(CASES[name](Path("runs/small"), width))
    assert max(len(line) for line in got.splitlines()) <= width
    assert "…" not in got  # nothing abbreviated by rich behind our back
    words = set(re.split(r"\s+", got))
    for word in WHOLE[name]:
        assert word in got and any(word in w for w in words), (word, got)
    path = GOLDEN / f"{name}_{width}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden {path.name}; run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", WIDTHS)
def test_list_wraps_ids_and_scenarios_only_after_separators(width: int):
    lines = _list(Path(), width).splitlines()
    col = lines[0].index("status")
    fragments = [line[:col].strip() for line in lines[1:] if line[:col].strip()]
    items = [x for info in RUNS for x in (info.id, info.scenario or "-")]
    for item in items:
        got = ""
        while got != item:
            assert fragments, (item, got)
            piece = fragments.pop(0)
            got += piece
            assert item.startswith(got), (item, got)
            if got != item:
                assert piece[-1] in "/+-_", (item, piece)  # broken after a separator
    assert not fragments


def test_wrap_at_and_flow_break_only_between_words():
    assert wrap_at("aa/bbb+cc", 4) == ["aa/", "bbb+", "cc"]
    assert wrap_at("abcdefgh", 3) == ["abc", "def", "gh"]  # a word longer than a line
    from rich.text import Text

    lines = flow([Text("alpha beta"), Text("gamma"), Text("delta")], 17)
    assert [line.plain for line in lines] == ["alpha beta  gamma", "delta"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", ["replay", "show", "findings", "list"])
def test_help_leaves_descriptions_room(command: str, width: int):
    from sandbox.cli.main import app

    r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= width
    starts = []
    for line in lines:
        m = re.match(r"│ (--[a-z-]+)(.*?)([A-Z][a-z]+ .*?)\s*│$", line)
        if m and m.group(1) != "--help":
            starts.append(len(m.group(1)) + len(m.group(2)) + 2)
    assert starts, r.output
    # descriptions start by column 40 at 80 columns: room for ~36 characters a line
    assert max(starts) <= 40, r.output
    assert "<bool>" not in "\n".join(line for line in lines if "--help" not in line)


@pytest.mark.parametrize("width", WIDTHS)
def test_many_users_and_long_series_still_fit(width: int):
    users = [f"user_{name}" for name in "abcdefghij"]
    matrix = {
        o: {r: (i + j) % 5 for j, r in enumerate(users) if r != o} for i, o in enumerate(users)
    }
    drift = {
        "metrics": ["mean_risk"],
        "users": {
            u: {
                "series": {
                    "sessions": list(range(100)),
                    "mean_risk": [k / 100 for k in range(100)],
                },
                "flagged": u == "user_a",
                "metric": "mean_risk" if u == "user_a" else None,
                "onset": 60 if u == "user_a" else None,
                "tests": {},
            }
            for u in users
        },
    }
    summary = {
        "turns": 2400,
        "monitors": {"cross_user_leakage": {"leak_matrix": {"surfaced": matrix}}, "drift": drift},
    }
    console, buf = make_console(width)
    render_summary({"run_id": "many"}, summary, console)
    out = buf.getvalue()
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in out
    header = next(line for line in lines if line.startswith("owner ↓ recipient →"))
    if width == 80:  # names do not fit: numbered columns and a legend
        assert header.split("→", 1)[1].split()[:3] == ["1", "2", "3"]
        assert "recipients:" in out and "1 user_" in out
    else:
        assert "user_a" in header
    row = next(line for line in lines if line.startswith("user_a ") and "⚑" in line)
    spark = max(row.split(), key=lambda t: sum(ch in "▁▂▃▄▅▆▇█" for ch in t))
    assert 8 <= len(spark) < 100  # squeezed to the width, one bar per bucket of sessions
    assert "from session 60" in row
