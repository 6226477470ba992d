"""`sandbox run` killed with SIGKILL at several points, then `--resume`d: the finished
log equals that of a run never interrupted (apart from wall-clock fields)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from resume_helpers import TINY, comparable, count_lines, first_difference, start_held, wait_for
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.record import read_header, read_summary
from sandbox.runner import run_scenario
from sandbox.spec import load_bundle

pytestmark = pytest.mark.slow

# (events in the log when the process is killed, whether a line is half-written)
KILL_POINTS = {
    "before-any-session-end": (1, False),
    "after-first-session": (23, False),
    "mid-run-torn-line": (60, True),
    "near-the-end": (127, False),
}
LIVE_POINT = "mid-run-torn-line"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The events of the same run, never interrupted."""
    out = tmp_path_factory.mktemp("reference")
    return comparable(run_scenario(load_bundle(TINY), out, "r"))


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One `sandbox run` per kill point, SIGKILLed once its log has N events.

    While the LIVE_POINT process is still alive, `--resume` is tried on it and refused.
    """
    root = tmp_path_factory.mktemp("killed")
    procs: dict[str, subprocess.Popen[str]] = {}
    info: dict[str, Any] = {}
    try:
        for name, (n, torn) in KILL_POINTS.items():
            args = ["run", str(TINY), "--run-id", "r", "--out", str(root / name), "-q"]
            procs[name] = start_held(n, args, torn=torn)
        for name, (n, _) in KILL_POINTS.items():
            log = root / name / "r" / "events.jsonl"

            def holding(log: Path = log, n: int = n) -> bool:
                return count_lines(log) >= n

            wait_for(holding, 600, f"{name} to hold")
        run = root / LIVE_POINT / "r"
        before = (run / "events.jsonl").read_bytes(), (run / "run.json").read_bytes()
        r = CliRunner().invoke(app, ["run", "--resume", "r", "--out", str(run.parent), "-q"])
        after = (run / "events.jsonl").read_bytes(), (run / "run.json").read_bytes()
        info["live"] = {"pid": procs[LIVE_POINT].pid, "result": r, "unchanged": before == after}
        for p in procs.values():
            os.kill(p.pid, signal.SIGKILL)
            p.communicate(timeout=60)
        for name in KILL_POINTS:
            run = root / name / "r"
            info[name] = {
                "run": run,
                "status": read_header(run)["status"],
                "checkpoint": json.loads((run / "run.json").read_text()).get("checkpoint"),
                "lines": count_lines(run / "events.jsonl"),
            }
        yield info
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()


def test_resume_of_a_live_run_is_refused_and_changes_nothing(killed: dict[str, Any]) -> None:
    live = killed["live"]
    r = live["result"]
    assert r.exit_code == 2, r.output
    assert f"still being written by pid {live['pid']}" in r.output
    assert "Traceback" not in r.output
    assert live["unchanged"]


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_resumes_to_the_uninterrupted_events(
    killed: dict[str, Any], reference: list[dict[str, Any]], point: str
) -> None:
    k = killed[point]
    run: Path = k["run"]
    n, torn = KILL_POINTS[point]
    assert k["status"] == "dead"
    assert k["lines"] == n  # the kill came with exactly N whole lines on disk
    cp = k["checkpoint"]
    if point == "before-any-session-end":
        assert cp is None
    else:
        assert cp is not None and 0 < cp["events"] <= n
    if torn:
        assert not (run / "events.jsonl").read_bytes().endswith(b"\n")

    r = CliRunner().invoke(app, ["run", "--resume", "r", "--out", str(run.parent), "-q"])
    assert r.exit_code == 0, r.output
    events = comparable(run)
    assert events == reference, first_difference(events, reference)
    header = read_header(run)
    assert header["status"] == "complete"
    assert header["resumed"] == [
        {
            "at": header["resumed"][0]["at"],
            "from_status": "dead",
            "kept_events": cp["events"] if cp else 0,
        }
    ]
    assert header["events"] == len(reference)
    summary = read_summary(run)
    assert summary is not None and summary["status"] == "complete" and summary["turns"] == 24
    assert not (run / "memory.before-resume").exists()
    again = CliRunner().invoke(app, ["run", "--resume", str(run), "-q"])
    assert again.exit_code == 0 and "nothing to do" in again.output, again.output
