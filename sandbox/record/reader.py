"""Streaming reader for run records: never loads a whole events file into memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ReadReport", "iter_events", "list_runs", "read_header", "read_summary"]


@dataclass
class ReadReport:
    """What the reader had to skip: a torn last line after a crash, or corrupt lines."""

    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    truncated_tail: bool = False


def iter_events(
    path: Path | str, report: ReadReport | None = None, start_offset: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield each event of an events.jsonl (or a run folder) as a dict, in order.

    A line that is not valid JSON is skipped and noted in `report`; if it is the last
    line and has no newline, it is a write torn by a crash and marked as such.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "events.jsonl"
    with open(p, "rb") as fh:
        if start_offset:
            fh.seek(start_offset)
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                obj = None
            if not isinstance(obj, dict):
                if report is not None:
                    if not raw.endswith(b"\n"):
                        report.truncated_tail = True
                    report.bad_lines.append((lineno, raw[:80].decode("utf-8", "replace")))
                continue
            yield obj


def read_header(run_dir: Path | str) -> dict[str, Any]:
    """The run.json header of a run folder."""
    with open(Path(run_dir) / "run.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
        return data


def read_summary(run_dir: Path | str) -> dict[str, Any] | None:
    """summary.json, or None while the run is unfinished (or crashed)."""
    p = Path(run_dir) / "summary.json"
    if not p.exists():
        return None
    with open(p, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
        return data


def list_runs(root: Path | str) -> list[Path]:
    """Run folders under `root` (recursively, for ablations), oldest first."""
    r = Path(root)
    if not r.is_dir():
        return []
    found = [p.parent for p in r.rglob("run.json")]
    return sorted(found, key=lambda p: (p / "run.json").stat().st_mtime)
