"""The ``ray`` executor engine: a real local Ray on 127.0.0.1 gives the serial engine's result.

Every Ray start here runs in a subprocess inside a network namespace that has only
loopback (``unshare -n``), so any attempt of Ray's to reach another address fails
there instead of leaving the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app

DATA = Path(__file__).parent / "data"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def _in_loopback_netns(argv: list[str]) -> subprocess.Popen[str]:
    """Start `argv` in a new network namespace with only `lo`, up."""
    return subprocess.Popen(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **OFFLINE},
    )


def _portable(result: dict[str, Any], out_root: Path) -> dict[str, Any]:
    """The result with its own folder written as ROOT and without its wall time."""
    text = json.dumps(result).replace(str(out_root.resolve()), "ROOT")
    out = json.loads(text)
    out.pop("wall_s")
    return out


@pytest.mark.slow
def test_ray_engine_gives_the_serial_result(tmp_path):
    serial_out, ray_out = tmp_path / "serial", tmp_path / "ray"
    common = [str(DATA / "tiny-suite.yaml"), "--suite-id", "tiny", "-q"]
    pid_file = tmp_path / "cli.pid"
    cli = f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
    cli += "from sandbox.cli.main import main; main()"
    # Ray starts in the background while the serial reference runs here
    proc = _in_loopback_netns(
        [
            *(sys.executable, "-c", cli, "suite", "run", *common),
            *("--executor", "ray", "--workers", "2"),
            *("--out", str(ray_out), "--json", str(tmp_path / "ray.json")),
        ]
    )
    try:
        res = CliRunner().invoke(
            app,
            [
                *("suite", "run", *common, "--executor", "serial"),
                *("--out", str(serial_out), "--json", str(tmp_path / "serial.json")),
            ],
        )
        output, _ = proc.communicate(timeout=240)
    finally:
        proc.kill()
        proc.wait()
    assert res.exit_code == 1, res.output  # the shared config fails the leak gate
    assert proc.returncode == 1, output

    serial = json.loads((tmp_path / "serial.json").read_text())
    ray = json.loads((tmp_path / "ray.json").read_text())
    assert ray["runs"] == {"total": 4, "complete": 4, "reused": 0, "errored": []}
    # not a trivial result: the configs differ and one gate fails
    assert serial["configs"]["shared"]["metrics"]["surfaced_leaks"]["mean"] > 0
    assert [g["status"] for g in ray["gates"]].count("fail") >= 1
    assert ray["gates"] == json.loads(
        json.dumps(serial["gates"]).replace(str(serial_out.resolve()), str(ray_out.resolve()))
    )
    assert ray["configs"] == serial["configs"]
    assert _portable(ray, ray_out) == _portable(serial, serial_out)

    # the cells really ran in Ray's worker processes (two of them), not in the CLI's
    pids = {
        json.loads(p.read_text())["pid"]
        for p in (ray_out / "tiny" / "cells").glob("*/*/seed-*/run.json")
    }
    assert len(pids) == 2 and int(pid_file.read_text()) not in pids


CONTRACT = """
import json, os, time
import ray
from sandbox.suite.ray_engine import RayExecutor

def task(x):
    time.sleep(3.0 if x == 0 else 0.05)
    if x == 3:
        raise KeyError("task 3 failed")
    return [x * 10, os.getpid()]

seen, out, error = [], [], None
try:
    for r in RayExecutor(2).map(task, [0, 1, 2, 3, 4], on_result=lambda i, r: seen.append(i)):
        out.append(r)
except KeyError as exc:
    error = str(exc)
print(json.dumps({"seen": seen, "out": out, "error": error, "pid": os.getpid(),
                  "still_up": ray.is_initialized(),
                  "usage_stats": os.environ.get("RAY_USAGE_STATS_ENABLED")}))
"""


@pytest.mark.slow
def test_ray_executor_keeps_task_order_and_raises_in_turn():
    proc = _in_loopback_netns([sys.executable, "-c", CONTRACT])
    try:
        output, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, output
    got = json.loads(output.strip().splitlines()[-1])
    # results in task order although task 0 finished last; on_result in completion order
    assert [r[0] for r in got["out"]] == [0, 10, 20]
    assert sorted(got["seen"]) == [0, 1, 2, 4] and got["seen"][-1] == 0
    assert "task 3 failed" in got["error"]
    assert got["pid"] not in {r[1] for r in got["out"]}
    assert got["still_up"] is False  # the local Ray it started is shut down
    assert got["usage_stats"] == "0"


def test_ray_engine_without_ray_exits_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    for k in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
        monkeypatch.setenv(k, "unset-by-test")  # restored afterwards
    res = CliRunner().invoke(
        app,
        [
            *("suite", "run", str(DATA / "tiny-suite.yaml"), "--executor", "ray", "-w", "2"),
            *("--out", str(tmp_path), "--suite-id", "t", "-q"),
        ],
    )
    assert res.exit_code == 2, res.output
    assert "the ray executor needs Ray" in res.output
    assert "pip install -c constraints.txt" in res.output
    assert not (tmp_path / "t" / "cells").exists()  # nothing ran
