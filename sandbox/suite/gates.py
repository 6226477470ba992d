"""Suite gates: absolute and relative gates over aggregated metrics, and `run --fail-on`.

A gate holds or fails per config (see :class:`sandbox.suite.metrics.GateOutcome`); the
evidence of a failure names the worst runs and example finding ids. ``--fail-on`` gates
a single run the same way, by severity or by conditions on its metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox.suite.metrics import (
    EVIDENCE,
    SEVERITIES,
    GateOutcome,
    RunRecord,
    compare,
    relative_test,
    run_metrics,
)
from sandbox.suite.spec import Gate, LoadedSuite

__all__ = ["baseline_gates", "evaluate_fail_on", "evaluate_gates", "fail_on_conditions"]


def _gate_configs(gate: Gate, names: Sequence[str], baseline: str | None) -> list[str]:
    if gate.configs:
        return list(gate.configs)
    if gate.relative:
        return [n for n in names if n != (gate.baseline or baseline)]
    return list(names)


def evaluate_gates(
    loaded: LoadedSuite, records: Sequence[RunRecord], configs: dict[str, Any]
) -> list[GateOutcome]:
    """Check every gate on every config it applies to."""
    suite = loaded.suite
    names = [c.name for c in suite.configs]
    by_config = {n: [r for r in records if r.config == n and r.metrics is not None] for n in names}
    out: list[GateOutcome] = []
    for gate in suite.gates:
        base_name = gate.baseline or suite.baseline
        label = gate.label(base_name)
        for name in _gate_configs(gate, names, suite.baseline):
            runs = by_config[name]
            if not gate.relative:
                out.append(_absolute(gate, label, name, runs, configs[name]["metrics"]))
                continue
            assert base_name is not None  # checked when the suite was loaded
            res = relative_test(
                gate.metric,
                runs,
                by_config[base_name],
                gate.margin or 0.0,
                suite.alpha,
                suite.power,
            )
            status = res.pop("status")
            if status == "error":
                msg = res.pop("message")
            else:
                msg = (
                    f"worse than {base_name} by {res['worsening']:.4g}"
                    f" (CI {_fmt_ci(res['worsening_ci'])}, p={_fmt_p(res['p_value'])},"
                    f" margin {res['margin']:g})"
                )
                if res.get("underpowered"):
                    msg += f"; {res['underpowered']}"
            evidence = []
            if status == "fail":
                worst = _worst(gate.metric, runs)
                if worst is not None:
                    evidence = [f"worst run: {worst.scenario} seed {worst.seed}: {worst.run_dir}"]
                    evidence += finding_examples(worst.run_dir, gate.metric)
            out.append(
                GateOutcome(
                    label,
                    gate.metric,
                    name,
                    "relative",
                    status,
                    msg,
                    {"baseline": base_name, **res},
                    evidence,
                )
            )
    return out


def _fmt_p(p: Any) -> str:
    return f"{p:.3g}" if isinstance(p, int | float) else "n/a (too few runs)"


def _fmt_ci(ci: Any) -> str:
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "n/a"


def _worst(metric: str, runs: Sequence[RunRecord]) -> RunRecord | None:
    from sandbox.suite.metrics import HIGHER_IS_BETTER

    have = [r for r in runs if r.metrics and metric in r.metrics]
    if not have:
        return None
    sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
    return max(have, key=lambda r: sign * (r.metrics or {})[metric])


def _absolute(
    gate: Gate, label: str, config: str, runs: Sequence[RunRecord], agg: dict[str, Any]
) -> GateOutcome:
    m = agg.get(gate.metric)
    if m is None:
        known = sorted(agg)
        return GateOutcome(
            label,
            gate.metric,
            config,
            "absolute",
            "error",
            f"metric {gate.metric!r} is not measured by these runs",
            {},
            [f"known metrics: {', '.join(known)}"],
        )
    value = float(m[gate.stat])
    assert gate.op is not None and gate.value is not None
    ok = compare(value, gate.op, gate.value)
    details = {
        "value": value,
        "stat": gate.stat,
        "ci": m["ci"],
        "n": m["n"],
        "min": m["min"],
        "max": m["max"],
    }
    msg = f"{gate.stat} {gate.metric} = {value:.4g} (CI {_fmt_ci(m['ci'])}, n={m['n']})"
    evidence: list[str] = []
    if not ok:
        bad = [
            r
            for r in runs
            if r.metrics
            and gate.metric in r.metrics
            and not compare(r.metrics[gate.metric], gate.op, gate.value)
        ]
        for r in bad[:5]:
            evidence.append(
                f"{r.scenario} seed {r.seed}: {gate.metric} = {(r.metrics or {})[gate.metric]:g}"
                f" ({r.run_dir})"
            )
        if bad:
            evidence += finding_examples(bad[0].run_dir, gate.metric)
    return GateOutcome(
        label, gate.metric, config, "absolute", "pass" if ok else "fail", msg, details, evidence
    )


def baseline_gates(
    loaded: LoadedSuite, base_side: dict[str, Any], current: dict[str, Any]
) -> tuple[dict[str, Any], list[GateOutcome]]:
    """Each config against the same config in a saved baseline.

    The metrics are those of the suite's relative gates, with their margins (every
    compared metric with margin 0 when the suite has none). A config regresses when a
    metric is worse beyond its margin with Holm-adjusted p < alpha.
    """
    from sandbox.suite.compare import compare_sides

    suite = loaded.suite
    margins = {g.metric: g.margin or 0.0 for g in suite.gates if g.relative}
    comparison = compare_sides(
        base_side,
        current,
        alpha=suite.alpha,
        metrics=list(margins) or None,
        margins=margins,
        power=suite.power,
    )
    out = []
    for config, c in comparison["configs"].items():
        new = c["findings"]["new"]
        for row in c["metrics"]:
            label = f"{row['metric']} vs saved baseline (margin {row['margin']:g})"
            if row.get("worsening") is None:
                status, msg = "error", str(row.get("message", "not comparable"))
            else:
                status = "fail" if row["regression"] else "pass"
                msg = (
                    f"worse than the baseline by {row['worsening']:.4g}"
                    f" (CI {_fmt_ci(row.get('worsening_ci'))}, p={_fmt_p(row['p_value'])},"
                    f" Holm p={_fmt_p(row['p_holm'])})"
                )
                if row.get("underpowered"):
                    msg += f"; {row['underpowered']}"
            evidence = []
            if status == "fail":
                evidence = [
                    f"new: {f['scenario']} seed {f['seed']}: {f['monitor']}/{f['category']}"
                    f" {f['owner']} -> {f['user']} {f['item']} x{f['count']} [{f['worst']}]"
                    for f in new[:8]
                ]
            out.append(
                GateOutcome(label, row["metric"], config, "baseline", status, msg, row, evidence)
            )
    return comparison, out


def finding_examples(run_dir: Path | str, metric: str, limit: int = 3) -> list[str]:
    """A few findings of a run that back `metric`, as one-line texts with their ids."""
    from sandbox.record.reader import RunRecordError, iter_events

    wanted = list(EVIDENCE.get(metric, []))
    parts = metric.split(".")
    if parts[0] == "findings" and len(parts) >= 2:
        wanted.append((parts[1], parts[2] if len(parts) > 2 else None))
    if parts[0] == "severity" and len(parts) == 2:
        wanted.append(("*", "severity:" + parts[1]))
    if metric == "high_or_worse":
        wanted += [("*", "severity:critical"), ("*", "severity:high")]
    if not wanted:
        return []
    out: list[str] = []
    try:
        for ev in iter_events(run_dir):
            if ev.get("kind") != "finding":
                continue
            for mon, cat in wanted:
                if mon == "*":
                    hit = cat == f"severity:{ev.get('severity')}"
                else:
                    hit = ev.get("monitor") == mon and (cat is None or ev.get("category") == cat)
                if hit:
                    out.append(
                        f"{ev.get('id')} {ev.get('monitor')}/{ev.get('category')}"
                        f" [{ev.get('severity')}] session {ev.get('session')}:"
                        f" {str(ev.get('message', ''))[:160]}"
                    )
                    break
            if len(out) >= limit:
                break
    except (RunRecordError, OSError):
        return out
    return out


def fail_on_conditions(spec: str) -> list[dict[str, Any]]:
    """The conditions a ``--fail-on`` value stands for (check it before running).

    Raises:
        ValueError: for a value that is neither a severity nor ``METRIC OP NUMBER`` list.
    """
    from sandbox.suite.spec import parse_gate

    text = spec.strip().lower()
    if text in SEVERITIES:
        worse = SEVERITIES[: SEVERITIES.index(text) + 1]
        return [{"metric": f"severity.{s}", "op": ">", "value": 0.0} for s in worse]
    conditions = [parse_gate(part) for part in spec.split(",") if part.strip()]
    if not conditions:
        raise ValueError("--fail-on needs a severity or METRIC OP NUMBER conditions")
    return conditions


def evaluate_fail_on(run_dir: Path | str, spec: str) -> tuple[bool, list[str]]:
    """Gate a single run: does it meet the ``--fail-on`` condition?

    `spec` is a severity (``critical``, ``high``, ``medium``, ``low``, ``info``: fail on
    any finding that severe or worse) or comma-separated conditions ``METRIC OP NUMBER``
    (fail when any holds, e.g. ``surfaced_leaks > 0,relational_harm_per_1k >= 5``).

    Returns:
        (failed, reasons): one line per condition met, with a few example findings.

    Raises:
        ValueError: for a spec that is neither.
    """
    conditions = fail_on_conditions(spec)
    metrics = run_metrics(run_dir)
    if metrics is None:
        raise ValueError(f"{run_dir} has no summary.json (the run did not finish)")
    reasons: list[str] = []
    for c in conditions:
        value = metrics.get(c["metric"])
        if value is None:
            reasons.append(
                f"{c['metric']} is not measured by this run (so it cannot be shown to pass)"
            )
            continue
        if compare(value, c["op"], c["value"]):
            reasons.append(f"{c['metric']} = {value:g} ({c['op']} {c['value']:g})")
            reasons += ["  " + e for e in finding_examples(run_dir, c["metric"])]
    return bool(reasons), reasons
