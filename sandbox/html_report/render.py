"""Write the report: index.html (one file, figures inline) and figures/ as PNG and SVG.

The page is rendered by Jinja2 with autoescaping on, so every string from the run is
escaped; figures are ``<img>`` elements with ``data:`` URIs (an SVG shown as an image
runs no script), and the page loads nothing from the network.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    UndefinedError,
    select_autoescape,
)

from sandbox.html_report import figures
from sandbox.html_report.chains import explain_all
from sandbox.html_report.run_data import gather_run
from sandbox.html_report.source import ReportInputError, Source, load_json_object
from sandbox.html_report.suite_pages import RunPages, gate_lines, run_link, write_run_pages
from sandbox.replay.sanitize import clean
from sandbox.replay.style import SEVERITIES
from sandbox.suite.report import KEY_METRICS

__all__ = ["Report", "write_report"]

# metrics of a suite drawn and tabled, when the runs measured them: the summary tables'
SUITE_METRICS = KEY_METRICS


@dataclass
class Report:
    """What was written: the page, the figure files, and the counts shown."""

    kind: str
    index: Path
    figures: list[Path] = field(default_factory=list)
    findings: int = 0
    chains: int = 0
    anchors: dict[str, str] = field(default_factory=dict)  # finding id -> its chain's anchor
    pages: int = 0  # run pages written under runs/ (suites)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("sandbox.html_report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["clean"] = clean
    return env


def _num(x: Any) -> str:
    if x is None or isinstance(x, bool):
        return "-" if x is None else str(x)
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def _inline(d: figures.Drawn) -> dict[str, str]:
    return {
        "name": d.name,
        "title": d.title,
        "src": "data:image/svg+xml;base64," + base64.b64encode(d.svg).decode("ascii"),
    }


def _finding_row(f: dict[str, Any], anchor: str) -> dict[str, str]:
    row = {k: clean(f.get(k) or "") for k in ("id", "severity", "monitor", "category", "user")}
    owner = f.get("owner")
    row["owner"] = clean(owner) if owner is not None and owner != f.get("user") else ""
    row["message"] = clean(f.get("message") or "")
    row["anchor"] = anchor
    return row


def _run_context(src: Source, max_chains: int) -> tuple[dict[str, Any], list[figures.Drawn]]:
    data = gather_run(src.folder)
    chains = explain_all(src.folder, data.findings, max_chains)
    drawn = [
        d
        for d in (
            figures.leak_heatmap(data.leak_kinds),
            figures.drift_curves(data.drift),
            figures.findings_timeline(data.sessions),
        )
        if d is not None
    ]
    anchor = {id(c.finding): c.anchor for c in chains}
    timeline = {s: [_finding_row(f, anchor[id(f)]) for f in fs] for s, fs in data.sessions.items()}
    ctx = {
        "title": f"run {clean(data.header.get('run_id', src.folder.name))}",
        "run": data,
        "timeline": timeline,
        "chains": chains,
        "leak_recipients": {
            kind: sorted({x for row in rows.values() for x in row})
            for kind, rows in data.leak_kinds.items()
        },
        "anchor_by_fid": {str(c.finding.get("id")): c.anchor for c in chains},
        "max_chains": max_chains,
        "severities": SEVERITIES,
    }
    return ctx, drawn


def _suite_context(
    src: Source, out: Path, max_chains: int, run_pages: bool
) -> tuple[dict[str, Any], list[figures.Drawn]]:
    assert src.file is not None
    result = load_json_object(src.file, "suite result")
    for key in ("suite", "configs", "gates"):
        if key not in result:
            raise ReportInputError(f"{src.file}: not a suite result: no {key!r} field")
    if not isinstance(result["configs"], dict) or not isinstance(result["gates"], list):
        raise ReportInputError(f"{src.file}: field 'configs' or 'gates' has the wrong type")
    have = {m for c in result["configs"].values() if isinstance(c, dict) for m in c["metrics"]}
    metrics = [m for m in SUITE_METRICS if m in have]
    drawn = [d for d in (figures.suite_metrics(result, metrics),) if d is not None]
    pages = RunPages()
    records = result.get("run_records")
    if run_pages and isinstance(records, list):
        pages = write_run_pages(
            records, out, lambda s, o: write_report(s, o, max_chains=max_chains).anchors
        )
    ctx = {
        "title": f"suite {clean(result['suite'])}",
        "suite": result,
        "metrics": metrics,
        "pages": pages,
        "gate_evidence": [
            gate_lines(g.get("evidence") or [], pages) if isinstance(g, dict) else []
            for g in result["gates"]
        ],
        "run_link": lambda f, config: run_link(pages, f, config),
    }
    return ctx, drawn


def _ablation_context(src: Source) -> tuple[dict[str, Any], list[figures.Drawn]]:
    assert src.file is not None
    comp = load_json_object(src.file, "ablation result")
    for key in ("cells", "components"):
        if not isinstance(comp.get(key), list):
            raise ReportInputError(f"{src.file}: not an ablation result: no {key!r} list")
    drawn = [d for d in (figures.composition_heatmap(comp),) if d is not None]
    ctx = {"title": f"ablation {clean(comp.get('ablation_id', src.folder.name))}", "comp": comp}
    return ctx, drawn


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ReportInputError(f"{out}: exists and is not a folder (-o takes a folder)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportInputError(f"{out}: cannot create the folder: {exc.strerror or exc}") from None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write beside `path`, then rename over it: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # opened normally: umask applies
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_report(
    src: Source, out: Path, *, max_chains: int = 500, run_pages: bool = False
) -> Report:
    """Render the page for `src` into the folder `out`.

    With `run_pages`, a suite's runs get pages of their own under ``out/runs/``.

    Raises:
        ReportInputError: when `out` is a file, or the input cannot be read.
    """
    _check_out(out)
    if src.kind == "run":
        ctx, drawn = _run_context(src, max_chains)
    elif src.kind == "suite":
        ctx, drawn = _suite_context(src, out, max_chains, run_pages)
    else:
        ctx, drawn = _ablation_context(src)
    ctx["kind"] = src.kind
    ctx["source"] = str(src.folder)
    ctx["generated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    ctx["figures"] = {d.name: _inline(d) for d in drawn}
    try:
        html = _env().get_template("report.html.j2").render(**ctx)
    except (UndefinedError, TypeError, AttributeError, KeyError) as exc:
        # a result file of the right kind whose fields are missing or of the wrong type
        raise ReportInputError(f"{src.file or src.folder}: unexpected content: {exc}") from None
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    report = Report(src.kind, out / "index.html")
    for d in drawn:
        for ext, blob in (("png", d.png), ("svg", d.svg)):
            path = fig_dir / f"{d.name}.{ext}"
            _write_atomic(path, blob)
            report.figures.append(path)
    _write_atomic(report.index, html.encode("utf-8"))
    if src.kind == "run":
        report.findings = len(ctx["chains"])
        report.chains = sum(c.explained for c in ctx["chains"])
        report.anchors = ctx["anchor_by_fid"]
    if src.kind == "suite":
        report.pages = len(ctx["pages"].href)
    return report
