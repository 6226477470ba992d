"""Viewers on damaged run folders: a clear message naming the file, or a warning, never a crash.

Each damage below is applied to a copy of the small hand-written run, and every viewer
command is run on it through the real CLI. A command may succeed (exit 0, maybe with a
warning) or refuse (exit 2, naming the damaged file); it may never raise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_builders import build_small_run, deadline
from typer.testing import CliRunner

from sandbox.cli.main import app

Damage = Callable[[Path], None]


def _lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]


def _write_lines(run: Path, events: list) -> None:
    text = "".join(json.dumps(e) + "\n" for e in events)
    (run / "events.jsonl").write_text(text, encoding="utf-8")


def _edit(line: int, **fields: object) -> Damage:
    """Give the event on 0-based `line` (its seq) wrongly typed fields."""

    def damage(run: Path) -> None:
        events = _lines(run)
        events[line].update(fields)
        _write_lines(run, events)

    return damage


def _write(name: str, data: bytes | str) -> Damage:
    def damage(run: Path) -> None:
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        (run / name).write_bytes(raw)

    return damage


def _remove(name: str) -> Damage:
    return lambda run: (run / name).unlink()


def _dir_instead(name: str) -> Damage:
    def damage(run: Path) -> None:
        (run / name).unlink()
        (run / name).mkdir()

    return damage


def _truncate(n: int) -> Damage:
    def damage(run: Path) -> None:
        data = (run / "events.jsonl").read_bytes()
        (run / "events.jsonl").write_bytes(data[:n])

    return damage


def _replace_lines(values: list[object]) -> Damage:
    """Events that are JSON but not objects, or objects without a usable kind."""

    def damage(run: Path) -> None:
        events: list[object] = list(_lines(run))
        for i, v in enumerate(values):
            events.insert(2 + 3 * i, v)
        _write_lines(run, events)

    return damage


def _dead_writer(run: Path) -> None:
    header = json.loads((run / "run.json").read_text())
    header.update(status="running", pid=_gone_pid(), host=socket.gethostname())
    (run / "run.json").write_text(json.dumps(header))
    _truncate(-40)(run)  # no run_end: it was killed mid-write


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _unreadable(name: str) -> Damage:
    def damage(run: Path) -> None:
        (run / name).chmod(0)

    return damage


DAMAGES: dict[str, Damage] = {
    # events.jsonl
    "events_missing": _remove("events.jsonl"),
    "events_empty": _write("events.jsonl", b""),
    "events_folder": _dir_instead("events.jsonl"),
    "events_binary": _write("events.jsonl", bytes(range(256)) * 4),
    "events_torn_tail": _truncate(-25),
    "events_torn_first_line": _truncate(40),
    "events_not_objects": _replace_lines([[], "text", 5, None, [1, 2]]),
    "events_no_kind": _replace_lines([{"seq": 99}, {"kind": 7}, {"kind": None, "user": "maya"}]),
    "events_deep_nesting": _write("events.jsonl", "[" * 100_000 + "\n"),
    "user_is_list": _edit(7, user=["maya"]),
    "session_is_text": _edit(12, session="one"),
    "turn_is_dict": _edit(14, turn={"n": 0}),
    "text_is_number": _edit(14, text=5),
    "seq_is_text": _edit(16, seq="16", about_seq="14"),
    "finding_fields_wrong": _edit(
        16, user=["maya"], severity=3, monitor=["x"], evidence="a string", owner={"o": 1}
    ),
    "finding_evidence_inner_wrong": _edit(
        16,
        evidence={
            "span": "0-5",
            "text": ["x"],
            "memory_ids": "m-leo-1",
            "write_seqs": {"a": 1},
            "kinds": 7,
        },
    ),
    "retrieval_hits_wrong": _edit(13, hits=[5, "x", {"score": "high", "owner": ["leo"]}]),
    "memory_write_wrong": _edit(3, id=["m"], text={"t": 1}, namespace="shared"),
    "delete_ids_wrong": _edit(18, ids="m-maya-1"),
    "run_start_wrong": _edit(0, start_date=20260105, cast="everyone", personas=[]),
    # run.json
    "header_missing": _remove("run.json"),
    "header_not_json": _write("run.json", "{not json"),
    "header_list": _write("run.json", "[]"),
    "header_wrong_types": _write("run.json", '{"status": 5, "users": "many"}'),
    "header_folder": _dir_instead("run.json"),
    "header_dead_writer": _dead_writer,
    # summary.json
    "summary_list": _write("summary.json", "[]"),
    "summary_monitors_wrong": _write("summary.json", '{"monitors": {"m": 3}}'),
    "summary_bad_utf8": _write("summary.json", b"\xff\xfe{"),
    "summary_fields_wrong": _write("summary.json", '{"turns": "x", "monitors": []}'),
    "summary_inner_wrong": _write(
        "summary.json",
        json.dumps(
            {
                "turns": 4,
                "monitors": {
                    "m": {"findings": "many", "by_category": [], "first_finding": 5},
                    "drift": {"users": {"maya": {"series": "x"}, "leo": 3}},
                    "x": {"leak_matrix": {"surfaced": {"leo": 5}}},
                },
            }
        ),
    ),
}
if os.geteuid() != 0:  # root reads anything, so the chmod damage only means something otherwise
    DAMAGES["events_unreadable"] = _unreadable("events.jsonl")
    DAMAGES["header_unreadable"] = _unreadable("run.json")

COMMANDS: dict[str, list[str]] = {
    "list": ["list", "--runs-dir", "{root}"],
    "list_json": ["list", "--runs-dir", "{root}", "--json"],
    "show": ["show", "{run}", "--no-pager"],
    "show_json": ["show", "{run}", "--json"],
    "replay": ["replay", "{run}", "--no-pager"],
    "replay_json": ["replay", "{run}", "--json"],
    "replay_filtered": ["replay", "{run}", "--no-pager", "--findings-only", "--severity", "low"],
    "replay_follow": ["replay", "{run}", "--follow"],
    "explain": ["replay", "{run}", "--explain", "F00001", "--no-pager"],
    "explain_json": ["replay", "{run}", "--explain", "F00001", "--json"],
    "memory": ["replay", "{run}", "--memory", "--no-pager"],
    "findings": ["findings", "{run}", "--no-pager"],
    "findings_json": ["findings", "{run}", "--json"],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_run(tmp_path_factory.mktemp("template"))


def _damaged(template: Path, tmp_path: Path, damage: str) -> Path:
    root = tmp_path / "runs"
    run = root / "small"
    shutil.copytree(template, run)
    DAMAGES[damage](run)
    return run


def _invoke(args: list[str], root: Path, run: Path):
    argv = [a.format(root=root, run=run) for a in args]
    with deadline(20):  # a TimeoutError inside shows as the result's exception
        return CliRunner().invoke(app, argv, env={"COLUMNS": "100"})


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_every_viewer_survives_the_damage(template: Path, tmp_path: Path, damage: str) -> None:
    run = _damaged(template, tmp_path, damage)
    failures = []
    for name, args in COMMANDS.items():
        r = _invoke(args, run.parent, run)
        crashed = r.exception is not None and not isinstance(r.exception, SystemExit)
        # --explain of a finding the damage took away: the usual "no finding" (exit 1)
        gone = name.startswith("explain") and r.exit_code == 1 and "no finding" in r.output
        if crashed or (r.exit_code not in (0, 2) and not gone) or "Traceback" in r.output:
            failures.append(f"{name}: exit {r.exit_code} {r.exception!r}\n{r.output[-600:]}")
        elif r.exit_code == 2 and name not in ("explain", "explain_json"):
            # a refusal names the damaged file (or says what is missing)
            assert any(f in r.output for f in ("events.jsonl", "run.json", "summary.json")), (
                name,
                r.output,
            )
    assert not failures, "\n\n".join(failures)


def test_missing_events_is_exit_2_naming_the_file(template: Path, tmp_path: Path) -> None:
    run = _damaged(template, tmp_path, "events_missing")
    for args in (COMMANDS["replay"], COMMANDS["explain"], COMMANDS["memory"]):
        r = _invoke(args, run.parent, run)
        assert r.exit_code == 2, r.output
        assert str(run / "events.jsonl") in r.output and "missing" in r.output
    r = _invoke(COMMANDS["show"], run.parent, run)  # the header and summary still show
    assert r.exit_code == 0 and "cross_user_leakage" in r.output, r.output
    assert "events.jsonl" in r.output
    r = _invoke(COMMANDS["list"], run.parent, run)
    assert r.exit_code == 0 and "complete (damaged)" in r.output, r.output
    r = _invoke(COMMANDS["list_json"], run.parent, run)
    [info] = json.loads(r.output)
    assert info["status"] == "complete" and info["problem"] == f"{run / 'events.jsonl'}: missing"


def test_a_wrongly_typed_user_is_skipped_with_a_warning(template: Path, tmp_path: Path) -> None:
    run = _damaged(template, tmp_path, "user_is_list")
    r = _invoke(COMMANDS["replay"], run.parent, run)
    assert r.exit_code == 0, r.output
    assert "skipped 1 corrupt line(s) of events.jsonl: 8" in r.output
    assert "I like hiking on weekends" not in r.output and "Hiking is great" in r.output


def test_explain_skips_a_wrongly_typed_finding(template: Path, tmp_path: Path) -> None:
    run = _damaged(template, tmp_path, "finding_fields_wrong")
    r = _invoke(COMMANDS["explain"], run.parent, run)
    assert r.exit_code == 1 and "no finding 'F00001'" in r.output, r.output
    assert "skipped 1 corrupt line(s) of events.jsonl: 17" in r.output  # and said so


def test_damaged_header_is_listed_as_damaged(template: Path, tmp_path: Path) -> None:
    for damage in ("header_missing", "header_not_json", "header_list"):
        run = _damaged(template, tmp_path / damage, damage)
        r = _invoke(COMMANDS["list_json"], run.parent, run)
        assert r.exit_code == 0, r.output
        [info] = json.loads(r.output)
        assert info["status"] == "damaged", (damage, info)
        r = _invoke(COMMANDS["list"], run.parent, run)
        assert "damaged" in r.output and "small" in r.output
        r = _invoke(COMMANDS["show"], run.parent, run)
        assert r.exit_code == 0 and "damaged" in r.output and "run.json" in r.output, r.output


def test_dead_run_is_shown_dead(template: Path, tmp_path: Path) -> None:
    run = _damaged(template, tmp_path, "header_dead_writer")
    r = _invoke(COMMANDS["list_json"], run.parent, run)
    assert json.loads(r.output)[0]["status"] == "dead"
    r = _invoke(COMMANDS["show"], run.parent, run)
    assert "status dead" in r.output, r.output


@pytest.mark.parametrize("damage", ["events_missing", "user_is_list", "header_not_json"])
def test_real_process_prints_no_traceback(template: Path, tmp_path: Path, damage: str) -> None:
    """The same through a real `python -m sandbox` (no CliRunner catching anything)."""
    run = _damaged(template, tmp_path, damage)
    for args in (COMMANDS["replay"], COMMANDS["explain"]):
        argv = [a.format(root=run.parent, run=run) for a in args]
        r = subprocess.run(
            [sys.executable, "-m", "sandbox", *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode in (0, 1, 2), r.stderr
        assert "Traceback" not in r.stdout + r.stderr, r.stderr


# -- mutated copies of every event of a real run -------------------------------------

ODD = [None, [], {}, "x", 5, -1, 1e308, True, [None], {"a": []}, "\x1b[2J", "2026-13-45"]


def _mutate(value: object, rng) -> object:
    """`value` with one field somewhere inside it (or itself) replaced by an odd value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(sorted(k for k in value if k != "kind") or ["kind"])
        return {**value, key: _mutate(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        return [*value[:i], _mutate(value[i], rng), *value[i + 1 :]]
    return rng.choice(ODD)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_events_of_a_real_run_never_crash_a_viewer(
    mini_run: Path, tmp_path: Path, seed: int
) -> None:
    """After each event of a real run, a copy with one field (maybe nested) made odd."""
    import random

    rng = random.Random(seed)
    run = tmp_path / "runs" / "mutant"
    run.mkdir(parents=True)
    for name in ("run.json", "summary.json"):
        shutil.copy(mini_run / name, run / name)
    lines = []
    finding = None
    for e in _lines(mini_run):
        if e.get("kind") == "finding" and finding is None:
            finding = e["id"]
        lines += [e, _mutate(e, rng)]
    _write_lines(run, lines)
    assert finding is not None
    commands = {**COMMANDS, "explain": ["replay", "{run}", "--explain", finding, "--no-pager"]}
    commands["explain_json"] = ["replay", "{run}", "--explain", finding, "--json"]
    commands["context"] = ["replay", "{run}", "--no-pager", "--context", "-s", "1..2"]
    failures = []
    for name, args in commands.items():
        r = _invoke(args, run.parent, run)
        crashed = r.exception is not None and not isinstance(r.exception, SystemExit)
        if crashed or r.exit_code != 0 or "Traceback" in r.output:
            failures.append(f"{name}: exit {r.exit_code} {r.exception!r}\n{r.output[-600:]}")
    assert not failures, "\n\n".join(failures)
