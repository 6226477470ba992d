"""`sandbox run --fail-on`: a single run gated like a suite cell."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sandbox.cli.main import app

TINY = Path(__file__).resolve().parent / "data" / "tiny.yaml"


def _run(out: Path, run_id: str, fail_on: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        app, ["run", str(TINY), "--out", str(out), "--run-id", run_id, "-q", "--fail-on", fail_on]
    )
    return res.exit_code, res.stderr


def test_fail_on_gates_a_run(tmp_path: Path) -> None:
    # shared memory: the tiny scenario has high-severity latent leaks
    code, err = _run(tmp_path, "a", "high")
    assert code == 1
    assert "fail-on: severity.high" in err and "cross_user_leakage" in err
    code, err = _run(tmp_path, "b", "surfaced_leaks > 100000")
    assert code == 0, err
    assert (tmp_path / "b" / "summary.json").exists()


def test_bad_fail_on_is_refused_before_running(tmp_path: Path) -> None:
    code, err = _run(tmp_path, "c", "bogus")
    assert code == 2
    assert "--fail-on" in err
    assert not (tmp_path / "c").exists()
