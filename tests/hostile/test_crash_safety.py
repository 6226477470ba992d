"""Runs that are killed do not lie; run ids and output paths cannot escape; corrupt run
folders give clean errors from the reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.cli.main import app
from sandbox.record.events import RunStart, SessionStart, UserTurn
from sandbox.record.reader import (
    MissingRunFileError,
    ReadReport,
    RunRecordError,
    iter_events,
    list_runs,
    read_header,
    read_summary,
    run_is_live,
    run_liveness,
)
from sandbox.record.writer import (
    InvalidRunIdError,
    RunFolderError,
    RunWriter,
    check_run_id,
    run_id_part,
)
from sandbox.runner import RunTerminated, run_scenario
from sandbox.spec import load_bundle

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "core" / "data" / "tiny.yaml"

BAD_IDS = [
    "../../x",
    "/tmp/abs",
    "a/b",
    "a\nb",
    "a\x1b]0;x\x07",
    " ",
    "",
    "-weird",
    ".",
    "..",
    "x\n",
]


# -- run ids and paths -------------------------------------------------------------


@pytest.mark.parametrize("run_id", BAD_IDS)
def test_bad_run_ids_are_refused(run_id: str) -> None:
    with pytest.raises(InvalidRunIdError):
        check_run_id(run_id)


def test_good_run_ids_and_default_id_parts() -> None:
    for ok in ("a", "seed-3", "20260105-1200-quickstart-ab12cd", "v1.2_x+y=z@h"):
        assert check_run_id(ok) == ok
    assert run_id_part("../../etc/passwd") == "etc-passwd"
    assert run_id_part("\x1b]0;x\x07 name") == "0-x-name"
    assert run_id_part("///") == "run"
    check_run_id(f"20260105-120000-{run_id_part('-../a b/' * 30)}-abcdef")


@pytest.mark.parametrize("run_id", ["../../x", "/tmp/abs-run", "a\x1bb", " ", "-weird"])
def test_cli_run_refuses_bad_run_ids_without_writing(tmp_path: Path, run_id: str) -> None:
    out = tmp_path / "runs"
    r = CliRunner().invoke(app, ["run", str(TINY), "--run-id", run_id, "--out", str(out), "-q"])
    assert r.exit_code == 2, r.output
    assert "invalid run id" in r.output and "\x1b" not in r.output
    assert not out.exists() and not Path("/tmp/abs-run").exists()


def test_cli_run_refuses_out_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    for out in (f, f / "sub"):
        r = CliRunner().invoke(app, ["run", str(TINY), "--run-id", "r", "--out", str(out), "-q"])
        assert r.exit_code == 2, r.output
        assert "error:" in r.output and "Traceback" not in r.output
    assert f.read_text() == "x"


def test_api_refuses_bad_ids_and_escapes_before_writing(tmp_path: Path) -> None:
    b = load_bundle(TINY)
    with pytest.raises(InvalidRunIdError):
        run_scenario(b, tmp_path / "runs", "../escape")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError):
        run_scenario(b, tmp_path / "file", "r")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escape").exists()


def test_unreadable_persona_path_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text("name: a\n")
    sc = tmp_path / "s.yaml"
    sc.write_text("name: s\ncast:\n  - persona: " + "x" * 5000 + "\nagent: agents/a.yaml\n")
    r = CliRunner().invoke(app, ["validate", str(sc)])
    assert r.exit_code == 2
    assert f"{sc}:3 [cast.0.persona]: cannot read persona file" in r.output


# -- signals, pid and heartbeat ----------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_close_the_run_as_interrupted(tmp_path: Path, sig: int) -> None:
    sent: list[int] = []

    def progress(done: int, total: int) -> None:
        if done == 5 and not sent:
            sent.append(done)
            os.kill(os.getpid(), sig)

    before = signal.getsignal(sig)
    with pytest.raises(RunTerminated) as ei:
        run_scenario(load_bundle(TINY), tmp_path, "r", on_progress=progress)
    assert ei.value.signum == sig
    assert signal.getsignal(sig) == before  # handlers are put back
    run = tmp_path / "r"
    header = read_header(run)
    assert header["status"] == "interrupted"
    assert header["message"] == f"terminated by {signal.Signals(sig).name}"
    assert header["pid"] == os.getpid() and header["host"] and header["heartbeat"]
    events = list(iter_events(run, checked=True))
    assert events[-1]["kind"] == "run_end" and events[-1]["status"] == "interrupted"
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert sum(e["kind"] == "user_turn" for e in events) == 5
    summary = read_summary(run)
    assert summary is not None and summary["status"] == "interrupted"
    assert not run_is_live(run)


def _wait_for(pred: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit  # hang guard only
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def test_killed_cli_runs_exit_143_or_show_as_dead(tmp_path: Path) -> None:
    """SIGTERM to `sandbox run`: exit 143, status interrupted. kill -9: shown as dead."""
    out = tmp_path / "runs"
    procs = {}
    for rid in ("term", "kill"):
        cmd = [sys.executable, "-m", "sandbox", "run", str(TINY), "--run-id", rid]
        procs[rid] = subprocess.Popen(
            [*cmd, "--out", str(out), "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def started(rid: str) -> bool:
        ev = out / rid / "events.jsonl"
        return ev.exists() and b'"session_end"' in ev.read_bytes()

    try:
        for rid in procs:
            _wait_for(lambda rid=rid: started(rid), 240, f"run {rid} to start")
        procs["term"].send_signal(signal.SIGTERM)
        procs["kill"].kill()
        _, err = procs["term"].communicate(timeout=120)
        procs["kill"].communicate(timeout=60)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert procs["term"].returncode == 143, err
    assert "interrupted: terminated by SIGTERM" in err and "Traceback" not in err
    assert read_header(out / "term")["status"] == "interrupted"

    dead = read_header(out / "kill")
    assert dead["status"] == "dead" and dead["recorded_status"] == "running"
    assert not run_is_live(out / "kill")
    raw = json.loads((out / "kill" / "run.json").read_text())
    assert raw["status"] == "running"  # the reader tells the truth; the file is untouched
    assert list(iter_events(out / "kill"))  # what was written before the kill still reads
    r = CliRunner().invoke(app, ["list", "--runs-dir", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert {i["status"] for i in json.loads(r.output)} == {"dead", "interrupted"}


def test_liveness_from_heartbeat_and_pid() -> None:
    old = "2020-01-01T00:00:00+00:00"
    assert run_liveness({"status": "complete"}) == "complete"
    assert run_liveness({"status": "running"}) == "running"  # nothing to judge by
    assert run_liveness({"status": "running", "heartbeat": old}) == "stale"
    assert run_liveness({"status": "running", "host": "elsewhere", "pid": 1, "heartbeat": old}) == (
        "stale"
    )
    import socket

    here = socket.gethostname()
    assert run_liveness({"status": "running", "host": here, "pid": os.getpid()}) == "running"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert run_liveness({"status": "running", "host": here, "pid": child.pid}) == "dead"
    # a reused pid (same number, another process) is not mistaken for the writer
    assert run_liveness(
        {"status": "running", "host": here, "pid": os.getpid(), "pid_start": 1}
    ) == ("dead")


# -- corrupt run folders -----------------------------------------------------------


def _small_run(root: Path, rid: str = "r") -> Path:
    w = RunWriter(root / rid, {"run_id": rid, "scenario_name": "s"})
    w.emit(
        RunStart(
            run_id=rid,
            scenario="s",
            seed=1,
            start_date="2026-01-05",
            agent={},
            personas={},
            cast=[],
        )
    )
    w.emit(SessionStart(user="u", session=0, date="2026-01-05"))
    w.emit(UserTurn(user="u", session=0, turn=0, text="hello"))
    w.write_summary({"run_id": rid, "status": "complete", "monitors": {}})
    w.close("complete")
    return w.dir


CORRUPT_JSON: list[tuple[str, str]] = [
    ("run.json", "[]"),
    ("run.json", '"text"'),
    ("run.json", "{not json"),
    ("run.json", ""),
    ("run.json", '{"status": 5}'),
    ("run.json", '{"event_counts": [1, 2]}'),
    ("run.json", '{"users": "many"}'),
    ("run.json", "[" * 100_000),
    ("summary.json", "[]"),
    ("summary.json", "null"),
    ("summary.json", '{"monitors": []}'),
    ("summary.json", '{"monitors": {"m": 3}}'),
    ("summary.json", '{"turns": "x"}'),
    ("summary.json", "\xff\xfe"),
]


@pytest.mark.parametrize(("name", "text"), CORRUPT_JSON)
def test_corrupt_header_or_summary_is_a_clean_error(tmp_path: Path, name: str, text: str) -> None:
    run = _small_run(tmp_path)
    (run / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    read = read_header if name == "run.json" else read_summary
    with pytest.raises(RunRecordError) as ei:
        read(run)
    assert str(run / name) in str(ei.value)
    assert isinstance(ei.value, ValueError)  # viewers catching ValueError degrade


def test_missing_files_are_clean_errors_and_still_listed(tmp_path: Path) -> None:
    run = _small_run(tmp_path, "a")
    (run / "events.jsonl").unlink()
    with pytest.raises(MissingRunFileError) as ei:
        list(iter_events(run))
    assert isinstance(ei.value, FileNotFoundError) and "events.jsonl" in str(ei.value)
    other = _small_run(tmp_path, "b")
    (other / "run.json").unlink()
    with pytest.raises(MissingRunFileError):
        read_header(other)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "run.json").mkdir()  # a folder where a file should be
    with pytest.raises(RunRecordError):
        read_header(tmp_path / "c")
    assert {p.name for p in list_runs(tmp_path)} == {"a", "b"}  # b has events, no run.json


def test_wrongly_typed_events_are_skipped_when_checked(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    with open(run / "events.jsonl", "a", encoding="utf-8") as fh:
        for bad in (
            {"kind": "user_turn", "user": "u", "session": "zero", "text": "x"},
            {"kind": "user_turn", "user": "u", "session": 0, "text": 5},
            {"kind": "agent_turn", "user": ["u"], "text": "x"},
            {"kind": "retrieval", "hits": []},
            {"kind": 7},
            {"kind": "finding", "id": "F", "monitor": "m", "category": "c", "evidence": "s"},
            {"kind": "from_a_newer_writer", "x": 1},
        ):
            fh.write(json.dumps(bad) + "\n")
    report = ReadReport()
    kinds = [e["kind"] for e in iter_events(run, report, checked=True)]
    assert kinds == ["run_start", "session_start", "user_turn", "from_a_newer_writer"]
    assert [n for n, _ in report.bad_lines] == [4, 5, 6, 7, 8, 9]
    assert len(list(iter_events(run))) == 10  # unchecked reading keeps every object


# -- one writer per folder ---------------------------------------------------------

_HOLD = """
import sys, time
from sandbox.record.lock import FolderLock
with FolderLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_ablation_on_a_live_folder_is_refused_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    from sandbox.ablate import run_ablation
    from sandbox.record.lock import FolderBusyError, FolderLock

    sys.path.insert(0, str(ROOT / "tests" / "composition"))
    from composition_fakes import fake_cell

    root = tmp_path / "out" / "abl"
    live = root / "cells" / "a" / "seed-0"
    live.mkdir(parents=True)
    (live / "run.json").write_text(json.dumps({"status": "running"}))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text("name: fake\n")
        with pytest.raises(FolderBusyError) as ei:
            run_ablation(
                scenario,
                ["a", "b"],
                2,
                out_root=tmp_path / "out",
                ablation_id="abl",
                cell_fn=fake_cell,
                progress=False,
                base_components=[],
                workers=1,
                lock_wait=0.5,
            )
        assert f"pid {holder.pid}" in str(ei.value)
        assert (live / "run.json").exists()  # the other process's live run is untouched
        assert not (root / "plan.json").exists()
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    # the kernel dropped the dead holder's lock: no stale lock to clean by hand
    with FolderLock(root):
        pass
    out = run_ablation(
        tmp_path / "scenario.yaml",
        ["a", "b"],
        2,
        out_root=tmp_path / "out",
        ablation_id="abl",
        cell_fn=fake_cell,
        progress=False,
        base_components=[],
        workers=1,
    )
    assert (out / "composition.json").is_file()


# -- no credential on disk ---------------------------------------------------------


def test_url_credentials_never_reach_the_run_folder(tmp_path: Path) -> None:
    import http.server
    import threading

    from sandbox.runner import redact_credentials

    assert redact_credentials({"u": ["http://me:k3y@h/v1", "http://h/v1?q=a@b"]}) == {
        "u": ["http://***@h/v1", "http://h/v1?q=a@b"]
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = {
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "Zk7QpL2vX9sentinel"
    try:
        spec = tmp_path / "spec"
        (spec / "agents").mkdir(parents=True)
        url = f"http://user:{secret}@127.0.0.1:{server.server_port}/v1"
        (spec / "agents" / "a.yaml").write_text(
            f"name: a\nbackend: {{name: openai, args: {{model: m, base_url: '{url}'}}}}\n"
        )
        (spec / "s.yaml").write_text(
            f"name: s\nseed: 1\ncast:\n  - persona: {ROOT / 'personas' / 'maya.yaml'}\n"
            "schedule: {sessions_per_user: 1, turns_per_session: 2}\nagent: agents/a.yaml\n"
        )
        run = run_scenario(load_bundle(spec / "s.yaml"), tmp_path / "runs", "r")
    finally:
        server.shutdown()
        server.server_close()
    assert read_header(run)["status"] == "complete"
    files = [p for p in run.rglob("*") if p.is_file()]
    assert any(p.name == "events.jsonl" for p in files)
    for p in files:
        assert secret.encode() not in p.read_bytes(), p
    assert "http://***@127.0.0.1" in (run / "run.json").read_text()


def test_an_absurdly_deep_line_is_a_bad_line_not_a_crash(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    with open(run / "events.jsonl", "ab") as fh:
        fh.write(b"[" * 100_000 + b"\n")
    report = ReadReport()
    kinds = [e["kind"] for e in iter_events(run, report)]
    assert kinds[-1] != "[" and len(kinds) == 3
    assert [n for n, _ in report.bad_lines] == [4]
