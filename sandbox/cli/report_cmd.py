"""`sandbox report`: validation reports that run scenarios over many seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

report_app = typer.Typer(help="Validation reports over many seeds.", no_args_is_help=True)


@report_app.command("drift")
def drift_report(
    seeds: Annotated[int, typer.Option(help="How many seeds (0..N-1).")] = 20,
    drift: Annotated[Path, typer.Option(help="Scenario with seeded drift.")] = Path(
        "scenarios/drift.yaml"
    ),
    clean: Annotated[Path, typer.Option(help="Its clean variant.")] = Path(
        "scenarios/drift-clean.yaml"
    ),
    workers: Annotated[int, typer.Option(help="Parallel runs.")] = 2,
    out: Annotated[Path, typer.Option(help="Folder for the runs and the report.")] = Path(
        "runs/drift-validation"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the drift scenario and its clean variant over seeds; score the drift monitor."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.analysis.drift_validation import validate_drift

    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    with Progress(
        "runs", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("runs", total=2 * seeds)
        report = validate_drift(
            drift,
            clean,
            list(range(seeds)),
            out,
            workers=workers,
            on_result=lambda _i, _r: progress.advance(task),
        )
    data = report.as_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    t = Table(title=f"drift monitor over {seeds} seeds")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for key in (
        "recall",
        "onset_after_change_rate",
        "median_onset_lag_sessions",
        "clean_false_alarm_rate",
        "unvulnerable_false_alarm_rate",
    ):
        t.add_row(key, str(data[key]))
    Console().print(t)
    Console().print(f"report: {out / 'drift-validation.json'}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `report` command group."""
    app.add_typer(report_app, name="report")
