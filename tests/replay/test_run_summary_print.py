"""`sandbox run` ends with `render_run_summary`: the table of `show`, counts as key=value."""

from __future__ import annotations

import json
from pathlib import Path

from replay_builders import make_console, strip_lines

from sandbox.cli.main import print_summary
from sandbox.replay.summary_view import render_run_summary


def _with_counts(run: Path, **extra: object) -> None:
    summary = json.loads((run / "summary.json").read_text())
    summary.update(
        run_id="small", status="complete", users=2, sessions=2, turns=4, events=23, **extra
    )
    (run / "summary.json").write_text(json.dumps(summary))


def test_print_summary_is_the_fitted_run_summary(small_run: Path) -> None:
    _with_counts(small_run, wall_s=3.14159)
    console, buf = make_console(80)
    print_summary(small_run, console)
    out = strip_lines(buf.getvalue())
    console, buf = make_console(80)
    render_run_summary(small_run, console)
    assert out == strip_lines(buf.getvalue())
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "cross_user_leakage" in out and "surfaced=1" in out  # the monitors table
    facts = "status=complete  users=2  sessions/user=2  turns=4  events=23  wall=3.1s"
    assert facts in out
    assert f"sandbox findings {small_run}" in out or "sandbox findings FOLDER" in out


def test_run_summary_names_a_damaged_summary(small_run: Path) -> None:
    (small_run / "summary.json").write_text("[]")
    console, buf = make_console(200)
    render_run_summary(small_run, console)
    out = buf.getvalue()
    assert f"{small_run / 'summary.json'}: expected a JSON object" in out
    assert "run folder" in out


def test_interrupted_and_dead_have_their_own_styles(small_run: Path) -> None:
    from sandbox.replay.summary_view import _STATUS_STYLE

    for status in ("dead", "stale", "interrupted", "damaged"):
        _with_counts(small_run)
        summary = json.loads((small_run / "summary.json").read_text())
        summary["status"] = status
        (small_run / "summary.json").write_text(json.dumps(summary))
        console, buf = make_console(100, color=True)
        render_run_summary(small_run, console)
        style = console.get_style(_STATUS_STYLE[status])
        assert style.render(status, color_system=console.color_system) in buf.getvalue()
    assert len({_STATUS_STYLE[s] for s in ("dead", "stale", "interrupted", "complete")}) == 4


def test_a_run_without_monitors_says_so(small_run: Path) -> None:
    _with_counts(small_run)
    summary = json.loads((small_run / "summary.json").read_text())
    summary["monitors"] = {}
    (small_run / "summary.json").write_text(json.dumps(summary))
    console, buf = make_console(100)
    render_run_summary(small_run, console)
    assert "no monitor ran: nothing was checked for findings" in buf.getvalue()
    assert "status=complete" in buf.getvalue()
