"""Tail a run that is still being written, like ``tail -f`` but line-aware.

A line the writer has only half written yet is held back until its newline arrives;
only when the run has stopped (its header no longer says ``running``) is a partial
last line reported as torn.

A run whose writer was killed never writes ``run_end`` and its run.json keeps saying
``running``; the reader's liveness check (`run_is_live`: the recorded pid is gone, or
the heartbeat from another host is old) tells, and following stops with the reason in
`FollowState.stopped`. So does a run.json that stays unreadable or missing while
events exist (the writer replaces run.json atomically and writes it before any event,
so that is damage, not a write in progress).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.record.reader import (
    STALE_S,
    MissingRunFileError,
    ReadReport,
    RunRecordError,
    events_path,
    read_header,
    run_is_live,
)
from sandbox.replay.reading import parse_checked

__all__ = ["IDLE", "FollowState", "Idle", "follow_events", "run_is_running", "why_stopped"]

# how many consecutive looks at an unreadable or missing run.json (with events already
# written) before following gives up on it
DAMAGED_POLLS = 8


class Idle:
    """Marker yielded when no new events arrived for one poll interval."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE = Idle()


@dataclass
class FollowState:
    """How following ended: `stopped` says why when the run stopped without ``run_end``."""

    stopped: str | None = None
    status: str | None = None


def run_is_running(run_dir: Path) -> bool:
    """Whether the run may still be written to (see `sandbox.record.reader.run_is_live`)."""
    return run_is_live(run_dir)


def why_stopped(run_dir: Path) -> tuple[str, str]:
    """(status, reason) for a run that is no longer being written, in words."""
    try:
        header = read_header(run_dir)
    except MissingRunFileError as exc:
        return "damaged", f"{exc.path} is missing, so the run cannot be followed"
    except RunRecordError as exc:
        return "damaged", f"{exc}; the run cannot be followed"
    except OSError as exc:
        return "damaged", f"{run_dir}: {exc.strerror or exc}"
    status = str(header.get("status", "?"))
    pid, host = header.get("pid"), header.get("host")
    if status == "dead":
        who = f"process {pid}" if isinstance(pid, int) else "its process"
        where = f" on {host}" if isinstance(host, str) else ""
        return status, f"run is dead: run.json says running but {who}{where} is gone"
    if status == "stale":
        beat = header.get("heartbeat")
        return status, (
            f"run is stale: no heartbeat for over {STALE_S:.0f} s (last {beat}), "
            "its writer is presumably gone"
        )
    return status, f"run stopped with status {status} before writing run_end"


class _Liveness:
    """Whether to keep waiting for more events, from run.json (`run_is_live`)."""

    def __init__(self, run_dir: Path, events: Path):
        self.run_dir = run_dir
        self.events = events
        self.bad_polls = 0

    def __call__(self) -> bool:
        if not run_is_live(self.run_dir):
            return False
        if not self.run_dir.is_dir():
            return True
        try:
            read_header(self.run_dir)
        except MissingRunFileError:
            if not self.events.exists():
                self.bad_polls = 0  # not started yet: run.json comes first
                return True
        except (RunRecordError, OSError):
            pass
        else:
            self.bad_polls = 0
            return True
        self.bad_polls += 1
        return self.bad_polls < DAMAGED_POLLS


def follow_events(
    run: Path | str,
    report: ReadReport | None = None,
    *,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    running: Callable[[], bool] | None = None,
    state: FollowState | None = None,
) -> Iterator[dict[str, Any] | Idle]:
    """Yield events as they are appended, and `IDLE` whenever the writer is quiet.

    Stops after a ``run_end`` event, or once the run is no longer running (finished,
    dead, stale or damaged) and every byte has been read; `state.stopped` then says why
    when there was no ``run_end``. Events with wrongly typed fields are skipped and noted
    in `report`. Memory is bounded by the longest single line.

    Args:
        run: a run folder or an events.jsonl path.
        report: where torn and corrupt lines are noted.
        poll: seconds between looks at a quiet file.
        sleep: the wait function (tests pass a fake).
        running: whether the writer may still append (default: run.json and the
            writer's liveness, see `run_is_running`).
        state: filled in with how following ended.
    """
    path = events_path(run)
    run_dir = path.parent
    still_running = running or _Liveness(run_dir, path)
    state = state if state is not None else FollowState()
    buf = b""
    lineno = 0
    fh = None
    ended = False
    try:
        while True:
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115 - closed in finally
                except FileNotFoundError:
                    if not still_running():
                        raise MissingRunFileError(
                            path, "missing (no events were recorded)"
                        ) from None
                    yield IDLE
                    sleep(poll)
                    continue
                except IsADirectoryError:
                    raise RunRecordError(path, "is a folder, not an events file") from None
                except OSError as exc:
                    raise RunRecordError(path, f"cannot read: {exc.strerror or exc}") from None
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
                obj = parse_checked(raw + b"\n", lineno, report)
                if obj is not None:
                    yield obj
                    if obj.get("kind") == "run_end":
                        ended = True
                        return
        if buf.strip():
            obj = parse_checked(buf, lineno + 1, report, final=True)
            if obj is not None:
                yield obj
                ended = obj.get("kind") == "run_end"
        if not ended and running is None:
            state.status, state.stopped = why_stopped(run_dir)
    finally:
        if fh is not None:
            fh.close()
