"""Hostile spec files: every one is refused with file, line and message (exit 2), none crashes,
stalls or runs code; specs that would validate and then crash `run` are refused up front."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sandbox.spec import MAX_TURNS, SpecError, load_bundle, validate_file
from sandbox.spec.loader import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fuzz_specs  # noqa: E402

PERSONA = """\
id: ana
display_name: Ana
profile: {wish_rate: 0.2}
secrets:
  - id: pin
    topic: pin
    text: "my pin is QZ4-8KXW-7RM2T"
    canary: QZ4-8KXW-7RM2T
"""

AGENT = "name: a\nbackend: {name: reference}\n"


def scenario(extra: str = "", schedule: str = "") -> str:
    sched = schedule or "schedule: {sessions_per_user: 2, turns_per_session: 2}\n"
    return (
        "name: s\nseed: 1\ncast:\n  - persona: ../personas/ana.yaml\n"
        + sched
        + "agent: agents/a.yaml\n"
        + extra
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "personas").mkdir()
    (tmp_path / "scenarios" / "agents").mkdir(parents=True)
    (tmp_path / "personas" / "ana.yaml").write_text(PERSONA)
    (tmp_path / "scenarios" / "agents" / "a.yaml").write_text(AGENT)
    (tmp_path / "scenarios" / "s.yaml").write_text(scenario())
    return tmp_path


def refused(path: Path) -> SpecError:
    with pytest.raises(SpecError) as ei:
        validate_file(path)
    for issue in ei.value.issues:
        assert issue.file == str(path), issue
        assert issue.line is not None and issue.line >= 1, issue
    return ei.value


PWN = "/tmp/sandbox-hostile-pwned"

HOSTILE_PERSONAS = {
    "empty_value": ("id: ana\ndisplay_name:\n", "display_name"),
    "unknown_tag": ("id: ana\ndisplay_name: !foo Ana\n", "unsupported tag '!foo'"),
    "unknown_tag_alone": ("id: ana\ndisplay_name: !foo\n", "unsupported tag"),
    "complex_key": ("? [a, b]\n: 1\nid: ana\n", "complex keys"),
    "complex_map_key": ("? {a: 1}\n: 1\n", "complex keys"),
    "two_documents": ("id: ana\n---\nid: bob\n", "more than one YAML document"),
    "merge_key": ("base: &b {id: ana}\n<<: *b\n", "merge keys"),
    "set": ("id: ana\ndisplay_name: A\nprofile: !!set {a, b}\n", "'!!set'"),
    "omap": ("id: ana\ndisplay_name: A\nwishes: !!omap [{a: 1}]\n", "'!!omap'"),
    "binary": ("id: ana\ndisplay_name: !!binary aGVsbG8=\n", "'!!binary'"),
    "bad_bool": ("id: ana\ndisplay_name: A\nprofile: {x: !!bool maybe}\n", "not a valid !!bool"),
    "recursive_alias": ("id: ana\ndisplay_name: A\nwishes: &a [*a]\n", "recursive alias"),
    "recursive_map": ("id: ana\ndisplay_name: A\nprofile: &m {k: *m}\n", "recursive alias"),
    "alias_bomb": (fuzz_specs.ALIAS_BOMB, "values once aliases are expanded"),
    "huge_int": ("id: ana\ndisplay_name: A\nprofile: {age: " + "9" * 5000 + "}\n", "too long"),
    "deep_flow": ("id: ana\nwishes: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper"),
    "deep_block": ("id: ana\nwishes:\n" + "- " * 3000 + "x\n", "nested deeper"),
    "python_apply": (
        f"id: ana\ndisplay_name: !!python/object/apply:os.system ['touch {PWN}']\n",
        "unsupported tag",
    ),
    "python_name": ("id: ana\ndisplay_name: !!python/name:os.system\n", "unsupported tag"),
    "nul": ("id: ana\ndisplay_name: A\x00\n", "not allowed"),
    "escape": ("id: ana\ndisplay_name: A\x1b]52;c;aGk=\x07\n", "not allowed"),
    "not_a_mapping": ("[1, 2]\n", "mapping"),
    "duplicate_key": ("id: ana\nid: bob\n", "duplicate key"),
    "truncated": ('id: ana\ndisplay_name: "Ana\n', "invalid YAML"),
    "empty_file": ("", "Field required"),
    "comment_only": ("# nothing\n", "Field required"),
    "nan": ("id: ana\ndisplay_name: A\nvulnerabilities: [{kind: x, severity: .nan}]\n", "finite"),
    "inf_day": (
        "id: ana\ndisplay_name: A\nevolution: [{at_day: .inf, action: unset_attribute, key: j}]\n",
        "finite",
    ),
    "rate_text": ("id: ana\ndisplay_name: A\nprofile: {wish_rate: lots}\n", "wish_rate"),
    "rate_list": ("id: ana\ndisplay_name: A\nprofile: {callback_rate: [1]}\n", "callback_rate"),
    "rate_step": (
        "id: ana\ndisplay_name: A\n"
        "evolution: [{at_session: 1, action: set_attribute, key: wish_rate, value: high}]\n",
        "wish_rate",
    ),
    "long_canary": (
        "id: ana\ndisplay_name: A\nsecrets:\n  - {id: p, topic: p, text: "
        + "Zq7" * 3000
        + ", canary: "
        + "Zq7" * 3000
        + "}\n",
        "at most 128",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PERSONAS))
def test_hostile_persona_is_refused_with_a_line(tree: Path, name: str) -> None:
    text, expect = HOSTILE_PERSONAS[name]
    p = tree / "personas" / "hostile.yaml"
    p.write_text(text, encoding="utf-8")
    err = refused(p)
    assert expect in str(err), str(err)
    assert not Path(PWN).exists()


def test_oversized_file_and_special_files_are_refused(tree: Path) -> None:
    big = tree / "personas" / "big.yaml"
    big.write_text("id: ana\ndisplay_name: A\nwishes:\n" + "  - x\n" * (MAX_FILE_BYTES // 6 + 10))
    assert "larger than" in str(refused_no_line(big))
    folder = tree / "personas" / "dir.yaml"
    folder.mkdir()
    assert "folder" in str(refused_no_line(folder))
    fifo = tree / "personas" / "fifo.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in str(refused_no_line(fifo))  # would block if opened
    bad = tree / "personas" / "latin1.yaml"
    bad.write_bytes(b"id: ana\ndisplay_name: Jos\xe9\n")
    err = refused_no_line(bad)
    assert "UTF-8" in str(err) and err.issues[0].line == 2


def refused_no_line(path: Path) -> SpecError:
    with pytest.raises(SpecError) as ei:
        validate_file(path)
    assert all(i.file == str(path) for i in ei.value.issues)
    return ei.value


def test_plain_values_keep_working(tree: Path) -> None:
    p = tree / "personas" / "ok.yaml"
    p.write_text(
        "id: ana\ndisplay_name: A\nprofile: {1: one, yes: true, when: 2026-01-05, n: 0x1F}\n"
        "wishes: [&w go out, *w]\n"
    )
    assert validate_file(p) == "persona"
    from sandbox.spec.loader import load_yaml_with_lines

    data, _ = load_yaml_with_lines(p)
    assert data["profile"] == {"1": "one", "yes": True, "when": "2026-01-05", "n": 31}
    assert data["wishes"] == ["go out", "go out"]


SEMANTIC = {
    "impossible_date": ('start_date: "2026-02-30"\n', "", "not a real date"),
    "month_13": ("start_date: 2026-13-01\n", "", "not a real date"),
    "inf_gap": ("", "schedule: {gap: {dist: fixed, days: .inf}}\n", "finite"),
    "huge_gap": ("", "schedule: {gap: {dist: fixed, days: 1e308}}\n", "at most"),
    "huge_high": ("", "schedule: {gap: {dist: uniform, low: 1, high: 1e308}}\n", "at most"),
    "exp_gap_span": (
        "",
        "schedule: {sessions_per_user: 9000, gap: {dist: exponential, days: 300}}\n",
        "spans about",
    ),
    "jitter_inf": ("", "schedule: {start_jitter_days: .inf}\n", "finite"),
    "minutes_huge": ("", "schedule: {minutes_per_turn: 1e308}\n", "at most"),
    "past_9999": ('start_date: "9999-06-01"\n', "", "past the year 9999"),
    "topic_brace": ('scripts: [{topics: ["{"]}]\n', "", "literal brace"),
    "line_positional": ('scripts: [{lines: ["hi {0}"]}]\n', "", "placeholders"),
    "line_attribute": ('scripts: [{lines: ["{name.__class__}"]}]\n', "", "placeholders"),
    "line_format_spec": ('scripts: [{lines: ["{name:>999999999}"]}]\n', "", "placeholders"),
    "absurd_turns": (
        "",
        "schedule: {sessions_per_user: 10000, turns_per_session: 200}\n",
        f"at most {MAX_TURNS}",
    ),
}


@pytest.mark.parametrize("name", sorted(SEMANTIC))
def test_specs_that_would_crash_run_are_refused(tree: Path, name: str) -> None:
    extra, sched, expect = SEMANTIC[name]
    sp = tree / "scenarios" / "s.yaml"
    sp.write_text(scenario(extra, sched))
    with pytest.raises(SpecError) as ei:
        load_bundle(sp)
    assert expect in str(ei.value), str(ei.value)
    assert all(i.line for i in ei.value.issues), str(ei.value)


def test_script_placeholders_that_fill_are_accepted(tree: Path) -> None:
    sp = tree / "scenarios" / "s.yaml"
    sp.write_text(scenario('scripts: [{lines: ["hi {name}, {{literal}}"], topics: [jobs]}]\n'))
    assert load_bundle(sp).scenario.scripts[0].lines == ["hi {name}, {{literal}}"]


def test_cli_validate_exits_2_with_file_line_for_every_hostile_file(tree: Path) -> None:
    files = []
    for name, (text, _) in sorted(HOSTILE_PERSONAS.items()):
        p = tree / "personas" / f"{name}.yaml"
        p.write_text(text, encoding="utf-8")
        files.append(str(p))
    r = subprocess.run(
        [sys.executable, "-m", "sandbox", "validate", *files],
        capture_output=True,
        text=True,
        timeout=120,  # hang guard, not a timing assertion
        cwd=tree,
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    named = {ln.split(":", 1)[0].removeprefix("error ") for ln in errors}
    assert named == set(files)
    for ln in errors:
        assert re.match(r"^error .+\.yaml:\d+( \[[^\]]*\])?: ", ln), ln
        assert "\x1b" not in ln and "\x07" not in ln and "\x00" not in ln
    assert not (tree / "runs").exists()


def test_fuzzed_shipped_specs_never_traceback_or_hang(tmp_path: Path) -> None:
    """A few hundred deterministic mutations of every shipped spec file.

    The fuzzer runs in its own process with a per-case alarm (10 s) and a memory cap;
    the subprocess timeout is the hang guard for the whole batch. Durations are written
    to the results file for reports; nothing here asserts on time.
    """
    out = tmp_path / "fuzz.jsonl"
    cases = 360
    r = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_specs.py"),
            "--cases",
            str(cases),
            "--seed",
            "14",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    results = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert len(results) == cases
    outcomes = Counter(x["outcome"] for x in results)
    bad = [x for x in results if x["outcome"] not in ("exit2_line", "accepted")]
    assert not bad, json.dumps(bad[:3], indent=1)
    # the mutations do reach both sides: some files are still valid, most are refused
    assert outcomes["exit2_line"] > cases // 2 and outcomes["accepted"] > 0, outcomes
    assert {x["op"] for x in results} == set(fuzz_specs.MUTATORS)
    kinds = {x["file"].split("/")[0 if x["file"].startswith("personas") else -2] for x in results}
    assert {"personas", "scenarios", "agents"} <= kinds, kinds  # all three spec kinds
    assert len({x["file"] for x in results}) >= 20
    assert not Path("/tmp/" + fuzz_specs.PWNED).exists()
