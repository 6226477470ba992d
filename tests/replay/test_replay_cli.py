from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from replay_builders import build_long_run, build_small_run
from typer.testing import CliRunner

from sandbox.cli.inspect_cmds import register
from sandbox.replay.output import open_output


@pytest.fixture
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)
    return a


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    build_small_run(root)
    build_small_run(root / "ablation", "cell-1", finish=False)
    return root


def invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120", **(env or {})})
    return result


def test_list_shows_nested_runs_with_counts(app, runs):
    r = invoke(app, "list", "--runs-dir", str(runs))
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("small"))
    assert row.split()[2:6] == ["complete", "2", "3", "1"]
    live = next(line for line in r.output.splitlines() if line.startswith("ablation/cell-1"))
    assert "running" in live
    data = json.loads(invoke(app, "list", "--runs-dir", str(runs), "--json").output)
    assert {d["id"] for d in data} == {"small", "ablation/cell-1"}


def test_runs_dir_from_environment(app, runs):
    r = invoke(app, "list", env={"SANDBOX_RUNS_DIR": str(runs)})
    assert "ablation/cell-1" in r.output


def test_show_renders_summary_and_fallback(app, runs):
    r = invoke(app, "show", "small", "--runs-dir", str(runs))
    assert r.exit_code == 0, r.output
    assert "cross_user_leakage" in r.output and "leak matrix" in r.output
    assert "⚑ drift from session 2" in r.output
    r = invoke(app, "show", "cell-1", "--runs-dir", str(runs))
    assert "no summary.json yet (status running)" in r.output
    assert "cross_user_leakage" in r.output


def test_replay_filters_from_the_command_line(app, runs):
    r = invoke(
        app,
        "replay",
        "small",
        "--runs-dir",
        str(runs),
        "-u",
        "maya",
        "-s",
        "1",
        "--monitor",
        "cross_user_leakage",
        "--findings-only",
    )
    assert r.exit_code == 0, r.output
    assert "Leo mentioned" in r.output and "Between us" not in r.output
    assert "Done, I forgot it" not in r.output


def test_replay_by_path_json_memory_and_explain(app, runs):
    path = str(runs / "small")
    r = invoke(app, "replay", path, "--json", "-u", "leo")
    assert {json.loads(line)["user"] for line in r.output.splitlines()} == {"leo"}
    r = invoke(app, "replay", path, "--memory", "--session", "1", "--user", "maya")
    assert "memory of maya after session 1" in r.output and "soft-deleted" in r.output
    r = invoke(app, "replay", path, "--memory", "--session", "1", "--json")
    assert json.loads(r.output)[0]["diff"]["soft_deleted"] == ["m-maya-1"]
    r = invoke(app, "replay", path, "--explain", "F00001")
    assert "memory it came from" in r.output and "said by leo" in r.output
    r = invoke(app, "replay", path, "--explain", "F00001", "--json")
    assert json.loads(r.output)["writes"][0]["seq"] == 3


def test_replay_errors(app, runs):
    r = invoke(app, "replay", "nope", "--runs-dir", str(runs))
    assert r.exit_code == 2 and "no run 'nope'" in r.output
    r = invoke(app, "replay", "small", "--runs-dir", str(runs), "--session", "7..3")
    assert r.exit_code == 2 and "empty session range" in r.output
    r = invoke(app, "replay", "small", "--runs-dir", str(runs), "--explain", "F404")
    assert r.exit_code == 1
    r = invoke(app, "replay", "small", "--runs-dir", str(runs), "--memory", "-s", "9")
    assert "no session 9 recorded" in r.output


def test_pager_streams_through_pager_command(monkeypatch, tmp_path: Path):
    out = tmp_path / "paged.txt"
    monkeypatch.setenv("SANDBOX_PAGER", f"sh -c 'cat > {out}'")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    with open_output(page=True, width=60) as console:
        assert console.is_terminal
        from rich.text import Text

        console.print(Text("paged line", "bold"))
    assert "paged line" in out.read_text() and "\x1b[1m" in out.read_text()


def test_quitting_the_pager_early_is_quiet(monkeypatch):
    monkeypatch.setenv("SANDBOX_PAGER", "head -c 1")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    from rich.text import Text

    with open_output(page=True, width=60) as console:
        for _ in range(20_000):
            console.print(Text("x" * 50))


def test_piped_output_to_a_closed_reader_exits_cleanly(tmp_path: Path):
    run = build_long_run(tmp_path)
    code = (
        "import typer; from sandbox.cli.inspect_cmds import register;"
        "app = typer.Typer(); register(app); app()"
    )
    cmd = f"{sys.executable} -c '{code}' replay {run} --no-pager | head -n 2"
    p = subprocess.run(
        ["sh", "-c", cmd],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert "run long" in p.stdout
    assert "Traceback" not in p.stderr and "Exception" not in p.stderr
    assert p.returncode == 0


def test_follow_waits_for_a_run_that_has_not_started(app, tmp_path: Path):
    import threading
    import time

    root = tmp_path / "later"
    root.mkdir()
    writer = threading.Thread(target=lambda: (time.sleep(0.6), build_small_run(root)))
    writer.start()
    t0 = time.monotonic()
    r = invoke(app, "replay", "small", "--runs-dir", str(root), "--follow", "--json")
    writer.join()
    assert r.exit_code == 0, r.output
    assert time.monotonic() - t0 >= 0.5
    assert "waiting for run 'small' to start" in r.output
    kinds = [json.loads(line)["kind"] for line in r.output.splitlines() if line.startswith("{")]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    # without --follow a missing run is still an error at once
    r = invoke(app, "replay", "nope", "--runs-dir", str(root))
    assert r.exit_code == 2 and "no run 'nope'" in r.output


def test_replay_monitor_category_and_a_count_of_what_was_shown(app, runs):
    args = ["replay", "small", "--runs-dir", str(runs), "--findings-only"]
    r = invoke(app, *args, "--monitor", "cross_user_leakage/surfaced")
    assert r.exit_code == 0, r.output
    assert "Leo mentioned" in r.output
    assert "shown: 1 turn with 1 finding that pass the filters" in r.output
    r = invoke(app, *args, "--monitor", "retention")  # configured, but found nothing
    assert r.exit_code == 0, r.output
    assert "Leo mentioned" not in r.output
    assert "shown: 0 turns with 0 findings" in r.output
    r = invoke(app, *args, "--severity", "medium", "--owner", "leo")
    assert "shown: 1 turn with 1 finding" in r.output
    r = invoke(app, *args, "--severity", "critical")
    assert "shown: 0 turns" in r.output
