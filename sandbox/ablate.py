"""Factorial ablation: one scenario under subsets of its personalization components.

``run_ablation`` plans cells (subsets of the named components, see
:func:`sandbox.analysis.composition.design_cells`) times seeds, runs each (cell, seed)
as an independent task on an executor, and writes::

    <out_root>/<ablation-id>/
        plan.json                     what will run (written first; checked on resume)
        cells/<cell>/seed-<n>/        one ordinary run folder per task
        composition.json              metrics per cell, effects, composed failures

Every cell uses the same seeds, so cells differ only by their components. A task whose
run folder holds a complete run (run.json status ``complete``) is not re-run: re-running
the same command resumes an interrupted ablation; a partial folder left by an interrupt
is removed and its run started again. The default ablation id is derived from the plan,
so the same command lands in the same folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.analysis.composition import (
    Cell,
    MetricTable,
    analyze,
    cell_name,
    design_cells,
    effective_components,
    read_run_metrics,
    write_composition,
)
from sandbox.analysis.composition_power import underpowered_claims
from sandbox.analysis.composition_view import AblationProgress
from sandbox.execute import make_executor
from sandbox.record.lock import FolderLock, remove_unlocked
from sandbox.record.writer import write_json_atomic

__all__ = [
    "ABLATION_FORMAT",
    "AblationPlanError",
    "CellFn",
    "CellTask",
    "TaskOutcome",
    "plan_tasks",
    "run_ablation",
    "run_cell",
    "run_status",
]

ABLATION_FORMAT = "persona-sandbox-ablation/1"


class AblationPlanError(ValueError):
    """The ablation folder exists with a different plan; its runs cannot be reused."""


@dataclass(frozen=True)
class CellTask:
    """One run of an ablation: a cell (components on) under one seed. Plain, picklable data."""

    cell: str
    on: tuple[str, ...]
    components: tuple[str, ...]
    seed: int
    scenario: str
    agent: str | None
    out_dir: str
    run_id: str

    @property
    def run_dir(self) -> Path:
        """Where this task's run folder lives."""
        return Path(self.out_dir) / self.run_id


CellFn = Callable[[CellTask], Any]


@dataclass(frozen=True)
class TaskOutcome:
    """What came back from a worker: the run folder, or the error that stopped the task."""

    run_dir: str
    error: str | None = None


def run_cell(task: CellTask) -> Path:
    """Run one cell with the real simulation (imported lazily, inside the worker)."""
    from sandbox.runner import run_scenario  # heavy: torch, chromadb, langgraph
    from sandbox.spec import load_bundle

    bundle = load_bundle(task.scenario, agent_override=task.agent, seed_override=task.seed)
    return run_scenario(
        bundle,
        Path(task.out_dir),
        task.run_id,
        components_override=list(task.components),
    )


def _guarded(fn: CellFn, task: CellTask) -> TaskOutcome:
    """Run a task so that one failing cell is recorded instead of stopping the ablation."""
    try:
        fn(task)
    except Exception as exc:
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        return TaskOutcome(str(task.run_dir), f"{type(exc).__name__}: {exc}\n{tail}")
    return TaskOutcome(str(task.run_dir))


def run_status(run_dir: Path) -> str | None:
    """The status a run folder's run.json records; None when there is no readable run.json."""
    try:
        status = json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return str(status) if status is not None else None


def _done(run_dir: Path) -> bool:
    return run_status(run_dir) == "complete" and (run_dir / "summary.json").is_file()


def plan_tasks(
    scenario: Path,
    components: Sequence[str],
    seeds: Sequence[int],
    design: str,
    base_components: Sequence[str],
    root: Path,
    agent: Path | None = None,
    order: Sequence[str] = (),
) -> tuple[list[Cell], list[CellTask]]:
    """The cells of `design` and one task per (cell, seed), cells outermost."""
    cells = design_cells(components, design)
    tasks = []
    for cell in cells:
        name = cell_name(cell, components)
        comps = effective_components(cell, components, base_components, order)
        for seed in seeds:
            tasks.append(
                CellTask(
                    cell=name,
                    on=tuple(c for c in components if c in cell),
                    components=tuple(comps),
                    seed=seed,
                    scenario=str(scenario),
                    agent=str(agent) if agent is not None else None,
                    out_dir=str(root / "cells" / name),
                    run_id=f"seed-{seed}",
                )
            )
    return cells, tasks


def run_ablation(
    scenario_path: Path | str,
    components: Sequence[str],
    seeds: list[int] | int,
    design: str = "full",
    workers: int | None = None,
    out_root: Path | str = "runs",
    ablation_id: str | None = None,
    cell_fn: CellFn | None = None,
    progress: bool = True,
    *,
    agent_override: Path | str | None = None,
    base_components: Sequence[str] | None = None,
    engine: str = "local",
    address: str | None = None,
    alpha: float = 0.05,
    n_boot: int = 2000,
    lock_wait: float = 0.0,
) -> Path:
    """Run (or resume) an ablation and write its composition analysis; return its folder.

    Args:
        scenario_path: the scenario YAML.
        components: the components to switch on and off; others stay as configured.
        seeds: explicit seeds, or a count n (the scenario's seed, +1, ... +n-1).
        design: ``full``, ``pairs`` or ``ofat`` (see ``design_cells``).
        workers: processes for the local engine (default: cores; 1 runs in-process).
        out_root: parent of the ablation folder.
        ablation_id: folder name; default derived from the plan, so re-running resumes.
        cell_fn: runs one task and writes its run folder (picklable; default: the
            real simulation). Tests pass a cheap fake.
        progress: show a progress bar over runs on stderr.
        agent_override: an agent config replacing the scenario's.
        base_components: the agent's configured components. When not given, the scenario
            is loaded (validating it) and they come from its agent config; when given,
            nothing is loaded and a seed count starts at 0.
        engine: executor engine name (``local`` or ``pool``, ``serial``, ``ray``, or a
            registered plugin).
        address: a running cluster for the engine to join (``ray``: its head's address).
        alpha: significance level (and 1 - CI level) of the analysis.
        n_boot: bootstrap replicates.
        lock_wait: seconds to wait for another process working on the same folder.

    Raises:
        AblationPlanError: the folder holds an ablation with a different plan.
        FolderBusyError: another live process is working on the same ablation folder.
        SpecError: the scenario or agent config is invalid.
    """
    from sandbox.spec import COMPONENTS

    scenario = Path(scenario_path).resolve()
    agent = Path(agent_override).resolve() if agent_override is not None else None
    components = list(components)
    fingerprint, seed_list = _fingerprint(
        scenario, agent, components, seeds, design, base_components
    )
    if ablation_id is None:
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario.stem)
        ablation_id = f"{stem}-{design}-{digest[:8]}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", ablation_id):
        raise ValueError(f"ablation id {ablation_id!r} must be a plain folder name")
    root = Path(out_root).resolve() / ablation_id
    base = fingerprint["base_components"]
    cells, tasks = plan_tasks(
        scenario, components, seed_list, design, base, root, agent, COMPONENTS
    )
    # one process per ablation folder: a second one waits `lock_wait` seconds, then
    # refuses, rather than redo the work or delete the other's live runs
    with FolderLock(root, wait=lock_wait):
        _write_plan(root, ablation_id, fingerprint, tasks, scenario, agent)

        pending = [t for t in tasks if not _done(t.run_dir)]
        for t in pending:
            # a partial run from an interrupt: start it again, unless a process (say a
            # `sandbox run --resume` on it) still holds the run folder's own lock
            remove_unlocked(t.run_dir)
        errors = _execute(
            pending, cell_fn or run_cell, engine, workers, progress, len(tasks), address
        )

        records: dict[tuple[Cell, int], dict[str, float] | None] = {}
        by_name = {cell_name(c, components): c for c in cells}
        incomplete = []
        for t in tasks:
            ok = _done(t.run_dir)
            records[(by_name[t.cell], t.seed)] = read_run_metrics(t.run_dir) if ok else None
            if not ok:
                status = run_status(t.run_dir) or "missing"
                error = errors.get(str(t.run_dir))
                incomplete.append(
                    {"cell": t.cell, "seed": t.seed, "status": status, "error": error}
                )
        table = MetricTable.from_records(components, cells, seed_list, records)
        header = {
            "ablation_id": ablation_id,
            "scenario": str(scenario),
            "agent": str(agent) if agent else None,
            **fingerprint,
            "cells": [
                {
                    "name": cell_name(c, components),
                    "on": [x for x in components if x in c],
                    "components": effective_components(c, components, base, COMPONENTS),
                }
                for c in cells
            ],
            "runs": {
                "total": len(tasks),
                "complete": len(tasks) - len(incomplete),
                "reused": len(tasks) - len(pending),
                "incomplete": incomplete,
            },
        }
        analysis = analyze(table, alpha=alpha, n_boot=n_boot)
        header["underpowered"] = underpowered_claims(table, analysis.to_dict(), alpha)
        write_composition(root / "composition.json", header, analysis)
    return root


def _fingerprint(
    scenario: Path,
    agent: Path | None,
    components: list[str],
    seeds: list[int] | int,
    design: str,
    base_components: Sequence[str] | None,
) -> tuple[dict[str, Any], list[int]]:
    """What identifies an ablation's runs (compared on resume), and the seed list.

    Spec content hashes rather than paths, so an edited scenario or agent config is
    noticed and a moved checkout still resumes.
    """
    from sandbox.spec import COMPONENTS, load_bundle, spec_hash

    bad = [c for c in components if not re.fullmatch(r"[A-Za-z0-9_.-]+", c)]
    if bad:
        raise ValueError(f"component names must be plain words (they name folders): {bad}")
    specs: dict[str, Any]
    first_seed = 0
    if base_components is None:
        bundle = load_bundle(scenario, agent_override=agent)
        base_components = list(bundle.agent.components)
        first_seed = bundle.scenario.seed
        specs = {"scenario_hash": spec_hash(bundle.scenario), "agent_hash": spec_hash(bundle.agent)}
        unknown = [c for c in components if c not in COMPONENTS]
        if unknown:
            raise ValueError(f"unknown components {unknown}; known: {', '.join(COMPONENTS)}")
    else:
        raw = scenario.read_bytes() if scenario.is_file() else b""
        specs = {"scenario_sha256": hashlib.sha256(raw).hexdigest()[:16], "agent": str(agent)}
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError("need at least one seed")
        seeds = [first_seed + i for i in range(seeds)]
    seed_list = list(dict.fromkeys(seeds))
    fingerprint = {
        "components": components,
        "base_components": list(base_components),
        "design": design,
        "seeds": seed_list,
        **specs,
    }
    return fingerprint, seed_list


def _write_plan(
    root: Path,
    ablation_id: str,
    fingerprint: dict[str, Any],
    tasks: list[CellTask],
    scenario: Path,
    agent: Path | None,
) -> None:
    plan_path = root / "plan.json"
    if plan_path.is_file():
        old = json.loads(plan_path.read_text(encoding="utf-8")).get("fingerprint")
        if old != fingerprint:
            raise AblationPlanError(
                f"{root} holds an ablation with a different plan; use another --ablation-id"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    plan = {
        "format": ABLATION_FORMAT,
        "ablation_id": ablation_id,
        "scenario": str(scenario),
        "agent": str(agent) if agent else None,
        "fingerprint": fingerprint,
        "tasks": [
            {
                "cell": t.cell,
                "seed": t.seed,
                "components": list(t.components),
                "run": str(t.run_dir.relative_to(root)),
            }
            for t in tasks
        ],
    }
    write_json_atomic(plan_path, plan)


def _execute(
    pending: list[CellTask],
    fn: CellFn,
    engine: str,
    workers: int | None,
    show: bool,
    total: int,
    address: str | None = None,
) -> dict[str, str]:
    """Run the pending tasks; return errors by run folder."""
    errors: dict[str, str] = {}
    if not pending:
        return errors
    executor = make_executor(engine, workers, address)
    call = functools.partial(_guarded, fn)
    with AblationProgress(show, [t.cell for t in pending], total) as bar:
        for outcome in executor.map(call, pending, on_result=bar.advance):
            if outcome.error:
                errors[outcome.run_dir] = outcome.error
    return errors
