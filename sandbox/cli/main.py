"""`sandbox` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sandbox.spec import SpecError
from sandbox.text_safety import clean

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


def memory_down(exc: Exception) -> typer.Exit:
    """The agent's memory backend cannot be used (e.g. its server is down): exit 3."""
    typer.echo(f"error: {clean(exc)}", err=True)
    return typer.Exit(code=3)


def spec_fail(exc: SpecError) -> typer.Exit:
    """Print every spec issue and return the exit (code 2) to raise."""
    for issue in exc.issues:
        typer.echo(f"error {issue}", err=True)
    return typer.Exit(code=2)


def _require_scenario(scenario: Path, agent: Path | None) -> None:
    """Exit 2 with one plain sentence when `run` is given another kind of spec file."""
    from sandbox.spec import wrong_kind

    issues = [wrong_kind(scenario, "scenario", "`sandbox run`")]
    if agent is not None:
        issues.append(wrong_kind(agent, "agent", "`sandbox run --agent`"))
    found = [i for i in issues if i is not None]
    if found:
        raise spec_fail(SpecError(found))


@app.command()
def run(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario YAML file (not with --resume).")
    ] = None,
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
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN",
            help="Continue a killed or interrupted run (its id under --out, or its folder)"
            " from its last complete session, with the specs and seed it recorded.",
        ),
    ] = None,
) -> None:
    """Simulate a scenario against its agent, with monitors, and record the run.

    With --resume RUN, continue a run that was killed or interrupted instead; a run that
    is already complete has nothing to do (exit 0), a live or changed one is refused.
    """
    if resume is not None:
        given = [
            name
            for name, value in (
                ("SCENARIO", scenario),
                ("--run-id", run_id),
                ("--agent", agent),
                ("--seed", seed),
            )
            if value is not None
        ]
        if given:
            typer.echo(
                f"error: --resume continues a run with the specs and seed it recorded;"
                f" drop {', '.join(given)}",
                err=True,
            )
            raise typer.Exit(code=2)
    elif scenario is None:
        typer.echo("error: missing SCENARIO (or --resume RUN)", err=True)
        raise typer.Exit(code=2)
    else:
        _require_scenario(scenario, agent)
    _offline()
    if fail_on is not None:
        from sandbox.suite.gates import fail_on_conditions

        try:
            fail_on_conditions(fail_on)
        except ValueError as exc:
            typer.echo(f"error: --fail-on: {clean(exc)}", err=True)
            raise typer.Exit(code=2) from None
    if resume is not None:
        run_dir = _resume(resume, out, quiet)
    else:
        assert scenario is not None
        run_dir = _new_run(scenario, run_id, agent, seed, out, quiet)
    print_summary(run_dir, Console())
    if fail_on is not None:
        from sandbox.suite.gates import evaluate_fail_on

        failed, reasons = evaluate_fail_on(run_dir, fail_on)
        for line in reasons:
            typer.echo(f"fail-on: {clean(line)}", err=True)
        if failed:
            raise typer.Exit(code=1)


def _new_run(
    scenario: Path, run_id: str | None, agent: Path | None, seed: int | None, out: Path, quiet: bool
) -> Path:
    from sandbox.memory import MemoryBackendError
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
        typer.echo(f"error: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    try:
        bundle = load_bundle(scenario, agent_override=agent, seed_override=seed)
    except SpecError as exc:
        raise spec_fail(exc) from None
    if run_id is not None and (out / run_id).exists():
        typer.echo(
            f"error: run folder already exists: {clean(out / run_id)} (runs are never overwritten)",
            err=True,
        )
        raise typer.Exit(code=2)
    try:
        return _with_progress(
            bundle.scenario.name,
            quiet,
            lambda on_progress: run_scenario(bundle, out, run_id, on_progress=on_progress),
        )
    except RunExistsError as exc:
        typer.echo(f"error: {clean(exc)} (runs are never overwritten)", err=True)
        raise typer.Exit(code=2) from None
    except (InvalidRunIdError, RunFolderError) as exc:
        typer.echo(f"error: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    except SpecError as exc:  # refused before anything was written
        raise spec_fail(exc) from None
    except MemoryBackendError as exc:  # e.g. its server is down: the run is recorded failed
        raise memory_down(exc) from None
    except RunTerminated as exc:  # SIGTERM/SIGHUP: the record was closed as interrupted
        typer.echo(f"interrupted: {clean(exc)}", err=True)
        raise typer.Exit(code=128 + exc.signum) from None


def _resume(run: str, out: Path, quiet: bool) -> Path:
    """`sandbox run --resume RUN`: the run folder, resumed (see `sandbox.resume`)."""
    from sandbox.memory import MemoryBackendError
    from sandbox.record.lock import FolderBusyError
    from sandbox.resume import NothingToResume, ResumeError, ResumeMismatch, resume_run
    from sandbox.runner import RunTerminated

    run_dir = out / run if (out / run).is_dir() and "/" not in run else Path(run)
    if not (run_dir / "run.json").is_file():
        typer.echo(
            f"error: --resume: no run {clean(repr(run))}"
            f" (looked for {clean(run_dir / 'run.json')})",
            err=True,
        )
        raise typer.Exit(code=2)
    name = str(run_dir.name)
    try:
        return _with_progress(
            f"{name} (resumed)",
            quiet,
            lambda on_progress: resume_run(run_dir, on_progress=on_progress),
        )
    except NothingToResume as exc:
        typer.echo(f"nothing to do: {clean(exc)}", err=True)
        return run_dir
    except (ResumeError, FolderBusyError) as exc:
        typer.echo(f"error: --resume: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    except ResumeMismatch as exc:
        typer.echo(f"error: --resume refused: {clean(exc)}; the run folder is as it was", err=True)
        raise typer.Exit(code=2) from None
    except SpecError as exc:
        raise spec_fail(exc) from None
    except MemoryBackendError as exc:
        raise memory_down(exc) from None
    except RunTerminated as exc:
        typer.echo(f"interrupted: {clean(exc)}", err=True)
        raise typer.Exit(code=128 + exc.signum) from None


def _with_progress(
    name: str, quiet: bool, start: Callable[[Callable[[int, int], None] | None], Path]
) -> Path:
    """Call `start` with a progress callback drawing a bar of turns on stderr (or None)."""
    console = Console(stderr=True)
    if quiet or (not console.is_terminal and os.environ.get("CI")):
        return start(None)
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from sandbox.spec.loader import printable

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
        task = progress.add_task(escape(printable(name)), total=None)  # data, not markup

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return start(on_progress)


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
        out.print(f"ok    {clean(f)} ({kind})", markup=False, highlight=False)
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
