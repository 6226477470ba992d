"""``sandbox list | show | replay``: look at runs in the terminal.

The commands are thin: they resolve the run, build a filter, open the output (pager on
a terminal, plain in a pipe) and hand over to `sandbox.replay`. Replay modules are
imported inside the commands so ``sandbox --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sandbox.replay.render import RenderOptions

__all__ = ["register"]

RunsDir = Annotated[
    Path,
    typer.Option(
        "--runs-dir",
        envvar="SANDBOX_RUNS_DIR",
        show_envvar=False,
        show_default=False,
        metavar="DIR",
        help="Folder of runs, nested ok (default runs/, or $SANDBOX_RUNS_DIR).",
    ),
]
RunArg = Annotated[
    str, typer.Argument(metavar="RUN", help="Run id under --runs-dir, or a run folder.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", metavar="", help="Emit JSON instead of a rendered view.")
]


def check_width(value: int | None) -> int | None:
    """`--width` must leave room for a table (20 columns or more)."""
    if value is not None and value < 20:
        raise typer.BadParameter(f"{value} is too narrow (20 or more)")
    return value


WidthOpt = Annotated[
    int | None,
    typer.Option(
        "--width", metavar="COLS", callback=check_width, help="Output width (20 or more)."
    ),
]
NoPagerOpt = Annotated[
    bool,
    typer.Option("--no-pager", metavar="", help="Print straight out, without $PAGER."),
]
# the former positive halves of --pager/--no-pager etc.: accepted, hidden, the default
PagerOpt = Annotated[bool, typer.Option("--pager", hidden=True)]
_VIEW = "What to show"
_FILTER = "Which turns and findings"


@contextlib.contextmanager
def record_errors() -> Iterator[None]:
    """A damaged run file the command cannot do without: exit 2 naming it, no traceback."""
    from sandbox.record.reader import RunRecordError

    try:
        yield
    except RunRecordError as exc:
        typer.echo(f"error: {clean_text(str(exc))}", err=True)
        raise typer.Exit(2) from None


def clean_text(text: str) -> str:
    """`text` without control characters (paths and messages come from the run folder)."""
    from sandbox.replay.sanitize import clean

    return clean(text)


def _resolve(run: str, runs_dir: Path, *, wait: bool = False, poll: float = 0.25) -> Path:
    """The run folder; with `wait`, poll until a run that has not started appears."""
    import time

    from sandbox.replay.runs import RunNotFoundError, resolve_run

    told = False
    while True:
        try:
            return resolve_run(run, runs_dir)
        except RunNotFoundError as exc:
            if not wait or "matches several" in str(exc):
                raise typer.BadParameter(str(exc), param_hint="RUN") from None
        if not told:
            typer.echo(
                f"waiting for run {run!r} to start under {runs_dir} (Ctrl-C to stop)", err=True
            )
            told = True
        try:
            time.sleep(poll)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None


def list_cmd(
    runs_dir: RunsDir = Path("runs"), as_json: JsonOpt = False, width: WidthOpt = None
) -> None:
    """List runs: id, scenario, status, users, sessions of all users, findings."""
    from rich.text import Text

    from sandbox.record.reader import list_runs
    from sandbox.replay.output import open_output
    from sandbox.replay.runs import run_info
    from sandbox.replay.sanitize import clean
    from sandbox.replay.summary_view import render_runs

    infos = [run_info(p, runs_dir) for p in list_runs(runs_dir)]
    if as_json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    with open_output(page=False, width=width) as console:
        if not render_runs(infos, console):
            console.print(Text(f"no runs under {clean(runs_dir)}"))
        for info in infos:
            if info.problem:
                console.print(Text(f"damaged {clean(info.id)}: {clean(info.problem)}", "yellow"))


def show_cmd(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    as_json: JsonOpt = False,
    width: WidthOpt = None,
    no_pager: NoPagerOpt = False,
    _pager: PagerOpt = False,
) -> None:
    """Summarise a run: per-monitor counts, leak matrix, per-user drift sparklines."""
    from rich.text import Text

    from sandbox.record.reader import ReadReport, RunRecordError, read_header_and_summary
    from sandbox.replay.output import open_output
    from sandbox.replay.runs import findings_by_monitor
    from sandbox.replay.summary_view import render_summary

    run_dir = _resolve(run, runs_dir)
    problems: list[str] = []  # damaged files, each named: shown, never a crash
    header, summary = read_header_and_summary(run_dir, problems)
    fallback = findings_by_monitor(run_dir) if summary is None else None
    start = _run_start(run_dir, problems)
    if start.get("start_date") is not None:
        header = {"start_date": start["start_date"], **header}
    if as_json:
        from sandbox.replay.findings import group_findings, iter_findings, sort_groups

        report = ReadReport()
        try:
            groups = [
                g.as_dict() for g in sort_groups(group_findings(iter_findings(run_dir, report)))
            ]
        except RunRecordError:
            groups = None  # the reason is in problems already
        data = {
            "header": header,
            "summary": summary,
            "findings": groups,
            "counts_from_events": fallback,
            "problems": problems,
            "skipped_lines": [n for n, _ in report.bad_lines],
        }
        print(json.dumps(data, indent=2))
        return
    with open_output(page=not no_pager, width=width) as console:
        render_summary(header, summary, console, fallback=fallback)
        for problem in problems:
            console.print(Text(f"⚠ {clean_text(problem)}", "yellow"))


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


def _run_start(run_dir: Path, problems: list[str] | None = None) -> dict[str, object]:
    """The first event (run_start), read alone; {} when there is none or it is damaged.

    Why events.jsonl could not be read is added to `problems`.
    """
    from sandbox.record.reader import RunRecordError
    from sandbox.replay.reading import read_events

    try:
        first = next(iter(read_events(run_dir)), None)
    except (OSError, RunRecordError) as exc:
        if problems is not None:
            problems.append(str(exc))
        return {}
    return first if first and first.get("kind") == "run_start" else {}


def _quiet_stdout() -> None:
    """After the reader closed the pipe, send what is left to /dev/null (no traceback)."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def register(app: typer.Typer) -> None:
    """Add the ``list``, ``show`` and ``replay`` commands to the CLI app."""
    app.command("list")(list_cmd)
    app.command("show")(show_cmd)
    app.command("replay")(replay_cmd)
