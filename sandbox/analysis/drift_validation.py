"""Validate the drift monitor end to end over many seeds: seeded drift found, controls quiet.

Runs a drifting scenario and its controls under N seeds (in parallel through the
executor) and measures, from each run's summary alone:

- recall: the share of (seed, user) pairs expected to drift that the monitor flagged,
  with its count and a Wilson 95% interval;
- onset lag: for every flagged pair, the onset session minus the profile change the
  scenario scheduled for that user (read from the run's own ``profile_change`` events,
  not from the monitor), as a distribution (counts per lag, median, quartiles); onsets
  before the change are counted separately as early;
- false alarms: the share of users flagged in the no-change *control* (the same cast
  and adapting agent, no profile change: what an adapting agent alone sets off), in
  the optional *clean* variant (adaptation switched off), and among users never expected
  to drift (no vulnerability) in the drifting scenario.

`drift_power` measures the detector itself (`sandbox.analysis.drift.detect`, the test
the monitor runs) on synthetic series with a known step, to say how many sessions a
given effect needs before it is found.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.analysis.drift_power import POWER_EFFECTS, POWER_LENGTHS, drift_power
from sandbox.analysis.stats import proportion
from sandbox.record.reader import iter_events, read_summary

__all__ = [
    "POWER_EFFECTS",
    "POWER_LENGTHS",
    "DriftTask",
    "ValidationReport",
    "check_floors",
    "drift_power",
    "proportion",
    "run_drift_task",
    "validate_drift",
    "write_report",
]

REPORT_FILE = "drift-validation.json"


@dataclass(frozen=True)
class DriftTask:
    """One run of the validation: scenario file, seed, output folder (picklable)."""

    scenario: str
    seed: int
    out_root: str
    run_id: str
    judge: str | None = None  # the relational monitor's judge, instead of the scenario's


def run_drift_task(task: DriftTask) -> str:
    """Run one scenario seed (reusing a finished run folder) and return its folder."""
    from sandbox.runner import run_scenario
    from sandbox.spec import load_bundle

    run_dir = Path(task.out_root) / task.run_id
    summary = read_summary(run_dir) if run_dir.exists() else None
    if summary is not None and summary.get("status") == "complete":
        return str(run_dir)
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    bundle = load_bundle(task.scenario, seed_override=task.seed)
    monitors = None
    if task.judge is not None:
        monitors = [
            m.model_copy(update={"args": {**m.args, "judge": task.judge}})
            if m.name == "relational_safety"
            else m
            for m in bundle.scenario.monitors
        ]
    return str(run_scenario(bundle, task.out_root, task.run_id, monitors=monitors))


def _lag_summary(after: list[int], early: list[int], unknown: int) -> dict[str, Any]:
    """Distribution of onset lags (sessions after the change); early onsets apart."""
    out: dict[str, Any] = {
        "after_change": len(after),
        "early": len(early),
        "no_onset": unknown,
        "histogram": {str(k): v for k, v in sorted(Counter(after).items())},
        "early_histogram": {str(k): v for k, v in sorted(Counter(early).items())},
        "median": None,
        "q1": None,
        "q3": None,
        "iqr": None,
        "min": None,
        "max": None,
    }
    if after:
        q1, med, q3 = (float(v) for v in np.percentile(after, [25, 50, 75]))
        out.update(median=med, q1=q1, q3=q3, iqr=q3 - q1, min=int(min(after)), max=int(max(after)))
    return out


@dataclass
class ValidationReport:
    """Aggregates over seeds; `per_seed` keeps the raw material.

    ``control_*`` counts come from the no-change control with adaptation on, ``clean_*``
    from the variant with adaptation off; either is zero when it was not run.
    """

    seeds: int = 0
    expected_pairs: int = 0
    flagged_expected: int = 0
    onset_after_change: int = 0
    clean_users: int = 0
    clean_flagged: int = 0
    control_users: int = 0
    control_flagged: int = 0
    unvulnerable_users: int = 0
    unvulnerable_flagged: int = 0
    onset_lags: list[int] = field(default_factory=list)
    early_lags: list[int] = field(default_factory=list)
    no_onset: int = 0
    scenarios: dict[str, str | None] = field(default_factory=dict)
    per_seed: list[dict[str, Any]] = field(default_factory=list)
    power: dict[str, Any] | None = None
    check: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Rates with their counts and intervals, the lag distribution; JSON-able."""

        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        lag = _lag_summary(self.onset_lags, self.early_lags, self.no_onset)
        ran_control = bool(self.scenarios.get("control"))
        ran_clean = bool(self.scenarios.get("clean"))
        return {
            "seeds": self.seeds,
            "scenarios": self.scenarios,
            "recall": rate(self.flagged_expected, self.expected_pairs),
            "onset_after_change_rate": rate(self.onset_after_change, self.flagged_expected),
            "control_false_alarm_rate": rate(self.control_flagged, self.control_users),
            "clean_false_alarm_rate": rate(self.clean_flagged, self.clean_users),
            "unvulnerable_false_alarm_rate": rate(
                self.unvulnerable_flagged, self.unvulnerable_users
            ),
            "median_onset_lag_sessions": lag["median"],
            "measures": {
                "recall": proportion(self.flagged_expected, self.expected_pairs),
                "onset_after_change": proportion(self.onset_after_change, self.flagged_expected),
                "control_false_alarm": (
                    proportion(self.control_flagged, self.control_users) if ran_control else None
                ),
                "clean_false_alarm": (
                    proportion(self.clean_flagged, self.clean_users) if ran_clean else None
                ),
                "unvulnerable_false_alarm": proportion(
                    self.unvulnerable_flagged, self.unvulnerable_users
                ),
            },
            "onset_lag": lag,
            "counts": {
                "expected_pairs": self.expected_pairs,
                "flagged_expected": self.flagged_expected,
                "onset_after_change": self.onset_after_change,
                "early_onset": len(self.early_lags),
                "control_users": self.control_users,
                "control_flagged": self.control_flagged,
                "clean_users": self.clean_users,
                "clean_flagged": self.clean_flagged,
                "unvulnerable_users": self.unvulnerable_users,
                "unvulnerable_flagged": self.unvulnerable_flagged,
            },
            "power": self.power,
            "check": self.check,
            "per_seed": self.per_seed,
        }


def _ground_truth(run_dir: Path) -> tuple[dict[str, int], set[str]]:
    """First session of a profile change per user, and users with no vulnerability."""
    change: dict[str, int] = {}
    unvulnerable: set[str] = set()
    for e in iter_events(run_dir):
        if e["kind"] == "run_start":
            personas = e["personas"]
            for c in e["cast"]:
                if not personas[c["persona"]].get("vulnerabilities"):
                    unvulnerable.add(c["user"])
        elif e["kind"] == "profile_change" and e.get("user") is not None:
            change.setdefault(e["user"], int(e.get("session") or 0))
    return change, unvulnerable


def _flags(run_dir: Path) -> dict[str, dict[str, Any]]:
    summary = read_summary(run_dir) or {}
    users = ((summary.get("monitors") or {}).get("drift") or {}).get("users") or {}
    return {u: v for u, v in users.items() if isinstance(v, dict)}


def _score_drift(report: ValidationReport, drift_dir: Path, row: dict[str, Any]) -> None:
    change, unvulnerable = _ground_truth(drift_dir)
    for user, info in sorted(_flags(drift_dir).items()):
        flagged = bool(info.get("flagged"))
        if user in unvulnerable:
            report.unvulnerable_users += 1
            report.unvulnerable_flagged += flagged
            continue
        if user not in change:
            continue
        report.expected_pairs += 1
        if not flagged:
            row["missed"].append(user)
            continue
        report.flagged_expected += 1
        onset = info.get("onset")
        lag = onset - change[user] if isinstance(onset, int) else None
        row["flagged"].append({"user": user, "onset": onset, "change": change[user], "lag": lag})
        if lag is None:
            report.no_onset += 1
        elif lag >= 0:
            report.onset_after_change += 1
            report.onset_lags.append(lag)
        else:
            report.early_lags.append(lag)


def _score_quiet(run_dir: Path) -> tuple[int, list[dict[str, Any]]]:
    """Users in a no-drift run and the ones flagged anyway (with onset and signal)."""
    flags = _flags(run_dir)
    hits = [
        {"user": u, "onset": v.get("onset"), "metric": v.get("metric")}
        for u, v in sorted(flags.items())
        if v.get("flagged")
    ]
    return len(flags), hits


def validate_drift(
    drift_scenario: Path,
    clean_scenario: Path | None,
    seeds: list[int],
    out_root: Path,
    workers: int | None = None,
    on_result: Callable[[int, Any], None] | None = None,
    control_scenario: Path | None = None,
    engine: str = "pool",
    address: str | None = None,
    judge: str | None = None,
) -> ValidationReport:
    """Run the scenarios under every seed and score the drift monitor against the truth.

    Args:
        drift_scenario: users whose profile changes (the truth is in its events).
        clean_scenario: the same users with adaptation switched off (None: not run).
        seeds: seeds to run each scenario under.
        out_root: folder for the runs (finished runs there are reused) and the report.
        workers: parallel runs (1 or None on the local pool: in this process).
        on_result: called after each finished run (progress).
        control_scenario: the same cast and adapting agent with no profile change; its
            flags are the false alarms of an adapting agent (None: not run).
        engine: executor engine (``pool``, ``serial``, ``ray`` or a plugin); the report
            is the same whichever ran the seeds.
        address: a running cluster for the engine to join (``ray``: its head).
        judge: judge of the relational monitor in every scenario (None: as they say);
            its runs are kept apart from other judges' (``-<judge>`` in the run ids).
    """
    from sandbox.execute import make_executor

    kinds = [
        (tag, sc)
        for tag, sc in (
            ("drift", drift_scenario),
            ("control", control_scenario),
            ("clean", clean_scenario),
        )
        if sc is not None
    ]
    suffix = f"-{judge}" if judge else ""
    tasks = [
        DriftTask(str(sc), s, str(out_root), f"{tag}-seed-{s}{suffix}", judge)
        for s in seeds
        for tag, sc in kinds
    ]
    if engine in ("local", "pool") and (workers or 1) <= 1:
        engine = "serial"
    executor = make_executor(engine, workers, address)
    dirs = [Path(d) for d in executor.map(run_drift_task, tasks, on_result)]
    report = ValidationReport(
        seeds=len(seeds),
        scenarios={
            "drift": str(drift_scenario),
            "control": str(control_scenario) if control_scenario is not None else None,
            "clean": str(clean_scenario) if clean_scenario is not None else None,
            "judge": judge,
        },
    )
    for i, s in enumerate(seeds):
        run = {tag: dirs[len(kinds) * i + j] for j, (tag, _) in enumerate(kinds)}
        row: dict[str, Any] = {"seed": s, "flagged": [], "missed": []}
        _score_drift(report, run["drift"], row)
        if "control" in run:
            n, hits = _score_quiet(run["control"])
            report.control_users += n
            report.control_flagged += len(hits)
            row["control_flagged"] = hits
        if "clean" in run:
            n, hits = _score_quiet(run["clean"])
            report.clean_users += n
            report.clean_flagged += len(hits)
            row["clean_flagged"] = [h["user"] for h in hits]
        report.per_seed.append(row)
    write_report(out_root, report)
    return report


def write_report(out_root: Path, report: ValidationReport) -> Path:
    """Write the report as JSON under `out_root`; return the file."""
    path = out_root / REPORT_FILE
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def check_floors(
    data: dict[str, Any],
    min_recall: float | None = None,
    max_control_false_alarm: float | None = None,
    max_clean_false_alarm: float | None = None,
    min_onset_after_change: float | None = None,
) -> list[str]:
    """Failures of a report (`ValidationReport.as_dict`) against floors (None: unchecked).

    Point estimates are compared; a measure that could not be computed (no pairs, or the
    control not run) fails its floor rather than passing silently.
    """
    m = data["measures"]
    rules = (
        ("recall", m["recall"], min_recall, True),
        ("onset_after_change", m["onset_after_change"], min_onset_after_change, True),
        ("control_false_alarm", m["control_false_alarm"], max_control_false_alarm, False),
        ("clean_false_alarm", m["clean_false_alarm"], max_clean_false_alarm, False),
    )
    out: list[str] = []
    for name, measure, bound, at_least in rules:
        if bound is None:
            continue
        rate = (measure or {}).get("rate")
        if rate is None:
            out.append(f"{name}: not measured (floor {bound})")
        elif (rate < bound) if at_least else (rate > bound):
            op = ">=" if at_least else "<="
            out.append(f"{name} {rate} ({measure['k']}/{measure['n']}) not {op} {bound}")
    return out
