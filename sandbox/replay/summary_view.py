"""``sandbox list``, ``sandbox show`` and the end of ``sandbox run``: runs and summaries.

summary.json is written by several monitors and analyses; each section here renders
only when its data is present and well-formed, and says nothing about what is absent.
The monitors keep their own results in their sections (``monitors.<name>.leak_matrix``,
``monitors.drift.users``), which is where `render_summary` looks.

Every table is laid out for the console's width on purpose: columns that do not fit
move under the table, long ids wrap after ``/`` or ``+``, recipient names become
numbers with a legend, sparklines are squeezed; rich is never left to cut a word. The
leak matrices and drift sparklines are drawn by `sandbox.replay.leak_drift_view`, the
wrapping helpers live in `sandbox.replay.layout`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from sandbox.replay.layout import flow, wrap_at
from sandbox.replay.leak_drift_view import (
    _drift,
    _drift_section,
    _find,
    _is_num,
    _leak_matrix,
    sparkline,
)
from sandbox.replay.runs import RunInfo, scenario_name
from sandbox.replay.sanitize import clean, one_line
from sandbox.replay.style import SEVERITIES, SimClock, lead, severity_style, user_style

__all__ = ["flow", "render_run_summary", "render_runs", "render_summary", "sparkline", "wrap_at"]

_BARS = "▁▂▃▄▅▆▇█"
_SHORT = {"critical": "crit", "medium": "med"}
_STATUS_STYLE = {
    "complete": "green",
    "running": "bold cyan",
    "failed": "bold red",
    # a run that stopped early: killed (its process is gone), stale (no heartbeat from a
    # writer on another host), interrupted (Ctrl-C, SIGTERM, SIGHUP: closed cleanly)
    "dead": "bold red",
    "stale": "bold magenta",
    "interrupted": "bold yellow",
    # run.json missing or unreadable: what the events allow is shown
    "damaged": "bold red reverse",
}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: object) -> Text:
    return Text("-" if value is None else clean(value), "dim" if value in (None, 0) else "")


def _created(value: str | None, narrow: bool) -> str:
    if not value:
        return "-"
    text = value[:16].replace("T", " ")
    return text[5:] if narrow and len(text) == 16 else text


def render_runs(infos: Iterable[RunInfo], console: Console) -> int:
    """Print the runs table; returns how many rows it had.

    Fits the console: when a row does not fit on one line the scenario goes under the
    id, and the id wraps after ``/`` or ``+`` (inside a name only when it must); below
    100 columns the creation time drops its year.
    """
    rows = list(infos)
    if not rows:
        return 0
    width = console.width
    narrow = width < 100
    created = [_created(i.created, narrow) for i in rows]
    statuses = []
    for info in rows:
        status = Text(clean(info.status), _STATUS_STYLE.get(info.status, "yellow"))
        if info.torn:
            status.append(" (torn)", "bold yellow")
        if info.problem and info.status != "damaged":
            status.append(" (damaged)", _STATUS_STYLE["damaged"])
        statuses.append(status)
    ids = [clean(i.id) for i in rows]
    scen = [clean(i.scenario or "-") for i in rows]
    # sessions summed over users (`show` gives sessions per user)
    count_cols = ("users", "all sessions", "findings")
    counts = sum(len(c) for c in count_cols)
    rest = max(s.cell_len for s in statuses) + counts + max(7, *(len(c) for c in created))
    longest_id, longest_scen = max(len(i) for i in ids), max(8, *(len(s) for s in scen))
    stacked = longest_id + longest_scen + rest + 2 * 6 > width
    gaps = 2 * (5 if stacked else 6)
    id_w = max(12, width - rest - gaps - (0 if stacked else longest_scen))
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("id / scenario" if stacked else "id", no_wrap=True)
    if not stacked:
        table.add_column("scenario", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in count_cols:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for info, rid, sc, status, when in zip(rows, ids, scen, statuses, created, strict=True):
        findings = _num(info.findings)
        if info.findings:
            findings.stylize("bold red")
        first = Text("\n".join(wrap_at(rid, id_w)), "bold")
        cells: list[RenderableType] = [first]
        if stacked:
            first.append("\n")
            first.append("\n".join(wrap_at(sc, id_w)), "dim")
        else:
            cells.append(Text(sc))
        cells += [status, _num(info.users), _num(info.sessions), findings, Text(when, "dim")]
        table.add_row(*cells)
    console.print(table)
    return len(rows)


def _rate(value: object) -> Text:
    if not _is_num(value):
        return _num(value)
    return Text(f"{value:.1f}", "dim" if not value else "")


def _cats(m: dict[str, Any], limit: int = 4) -> str:
    by_cat = _dict(m.get("by_category"))
    ranked = sorted(by_cat.items(), key=lambda kv: -kv[1] if isinstance(kv[1], int) else 0)
    out = [f"{clean(k)}={clean(v)}" for k, v in ranked[:limit]]
    if len(ranked) > limit:
        out.append(f"+{len(ranked) - limit} more")
    for key in ("errors", "unscored"):
        if m.get(key):
            out.append(f"{key}={clean(m[key])}")
    return ", ".join(out)


def _first(m: dict[str, Any], clock: SimClock) -> Text:
    first = m.get("first_finding")
    if not isinstance(first, dict):
        return Text("-", "dim")
    out = lead(clean(first.get("user", "?")), user_style(first.get("user")))
    out.append(f" s{clean(first.get('session'))} {clock.short(first.get('t_sim'))}")
    return out


def _monitors_table(
    monitors: dict[str, Any], clock: SimClock, width: int, turns: object = None
) -> list[RenderableType]:
    """Per-monitor counts, with categories and the first finding.

    Those two are columns when they fit `width` without breaking a word, else they go on
    a line of their own per monitor under the table.
    """
    rows = [(name, m) for name, m in monitors.items() if isinstance(m, dict)]

    def build(wide: bool) -> Table:
        table = Table(header_style="bold", box=None, pad_edge=False)
        table.add_column("monitor", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("/1k turns", justify="right", no_wrap=True)
        for sev in SEVERITIES:
            table.add_column(_SHORT.get(sev, sev), justify="right", no_wrap=True)
        if wide:
            table.add_column("categories")
            table.add_column("first finding", no_wrap=True)
        for name, m in rows:
            by_sev = _dict(m.get("by_severity"))
            row: list[RenderableType] = [
                Text(clean(name), "bold"),
                _num(m.get("findings")),
                _rate(m.get("per_1000_turns")),
            ]
            row += [
                Text(clean(by_sev.get(s, "")) or "·", severity_style(s) if by_sev.get(s) else "dim")
                for s in SEVERITIES
            ]
            if wide:
                row += [Text(_cats(m) or "-"), _first(m, clock)]
            table.add_row(*row)
        return table

    wide = build(True)
    out: list[RenderableType] = []
    if Console(width=10_000).measure(wide).maximum <= width:
        out.append(wide)
    else:
        out.append(build(False))
        for name, m in rows:
            if not m.get("findings") and not m.get("errors") and not m.get("unscored"):
                continue
            items = [Text(clean(name) + ":", "bold")]
            cats = [c for c in _cats(m).split(", ") if c]
            items += [Text(c + ("," if i < len(cats) - 1 else ";")) for i, c in enumerate(cats)]
            first_item = Text("first ", "dim")
            first_item.append_text(_first(m, clock))
            items.append(first_item)
            out.extend(flow(items, width, sep=" ", indent=2))
    if isinstance(turns, int) and turns > 0:
        out.append(
            Text(
                f"n: findings in the run's {turns} turns; /1k turns = n × 1000 ÷ {turns}",
                "dim",
            )
        )
    return out


def _rule(title: str, console: Console) -> None:
    console.print(Rule(Text(title, "bold"), align="left", style="dim"))


def _usage_facts(usage: object) -> dict[str, object]:
    """Tokens and cost of the agent's replies (summary.json ``usage``), when recorded."""
    if not isinstance(usage, dict) or not _is_num(usage.get("total_tokens")):
        return {}
    out: dict[str, object] = {"tokens": usage["total_tokens"]}
    cost, billed = usage.get("cost_usd"), usage.get("billed_cost_usd")
    if _is_num(cost):
        note = f" (billed {billed:.6g})" if _is_num(billed) and billed != cost else ""
        out["cost USD"] = f"{cost:.6g}{note}"
    return out


def _facts(header: dict[str, Any], summary: dict[str, Any] | None) -> list[Text]:
    shown: dict[str, object] = {"scenario": scenario_name(header)}
    for key in ("seed", "status", "events", "created"):
        shown[key] = header.get(key)
    for key, value in (summary or {}).items():
        if key not in shown and isinstance(value, int | float | str) and key != "run_id":
            shown[key] = value
    shown.update(_usage_facts((summary or {}).get("usage")))
    if isinstance(shown.get("created"), str):
        shown["created"] = _created(str(shown["created"]), False)
    labels = {"sessions": "sessions/user", "wall_s": "wall s"}
    items = []
    for key, value in shown.items():
        if value is None:
            continue
        item = Text().append(labels.get(key, key) + " ", "dim")  # the value not dimmed
        item.append_text(one_line(value, 60, _STATUS_STYLE.get(str(value), "")))
        recorded = header.get("recorded_status")
        if key == "status" and recorded is not None and recorded != value:
            item.append(f" (recorded {one_line(recorded, 20).plain})", "dim")
        items.append(item)
    return items


def render_summary(
    header: dict[str, Any],
    summary: dict[str, Any] | None,
    console: Console,
    *,
    fallback: dict[str, Any] | None = None,
) -> None:
    """Print the header facts, per-monitor counts, leak matrices and drift sparklines.

    Reads the monitors' sections of summary.json (``monitors.<name>.leak_matrix``,
    ``monitors.drift.users``); a top-level ``leak_matrix`` or ``drift`` is read too.
    """
    width = console.width
    title = Text("run ")
    title.append(clean(header.get("run_id", "?")), "bold")
    console.print(Rule(title, align="left"))
    for line in flow(_facts(header, summary), width):
        console.print(line)
    clock = SimClock(header.get("start_date"))
    if summary is None:
        console.print(
            Text(f"no summary.json yet (status {clean(header.get('status', '?'))})", "yellow")
        )
        if fallback:
            console.print(Text("findings counted from the events so far:", "dim"))
            for r in _monitors_table(fallback, clock, width):
                console.print(r)
        return
    monitors = summary.get("monitors")
    if isinstance(monitors, dict) and monitors:
        _rule("monitors", console)
        for r in _monitors_table(monitors, clock, width, summary.get("turns")):
            console.print(r)
    owner, matrix = _find(summary, "leak_matrix")
    if isinstance(matrix, dict) and matrix:
        _rule("leak matrix" + (f" ({owner})" if owner else ""), console)
        for r in _leak_matrix(matrix, width, turns=summary.get("turns")):
            console.print(r)
    name, drift = _drift_section(summary)
    if drift is not None and drift.get("users"):
        _rule("drift" + (f" ({name})" if name and name != "drift" else ""), console)
        for r in _drift(drift, width):
            console.print(r)
    known = ("monitors", "leak_matrix", "drift")
    other = [k for k, v in summary.items() if k not in known and isinstance(v, dict | list)]
    if other:
        console.print(Text("also in summary.json: " + clean(", ".join(other)), "dim"))


def render_run_summary(run_dir: Path, console: Console) -> None:
    """What ``sandbox run`` prints at the end, fitted to the console width.

    The per-monitor table of `sandbox show` (categories and first finding under it when
    narrow), the run's counts as ``key=value`` (``status=complete``, the form scripts
    grep), its folder and the commands to look further. A damaged summary.json is named
    in a warning instead of the table.
    """
    from sandbox.record.reader import read_summary
    from sandbox.replay.reading import read_events

    problem = None
    try:
        summary = read_summary(run_dir) or {}
    except (OSError, ValueError) as exc:
        summary, problem = {}, str(exc)
    start: dict[str, Any] = {}
    try:
        first = next(iter(read_events(run_dir)), None)
        if isinstance(first, dict) and first.get("kind") == "run_start":
            start = first
    except (OSError, ValueError):
        pass
    width = console.width
    title = Text("run ")
    title.append(clean(summary.get("run_id", run_dir.name)), "bold")
    console.print(Rule(title, align="left"))
    monitors = summary.get("monitors")
    if isinstance(monitors, dict) and monitors:
        clock = SimClock(start.get("start_date"))
        for r in _monitors_table(monitors, clock, width, summary.get("turns")):
            console.print(r)
    elif summary:  # a finished run that checked nothing must not look like a clean one
        console.print(Text("no monitor ran: nothing was checked for findings", "yellow"))
    if problem is not None:
        console.print(Text(f"⚠ {clean(problem)}", "yellow"))
    labels = {"sessions": "sessions/user", "wall_s": "wall"}
    facts = []
    for key in ("status", "users", "sessions", "turns", "events", "wall_s"):
        value = summary.get(key)
        if value is not None:
            item = Text().append(labels.get(key, key) + "=", "dim")
            shown = f"{value:.1f}s" if key == "wall_s" and _is_num(value) else clean(value)
            item.append(shown, _STATUS_STYLE.get(str(value), ""))
            facts.append(item)
    for line in flow(facts, width):
        console.print(line)
    folder = Text(
        "run folder (FOLDER) " if len(clean(run_dir)) + 24 > width else "run folder ", "dim"
    )
    folder.append(clean(run_dir))
    console.print(folder)
    name = clean(run_dir)
    if len(f"sandbox findings {name}") > width:  # a long folder: name it once, above
        name = "FOLDER"
    hints = [
        Text("look further:", "dim"),
        Text(f"sandbox show {name}", "bold"),
        Text(f"sandbox findings {name}", "bold"),
    ]
    for line in flow(hints, width, sep="  "):
        console.print(line)
