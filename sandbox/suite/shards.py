"""Sharded suites: ``suite run --shard i/n`` runs a slice; `merge_suite` joins the slices.

A CI matrix runs each shard in its own job; the merge copies their complete runs into
one suite folder and gates the whole, simulating nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox.ablate import CellTask, _done
from sandbox.suite.runner import SuitePlanError, plan_suite, run_suite, suite_id_for
from sandbox.suite.spec import load_suite

__all__ = ["merge_suite"]


def _missing_from_shards(task: CellTask) -> Path:
    """Stands in for the simulation when merging: a run no shard completed."""
    raise RuntimeError(f"no shard folder holds a complete run of {task.cell} seed {task.seed}")


def merge_suite(
    suite_path: Path | str,
    folders: Sequence[Path | str],
    out_root: Path | str = "runs/suites",
    *,
    suite_id: str | None = None,
    baseline: Path | str | None = None,
) -> dict[str, Any]:
    """Join the folders of a sharded suite (``--shard i/n``) and gate the whole.

    Complete runs are copied from the shard folders into the suite folder under
    `out_root` (one that already holds them is used as it is); nothing is simulated, and
    a run no shard completed counts as errored (exit 3).

    Raises:
        SuitePlanError: a shard folder holds a different suite.
    """
    loaded = load_suite(suite_path)
    fingerprint, _ = plan_suite(loaded, Path("."))
    suite_id = suite_id or suite_id_for(loaded, fingerprint)
    root = Path(out_root).resolve() / suite_id
    _, tasks = plan_suite(loaded, root)
    for folder in folders:
        f = Path(folder).resolve()
        plan = f / "plan.json"
        if not plan.is_file():
            raise SuitePlanError(f"{f} is not a suite folder (no plan.json)")
        old = json.loads(plan.read_text(encoding="utf-8")).get("fingerprint")
        if old != fingerprint:
            raise SuitePlanError(f"{f} holds a different suite plan; it cannot be merged")
        if f == root:
            continue
        for t in tasks:
            src = f / t.run_dir.relative_to(root)
            if not _done(t.run_dir) and _done(src):
                if t.run_dir.exists():
                    shutil.rmtree(t.run_dir)
                t.run_dir.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(src, t.run_dir)
    return run_suite(
        suite_path,
        out_root,
        suite_id=suite_id,
        workers=1,
        cell_fn=_missing_from_shards,
        progress=False,
        baseline=baseline,
    )
