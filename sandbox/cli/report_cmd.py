"""`sandbox report`: validation reports that run scenarios over many seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
) -> None:
    """Precision and recall of the leak matcher per tier and per variant, with 95% intervals."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sandbox.analysis.leak_eval import DEFAULT_CORPUS, CorpusError, evaluate, load_corpus

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
    with Progress(
        "cases", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("cases", total=n)
        rep = evaluate(cases, split, on_case=lambda: progress.advance(task))
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
        _print_leaks(data, check)
    if check and failed:
        typer.echo(f"below floor: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def _fmt(row: dict[str, Any]) -> tuple[str, str, str]:
    rate = row["rate"]
    lo, hi = float(row["ci95"][0]), float(row["ci95"][1])
    shown = "-" if rate is None else f"{float(rate):.3f}"
    return f"{row['k']}/{row['n']}", shown, f"{lo:.2f}-{hi:.2f}"


def _print_leaks(data: dict[str, object], check: bool) -> None:
    console = Console()
    t = Table(
        title=f"leak matcher on {data['corpus']} ({data['split']} split, {data['cases']} cases)"
    )
    for col, just in (
        ("measure", "left"),
        ("count", "right"),
        ("rate", "right"),
        ("95% CI", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    overall = data["overall"]  # type: ignore[index]
    t.add_row("precision (owners named)", *_fmt(overall["precision"]))  # type: ignore[index]
    t.add_row("recall (leaking replies)", *_fmt(overall["recall"]))  # type: ignore[index]
    t.add_row("all owners named", *_fmt(overall["all_owners_named"]))  # type: ignore[index]
    t.add_row("misattributed owners", str(overall["misattributed"]), "", "")  # type: ignore[index]
    for tier, rows in data["tiers"].items():  # type: ignore[attr-defined]
        t.add_row(f"{tier} tier recall", *_fmt(rows["recall"]))
        t.add_row(f"{tier} tier precision", *_fmt(rows["precision"]))
    console.print(t)
    v = Table(title="per variant: leaking replies found / negatives flagged")
    for col, just in (
        ("variant", "left"),
        ("count", "right"),
        ("rate", "right"),
        ("95% CI", "right"),
    ):
        v.add_column(col, justify=just)  # type: ignore[arg-type]
    for name, row in data["positives"].items():  # type: ignore[attr-defined]
        v.add_row(f"{name} (found)", *_fmt(row))
    for name, row in data["negatives_flagged"].items():  # type: ignore[attr-defined]
        v.add_row(f"{name} (negative, flagged)", *_fmt(row))
    console.print(v)
    if check:
        f = Table(title="floors")
        for col in ("floor", "value", "required", "holds"):
            f.add_column(col)
        for name, row in data["floors"].items():  # type: ignore[attr-defined]
            upper = name in ("canary_false_positives", "misattributed")
            f.add_row(
                name,
                "-" if row["value"] is None else str(row["value"]),
                f"{'<=' if upper else '>='} {row['floor']}",
                "yes" if row["ok"] else "NO",
            )
        console.print(f)


def register(app: typer.Typer) -> None:
    """Add the `report` command group."""
    app.add_typer(report_app, name="report")
