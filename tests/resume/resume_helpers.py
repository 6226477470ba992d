"""Shared pieces of the resume tests: held subprocesses, waiting, comparable events."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.record import iter_events
from sandbox.record.events import WALL_CLOCK_FIELDS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY = ROOT / "tests" / "core" / "data" / "tiny.yaml"
HOLD = HERE / "hold_run.py"


def start_held(hold_at: int, args: list[str], *, torn: bool = False) -> subprocess.Popen[str]:
    """`sandbox <args>` in a subprocess that stops still once its log has `hold_at` events."""
    cmd = [sys.executable, str(HOLD), str(hold_at), "torn" if torn else "whole", "--", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count_lines(path: Path) -> int:
    """Whole lines in a file (0 when it is not there)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for(pred: Callable[[], bool], limit: float, what: str) -> None:
    """Poll `pred` until it holds; `limit` is a hang guard, not a timing assertion."""
    deadline = time.monotonic() + limit
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def comparable(run_dir: Path) -> list[dict[str, Any]]:
    """A run's events without wall-clock fields."""
    return [
        {k: v for k, v in e.items() if k not in WALL_CLOCK_FIELDS} for e in iter_events(run_dir)
    ]


def first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    """Where two event lists part, for assertion messages."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            return f"event {i} differs in {keys}: {x.get('kind')} vs {y.get('kind')}"
    return f"lengths {len(a)} vs {len(b)}"


def tree(folder: Path) -> dict[str, int]:
    """Relative file paths under `folder` and their sizes."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
