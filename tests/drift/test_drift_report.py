"""`sandbox report drift` at reduced size: counts, intervals, lag distribution, power, floors.

Runs the small drift scenario and its no-change control (adaptation on) over 3 seeds,
with a small power study; the finished runs are reused by the second invocation, which
only moves a floor to check that the report fails (exit 1) below it.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sandbox.analysis.drift_validation import check_floors, drift_power, proportion
from sandbox.analysis.stats import wilson
from sandbox.cli.main import app

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def _invoke(out: Path, *extra: str) -> tuple[int, str]:
    args = [
        "report",
        "drift",
        "--seeds",
        "3",
        "--drift",
        str(DATA / "drift-small.yaml"),
        "--control",
        str(DATA / "drift-small-control.yaml"),
        "--workers",
        "2",
        "--power-series",
        "20",
        "--out",
        str(out),
        *extra,
    ]
    res = CliRunner().invoke(app, args)
    return res.exit_code, res.output


def test_wilson_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and 0.15 < hi < 0.17
    lo, hi = wilson(20, 20)
    assert 0.83 < lo < 0.85 and hi == 1.0
    assert proportion(3, 4) == {"k": 3, "n": 4, "rate": 0.75, "ci95": [0.3006, 0.9544]}


def test_power_table_small() -> None:
    p = drift_power(lengths=(8, 24), effects=(3.0,), n_series=30)
    assert [c["length"] for c in p["false_alarm"]] == [8, 24]
    big = {c["length"]: c for c in p["cells"]}
    assert big[24]["k"] >= 27 and big[24]["n"] == 30  # a 3 SD step over 24 sessions
    assert all(c["rate"] <= 0.25 for c in p["false_alarm"])
    assert p["sessions_needed"]["3"] in (8, 24)
    assert drift_power(lengths=(8,), effects=(3.0,), n_series=30) == drift_power(
        lengths=(8,), effects=(3.0,), n_series=30
    )


def test_report_drift_reduced_runs_with_counts_and_fails_below_floors(tmp_path: Path) -> None:
    # Recall is held to the default floor. The control's floor is looser than the default:
    # half of this small cast is Maya, the one user whom the adapting agent drifts without
    # any relapse (full size, scenarios/drift-control.yaml: 5 of 120 users over 20 seeds,
    # all Maya, 5 of her 20; here seeds 0 and 1 flag her: 2 of 6).
    code, output = _invoke(tmp_path, "--max-control-false-alarm", "0.5")
    assert code == 0, output
    assert "onset lag" in output and "power" in output
    data = json.loads((tmp_path / "drift-validation.json").read_text())
    m = data["measures"]
    assert m["recall"]["n"] == 3  # one relapsing user per seed
    assert m["control_false_alarm"]["n"] == 6  # two users per seed, none changing
    assert m["clean_false_alarm"] is None  # the adaptation-off variant only on request
    for key in ("recall", "onset_after_change", "control_false_alarm"):
        assert set(m[key]) == {"k", "n", "rate", "ci95"}
        lo, hi = m[key]["ci95"]
        assert lo <= m[key]["rate"] <= hi
    lag = data["onset_lag"]
    assert sum(lag["histogram"].values()) == lag["after_change"]
    assert sum(lag["early_histogram"].values()) == lag["early"]
    assert lag["after_change"] + lag["early"] + lag["no_onset"] == m["recall"]["k"]
    assert data["power"]["n_series"] == 20 and data["power"]["sessions_needed"].keys() == {
        "1.5",
        "2",
        "3",
    }
    assert data["check"]["passed"] is True

    # The same runs (reused), a floor out of reach: the report fails.
    code, output = _invoke(
        tmp_path, "--no-power", "--max-control-false-alarm", "0.5", "--min-recall", "1.01"
    )
    assert code == 1, output
    data = json.loads((tmp_path / "drift-validation.json").read_text())
    assert data["check"]["failures"] and data["power"] is None
    assert check_floors(data, max_control_false_alarm=-0.1)


def test_report_drift_runs_every_scenario_with_the_judge_asked_for(tmp_path: Path) -> None:
    args = ["report", "drift", "--seeds", "1", "--drift", str(DATA / "drift-small.yaml")]
    args += ["--control", str(DATA / "drift-small-control.yaml"), "--no-power"]
    res = CliRunner().invoke(app, [*args, "--judge", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown judge 'nope'" in res.output
    assert "triple" in res.output  # the known ones are listed
    assert not list(tmp_path.iterdir())  # nothing was run
    res = CliRunner().invoke(
        app, [*args, "--judge", "triple", "--workers", "1", "--out", str(tmp_path)]
    )
    assert res.exit_code in (0, 1), res.output  # floors may fail on one seed
    data = json.loads((tmp_path / "drift-validation.json").read_text())
    assert data["scenarios"]["judge"] == "triple"
    runs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert runs == ["control-seed-0-triple", "drift-seed-0-triple"]
    for run in runs:
        summary = json.loads((tmp_path / run / "summary.json").read_text())
        assert summary["monitors"]["relational_safety"]["judge"]["name"] == "triple"
