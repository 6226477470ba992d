"""Executors and the ablation driver: parallel = sequential, resume, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from composition_fakes import fail_on_three, fake_cell, flaky_cell, square

from sandbox.ablate import AblationPlanError, run_ablation, run_status
from sandbox.execute import LocalPoolExecutor, SerialExecutor, engines, make_executor

ABC = ["a", "b", "c"]


def ablate(tmp_path: Path, out: str, fn=fake_cell, workers=1, **kw) -> Path:
    scenario = tmp_path / "scenario.yaml"
    if not scenario.exists():
        scenario.write_text("name: fake\n")
    kw.setdefault("seeds", 3)
    return run_ablation(
        scenario,
        ABC,
        design="full",
        workers=workers,
        out_root=tmp_path / out,
        ablation_id="abl",
        cell_fn=fn,
        progress=False,
        base_components=[],
        n_boot=200,
        **kw,
    )


def invocations(root: Path) -> list[str]:
    log = root / "invocations.log"
    return log.read_text().splitlines() if log.exists() else []


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*.json"))
        if p.name != "plan.json"  # holds the scenario path only
    }


def test_serial_executor_keeps_order_and_reports_each_result():
    seen = []
    out = list(SerialExecutor().map(square, [1, 2, 3], on_result=lambda i, r: seen.append((i, r))))
    assert out == [1, 4, 9]
    assert seen == [(0, 1), (1, 4), (2, 9)]


def test_pool_returns_results_in_task_order_and_calls_back_once_each():
    seen = []
    out = list(LocalPoolExecutor(2).map(square, list(range(8)), lambda i, r: seen.append(i)))
    assert out == [x * x for x in range(8)]
    assert sorted(seen) == list(range(8))


def test_pool_raises_a_task_error_when_reached():
    with pytest.raises(ValueError, match="three"):
        list(LocalPoolExecutor(2).map(fail_on_three, [1, 2, 3, 4]))


def test_fork_is_refused_and_engines_are_pluggable():
    with pytest.raises(ValueError, match="fork"):
        LocalPoolExecutor(2, context="fork")
    assert {"local", "serial"} <= set(engines.names())
    assert isinstance(make_executor("local", 1), SerialExecutor)
    assert isinstance(make_executor("local", 3), LocalPoolExecutor)
    # the Ray engine registers on first use; building it does not start Ray
    assert type(make_executor("ray", 2)).__name__ == "RayExecutor"
    with pytest.raises(KeyError, match="known: local, ray, serial"):
        make_executor("nope")


def test_parallel_ablation_equals_sequential(tmp_path):
    serial = ablate(tmp_path, "serial", workers=1)
    parallel = ablate(tmp_path, "parallel", workers=2)
    a, b = files(serial), files(parallel)
    assert len(a) == 1 + 8 * 3 * 2  # composition.json + run.json/summary.json per run
    assert a == b
    assert len(invocations(parallel)) == 24


def test_ablation_finds_the_planted_composed_failure(tmp_path):
    root = ablate(tmp_path, "out", seeds=5)
    comp = json.loads((root / "composition.json").read_text())
    assert comp["runs"] == {"total": 40, "complete": 40, "reused": 0, "incomplete": []}
    failures = [(f["metric"], f["combination"]) for f in comp["composed_failures"]]
    assert failures == [("leak_surfaced_per_1k", ["a", "b"])]
    # the additive latent leaks and the all-zero retention metric are not composition
    assert {"leak_latent_per_1k", "retention_findings"} <= set(comp["metrics"])
    assert "mean_relational_risk" not in comp["metrics"]  # no such monitor ran
    assert comp["seeds"] == [0, 1, 2, 3, 4]
    assert [c["name"] for c in comp["cells"]][:2] == ["none", "a"]
    plan = json.loads((root / "plan.json").read_text())
    assert len(plan["tasks"]) == 40
    assert plan["tasks"][0]["run"] == "cells/none/seed-0"


def test_resume_skips_finished_runs_and_reruns_partial_ones(tmp_path):
    root = ablate(tmp_path, "out")
    assert len(invocations(root)) == 24
    first = (root / "composition.json").read_text()
    # simulate an interrupt: one run half-written, one never started
    partial = root / "cells" / "a+c" / "seed-2"
    (partial / "run.json").write_text(json.dumps({"status": "running"}))
    (partial / "stale.txt").write_text("left by the crash")
    missing = root / "cells" / "b" / "seed-0"
    for p in missing.iterdir():
        p.unlink()
    missing.rmdir()
    (root / "invocations.log").unlink()
    ablate(tmp_path, "out")
    assert sorted(invocations(root)) == ["a+c/2", "b/0"]
    assert not (partial / "stale.txt").exists()  # removed before the re-run
    # the resumed ablation reports the same analysis
    comp = json.loads((root / "composition.json").read_text())
    assert comp["runs"]["reused"] == 22
    comp["runs"]["reused"] = 0
    assert json.dumps(comp, indent=2, sort_keys=True) + "\n" == first
    # and a third call re-runs nothing at all
    (root / "invocations.log").unlink()
    ablate(tmp_path, "out")
    assert invocations(root) == []


def test_resume_never_deletes_a_partial_run_another_process_holds(tmp_path):
    from sandbox.record.lock import FolderBusyError, FolderLock

    root = ablate(tmp_path, "out")
    partial = root / "cells" / "a+c" / "seed-2"
    (partial / "run.json").write_text(json.dumps({"status": "running"}))
    (partial / "live.txt").write_text("still being written")
    (root / "invocations.log").unlink()
    with FolderLock(partial), pytest.raises(FolderBusyError):  # e.g. a `run --resume` on it
        ablate(tmp_path, "out")
    assert (partial / "live.txt").exists()  # nothing of the live run was deleted
    assert invocations(root) == []
    ablate(tmp_path, "out")  # once it is gone, the partial run is redone
    assert invocations(root) == ["a+c/2"] and not (partial / "live.txt").exists()


def test_failed_cell_is_recorded_and_rerun_on_resume(tmp_path):
    root = ablate(tmp_path, "out", fn=flaky_cell)
    comp = json.loads((root / "composition.json").read_text())
    bad = comp["runs"]["incomplete"]
    assert len(bad) == 1 and bad[0]["cell"] == "a+b" and bad[0]["seed"] == 1
    assert bad[0]["status"] == "running" and "simulated crash" in bad[0]["error"]
    stats = {s["cell"]: s for s in comp["cell_stats"]["leak_surfaced_per_1k"]}
    assert stats["a+b"]["n"] == 2
    (root / "invocations.log").unlink()
    ablate(tmp_path, "out", fn=fake_cell)
    assert invocations(root) == ["a+b/1"]


def test_a_different_plan_in_the_same_folder_is_refused(tmp_path):
    ablate(tmp_path, "out", seeds=2)
    with pytest.raises(AblationPlanError, match="different plan"):
        ablate(tmp_path, "out", seeds=3)


DRIVER = """
import signal, sys
sys.path.insert(0, {here!r})
from composition_fakes import {fn}
from sandbox.ablate import run_ablation
if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    run_ablation("scenario.yaml", ["a", "b", "c"], 3, workers=2, out_root="out",
                 ablation_id="abl", cell_fn={fn}, base_components=[], progress=False, n_boot=50)
"""


def test_ctrl_c_then_resume_runs_only_what_did_not_finish(tmp_path):
    (tmp_path / "scenario.yaml").write_text("name: fake\n")
    here = str(Path(__file__).parent)
    (tmp_path / "drive.py").write_text(DRIVER.format(here=here, fn="slow_cell"))
    proc = subprocess.Popen(
        [sys.executable, "drive.py"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    root = tmp_path / "out" / "abl"
    deadline = time.monotonic() + 60
    while len(invocations(root)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # the whole group, like Ctrl-C in a terminal
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    assert not (root / "composition.json").exists()
    runs = list((root / "cells").glob("*/seed-*"))
    finished = [r for r in runs if run_status(r) == "complete"]
    assert 0 < len(finished) < 24
    (root / "invocations.log").unlink()
    ablate(tmp_path, "out", fn=fake_cell)  # resume, in this process
    assert len(invocations(root)) == 24 - len(finished)
    assert json.loads((root / "composition.json").read_text())["runs"]["complete"] == 24


def test_component_names_that_would_escape_the_folder_are_refused(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("name: fake\n")
    with pytest.raises(ValueError, match="plain words"):
        run_ablation(
            scenario,
            ["a", "../b"],
            1,
            out_root=tmp_path,
            cell_fn=fake_cell,
            base_components=[],
            progress=False,
        )
    assert not (tmp_path / "..b").exists() and list(tmp_path.iterdir()) == [scenario]
