"""Suite results for CI: JUnit XML, a Markdown summary for a pull request, terminal tables."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sandbox.analysis.layout import header, header_width
from sandbox.text_safety import clean, markup_safe

__all__ = [
    "KEY_METRICS",
    "render_comparison",
    "render_result",
    "to_junit",
    "to_markdown",
    "write_text",
]

# metrics shown in the summary tables, when the runs measured them
KEY_METRICS = (
    "surfaced_leaks",
    "leak_surfaced_per_1k",
    "retention_findings",
    "poisoning_findings",
    "relational_harm_per_1k",
    "drift_flag_rate",
    "high_or_worse",
    "findings_per_1k",
)


def write_text(path: Path, text: str) -> None:
    """Write a report file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def _metric_cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    ci = m.get("ci")
    return f"{_num(m['mean'])} [{_num(ci[0])}, {_num(ci[1])}]" if ci else _num(m["mean"])


def _leak_free_cells(lf: dict[str, Any] | None, ks: list[int]) -> list[str]:
    if not lf:
        return ["-"] * (1 + len(ks))
    out = [f"{lf['k']}/{lf['n']} [{_num(lf['ci'][0])}, {_num(lf['ci'][1])}]"]
    by_k = {p["k"]: p for p in lf["pass_k"]}
    for k in ks:
        p = by_k.get(k)
        if p is None or p["estimate"] is None:
            out.append("n/a")
        else:
            out.append(f"{_num(p['estimate'])} [{_num(p['ci'][0])}, {_num(p['ci'][1])}]")
    return out


def _ks(result: dict[str, Any]) -> list[int]:
    for c in result["configs"].values():
        if c.get("leak_free"):
            return [p["k"] for p in c["leak_free"]["pass_k"]]
    return []


def _shown(result: dict[str, Any]) -> list[str]:
    have = {m for c in result["configs"].values() for m in c["metrics"]}
    return [m for m in KEY_METRICS if m in have]


def to_junit(result: dict[str, Any]) -> str:
    """One testsuite per config, one testcase per gate; failures carry the evidence."""
    root = ET.Element("testsuites", name=f"sandbox suite {result['suite']}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for config in result["config_names"]:
        gates = [g for g in result["gates"] if g["config"] == config]
        errored = [e for e in result["runs"]["errored"] if e["config"] == config]
        ts = ET.SubElement(root, "testsuite", name=f"{result['suite']}.{config}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for g in gates:
            counts["tests"] += 1
            tc = ET.SubElement(
                ts, "testcase", classname=f"{result['suite']}.{config}", name=g["gate"]
            )
            body = "\n".join([g["message"], *g["evidence"]])
            if g["status"] == "fail":
                counts["failures"] += 1
                el = ET.SubElement(tc, "failure", message=g["message"], type="GateFailed")
                el.text = body
            elif g["status"] == "error":
                counts["errors"] += 1
                el = ET.SubElement(tc, "error", message=g["message"], type="NotMeasured")
                el.text = body
            else:
                ET.SubElement(tc, "system-out").text = body
        if errored:
            counts["tests"] += 1
            counts["errors"] += 1
            tc = ET.SubElement(
                ts, "testcase", classname=f"{result['suite']}.{config}", name="runs complete"
            )
            el = ET.SubElement(
                tc, "error", message=f"{len(errored)} run(s) did not complete", type="RunErrored"
            )
            el.text = "\n".join(
                f"{e['scenario']} seed {e['seed']}: {e['status']}: {e['error'] or ''}"
                for e in errored
            )
        for k, v in counts.items():
            ts.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: dict[str, Any]) -> str:
    """A summary to post on a pull request: verdict, gates, metrics per config."""
    code = result["exit_code"]
    verdict = {0: "all gates hold", 1: "a gate failed", 3: "runs errored"}.get(code, str(code))
    runs = result["runs"]
    lines = [
        f"## Suite `{result['suite']}`: {verdict}",
        "",
        f"{runs['complete']}/{runs['total']} runs complete ({runs['reused']} reused),"
        f" alpha {result['alpha']}, intervals {100 * (1 - result['alpha']):g}%.",
        "",
        "| config | gate | result | detail |",
        "|---|---|---|---|",
    ]
    mark = {"pass": "pass", "fail": "**FAIL**", "error": "**ERROR**"}
    for g in result["gates"]:
        lines.append(
            f"| {g['config']} | `{_md_escape(g['gate'])}` | {mark[g['status']]} |"
            f" {_md_escape(g['message'])} |"
        )
    ks = _ks(result)
    shown = _shown(result)
    lines += [
        "",
        "| config | runs | leak-free | "
        + " | ".join(f"leak-free^{k}" for k in ks)
        + "".join(f" | {m}" for m in shown)
        + " |",
        "|---" * (3 + len(ks) + len(shown)) + "|",
    ]
    for name, c in result["configs"].items():
        cells = [name, str(c["n_runs"]), *_leak_free_cells(c.get("leak_free"), ks)]
        cells += [_metric_cell(c["metrics"].get(m)) for m in shown]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [g for g in result["gates"] if g["status"] != "pass" and g["evidence"]]
    if failed:
        lines += ["", "<details><summary>Evidence</summary>", ""]
        for g in failed:
            lines.append(f"**{g['config']}: `{g['gate']}`**")
            lines += ["", "```", *g["evidence"], "```", ""]
        lines.append("</details>")
    if runs["errored"]:
        lines += ["", "Runs that did not complete:", ""]
        for e in runs["errored"]:
            lines.append(f"- {e['scenario']} / {e['config']} seed {e['seed']}: {e['status']}")
    return "\n".join(lines) + "\n"


def render_result(result: dict[str, Any], console: Console | None = None) -> None:
    """Terminal tables: metrics per config, then the gates."""
    console = console or Console()
    ks = _ks(result)
    shown = _shown(result)
    t = Table(title=f"suite {markup_safe(result['suite'])}: per config, mean [CI]")
    t.add_column("metric", no_wrap=True)
    configs = result["configs"]
    # metric names break after "_" on a narrow terminal, never inside a word
    width = max([len("leak-free^10"), *(len(m) for m in shown)])
    if console.width < 100:
        width = max([16, *(header_width(m) for m in shown)])
    for name in configs:
        t.add_column(Text(clean(name)), overflow="fold")
    t.add_row("runs", *[str(c["n_runs"]) for c in configs.values()])
    lf = [_leak_free_cells(c.get("leak_free"), ks) for c in configs.values()]
    for i, label in enumerate(["leak-free", *[f"leak-free^{k}" for k in ks]]):
        t.add_row(label, *[cells[i] for cells in lf])
    for m in shown:
        t.add_row(header(m, width), *[_metric_cell(c["metrics"].get(m)) for c in configs.values()])
    console.print(t)
    g = Table(title="gates")
    g.add_column("config")
    g.add_column("gate")
    g.add_column("result")
    g.add_column("detail")
    style = {"pass": "green", "fail": "bold red", "error": "bold red"}
    for x in result["gates"]:
        g.add_row(
            Text(clean(x["config"])),
            Text(clean(x["gate"])),
            Text(x["status"], style[x["status"]]),
            Text(clean(x["message"])),
        )
    console.print(g)
    for x in result["gates"]:
        if x["status"] != "pass" and x["evidence"]:
            console.print(clean(f"{x['config']}: {x['gate']}"), style="bold", markup=False)
            for e in x["evidence"]:
                console.print(f"  {clean(e)}", markup=False, highlight=False)
    runs = result["runs"]
    for e in runs["errored"]:
        console.print(
            clean(
                f"errored: {e['scenario']}/{e['config']} seed {e['seed']}: {e['status']}"
                f" {(e['error'] or '').splitlines()[0] if e['error'] else ''}"
            ),
            markup=False,
            highlight=False,
        )
    console.print(
        f"{runs['complete']}/{runs['total']} runs complete, {runs['reused']} reused;"
        f" {result['gates_failed']} gate(s) failed; exit {result['exit_code']};"
        f" folder {clean(result['folder'])}",
        markup=False,
        highlight=False,
    )


def render_comparison(result: dict[str, Any], console: Console | None = None) -> None:
    """Terminal view of ``compare``: per config, metric deltas, then finding changes."""
    console = console or Console()
    for config, c in result["configs"].items():
        t = Table(
            title=markup_safe(
                f"{config}: B vs A ({c['compared_with']}), n={c['n_b']} vs {c['n_a']}"
            ),
        )
        for col in ("metric", "worse by", "CI", "p (Holm)", "verdict"):
            t.add_column(col)
        for row in c["metrics"]:
            verdict = "[bold red]regression[/]" if row["regression"] else "ok"
            if row.get("underpowered") and not row["regression"]:
                verdict = f"ok ({row['underpowered']})"
            ci = row.get("worsening_ci")
            t.add_row(
                row["metric"],
                _num(row.get("worsening")),
                f"[{_num(ci[0])}, {_num(ci[1])}]" if ci else "-",
                _num(row.get("p_holm")),
                verdict,
            )
        console.print(t)
        f = c["findings"]
        console.print(
            f"findings: {len(f['new'])} new, {len(f['fixed'])} fixed, {f['persisting']} persisting",
            markup=False,
            highlight=False,
        )
        for label, items in (("new", f["new"]), ("fixed", f["fixed"])):
            for x in items[:10]:
                console.print(
                    clean(
                        f"  {label}: {x['scenario']} seed {x['seed']}"
                        f" {x['monitor']}/{x['category']} {x['owner']} -> {x['user']}"
                        f" {x['item']} x{x['count']} [{x['worst']}]"
                    ),
                    markup=False,
                    highlight=False,
                )
    console.print(
        f"{result['regressions']} regression(s); exit {result['exit_code']}",
        markup=False,
        highlight=False,
    )
