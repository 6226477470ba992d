"""``sandbox list | show | replay``: look at runs in the terminal.

The commands are thin: they resolve the run, build a filter, open the output (pager on
a terminal, plain in a pipe) and hand over to `sandbox.replay`. Replay modules are
imported inside the commands so ``sandbox --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

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


def register(app: typer.Typer) -> None:
    """Add the ``list``, ``show`` and ``replay`` commands to the CLI app."""
    app.command("list")(list_cmd)
    app.command("show")(show_cmd)
    from sandbox.cli.replay_cmd import replay_cmd

    app.command("replay")(replay_cmd)
