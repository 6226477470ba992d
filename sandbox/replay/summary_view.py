"""``sandbox list``, ``sandbox show`` and the end of ``sandbox run``: runs and summaries.

summary.json is written by several monitors and analyses; each section here renders
only when its data is present and well-formed, and says nothing about what is absent.
The monitors keep their own results in their sections (``monitors.<name>.leak_matrix``,
``monitors.drift.users``), which is where `render_summary` looks.

Every table is laid out for the console's width on purpose: columns that do not fit
move under the table, long ids wrap after ``/`` or ``+``, recipient names become
numbers with a legend, sparklines are squeezed; rich is never left to cut a word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

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


def wrap_at(text: str, width: int, seps: str = "/+ ", fallback: str = "-_:,") -> list[str]:
    """Lines of at most `width` characters, broken after a separator where possible.

    Breaks come after one of `seps`; a piece still longer than a line is broken after
    one of `fallback`, and only a piece with neither is cut.
    """
    width = max(1, width)

    def pieces(s: str, chars: str) -> list[str]:
        out: list[str] = []
        cur = ""
        for ch in s:
            cur += ch
            if ch in chars:
                out.append(cur)
                cur = ""
        if cur:
            out.append(cur)
        return out

    parts: list[str] = []
    for piece in pieces(text, seps):
        parts.extend([piece] if len(piece) <= width or not fallback else pieces(piece, fallback))
    lines: list[str] = []
    line = ""
    for piece in parts:
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        while len(piece) > width:
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def flow(items: list[Text], width: int, sep: str = "  ", indent: int = 0) -> list[Text]:
    """Pack `items` into lines of at most `width` cells, breaking only between items.

    An item wider than a line gets a line of its own, cut with an ellipsis.
    """
    lines: list[Text] = []
    line = Text(" " * indent)
    used = indent
    room = max(8, width - indent)
    for item in items:
        item = item.copy()
        if item.cell_len > room:
            item.truncate(room, overflow="ellipsis")
        need = item.cell_len + (len(sep) if used > indent else 0)
        if used > indent and used + need > width:
            lines.append(line)
            line = Text(" " * indent)
            used = indent
            need = item.cell_len
        if used > indent:
            line.append(sep)
        line.append_text(item)
        used += need
    if used > indent or not lines:
        lines.append(line)
    return lines


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


def _leak_kinds(matrix: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: owner -> recipient -> n}; an unkinded owner -> recipient matrix is ``leaks``."""
    rows = {str(k): v for k, v in matrix.items() if isinstance(v, dict)}
    if any(isinstance(x, dict) for v in rows.values() for x in v.values()):
        return {
            k: {str(o): r for o, r in v.items() if isinstance(r, dict)} for k, v in rows.items()
        }
    return {"leaks": rows}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _count(n: object) -> int:
    return int(n) if isinstance(n, int | float) and not isinstance(n, bool) else 0


def _labels(names: list[str], width: int, cell: int) -> tuple[list[str], bool]:
    """Column labels for recipients: full names when the matrix fits, else numbers."""
    full = [clean(n) for n in names]
    need = 19 + 2 + sum(max(len(f), cell) + 2 for f in full) + 7
    if need <= width:
        return full, False
    return [str(i + 1) for i in range(len(names))], True


def _leak_matrix(
    matrix: dict[str, Any], width: int = 100, limit: int = 20, turns: object = None
) -> list[RenderableType]:
    """One owner x recipient table per leak kind, with row totals.

    Recipient names become numbers with a legend when they would not fit `width`.
    """
    out: list[RenderableType] = []
    kinds = _leak_kinds(matrix)
    by_person: dict[str, int] = {}
    for rows in kinds.values():
        for o, row in rows.items():
            for r, n in row.items():
                by_person[str(o)] = by_person.get(str(o), 0) + _count(n)
                by_person[str(r)] = by_person.get(str(r), 0) + _count(n)
    people = sorted(by_person, key=lambda u: (-by_person[u], u))[:limit]
    for kind, rows in kinds.items():
        cells = {str(o): {str(r): _count(n) for r, n in row.items()} for o, row in rows.items()}
        total = sum(n for row in cells.values() for n in row.values())
        if not total:
            continue
        owners = [u for u in people if sum(cells.get(u, {}).values())]
        recips = [u for u in people if any(cells[o].get(u) for o in cells)]
        peak = max((n for row in cells.values() for n in row.values()), default=0)
        cell_w = len(str(peak))
        labels, numbered = _labels(recips, width, cell_w)
        head = Text(f"{kind}: ", "bold")
        head.append(
            f"{_n(total, 'leak')}"
            + (
                f" ({1000 * total / turns:.1f} per 1k of {turns} turns)"
                if isinstance(turns, int) and turns > 0
                else ""
            )
            + f", {_n(len(owners), 'owner')} -> {_n(len(recips), 'recipient')}",
            "dim",
        )
        out.append(head)
        table = Table(header_style="bold", box=None, pad_edge=False)
        table.add_column("owner ↓ recipient →", no_wrap=True)
        for label in labels:
            table.add_column(label, justify="right", no_wrap=True)
        table.add_column("total", justify="right", no_wrap=True)
        for o in owners:
            row_t: list[RenderableType] = [Text(clean(o), user_style(o))]
            if numbered and o in recips:  # the owner's own column number, to read across
                row_t = [Text(f"{recips.index(o) + 1:>2} ", "dim") + Text(clean(o), user_style(o))]
            for r in recips:
                n = cells[o].get(r, 0)
                if not n:
                    row_t.append(Text("·", "dim"))
                else:
                    row_t.append(Text(str(n), "bold red" if n >= peak / 2 else "yellow"))
            row_t.append(Text(str(sum(cells[o].values())), "bold"))
            table.add_row(*row_t)
        out.append(table)
        if numbered:
            legend = [Text(f"{i + 1} {clean(r)}") for i, r in enumerate(recips)]
            out.extend(flow([Text("recipients:", "dim"), *legend], width, sep="  "))
        if len(by_person) > limit:
            out.append(Text(f"(+{len(by_person) - limit} more users not shown)", "dim"))
    if not out:
        out.append(Text("no leaks recorded", "dim"))
    return out


@dataclass
class _DriftRow:
    user: str
    metric: str | None
    series: list[Any]
    sessions: list[Any]
    flagged: bool
    onset: int | None  # a session number
    note: str


def _drift_rows(drift: dict[str, Any]) -> list[_DriftRow]:
    """Rows from the drift monitor's summary (series per metric) or the older flat form."""
    users = _dict(drift.get("users"))
    metrics = [m for m in drift.get("metrics") or [] if isinstance(m, str)]
    rows: list[_DriftRow] = []
    for u, d in users.items():
        if not isinstance(d, dict):
            continue
        raw = d.get("series")
        onset = d.get("onset") if isinstance(d.get("onset"), int) else None
        if isinstance(raw, list):
            rows.append(
                _DriftRow(
                    str(u), None, raw, list(range(len(raw))), bool(d.get("flagged")), onset, ""
                )
            )
            continue
        if not isinstance(raw, dict):
            continue
        got = raw.get("sessions")
        sessions: list[Any] = got if isinstance(got, list) else []
        metric = d.get("metric") if isinstance(d.get("metric"), str) else None
        if metric is None:
            metric = next(
                (
                    m
                    for m in metrics or [k for k in raw if k not in ("sessions", "unscored")]
                    if any(_is_num(v) for v in raw.get(m) or [])
                ),
                None,
            )
        got = raw.get(metric) if metric else None
        series: list[Any] = got if isinstance(got, list) else []
        test = _dict(_dict(d.get("tests")).get(metric or ""))
        note = ""
        if d.get("flagged"):
            bits = []
            if _is_num(d.get("size")):
                bits.append(f"+{d['size']:.2f}")
            if _is_num(d.get("p_adjusted")):
                bits.append(f"p_adj={d['p_adjusted']:.3g}")
            note = ", ".join(bits)
        elif test.get("reason"):
            note = f"not tested: {clean(test['reason'])}"
        elif _is_num(test.get("p_adjusted")):
            note = f"p_adj={test['p_adjusted']:.2g}"
        rows.append(
            _DriftRow(str(u), metric, series, sessions, bool(d.get("flagged")), onset, note)
        )
    return rows


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v


def _squeeze(series: list[Any], n: int) -> list[Any]:
    """At most `n` values: means of consecutive buckets when the series is longer."""
    if len(series) <= n:
        return series
    out: list[Any] = []
    for i in range(n):
        part = [v for v in series[i * len(series) // n : (i + 1) * len(series) // n] if _is_num(v)]
        out.append(sum(part) / len(part) if part else None)
    return out


def _drift(drift: dict[str, Any], width: int = 100, limit: int = 30) -> list[RenderableType]:
    rows = _drift_rows(drift)
    rows.sort(key=lambda r: (not r.flagged, r.user))
    scales: dict[str | None, tuple[float, float]] = {}
    for metric in {r.metric for r in rows}:
        vals = [v for r in rows if r.metric == metric for v in r.series if _is_num(v)]
        scales[metric] = (min(vals), max(vals)) if vals else (0.0, 1.0)
    show_metric = any(r.metric for r in rows)
    shown = rows[:limit]
    texts = []
    for r in shown:
        nums = [v for v in r.series if _is_num(v)]
        rng = f"{nums[0]:.2f}→{nums[-1]:.2f}" if nums else "-"
        flag = Text("-", "dim")
        if r.flagged:
            flag = Text("⚑ drift", "bold red")
            if r.onset is not None:
                flag.append(f" from session {r.onset}")
            if r.note:
                flag.append(f" ({r.note})", "dim")
        elif r.note:
            flag = Text(r.note, "dim")
        texts.append((Text(f"{rng} ({len(nums)} of {len(r.series)})", "dim"), flag))
    # the sparkline gets what is left once the other columns (the flag up to 24
    # characters; longer flags wrap between words) have their room
    fixed = (
        max(4, *(len(clean(r.user)) for r in shown))
        + max(len("first→last"), *(t.cell_len for t, _ in texts))
        + min(24, max(len("drift"), *(f.cell_len for _, f in texts)))
    )
    if show_metric:
        fixed += max(6, *(len(clean(r.metric or "-")) for r in shown)) + 2
    bars = max(len("per session"), min(48, width - fixed - 2 * 3))
    table = Table(header_style="bold", box=None, pad_edge=False)
    table.add_column("user", no_wrap=True)
    if show_metric:
        table.add_column("metric", no_wrap=True)
    table.add_column("per session", no_wrap=True)
    table.add_column("first→last", no_wrap=True)
    table.add_column("drift")
    for r, (rng_t, flag) in zip(shown, texts, strict=True):
        lo, hi = scales[r.metric]
        squeezed = _squeeze(r.series, bars)
        onset_i = None
        if r.onset is not None and r.onset in r.sessions:
            onset_i = r.sessions.index(r.onset) * len(squeezed) // max(1, len(r.series))
        spark = Text()
        for i, bar in enumerate(sparkline(squeezed, lo, hi)):
            spark.append(bar, "bold red" if onset_i is not None and i >= onset_i else "")
        cells: list[RenderableType] = [Text(clean(r.user), user_style(r.user))]
        if show_metric:
            cells.append(Text(clean(r.metric or "-")))
        cells += [spark, rng_t, flag]
        table.add_row(*cells)
    out: list[RenderableType] = [table]
    if len(rows) > limit:
        out.append(Text(f"(+{len(rows) - limit} more users)", "dim"))
    flagged = sum(r.flagged for r in rows)
    scale_bits = [
        f"{m + ' ' if m else ''}{lo:.2f} to {hi:.2f}" for m, (lo, hi) in sorted(
            scales.items(), key=lambda kv: str(kv[0])
        )
    ]  # fmt: skip
    out.extend(
        flow(
            [
                Text(f"flagged {flagged} of {_n(len(rows), 'user')} ·", "dim"),
                Text("(n of m) = sessions with a value ·", "dim"),
                Text("bar scale across users:", "dim"),
                *[Text(b, "dim") for b in scale_bits],
            ],
            width,
            sep=" ",
        )
    )
    return out


def _find(summary: dict[str, Any], key: str) -> tuple[str | None, Any]:
    """`key` at the top of summary.json, or in the first monitor section that has it."""
    if key in summary:
        return None, summary[key]
    for name, m in _dict(summary.get("monitors")).items():
        if isinstance(m, dict) and key in m:
            return str(name), m[key]
    return None, None


def _drift_section(summary: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    top = summary.get("drift")
    if isinstance(top, dict) and isinstance(top.get("users"), dict):
        return None, top
    for name, m in _dict(summary.get("monitors")).items():
        if not isinstance(m, dict) or not isinstance(m.get("users"), dict):
            continue
        if any(
            isinstance(d, dict) and isinstance(d.get("series"), dict | list)
            for d in m["users"].values()
        ):
            return str(name), m
    return None, None


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
