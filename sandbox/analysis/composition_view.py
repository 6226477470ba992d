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

from rich.console import Console, Group, JustifyMethod
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

from sandbox.analysis.layout import column_groups, header, header_width
from sandbox.analysis.stats import REL_TOL, interval_is_range
from sandbox.replay.layout import flow
from sandbox.text_safety import clean

__all__ = [
    "AblationProgress",
    "composed_table",
    "composition_matrix",
    "effects_table",
    "effects_tables",
    "interval_words",
    "matrix_tables",
    "render_composition",
    "underpowered_lines",
]

COMPOSED_STYLE = "bold white on red"
SUPERSET_STYLE = "red"
#: Underpowered claims listed (those needing the fewest seeds first).
SHOW_UNDERPOWERED = 5


def _safe(s: Any) -> str:
    """Terminal-safe text (ESC sequences could rewrite the user's terminal)."""
    return clean(s)


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.3g}"


def _signed(x: float, scale: float) -> str:
    """An effect with its sign; floating-point noise (relative to `scale`) shows as 0."""
    return "+0" if abs(x) <= REL_TOL * max(1.0, scale) else f"{x:+.3g}"


def _abbrev(components: Sequence[str]) -> dict[str, str]:
    """Short unique column labels: initials of the words (``episodic_memory`` -> ``em``).

    When initials collide the components are numbered instead (``c1``, ``c2``...).
    """
    short = {c: "".join(w[0] for w in re.split(r"[_\-\s]+", c) if w) or c for c in components}
    if len(set(short.values())) != len(short):
        return {c: f"c{i + 1}" for i, c in enumerate(components)}
    return short


def _seeds(comp: dict[str, Any]) -> int:
    return len(comp.get("seeds", []))


def _alpha(comp: dict[str, Any]) -> float:
    return float(comp.get("method", {}).get("alpha", 0.05))


def interval_words(comp: dict[str, Any]) -> str:
    """What the bracketed interval of a cell is: a 1-alpha interval, or the seeds' range."""
    n, alpha = _seeds(comp), _alpha(comp)
    if interval_is_range(n, alpha):
        return f"[min, max] of {n} seeds: too few for a {1 - alpha:.0%} interval"
    return f"[{1 - alpha:.0%} bootstrap interval] over {n} seeds"


def _cell_text(s: dict[str, Any], show_ci: bool, style: str) -> Text:
    txt = ("▲ " if style == COMPOSED_STYLE else "") + _fmt(s.get("mean"))
    ci = s.get("ci")
    if show_ci and ci and s.get("n", 0) > 1:
        txt += f"\n[{_fmt(ci[0])}, {_fmt(ci[1])}]"
    return Text(txt, style=style)


def _column(
    table: Table, name: str, cells: Sequence[Text], justify: JustifyMethod = "right"
) -> None:
    """Add a column exactly as wide as its widest value or header word (never cut)."""
    widest = max((len(line) for c in cells for line in c.plain.split("\n")), default=1)
    width = max(widest, header_width(name))
    table.add_column(
        header(name, width),
        justify=justify,
        width=width,
        overflow="fold",
    )


def composition_matrix(
    comp: dict[str, Any], show_ci: bool = True, metrics: Sequence[str] | None = None
) -> Table:
    """Cells (rows, with a ● per component on) x metrics (mean [CI]); composed failures lit.

    `metrics` limits the columns (default: all); headers break between words.
    """
    components: list[str] = comp.get("components", [])
    metrics = list(comp.get("metrics", []) if metrics is None else metrics)
    short = _abbrev(components)
    lit: dict[tuple[str, str], str] = {}
    for f in comp.get("composed_failures", []):
        lit[(f["metric"], f["cell"])] = COMPOSED_STYLE
        for sup in f.get("supersets", []):
            name = "+".join(c for c in components if c in sup) or "none"
            lit.setdefault((f["metric"], name), SUPERSET_STYLE)
    table = Table(title=Text(_matrix_title(comp)), title_justify="left")
    for c in components:
        table.add_column(Text(_safe(short[c])), justify="center", no_wrap=True)
    stats = {m: {s["cell"]: s for s in rows} for m, rows in comp.get("cell_stats", {}).items()}
    columns: list[list[Text]] = []
    for m in metrics:
        col = []
        for cell in comp.get("cells", []):
            name = cell.get("name", "")
            col.append(_cell_text(stats.get(m, {}).get(name, {}), show_ci, lit.get((m, name), "")))
        columns.append(col)
        _column(table, _safe(m), col)
    for r, cell in enumerate(comp.get("cells", [])):
        on = set(cell.get("on", []))
        marks = [Text("●" if c in on else "·") for c in components]
        table.add_row(*marks, *(col[r] for col in columns))
    return table


def _matrix_title(comp: dict[str, Any]) -> str:
    return "Failure metrics per cell, mean " + _short_interval(comp)


def _short_interval(comp: dict[str, Any]) -> str:
    n, alpha = _seeds(comp), _alpha(comp)
    return "[min, max]" if interval_is_range(n, alpha) else f"[{1 - alpha:.0%} CI]"


def _matrix_legend(comp: dict[str, Any], width: int) -> list[Text]:
    components = comp.get("components", [])
    short = _abbrev(components)
    items = [Text(_safe(f"{short[c]} = {c}")) for c in components if short[c] != c]
    if comp.get("composed_failures"):
        items.append(Text("▲ composed failure (smallest combination)"))
    items.append(Text(_safe(interval_words(comp))))
    return flow(items, width)


def _metric_widths(comp: dict[str, Any], show_ci: bool) -> list[int]:
    widths = []
    for m in comp.get("metrics", []):
        cols = composition_matrix(comp, show_ci, [m]).columns
        widths.append(int(cols[-1].width or 1))
    return widths


def matrix_tables(comp: dict[str, Any], width: int, show_ci: bool = True) -> list[Table]:
    """The matrix split into tables that fit `width`, each repeating the component marks."""
    metrics = comp.get("metrics", [])
    lead = [max(1, len(v)) for v in _abbrev(comp.get("components", [])).values()]
    groups = column_groups(lead, _metric_widths(comp, show_ci), width)
    tables = []
    for k, group in enumerate(groups):
        table = composition_matrix(comp, show_ci, [metrics[i] for i in group])
        if len(groups) > 1:
            table.title = Text(f"{_matrix_title(comp)} ({k + 1}/{len(groups)})")
        tables.append(table)
    return tables


def effects_table(comp: dict[str, Any], metrics: Sequence[str] | None = None) -> Table:
    """Main effect of each component per metric; * (and bold) where the CI excludes zero.

    For a full factorial these are Yates main effects (averaged over the other
    components); otherwise the effect of switching the component on alone.
    """
    factorial = bool(comp.get("factorial_effects"))
    source = comp.get("factorial_effects") or comp.get("effects", {})
    kind = "Yates, averaged over the others" if factorial else "each alone vs none"
    table = Table(title=Text(f"Main effects ({kind})"), title_justify="left")
    components = comp.get("components", [])
    metrics = list(comp.get("metrics", []) if metrics is None else metrics)
    names = [Text(_safe(c)) for c in components]
    _column(table, "component", names, justify="left")
    columns: list[list[Text]] = []
    for m in metrics:
        scale = max((abs(e["estimate"]) for e in source.get(m, [])), default=1.0)
        col = []
        for c in components:
            e = next((e for e in source.get(m, []) if e["combination"] == [c]), None)
            if e is None:
                col.append(Text("-"))
                continue
            ci = e.get("ci") or [None, None]
            sig = ci[0] is not None and ci[1] is not None and (ci[0] > 0 or ci[1] < 0)
            txt = _signed(e["estimate"], scale) + ("*" if sig else " ")
            col.append(Text(txt, style="bold" if sig else "dim"))
        columns.append(col)
        _column(table, _safe(m), col)
    for r, name in enumerate(names):
        table.add_row(name, *(col[r] for col in columns))
    return table


def effects_tables(comp: dict[str, Any], width: int) -> list[Table]:
    """The main effects split into tables that fit `width`, each repeating the names."""
    metrics = comp.get("metrics", [])
    first = effects_table(comp, [])
    lead = [int(first.columns[0].width or 1)]
    widths = [int(effects_table(comp, [m]).columns[-1].width or 1) for m in metrics]
    groups = column_groups(lead, widths, width)
    tables = []
    for k, group in enumerate(groups):
        table = effects_table(comp, [metrics[i] for i in group])
        if len(groups) > 1:
            table.title = Text(f"{table.title} ({k + 1}/{len(groups)})")
        tables.append(table)
    return tables


def composed_table(comp: dict[str, Any], width: int = 80) -> Group | Text:
    """The ranked composed failures, one block each, or a line saying there are none."""
    failures = comp.get("composed_failures", [])
    alpha = _alpha(comp)
    if not failures:
        n = comp.get("hypotheses_tested", 0)
        return Text(f"No composed failures (alpha={alpha}, Holm over {n} tests).", style="green")
    lines: list[Text] = [Text("Composed failures (ranked)", style="bold")]
    n, level = _seeds(comp), 1 - _alpha(comp)
    iv = "range" if interval_is_range(n, _alpha(comp)) else f"{level:.0%} CI"
    for f in failures:
        worst = " + ".join(f["worst_sub_combination"]) or "none"
        ci = f.get("ci") or [None, None]
        ici = f.get("interaction_ci") or [None, None]
        p = f"{f['p_holm']:.2g}" if f.get("p_holm") is not None else "-"
        head = Text(f"{f['rank']}. ")
        head.append(_safe(f["metric"]) + ": ")
        head.append(_safe(" + ".join(f["combination"])), style="bold red")
        lines += flow(list(head.split(" ")), width, sep=" ")
        facts = Text(
            f"mean {_fmt(f['mean'])}, {iv} [{_fmt(ci[0])}, {_fmt(ci[1])}]; "
            + _safe(f"worst part {worst}: {_fmt(f['worst_sub_mean'])}; ")
            + f"margin +{_fmt(f['margin'])}; "
            + f"interaction {_fmt(f['interaction'])} [{_fmt(ici[0])}, {_fmt(ici[1])}]; "
            + f"p (Holm) {p}"
        )
        lines += flow(list(facts.split(" ")), width, sep=" ", indent=3)
    return Group(*lines)


def underpowered_lines(comp: dict[str, Any], width: int = 80) -> list[Text]:
    """Combinations that look composed but could not be confirmed with these seeds."""
    rows = comp.get("underpowered") or []
    if not rows:
        return []
    alpha = _alpha(comp)
    out = flow(
        [Text(f"Not confirmed at alpha {alpha} (Holm), for want of seeds:", style="yellow")], width
    )
    rows = sorted(rows, key=lambda r: (r.get("need") is None, r.get("need") or 0))
    for r in rows[:SHOW_UNDERPOWERED]:
        item = Text(_safe(f"{r['metric']}: {' + '.join(r['combination'])}") + " — ")
        item.append(_safe(r["note"]), style="yellow")
        out += flow(list(item.split(" ")), width, sep=" ", indent=2)
    if len(rows) > SHOW_UNDERPOWERED:
        more = f"... and {len(rows) - SHOW_UNDERPOWERED} more (composition.json: underpowered)"
        out += flow(list(Text(more, style="yellow").split(" ")), width, sep=" ", indent=2)
    return out


def render_composition(comp: dict[str, Any], console: Console | None = None) -> None:
    """Print an ablation's header, matrix, main effects, composed failures and problems.

    Everything fits the console's width: wide tables are split into several, headers
    break between words, and nothing is cut.
    """
    console = console or Console()
    width = console.width
    runs = comp.get("runs", {})
    head = Text(
        _safe(
            f"ablation {comp.get('ablation_id', '?')}: design {comp.get('design', '?')}, "
            f"{len(comp.get('cells', []))} cells x {_seeds(comp)} seeds, "
            f"{runs.get('complete', '?')}/{runs.get('total', '?')} runs complete "
            f"({runs.get('reused', 0)} reused)"
        ),
        style="bold",
    )
    parts: list[Any] = [head]
    if comp.get("metrics"):
        parts += matrix_tables(comp, width)
        parts += _matrix_legend(comp, width)
        parts += effects_tables(comp, width)
        what = "range over seeds" if interval_is_range(_seeds(comp), _alpha(comp)) else "interval"
        parts += flow([Text(f"* {what} excludes 0")], width)
        parts.append(composed_table(comp, width))
        parts += underpowered_lines(comp, width)
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
