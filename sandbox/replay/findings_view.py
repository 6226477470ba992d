"""``sandbox findings``: grouped findings, one section per monitor, sized to the console.

Each row is one identity (category, owner → recipient, item) with its count, worst
severity, sessions and an example id. Every cell is a short token except the item,
which wraps after ``:``, ``_``, ``,`` or a space when the console is narrow, so nothing
is cut inside a word.
"""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from sandbox.replay.findings import FindingGroup
from sandbox.replay.layout import flow, wrap_at
from sandbox.replay.sanitize import clean
from sandbox.replay.style import severity_rank, severity_style, user_style

__all__ = ["render_groups"]

_SHORT = {"critical": "crit", "medium": "med"}


def _sessions(g: FindingGroup) -> str:
    if g.first_session is None:
        return "-"
    if g.first_session == g.last_session:
        return f"s{g.first_session}"
    return f"s{g.first_session}–{g.last_session}"


def _who(g: FindingGroup) -> Text:
    out = Text()
    if g.owner and g.owner != g.user:
        out.append(clean(g.owner), user_style(g.owner))
        out.append(" → ")
    out.append(clean(g.user or "-"), user_style(g.user) if g.user else "dim")
    return out


def _widths(groups: list[FindingGroup], width: int) -> list[int]:
    """Column widths shared by every section, so the sections line up."""
    w = [
        4,
        max(1, *(len(str(g.count)) for g in groups)),
        max(len("category"), *(len(clean(g.category)) for g in groups)),
        max(len("owner → user"), *(_who(g).cell_len for g in groups)),
        0,
        max(len("sessions"), *(len(_sessions(g)) for g in groups)),
        max(len("example"), *(len(clean(g.example or "-")) for g in groups)),
    ]
    longest_item = max(len("item"), *(len(clean(g.item)) for g in groups))
    w[4] = max(12, min(longest_item, width - sum(w) - 2 * 6))
    return w


def _table(groups: list[FindingGroup], widths: list[int]) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False)
    for name, w in zip(
        ("sev", "n", "category", "owner → user", "item", "sessions", "example"),
        widths,
        strict=True,
    ):
        table.add_column(
            name, no_wrap=True, min_width=w, justify="right" if name == "n" else "left"
        )
    item_w = widths[4]
    for g in groups:
        cat, who, s, e = clean(g.category), _who(g), _sessions(g), clean(g.example or "-")
        table.add_row(
            Text(_SHORT.get(g.worst, g.worst)[:4], severity_style(g.worst)),
            Text(str(g.count), "bold" if g.count > 1 else ""),
            Text(cat),
            who,
            Text("\n".join(wrap_at(clean(g.item), item_w))),
            Text(s, "dim"),
            Text(e, "bold"),
        )
    return table


def render_groups(
    groups: list[FindingGroup],
    console: Console,
    *,
    run_name: str = "RUN",
    total: int | None = None,
    filters: str = "",
) -> None:
    """Print grouped findings: a section per monitor (worst first), rows in given order."""
    width = console.width
    n = sum(g.count for g in groups)
    if not groups:
        msg = "no findings" + (f" match {filters}" if filters else " in this run")
        if total:
            msg += f" ({total} in the run)"
        console.print(Text(msg, "yellow"))
        return
    by_monitor: dict[str, list[FindingGroup]] = {}
    for g in groups:
        by_monitor.setdefault(g.monitor, []).append(g)
    order = sorted(
        by_monitor, key=lambda m: (min(severity_rank(g.worst) for g in by_monitor[m]), m)
    )
    widths = _widths(groups, width)
    for mon in order:
        gs = by_monitor[mon]
        head = Text(clean(mon), "bold")
        count = sum(g.count for g in gs)
        head.append(f"  {count} finding{'s' * (count != 1)} in {len(gs)} group", "dim")
        head.append("s" * (len(gs) != 1), "dim")
        console.print(Rule(head, align="left", style="dim"))
        console.print(_table(gs, widths))
    summary = f"{n} findings in {len(groups)} groups"
    if total is not None and total != n:
        summary += f" (of {total} in the run)"
    parts = [Text(summary + (";" if filters else ""), "dim")]
    if filters:  # one item per filter, so a line breaks between them
        bits = clean(filters).split(" ")
        parts.append(Text("filters:", "dim"))
        parts += [Text(b + (";" if i == len(bits) - 1 else ""), "dim") for i, b in enumerate(bits)]
    worst = groups[0].example
    if worst:
        parts[-1].append(";" if not filters else "")
        parts.append(Text("trace one:", "dim"))
        parts.append(Text(f"sandbox replay {clean(run_name)} --explain {clean(worst)}", "bold"))
    for line in flow(parts, width, sep=" "):
        console.print(line)
