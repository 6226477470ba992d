"""`sandbox report`: validation reports that run scenarios over many seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sandbox.cli.executor_opts import (
    AddressOpt,
    ExecutorOpt,
    check_executor,
    cluster_errors,
    set_offline,
)
from sandbox.cli.html_cmd import html_report
from sandbox.cli.inspect_cmds import WidthOpt
from sandbox.replay.output import open_output

__all__ = ["register"]

# Floors of `report drift`, set from the full-size run (20 seeds, scenarios/drift.yaml and
# drift-control.yaml): recall 100/100 (Wilson 95% 0.963-1), control false alarms 5/120 =
# 0.042 (0.018-0.094); the margins leave room for runs with a few seeds.
DRIFT_MIN_RECALL = 0.9
DRIFT_MAX_CONTROL_FALSE_ALARM = 0.15

report_app = typer.Typer(help="Validation reports over many seeds.", no_args_is_help=True)
report_app.command("html")(html_report)


@report_app.command("drift")
def drift_report(
    seeds: Annotated[int, typer.Option(help="How many seeds (0..N-1).")] = 20,
    drift: Annotated[Path, typer.Option(help="Scenario with seeded drift.")] = Path(
        "scenarios/drift.yaml"
    ),
    control: Annotated[
        Path,
        typer.Option(
            help="No-change control: same cast and adapting agent, no profile change "
            "(the false alarms of an adapting agent)."
        ),
    ] = Path("scenarios/drift-control.yaml"),
    clean: Annotated[
        Path | None,
        typer.Option(
            help="Also run this variant with adaptation off (e.g. scenarios/drift-clean.yaml)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Parallel runs.")] = 2,
    executor: ExecutorOpt = "pool",
    address: AddressOpt = None,
    judge: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Judge of the relational monitor in every scenario (default: theirs).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the runs and the report.")] = Path(
        "runs/drift-validation"
    ),
    power: Annotated[
        bool, typer.Option(help="Power of the detector on synthetic series with a known step.")
    ] = True,
    power_series: Annotated[
        int, typer.Option(min=1, help="Synthetic series per (effect, length) cell.")
    ] = 200,
    min_recall: Annotated[
        float, typer.Option(help="Fail (exit 1) when recall is below this.")
    ] = DRIFT_MIN_RECALL,
    max_control_false_alarm: Annotated[
        float, typer.Option(help="Fail (exit 1) when the control's false-alarm rate is above.")
    ] = DRIFT_MAX_CONTROL_FALSE_ALARM,
    max_clean_false_alarm: Annotated[
        float | None, typer.Option(help="Fail when the clean variant's rate is above.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    width: WidthOpt = None,
) -> None:
    """Run the drift scenario and its no-change control over seeds; score the drift monitor.

    Prints recall, the onset lag distribution and false alarms with counts and Wilson
    95% intervals, and (with --power) how many sessions the detector needs to find a
    step of 1.5, 2 and 3 noise SD; exits 1 when a floor is not met.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.analysis.drift_validation import (
        check_floors,
        drift_power,
        validate_drift,
        write_report,
    )

    set_offline()
    check_executor(executor, workers, address)
    if judge is not None:
        from sandbox.registry import judges

        if judge not in judges.names():
            raise typer.BadParameter(
                f"unknown judge {judge!r}; known: {', '.join(sorted(judges.names()))}",
                param_hint="--judge",
            )
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    n_kinds = 2 + (clean is not None)
    with (
        cluster_errors(),
        Progress(
            "runs", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        task = progress.add_task("runs", total=n_kinds * seeds)
        report = validate_drift(
            drift,
            clean,
            list(range(seeds)),
            out,
            workers=workers,
            on_result=lambda _i, _r: progress.advance(task),
            control_scenario=control,
            engine=executor,
            address=address,
            judge=judge,
        )
    if power:
        report.power = drift_power(n_series=power_series)
    floors = {
        "min_recall": min_recall,
        "max_control_false_alarm": max_control_false_alarm,
        "max_clean_false_alarm": max_clean_false_alarm if clean is not None else None,
    }
    failures = check_floors(report.as_dict(), **floors)
    report.check = {"floors": floors, "failures": failures, "passed": not failures}
    path = write_report(out, report)
    data = report.as_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        from sandbox.cli.report_view import print_drift

        with open_output(page=False, width=width) as out_console:
            print_drift(data, out_console)
            out_console.print(f"report: {path}")
    if failures:
        for f in failures:
            console.print(f"FAIL {f}", markup=False, highlight=False)
        raise typer.Exit(1)


@report_app.command("leaks")
def leaks_report(
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="Labelled replies (JSON Lines, see `sandbox.analysis.leak_eval`); "
            "default: the corpus shipped with the sandbox."
        ),
    ] = None,
    split: Annotated[
        str, typer.Option(help="Which cases: test, dev or all (a corpus without splits: all).")
    ] = "test",
    floors: Annotated[
        bool | None,
        typer.Option(
            "--floors/--no-floors",
            help="Exit 1 below the floors (default: on for the shipped corpus only).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Parallel matchers (with pool/ray).")
    ] = None,
    executor: ExecutorOpt = "serial",
    address: AddressOpt = None,
    width: WidthOpt = None,
) -> None:
    """Precision and recall of the leak matcher per tier and per variant, with 95% intervals."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.analysis.leak_eval import DEFAULT_CORPUS, CorpusError, evaluate, load_corpus
    from sandbox.execute import make_executor

    set_offline()
    check_executor(executor, workers, address)
    path = corpus or DEFAULT_CORPUS
    if split not in ("test", "dev", "all"):
        typer.echo(f"error: --split must be test, dev or all, not {split!r}", err=True)
        raise typer.Exit(2)
    try:
        cases = load_corpus(path)
    except CorpusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if split != "all" and not any(c.get("split") == split for c in cases):
        if corpus is None or any("split" in c for c in cases):
            typer.echo(f"error: {path}: no cases in split {split!r}", err=True)
            raise typer.Exit(2)
        split = "all"
    n = sum(1 for c in cases if split == "all" or c.get("split", "test") == split)
    console = Console(stderr=True)
    with (
        cluster_errors(),
        Progress(
            "cases", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        task = progress.add_task("cases", total=n)
        rep = evaluate(
            cases,
            split,
            on_case=lambda: progress.advance(task),
            executor=make_executor(executor, workers, address),
        )
    data = rep.as_dict()
    data["corpus"] = str(path)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
    check = floors if floors is not None else corpus is None
    failed = [k for k, v in data["floors"].items() if not v["ok"]]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        from sandbox.cli.report_view import print_leaks

        with open_output(page=False, width=width) as out_console:
            print_leaks(data, check, out_console)
    if check and failed:
        typer.echo(f"below floor: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


@report_app.command("judge")
def judge_report(
    judge: Annotated[
        str, typer.Option(help="Registered judge to measure (triple, embedding, llm...).")
    ] = "triple",
    judge_args: Annotated[
        str | None, typer.Option(help="The judge's arguments as a JSON object.")
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="Labelled public items (JSON Lines, see `sandbox.analysis.judge_eval`); "
            "default: the corpus shipped with the sandbox."
        ),
    ] = None,
    split: Annotated[
        str, typer.Option(help="Which items: test (default), calibration or train.")
    ] = "test",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many items per section (a quick, smaller run)."),
    ] = None,
    floors: Annotated[
        bool | None,
        typer.Option(
            "--floors/--no-floors",
            help="Exit 1 below the floors (default: on for the shipped corpus, test split).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    width: WidthOpt = None,
) -> None:
    """Request risk, stance and harm of a judge on public data, with counts and intervals.

    Pairwise accuracy (user-specific vs neutral user) per category, general request harm,
    stance on real model replies, the harm judge itself against the datasets' labels,
    mention-only replies against complying ones, and a cosine-similarity baseline.
    """
    from sandbox.analysis.judge_eval import DEFAULT_CORPUS, CorpusError, evaluate, load_corpus
    from sandbox.cli.judge_cmd import JudgeInputError, make_judge

    path = corpus or DEFAULT_CORPUS
    if split not in ("test", "calibration", "train"):
        typer.echo(f"error: --split must be test, calibration or train, not {split!r}", err=True)
        raise typer.Exit(2)
    try:
        items = load_corpus(path)
    except CorpusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not any(it["split"] == split for it in items):
        typer.echo(f"error: {path}: no items in split {split!r}", err=True)
        raise typer.Exit(2)
    try:
        j = make_judge(judge, judge_args)
    except JudgeInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    console = Console(stderr=True)
    with console.status("measuring") as status:
        rep = evaluate(
            j, path, split, limit=limit, progress=lambda name: status.update(f"measuring: {name}")
        )
    data = rep.to_dict()
    data["corpus"] = str(path)
    data["limit"] = limit
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
    check = floors if floors is not None else (corpus is None and split == "test")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        from sandbox.cli.report_view import print_judge

        with open_output(page=False, width=width) as out_console:
            print_judge(data, check, out_console)
    failed = [k for k, v in data["floors"].items() if not v["ok"]]
    if check and failed:
        typer.echo(f"below floor: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `report` command group."""
    app.add_typer(report_app, name="report")
