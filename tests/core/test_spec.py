from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.spec import SpecError, load_bundle, validate_file
from sandbox.spec.loader import load_model
from sandbox.spec.persona import Persona, canary_entropy_bits

ROOT = Path(__file__).resolve().parents[2]


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


PERSONA = """\
id: ana
display_name: Ana
secrets:
  - id: pin
    topic: pin
    text: "my pin is QZ4-8KXW-7RM2T"
    canary: QZ4-8KXW-7RM2T
"""


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path / "personas" / "ana.yaml", PERSONA + "favourite_colour: blue\n")
    with pytest.raises(SpecError) as ei:
        load_model(p, Persona)
    (issue,) = ei.value.issues
    assert issue.file == str(p)
    assert issue.line == 8
    assert issue.field == "favourite_colour"
    assert "unknown field" in issue.message


def test_wrong_type_points_at_nested_line(tmp_path: Path) -> None:
    text = PERSONA + "vulnerabilities:\n  - kind: gambling\n    severity: lots\n"
    p = write(tmp_path / "ana.yaml", text)
    with pytest.raises(SpecError) as ei:
        load_model(p, Persona)
    (issue,) = ei.value.issues
    assert issue.line == 10
    assert issue.field == "vulnerabilities.0.severity"


def test_bad_evolution_action_and_low_entropy_canary(tmp_path: Path) -> None:
    text = PERSONA.replace("QZ4-8KXW-7RM2T", "aaaa1111") + (
        "evolution:\n  - at_session: 1\n    action: explode\n"
    )
    p = write(tmp_path / "ana.yaml", text)
    with pytest.raises(SpecError) as ei:
        load_model(p, Persona)
    fields = {i.field for i in ei.value.issues}
    assert "secrets.0.canary" in fields
    assert any(f.startswith("evolution.0") for f in fields)
    lines = {i.field: i.line for i in ei.value.issues}
    assert lines["secrets.0.canary"] == 7


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    p = write(tmp_path / "x.yaml", "id: a\ndisplay_name: [unclosed\n")
    with pytest.raises(SpecError) as ei:
        load_model(p, Persona)
    assert ei.value.issues[0].line is not None
    assert "invalid YAML" in ei.value.issues[0].message


def test_missing_persona_file_is_reported_with_scenario_line(tmp_path: Path) -> None:
    write(tmp_path / "agent.yaml", "name: a\n")
    sc = write(
        tmp_path / "s.yaml",
        "name: s\ncast:\n  - persona: nope.yaml\nagent: agent.yaml\n",
    )
    with pytest.raises(SpecError) as ei:
        load_bundle(sc)
    (issue,) = ei.value.issues
    assert issue.field == "cast.0.persona" and issue.line == 3
    assert "not found" in issue.message


def test_canary_entropy() -> None:
    assert canary_entropy_bits("MQ7-TX4R-92KZW") >= 40
    assert canary_entropy_bits("1111aaaa") < 40


def test_every_shipped_spec_validates() -> None:
    files = sorted(ROOT.glob("personas/**/*.yaml")) + sorted(ROOT.glob("scenarios/**/*.yaml"))
    assert len(files) >= 10
    for f in files:
        validate_file(f)


def test_validate_cli_exit_code_and_nothing_written(tmp_path: Path) -> None:
    bad = write(tmp_path / "personas" / "bad.yaml", PERSONA + "oops: 1\n")
    sandbox = shutil.which("sandbox") or str(Path(sys.executable).parent / "sandbox")
    r = subprocess.run([sandbox, "validate", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{bad}:8 [oops]" in r.stderr
    sc = write(
        tmp_path / "s.yaml", "name: s\ncast:\n  - persona: personas/bad.yaml\nagent: a.yaml\n"
    )
    out = tmp_path / "runs"
    r = subprocess.run([sandbox, "run", str(sc), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    assert not out.exists()


def test_schemas_are_current() -> None:
    sandbox = shutil.which("sandbox") or str(Path(sys.executable).parent / "sandbox")
    r = subprocess.run(
        [sandbox, "schema", "--check", "--out", str(ROOT / "schemas")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
