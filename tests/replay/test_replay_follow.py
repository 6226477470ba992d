from __future__ import annotations

import json
from pathlib import Path

from replay_builders import build_small_run, make_console, render, start

from sandbox.record.events import AgentTurn, RunEnd, SessionStart, UserTurn
from sandbox.record.reader import ReadReport, iter_events
from sandbox.record.writer import RunWriter
from sandbox.replay.follow import IDLE, follow_events, run_is_running
from sandbox.replay.player import replay_json, replay_text


class Script:
    """A fake sleep that performs one scripted append per call (the writer's next move)."""

    def __init__(self, steps, limit: int = 1000):
        self.steps = list(steps)
        self.calls = 0
        self.limit = limit  # a follower that never stops fails instead of hanging

    def __call__(self, _seconds: float) -> None:
        self.calls += 1
        assert self.calls <= self.limit, "still following after the scripted steps"
        if self.steps:
            self.steps.pop(0)()


def test_follow_picks_up_appended_events_and_stops_at_run_end(tmp_path: Path):
    w = RunWriter(tmp_path / "live", {"run_id": "live"})
    start(w, "live")
    w.emit(SessionStart(user="maya", session=0, t_sim=0.5, date="2026-01-05"))
    w.emit(UserTurn(user="maya", session=0, turn=0, t_sim=0.5, text="first line"))
    steps = [
        lambda: w.emit(AgentTurn(user="maya", session=0, turn=0, t_sim=0.5, text="first reply")),
        lambda: None,  # a quiet poll: nothing new
        lambda: w.emit(UserTurn(user="maya", session=0, turn=1, t_sim=0.6, text="second line")),
        lambda: w.emit(RunEnd()),
    ]
    sleep = Script(steps)
    console, buf = make_console()
    stats = replay_text(w.dir, console, follow=True, sleep=sleep)
    out = buf.getvalue()
    assert [out.index(s) for s in ("first line", "first reply", "second line")] == sorted(
        out.index(s) for s in ("first line", "first reply", "second line")
    )
    assert "run complete" in out
    assert stats.events == 6 and sleep.calls == 4
    w.close("complete")


def test_follow_holds_a_half_written_line_until_it_is_complete(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    line = json.dumps({"seq": 0, "kind": "user_turn", "user": "a", "text": "hello"}) + "\n"
    path.write_text(line[:10])
    state = {"running": True}

    def finish():
        with open(path, "a") as fh:
            fh.write(line[10:])
        state["running"] = False

    report = ReadReport()
    items = list(
        follow_events(path, report, sleep=Script([finish]), running=lambda: state["running"])
    )
    assert items[0] is IDLE
    assert [i["text"] for i in items if isinstance(i, dict)] == ["hello"]
    assert report.bad_lines == [] and not report.truncated_tail


def test_follow_reports_a_torn_tail_once_the_writer_stopped(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": 0, "kind": "session_end"}\n{"seq": 1, "ki')
    report = ReadReport()
    items = list(follow_events(path, report, sleep=Script([]), running=lambda: False))
    assert [i["seq"] for i in items if isinstance(i, dict)] == [0]
    assert report.truncated_tail and report.bad_lines[0][0] == 2


def test_follow_waits_for_the_file_to_appear(tmp_path: Path):
    run = tmp_path / "later"
    sleep = Script([lambda: build_small_run(tmp_path, "later")])
    console, buf = make_console()
    replay_text(run, console, follow=True, sleep=sleep, follow_kw={"running": lambda: True})
    assert "Leo mentioned" in buf.getvalue()


def test_run_is_running_reads_the_header(small_run: Path, tmp_path: Path):
    assert not run_is_running(small_run)
    live = build_small_run(tmp_path, "live", finish=False)
    assert run_is_running(live)


def test_truncated_last_line_is_reported_and_skipped(small_run: Path):
    with open(small_run / "events.jsonl", "rb+") as fh:
        data = fh.read()
        fh.seek(0)
        fh.truncate()
        fh.write(data[:-25])  # the crash tore run_end's line
    out, stats = render(small_run)
    assert "Done, I forgot it" in out
    assert "line 23 is truncated" in out and "skipped" in out
    assert stats.report.truncated_tail
    assert "run complete" not in out


def test_corrupt_middle_line_is_reported(small_run: Path):
    lines = (small_run / "events.jsonl").read_bytes().split(b"\n")
    lines[4] = b"{not json"
    (small_run / "events.jsonl").write_bytes(b"\n".join(lines))
    out, stats = render(small_run)
    assert stats.report.bad_lines[0][0] == 5
    assert "skipped 1 corrupt line(s) of events.jsonl: 5" in out
    assert "Thank you for trusting" not in out and "Hiking is great" in out


def test_json_output_is_filtered_and_ascii(small_run: Path, tmp_path: Path):
    from io import StringIO

    from sandbox.replay.filters import ReplayFilter

    buf = StringIO()
    stats = replay_json(small_run, buf, flt=ReplayFilter(findings_only=True))
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["seq"] for r in rows] == [12, 13, 14, 15, 16]
    assert stats.findings_shown == 1
    buf = StringIO()
    replay_json(small_run, buf)
    assert len(buf.getvalue().splitlines()) == len(list(iter_events(small_run)))
    assert buf.getvalue().isascii()


def test_follow_shows_a_held_turn_once_the_writer_goes_quiet(tmp_path: Path):
    w = RunWriter(tmp_path / "quiet", {"run_id": "quiet"})
    start(w, "quiet")
    w.emit(SessionStart(user="maya", session=0, t_sim=0.5, date="2026-01-05"))
    w.emit(UserTurn(user="maya", session=0, turn=0, t_sim=0.5, text="still thinking"))
    console, buf = make_console()
    seen: list[bool] = []
    steps = [lambda: seen.append("still thinking" in buf.getvalue()) for _ in range(4)]
    steps.append(lambda: w.emit(RunEnd()))
    replay_text(w.dir, console, follow=True, sleep=Script(steps))
    assert seen == [False, False, False, True]  # shown after four quiet polls, not before
    w.close("complete")


def _gone_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _set_header(run: Path, **fields) -> None:
    header = json.loads((run / "run.json").read_text())
    header.update(fields)
    (run / "run.json").write_text(json.dumps(header))


def test_follow_stops_promptly_on_a_killed_run(tmp_path: Path):
    """run.json says running, but the pid it names is gone (kill -9): stop, say dead."""
    import socket
    import time

    from replay_builders import deadline
    from typer.testing import CliRunner

    from sandbox.cli.main import app

    run = build_small_run(tmp_path, "killed", finish=False)
    pid = _gone_pid()
    _set_header(run, pid=pid, host=socket.gethostname())
    console, buf = make_console()
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the real wait, but a hang becomes a failure
        polls.append(seconds)
        assert len(polls) < 40, "still following a dead run"
        time.sleep(seconds)

    began = time.monotonic()
    stats = replay_text(run, console, follow=True, sleep=sleep)  # the real liveness check
    assert time.monotonic() - began < 5 and not polls  # dead at once: no wait at all
    out = buf.getvalue()
    assert "Done, I forgot it" in out  # everything written before the kill is shown
    assert f"stopped following: run is dead: run.json says running but process {pid}" in out
    assert stats.follow.status == "dead"
    began = time.monotonic()
    with deadline(20):
        r = CliRunner().invoke(app, ["replay", str(run), "--follow"])
    assert time.monotonic() - began < 5
    assert r.exit_code == 0 and "run is dead" in r.output, r.output
    r = CliRunner().invoke(app, ["replay", str(run), "--follow", "--json"])
    assert r.exit_code == 0 and "stopped following: run is dead" in r.output
    r = CliRunner().invoke(app, ["replay", str(run)])  # without --follow: said at the end
    assert r.exit_code == 0 and "run is dead" in r.output


def test_follow_stops_when_the_writer_dies_while_followed(tmp_path: Path):
    import socket

    w = RunWriter(tmp_path / "dies", {"run_id": "dies"})
    start(w, "dies")
    w.emit(SessionStart(user="maya", session=0, t_sim=0.5, date="2026-01-05"))
    w.emit(UserTurn(user="maya", session=0, turn=0, t_sim=0.5, text="last words"))
    pid = _gone_pid()
    steps = [lambda: None, lambda: _set_header(w.dir, pid=pid, host=socket.gethostname())]
    sleep = Script(steps)
    console, buf = make_console()
    stats = replay_text(w.dir, console, follow=True, sleep=sleep)
    assert sleep.calls == 2  # two quiet polls while alive, then the check saw it dead
    assert "last words" in buf.getvalue() and "run is dead" in buf.getvalue()
    assert stats.follow.status == "dead"
    w.close("interrupted")


def test_follow_stops_on_a_stale_run_from_another_host(tmp_path: Path):
    run = build_small_run(tmp_path, "stale", finish=False)
    _set_header(run, host="elsewhere", heartbeat="2020-01-01T00:00:00+00:00")
    console, buf = make_console()
    stats = replay_text(run, console, follow=True, sleep=Script([]))
    assert "run is stale" in buf.getvalue() and stats.follow.status == "stale"


def test_follow_gives_up_on_a_damaged_header(tmp_path: Path):
    """run.json is written atomically, so one that stays unreadable is damage: stop."""
    from sandbox.replay.follow import DAMAGED_POLLS

    run = build_small_run(tmp_path, "torn", finish=False)
    (run / "run.json").write_text("{not json")
    sleep = Script([])
    console, buf = make_console(width=400)
    stats = replay_text(run, console, follow=True, sleep=sleep)
    assert sleep.calls == DAMAGED_POLLS - 1
    assert "stopped following:" in buf.getvalue() and "run.json: not valid JSON" in buf.getvalue()
    assert stats.follow.status == "damaged"
    (run / "run.json").unlink()  # missing while events exist: the same
    stats = replay_text(run, console, follow=True, sleep=Script([]))
    assert stats.follow.status == "damaged" and "run.json is missing" in buf.getvalue()


def test_follow_of_a_finished_run_says_nothing_more(small_run: Path):
    console, buf = make_console()
    stats = replay_text(small_run, console, follow=True, sleep=Script([]))
    assert stats.follow.stopped is None and "stopped following" not in buf.getvalue()
