"""Terminal rendering of an ablation: cells x metrics with composed failures highlighted.

Everything renders from the composition.json dict, so a finished ablation can be shown
again without re-running or re-analysing it. Strings from files (component, metric and
cell names) are rendered as ``Text`` with control characters replaced, never as markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

__all__ = [
    "AblationProgress",
    "composed_table",
    "composition_matrix",
    "effects_table",
    "render_composition",
]

COMPOSED_STYLE = "bold white on red"
SUPERSET_STYLE = "red"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _safe(s: Any) -> str:
    """Replace control characters (ESC sequences could rewrite the user's terminal)."""
    return _CONTROL.sub("?", str(s))


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.3g}"


def _abbrev(components: Sequence[str]) -> dict[str, str]:
    """Short unique column labels: initials of the words (``episodic_memory`` -> ``em``)."""
    short = {c: "".join(w[0] for w in re.split(r"[_\-\s]+", c) if w) or c for c in components}
    if len(set(short.values())) != len(short):
        return {c: c for c in components}
    return short


def composition_matrix(comp: dict[str, Any], show_ci: bool = True) -> Table:
    """Cells (rows, with a ● per component on) x metrics (mean [CI]); composed failures lit."""
    components: list[str] = comp.get("components", [])
    metrics: list[str] = comp.get("metrics", [])
    short = _abbrev(components)
    lit: dict[tuple[str, str], str] = {}
    for f in comp.get("composed_failures", []):
        lit[(f["metric"], f["cell"])] = COMPOSED_STYLE
        for sup in f.get("supersets", []):
            name = "+".join(c for c in components if c in sup) or "none"
            lit.setdefault((f["metric"], name), SUPERSET_STYLE)
    table = Table(title="Failure metrics per cell (mean [CI over seeds])", title_justify="left")
    for c in components:
        table.add_column(Text(_safe(short[c])), justify="center", no_wrap=True)
    for m in metrics:
        table.add_column(Text(_safe(m)), justify="right")
    stats = {m: {s["cell"]: s for s in rows} for m, rows in comp.get("cell_stats", {}).items()}
    for cell in comp.get("cells", []):
        on = set(cell.get("on", []))
        cols: list[Text] = [Text("●" if c in on else "·") for c in components]
        for m in metrics:
            s = stats.get(m, {}).get(cell.get("name", ""), {})
            txt = _fmt(s.get("mean"))
            ci = s.get("ci")
            if show_ci and ci and s.get("n", 0) > 1:
                txt += f" [{_fmt(ci[0])}, {_fmt(ci[1])}]"
            style = lit.get((m, cell.get("name", "")), "")
            cols.append(Text(("▲ " if style == COMPOSED_STYLE else "") + txt, style=style))
        table.add_row(*cols)
    legend = "  ".join(f"{short[c]} = {c}" for c in components if short[c] != c)
    table.caption = _safe(f"{legend}   ▲ composed failure (smallest combination)".strip())
    table.caption_justify = "left"
    return table


def effects_table(comp: dict[str, Any]) -> Table:
    """Main effect of each component per metric; bold where the CI excludes zero.

    For a full factorial these are Yates main effects (averaged over the other
    components); otherwise the effect of switching the component on alone.
    """
    factorial = bool(comp.get("factorial_effects"))
    source = comp.get("factorial_effects") or comp.get("effects", {})
    kind = "Yates, averaged over the others" if factorial else "each alone vs none"
    table = Table(title=f"Main effects ({kind})", title_justify="left")
    table.add_column("component")
    metrics = comp.get("metrics", [])
    for m in metrics:
        table.add_column(Text(_safe(m)), justify="right")
    for c in comp.get("components", []):
        cols = [Text(_safe(c))]
        for m in metrics:
            e = next((e for e in source.get(m, []) if e["combination"] == [c]), None)
            if e is None:
                cols.append(Text("-"))
                continue
            ci = e.get("ci") or [None, None]
            sig = ci[0] is not None and ci[1] is not None and (ci[0] > 0 or ci[1] < 0)
            cols.append(Text(f"{e['estimate']:+.3g}", style="bold" if sig else "dim"))
        table.add_row(*cols)
    return table


def composed_table(comp: dict[str, Any]) -> Table | Text:
    """The ranked composed failures, or a line saying there are none."""
    failures = comp.get("composed_failures", [])
    alpha = comp.get("method", {}).get("alpha", 0.05)
    if not failures:
        n = comp.get("hypotheses_tested", 0)
        return Text(f"No composed failures (alpha={alpha}, Holm over {n} tests).", style="green")
    table = Table(title="Composed failures (ranked)", title_justify="left")
    for col in ("#", "metric", "combination", "mean [CI]", "worst part", "margin", "interaction"):
        table.add_column(col)
    table.add_column("p (Holm)", justify="right")
    for f in failures:
        worst = " + ".join(f["worst_sub_combination"]) or "none"
        ci = f.get("ci") or [None, None]
        ici = f.get("interaction_ci") or [None, None]
        table.add_row(
            Text(str(f["rank"])),
            Text(_safe(f["metric"])),
            Text(_safe(" + ".join(f["combination"])), style="bold red"),
            Text(f"{_fmt(f['mean'])} [{_fmt(ci[0])}, {_fmt(ci[1])}]"),
            Text(_safe(f"{worst}: {_fmt(f['worst_sub_mean'])}")),
            Text(f"+{_fmt(f['margin'])}"),
            Text(f"{_fmt(f['interaction'])} [{_fmt(ici[0])}, {_fmt(ici[1])}]"),
            Text(f"{f['p_holm']:.2g}" if f.get("p_holm") is not None else "-"),
        )
    return table


def render_composition(comp: dict[str, Any], console: Console | None = None) -> None:
    """Print an ablation's header, matrix, main effects, composed failures and problems."""
    console = console or Console()
    runs = comp.get("runs", {})
    head = Text(
        _safe(
            f"ablation {comp.get('ablation_id', '?')}: design {comp.get('design', '?')}, "
            f"{len(comp.get('cells', []))} cells x {len(comp.get('seeds', []))} seeds, "
            f"{runs.get('complete', '?')}/{runs.get('total', '?')} runs complete "
            f"({runs.get('reused', 0)} reused)"
        ),
        style="bold",
    )
    parts: list[Any] = [head]
    if comp.get("metrics"):
        parts += [composition_matrix(comp), effects_table(comp), composed_table(comp)]
    else:
        msg = "No failure metrics: no monitor reported any (list monitors under `monitors:`)."
        parts.append(Text(msg, style="yellow"))
    for bad in runs.get("incomplete", []):
        msg = f"run {bad['cell']}/seed-{bad['seed']} is {bad['status']}"
        if bad.get("error"):
            msg += ": " + str(bad["error"]).splitlines()[0]
        parts.append(Text(_safe(msg), style="yellow"))
    console.print(Group(*parts))


class AblationProgress:
    """A progress bar over runs (on stderr) whose label counts finished cells.

    Used as the executor's ``on_result`` hook: ``advance(index, result)`` is called once
    per finished task, `index` into the pending tasks' cell names.
    """

    def __init__(self, show: bool, cells: list[str], total: int):
        self.show, self.cells, self.total = show, cells, total
        self.left: dict[str, int] = {}
        for c in cells:
            self.left[c] = self.left.get(c, 0) + 1
        self.bar: Progress | None = None

    def _label(self) -> str:
        finished = sum(1 for n in self.left.values() if n == 0)
        return f"ablation runs (cells {finished}/{len(self.left)} finished)"

    def __enter__(self) -> AblationProgress:
        if self.show:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.bar.start()
            done = self.total - len(self.cells)
            self.task = self.bar.add_task(self._label(), total=self.total, completed=done)
        return self

    def advance(self, index: int, result: Any = None) -> None:
        """Count one finished task."""
        self.left[self.cells[index]] -= 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=self._label())

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
