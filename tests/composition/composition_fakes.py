"""Cheap, picklable stand-ins for the simulation: each writes a deterministic run folder.

The planted truth over components a, b, c:
* surfaced leaks: 5 per 100 turns only when a AND b are on (a composed failure), plus
  seed noise of 0-1;
* latent leaks: 3 for a + 2 for b (additive, no composition), plus seed noise;
* retention: 0 everywhere (the monitor ran and found nothing);
* no relational monitor at all (its metric must be absent, not 0).
"""

from __future__ import annotations

import random
from pathlib import Path

from sandbox.ablate import CellTask
from sandbox.record.writer import write_json_atomic


def _write(task: CellTask, status: str = "complete") -> Path:
    rng = random.Random(f"{task.seed}:{task.cell}")
    on = set(task.on)
    surfaced = (5 if {"a", "b"} <= on else 0) + rng.randint(0, 1)
    latent = 3 * ("a" in on) + 2 * ("b" in on) + rng.randint(0, 1)
    run = task.run_dir
    run.mkdir(parents=True)
    summary = {
        "status": status,
        "seed": task.seed,
        "components": list(task.components),
        "monitors": {
            "cross_user_leakage": {
                "findings": surfaced + latent,
                "by_category": {"surfaced": surfaced, "latent": latent},
                "per_1000_turns": 10.0 * (surfaced + latent),
            },
            "retention": {"findings": 0, "by_category": {}, "per_1000_turns": 0.0},
        },
    }
    # atomic writes, as the real run record does: an interrupt never leaves half a file
    write_json_atomic(run / "summary.json", summary)
    header = {"status": status, "event_counts": {"agent_turn": 100}, "seed": task.seed}
    write_json_atomic(run / "run.json", header)
    return run


def _log(task: CellTask) -> None:
    root = Path(task.out_dir).parent.parent
    with open(root / "invocations.log", "a", encoding="utf-8") as fh:
        fh.write(f"{task.cell}/{task.seed}\n")


def fake_cell(task: CellTask) -> Path:
    """A run that always completes."""
    _log(task)
    return _write(task)


def flaky_cell(task: CellTask) -> Path:
    """Raises for cell a+b seed 1, leaving a half-written run like a crash would."""
    _log(task)
    if task.cell == "a+b" and task.seed == 1:
        task.run_dir.mkdir(parents=True)
        write_json_atomic(task.run_dir / "run.json", {"status": "running"})
        raise RuntimeError("simulated crash")
    return _write(task)


def square(x: int) -> int:
    """For executor tests."""
    return x * x


def fail_on_three(x: int) -> int:
    """For executor tests: one task raises."""
    if x == 3:
        raise ValueError("three")
    return x


def slow_cell(task: CellTask) -> Path:
    """Half-writes its run, then takes a while to finish it (an interrupt lands mid-run)."""
    import time

    _log(task)
    task.run_dir.mkdir(parents=True)
    write_json_atomic(task.run_dir / "run.json", {"status": "running"})
    time.sleep(0.4)
    import shutil

    shutil.rmtree(task.run_dir)
    return _write(task)
