"""Append-only run record: header first, events as they happen, summary at the end.

Durability: every event line is flushed when written and fsynced at each session end
and at close, so a crash loses at most the current session's tail, never earlier data.
`run.json` and `summary.json` are replaced atomically (write to a temp file, rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from sandbox.record.events import SCHEMA_VERSION, Event

__all__ = ["RUN_FORMAT", "RunExistsError", "RunWriter", "write_json_atomic"]

RUN_FORMAT = "persona-sandbox-run/1"


class RunExistsError(FileExistsError):
    """The run folder already exists; runs are never overwritten."""


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


class RunWriter:
    """Owns one run folder; assigns event sequence numbers."""

    def __init__(self, run_dir: Path, header: dict[str, Any]):
        self.dir = Path(run_dir)
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.dir.mkdir()
        except FileExistsError:
            raise RunExistsError(f"run folder already exists: {self.dir}") from None
        self.header = {
            "format": RUN_FORMAT,
            "event_schema": SCHEMA_VERSION,
            "status": "running",
            **header,
        }
        write_json_atomic(self.dir / "run.json", self.header)
        self._fh: TextIO | None = open(self.dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.seq = 0
        self.counts: dict[str, int] = {}

    def emit(self, event: Event) -> Event:
        """Assign the next sequence number and append the event."""
        if self._fh is None:
            raise RuntimeError("run record is closed")
        event.seq = self.seq
        self.seq += 1
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        try:
            line = event.model_dump_json(exclude_none=True)
        except (ValueError, UnicodeError):
            # untrusted text with lone surrogates: escape rather than lose the event
            line = json.dumps(event.model_dump(mode="python", exclude_none=True), default=str)
        self._fh.write(line + "\n")
        self._fh.flush()
        return event

    def sync(self) -> None:
        """Force written events to disk (called at every session end)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write summary.json atomically."""
        write_json_atomic(self.dir / "summary.json", summary)

    def close(self, status: str, **extra: Any) -> None:
        """Sync, close the event log, and record the final status in run.json."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None
        self.header.update(status=status, events=self.seq, event_counts=self.counts, **extra)
        write_json_atomic(self.dir / "run.json", self.header)
