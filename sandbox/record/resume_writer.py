"""The writer of a resumed run: checks re-executed events against the log, then appends.

`sandbox.resume` drives it: events numbered below the checkpoint must equal the recorded
ones (apart from what differs between a turn and its re-execution, see `_comparable`);
the first that differs raises `ResumeMismatch`, naming it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.record.events import WALL_CLOCK_FIELDS, Event
from sandbox.record.lock import FolderLock
from sandbox.record.writer import HEARTBEAT_S, RunWriter, running_header, write_json_atomic

__all__ = ["ResumeMismatch", "ResumeWriter", "describe_mismatch"]


class ResumeMismatch(BaseException):
    """A re-executed event differs from the recorded one; the folder is left as it was.

    A BaseException, so that agent or monitor code catching Exception cannot hide it.
    One plain argument, the message: SimPy re-creates exceptions as ``type(e)(*e.args)``.
    """


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_mismatch(seq: int, recorded: dict[str, Any], now: dict[str, Any]) -> str:
    """Which event differs and how (its first differing fields)."""
    where = ", ".join(
        f"{k} {recorded[k]}" for k in ("user", "session", "turn") if recorded.get(k) is not None
    )
    a, b = _comparable(recorded), _comparable(now)
    fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    parts = [f"{k}: recorded {_show(a.get(k))}, now {_show(b.get(k))}" for k in fields[:3]]
    return (
        f"event {seq} ({recorded.get('kind', '?')}{', ' + where if where else ''}) differs from"
        f" the recorded one ({'; '.join(parts)}). The run does not re-execute the same way"
        " (a non-deterministic backend or judge?): it cannot be resumed; start a new run"
    )


def _comparable(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what differs between a turn and its re-execution.

    That is wall-clock fields, and a reply's latency, queueing and cache hit or miss
    (`USAGE_CIRCUMSTANCES`): with the openai backend's response cache a paid run
    re-executes from the cache and resumes like a deterministic one.
    """
    from sandbox.agent.backends.openai_cost import USAGE_CIRCUMSTANCES

    out = {k: v for k, v in event.items() if k not in WALL_CLOCK_FIELDS}
    usage = out.get("usage")
    if isinstance(usage, dict):
        out["usage"] = {k: v for k, v in usage.items() if k not in USAGE_CIRCUMSTANCES}
    return out


class ResumeWriter(RunWriter):
    """A writer over an existing run folder that first checks, then appends.

    Events numbered below ``len(kept)`` must equal the kept ones (apart from wall-clock
    fields), else :class:`ResumeMismatch`. The first event past them cuts events.jsonl
    after the kept ones and opens it for appending. Until then the folder changes only
    by heartbeats; :meth:`abandon` puts run.json back as it was.
    """

    def __init__(
        self,
        run_dir: Path,
        original: dict[str, Any],
        header: dict[str, Any],
        lock: FolderLock,
        kept: list[dict[str, Any]],
        ends: list[int],
        on_append: Callable[[], None] | None = None,
    ):
        self.dir = Path(run_dir)
        self._lock = lock
        self._original = original  # run.json as found, put back if nothing is appended
        self.header = running_header(header)
        self._beat = time.monotonic()
        self._fh = None
        self.seq = 0
        self.counts = {}
        self._kept = kept
        self._ends = ends
        self._checking = True
        self._on_append = on_append
        write_json_atomic(self.dir / "run.json", self.header)

    @property
    def checking(self) -> bool:
        """Whether recorded events remain to be re-checked (nothing was appended yet)."""
        return self._checking and self.seq < len(self._kept)

    def emit(self, event: Event) -> Event:
        """Check `event` against the recorded one while there is one; then append it."""
        if self.checking:
            recorded = self._kept[self.seq]
            line = self._number(event)
            now = json.loads(line)
            if _comparable(now) != _comparable(recorded):
                raise ResumeMismatch(describe_mismatch(self.seq - 1, recorded, now))
            if time.monotonic() - self._beat >= HEARTBEAT_S:
                self.heartbeat()
            return event
        self.settle()
        return super().emit(event)

    def settle(self) -> None:
        """Past the recorded events: cut the log after them and append from there."""
        if not self._checking:
            return
        self._checking = False
        size = self._ends[self.seq - 1] if self.seq else 0
        path = self.dir / "events.jsonl"
        with open(path, "r+b") as fh:
            fh.truncate(size)
            fh.flush()
            os.fsync(fh.fileno())
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115
        if self._on_append is not None:
            self._on_append()

    def checkpoint(self) -> None:
        """While checking, the recorded checkpoint still holds; afterwards, as usual."""
        if not self._checking:
            super().checkpoint()

    def abandon(self) -> None:
        """Put run.json back as it was (when nothing was appended) and drop the lock."""
        if self._checking:
            write_json_atomic(self.dir / "run.json", self._original)
        super().abandon()
