"""Resume a killed or interrupted run: the Python API behind ``sandbox run --resume``.

How: deterministic re-execution. The run is simulated again from its start, with its
recorded seed and the same spec files, into a fresh memory store; every event it
produces up to the run's checkpoint is compared with the recorded one, and from the
checkpoint on the events are appended to the log. A run's events are a function of its
specs and seed (every random draw comes from generators seeded by them, and simulated
time never reads the clock), so the resumed run's log equals that of a run that was
never interrupted, apart from wall-clock fields (:data:`WALL_CLOCK_FIELDS`).

Why not restore saved state instead: a run's state lives in many places, some of which
cannot be saved at all (the SimPy processes are suspended generators, whole-agent
backends keep stores of their own, monitors hold their histories, a backend may keep a
cache); re-execution rebuilds all of it exactly, and checks that it did.

The checkpoint ("last complete session"): at every session end the writer fsyncs the log
and records in run.json's ``checkpoint`` how many events (and bytes) it holds, that
session_end event and the monitor events derived from it included. The last checkpoint
is the last session end made durable before the run stopped. Sessions of other users
that were open at that moment (users interleave on the simulated clock) are kept as far
as they got; they are regenerated and checked like every other event. Events after the
checkpoint (an unfinished session, a torn last line, the run_end of an interrupted run)
are dropped and written again. A run without a checkpoint restarts from its first event.
Until the re-executed run passes the checkpoint nothing in the folder changes but the
heartbeat in run.json: if it stops before (a differing event, an error, an interrupt),
run.json and the memory store are put back as they were, and a later resume starts over.

Non-deterministic backends (e.g. ``openai``, or any backend or judge that samples
without a fixed seed): the re-executed events differ from the recorded ones, and resume
stops at the first differing event, naming it, and leaves the folder as it was (exit 2);
start a new run instead. Re-execution calls the backend again for every turn before the
checkpoint, so a paid model is paid again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.record.lock import FolderLock
from sandbox.record.reader import run_liveness
from sandbox.record.resume_writer import (  # noqa: F401  (re-exported)
    ResumeMismatch,
    ResumeWriter,
    _comparable,
    describe_mismatch,
)
from sandbox.spec import Bundle, SpecError, component_issues, load_bundle

__all__ = [
    "NothingToResume",
    "ResumeError",
    "ResumeMismatch",
    "ResumeWriter",
    "resume_run",
    "spec_changes",
]

SAVED_MEMORY = "memory.before-resume"


class ResumeError(ValueError):
    """The run cannot be resumed; the message says why. Nothing was changed."""


class NothingToResume(ResumeError):
    """The run is already complete."""


def spec_changes(recorded: dict[str, Any], bundle: Bundle) -> list[str]:
    """How the specs now differ from those recorded in run.json's ``spec`` (empty: same)."""
    now = bundle.snapshot()
    out = []
    if recorded.get("scenario_hash") != now["scenario_hash"]:
        out.append(
            f"scenario {bundle.scenario_path} changed (recorded {recorded.get('scenario_hash')},"
            f" now {now['scenario_hash']})"
        )
    if recorded.get("agent_hash") != now["agent_hash"]:
        out.append(
            f"agent config {bundle.agent_path} changed (recorded {recorded.get('agent_hash')},"
            f" now {now['agent_hash']})"
        )
    was = recorded.get("persona_hashes") or {}
    for pid, h in sorted(now["persona_hashes"].items()):
        if pid not in was:
            out.append(f"persona {pid} ({bundle.persona_paths[pid]}) was not in the run")
        elif was[pid] != h:
            out.append(
                f"persona {pid} ({bundle.persona_paths[pid]}) changed (recorded {was[pid]},"
                f" now {h})"
            )
    out.extend(
        f"persona {pid} is no longer in the cast"
        for pid in sorted(set(was) - set(now["persona_hashes"]))
    )
    if not out and recorded.get("cast") != now["cast"]:
        out.append("the cast changed")
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResumeError(f"{path} is missing: not a run folder") from None
    except (OSError, ValueError) as exc:
        raise ResumeError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ResumeError(f"cannot read {path}: not a JSON object")
    return data


def _check_status(run_dir: Path, header: dict[str, Any]) -> str:
    status = run_liveness(header)
    if status == "complete":
        raise NothingToResume(f"run {run_dir} is already complete: nothing to resume")
    if status == "running":
        raise ResumeError(
            f"run {run_dir} is still being written by pid {header.get('pid', '?')} on"
            f" {header.get('host', '?')} (heartbeat {header.get('heartbeat', '?')});"
            " wait for it to finish, or stop it first"
        )
    if status == "stale":
        raise ResumeError(
            f"run {run_dir} was written on host {header.get('host', '?')}, whose process"
            f" cannot be checked from here (last heartbeat {header.get('heartbeat', '?')});"
            " resume it on that host"
        )
    return status


def _kept_events(run_dir: Path, checkpoint: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """The events up to the checkpoint and the byte offset at the end of each line."""
    if checkpoint is None:
        return [], []
    path = run_dir / "events.jsonl"
    try:
        n, size = int(checkpoint["events"]), int(checkpoint["bytes"])
    except (TypeError, KeyError, ValueError):
        raise ResumeError(f"{run_dir / 'run.json'}: malformed checkpoint {checkpoint!r}") from None
    try:
        with open(path, "rb") as fh:
            data = fh.read(size)
    except OSError as exc:
        raise ResumeError(f"cannot read {path}: {exc}") from None
    if len(data) < size:
        raise ResumeError(
            f"{path} holds {len(data)} bytes, fewer than the {size} its checkpoint records:"
            " the log was cut; the run cannot be resumed"
        )
    lines = data.split(b"\n")
    if lines[-1] != b"" or len(lines) - 1 != n:
        raise ResumeError(
            f"{path}: its first {size} bytes do not hold the {n} whole events the checkpoint"
            " records; the run cannot be resumed"
        )
    kept, ends, offset = [], [], 0
    for i, raw in enumerate(lines[:-1]):
        offset += len(raw) + 1
        try:
            event = json.loads(raw)
        except ValueError:
            raise ResumeError(f"{path}:{i + 1}: not a JSON event") from None
        if not isinstance(event, dict) or event.get("seq") != i:
            raise ResumeError(f"{path}:{i + 1}: expected the event numbered {i}")
        kept.append(event)
        ends.append(offset)
    return kept, ends


def _load(header: dict[str, Any], run_dir: Path) -> Bundle:
    scenario = header.get("scenario_file") or header.get("scenario_path")
    seed = header.get("seed")
    if not isinstance(scenario, str) or not isinstance(seed, int) or not header.get("spec"):
        raise ResumeError(f"{run_dir / 'run.json'} does not record the run's specs and seed")
    bundle = load_bundle(scenario, agent_override=header.get("agent_file"), seed_override=seed)
    issues = component_issues(bundle, monitors=True)
    if issues:
        raise SpecError(issues)
    changed = spec_changes(header["spec"], bundle)
    if changed:
        raise ResumeError(
            f"run {run_dir} cannot be resumed: its specs changed since it started: "
            + "; ".join(changed)
            + " (a resumed run must re-execute the same specs; start a new run)"
        )
    return bundle


def _set_aside_memory(run_dir: Path) -> None:
    """Move the killed run's memory store aside; a fresh one is rebuilt in its place."""
    mem, saved = run_dir / "memory", run_dir / SAVED_MEMORY
    if saved.exists():  # an earlier resume died while checking: `saved` is the original
        shutil.rmtree(mem, ignore_errors=True)
    elif mem.exists():
        mem.rename(saved)


def _restore_memory(run_dir: Path) -> None:
    mem, saved = run_dir / "memory", run_dir / SAVED_MEMORY
    if saved.exists():
        shutil.rmtree(mem, ignore_errors=True)
        saved.rename(mem)


def resume_run(
    run_dir: Path | str, *, on_progress: Callable[[int, int], None] | None = None
) -> Path:
    """Continue a killed or interrupted run from its checkpoint; return its folder.

    Raises:
        NothingToResume: the run is complete (nothing is changed).
        ResumeError: the run is still live, was written on another host, its specs
            changed, or its record is damaged (nothing is changed).
        FolderBusyError: another process holds the run folder's lock.
        SpecError: a spec file the run names is now invalid (nothing is changed).
        ResumeMismatch: re-execution produced a different event (the folder is left as
            it was).
        RunTerminated, KeyboardInterrupt: as for a new run (closed as interrupted).
    """
    from sandbox.monitors.base import MonitorHub
    from sandbox.runner import simulate

    d = Path(run_dir)
    if not d.is_dir():
        raise ResumeError(f"no run folder {d}")
    _check_status(d, _read_json(d / "run.json"))  # a live writer is named before the lock
    lock = FolderLock(d)
    lock.acquire()
    try:
        header = _read_json(d / "run.json")  # again, now that no one else can write it
        status = _check_status(d, header)
        bundle = _load(header, d)
        kept, ends = _kept_events(d, header.get("checkpoint"))
        _set_aside_memory(d)
        resumed = [*header.get("resumed", []), _resumed_entry(status, len(kept))]
        base = {k: v for k, v in header.items() if k not in ("message", "wall_s")}
        writer = ResumeWriter(
            d,
            header,
            {**base, "resumed": resumed},
            lock,
            kept,
            ends,
            on_append=lambda: shutil.rmtree(d / SAVED_MEMORY, ignore_errors=True),
        )
    except BaseException:
        lock.release()
        raise
    hub = MonitorHub(list(bundle.scenario.monitors))
    try:
        out = simulate(bundle, writer, hub, on_progress=on_progress)
    except BaseException:
        if writer.checking:  # stopped before anything was appended: as it was
            _restore_memory(d)
        raise
    if writer.checking:
        _restore_memory(d)
        raise ResumeMismatch(
            f"the re-executed run ended after {writer.seq} events, before the"
            f" {len(kept)} recorded up to its checkpoint; it cannot be resumed"
        )
    return out


def _resumed_entry(status: str, kept: int) -> dict[str, Any]:
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "from_status": status,
        "kept_events": kept,
    }
