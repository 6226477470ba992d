"""`sandbox report`: validation reports that run scenarios over many seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

# Floors of `report drift`, set from the full-size run (20 seeds, scenarios/drift.yaml and
# drift-control.yaml): recall 100/100 (Wilson 95% 0.963-1), control false alarms 5/120 =
# 0.042 (0.018-0.094); the margins leave room for runs with a few seeds.
DRIFT_MIN_RECALL = 0.9
DRIFT_MAX_CONTROL_FALSE_ALARM = 0.15

report_app = typer.Typer(help="Validation reports over many seeds.", no_args_is_help=True)


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

    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    n_kinds = 2 + (clean is not None)
    with Progress(
        "runs", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("runs", total=n_kinds * seeds)
        report = validate_drift(
            drift,
            clean,
            list(range(seeds)),
            out,
            workers=workers,
            on_result=lambda _i, _r: progress.advance(task),
            control_scenario=control,
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
        _print_drift(data, seeds)
        Console().print(f"report: {path}", markup=False, highlight=False)
    if failures:
        for f in failures:
            console.print(f"FAIL {f}", markup=False, highlight=False)
        raise typer.Exit(1)


def _ci(measure: dict[str, Any] | None) -> tuple[str, str, str]:
    """(k/n, rate, 95% interval) cells of a measure; dashes when it was not measured."""
    if not measure or measure["rate"] is None:
        return ("-", "-", "-")
    lo, hi = measure["ci95"]
    return (f"{measure['k']}/{measure['n']}", f"{measure['rate']:.3f}", f"{lo:.3f}-{hi:.3f}")


def _print_drift(data: dict[str, Any], seeds: int) -> None:
    console = Console()
    m = data["measures"]
    t = Table(title=f"drift monitor over {seeds} seeds")
    for col in ("measure", "k/n", "rate", "Wilson 95% CI"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    rows = (
        ("recall (vulnerable user-seeds flagged)", "recall"),
        ("onset at/after the profile change", "onset_after_change"),
        ("false alarms: control (adapting, no change)", "control_false_alarm"),
        ("false alarms: clean variant (no adaptation)", "clean_false_alarm"),
        ("false alarms: users without vulnerability", "unvulnerable_false_alarm"),
    )
    for label, key in rows:
        if m.get(key) is not None:
            t.add_row(label, *_ci(m[key]))
    console.print(t)
    lag = data["onset_lag"]
    lt = Table()
    lt.add_column("onset lag (sessions after the change)", justify="right")
    lt.add_column("flagged users", justify="right")
    for k, v in lag["early_histogram"].items():
        lt.add_row(f"{k} (early)", str(v))
    for k, v in lag["histogram"].items():
        lt.add_row(k, str(v))
    console.print(lt)
    if lag["median"] is not None:
        console.print(
            f"lag median {lag['median']:g}, IQR {lag['q1']:g}-{lag['q3']:g} "
            f"({lag['after_change']} at/after the change, {lag['early']} early)",
            markup=False,
            highlight=False,
        )
    p = data.get("power")
    if not p:
        return
    pt = Table(
        title=(
            f"detector power ({p['method']}, alpha {p['alpha']} per series, "
            f"{p['n_series']} series per cell, step at mid-series)"
        )
    )
    pt.add_column("step (noise SD)")
    for n in p["lengths"]:
        pt.add_column(f"{n} sess", justify="right")
    pt.add_column(f"sessions for {p['target_power']:.0%} power", justify="right")
    for eff in p["effects_sd"]:
        cells = {c["length"]: c for c in p["cells"] if c["effect_sd"] == eff}
        need = p["sessions_needed"].get(f"{eff:g}")
        pt.add_row(
            f"{eff:g}",
            *(f"{cells[n]['rate']:.2f}" for n in p["lengths"]),
            str(need) if need is not None else f"> {max(p['lengths'])}",
        )
    fa = {c["length"]: c for c in p["false_alarm"]}
    pt.add_row("0 (false alarm)", *(f"{fa[n]['rate']:.3f}" for n in p["lengths"]), "")
    console.print(pt)


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
