"""Play a run: stream events, group them into turns, filter, render, pace.

The pipeline holds one turn per live conversation at most, so a 100,000-event run
shows its first lines at once and replays in constant memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from sandbox.record.reader import ReadReport
from sandbox.replay.blocks import Block, BlockGrouper
from sandbox.replay.filters import ReplayFilter
from sandbox.replay.follow import FollowState, Idle, follow_events
from sandbox.replay.reading import read_events
from sandbox.replay.render import RenderOptions, TranscriptRenderer
from sandbox.replay.sanitize import clean

__all__ = [
    "ReplayStats",
    "block_visible",
    "read_notices",
    "replay_json",
    "replay_text",
    "stop_notice",
]

Event = dict[str, Any]


@dataclass
class ReplayStats:
    """What a replay went through, for the caller and the tests."""

    events: int = 0
    blocks_shown: int = 0
    turns_shown: int = 0
    findings_shown: int = 0
    report: ReadReport = field(default_factory=ReadReport)
    follow: FollowState = field(default_factory=FollowState)


def block_visible(block: Block, flt: ReplayFilter) -> bool:
    """Whether a block passes the filter (run-level blocks always do)."""
    if block.user is None and block.kind != "finding":
        return True
    if not flt.where_ok(block.user, block.session):
        return False
    findings = [f for f in block.findings if flt.finding_ok(f)]
    if flt.findings_only or block.kind == "finding":
        return bool(findings)
    return True


def _blocks(
    source: Iterable[Event | Idle], stats: ReplayStats, quiet_polls: int = 4
) -> Iterator[Block]:
    """Blocks from events; a writer quiet for `quiet_polls` polls gets its held turns shown."""
    grouper = BlockGrouper()
    idle = 0
    for item in source:
        if isinstance(item, Idle):
            idle += 1
            if idle == quiet_polls:
                yield from grouper.flush()
            continue
        idle = 0
        stats.events += 1
        yield from grouper.feed(item)
    yield from grouper.flush()


def _source(
    run_dir: Path, stats: ReplayStats, follow: bool, follow_kw: dict[str, Any]
) -> Iterable[Event | Idle]:
    if follow:
        return follow_events(run_dir, stats.report, state=stats.follow, **follow_kw)
    return read_events(run_dir, stats.report)


def stop_notice(stats: ReplayStats) -> Text | None:
    """Why following stopped, when the run stopped without ``run_end`` (killed, damaged)."""
    if stats.follow.stopped is None:
        return None
    return Text(f"⚠ stopped following: {clean(stats.follow.stopped)}", "bold yellow")


def read_notices(report: ReadReport) -> list[Text]:
    """Warnings about lines the reader skipped or repaired."""
    out: list[Text] = []
    bad = report.bad_lines
    if report.truncated_tail and bad:
        line = bad[-1][0]
        out.append(
            Text(
                f"⚠ events.jsonl line {line} is truncated (the writer stopped mid-line, "
                "e.g. a crash); skipped",
                "bold yellow",
            )
        )
        bad = bad[:-1]
    if bad:
        nums = ", ".join(str(n) for n, _ in bad[:10]) + (" …" if len(bad) > 10 else "")
        out.append(Text(f"⚠ skipped {len(bad)} corrupt line(s) of events.jsonl: {nums}", "yellow"))
    if report.repaired_lines:
        nums = ", ".join(str(n) for n in report.repaired_lines[:10])
        out.append(
            Text(
                f"⚠ {len(report.repaired_lines)} line(s) held invalid UTF-8, shown with "
                f"replacement characters: {nums}",
                "yellow",
            )
        )
    return out


def replay_text(
    run_dir: Path,
    console: Console,
    *,
    flt: ReplayFilter | None = None,
    options: RenderOptions | None = None,
    follow: bool = False,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    follow_kw: dict[str, Any] | None = None,
) -> ReplayStats:
    """Render a run's transcript to `console`, as it streams.

    Args:
        run_dir: the run folder.
        console: where to print (tests pass a Console over a StringIO).
        flt: which users, sessions, monitors and whether findings only.
        options: what to show besides the conversation.
        follow: keep reading as the run is appended to, until it ends.
        speed: turns per second to pace playback at; None prints at once.
        sleep: the wait function (tests pass a fake).
        follow_kw: extra arguments for `follow_events` (poll interval, running check).
    """
    flt = flt or ReplayFilter()
    stats = ReplayStats()
    renderer = TranscriptRenderer(console, options, flt)
    try:
        for block in _blocks(
            _source(run_dir, stats, follow, dict(follow_kw or {}, sleep=sleep)), stats
        ):
            if not block_visible(block, flt):
                renderer.observe(block)
                continue
            renderer.print(block)
            stats.blocks_shown += 1
            stats.turns_shown += block.kind == "turn"
            stats.findings_shown += sum(1 for f in block.findings if flt.finding_ok(f))
            if speed and block.kind == "turn":
                sleep(1.0 / speed)
    except KeyboardInterrupt:
        console.print(Text("(stopped)", "dim"))
    if flt.narrows or flt.monitors or flt.criteria.active:
        s_t, s_f = "" if stats.turns_shown == 1 else "s", "" if stats.findings_shown == 1 else "s"
        console.print(
            Text(
                f"shown: {stats.turns_shown} turn{s_t} with {stats.findings_shown} "
                f"finding{s_f} that pass the filters",
                "dim" if stats.turns_shown else "yellow",
            )
        )
    for note in read_notices(stats.report):
        console.print(note)
    stopped = stop_notice(stats)
    if stopped is not None:
        console.print(stopped)
    return stats


def replay_json(
    run_dir: Path,
    out: TextIO,
    *,
    flt: ReplayFilter | None = None,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    follow_kw: dict[str, Any] | None = None,
) -> ReplayStats:
    """Write the filtered events as JSON lines (ASCII-escaped, so safe on any terminal).

    With a filter, run-level events (no user) are left out; findings of monitors not
    selected by `--monitor` are left out always.
    """
    flt = flt or ReplayFilter()
    stats = ReplayStats()
    try:
        for block in _blocks(
            _source(run_dir, stats, follow, dict(follow_kw or {}, sleep=sleep)), stats
        ):
            if not block_visible(block, flt) or (block.user is None and flt.narrows):
                continue
            stats.blocks_shown += 1
            for e in block.all_events():
                if e.get("kind") == "finding":
                    if not flt.finding_ok(e):
                        continue
                    stats.findings_shown += 1
                out.write(json.dumps(e, ensure_ascii=True, sort_keys=False) + "\n")
            if follow:
                out.flush()
    except KeyboardInterrupt:
        pass
    return stats
