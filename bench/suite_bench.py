"""Suite throughput for `make bench`: one suite on each executor, wall time and runs/minute.

Each engine runs the same suite through the CLI in its own process (so each pays its own
start-up, as a CI job would): the serial engine, the local process pool with 2 workers,
and Ray with 2 workers. Ray starts inside a network namespace with only loopback
(``unshare -n``), as every Ray start here must. The result JSON of each engine is
compared with the serial one (apart from folders and wall time): ``identical`` says
whether the metrics and gates matched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parent.parent / "tests" / "suite" / "data" / "tiny-suite.yaml"
ENGINES = (("serial", "local", 1), ("pool_2", "local", 2), ("ray_2", "ray", 2))
_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def _portable(result: dict[str, Any], out_root: Path) -> dict[str, Any]:
    out = json.loads(json.dumps(result).replace(str(out_root.resolve()), "ROOT"))
    out.pop("wall_s", None)
    out.pop("folder", None)
    return out


def _run(label: str, engine: str, workers: int, root: Path) -> tuple[float, dict[str, Any]]:
    out = root / label
    res_file = root / f"{label}.json"
    argv = [
        sys.executable,
        "-m",
        "sandbox",
        "suite",
        "run",
        str(SUITE),
        "--out",
        str(out),
        "--suite-id",
        "bench",
        "--executor",
        engine,
        "--workers",
        str(workers),
        "--json",
        str(res_file),
        "-q",
    ]
    if engine == "ray":
        if shutil.which("unshare") is None:
            raise RuntimeError("Ray runs here only inside `unshare -n`, which is missing")
        argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **_ENV})
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1: a gate failed, as this suite is meant to
        raise RuntimeError(f"{label}: exit {proc.returncode}: {proc.stdout[-400:]}")
    return wall, _portable(json.loads(res_file.read_text()), out)


def bench_suite(tmpdir: Path | str) -> dict[str, Any]:
    """Wall time and runs per minute of the tiny suite on each engine."""
    root = Path(tmpdir)
    figures: dict[str, Any] = {}
    reference: dict[str, Any] | None = None
    for label, engine, workers in ENGINES:
        try:
            wall, result = _run(label, engine, workers, root)
        except (RuntimeError, OSError) as exc:
            figures[label] = {"error": str(exc)[:200]}
            continue
        runs = int((result.get("runs") or {}).get("complete") or 0) or None
        if reference is None:
            reference = result
        figures[label] = {
            "wall_s": round(wall, 2),
            "runs": runs,
            "runs_per_min": round(60 * runs / wall, 1) if runs else None,
            "identical": result == reference,
        }
    return figures
