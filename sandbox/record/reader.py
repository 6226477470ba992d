"""Streaming reader for run records: never loads a whole events file into memory."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.record.checks import check_event

__all__ = [
    "STALE_S",
    "ReadReport",
    "RunRecordError",
    "check_event",
    "events_path",
    "iter_events",
    "list_runs",
    "parse_line",
    "read_header",
    "read_header_and_summary",
    "read_summary",
    "run_is_live",
    "run_liveness",
]

# A run whose writer is on another host (so its pid cannot be checked) and whose
# heartbeat is older than this many seconds is reported `stale`.
STALE_S = 600.0


class RunRecordError(ValueError):
    """A run file is missing, unreadable, not JSON, or not the shape it should be.

    A ValueError, so viewers that already catch ``(OSError, ValueError)`` degrade; the
    message names the file.
    """

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class MissingRunFileError(RunRecordError, FileNotFoundError):
    """A run file that is not there (also a FileNotFoundError, for older callers)."""

    def __init__(self, path: Path | str, problem: str = "missing"):
        RunRecordError.__init__(self, path, problem)


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
    raw: bytes,
    lineno: int,
    report: ReadReport | None = None,
    *,
    final: bool = True,
    checked: bool = False,
) -> dict[str, Any] | None:
    """Parse one raw line of events.jsonl; None (noted in `report`) when it is unusable.

    Args:
        raw: the line's bytes, with its newline if it had one.
        lineno: 1-based line number, for the report.
        report: where skipped and repaired lines are noted.
        final: whether a line without a newline is known to be the file's last word
            (a torn write); a follower still waiting for the rest passes False.
        checked: also refuse (as a bad line) an event whose known fields have the wrong
            JSON type or whose required fields are missing (see `check_event`), so a
            caller may index fields without guarding each one.
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
        except (json.JSONDecodeError, RecursionError):
            obj = None
    except (json.JSONDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        obj = None
    if isinstance(obj, dict) and (not checked or check_event(obj) is None):
        return obj
    if report is not None:
        if final and not raw.endswith(b"\n") and not isinstance(obj, dict):
            report.truncated_tail = True
        report.bad_lines.append((lineno, raw[:80].decode("utf-8", "replace")))
    return None


def iter_events(
    path: Path | str,
    report: ReadReport | None = None,
    start_offset: int = 0,
    *,
    checked: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield each event of an events.jsonl (or a run folder) as a dict, in order.

    A line that is not valid JSON is skipped and noted in `report`; if it is the last
    line and has no newline, it is a write torn by a crash and marked as such. With
    `checked`, events of a known kind with missing or wrongly typed fields are skipped
    and noted too.

    Raises:
        RunRecordError: naming the events file when it is missing (`MissingRunFileError`,
            also a FileNotFoundError) or unreadable.
    """
    ep = events_path(path)
    try:
        fh = open(ep, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise MissingRunFileError(ep, "missing (no events were recorded)") from None
    except IsADirectoryError:
        raise RunRecordError(ep, "is a folder, not an events file") from None
    except OSError as exc:
        raise RunRecordError(ep, f"cannot read: {exc.strerror or exc}") from None
    with fh:
        if start_offset:
            fh.seek(start_offset)
        for lineno, raw in enumerate(fh, start=1):
            obj = parse_line(raw, lineno, report, checked=checked)
            if obj is not None:
                yield obj


def _read_json_object(p: Path) -> dict[str, Any]:
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MissingRunFileError(p) from None
    except IsADirectoryError:
        raise RunRecordError(p, "is a folder, not a file") from None
    except OSError as exc:
        raise RunRecordError(p, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise RunRecordError(p, f"not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise RunRecordError(p, f"expected a JSON object, found {type(data).__name__}")
    return data


# header fields and the JSON types viewers may rely on; anything else is passed through
_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "status": (str,),
    "scenario_name": (str,),
    "agent_name": (str,),
    "created": (str,),
    "seed": (int,),
    "users": (int, list),
    "sessions_per_user": (int,),
    "events": (int,),
    "event_counts": (dict,),
    "spec": (dict,),
    "versions": (dict,),
    "pid": (int,),
    "host": (str,),
    "heartbeat": (str,),
    "wall_s": (int, float),
}
_SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "status": (str,),
    "scenario": (str,),
    "agent": (str,),
    "users": (int,),
    "sessions": (int,),
    "turns": (int,),
    "errors": (int,),
    "events": (int,),
    "wall_s": (int, float),
    "monitors": (dict,),
}


def _check_types(p: Path, data: dict[str, Any], types_: dict[str, tuple[type, ...]]) -> None:
    for key, allowed in types_.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise RunRecordError(
                p,
                f"field {key!r} should be {'/'.join(t.__name__ for t in allowed)},"
                f" not {type(value).__name__}",
            )


def read_header(run_dir: Path | str) -> dict[str, Any]:
    """The run.json header of a run folder, with the run's effective status.

    A header that says ``running`` while its writing process is gone says ``dead``
    instead (``stale`` when only an old heartbeat from another host tells), and keeps
    the recorded value under ``recorded_status``.

    Raises:
        RunRecordError: naming run.json when it is missing (`MissingRunFileError`, also a
            FileNotFoundError), unreadable, not JSON, not an object, or wrongly typed.
    """
    p = Path(run_dir) / "run.json"
    data = _read_json_object(p)
    _check_types(p, data, _HEADER_TYPES)
    status = run_liveness(data)
    if status != data.get("status", "running"):
        data = {**data, "recorded_status": data.get("status"), "status": status}
    return data


def read_summary(run_dir: Path | str) -> dict[str, Any] | None:
    """summary.json, or None while the run is unfinished (or crashed).

    Raises:
        RunRecordError: naming summary.json when it is unreadable, not JSON, not an
            object, or wrongly typed.
    """
    p = Path(run_dir) / "summary.json"
    if not p.exists():
        return None
    data = _read_json_object(p)
    _check_types(p, data, _SUMMARY_TYPES)
    monitors = data.get("monitors")
    if isinstance(monitors, dict):
        for name, m in monitors.items():
            if not isinstance(m, dict):
                raise RunRecordError(p, f"monitors.{name} should be an object")
    return data


def read_header_and_summary(
    run_dir: Path, problems: list[str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """run.json and summary.json for a viewer that shows damage rather than failing.

    A damaged run.json gives a stand-in header (status ``damaged``), a damaged
    summary.json gives None; each problem is appended to `problems`, naming its file.
    """
    try:
        header = read_header(run_dir)
    except (OSError, ValueError) as exc:
        header = {"run_id": run_dir.name, "status": "damaged"}
        problems.append(str(exc))
    try:
        summary = read_summary(run_dir)
    except (OSError, ValueError) as exc:
        summary = None
        problems.append(str(exc))
    return header, summary


def _pid_alive(pid: int, start_ticks: Any) -> bool:
    from sandbox.record.writer import process_start_ticks

    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    if isinstance(start_ticks, int):
        now = process_start_ticks(pid)
        if now is not None and now != start_ticks:
            return False  # the pid was reused by another process
    return True


def run_liveness(header: dict[str, Any], *, now: dt.datetime | None = None) -> str:
    """The effective status of a run from its header.

    The recorded status, except for a run recorded as ``running``: ``dead`` when it was
    written on this host and its process is gone, ``stale`` when it was written
    elsewhere (or records no pid) and its heartbeat is older than `STALE_S`.
    """
    status = header.get("status", "running")
    if status != "running":
        return str(status)
    pid, host = header.get("pid"), header.get("host")
    if isinstance(pid, int) and not isinstance(pid, bool) and host == socket.gethostname():
        return "running" if _pid_alive(pid, header.get("pid_start")) else "dead"
    beat = header.get("heartbeat")
    if isinstance(beat, str):
        try:
            when = dt.datetime.fromisoformat(beat)
        except ValueError:
            return "running"
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        age = ((now or dt.datetime.now(dt.UTC)) - when).total_seconds()
        if age > STALE_S:
            return "stale"
    return "running"


def run_is_live(run_dir: Path | str) -> bool:
    """Whether a run may still be written to: recorded as running and not dead or stale.

    For followers: an unreadable run.json (being replaced, or not there yet) counts as
    live; a missing run folder does not.
    """
    d = Path(run_dir)
    if not d.is_dir():
        return False
    try:
        return read_header(d).get("status") == "running"
    except MissingRunFileError:
        return True
    except RunRecordError:
        return True


def list_runs(root: Path | str) -> list[Path]:
    """Run folders under `root` (recursively, for ablations), oldest first.

    A folder counts when it holds run.json or events.jsonl, so a run whose run.json is
    missing is listed (as damaged) rather than hidden.
    """
    r = Path(root)
    if not r.is_dir():
        return []
    # a folder with events but no readable run.json is still a (damaged) run
    found = {p.parent for name in ("run.json", "events.jsonl") for p in r.rglob(name)}
    found = {p for p in found if (p / "run.json").is_file() or (p / "events.jsonl").is_file()}

    def mtime(p: Path) -> float:
        for name in ("run.json", "events.jsonl"):
            try:
                return (p / name).stat().st_mtime
            except OSError:
                continue
        return 0.0

    return sorted(found, key=lambda p: (mtime(p), str(p)))
