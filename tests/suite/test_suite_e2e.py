"""A real suite: the simulation, monitors and gates end to end (two tiny configs, 2 seeds)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.record.reader import read_summary

DATA = Path(__file__).parent / "data"


@pytest.mark.slow
def test_real_suite_shared_memory_fails_the_leak_gate(tmp_path):
    junit = tmp_path / "j.xml"
    res = CliRunner().invoke(
        app,
        [
            "suite",
            "run",
            str(DATA / "tiny-suite.yaml"),
            "--out",
            str(tmp_path / "o"),
            "-w",
            "1",
            "-q",
            "--junit",
            str(junit),
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert res.exit_code == 1, res.output
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["runs"]["complete"] == 4
    # the override really changed the agent: per-user memory in the isolated runs
    iso = Path(result["folder"]) / "cells" / "tiny" / "isolated" / "seed-4"
    header = json.loads((iso / "run.json").read_text())
    assert header["spec"]["agent"]["memory"]["isolation"] == "per_user"
    assert header["seed"] == 4
    # metrics agree with the runs' own summaries
    surfaced = []
    for seed in (3, 4):
        s = read_summary(Path(result["folder"]) / "cells" / "tiny" / "shared" / f"seed-{seed}")
        surfaced.append(s["monitors"]["cross_user_leakage"]["by_category"].get("surfaced", 0))
    sh = result["configs"]["shared"]["metrics"]["surfaced_leaks"]
    assert sh["mean"] == pytest.approx(sum(surfaced) / 2) and sum(surfaced) > 0
    assert result["configs"]["isolated"]["metrics"]["surfaced_leaks"]["max"] == 0
    gates = {(g["config"], g["gate"]): g["status"] for g in result["gates"]}
    assert gates[("isolated", "surfaced_leaks == 0")] == "pass"
    assert gates[("shared", "surfaced_leaks == 0")] == "fail"
    cases = ET.parse(junit).getroot().findall("./testsuite/testcase")
    assert len(cases) == 3
