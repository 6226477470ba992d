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

    def __init__(self, steps):
        self.steps = list(steps)
        self.calls = 0

    def __call__(self, _seconds: float) -> None:
        self.calls += 1
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
    path.write_text('{"seq": 0, "kind": "run_start"}\n{"seq": 1, "ki')
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
