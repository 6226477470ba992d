"""Streaming reader for run records: never loads a whole events file into memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ReadReport",
    "events_path",
    "iter_events",
    "list_runs",
    "parse_line",
    "read_header",
    "read_summary",
]


@dataclass
class ReadReport:
    """What the reader had to skip or repair: a torn last line after a crash, corrupt lines.

    `repaired_lines` are lines whose bytes were not valid UTF-8; they were decoded with
    replacement characters rather than dropped, so a reply with broken bytes still shows.
    """

    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    truncated_tail: bool = False
    repaired_lines: list[int] = field(default_factory=list)


def events_path(path: Path | str) -> Path:
    """The events file of a run folder, or `path` itself when it names a ``.jsonl`` file."""
    p = Path(path)
    return p / "events.jsonl" if p.is_dir() or (p.suffix != ".jsonl" and not p.exists()) else p


def parse_line(
    raw: bytes, lineno: int, report: ReadReport | None = None, *, final: bool = True
) -> dict[str, Any] | None:
    """Parse one raw line of events.jsonl; None (noted in `report`) when it is unusable.

    Args:
        raw: the line's bytes, with its newline if it had one.
        lineno: 1-based line number, for the report.
        report: where skipped and repaired lines are noted.
        final: whether a line without a newline is known to be the file's last word
            (a torn write); a follower still waiting for the rest passes False.
    """
    if not raw.strip():
        return None
    obj: Any
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError:
        try:
            obj = json.loads(raw.decode("utf-8", "replace"))
            if report is not None:
                report.repaired_lines.append(lineno)
        except json.JSONDecodeError:
            obj = None
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        return obj
    if report is not None:
        if final and not raw.endswith(b"\n"):
            report.truncated_tail = True
        report.bad_lines.append((lineno, raw[:80].decode("utf-8", "replace")))
    return None


def iter_events(
    path: Path | str, report: ReadReport | None = None, start_offset: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield each event of an events.jsonl (or a run folder) as a dict, in order.

    A line that is not valid JSON is skipped and noted in `report`; if it is the last
    line and has no newline, it is a write torn by a crash and marked as such.
    """
    with open(events_path(path), "rb") as fh:
        if start_offset:
            fh.seek(start_offset)
        for lineno, raw in enumerate(fh, start=1):
            obj = parse_line(raw, lineno, report)
            if obj is not None:
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
    found = [p.parent for p in r.rglob("run.json") if p.is_file()]
    return sorted(found, key=lambda p: ((p / "run.json").stat().st_mtime, str(p)))
