"""How the viewers read events.jsonl: checked events, damage reported, never a crash.

A thin layer over `sandbox.record.reader`: events are read with ``checked=True`` (a line
whose fields have the wrong JSON type is skipped and noted, so views may index fields
without guarding each), a line nested too deeply for the JSON parser is skipped like
any corrupt line, and a missing or unreadable file is a `RunRecordError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sandbox.record.reader import (
    MissingRunFileError,
    ReadReport,
    RunRecordError,
    check_event,
    events_path,
    parse_line,
)

__all__ = ["event_ok", "open_events", "parse_checked", "read_events", "scan_lines"]

Event = dict[str, Any]


def open_events(path: Path | str) -> IO[bytes]:
    """events.jsonl of a run folder (or the file itself), opened for reading bytes.

    Raises:
        RunRecordError: naming the file when it is missing (`MissingRunFileError`, also
            a FileNotFoundError), a folder, or unreadable.
    """
    ep = events_path(path)
    try:
        return open(ep, "rb")  # the caller closes it
    except FileNotFoundError:
        raise MissingRunFileError(ep, "missing (no events were recorded)") from None
    except IsADirectoryError:
        raise RunRecordError(ep, "is a folder, not an events file") from None
    except OSError as exc:
        raise RunRecordError(ep, f"cannot read: {exc.strerror or exc}") from None


def parse_checked(
    raw: bytes,
    lineno: int,
    report: ReadReport | None = None,
    *,
    final: bool = True,
    checked: bool = True,
) -> Event | None:
    """`parse_line` that also survives a line nested too deeply to parse."""
    try:
        return parse_line(raw, lineno, report, final=final, checked=checked)
    except RecursionError:
        if report is not None:
            report.bad_lines.append((lineno, raw[:80].decode("utf-8", "replace")))
        return None


def read_events(
    path: Path | str, report: ReadReport | None = None, *, checked: bool = True
) -> Iterator[Event]:
    """Each usable event of a run, in order; skipped lines are noted in `report`.

    Raises:
        RunRecordError: naming events.jsonl when it is missing, a folder or unreadable.
    """
    with open_events(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            obj = parse_checked(raw, lineno, report, checked=checked)
            if obj is not None:
                yield obj


def scan_lines(path: Path | str, *, missing_ok: bool = False) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of events.jsonl, for scanners that parse only some lines.

    With `missing_ok`, a missing file yields nothing; other damage still raises.

    Raises:
        RunRecordError: naming events.jsonl when it cannot be read.
    """
    try:
        fh = open_events(path)
    except MissingRunFileError:
        if missing_ok:
            return
        raise
    with fh:
        yield from enumerate(fh, start=1)


def event_ok(
    raw: bytes, lineno: int, kind: str, report: ReadReport | None = None, *, checked: bool = True
) -> Event | None:
    """The event on a raw line if it is an event of `kind` (and well-formed), else None.

    With `checked`, a line of that kind with missing or wrongly typed fields is noted in
    `report` as skipped.
    """
    obj = parse_checked(raw, lineno, None, checked=False)
    if obj is None or obj.get("kind") != kind:
        return None
    if checked and check_event(obj) is not None:
        if report is not None:
            report.bad_lines.append((lineno, raw[:80].decode("utf-8", "replace")))
        return None
    return obj
