"""Baselines and comparisons: suite results, saved baselines and single runs, aligned.

A **baseline** is a small JSON file meant to be committed: a suite's metrics per run and
the stable identities of its findings (monitor, category, owner, recipient, item,
scenario, config, seed), with no paths. ``compare`` aligns two sides by scenario,
config and seed (and findings by identity) and reports per-metric deltas with intervals
and p-values, and new, fixed and persisting findings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox.analysis.stats import holm
from sandbox.suite.metrics import HIGHER_IS_BETTER, RunRecord, relative_test, run_metrics

__all__ = [
    "BASELINE_FORMAT",
    "COMPARED_METRICS",
    "baseline_from_result",
    "compare_sides",
    "finding_identities",
    "load_side",
    "resolve_baseline_path",
]

BASELINE_FORMAT = "persona-sandbox-suite-baseline/1"
# metrics compared by default (those both sides measured)
COMPARED_METRICS = (
    "surfaced_leaks",
    "leak_surfaced_per_1k",
    "leak_latent_per_1k",
    "retention_findings",
    "poisoning_findings",
    "pii_findings",
    "relational_harm_per_1k",
    "mean_relational_risk",
    "drift_flag_rate",
    "high_or_worse",
    "findings_per_1k",
    "leak_free",
)


def finding_identities(run_dir: Path | str) -> list[dict[str, Any]]:
    """A run's findings grouped by stable identity, with counts and the worst severity."""
    from sandbox.replay.findings import group_findings, iter_findings

    return [
        {
            "monitor": g.monitor,
            "category": g.category,
            "owner": g.owner,
            "user": g.user,
            "item": g.item,
            "count": g.count,
            "worst": g.worst,
        }
        for g in group_findings(iter_findings(Path(run_dir)))
    ]


def resolve_baseline_path(name: str, suite_file: Path | str) -> Path:
    """A baseline NAME is ``baselines/NAME.json`` beside the suite; a path is a path."""
    if "/" in name or name.endswith(".json"):
        return Path(name)
    return Path(suite_file).parent / "baselines" / f"{name}.json"


def baseline_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """The committed form of a suite result: metrics and finding identities, no paths."""
    return {
        "format": BASELINE_FORMAT,
        "suite": result["suite"],
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "alpha": result["alpha"],
        "configs": result["configs"],
        "runs": [
            {k: v for k, v in r.items() if k != "run_dir"} for r in result.get("run_records", [])
        ],
    }


def load_side(path: Path | str) -> dict[str, Any]:
    """One side of a comparison as ``{"label", "alpha", "runs": [...]}``.

    Accepts a suite folder or its result.json, a baseline file, or a run folder.

    Raises:
        ValueError: when the path is none of these.
    """
    p = Path(path)
    if p.is_dir() and (p / "result.json").is_file():
        p = p / "result.json"
    if p.is_dir():
        metrics = run_metrics(p)
        if metrics is None:
            raise ValueError(f"{p}: not a finished run, suite folder or result file")
        header = json.loads((p / "run.json").read_text(encoding="utf-8"))
        run = {
            "scenario": str(header.get("scenario_name", "run")),
            "config": str(header.get("agent_name", "agent")),
            "seed": int(header.get("seed", 0)),
            "metrics": metrics,
            "findings": finding_identities(p),
        }
        return {"label": str(p), "alpha": 0.05, "runs": [run], "single_run": True}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {p}: {exc}") from None
    if not isinstance(data, dict) or "runs" not in data:
        raise ValueError(f"{p}: not a suite result or baseline")
    runs = data.get("run_records") if "run_records" in data else data["runs"]
    if not isinstance(runs, list):
        raise ValueError(f"{p}: not a suite result or baseline")
    return {"label": str(p), "alpha": float(data.get("alpha", 0.05)), "runs": runs}


def _records(runs: Sequence[dict[str, Any]], config: str) -> list[RunRecord]:
    return [
        RunRecord(r["scenario"], r["config"], int(r["seed"]), "", r.get("metrics"))
        for r in runs
        if r["config"] == config
    ]


def compare_sides(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    alpha: float | None = None,
    metrics: Sequence[str] | None = None,
    margins: dict[str, float] | None = None,
    power: float = 0.8,
) -> dict[str, Any]:
    """Compare side `b` (new) with side `a` (old), config by config.

    A config is matched by name; when each side has a single config (two runs), they
    are compared whatever their names. Per metric: the worsening of b over a with its
    interval and one-sided p (paired on scenario and seed; see ``relative_test``),
    Holm-adjusted over the metrics of a config. A regression is a worsening beyond the
    metric's margin (default 0) with adjusted p < alpha; with one run per side there are
    no statistics and any worsening beyond the margin counts.
    """
    alpha = alpha if alpha is not None else a.get("alpha", 0.05)
    margins = margins or {}
    names_a = list(dict.fromkeys(r["config"] for r in a["runs"]))
    names_b = list(dict.fromkeys(r["config"] for r in b["runs"]))
    if len(names_a) == 1 and len(names_b) == 1:
        pairs = [(names_a[0], names_b[0])]
    else:
        pairs = [(n, n) for n in names_b if n in names_a]
    out: dict[str, Any] = {"a": a["label"], "b": b["label"], "alpha": alpha, "configs": {}}
    regressions = 0
    for na, nb in pairs:
        ra, rb = _records(a["runs"], na), _records(b["runs"], nb)
        if len(pairs) == 1 and na != nb:  # two single runs: align on seed only
            ra = [RunRecord("-", nb, r.seed, "", r.metrics) for r in ra]
            rb = [RunRecord("-", nb, r.seed, "", r.metrics) for r in rb]
        have_a = {k for r in ra for k in (r.metrics or {})}
        have_b = {k for r in rb for k in (r.metrics or {})}
        wanted = list(metrics) if metrics else list(COMPARED_METRICS)
        rows = []
        for m in wanted:
            if m not in have_a or m not in have_b:
                continue
            res = relative_test(m, rb, ra, margins.get(m, 0.0), alpha, power)
            res.pop("status", None)
            rows.append({"metric": m, **res})
        p_values: list[float] = [
            float(r["p_value"]) if r.get("p_value") is not None else math.nan for r in rows
        ]
        adjusted = holm(p_values)
        single = len(ra) == 1 and len(rb) == 1
        for row, p_adj in zip(rows, adjusted, strict=True):
            row["p_holm"] = None if math.isnan(p_adj) else round(p_adj, 6)
            worse = row.get("worsening")
            beyond = worse is not None and worse > row["margin"]
            if single:
                row["regression"] = bool(beyond)
            else:
                row["regression"] = bool(
                    beyond and row["p_holm"] is not None and row["p_holm"] < alpha
                )
            row["direction"] = (
                "higher is better" if row["metric"] in HIGHER_IS_BETTER else ("lower is better")
            )
            regressions += row["regression"]
        out["configs"][nb] = {
            "compared_with": na,
            "n_a": len(ra),
            "n_b": len(rb),
            "metrics": rows,
            "findings": _finding_diff(a["runs"], b["runs"], na, nb, len(pairs) == 1),
        }
    out["regressions"] = regressions
    out["single_runs"] = bool(a.get("single_run") and b.get("single_run"))
    out["exit_code"] = 1 if regressions else 0
    return out


def _finding_diff(
    runs_a: Sequence[dict[str, Any]],
    runs_b: Sequence[dict[str, Any]],
    na: str,
    nb: str,
    loose: bool,
) -> dict[str, Any]:
    """New, fixed and persisting finding identities over the seeds both sides ran."""

    def keyed(runs: Sequence[dict[str, Any]], name: str) -> dict[Any, dict[str, Any]]:
        out: dict[Any, dict[str, Any]] = {}
        for r in runs:
            if r["config"] != name:
                continue
            where = (r["seed"],) if loose else (r["scenario"], r["seed"])
            for f in r.get("findings") or []:
                ident = (*where, f["monitor"], f["category"], f["owner"], f["user"], f["item"])
                out[ident] = {"scenario": r["scenario"], "seed": r["seed"], **f}
        return out

    def units(runs: Sequence[dict[str, Any]], name: str) -> set[tuple[Any, ...]]:
        return {
            (r["seed"],) if loose else (r["scenario"], r["seed"])
            for r in runs
            if r["config"] == name
        }

    ka, kb = keyed(runs_a, na), keyed(runs_b, nb)
    common = units(runs_a, na) & units(runs_b, nb)
    cut = 1 if loose else 2
    from sandbox.suite.metrics import SEVERITIES

    def order(f: dict[str, Any]) -> tuple[int, str]:  # worst first, then stable
        worst = f.get("worst")
        return (SEVERITIES.index(worst) if worst in SEVERITIES else len(SEVERITIES), str(f))

    new = sorted((kb[k] for k in set(kb) - set(ka) if k[:cut] in common), key=order)
    fixed = sorted((ka[k] for k in set(ka) - set(kb) if k[:cut] in common), key=order)
    return {"new": new, "fixed": fixed, "persisting": len(set(ka) & set(kb))}
