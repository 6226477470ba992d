"""One writer per folder: a run holds its folder's lock, and two `sandbox suite run` on
one suite folder neither both do the work nor delete each other's live runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from resume_helpers import ROOT, count_lines, start_held, wait_for

from sandbox.record import read_header
from sandbox.record.events import RunStart
from sandbox.record.lock import FolderBusyError, FolderLock, remove_unlocked
from sandbox.record.writer import RunWriter


def _writer(root: Path) -> RunWriter:
    w = RunWriter(root / "r", {"run_id": "r", "scenario_name": "s"})
    w.emit(
        RunStart(
            run_id="r",
            scenario="s",
            seed=1,
            start_date="2026-01-05",
            agent={},
            personas={},
            cast=[],
        )
    )
    return w


def test_a_run_holds_its_folder_lock_until_it_closes(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    with pytest.raises(FolderBusyError) as ei:
        FolderLock(w.dir).acquire()
    assert f"pid {os.getpid()}" in str(ei.value)
    with pytest.raises(FolderBusyError):
        remove_unlocked(w.dir)  # a live run is never deleted
    assert (w.dir / "events.jsonl").is_file()
    w.checkpoint()
    header = json.loads((w.dir / "run.json").read_text())
    size = (w.dir / "events.jsonl").stat().st_size
    assert header["checkpoint"] == {"events": 1, "bytes": size}
    w.close("complete")
    with FolderLock(w.dir):
        pass
    remove_unlocked(w.dir)
    assert not w.dir.exists()
    remove_unlocked(w.dir)  # nothing there: nothing to do


def _suite(tmp_path: Path) -> Path:
    p = tmp_path / "suite.yaml"
    tiny = (ROOT / "tests" / "suite" / "data" / "tiny.yaml").resolve()
    p.write_text(
        f"name: two\nscenarios: [{tiny}]\nseeds: [3, 4]\nconfigs:\n  - name: shared\n"
        "gates:\n  - surfaced_leaks >= 0\n",
        encoding="utf-8",
    )
    return p


@pytest.mark.slow
def test_two_suite_runs_on_one_folder_do_not_both_work(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    out = tmp_path / "out"
    args = ["suite", "run", str(suite), "--out", str(out), "--suite-id", "s", "--workers", "1"]
    first = start_held(30, [*args, "-q"])
    cells = out / "s" / "cells"
    try:

        def holding() -> bool:
            return any(count_lines(p) >= 30 for p in cells.rglob("events.jsonl"))

        wait_for(holding, 600, "the first suite run to start its first run")
        (live,) = [p.parent for p in cells.rglob("events.jsonl")]
        size = (live / "events.jsonl").stat().st_size
        second = subprocess.run(
            [sys.executable, "-m", "sandbox", *args, "-q"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert second.returncode == 2, second.stderr
        assert f"is being written by pid {first.pid}" in " ".join(second.stderr.split())
        assert "Traceback" not in second.stderr
        # the live run of the first process is untouched, and nothing else was started
        assert (live / "events.jsonl").stat().st_size == size
        assert [p.parent for p in cells.rglob("events.jsonl")] == [live]
        assert not (out / "s" / "result.json").exists()
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
    assert read_header(live)["status"] == "dead"
    # the kernel dropped the dead process's locks: the next suite run redoes its partial run
    from sandbox.suite.runner import run_suite

    result = run_suite(suite, out, suite_id="s", workers=1, progress=False)
    assert result["runs"]["complete"] == 2 and result["runs"]["reused"] == 0
    assert read_header(live)["status"] == "complete"
    again = run_suite(suite, out, suite_id="s", workers=1, progress=False)
    assert again["runs"]["reused"] == 2
