"""Append-only run record: header first, events as they happen, summary at the end.

Durability: every event line is flushed when written and fsynced at each session end
and at close, so a crash loses at most the current session's tail, never earlier data.
At each session end run.json also records that point as its ``checkpoint`` (events and
bytes of the log), from which ``sandbox run --resume`` continues.
`run.json` and `summary.json` are replaced atomically (write to a temp file, rename).
One process writes a run folder: the writer holds the folder's lock
(:class:`~sandbox.record.lock.FolderLock`) until it closes the record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from sandbox.record.events import SCHEMA_VERSION, Event
from sandbox.record.lock import FolderLock

__all__ = [
    "RUN_FORMAT",
    "RUN_ID_PATTERN",
    "InvalidRunIdError",
    "RunExistsError",
    "RunFolderError",
    "RunWriter",
    "check_run_id",
    "run_id_part",
    "running_header",
    "write_json_atomic",
]

RUN_FORMAT = "persona-sandbox-run/1"
# run.json's `heartbeat` is refreshed at least this often (seconds) while events flow,
# and at every session end; readers on another host call a run stale past STALE_S.
HEARTBEAT_S = 10.0

# A run id is one folder name: a letter or digit first (never a dash, which reads as an
# option, or a dot, which could be `..`), then letters, digits and ``. _ + = @ -``;
# no separators, spaces or control characters; at most 128 characters.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+=@-]{0,127}$"
_RUN_ID = re.compile(RUN_ID_PATTERN)
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._+=@-]+")


class RunExistsError(FileExistsError):
    """The run folder already exists; runs are never overwritten."""


class InvalidRunIdError(ValueError):
    """A run id that is not one safe folder name (see `RUN_ID_PATTERN`)."""


class RunFolderError(OSError):
    """The folder for runs cannot hold a new run (it is a file, or cannot be created)."""


def check_run_id(run_id: str) -> str:
    """Return `run_id` if it is a safe folder name.

    Raises:
        InvalidRunIdError: saying why not (the id is shown escaped).
    """
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidRunIdError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits and . _ + = @ -,"
            " starting with a letter or digit (no path separators, spaces or control"
            " characters)"
        )
    return run_id


def run_id_part(text: str, limit: int = 60) -> str:
    """`text` made fit to appear inside a run id (e.g. a scenario name)."""
    part = _NOT_IN_ID.sub("-", text).strip("-._+=@")[:limit].strip("-._+=@")
    return part or "run"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def process_start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), to tell it from a reused pid.

    None where /proc is not available or the process is gone.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


class RunWriter:
    """Owns one run folder; assigns event sequence numbers."""

    def __init__(self, run_dir: Path, header: dict[str, Any]):
        self.dir = Path(run_dir)
        check_run_id(self.dir.name)
        parent = self.dir.parent
        if parent.exists() and not parent.is_dir():
            raise RunFolderError(f"not a folder: {parent}")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"cannot create {parent}: {exc.strerror or exc}") from None
        try:
            self.dir.mkdir()
        except FileExistsError:
            raise RunExistsError(f"run folder already exists: {self.dir}") from None
        except OSError as exc:
            raise RunFolderError(f"cannot create {self.dir}: {exc.strerror or exc}") from None
        self._lock = FolderLock(self.dir)
        self._lock.acquire()  # a folder just made: no other process can hold it yet
        self.header = running_header(header)
        self._beat = time.monotonic()
        write_json_atomic(self.dir / "run.json", self.header)
        self._fh: TextIO | None = open(self.dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.seq = 0
        self.counts: dict[str, int] = {}

    def emit(self, event: Event) -> Event:
        """Assign the next sequence number and append the event."""
        if self._fh is None:
            raise RuntimeError("run record is closed")
        line = self._number(event)
        self._fh.write(line + "\n")
        self._fh.flush()
        if time.monotonic() - self._beat >= HEARTBEAT_S:
            self.heartbeat()
        return event

    def _number(self, event: Event) -> str:
        """Give `event` the next sequence number, count it, and return its log line."""
        event.seq = self.seq
        self.seq += 1
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        try:
            return event.model_dump_json(exclude_none=True)
        except (ValueError, UnicodeError):
            # untrusted text with lone surrogates: escape rather than lose the event
            return json.dumps(event.model_dump(mode="python", exclude_none=True), default=str)

    @property
    def checking(self) -> bool:
        """Whether emitted events are still compared with recorded ones (a resumed run)."""
        return False

    def checkpoint(self) -> None:
        """Sync and record in run.json that the log is whole up to here (each session end).

        ``checkpoint`` holds the number of events and the byte length of events.jsonl
        at this point; a resumed run keeps exactly that much of the log.
        """
        if self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        size = os.fstat(self._fh.fileno()).st_size
        self.header["checkpoint"] = {"events": self.seq, "bytes": size}
        self.heartbeat()

    def heartbeat(self) -> None:
        """Record in run.json that the writing process is alive (with the events so far)."""
        self._beat = time.monotonic()
        self.header.update(heartbeat=_now(), events=self.seq)
        write_json_atomic(self.dir / "run.json", self.header)

    def sync(self) -> None:
        """Force written events to disk (called at every session end)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            if time.monotonic() - self._beat >= HEARTBEAT_S / 2:
                self.heartbeat()

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write summary.json atomically."""
        write_json_atomic(self.dir / "summary.json", summary)

    def close(self, status: str, **extra: Any) -> None:
        """Sync, close the event log, and record the final status in run.json."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None
        self.header.update(
            status=status, events=self.seq, event_counts=self.counts, heartbeat=_now(), **extra
        )
        write_json_atomic(self.dir / "run.json", self.header)
        self._lock.release()

    def abandon(self) -> None:
        """Stop writing without recording an end: close the log and drop the lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._lock.release()


def running_header(header: dict[str, Any]) -> dict[str, Any]:
    """`header` as recorded while this process writes the run (status, pid, host, beat)."""
    return {
        "format": RUN_FORMAT,
        "event_schema": SCHEMA_VERSION,
        **header,
        "status": "running",
        "pid": os.getpid(),
        "pid_start": process_start_ticks(os.getpid()),
        "host": socket.gethostname(),
        "heartbeat": _now(),
    }
