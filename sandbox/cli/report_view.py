"""Tables of ``sandbox report drift | leaks | judge``, fitted to the console's width.

Every rate stands next to its count (k/n) and, where it is a sample, its Wilson 95%
interval. Number columns are as wide as their widest value or header word, so they are
never cut; the label column takes what is left and wraps between words. Where a floor
check cannot be decided with the data at hand (the interval spans the floor), the
report says so, with about how many seeds or cases would decide it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from sandbox.analysis.layout import header, header_width
from sandbox.analysis.stats import trials_to_clear

__all__ = ["floor_power_note", "print_drift", "print_judge", "print_leaks", "report_table"]

Row = Sequence[str]
Cols = list[tuple[str, JustifyMethod]]


def report_table(
    title: str | None, columns: Sequence[tuple[str, JustifyMethod]], rows: Sequence[Row]
) -> Table:
    """A table whose first column wraps between words and whose others are never cut."""
    table = Table(title=Text(title) if title else None, title_justify="left")
    for i, (name, justify) in enumerate(columns):
        if i == 0:
            table.add_column(Text(name), justify=justify, overflow="fold")
            continue
        widest = max((len(r[i]) for r in rows), default=0)
        width = max(widest, header_width(name), 1)
        table.add_column(
            header(name, width),
            justify=justify,
            min_width=width,
            no_wrap=True,
        )
    for r in rows:
        table.add_row(*(Text(c) for c in r))
    return table


def floor_power_note(
    name: str, k: int, n: int, floor: float, at_least: bool, per_unit: float, unit: str
) -> str | None:
    """A note when the Wilson interval of k/n spans `floor`: the check is not decided.

    `per_unit` trials come with each `unit` (pairs per seed, say), so the need is given
    in units. None when the interval lies on one side of the floor, and for a floor of
    0 or 1 (no misses, no false positives: a count checked exactly, not a rate).
    """
    if n <= 0 or not 0 < floor < 1:
        return None
    from sandbox.analysis.stats import wilson

    lo, hi = wilson(k, n)
    if not lo <= floor <= hi:
        return None
    rate = k / n
    units = n / per_unit if per_unit else n
    need = trials_to_clear(rate, floor, rate > floor) if rate != floor else None
    side = ">=" if at_least else "<="
    head = (
        f"underpowered: {name} {k}/{n} = {rate:.3f}, interval {lo:.2f}-{hi:.2f} spans "
        f"the floor {side} {floor} ({units:g} {unit})"
    )
    if need is None:
        return f"{head}; no number of {unit} decides a rate this close to the floor"
    return f"{head}; need about {math.ceil(need / per_unit)} {unit}"


def _ci(measure: dict[str, Any] | None) -> tuple[str, str, str]:
    """(k/n, rate, 95% interval) cells of a measure; dashes when it was not measured."""
    if not measure or measure["rate"] is None:
        return ("-", "-", "-")
    lo, hi = measure["ci95"]
    return (f"{measure['k']}/{measure['n']}", f"{measure['rate']:.3f}", f"{lo:.3f}-{hi:.3f}")


def _drift_notes(data: dict[str, Any]) -> list[str]:
    check = data.get("check") or {}
    floors = check.get("floors") or {}
    m, seeds = data["measures"], max(1, int(data.get("seeds") or 1))
    rules = (
        ("recall", "recall", floors.get("min_recall"), True),
        (
            "control false alarms",
            "control_false_alarm",
            floors.get("max_control_false_alarm"),
            False,
        ),
        ("clean false alarms", "clean_false_alarm", floors.get("max_clean_false_alarm"), False),
    )
    notes = []
    for label, key, floor, at_least in rules:
        meas = m.get(key)
        if floor is None or not meas or not meas.get("n"):
            continue
        note = floor_power_note(
            label, meas["k"], meas["n"], floor, at_least, meas["n"] / seeds, "seeds"
        )
        if note:
            notes.append(note)
    return notes


def print_drift(data: dict[str, Any], console: Console) -> None:
    """The drift monitor's recall, onset lags, false alarms and the detector's power."""
    m = data["measures"]
    seeds = data.get("seeds", 0)
    labels = (
        ("recall (vulnerable user-seeds flagged)", "recall"),
        ("onset at/after the profile change", "onset_after_change"),
        ("false alarms: control (adapting, no change)", "control_false_alarm"),
        ("false alarms: clean variant (no adaptation)", "clean_false_alarm"),
        ("false alarms: users without vulnerability", "unvulnerable_false_alarm"),
    )
    rows = [(label, *_ci(m[key])) for label, key in labels if m.get(key) is not None]
    cols: Cols = [
        ("measure", "left"),
        ("k/n", "right"),
        ("rate", "right"),
        ("Wilson 95% CI", "right"),
    ]
    console.print(report_table(f"drift monitor over {seeds} seeds", cols, rows))
    lag = data["onset_lag"]
    lag_rows = [(f"{k} (early)", str(v)) for k, v in lag["early_histogram"].items()]
    lag_rows += [(k, str(v)) for k, v in lag["histogram"].items()]
    lag_cols: Cols = [("onset lag (sessions after the change)", "right")]
    lag_cols.append(("flagged users", "right"))
    console.print(report_table(None, lag_cols, lag_rows))
    if lag["median"] is not None:
        console.print(
            Text(
                f"lag median {lag['median']:g}, IQR {lag['q1']:g}-{lag['q3']:g} "
                f"({lag['after_change']} at/after the change, {lag['early']} early)"
            )
        )
    for note in _drift_notes(data):
        console.print(Text(note, style="yellow"))
    if data.get("power"):
        _print_power(data["power"], console)


def _print_power(p: dict[str, Any], console: Console) -> None:
    title = (
        f"detector power ({p['method']}, alpha {p['alpha']} per series, step at mid-series): "
        f"series found k/n, {p['n_series']} per cell"
    )
    cols: Cols = [("step (noise SD)", "left")]
    cols += [(f"{n} sessions", "right") for n in p["lengths"]]
    cols.append((f"sessions for {p['target_power']:.0%} power", "right"))
    rows = []
    for eff in p["effects_sd"]:
        cells = {c["length"]: c for c in p["cells"] if c["effect_sd"] == eff}
        need = p["sessions_needed"].get(f"{eff:g}")
        rows.append(
            (
                f"{eff:g}",
                *(f"{cells[n]['k']}/{cells[n]['n']}" for n in p["lengths"]),
                str(need) if need is not None else f"> {max(p['lengths'])}",
            )
        )
    fa = {c["length"]: c for c in p["false_alarm"]}
    rows.append(("0 (false alarm)", *(f"{fa[n]['k']}/{fa[n]['n']}" for n in p["lengths"]), ""))
    console.print(report_table(title, cols, rows))


def _fmt(row: dict[str, Any]) -> tuple[str, str, str]:
    rate = row["rate"]
    lo, hi = float(row["ci95"][0]), float(row["ci95"][1])
    shown = "-" if rate is None else f"{float(rate):.3f}"
    return f"{row['k']}/{row['n']}", shown, f"{lo:.2f}-{hi:.2f}"


def print_leaks(data: dict[str, Any], check: bool, console: Console) -> None:
    """The leak matcher's precision and recall overall, per tier and per variant."""
    cols: Cols = [("measure", "left"), ("count", "right"), ("rate", "right"), ("95% CI", "right")]
    overall = data["overall"]
    rows: list[Row] = [
        ("precision (owners named)", *_fmt(overall["precision"])),
        ("recall (leaking replies)", *_fmt(overall["recall"])),
        ("all owners named", *_fmt(overall["all_owners_named"])),
        ("misattributed owners", str(overall["misattributed"]), "", ""),
    ]
    for tier, t in data["tiers"].items():
        rows.append((f"{tier} tier recall", *_fmt(t["recall"])))
        rows.append((f"{tier} tier precision", *_fmt(t["precision"])))
    title = f"leak matcher on {data['corpus']} ({data['split']} split, {data['cases']} cases)"
    console.print(report_table(title, cols, rows))
    rows = [(f"{name} (found)", *_fmt(r)) for name, r in data["positives"].items()]
    rows += [
        (f"{name} (negative, flagged)", *_fmt(r)) for name, r in data["negatives_flagged"].items()
    ]
    cols[0] = ("variant", "left")
    title = "per variant: leaking replies found / negatives flagged"
    console.print(report_table(title, cols, rows))
    if check:
        upper = ("canary_false_positives", "misattributed")
        counts = _leak_floor_counts(data)
        _print_floors(data["floors"], console, upper=upper, counts=counts)
        for name, row in data["floors"].items():
            k, n = counts.get(name, (0, 0))
            if n and name not in upper:
                note = floor_power_note(name, k, n, row["floor"], True, 1, "cases")
                if note:
                    console.print(Text(note, style="yellow"))


def _leak_floor_counts(data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The k/n behind each floor of the leak report (counts for the two upper bounds)."""
    from sandbox.analysis.leak_eval import CANARY_VARIANTS, SEMANTIC_VARIANTS

    def total(names: Sequence[str]) -> tuple[int, int]:
        rows = [data["positives"][v] for v in names if v in data["positives"]]
        return sum(r["k"] for r in rows), sum(r["n"] for r in rows)

    canary_p = data["tiers"].get("canary", {}).get("precision", {"k": 0, "n": 0})
    sem_p = data["tiers"].get("semantic", {}).get("precision", {"k": 0, "n": 0})
    prec = data["overall"]["precision"]
    return {
        "canary_recall": total(CANARY_VARIANTS),
        "canary_false_positives": (canary_p["n"] - canary_p["k"], canary_p["n"]),
        "semantic_recall": total(SEMANTIC_VARIANTS),
        "semantic_precision": (sem_p["k"], sem_p["n"]),
        "overall_precision": (prec["k"], prec["n"]),
        "misattributed": (data["overall"]["misattributed"], prec["n"]),
    }


def _print_floors(
    floors: dict[str, Any],
    console: Console,
    upper: Sequence[str] = (),
    counts: dict[str, tuple[int, int]] | None = None,
) -> None:
    rows = []
    for name, row in floors.items():
        value = row["value"]
        k, n = (counts or {}).get(name, (0, 0))
        shown = "-" if value is None else f"{value:.3f}".rstrip("0").rstrip(".") or "0"
        rows.append(
            (
                name,
                *([f"{k}/{n}" if n else "-"] if counts is not None else []),
                shown,
                f"{'<=' if name in upper else '>='} {row['floor']}",
                "yes" if row["ok"] else "NO",
            )
        )
    cols: Cols = [("floor", "left")]
    if counts is not None:
        cols.append(("count", "right"))
    cols += [("value", "right"), ("required", "right"), ("holds", "right")]
    console.print(report_table("floors", cols, rows))


def _r(row: dict[str, Any]) -> tuple[str, str, str]:
    rate = row.get("rate")
    lo, hi = row.get("ci") or (0.0, 1.0)
    shown = "-" if rate is None else f"{float(rate):.3f}"
    return f"{row['k']}/{row['n']}", shown, f"{float(lo):.2f}-{float(hi):.2f}"


def _v(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_judge(data: dict[str, Any], check: bool, console: Console) -> None:
    """A judge's request risk, stance and harm figures on the corpus, with counts."""
    lim = f", at most {data['limit']} per section" if data.get("limit") else ""
    rows: list[Row] = []
    for cat, row in data["pairwise"].items():
        lo, hi = row["ci"]
        rows += [
            (
                f"request risk: {cat.replace('_', ' ')} > neutral user",
                f"{row['pairs']} pairs ({row['statements']} users)",
                _v(row["accuracy"]),
                f"{lo:.2f}-{hi:.2f}",
            ),
            ("  cosine baseline, same pairs", "", _v(row["cosine_baseline"]), ""),
            ("  vs the fixed neutral statement", "", _v(row["vs_fixed_neutral"]), ""),
            ("  own-category over chit-chat (AUC)", "", _v(row["specificity_auc"]), ""),
        ]
    rh = data["request_harm"]
    rows += [
        ("request harm: precision", *_r(rh["precision"])),
        ("request harm: recall", *_r(rh["recall"])),
        (
            "request harm: F1 / ECE",
            f"{rh['n']} requests",
            f"{rh['f1']:.3f}",
            f"ECE {rh['ece']:.3f}",
        ),
    ]
    st = data["stance"]
    for cls, row in st["classes"].items():
        rows.append((f"stance {cls}: recall", *_r(row["recall"])))
        rows.append((f"stance {cls}: precision", *_r(row["precision"])))
    rows.append(("stance macro F1", f"{st['n']} replies", _v(st["macro_f1"]), ""))
    hm = data["harm"]
    rows += [
        (f"harm judge (threshold {hm['threshold']:.2f}): precision", *_r(hm["precision"])),
        ("harm judge: recall", *_r(hm["recall"])),
        ("harm judge: F1 / ECE", f"{hm['n']} replies", f"{hm['f1']:.3f}", f"ECE {hm['ece']:.3f}"),
    ]
    for src, row in hm["by_source"].items():
        if row["positives"]:
            count = f"{row['positives']} harmful of {row['n']}"
            rows.append((f"  {src}: F1", count, f"{row['f1']:.3f}", ""))
    if "stance_recap" in data:
        rows.append(("stance unchanged behind a recap", *_r(data["stance_recap"])))
    rows.append(("mention-only below complying reply", *_r(data["mention_vs_assist"])))
    cols: Cols = [
        ("part / measure", "left"),
        ("count", "right"),
        ("value", "right"),
        ("95% CI", "right"),
    ]
    title = f"judge {data['judge']} on {data['split']} split{lim}"
    console.print(report_table(title, cols, rows))
    console.print(Text(st["note"], style="dim"))
    if check:
        _print_floors(data["floors"], console)
        for note in _judge_notes(data):
            console.print(Text(note, style="yellow"))


def _judge_notes(data: dict[str, Any]) -> list[str]:
    """Floors of the judge report that its intervals cannot decide."""
    notes = []
    for name, row in data["floors"].items():
        floor = row["floor"]
        if name == "mention_below_assist":
            mv = data["mention_vs_assist"]
            note = floor_power_note(name, mv["k"], mv["n"], floor, True, 1, "cases")
            if note:
                notes.append(note)
        elif name.startswith("pairwise."):
            cat = data["pairwise"].get(name.split(".", 1)[1])
            if not cat or cat.get("accuracy") is None:
                continue
            lo, hi = cat["ci"]
            if lo <= floor <= hi:
                notes.append(
                    f"underpowered: {name} {cat['accuracy']:.3f}, interval {lo:.2f}-{hi:.2f}"
                    f" spans the floor >= {floor} ({cat['pairs']} pairs from"
                    f" {cat['statements']} users; the interval resamples users: more users"
                    " narrow it)"
                )
    return notes
