"""``sandbox replay``: a run's turns, memory and findings, or one finding's evidence chain.

Shares the run lookup, options and error handling of the other viewers
(`sandbox.cli.inspect_cmds`); heavy imports happen inside the command.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sandbox.cli.inspect_cmds import (
    _FILTER,
    _VIEW,
    JsonOpt,
    NoPagerOpt,
    PagerOpt,
    RunArg,
    RunsDir,
    WidthOpt,
    _resolve,
    _run_start,
    clean_text,
    record_errors,
)

if TYPE_CHECKING:
    from sandbox.replay.render import RenderOptions

__all__ = ["replay_cmd"]


def replay_cmd(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            "-u",
            metavar="USER",
            help="Only this user (repeatable).",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            metavar="RANGE",
            help="Sessions: 3, 3..7, 3.. or ..7.",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    findings_only: Annotated[
        bool,
        typer.Option(
            "--findings-only",
            "-f",
            metavar="",
            help="Only turns with findings (that pass the filters).",
            rich_help_panel=_FILTER,
        ),
    ] = False,
    monitor: Annotated[
        list[str] | None,
        typer.Option(
            "--monitor",
            "-m",
            metavar="NAME[/CAT]",
            help="Only this monitor's findings, or one category of it.",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(
            "--severity",
            metavar="LEVEL",
            help="This severity or worse: critical, high, medium, low, info.",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            "-c",
            metavar="NAME",
            help="Only findings of this category (repeatable).",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    owner: Annotated[
        list[str] | None,
        typer.Option(
            "--owner",
            metavar="USER",
            help="Only findings about this user's data (repeatable).",
            rich_help_panel=_FILTER,
        ),
    ] = None,
    memory: Annotated[
        bool,
        typer.Option(
            "--memory",
            metavar="",
            help="The agent's store per user after --session, and its diff.",
            rich_help_panel=_VIEW,
        ),
    ] = False,
    explain: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="ID",
            help="Trace one finding: reply, retrieval, memory write.",
            rich_help_panel=_VIEW,
        ),
    ] = None,
    _retrievals: Annotated[bool, typer.Option("--retrievals", hidden=True)] = False,
    _writes: Annotated[bool, typer.Option("--writes", hidden=True)] = False,
    no_retrievals: Annotated[
        bool,
        typer.Option(
            "--no-retrievals", metavar="", help="Hide memory retrievals.", rich_help_panel=_VIEW
        ),
    ] = False,
    no_writes: Annotated[
        bool,
        typer.Option(
            "--no-writes",
            metavar="",
            help="Hide memory writes and deletes.",
            rich_help_panel=_VIEW,
        ),
    ] = False,
    context: Annotated[
        bool,
        typer.Option(
            "--context",
            metavar="",
            help="Show components, context parts and the control reply.",
            rich_help_panel=_VIEW,
        ),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", metavar="", help="Keep showing a run as it is written."),
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option("--speed", metavar="N", help="Pace playback: N turns per second."),
    ] = None,
    as_json: JsonOpt = False,
    width: WidthOpt = None,
    no_pager: NoPagerOpt = False,
    _pager: PagerOpt = False,
) -> None:
    """Replay a run: conversations with retrievals, memory writes and findings in place."""
    run_dir = _resolve(run, runs_dir, wait=follow and not (explain or memory))
    with record_errors():
        _replay(
            run_dir,
            users=set(user or []),
            session=session,
            findings_only=findings_only,
            monitor=monitor,
            severity=severity,
            category=category,
            owner=owner,
            memory=memory,
            explain=explain,
            no_retrievals=no_retrievals,
            no_writes=no_writes,
            context=context,
            follow=follow,
            speed=speed,
            as_json=as_json,
            width=width,
            no_pager=no_pager,
        )


def _replay(
    run_dir: Path,
    *,
    users: set[str],
    session: str | None,
    findings_only: bool,
    monitor: list[str] | None,
    severity: str | None,
    category: list[str] | None,
    owner: list[str] | None,
    memory: bool,
    explain: str | None,
    no_retrievals: bool,
    no_writes: bool,
    context: bool,
    follow: bool,
    speed: float | None,
    as_json: bool,
    width: int | None,
    no_pager: bool,
) -> None:
    from rich.text import Text

    from sandbox.cli.findings_cmd import checked_criteria
    from sandbox.record.reader import ReadReport
    from sandbox.replay.filters import ReplayFilter, SessionRange, parse_session_range
    from sandbox.replay.output import open_output
    from sandbox.replay.player import read_notices, replay_json, replay_text, stop_notice
    from sandbox.replay.reading import read_events
    from sandbox.replay.render import RenderOptions

    try:
        srange = parse_session_range(session) if session else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--session") from None
    # a run still being written may not have every user, session or monitor yet
    crit = checked_criteria(
        run_dir,
        severity=severity,
        categories=category,
        owners=owner,
        monitors=monitor,
        users=sorted(users),
        sessions=srange,
        check=not follow,
    )
    crit = dataclasses.replace(crit, monitors=frozenset())  # --monitor is flt.monitors
    flt = ReplayFilter(users, srange, set(monitor or []), findings_only, crit)
    if speed is not None and speed <= 0:
        raise typer.BadParameter(f"{speed} is not a positive rate", param_hint="--speed")
    opts = RenderOptions(retrievals=not no_retrievals, writes=not no_writes, context=context)
    page = not no_pager and not follow and not speed
    if explain:
        _explain(run_dir, explain, as_json, width, page, opts)
        return
    if memory:
        from sandbox.replay.memory_view import memory_states, render_memory_states, state_json
        from sandbox.replay.style import SimClock

        report = ReadReport()
        states = memory_states(
            read_events(run_dir, report), users or None, srange or SessionRange(None, None)
        )
        if as_json:
            print(json.dumps([state_json(s) for s in states], indent=2, default=str))
            return
        with open_output(page=page, width=width) as console:
            start = _run_start(run_dir)
            render_memory_states(states, console, SimClock(start.get("start_date")))
            if not states:
                what = f"session {srange}" if srange else "sessions"
                msg = f"no {what} recorded for the selected users"
                console.print(Text(msg, "yellow"))
            for note in read_notices(report):
                console.print(note)
        return
    if as_json:
        try:
            stats = replay_json(run_dir, sys.stdout, flt=flt, follow=follow)
        except BrokenPipeError:
            _quiet_stdout()
            return
        for notice in [*read_notices(stats.report), stop_notice(stats)]:
            if notice is not None:
                typer.echo(notice.plain, err=True)
        return
    with open_output(page=page, width=width) as console:
        replay_text(run_dir, console, flt=flt, options=opts, follow=follow, speed=speed)
        unfinished = None if follow else _not_finished(run_dir)
        if unfinished is not None:
            console.print(Text(f"⚠ {clean_text(unfinished)}", "yellow"))


def _not_finished(run_dir: Path) -> str | None:
    """Why a run's record ends early, when its writer is dead or stale; else None."""
    from sandbox.replay.follow import why_stopped

    status, reason = why_stopped(run_dir)
    return reason if status in ("dead", "stale") else None


def _explain(
    run_dir: Path,
    finding_id: str,
    as_json: bool,
    width: int | None,
    page: bool,
    opts: RenderOptions,
) -> None:
    from sandbox.record.reader import ReadReport
    from sandbox.replay.explain import explain_finding
    from sandbox.replay.explain_view import explanation_json, render_explanation
    from sandbox.replay.output import open_output
    from sandbox.replay.player import read_notices

    report = ReadReport()
    ex = explain_finding(run_dir, finding_id, report)
    notes = read_notices(report)
    if ex is None:
        for note in notes:
            typer.echo(note.plain, err=True)
        typer.echo(f"no finding {clean_text(repr(finding_id))} in {run_dir}", err=True)
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(explanation_json(ex), indent=2, default=str))
        for note in notes:
            typer.echo(note.plain, err=True)
        return
    with open_output(page=page, width=width) as console:
        render_explanation(ex, console, opts)
        for note in notes:
            console.print(note)


def _quiet_stdout() -> None:
    """After the reader closed the pipe, send what is left to /dev/null (no traceback)."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
