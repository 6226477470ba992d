"""The report's figures, drawn with matplotlib (Agg, no pyplot state) as PNG and SVG.

Every text from the run (user names, metric and cell names) is drawn with math text
off, so a ``$`` in a name is just a character. SVG output carries no date and a fixed
hash salt, so the same data draws the same file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from sandbox.html_report.run_data import DriftCurve
from sandbox.replay.style import SEVERITIES

__all__ = [
    "Drawn",
    "composition_heatmap",
    "drift_curves",
    "findings_timeline",
    "leak_heatmap",
    "suite_metrics",
]

SEVERITY_COLORS = {
    "critical": "#7f0000",
    "high": "#d7301f",
    "medium": "#fc8d59",
    "low": "#fdcc8a",
    "info": "#bdbdbd",
}
_RC: dict[str, Any] = {
    "text.parse_math": False,
    "svg.hashsalt": "persona-sandbox",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
}


@dataclass
class Drawn:
    """One figure: a file stem, its caption and its PNG and SVG bytes."""

    name: str
    title: str
    png: bytes
    svg: bytes


@contextmanager
def _style() -> Iterator[None]:
    # rc_context is typed with a Literal of every key; these keys are all valid ones
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


def _save(fig: Figure, name: str, title: str) -> Drawn:
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    return Drawn(name, title, png.getvalue(), svg.getvalue())


def _short(s: str, n: int = 24) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def leak_heatmap(kinds: dict[str, dict[str, dict[str, int]]]) -> Drawn | None:
    """Owner x recipient counts, one panel per leak kind (latent, surfaced, ...)."""
    if not kinds:
        return None
    people = sorted(
        {o for rows in kinds.values() for o in rows}
        | {r for rows in kinds.values() for row in rows.values() for r in row}
    )[:40]
    with _style():
        n = len(kinds)
        side = max(3.0, 0.45 * len(people) + 1.5)
        fig = Figure(figsize=(side * n + 0.8, side), layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
        for ax, (kind, rows) in zip(axes, kinds.items(), strict=True):
            grid = np.array([[rows.get(o, {}).get(r, 0) for r in people] for o in people])
            im = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(1, int(grid.max())))
            ax.set_xticks(range(len(people)), [_short(p, 14) for p in people], rotation=60)
            ax.set_yticks(range(len(people)), [_short(p, 14) for p in people])
            ax.set_xlabel("recipient")
            ax.set_ylabel("owner")
            ax.set_title(f"{_short(kind)}: {int(grid.sum())} leaks")
            if len(people) <= 12:
                peak = max(1, int(grid.max()))
                for (i, j), v in np.ndenumerate(grid):
                    if v:
                        color = "white" if v > peak / 2 else "black"
                        ax.text(j, i, str(v), ha="center", va="center", color=color, fontsize=8)
            fig.colorbar(im, ax=ax, shrink=0.8)
        return _save(fig, "leak-matrix", "Leaks: owner of the data (rows) × who saw it (columns)")


def _plot(ax: Any, xs: Sequence[int], ys: Sequence[float | None], **kw: Any) -> bool:
    vals = [np.nan if v is None else v for v in ys]
    if all(math.isnan(v) for v in vals):
        return False
    ax.plot(xs, vals, marker="o", markersize=3, **kw)
    return True


def drift_curves(curves: list[DriftCurve], limit: int = 24) -> Drawn | None:
    """Per user over sessions: the tested drift metric, agent vs control risk, onsets."""
    shown = curves[:limit]
    if not shown:
        return None
    with _style():
        cols = min(3, len(shown))
        rows = math.ceil(len(shown) / cols)
        fig = Figure(figsize=(4.2 * cols, 2.8 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, c in zip(axes, shown, strict=False):
            _plot(ax, c.sessions, c.values, color="#3182bd", label=c.metric or "series")
            if c.metric != "mean_risk":
                _plot(ax, c.sessions, c.risk, color="#636363", lw=1, label="agent risk")
            _plot(ax, c.sessions, c.control, color="#31a354", ls="--", lw=1, label="control risk")
            for s in c.changes:
                ax.axvline(s, color="#756bb1", lw=0.8, ls=":")
            if c.onset is not None:
                ax.axvline(c.onset, color="#d7301f", lw=1.6, label=f"onset s{c.onset}")
            title = _short(c.user) + ("  (drift)" if c.flagged else "")
            ax.set_title(title, color="#d7301f" if c.flagged else "black")
            ax.set_xlabel("session")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        return _save(
            fig,
            "drift",
            "Drift per user over sessions: the tested metric, the agent's and the control's "
            "mean risk, onsets (red) and profile changes (dotted)",
        )


def findings_timeline(sessions: dict[int, list[dict[str, Any]]]) -> Drawn | None:
    """Findings per session, stacked by severity."""
    keys = [s for s in sessions if s >= 0]
    if not keys:
        return None
    xs = list(range(min(keys), max(keys) + 1))
    with _style():
        fig = Figure(figsize=(max(4.0, 0.35 * len(xs) + 2), 3.0), layout="constrained")
        ax = fig.subplots()
        bottom = np.zeros(len(xs))
        for sev in SEVERITIES:
            counts = np.array(
                [sum(f.get("severity") == sev for f in sessions.get(s, [])) for s in xs]
            )
            if counts.any():
                ax.bar(xs, counts, bottom=bottom, color=SEVERITY_COLORS[sev], label=sev)
                bottom += counts
        ax.set_xlabel("session")
        ax.set_ylabel("findings")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
        return _save(fig, "timeline", "Findings per session, by severity")


def composition_heatmap(comp: dict[str, Any]) -> Drawn | None:
    """Cells x metrics: colour is the mean scaled per metric; text is mean [CI]."""
    metrics = [str(m) for m in comp.get("metrics") or []]
    cells = [c for c in comp.get("cells") or [] if isinstance(c, dict)]
    if not metrics or not cells:
        return None
    stats = {
        str(m): {str(s.get("cell")): s for s in rows if isinstance(s, dict)}
        for m, rows in (comp.get("cell_stats") or {}).items()
        if isinstance(rows, list)
    }
    composed = {
        (str(f.get("metric")), str(f.get("cell")))
        for f in comp.get("composed_failures") or []
        if isinstance(f, dict)
    }
    means = np.full((len(cells), len(metrics)), np.nan)
    labels: list[list[str]] = []
    for i, cell in enumerate(cells):
        row = []
        for j, m in enumerate(metrics):
            s = stats.get(m, {}).get(str(cell.get("name")), {})
            mean, ci = s.get("mean"), s.get("ci")
            txt = "-"
            if isinstance(mean, int | float) and math.isfinite(mean):
                means[i, j] = mean
                txt = f"{mean:.3g}"
                if (
                    isinstance(ci, list)
                    and len(ci) == 2
                    and all(isinstance(x, int | float) for x in ci)
                ):
                    txt += f"\n[{ci[0]:.3g}, {ci[1]:.3g}]"
            row.append(txt)
        labels.append(row)
    scaled = np.zeros_like(means)
    for j in range(len(metrics)):
        col = means[:, j]
        if np.isfinite(col).any():
            lo, hi = np.nanmin(col), np.nanmax(col)
            scaled[:, j] = 0.0 if hi <= lo else (col - lo) / (hi - lo)
    scaled = np.nan_to_num(scaled)
    with _style():
        fig = Figure(
            figsize=(2.0 + 1.5 * len(metrics), 1.2 + 0.55 * len(cells)), layout="constrained"
        )
        ax = fig.subplots()
        ax.imshow(scaled, cmap="Reds", vmin=0, vmax=1.3, aspect="auto")
        ax.set_xticks(range(len(metrics)), [_short(m, 20) for m in metrics], rotation=30)
        ax.set_yticks(range(len(cells)), [_short(str(c.get("name")), 40) for c in cells])
        for i, cell in enumerate(cells):
            for j, m in enumerate(metrics):
                lit = (m, str(cell.get("name"))) in composed
                ax.text(
                    j,
                    i,
                    ("▲ " if lit else "") + labels[i][j],
                    ha="center",
                    va="center",
                    fontsize=7,
                    fontweight="bold" if lit else "normal",
                )
                if lit:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="k", lw=2))
        ax.set_title("mean [CI over seeds] per cell; ▲ composed failure")
        return _save(fig, "composition", "Failure metrics per component combination")


def suite_metrics(result: dict[str, Any], metrics: Sequence[str]) -> Drawn | None:
    """Per metric: each config's mean with its interval; the baseline config in black."""
    got = result.get("configs")
    configs: dict[str, Any] = got if isinstance(got, dict) else {}
    names = [str(n) for n in configs]
    shown = [m for m in metrics if any(m in (c.get("metrics") or {}) for c in configs.values())]
    if not names or not shown:
        return None
    baseline = result.get("baseline")
    with _style():
        cols = min(3, len(shown))
        rows = math.ceil(len(shown) / cols)
        fig = Figure(
            figsize=(max(3.2, 0.8 * len(names) + 1.5) * cols, 2.8 * rows), layout="constrained"
        )
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, m in zip(axes, shown, strict=False):
            for x, name in enumerate(names):
                row = (configs[name].get("metrics") or {}).get(m)
                if not isinstance(row, dict) or not isinstance(row.get("mean"), int | float):
                    continue
                mean = float(row["mean"])
                ci = row.get("ci")
                err = None
                if isinstance(ci, list) and len(ci) == 2:
                    err = [[max(0.0, mean - float(ci[0]))], [max(0.0, float(ci[1]) - mean)]]
                color = "black" if name == baseline else "#d7301f"
                ax.errorbar([x], [mean], yerr=err, fmt="o", color=color, capsize=4)
            ax.set_xticks(range(len(names)), [_short(n, 14) for n in names], rotation=20)
            ax.set_title(_short(m, 40))
            ax.grid(axis="y", alpha=0.3)
        for ax in axes[len(shown) :]:
            ax.set_visible(False)
        return _save(
            fig,
            "suite-metrics",
            "Per config: mean and interval over runs (the baseline config in black)",
        )
