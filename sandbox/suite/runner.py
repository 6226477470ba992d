"""Run a suite: plan its cells, run them on an executor (resuming), aggregate, gate.

Layout, reusing the ablation machinery (:mod:`sandbox.ablate`: guarded tasks, resume of
complete runs, the executor and its progress bar, the folder lock)::

    <out_root>/<suite-id>/
        plan.json                               what will run (checked on resume)
        cells/<scenario>/<config>/seed-<n>/     one ordinary run folder per task
        result.json                             metrics, gates, exit code
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.ablate import CellFn, CellTask, _done, _execute, run_status
from sandbox.record.lock import FolderLock, remove_unlocked
from sandbox.record.writer import write_json_atomic
from sandbox.suite import ray_engine as _ray_engine  # noqa: F401  (registers the "ray" engine)
from sandbox.suite.gates import baseline_gates, evaluate_gates
from sandbox.suite.metrics import RunRecord, aggregate, run_metrics
from sandbox.suite.spec import LoadedSuite, Overrides, apply_overrides, load_suite

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_ERRORED",
    "EXIT_GATE_FAILED",
    "EXIT_OK",
    "SUITE_FORMAT",
    "SuitePlanError",
    "SuiteTask",
    "evaluate_gates",
    "plan_suite",
    "run_suite",
    "run_suite_cell",
]

SUITE_FORMAT = "persona-sandbox-suite-result/1"
EXIT_OK, EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_ERRORED = 0, 1, 2, 3


class SuitePlanError(ValueError):
    """The suite folder holds a different plan; its runs cannot be reused."""


@dataclass(frozen=True)
class SuiteTask(CellTask):
    """One run of a suite: a scenario under a config (with overrides) and one seed."""

    config: str = ""
    scenario_id: str = ""
    agent_set: str = "{}"  # JSON of the config's agent overrides
    scenario_set: str = "{}"


def run_suite_cell(task: CellTask) -> Path:
    """Run one suite task with the real simulation (imported lazily, in the worker)."""
    from sandbox.runner import run_scenario
    from sandbox.spec import load_bundle

    bundle = load_bundle(task.scenario, agent_override=task.agent, seed_override=task.seed)
    if isinstance(task, SuiteTask):
        over = Overrides(agent=json.loads(task.agent_set), scenario=json.loads(task.scenario_set))
        agent, scenario = apply_overrides(bundle.agent, bundle.scenario, over)
        scenario = scenario.model_copy(update={"seed": task.seed})
        bundle = dataclasses.replace(bundle, agent=agent, scenario=scenario)
    return run_scenario(bundle, Path(task.out_dir), task.run_id)


def plan_suite(loaded: LoadedSuite, root: Path) -> tuple[dict[str, Any], list[SuiteTask]]:
    """The fingerprint of a suite's runs and one task per (scenario, config, seed)."""
    from sandbox.spec import load_bundle, spec_hash

    tasks: list[SuiteTask] = []
    cells: list[dict[str, Any]] = []
    for sp in loaded.scenarios:
        sid = loaded.scenario_id(sp)
        for cfg in loaded.suite.configs:
            agent_path = loaded.agents[cfg.name]
            bundle = load_bundle(sp, agent_override=agent_path)
            agent, scenario = apply_overrides(bundle.agent, bundle.scenario, cfg.set)
            cells.append(
                {
                    "scenario": sid,
                    "config": cfg.name,
                    "scenario_hash": spec_hash(scenario.model_copy(update={"seed": 0})),
                    "agent_hash": spec_hash(agent),
                }
            )
            for seed in loaded.seeds[str(sp)]:
                tasks.append(
                    SuiteTask(
                        cell=f"{sid}/{cfg.name}",
                        on=(),
                        components=tuple(agent.components),
                        seed=seed,
                        scenario=str(sp),
                        agent=str(agent_path) if agent_path else None,
                        out_dir=str(root / "cells" / sid / cfg.name),
                        run_id=f"seed-{seed}",
                        config=cfg.name,
                        scenario_id=sid,
                        agent_set=json.dumps(cfg.set.agent, sort_keys=True),
                        scenario_set=json.dumps(cfg.set.scenario, sort_keys=True),
                    )
                )
    fingerprint = {
        "cells": cells,
        "seeds": {loaded.scenario_id(Path(k)): list(v) for k, v in loaded.seeds.items()},
    }
    return fingerprint, tasks


def suite_id_for(loaded: LoadedSuite, fingerprint: dict[str, Any]) -> str:
    """The default folder name: the suite's name and a hash of what its runs depend on.

    Gates, alpha and k are not part of it: changing a threshold re-gates the same runs.
    """
    blob = json.dumps({"suite": loaded.suite.name, **fingerprint}, sort_keys=True).encode()
    return f"{loaded.suite.name}-{hashlib.sha256(blob).hexdigest()[:8]}"


def run_suite(
    suite_path: Path | str,
    out_root: Path | str = "runs/suites",
    *,
    suite_id: str | None = None,
    workers: int | None = None,
    engine: str = "local",
    address: str | None = None,
    cell_fn: CellFn | None = None,
    progress: bool = True,
    lock_wait: float = 0.0,
    baseline: Path | str | None = None,
    save_baseline: Path | str | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Run (or resume) a suite; write and return its result (``result["exit_code"]``).

    With `shard` ``(i, n)`` only every n-th task from the i-th (1-based) runs, and no
    gates are checked: ``shard-<i>-of-<n>.json`` records what ran, and
    :func:`sandbox.suite.shards.merge_suite` later joins the shards' folders and gates the whole.

    `engine` names the executor (``local``/``pool``, ``serial``, ``ray``); `address` a
    running cluster it joins (``ray``: the head's ``HOST:PORT``) instead of a local one.

    With `baseline` (a baseline file or an earlier result), every config is also checked
    against the same config there (see :func:`baseline_gates`); with `save_baseline`,
    the result is written there as a baseline file to commit.

    Raises:
        SpecError: the suite or a file it references is invalid (nothing is run).
        SuitePlanError: the folder holds a suite with a different plan.
        FolderBusyError: another process is working on the same suite folder.
    """
    from sandbox.suite.compare import baseline_from_result, load_side

    t0 = time.monotonic()
    loaded = load_suite(suite_path)
    base_side = load_side(baseline) if baseline is not None else None
    suite = loaded.suite
    fingerprint, _ = plan_suite(loaded, Path("."))
    suite_id = suite_id or suite_id_for(loaded, fingerprint)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", suite_id):
        raise ValueError(f"suite id {suite_id!r} must be a plain folder name")
    root = Path(out_root).resolve() / suite_id
    fingerprint, tasks = plan_suite(loaded, root)
    if shard is not None:
        i, n = shard
        if not 1 <= i <= n:
            raise ValueError(f"shard {i}/{n}: need 1 <= i <= n")
    all_tasks = tasks
    if shard is not None:
        tasks = [t for k, t in enumerate(all_tasks) if k % shard[1] == shard[0] - 1]
    with FolderLock(root, wait=lock_wait):
        _write_plan(root, suite_id, loaded, fingerprint, all_tasks)
        pending = [t for t in tasks if not _done(t.run_dir)]
        for t in pending:
            remove_unlocked(t.run_dir)  # a partial run from an interrupt: start again
        todo: list[CellTask] = list(pending)
        errors = _execute(
            todo, cell_fn or run_suite_cell, engine, workers, progress, len(tasks), address
        )
        records = []
        errored = []
        for t in tasks:
            ok = _done(t.run_dir)
            metrics = run_metrics(t.run_dir) if ok else None
            if metrics is None:
                errored.append(
                    {
                        "scenario": t.scenario_id,
                        "config": t.config,
                        "seed": t.seed,
                        "status": run_status(t.run_dir) or "missing",
                        "error": errors.get(str(t.run_dir)),
                        "run_dir": str(t.run_dir),
                    }
                )
            records.append(RunRecord(t.scenario_id, t.config, t.seed, str(t.run_dir), metrics))
        if shard is not None:
            result = {
                "format": "persona-sandbox-suite-shard/1",
                "suite": suite.name,
                "suite_id": suite_id,
                "folder": str(root),
                "shard": f"{shard[0]}/{shard[1]}",
                "runs": {
                    "total": len(tasks),
                    "complete": len(tasks) - len(errored),
                    "reused": len(tasks) - len(pending),
                    "errored": errored,
                },
                "exit_code": EXIT_ERRORED if errored else EXIT_OK,
                "wall_s": round(time.monotonic() - t0, 2),
            }
            write_json_atomic(root / f"shard-{shard[0]}-of-{shard[1]}.json", result)
            return result
        result = build_result(
            loaded, suite_id, root, records, errored, len(tasks) - len(pending), base_side
        )
        result["wall_s"] = round(time.monotonic() - t0, 2)
        write_json_atomic(root / "result.json", result)
    if save_baseline is not None:
        path = Path(save_baseline)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, baseline_from_result(result))
        result["baseline_saved"] = str(path)
    del suite
    return result


def build_result(
    loaded: LoadedSuite,
    suite_id: str,
    root: Path,
    records: Sequence[RunRecord],
    errored: list[dict[str, Any]],
    reused: int,
    base_side: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Aggregate runs per cell and per config, check the gates, choose the exit code."""
    from sandbox.suite.compare import finding_identities

    suite = loaded.suite
    run_records = [
        {
            "scenario": r.scenario,
            "config": r.config,
            "seed": r.seed,
            "run_dir": r.run_dir,
            "metrics": r.metrics,
            "findings": finding_identities(r.run_dir) if r.metrics is not None else [],
        }
        for r in records
    ]
    ks = suite.pass_k
    cells = []
    for sp in loaded.scenarios:
        sid = loaded.scenario_id(sp)
        for cfg in suite.configs:
            runs = [r for r in records if r.scenario == sid and r.config == cfg.name]
            cells.append(
                {
                    "scenario": sid,
                    "config": cfg.name,
                    "runs": [
                        {"seed": r.seed, "run_dir": r.run_dir, "complete": r.metrics is not None}
                        for r in runs
                    ],
                    **aggregate(runs, suite.alpha, ks).as_dict(),
                }
            )
    configs = {
        cfg.name: aggregate([r for r in records if r.config == cfg.name], suite.alpha, ks).as_dict()
        for cfg in suite.configs
    }
    gates = evaluate_gates(loaded, records, configs)
    comparison = None
    if base_side is not None:
        current = {"label": "this suite", "alpha": suite.alpha, "runs": run_records}
        comparison, more = baseline_gates(loaded, base_side, current)
        gates += more
    failed = [g for g in gates if g.status != "pass"]
    if errored:
        code = EXIT_ERRORED
    elif failed:
        code = EXIT_GATE_FAILED
    else:
        code = EXIT_OK
    return {
        "format": SUITE_FORMAT,
        "suite": suite.name,
        "suite_file": str(loaded.path),
        "suite_id": suite_id,
        "folder": str(root),
        "alpha": suite.alpha,
        "baseline": suite.baseline,
        "scenarios": [loaded.scenario_id(p) for p in loaded.scenarios],
        "config_names": [c.name for c in suite.configs],
        "seeds": {loaded.scenario_id(Path(k)): list(v) for k, v in loaded.seeds.items()},
        "runs": {
            "total": len(records),
            "complete": len(records) - len(errored),
            "reused": reused,
            "errored": errored,
        },
        "cells": cells,
        "configs": configs,
        "gates": [g.as_dict() for g in gates],
        "gates_failed": len(failed),
        "exit_code": code,
        "baseline_comparison": comparison,
        "run_records": run_records,
    }


def _write_plan(
    root: Path,
    suite_id: str,
    loaded: LoadedSuite,
    fingerprint: dict[str, Any],
    tasks: list[SuiteTask],
) -> None:
    plan_path = root / "plan.json"
    if plan_path.is_file():
        old = json.loads(plan_path.read_text(encoding="utf-8")).get("fingerprint")
        if old != fingerprint:
            raise SuitePlanError(
                f"{root} holds a suite with a different plan; use another --suite-id"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        plan_path,
        {
            "format": "persona-sandbox-suite-plan/1",
            "suite_id": suite_id,
            "suite_file": str(loaded.path),
            "fingerprint": fingerprint,
            "tasks": [
                {
                    "scenario": t.scenario_id,
                    "config": t.config,
                    "seed": t.seed,
                    "run": str(t.run_dir.relative_to(root)),
                }
                for t in tasks
            ],
        },
    )
