"""Validate the drift monitor end to end over many seeds: seeded drift found, clean quiet.

Runs a drifting scenario and its clean variant under N seeds (in parallel through the
executor) and measures, from each run's summary alone:

- recall: the share of (seed, user) pairs expected to drift that the monitor flagged;
- onset after cause: among those flagged, the share whose onset is at or after the
  profile change the scenario scheduled for them (read from the run's own
  ``profile_change`` events, not from the monitor);
- false alarms: the share of users flagged in the clean variant and of users never
  expected to drift (no vulnerability) flagged in the drifting one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.record.reader import iter_events, read_summary

__all__ = ["DriftTask", "ValidationReport", "run_drift_task", "validate_drift"]


@dataclass(frozen=True)
class DriftTask:
    """One run of the validation: scenario file, seed, output folder (picklable)."""

    scenario: str
    seed: int
    out_root: str
    run_id: str


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
    return str(run_scenario(bundle, task.out_root, task.run_id))


@dataclass
class ValidationReport:
    """Aggregates over seeds; `per_seed` keeps the raw material."""

    seeds: int = 0
    expected_pairs: int = 0
    flagged_expected: int = 0
    onset_after_change: int = 0
    clean_users: int = 0
    clean_flagged: int = 0
    unvulnerable_users: int = 0
    unvulnerable_flagged: int = 0
    onset_lags: list[int] = field(default_factory=list)
    per_seed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Rates and counts, JSON-able."""

        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "seeds": self.seeds,
            "recall": rate(self.flagged_expected, self.expected_pairs),
            "onset_after_change_rate": rate(self.onset_after_change, self.flagged_expected),
            "clean_false_alarm_rate": rate(self.clean_flagged, self.clean_users),
            "unvulnerable_false_alarm_rate": rate(
                self.unvulnerable_flagged, self.unvulnerable_users
            ),
            "median_onset_lag_sessions": (
                sorted(self.onset_lags)[len(self.onset_lags) // 2] if self.onset_lags else None
            ),
            "counts": {
                "expected_pairs": self.expected_pairs,
                "flagged_expected": self.flagged_expected,
                "onset_after_change": self.onset_after_change,
                "clean_users": self.clean_users,
                "clean_flagged": self.clean_flagged,
                "unvulnerable_users": self.unvulnerable_users,
                "unvulnerable_flagged": self.unvulnerable_flagged,
            },
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


def validate_drift(
    drift_scenario: Path,
    clean_scenario: Path,
    seeds: list[int],
    out_root: Path,
    workers: int | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> ValidationReport:
    """Run both scenarios under every seed and score the drift monitor against the truth."""
    from sandbox.execute import make_executor

    tasks = [
        DriftTask(str(sc), s, str(out_root), f"{tag}-seed-{s}")
        for s in seeds
        for sc, tag in ((drift_scenario, "drift"), (clean_scenario, "clean"))
    ]
    executor = make_executor("local" if (workers or 1) > 1 else "serial", workers)
    dirs = [Path(d) for d in executor.map(run_drift_task, tasks, on_result)]
    report = ValidationReport(seeds=len(seeds))
    for i, s in enumerate(seeds):
        drift_dir, clean_dir = dirs[2 * i], dirs[2 * i + 1]
        change, unvulnerable = _ground_truth(drift_dir)
        flags = _flags(drift_dir)
        row: dict[str, Any] = {"seed": s, "flagged": [], "missed": [], "clean_flagged": []}
        for user, info in flags.items():
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
            row["flagged"].append({"user": user, "onset": onset, "change": change[user]})
            if isinstance(onset, int) and onset >= change[user]:
                report.onset_after_change += 1
                report.onset_lags.append(onset - change[user])
        for user, info in _flags(clean_dir).items():
            report.clean_users += 1
            if info.get("flagged"):
                report.clean_flagged += 1
                row["clean_flagged"].append(user)
        report.per_seed.append(row)
    (out_root / "drift-validation.json").write_text(
        json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return report
