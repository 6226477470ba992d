"""Tail a run that is still being written, like ``tail -f`` but line-aware.

A line the writer has only half written yet is held back until its newline arrives;
only when the run has stopped (its header no longer says ``running``) is a partial
last line reported as torn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sandbox.record.reader import ReadReport, events_path, parse_line

__all__ = ["IDLE", "Idle", "follow_events", "run_is_running"]


class Idle:
    """Marker yielded when no new events arrived for one poll interval."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE = Idle()


def run_is_running(run_dir: Path) -> bool:
    """Whether run.json still says the run is being written."""
    try:
        with open(run_dir / "run.json", encoding="utf-8") as fh:
            header = json.load(fh)
    except (OSError, ValueError):
        return True  # being replaced atomically, or not there yet
    return isinstance(header, dict) and header.get("status", "running") == "running"


def follow_events(
    run: Path | str,
    report: ReadReport | None = None,
    *,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    running: Callable[[], bool] | None = None,
) -> Iterator[dict[str, Any] | Idle]:
    """Yield events as they are appended, and `IDLE` whenever the writer is quiet.

    Stops after a ``run_end`` event, or once the run is no longer running and every
    byte has been read. Memory is bounded by the longest single line.

    Args:
        run: a run folder or an events.jsonl path.
        report: where torn and corrupt lines are noted.
        poll: seconds between looks at a quiet file.
        sleep: the wait function (tests pass a fake).
        running: whether the writer may still append (default: reads run.json).
    """
    path = events_path(run)
    run_dir = path.parent
    still_running = running or (lambda: run_is_running(run_dir))
    buf = b""
    lineno = 0
    fh = None
    try:
        while True:
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115 - closed in finally
                except FileNotFoundError:
                    if not still_running():
                        return
                    yield IDLE
                    sleep(poll)
                    continue
            chunk = fh.read(1 << 16)
            if not chunk:
                if still_running():
                    yield IDLE
                    sleep(poll)
                    continue
                chunk = fh.read()  # the writer's last words, written as it stopped
                if not chunk:
                    break
            if b"\n" not in chunk:
                buf += chunk  # the middle of a long line
                continue
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                lineno += 1
                obj = parse_line(raw + b"\n", lineno, report)
                if obj is not None:
                    yield obj
                    if obj.get("kind") == "run_end":
                        return
        if buf.strip():
            obj = parse_line(buf, lineno + 1, report, final=True)
            if obj is not None:
                yield obj
    finally:
        if fh is not None:
            fh.close()
