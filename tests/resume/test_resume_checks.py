"""What `--resume` refuses, and resumes of runs closed as interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from resume_helpers import ROOT, TINY, comparable, first_difference, tree
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.record import read_header
from sandbox.record.lock import FolderLock
from sandbox.resume import ResumeMismatch, resume_run
from sandbox.runner import RunTerminated, run_scenario
from sandbox.spec import load_bundle

pytestmark = pytest.mark.slow


def _term_at(turn: int) -> Callable[[int, int], None]:
    """A progress callback that sends this process SIGTERM once `turn` turns are done."""
    sent: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == turn and not sent:
            sent.append(done)
            os.kill(os.getpid(), signal.SIGTERM)

    return progress


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny scenario whose files a test may edit (its own folder)."""
    d = tmp_path_factory.mktemp("specs")
    for name in ("maya", "quinn"):
        shutil.copy(ROOT / "personas" / f"{name}.yaml", d / f"{name}.yaml")
    shutil.copy(ROOT / "scenarios" / "agents" / "shared.yaml", d / "agent.yaml")
    text = TINY.read_text(encoding="utf-8")
    text = text.replace("../../../personas/", "").replace(
        "../../../scenarios/agents/shared", "agent"
    )
    (d / "tiny.yaml").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, specs: Path) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("reference")
    return comparable(run_scenario(load_bundle(specs / "tiny.yaml"), out, "r"))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory, specs: Path) -> Path:
    """A run closed as interrupted by SIGTERM after 10 of its 24 turns."""
    out = tmp_path_factory.mktemp("interrupted")
    with pytest.raises(RunTerminated):
        run_scenario(load_bundle(specs / "tiny.yaml"), out, "r", on_progress=_term_at(10))
    assert read_header(out / "r")["status"] == "interrupted"
    return out / "r"


def _copy(run: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "runs" / run.name
    shutil.copytree(run, dest)
    return dest


def _resume_cli(run: Path) -> Any:
    return CliRunner().invoke(app, ["run", "--resume", run.name, "--out", str(run.parent), "-q"])


def test_an_interrupted_run_resumes_to_the_uninterrupted_events(
    interrupted: Path, reference: list[dict[str, Any]], tmp_path: Path
) -> None:
    run = _copy(interrupted, tmp_path)
    kept = json.loads((run / "run.json").read_text())["checkpoint"]["events"]
    assert comparable(run)[-1]["kind"] == "run_end"  # the interrupted run's end is dropped
    r = _resume_cli(run)
    assert r.exit_code == 0, r.output
    events = comparable(run)
    assert events == reference, first_difference(events, reference)
    header = read_header(run)
    assert header["status"] == "complete" and "message" in header and not header["message"]
    assert [(x["from_status"], x["kept_events"]) for x in header["resumed"]] == [
        ("interrupted", kept)
    ]


def test_a_resume_interrupted_while_checking_leaves_the_folder_as_it_was(
    interrupted: Path, reference: list[dict[str, Any]], tmp_path: Path
) -> None:
    run = _copy(interrupted, tmp_path)
    before = tree(run), (run / "events.jsonl").read_bytes(), (run / "run.json").read_bytes()
    with pytest.raises(RunTerminated):
        resume_run(run, on_progress=_term_at(3))  # 3 turns: still inside the kept events
    after = tree(run), (run / "events.jsonl").read_bytes(), (run / "run.json").read_bytes()
    assert after == before
    resume_run(run)
    events = comparable(run)
    assert events == reference, first_difference(events, reference)
    assert [x["from_status"] for x in read_header(run)["resumed"]] == ["interrupted"]


def test_changed_specs_are_refused_naming_the_file(
    interrupted: Path, specs: Path, tmp_path: Path
) -> None:
    run = _copy(interrupted, tmp_path)
    before = tree(run), (run / "run.json").read_bytes()
    scenario, persona = specs / "tiny.yaml", specs / "maya.yaml"
    saved = scenario.read_text(), persona.read_text()
    try:
        scenario.write_text(saved[0].replace("turns_per_session: 4", "turns_per_session: 5"))
        r = _resume_cli(run)
        assert r.exit_code == 2, r.output
        assert "specs changed since it started" in r.output
        assert f"scenario {scenario} changed" in " ".join(r.output.split())
        scenario.write_text(saved[0])
        persona.write_text(saved[1].replace("display_name: Maya", "display_name: May"))
        r = _resume_cli(run)
        assert r.exit_code == 2, r.output
        assert "persona maya" in r.output and "changed" in r.output
    finally:
        scenario.write_text(saved[0])
        persona.write_text(saved[1])
    assert (tree(run), (run / "run.json").read_bytes()) == before
    assert _resume_cli(run).exit_code == 0


def test_a_different_event_is_refused_naming_it_and_the_folder_is_kept(
    interrupted: Path, tmp_path: Path
) -> None:
    run = _copy(interrupted, tmp_path)
    log = run / "events.jsonl"
    lines = log.read_bytes().split(b"\n")
    i = next(k for k, line in enumerate(lines) if b'"kind":"user_turn"' in line)
    turn = json.loads(lines[i])
    at = lines[i].index(b'"text":"') + len(b'"text":"')
    swapped = b"Z" if lines[i][at : at + 1] != b"Z" else b"Y"
    lines[i] = lines[i][:at] + swapped + lines[i][at + 1 :]  # same length: checkpoint holds
    log.write_bytes(b"\n".join(lines))
    before = tree(run), log.read_bytes(), (run / "run.json").read_bytes()
    with pytest.raises(ResumeMismatch) as ei:
        resume_run(run)
    where = f"user {turn['user']}, session {turn['session']}, turn {turn['turn']}"
    assert f"event {i} (user_turn, {where}) differs" in str(ei.value)
    assert "text: recorded" in str(ei.value)
    assert (tree(run), log.read_bytes(), (run / "run.json").read_bytes()) == before
    r = _resume_cli(run)
    assert r.exit_code == 2 and "--resume refused" in r.output and "Traceback" not in r.output


def test_a_log_cut_below_its_checkpoint_is_refused(interrupted: Path, tmp_path: Path) -> None:
    run = _copy(interrupted, tmp_path)
    cp = json.loads((run / "run.json").read_text())["checkpoint"]
    with open(run / "events.jsonl", "r+b") as fh:
        fh.truncate(cp["bytes"] - 10)
    r = _resume_cli(run)
    assert r.exit_code == 2, r.output
    assert f"fewer than the {cp['bytes']} its checkpoint records" in " ".join(r.output.split())


def test_a_locked_run_folder_is_refused(interrupted: Path, tmp_path: Path) -> None:
    run = _copy(interrupted, tmp_path)
    with FolderLock(run):  # as a live writer holds it (a second open of .lock conflicts)
        r = _resume_cli(run)
    assert r.exit_code == 2, r.output
    assert f"is being written by pid {os.getpid()}" in " ".join(r.output.split())
    assert read_header(run)["status"] == "interrupted"


def test_resume_arguments_are_checked(interrupted: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", str(TINY), "--resume", "r", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "drop SCENARIO" in r.output
    r = CliRunner().invoke(app, ["run", "--resume", "r", "--seed", "4", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "drop --seed" in r.output
    r = CliRunner().invoke(app, ["run", "--resume", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "no run 'nope'" in r.output
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "missing SCENARIO" in r.output


def test_a_complete_run_has_nothing_to_do(tmp_path: Path, interrupted: Path) -> None:
    run = _copy(interrupted, tmp_path)
    assert _resume_cli(run).exit_code == 0
    before = tree(run), (run / "run.json").read_bytes()
    r = _resume_cli(run)
    assert r.exit_code == 0, r.output
    assert "nothing to do" in r.output and "already complete" in r.output
    assert (tree(run), (run / "run.json").read_bytes()) == before


def test_monitors_and_a_control_agent_resume_to_the_same_events(tmp_path: Path) -> None:
    """Monitor findings, scores and drift state are rebuilt, so their events match too."""
    personas = ROOT / "personas"
    scenario = tmp_path / "watched.yaml"
    scenario.write_text(
        "name: watched\nseed: 5\ncast:\n"
        f"  - persona: {personas / 'maya.yaml'}\n  - persona: {personas / 'quinn.yaml'}\n"
        "schedule:\n  sessions_per_user: 4\n  turns_per_session: 3\n"
        "  gap: {dist: uniform, low: 0.2, high: 1.5}\n"
        f"agent: {ROOT / 'scenarios' / 'agents' / 'shared.yaml'}\ncontrol: true\n"
        "monitors:\n  - name: cross_user_leakage\n  - name: retention\n"
        "  - name: pii_exposure\n  - name: memory_poisoning\n  - name: relational_safety\n"
        "  - name: drift\n    args: {metrics: [mean_delta, agreement]}\n",
        encoding="utf-8",
    )
    bundle = load_bundle(scenario)
    want = comparable(run_scenario(bundle, tmp_path / "ref", "w"))
    kinds = {e["kind"] for e in want}
    assert {"finding", "score"} & kinds, kinds  # the monitors did write derived events
    with pytest.raises(RunTerminated):
        run_scenario(bundle, tmp_path / "runs", "w", on_progress=_term_at(13))
    run = tmp_path / "runs" / "w"
    kept = json.loads((run / "run.json").read_text())["checkpoint"]["events"]
    assert 0 < kept < len(want)
    resume_run(run)
    events = comparable(run)
    assert events == want, first_difference(events, want)


def test_reply_latency_and_cache_do_not_count_as_a_difference() -> None:
    from sandbox.resume import _comparable, describe_mismatch

    rec = {
        "kind": "agent_turn",
        "seq": 7,
        "wall_ms": 1.0,
        "text": "hi",
        "usage": {"prompt_tokens": 5, "latency_ms": 812.0, "queue_ms": 3.0, "cache": "miss"},
    }
    again = {**rec, "wall_ms": 9.0, "usage": {**rec["usage"], "latency_ms": 1.0, "cache": "hit"}}
    assert _comparable(rec) == _comparable(again)
    more = {**rec, "usage": {**rec["usage"], "prompt_tokens": 6}}
    assert _comparable(rec) != _comparable(more)
    msg = describe_mismatch(7, rec, more)
    assert "usage" in msg and "latency" not in msg.split("usage", 1)[0]
