"""`sandbox suite`: regression suites over agent configs, with gates for CI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sandbox.cli.executor_opts import AddressOpt, ExecutorOpt, check_executor, set_offline
from sandbox.text_safety import clean

__all__ = ["register", "suite_app"]

suite_app = typer.Typer(
    name="suite",
    help="Regression suites: scenarios x agent configs x seeds, gated for CI.",
    no_args_is_help=True,
)


def _spec_exit(exc: Exception) -> typer.Exit:
    for issue in getattr(exc, "issues", []):
        typer.echo(f"error {issue}", err=True)
    return typer.Exit(code=2)


@suite_app.command("run")
def run_cmd(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file.")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="Parallel runs (default: cores; 1 in-process)."),
    ] = None,
    executor: ExecutorOpt = "pool",
    address: AddressOpt = None,
    out: Annotated[Path | None, typer.Option(help="Folder that holds suite folders.")] = None,
    suite_id: Annotated[
        str | None,
        typer.Option(help="Folder name (default: from the plan; re-running resumes)."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result JSON.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(help="Also gate each config against this saved baseline (NAME or file)."),
    ] = None,
    save_baseline: Annotated[
        str | None,
        typer.Option(help="Save the result as a baseline: NAME (baselines/NAME.json) or file."),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="Run only shard I/N of the tasks (no gates; join with `suite merge`)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a suite and check its gates.

    A baseline NAME lives in ``baselines/NAME.json`` beside the suite file; it holds
    metrics per run and the identities of findings, and is meant to be committed.

    Exit codes: 0 every gate holds, 1 a gate failed, 2 bad input, 3 runs errored.
    Complete runs are reused, so re-running the same command resumes a suite.
    """
    set_offline()
    from sandbox.record.lock import FolderBusyError
    from sandbox.spec import SpecError
    from sandbox.suite.report import render_result, to_junit, to_markdown, write_text
    from sandbox.suite.runner import SuitePlanError, run_suite

    check_executor(executor, workers, address)
    from sandbox.suite.compare import resolve_baseline_path

    shard_of = _parse_shard(shard) if shard else None

    out_root = out or Path(os.environ.get("SANDBOX_RUNS_DIR", "runs")) / "suites"
    base_path = resolve_baseline_path(baseline, suite) if baseline else None
    if base_path is not None and not base_path.exists():
        typer.echo(f"error: baseline not found: {clean(base_path)}", err=True)
        raise typer.Exit(code=2)
    try:
        result = run_suite(
            suite,
            out_root,
            suite_id=suite_id,
            workers=workers,
            engine=executor,
            address=address,
            progress=not quiet,
            baseline=base_path,
            save_baseline=resolve_baseline_path(save_baseline, suite) if save_baseline else None,
            shard=shard_of,
        )
    except SpecError as exc:
        raise _spec_exit(exc) from None
    except (SuitePlanError, FolderBusyError, ValueError, KeyError) as exc:
        typer.echo(f"error: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    if json_out is not None:
        write_text(json_out, json.dumps(result, indent=2) + "\n")
    if shard_of is not None:
        runs = result["runs"]
        typer.echo(
            f"shard {result['shard']}: {runs['complete']}/{runs['total']} runs complete"
            f" ({runs['reused']} reused) in {clean(result['folder'])}"
        )
        raise typer.Exit(code=int(result["exit_code"]))
    if junit is not None:
        write_text(junit, to_junit(result))
    if markdown is not None:
        write_text(markdown, to_markdown(result))
    render_result(result, Console())
    if result.get("baseline_saved"):
        typer.echo(f"baseline saved: {clean(result['baseline_saved'])}")
    raise typer.Exit(code=int(result["exit_code"]))


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise typer.BadParameter("expected I/N, e.g. 1/4", param_hint="--shard") from None
    if not 1 <= i <= n:
        raise typer.BadParameter("need 1 <= I <= N", param_hint="--shard")
    return i, n


@suite_app.command("merge")
def merge_cmd(
    suite: Annotated[Path, typer.Argument(help="The suite YAML file the shards ran.")],
    folders: Annotated[list[Path], typer.Argument(help="Suite folders written by the shards.")],
    out: Annotated[Path | None, typer.Option(help="Folder that holds suite folders.")] = None,
    suite_id: Annotated[
        str | None, typer.Option(help="Folder name (default: from the plan).")
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="Saved baseline (NAME or file).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result JSON.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write Markdown.")] = None,
) -> None:
    """Join the folders of a sharded suite and check the gates on the whole.

    Same exit codes as ``suite run``; a run that no shard completed counts as errored.
    """
    from sandbox.spec import SpecError
    from sandbox.suite.compare import resolve_baseline_path
    from sandbox.suite.report import render_result, to_junit, to_markdown, write_text
    from sandbox.suite.runner import SuitePlanError
    from sandbox.suite.shards import merge_suite

    out_root = out or Path(os.environ.get("SANDBOX_RUNS_DIR", "runs")) / "suites"
    try:
        result = merge_suite(
            suite,
            folders,
            out_root,
            suite_id=suite_id,
            baseline=resolve_baseline_path(baseline, suite) if baseline else None,
        )
    except SpecError as exc:
        raise _spec_exit(exc) from None
    except (SuitePlanError, ValueError, OSError) as exc:
        typer.echo(f"error: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    if json_out is not None:
        write_text(json_out, json.dumps(result, indent=2) + "\n")
    if junit is not None:
        write_text(junit, to_junit(result))
    if markdown is not None:
        write_text(markdown, to_markdown(result))
    render_result(result, Console())
    raise typer.Exit(code=int(result["exit_code"]))


def compare_cmd(
    a: Annotated[Path, typer.Argument(help="Old: a run, suite folder, result.json or baseline.")],
    b: Annotated[Path, typer.Argument(help="New: same kinds as A.")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metrics to compare (repeat).")
    ] = None,
    alpha: Annotated[float | None, typer.Option(help="Significance (default: A's).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the comparison.")] = None,
) -> None:
    """Compare B with A: metric deltas with intervals, new / fixed / persisting findings.

    Runs are aligned by scenario, config and seed, findings by identity (monitor,
    category, owner, recipient, item). Exits 1 on a regression: a metric worse with
    Holm-adjusted p < alpha (two single runs: any worsening), 2 on unreadable input.
    """
    from sandbox.suite.compare import compare_sides, load_side
    from sandbox.suite.report import render_comparison, write_text

    try:
        side_a, side_b = load_side(a), load_side(b)
    except ValueError as exc:
        typer.echo(f"error: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    result = compare_sides(side_a, side_b, alpha=alpha, metrics=metric or None)
    if not result["configs"]:
        typer.echo("error: no config in common between A and B", err=True)
        raise typer.Exit(code=2)
    if json_out is not None:
        write_text(json_out, json.dumps(result, indent=2) + "\n")
    render_comparison(result, Console())
    raise typer.Exit(code=int(result["exit_code"]))


suite_app.command("compare")(compare_cmd)


@suite_app.command("validate")
def validate_cmd(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.")],
) -> None:
    """Check suite files and everything they reference; exit 2 if any is invalid."""
    from sandbox.spec import SpecError
    from sandbox.suite.spec import load_suite

    bad = 0
    for f in suites:
        try:
            loaded = load_suite(f)
        except SpecError as exc:
            bad += 1
            _spec_exit(exc)
            continue
        n = sum(len(s) for s in loaded.seeds.values()) * len(loaded.suite.configs)
        typer.echo(f"ok    {clean(f)} (suite: {n} runs)")
    if bad:
        raise typer.Exit(code=2)


@suite_app.command("schema")
def schema_cmd(
    out: Annotated[
        Path | None, typer.Option(help="Write the schema to this file (default: print).")
    ] = None,
) -> None:
    """The JSON Schema of suite files."""
    from sandbox.suite.spec import Suite

    text = json.dumps(Suite.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")


@suite_app.command("show")
def show_cmd(
    result: Annotated[Path, typer.Argument(help="A suite folder or its result.json.")],
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
) -> None:
    """Print a finished suite's metrics and gates again; exits with its exit code."""
    from sandbox.suite.report import render_result, to_markdown

    p = result / "result.json" if result.is_dir() else result
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {clean(p)}: {clean(exc)}", err=True)
        raise typer.Exit(code=2) from None
    if markdown:
        typer.echo(to_markdown(data), nl=False)
    else:
        render_result(data, Console())
    raise typer.Exit(code=int(data.get("exit_code", 0)))


def register(app: typer.Typer) -> None:
    """Add the ``suite`` command group and ``compare`` to the main app."""
    app.add_typer(suite_app, name="suite")
    app.command("compare")(compare_cmd)
