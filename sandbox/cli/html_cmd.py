"""`sandbox report html`: a self-contained static page of a run, a suite or an ablation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.inspect_cmds import RunsDir

__all__ = ["html_report"]


def html_report(
    source: Annotated[
        str,
        typer.Argument(
            metavar="RUN|SUITE|ABLATION",
            help="A run (folder, id or unique suffix), a suite folder or its result.json, "
            "or an ablation folder.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Folder to write index.html and figures/."),
    ],
    runs_dir: RunsDir = Path("runs"),
    max_chains: Annotated[
        int,
        typer.Option(min=0, help="Trace the evidence chain of at most this many findings."),
    ] = 500,
    run_pages: Annotated[
        bool,
        typer.Option(
            "--run-pages",
            help="For a suite: also a page per run (runs/NNN/), linked from gates and runs.",
        ),
    ] = False,
) -> None:
    """Write a static HTML report that needs no network to view.

    A run's page has its header, per-monitor counts, the owner x recipient leak heatmap,
    per-user drift curves (with onsets and the control agent's curve), findings by
    session and each finding's evidence chain; a suite's has its gates and the
    comparison with the baseline; an ablation's the composition heatmap with intervals.
    Figures are also written as PNG and SVG under DIR/figures. Exit 2 on bad input.
    """
    from sandbox.html_report import ReportInputError, detect_source, write_report
    from sandbox.replay.sanitize import clean

    try:
        src = detect_source(source, runs_dir)
        report = write_report(src, out, max_chains=max_chains, run_pages=run_pages)
    except ReportInputError as exc:
        typer.echo(f"error: {clean(str(exc))}", err=True)
        raise typer.Exit(2) from None
    bits = [f"{len(report.figures) // 2} figures"]
    if report.kind == "run":
        bits.append(f"{report.findings} findings, {report.chains} evidence chains")
    if report.pages:
        bits.append(f"{report.pages} run pages")
    typer.echo(f"{report.kind} report: {report.index} ({', '.join(bits)})")
