"""``sandbox findings``: a run's findings grouped for triage, with filters and sorting.

The filter options (`--severity`, `--category`, `--monitor`, `--owner`) are shared with
``sandbox replay``; values the run does not know are errors (exit 2) that list the
known ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sandbox.cli.inspect_cmds import JsonOpt, NoPagerOpt, RunArg, RunsDir, WidthOpt, record_errors

if TYPE_CHECKING:
    from sandbox.replay.filters import SessionRange
    from sandbox.replay.findings import FindingCriteria, RunIndex

__all__ = ["checked_criteria", "findings_cmd", "register"]

SeverityOpt = Annotated[
    str | None,
    typer.Option(
        "--severity",
        metavar="LEVEL",
        help="This severity or worse: critical, high, medium, low, info.",
    ),
]
CategoryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--category", "-c", metavar="NAME", help="Only findings of this category (repeatable)."
    ),
]
MonitorOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--monitor",
        "-m",
        metavar="NAME[/CAT]",
        help="Only this monitor's findings, or one category of it (repeatable).",
    ),
]
OwnerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--owner", metavar="USER", help="Only findings about this user's data (repeatable)."
    ),
]


def checked_criteria(
    run_dir: Path,
    *,
    severity: str | None = None,
    categories: list[str] | None = None,
    monitors: list[str] | None = None,
    owners: list[str] | None = None,
    users: list[str] | None = None,
    sessions: SessionRange | None = None,
    index: RunIndex | None = None,
    check: bool = True,
) -> FindingCriteria:
    """Criteria from the options, checked against the run (exit 2 on an unknown value).

    With `check` false only the severity name is checked (for a run still being written).
    """
    from sandbox.replay.findings import (
        FilterValueError,
        FindingCriteria,
        parse_severity,
        scan_run,
    )

    try:
        crit = FindingCriteria(
            monitors=frozenset(monitors or []),
            categories=frozenset(categories or []),
            owners=frozenset(owners or []),
            min_severity=parse_severity(severity),
        )
        if check:
            (index or scan_run(run_dir)).check(crit, users or [], sessions)
    except FilterValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    return crit


def _describe(crit: FindingCriteria, users: list[str], session: str | None) -> str:
    bits = []
    if crit.min_severity:
        bits.append(f"severity>={crit.min_severity}")
    for name, vals in (
        ("monitor", crit.monitors),
        ("category", crit.categories),
        ("owner", crit.owners),
        ("user", set(users)),
    ):
        if vals:
            bits.append(f"{name}={','.join(sorted(vals))}")
    if session:
        bits.append(f"session={session}")
    return " ".join(bits)


def findings_cmd(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    severity: SeverityOpt = None,
    category: CategoryOpt = None,
    monitor: MonitorOpt = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", metavar="USER", help="Only findings in this user's chats."),
    ] = None,
    owner: OwnerOpt = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", metavar="RANGE", help="Sessions: 3, 3..7, 3.. or ..7."),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="KEY",
            show_default=False,
            help="severity (default), count, first, last, monitor, owner or user.",
        ),
    ] = "severity",
    as_json: JsonOpt = False,
    width: WidthOpt = None,
    no_pager: NoPagerOpt = False,
) -> None:
    """List findings grouped by monitor, category, owner, recipient and item."""
    from sandbox.cli.inspect_cmds import _resolve
    from sandbox.replay.filters import parse_session_range
    from sandbox.replay.findings import FilterValueError, group_findings, scan_run, sort_groups
    from sandbox.replay.findings_view import render_groups
    from sandbox.replay.output import open_output
    from sandbox.replay.player import read_notices

    run_dir = _resolve(run, runs_dir)
    try:
        srange = parse_session_range(session) if session else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--session") from None
    with record_errors():  # no events.jsonl, or an unreadable one: exit 2 naming it
        index = scan_run(run_dir)
    notes = read_notices(index.report)
    crit = checked_criteria(
        run_dir,
        severity=severity,
        categories=category,
        monitors=monitor,
        owners=owner,
        users=user,
        sessions=srange,
        index=index,
    )
    groups = group_findings(index.findings, crit, user or [], srange)
    try:
        groups = sort_groups(groups, sort)
    except FilterValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    if as_json:
        print(
            json.dumps(
                {
                    "run": str(run_dir),
                    "findings": sum(g.count for g in groups),
                    "total": len(index.findings),
                    "groups": [g.as_dict() for g in groups],
                    "skipped_lines": [n for n, _ in index.report.bad_lines],
                },
                indent=2,
            )
        )
        for note in notes:
            typer.echo(note.plain, err=True)
        return
    with open_output(page=not no_pager, width=width) as console:
        render_groups(
            groups,
            console,
            run_name=run,
            total=len(index.findings),
            filters=_describe(crit, user or [], session),
        )
        for note in notes:
            console.print(note)


def register(app: typer.Typer) -> None:
    """Add the ``findings`` command to the CLI app."""
    app.command("findings")(findings_cmd)
