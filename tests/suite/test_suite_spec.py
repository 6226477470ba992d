"""Suite files: validation with file:line [field] errors, overrides, gate strings, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.spec import SpecError
from sandbox.suite.spec import deep_merge, load_suite, parse_gate

DATA = Path(__file__).parent / "data"


def _suite(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "s.yaml"
    scen = (DATA / "tiny.yaml").resolve()
    p.write_text(body.replace("SCEN", str(scen)), encoding="utf-8")
    return p


def test_shipped_and_test_suites_load():
    loaded = load_suite(DATA / "tiny-suite.yaml")
    assert [c.name for c in loaded.suite.configs] == ["isolated", "shared"]
    assert list(loaded.seeds.values()) == [(3, 4)]
    assert loaded.suite.gates[0].metric == "surfaced_leaks"
    assert loaded.suite.gates[0].op == "=="
    assert loaded.suite.gates[1].relative
    root = Path(__file__).resolve().parents[2]
    shipped = load_suite(root / "scenarios" / "suites" / "leakage.yaml")
    assert shipped.suite.baseline == "isolated"
    # a seed count starts at the scenario's own seed (leakage.yaml: 10)
    assert list(shipped.seeds.values()) == [(10, 11, 12)]


def test_gate_strings():
    assert parse_gate("relational_harm_per_1k < 5") == {
        "metric": "relational_harm_per_1k",
        "op": "<",
        "value": 5.0,
    }
    assert parse_gate("findings.drift.x>=1e-3")["value"] == 0.001
    for bad in ("leaks", "leaks = 0", "leaks == zero", "== 0"):
        with pytest.raises(ValueError):
            parse_gate(bad)


def test_deep_merge_keeps_siblings():
    base = {"memory": {"isolation": "shared", "top_k": 3}, "name": "a"}
    assert deep_merge(base, {"memory": {"isolation": "per_user"}}) == {
        "memory": {"isolation": "per_user", "top_k": 3},
        "name": "a",
    }


@pytest.mark.parametrize(
    ("body", "line", "field", "words"),
    [
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    colour: red\n",
            5,
            "configs.0.colour",
            "unknown field",
        ),
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\ngates:\n  - leaks = 0\n",
            6,
            "gates.0",
            "METRIC OP NUMBER",
        ),
        (
            "name: s\nscenarios: [SCEN]\nbaseline: nope\nconfigs:\n  - name: a\n",
            1,
            "",
            "baseline 'nope'",
        ),
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n  - name: b\n"
            "gates:\n  - {metric: x, margin: 1}\n",
            1,
            "",
            "no baseline",
        ),
        (
            "name: s\nscenarios: [missing.yaml]\nconfigs:\n  - name: a\n",
            2,
            "scenarios.0",
            "not found",
        ),
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    set:\n      agent:\n"
            "        memory: {isolation: bogus}\n",
            7,
            "configs.0.set.agent.memory.isolation",
            "per_user",
        ),
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    set:\n      scenario:\n"
            "        cast: []\n",
            6,
            "configs.0.set.scenario",
            "name files",
        ),
        (
            "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    set:\n      scenario:\n"
            "        schedule: {sessions_per_user: 0}\n",
            7,
            "configs.0.set.scenario.schedule.sessions_per_user",
            "greater than or equal",
        ),
    ],
)
def test_invalid_suites_name_file_line_and_field(tmp_path, body, line, field, words):
    p = _suite(tmp_path, body)
    with pytest.raises(SpecError) as info:
        load_suite(p)
    issues = info.value.issues
    assert any(
        i.file == str(p) and i.line == line and i.field == field and words in i.message
        for i in issues
    ), [str(i) for i in issues]


def test_cli_validate_and_schema(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["suite", "validate", str(DATA / "tiny-suite.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "4 runs" in ok.output
    bad = _suite(tmp_path, "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    x: 1\n")
    res = runner.invoke(app, ["suite", "validate", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:5 [configs.0.x]: unknown field 'x'" in res.output
    res = runner.invoke(app, ["suite", "run", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["suite", "schema"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert {"scenarios", "configs", "gates", "seeds", "alpha"} <= set(schema["properties"])


def test_sandbox_validate_knows_a_suite_by_its_content(tmp_path):
    runner = CliRunner()
    root = Path(__file__).resolve().parents[2] / "scenarios" / "suites"
    shipped = sorted(root.glob("*.yaml"))
    assert [p.name for p in shipped] == ["ci.yaml", "leakage.yaml"]
    assert not list(root.glob("*.yml"))
    res = runner.invoke(app, ["validate", *map(str, shipped), str(DATA / "tiny-suite.yaml")])
    assert res.exit_code == 0, res.output
    assert res.output.count("(suite)") == 3
    # wherever it lives and whatever its name, a bad suite is named by file, line, field
    bad = _suite(tmp_path, "name: s\nscenarios: [SCEN]\nconfigs:\n  - name: a\n    x: 1\n")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:5 [configs.0.x]: unknown field 'x'" in res.output
    # a suite naming a missing scenario is caught too: its references are loaded
    bad.write_text("name: s\nscenarios: [nope.yaml]\nconfigs:\n  - name: a\n")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and f"{bad}:2 [scenarios.0]" in res.output
