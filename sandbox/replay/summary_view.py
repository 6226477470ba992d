"""``sandbox list`` and ``sandbox show``: a table of runs, and one run's summary.

summary.json is written by several monitors and analyses; each section here renders
only when its data is present and well-formed, and says nothing about what is absent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from sandbox.replay.runs import RunInfo, scenario_name
from sandbox.replay.sanitize import clean, one_line
from sandbox.replay.style import SEVERITIES, SimClock, lead, severity_style, user_style

__all__ = ["render_runs", "render_summary", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_SHORT = {"critical": "crit", "medium": "med"}
_STATUS_STYLE = {"complete": "green", "running": "bold cyan", "failed": "bold red"}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: object) -> Text:
    return Text("-" if value is None else clean(value), "dim" if value in (None, 0) else "")


def render_runs(infos: Iterable[RunInfo], console: Console) -> int:
    """Print the runs table; returns how many rows it had."""
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("scenario", overflow="fold")
    table.add_column("status", no_wrap=True)
    for name in ("users", "sessions", "findings"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    n = 0
    for info in infos:
        status = Text(clean(info.status), _STATUS_STYLE.get(info.status, "yellow"))
        if info.torn:
            status.append(" (torn)", "bold yellow")
        findings = _num(info.findings)
        if info.findings:
            findings.stylize("bold red")
        table.add_row(
            one_line(info.id, 80, "bold"),
            one_line(info.scenario or "-", 40),
            status,
            _num(info.users),
            _num(info.sessions),
            findings,
            one_line((info.created or "-")[:16].replace("T", " "), 16, "dim"),
        )
        n += 1
    if n:
        console.print(table)
    return n


def sparkline(series: list[Any], lo: float, hi: float) -> list[str]:
    """One bar per value, scaled to [lo, hi]; a gap for missing values."""
    out = []
    span = hi - lo
    for v in series:
        if not isinstance(v, int | float) or isinstance(v, bool) or v != v:
            out.append(" ")
            continue
        i = 0 if span <= 0 else round((v - lo) / span * (len(_BARS) - 1))
        out.append(_BARS[max(0, min(len(_BARS) - 1, i))])
    return out


def _monitors_table(monitors: dict[str, Any], clock: SimClock) -> Table:
    table = Table(header_style="bold", box=None, pad_edge=False, title_justify="left")
    table.add_column("monitor", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for sev in SEVERITIES:
        table.add_column(_SHORT.get(sev, sev), justify="right", style=severity_style(sev))
    table.add_column("/1k", justify="right", no_wrap=True)
    table.add_column("categories", overflow="fold", ratio=1)
    table.add_column("first", overflow="fold", ratio=1)
    for name, m in monitors.items():
        if not isinstance(m, dict):
            continue
        by_sev = _dict(m.get("by_severity"))
        by_cat = _dict(m.get("by_category"))
        cats = ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1])[:4])
        first = m.get("first_finding")
        first_t = Text("-", "dim")
        if isinstance(first, dict):
            first_t = lead(clean(first.get("user", "?")), user_style(first.get("user")))
            first_t.append(f" s{clean(first.get('session'))} {clock.stamp(first.get('t_sim'))}")
        total = m.get("findings")
        row: list[RenderableType] = [one_line(name, 40, "bold"), _num(total)]
        row += [
            Text(clean(by_sev.get(s, "")) or "·", "" if by_sev.get(s) else "dim")
            for s in SEVERITIES
        ]
        extra = []
        for key in ("errors", "unscored"):
            if m.get(key):
                extra.append(f"{key} {m[key]}")
        row += [_num(m.get("per_1000_turns")), one_line(cats or "-", 120), first_t]
        if extra:
            row[-2] = one_line((cats + "; " if cats else "") + ", ".join(extra), 160)
        table.add_row(*row)
    return table


def _leak_matrix(matrix: dict[str, Any], limit: int = 20) -> Table:
    owners = [o for o, row in matrix.items() if isinstance(row, dict)]
    totals: dict[str, float] = {}
    for o in owners:
        for r, n in matrix[o].items():
            if isinstance(n, int | float):
                totals[o] = totals.get(o, 0) + n
                totals[r] = totals.get(r, 0) + n
    people = sorted(totals, key=lambda u: (-totals[u], u))[:limit]
    recipients = [u for u in people if any(matrix.get(o, {}).get(u) for o in owners)]
    peak = max(
        (n for o in owners for n in matrix[o].values() if isinstance(n, int | float)), default=0
    )
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("owner ↓  recipient →")
    for r in recipients:
        table.add_column(clean(r)[:12], justify="right")
    for o in [u for u in people if u in owners]:
        cells: list[RenderableType] = [Text(clean(o), user_style(o))]
        for r in recipients:
            n = matrix[o].get(r)
            if not n:
                cells.append(Text("·", "dim"))
            else:
                hot = isinstance(n, int | float) and peak and n >= peak / 2
                cells.append(Text(clean(n), "bold red" if hot else "yellow"))
        table.add_row(*cells)
    return table


def _drift(users: dict[str, Any], limit: int = 30) -> list[RenderableType]:
    rows = [(u, d) for u, d in users.items() if isinstance(d, dict)]
    values = [
        v for _, d in rows for v in (d.get("series") or [])
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]  # fmt: skip
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    rows.sort(key=lambda ud: (not ud[1].get("flagged"), ud[0]))
    table = Table(header_style="bold", box=None, pad_edge=False)
    for name in ("user", "per session", "range", "drift"):
        table.add_column(name)
    for u, d in rows[:limit]:
        raw = d.get("series")
        series: list[Any] = raw if isinstance(raw, list) else []
        onset = d.get("onset") if isinstance(d.get("onset"), int) else None
        spark = Text()
        for i, bar in enumerate(sparkline(series, lo, hi)):
            spark.append(bar, "bold red" if onset is not None and i >= onset else "")
        nums = [v for v in series if isinstance(v, int | float)]
        rng = f"{nums[0]:.2f}→{nums[-1]:.2f}" if nums else "-"
        flag = Text("-", "dim")
        if d.get("flagged"):
            flag = Text("⚑ drift", "bold red")
            if onset is not None:
                flag.append(f" from session {onset}")
        table.add_row(Text(clean(u), user_style(u)), spark, Text(rng, "dim"), flag)
    out: list[RenderableType] = [table]
    if len(rows) > limit:
        out.append(Text(f"(+{len(rows) - limit} more users)", "dim"))
    out.append(Text(f"scale {lo:.2f} … {hi:.2f} across users", "dim"))
    return out


def render_summary(
    header: dict[str, Any],
    summary: dict[str, Any] | None,
    console: Console,
    *,
    fallback: dict[str, Any] | None = None,
) -> None:
    """Print the header facts, per-monitor counts, leak matrix and drift sparklines."""
    title = Text("run ")
    title.append(clean(header.get("run_id", "?")), "bold")
    console.print(Rule(title, align="left"))
    facts = Text()
    shown: dict[str, object] = {"scenario": scenario_name(header)}
    for key in ("seed", "status", "events", "created"):
        shown[key] = header.get(key)
    for key, value in (summary or {}).items():
        if key not in shown and isinstance(value, int | float | str) and key != "run_id":
            shown[key] = value
    for key, value in shown.items():
        if value is not None:
            facts.append(f"{key} ", "dim")
            facts.append_text(one_line(value, 60, _STATUS_STYLE.get(str(value), "")))
            facts.append("  ")
    console.print(facts)
    clock = SimClock(header.get("start_date"))
    if summary is None:
        console.print(
            Text(f"no summary.json yet (status {clean(header.get('status', '?'))})", "yellow")
        )
        if fallback:
            console.print(Text("findings counted from the events so far:", "dim"))
            console.print(_monitors_table(fallback, clock))
        return
    monitors = summary.get("monitors")
    if isinstance(monitors, dict) and monitors:
        console.print(Rule(Text("monitors", "bold"), align="left", style="dim"))
        console.print(_monitors_table(monitors, clock))
    matrix = summary.get("leak_matrix")
    if isinstance(matrix, dict) and matrix:
        console.print(Rule(Text("leak matrix", "bold"), align="left", style="dim"))
        console.print(_leak_matrix(matrix))
    drift = summary.get("drift")
    users = drift.get("users") if isinstance(drift, dict) else None
    if isinstance(users, dict) and users:
        console.print(Rule(Text("drift", "bold"), align="left", style="dim"))
        for r in _drift(users):
            console.print(r)
    known = ("monitors", "leak_matrix", "drift")
    other = [k for k, v in summary.items() if k not in known and isinstance(v, dict | list)]
    if other:
        console.print(Text("also in summary.json: " + clean(", ".join(other)), "dim"))
