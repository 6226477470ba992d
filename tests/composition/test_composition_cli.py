"""The `ablate` command and the terminal view."""

from __future__ import annotations

import json

import pytest
import typer
from composition_fakes import fake_cell
from rich.console import Console
from typer.testing import CliRunner

import sandbox.ablate
from sandbox.analysis.composition_view import COMPOSED_STYLE, composition_matrix, render_composition
from sandbox.cli.ablate_cmd import parse_seeds, register


@pytest.fixture
def app():
    a = typer.Typer()
    register(a)

    @a.command()
    def other() -> None:  # a second command, so `ablate` is addressed by name
        pass

    return a


@pytest.fixture
def fake_runs(monkeypatch):
    calls = []
    real = sandbox.ablate.run_ablation

    def wrapped(*args, **kw):
        calls.append((args, kw))
        return real(*args, cell_fn=fake_cell, base_components=[], n_boot=200, **kw)

    monkeypatch.setattr(sandbox.ablate, "run_ablation", wrapped)
    return calls


def test_parse_seeds_forms():
    assert parse_seeds("5") == 5
    assert parse_seeds("1,2,7") == [1, 2, 7]
    assert parse_seeds("3-5") == [3, 4, 5]
    for bad in ("0", "x", "5-3"):
        with pytest.raises(typer.BadParameter):
            parse_seeds(bad)


def test_ablate_command_runs_and_highlights_the_composed_failure(app, fake_runs, tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\n")
    args = [
        "ablate",
        str(tmp_path / "s.yaml"),
        "--components",
        "a,b,c",
        "--seeds",
        "0-3",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "runs"),
        "--ablation-id",
        "x",
        "-q",
    ]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    _, kw = fake_runs[0]
    assert kw["design"] == "full" and kw["workers"] == 1 and kw["ablation_id"] == "x"
    assert "Composed failures" in res.output
    assert "▲" in res.output
    assert (tmp_path / "runs" / "x" / "composition.json").is_file()
    res = CliRunner().invoke(app, [*args, "--json"])
    assert json.loads(res.stdout)["composed_failures"][0]["combination"] == ["a", "b"]


def test_ablate_design_flag_and_bad_values(app, fake_runs, tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\n")
    base = ["ablate", str(tmp_path / "s.yaml"), "-c", "a,b,c", "--out", str(tmp_path), "-q"]
    res = CliRunner().invoke(app, [*base, "--design", "pairs", "--seeds", "2", "-w", "1"])
    assert res.exit_code == 0, res.output
    assert fake_runs[-1][1]["design"] == "pairs"
    assert CliRunner().invoke(app, [*base, "--design", "latin"]).exit_code == 2
    assert CliRunner().invoke(app, [*base, "--seeds", "zero"]).exit_code == 2


def test_unknown_component_on_a_real_scenario_is_an_error(app, root, tmp_path):
    scenario = root / "scenarios" / "quickstart.yaml"
    res = CliRunner().invoke(
        app,
        ["ablate", str(scenario), "-c", "episodic_memory,telepathy", "--out", str(tmp_path), "-q"],
    )
    assert res.exit_code == 2
    assert "telepathy" in res.output
    assert not any(tmp_path.iterdir())  # nothing written


def _comp(**over):
    comp = {
        "ablation_id": "t",
        "design": "full",
        "components": ["a", "b"],
        "seeds": [0, 1],
        "cells": [
            {"name": n, "on": on}
            for n, on in (("none", []), ("a", ["a"]), ("b", ["b"]), ("a+b", ["a", "b"]))
        ],
        "metrics": ["leak"],
        "cell_stats": {
            "leak": [
                {"cell": n, "mean": v, "ci": [v, v], "n": 2}
                for n, v in (("none", 0.0), ("a", 0.0), ("b", 0.0), ("a+b", 5.0))
            ]
        },
        "effects": {"leak": [{"combination": ["a"], "order": 1, "estimate": 0.0, "ci": [0, 0]}]},
        "factorial_effects": {},
        "composed_failures": [
            {
                "rank": 1,
                "metric": "leak",
                "combination": ["a", "b"],
                "cell": "a+b",
                "mean": 5.0,
                "ci": [5.0, 5.0],
                "worst_sub_combination": ["a"],
                "worst_sub_mean": 0.0,
                "margin": 5.0,
                "relative_margin": 1.0,
                "interaction": 5.0,
                "interaction_ci": [5.0, 5.0],
                "p_value": 0.0,
                "p_holm": 0.0,
                "supersets": [],
            }
        ],
        "runs": {"total": 8, "complete": 8, "reused": 0, "incomplete": []},
        "method": {"alpha": 0.05},
    }
    comp.update(over)
    return comp


def test_matrix_highlights_only_the_composed_cell():
    table = composition_matrix(_comp())
    leak = table.columns[2]  # after the two component columns
    cells = list(leak.cells)
    assert cells[3].plain.startswith("▲ 5")
    assert cells[3].style == COMPOSED_STYLE
    assert all(c.style == "" for c in cells[:3])


def test_render_strips_terminal_control_sequences():
    evil = "a\x1b[2J\x1b]52;c;SGVsbG8=\x07"
    comp = _comp(components=[evil, "b"], ablation_id="t\x1b[31m")
    comp["cells"][1]["on"] = [evil]
    comp["composed_failures"][0]["combination"] = [evil, "b"]
    comp["runs"]["incomplete"] = [
        {"cell": "a", "seed": 1, "status": "failed", "error": "boom\x1b[2J"}
    ]
    console = Console(record=True, width=200, force_terminal=False)
    render_composition(comp, console)
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out
    assert "run a/seed-1 is failed: boom" in out


def test_render_without_metrics_says_so():
    console = Console(record=True, width=120)
    render_composition(_comp(metrics=[], cell_stats={}, composed_failures=[]), console)
    out = console.export_text()
    assert "No failure metrics" in out and "Failure metrics per cell" not in out
