"""One executor factory for suites, ablations and reports; ``--address`` joins a Ray cluster.

Every Ray start here runs inside a network namespace that has only loopback
(``unshare -n``), with usage stats off and the node on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.execute import LocalPoolExecutor, SerialExecutor, make_executor

DATA = Path(__file__).parent / "data"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # the node address is loopback, not probed
}
SANDBOX = [sys.executable, "-c", "from sandbox.cli.main import main; main()"]


def _in_loopback_netns(
    script: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a new network namespace with only `lo`, up."""
    return subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up && " + script],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE, **(env or {})},
        timeout=timeout,
    )


def _q(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _composition(root: Path) -> dict[str, Any]:
    comp = json.loads(next(root.glob("*/composition.json")).read_text())
    return json.loads(json.dumps(comp).replace(str(root.resolve()), "ROOT"))


def test_factory_names_and_address_rules():
    assert isinstance(make_executor("pool", 1), SerialExecutor)
    assert isinstance(make_executor("pool", 3), LocalPoolExecutor)
    assert isinstance(make_executor("serial", 4), SerialExecutor)
    ray = make_executor("ray", 2, "127.0.0.1:6379")  # building it starts nothing
    assert type(ray).__name__ == "RayExecutor" and ray.address == "127.0.0.1:6379"  # type: ignore[attr-defined]
    for engine in ("pool", "local", "serial"):
        with pytest.raises(ValueError, match="runs here only"):
            make_executor(engine, 2, "127.0.0.1:6379")


@pytest.mark.parametrize(
    "argv",
    [
        ["suite", "run", str(DATA / "tiny-suite.yaml")],
        ["ablate", str(DATA / "tiny.yaml"), "-c", "episodic_memory"],
        ["report", "drift", "--seeds", "1"],
        ["report", "leaks"],
    ],
)
def test_every_many_runs_command_refuses_a_bad_executor_before_running(argv, tmp_path):
    runner = CliRunner()
    out = ["--out", str(tmp_path / "o")] if argv[0] != "report" or argv[1] == "drift" else []
    r = runner.invoke(app, [*argv, *out, "--executor", "nope"])
    assert r.exit_code == 2, r.output
    assert "unknown" in r.output and "known: local, ray, serial" in r.output
    r = runner.invoke(app, [*argv, *out, "--executor", "pool", "--address", "10.0.0.1:6379"])
    assert r.exit_code == 2, r.output
    assert "--address joins a cluster" in r.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("run.json"))


def test_leak_report_is_the_same_on_a_pool_as_serially(tmp_path):
    from sandbox.analysis.leak_eval import DEFAULT_CORPUS, evaluate, load_corpus

    cases = [c for c in load_corpus(DEFAULT_CORPUS) if c.get("split") == "test"][:40]
    ticks: list[int] = []
    serial = evaluate(cases, "test").as_dict()
    pooled = evaluate(
        cases, "test", on_case=lambda: ticks.append(1), executor=LocalPoolExecutor(2)
    ).as_dict()
    assert serial["cases"] == 40 and len(ticks) == 40
    assert pooled == serial


@pytest.mark.slow
def test_ablation_on_ray_equals_the_pool(tmp_path):
    common = [str(DATA / "tiny.yaml"), "-c", "episodic_memory", "--seeds", "2", "-q", "-w", "2"]
    pool_out, ray_out = tmp_path / "pool", tmp_path / "ray"
    ray_cmd = _q([*SANDBOX, "ablate", *common, "--executor", "ray", "--out", str(ray_out)])
    done = _in_loopback_netns(ray_cmd, timeout=420)
    res = CliRunner().invoke(
        app, ["ablate", *common, "--executor", "pool", "--out", str(pool_out), "--json"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert res.exit_code == 0, res.output
    pool, ray = _composition(pool_out), _composition(ray_out)
    assert ray["runs"] == {"total": 4, "complete": 4, "reused": 0, "incomplete": []}
    # not a trivial result: memory on or off changes what leaks
    assert pool["metrics"] and pool["cell_stats"]
    assert ray == pool


HEAD = """
import logging, sys
import ray
ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
         num_cpus=2, num_gpus=0, object_store_memory=128 * 1024 * 1024,
         logging_level=logging.WARNING)
print("GCS", ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # serve until the driver closes our stdin
ray.shutdown()  # stops the processes this head started, and only them
"""

DRIVER = """
import json, os, subprocess, sys
head = subprocess.Popen([sys.executable, "-c", HEAD], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True)
try:
    line = head.stdout.readline()
    assert line.startswith("GCS "), line
    address = line.split()[1]
    cli = "import os; open(PID, 'w').write(str(os.getpid())); "
    cli += "from sandbox.cli.main import main; main()"
    rc = subprocess.call([sys.executable, "-c", cli, *ARGS, "--address", address])
    print(json.dumps({"address": address, "rc": rc}))
finally:
    head.stdin.close()
    head.wait(timeout=120)
"""


@pytest.mark.slow
def test_suite_joins_a_running_ray_cluster_by_address(tmp_path):
    out, pid_file = tmp_path / "out", tmp_path / "cli.pid"
    args = [
        *("suite", "run", str(DATA / "tiny-suite.yaml"), "--suite-id", "tiny", "-q"),
        *("--executor", "ray", "--out", str(out), "--json", str(tmp_path / "ray.json")),
    ]
    driver = f"HEAD = {HEAD!r}\nARGS = {args!r}\n"
    driver += DRIVER.replace("PID", repr(str(pid_file)))
    # the cluster keeps Ray's token authentication on: head and command share a token
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    done = _in_loopback_netns(_q([sys.executable, "-c", driver]), timeout=420, env=token)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["address"].startswith("127.0.0.1:"), log
    assert got["rc"] == 1, log  # the shared config fails its leak gate
    assert (tmp_path / "ray.json").is_file(), log
    result = json.loads((tmp_path / "ray.json").read_text())
    assert result["runs"] == {"total": 4, "complete": 4, "reused": 0, "errored": []}
    assert [g["status"] for g in result["gates"]].count("fail") >= 1
    # the cells ran in the cluster's workers, not in the command's own process
    pids = {json.loads(p.read_text())["pid"] for p in out.glob("tiny/cells/*/*/seed-*/run.json")}
    assert len(pids) >= 1 and int(pid_file.read_text()) not in pids


def test_an_address_with_no_cluster_behind_it_exits_2(tmp_path):
    cli = _q(
        [
            *SANDBOX,
            *("suite", "run", str(DATA / "tiny-suite.yaml"), "--suite-id", "t", "-q"),
            *("--executor", "ray", "--address", "127.0.0.1:9", "--out", str(tmp_path)),
        ]
    )
    done = _in_loopback_netns(cli, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot join the Ray cluster at 127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("run.json"))
