"""The owner x recipient leak matrices and per-user drift sparklines of ``sandbox show``.

Each reads its monitor's own section of summary.json (``monitors.<name>.leak_matrix``,
``monitors.drift.users``) and renders only what is present and well-formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from sandbox.replay.layout import flow
from sandbox.replay.sanitize import clean
from sandbox.replay.style import user_style

__all__ = ["sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
