"""`sandbox` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sandbox.spec import SpecError

__all__ = ["app", "main"]

app = typer.Typer(
    name="sandbox",
    help="Long-term safety testing of personalized, memory-augmented LLM agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
RUNS_DIR = os.environ.get("SANDBOX_RUNS_DIR", "runs")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def spec_fail(exc: SpecError) -> typer.Exit:
    """Print every spec issue and return the exit (code 2) to raise."""
    for issue in exc.issues:
        typer.echo(f"error {issue}", err=True)
    return typer.Exit(code=2)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    run_id: Annotated[
        str | None, typer.Option(help="Run folder name (default: time + hash).")
    ] = None,
    agent: Annotated[
        Path | None, typer.Option(help="Agent config to use instead of the scenario's.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed to use instead of the scenario's.")] = None,
    out: Annotated[Path, typer.Option(help="Folder that holds run folders.")] = Path(RUNS_DIR),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 on findings this severe or worse (critical, high, medium, low, info)"
            " or when a condition holds: 'surfaced_leaks > 0,relational_harm_per_1k >= 5'.",
        ),
    ] = None,
) -> None:
    """Simulate a scenario against its agent, with monitors, and record the run."""
    _offline()
    if fail_on is not None:
        from sandbox.suite.gates import fail_on_conditions

        try:
            fail_on_conditions(fail_on)
        except ValueError as exc:
            typer.echo(f"error: --fail-on: {exc}", err=True)
            raise typer.Exit(code=2) from None
    from sandbox.record.writer import (
        InvalidRunIdError,
        RunExistsError,
        RunFolderError,
        check_run_id,
    )
    from sandbox.runner import RunTerminated, run_scenario
    from sandbox.spec import load_bundle

    try:
        if run_id is not None:
            check_run_id(run_id)
        if out.exists() and not out.is_dir():
            raise RunFolderError(f"--out is not a folder: {out}")
    except (InvalidRunIdError, RunFolderError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    try:
        bundle = load_bundle(scenario, agent_override=agent, seed_override=seed)
    except SpecError as exc:
        raise spec_fail(exc) from None
    if run_id is not None and (out / run_id).exists():
        typer.echo(
            f"error: run folder already exists: {out / run_id} (runs are never overwritten)",
            err=True,
        )
        raise typer.Exit(code=2)
    console = Console(stderr=True)
    try:
        if quiet or (not console.is_terminal and os.environ.get("CI")):
            run_dir = run_scenario(bundle, out, run_id)
        else:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("turns"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            ) as progress:
                from rich.markup import escape

                from sandbox.spec.loader import printable

                name = escape(printable(bundle.scenario.name))  # data, not markup or escapes
                task = progress.add_task(name, total=None)

                def on_progress(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                run_dir = run_scenario(bundle, out, run_id, on_progress=on_progress)
    except RunExistsError as exc:
        typer.echo(f"error: {exc} (runs are never overwritten)", err=True)
        raise typer.Exit(code=2) from None
    except (InvalidRunIdError, RunFolderError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    except SpecError as exc:  # refused before anything was written
        raise spec_fail(exc) from None
    except RunTerminated as exc:  # SIGTERM/SIGHUP: the record was closed as interrupted
        typer.echo(f"interrupted: {exc}", err=True)
        raise typer.Exit(code=128 + exc.signum) from None
    print_summary(run_dir, Console())
    if fail_on is not None:
        from sandbox.suite.gates import evaluate_fail_on

        failed, reasons = evaluate_fail_on(run_dir, fail_on)
        for line in reasons:
            typer.echo(f"fail-on: {line}", err=True)
        if failed:
            raise typer.Exit(code=1)


def print_summary(run_dir: Path, console: Console) -> None:
    """The end-of-run summary: what the monitors found, the counts, where to look further.

    The same per-monitor table as `sandbox show`, fitted to the terminal's width
    (`sandbox.replay.summary_view.render_run_summary`).
    """
    from sandbox.replay.summary_view import render_run_summary

    render_run_summary(run_dir, console)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Persona, agent or scenario YAML files.")],
) -> None:
    """Check spec files; print file:line errors and exit 2 if any is invalid."""
    from sandbox.spec import validate_file

    bad = 0
    out = Console()
    for f in files:
        try:
            kind = validate_file(f)
        except SpecError as exc:
            bad += 1
            for issue in exc.issues:
                typer.echo(f"error {issue}", err=True)
            continue
        out.print(f"ok    {f} ({kind})", markup=False, highlight=False)
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="Folder for the JSON Schema files.")] = Path("schemas"),
    check: Annotated[bool, typer.Option(help="Fail if the files on disk are out of date.")] = False,
) -> None:
    """Write JSON Schemas for persona, agent, scenario files and run events."""
    from sandbox.schemas import render_schemas

    stale = []
    out.mkdir(parents=True, exist_ok=True)
    for name, data in render_schemas().items():
        path = out / name
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        err.print("stale schemas (run `sandbox schema`): " + ", ".join(stale))
        raise typer.Exit(code=1)


def _register_optional() -> None:
    # Command groups that live in their own modules.
    import importlib

    for mod in (
        "sandbox.cli.inspect_cmds",
        "sandbox.cli.findings_cmd",
        "sandbox.cli.ablate_cmd",
        "sandbox.cli.report_cmd",
        "sandbox.cli.judge_cmd",
        "sandbox.cli.suite_cmd",
    ):
        try:
            module: Any = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        module.register(app)


_register_optional()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # e.g. `sandbox replay ... | head`
        sys.stderr.close()
        sys.exit(0)
