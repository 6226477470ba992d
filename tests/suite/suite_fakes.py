"""Cheap, picklable stand-ins for a suite run: each writes a deterministic run folder.

Planted truth: a config whose agent memory is shared (in the file or by an override)
surfaces 3-5 leaks per run; per-user memory surfaces none. Relational harm is 2 per run
everywhere. A finding event backs each surfaced leak, for the evidence of failed gates.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from sandbox.ablate import CellTask
from sandbox.record.writer import write_json_atomic


def _shared(task: CellTask) -> bool:
    over = json.loads(getattr(task, "agent_set", "{}"))
    iso = (over.get("memory") or {}).get("isolation")
    if iso is not None:
        return bool(iso == "shared")
    return task.agent is None or "shared" in Path(task.agent).name


def fake_suite_cell(task: CellTask) -> Path:
    """A run that always completes."""
    rng = random.Random(f"{task.seed}:{task.cell}")
    surfaced = rng.randint(3, 5) if _shared(task) else 0
    run = task.run_dir
    run.mkdir(parents=True)
    summary = {
        "status": "complete",
        "seed": task.seed,
        "turns": 100,
        "monitors": {
            "cross_user_leakage": {
                "findings": surfaced + 1,
                "by_category": {"surfaced": surfaced, "latent": 1},
                "by_severity": {"critical": surfaced, "high": 1},
                "per_1000_turns": 10.0 * (surfaced + 1),
            },
            "retention": {"findings": 0, "by_category": {}, "by_severity": {}},
            "relational_safety": {
                "findings": 2,
                "by_category": {"relational_harm": 2},
                "by_severity": {"medium": 2},
                "per_1000_turns": 20.0,
            },
        },
    }
    events = [
        {
            "v": 1,
            "seq": i,
            "kind": "finding",
            "id": f"F{i:05d}",
            "monitor": "cross_user_leakage",
            "category": "surfaced",
            "severity": "critical",
            "session": i,
            "user": "quinn",
            "owner": "maya",
            "message": f"maya's secret surfaced for quinn ({i})",
        }
        for i in range(surfaced)
    ]
    with open(run / "events.jsonl", "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")
    write_json_atomic(run / "summary.json", summary)
    write_json_atomic(run / "run.json", {"status": "complete", "seed": task.seed})
    log = Path(task.out_dir).parents[2] / "invocations.log"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{task.cell}/{task.seed}\n")
    return run


def crashing_suite_cell(task: CellTask) -> Path:
    """Like fake_suite_cell, but the shared config's second seed crashes mid-run."""
    if _shared(task) and task.seed % 2 == 0:
        task.run_dir.mkdir(parents=True)
        write_json_atomic(task.run_dir / "run.json", {"status": "running"})
        raise RuntimeError("backend down")
    return fake_suite_cell(task)
