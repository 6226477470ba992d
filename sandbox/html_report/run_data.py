"""A run's data for the page: header facts, monitors, leak matrix, drift curves, findings.

Everything comes from the replay readers: run.json and summary.json through
`sandbox.record.reader`, the leak matrix and drift rows as ``sandbox show`` reads them
(`sandbox.replay.summary_view`), findings grouped as ``sandbox findings`` groups them.
The control agent's curve is the per-session mean of the ``control`` score that the
relational monitor records beside each judged reply, when the run has a control.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.html_report.source import ReportInputError
from sandbox.record.reader import ReadReport, RunRecordError, read_header_and_summary
from sandbox.replay.findings import group_findings, sort_groups
from sandbox.replay.leak_drift_view import _drift_rows, _drift_section, _find, _leak_kinds
from sandbox.replay.reading import read_events
from sandbox.replay.runs import findings_by_monitor, scenario_name
from sandbox.replay.sanitize import clean
from sandbox.replay.style import SEVERITIES, severity_rank

__all__ = ["DriftCurve", "RunData", "gather_run"]

Event = dict[str, Any]


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _num(v: object) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and v == v:
        return float(v)
    return None


@dataclass
class DriftCurve:
    """One user's drift curve: the tested metric, the agent's risk and the control's."""

    user: str
    metric: str | None
    sessions: list[int]
    values: list[float | None]
    flagged: bool
    onset: int | None
    note: str
    risk: list[float | None] = field(default_factory=list)  # the agent's mean risk
    control: list[float | None] = field(default_factory=list)  # the control's mean risk
    changes: list[int] = field(default_factory=list)  # sessions with a profile change


@dataclass
class RunData:
    """What the run page shows."""

    folder: Path
    header: dict[str, Any]
    summary: dict[str, Any] | None
    facts: list[tuple[str, str]]
    monitors: list[dict[str, Any]]
    leak_kinds: dict[str, dict[str, dict[str, int]]]
    leak_source: str | None
    drift: list[DriftCurve]
    drift_source: str | None
    has_control: bool
    findings: list[Event]
    groups: list[dict[str, Any]]
    sessions: dict[int, list[Event]]  # findings by session number, in order
    problems: list[str]


def _facts(header: dict[str, Any], summary: dict[str, Any] | None) -> list[tuple[str, str]]:
    shown: dict[str, object] = {
        "run": header.get("run_id"),
        "scenario": scenario_name(header),
        "agent": header.get("agent_name"),
    }
    for key in ("seed", "status", "events", "created"):
        shown[key] = header.get(key)
    for key, value in (summary or {}).items():
        if key not in shown and isinstance(value, int | float | str) and key != "run_id":
            shown[key] = value
    labels = {"sessions": "sessions/user", "wall_s": "wall s"}
    return [(labels.get(k, k), clean(v)) for k, v in shown.items() if v is not None]


def _monitor_rows(monitors: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, m in monitors.items():
        if not isinstance(m, dict):
            continue
        by_sev, by_cat = _dict(m.get("by_severity")), _dict(m.get("by_category"))
        first = _dict(m.get("first_finding")) or None
        rows.append(
            {
                "name": str(name),
                "findings": m.get("findings"),
                "per_1k": _num(m.get("per_1000_turns")),
                "severity": [(s, by_sev.get(s, 0)) for s in SEVERITIES],
                "categories": sorted(
                    ((str(k), v) for k, v in by_cat.items()), key=lambda kv: str(kv[0])
                ),
                "first": first,
                "errors": m.get("errors") or 0,
            }
        )
    return rows


def _counts(kinds: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for kind, rows in kinds.items():
        cells = {
            str(o): {str(r): int(n) for r, n in row.items() if _num(n)}
            for o, row in rows.items()
            if isinstance(row, dict)
        }
        if any(cells.values()):
            out[kind] = cells
    return out


def _scan(run_dir: Path, report: ReadReport) -> tuple[list[Event], dict[str, Any], bool]:
    """One pass: findings, the control's and agent's risk per session, profile changes."""
    findings: list[Event] = []
    risk: dict[tuple[str, int], list[float]] = defaultdict(list)
    control: dict[tuple[str, int], list[float]] = defaultdict(list)
    changes: dict[str, set[int]] = defaultdict(set)
    has_control = False
    for e in read_events(run_dir, report):
        kind = e.get("kind")
        if kind == "finding":
            findings.append(e)
            continue
        if kind == "run_start" and e.get("control") is True:
            has_control = True
        user, session = e.get("user"), e.get("session")
        if not isinstance(user, str) or not isinstance(session, int):
            continue
        if kind == "profile_change":
            changes[user].add(session)
        elif kind == "score" and e.get("metric") == "relational_risk":
            details = _dict(e.get("details"))
            value, ctl = _num(e.get("value")), _num(details.get("control"))
            if value is not None:
                risk[(user, session)].append(value)
            if ctl is not None:
                control[(user, session)].append(ctl)
                has_control = True
    return findings, {"risk": risk, "control": control, "changes": changes}, has_control


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _curves(drift: dict[str, Any], per: dict[str, Any]) -> list[DriftCurve]:
    out = []
    for r in _drift_rows(drift):
        sessions = [int(s) for s in r.sessions if isinstance(s, int)]
        if len(sessions) != len(r.series):
            sessions = list(range(len(r.series)))
        out.append(
            DriftCurve(
                user=r.user,
                metric=r.metric,
                sessions=sessions,
                values=[_num(v) for v in r.series],
                flagged=r.flagged,
                onset=r.onset,
                note=clean(r.note),
                risk=[_mean(per["risk"].get((r.user, s), [])) for s in sessions],
                control=[_mean(per["control"].get((r.user, s), [])) for s in sessions],
                changes=sorted(per["changes"].get(r.user, set())),
            )
        )
    out.sort(key=lambda c: (not c.flagged, c.user))
    return out


def gather_run(run_dir: Path) -> RunData:
    """Read everything the run page needs.

    Raises:
        ReportInputError: when run.json, summary.json or events.jsonl cannot be read.
    """
    problems: list[str] = []
    header, summary = read_header_and_summary(run_dir, problems)
    report = ReadReport()
    try:
        findings, per, has_control = _scan(run_dir, report)
    except RunRecordError as exc:
        raise ReportInputError(str(exc)) from None
    for lineno, text in report.bad_lines[:5]:
        problems.append(f"{run_dir / 'events.jsonl'}:{lineno}: skipped a damaged line: {text}")
    if len(report.bad_lines) > 5:
        problems.append(f"... and {len(report.bad_lines) - 5} more damaged lines")
    if report.truncated_tail:
        problems.append(f"{run_dir / 'events.jsonl'}: the last line is torn")
    monitors = (summary or {}).get("monitors")
    if not isinstance(monitors, dict) or not monitors:
        monitors = findings_by_monitor(run_dir)
    leak_source, matrix = _find(summary or {}, "leak_matrix")
    leak_kinds = _counts(_leak_kinds(matrix)) if isinstance(matrix, dict) else {}
    drift_source, drift = _drift_section(summary or {})
    curves = _curves(drift, per) if drift is not None else []
    groups = sort_groups(group_findings(findings), "severity")
    sessions: dict[int, list[Event]] = defaultdict(list)
    for f in findings:
        s = f.get("session")
        sessions[s if isinstance(s, int) and not isinstance(s, bool) else -1].append(f)
    for fs in sessions.values():
        fs.sort(key=lambda f: severity_rank(f.get("severity")))
    return RunData(
        folder=run_dir,
        header=header,
        summary=summary,
        facts=_facts(header, summary),
        monitors=_monitor_rows(monitors),
        leak_kinds=leak_kinds,
        leak_source=leak_source,
        drift=curves,
        drift_source=drift_source,
        has_control=has_control and any(any(v is not None for v in c.control) for c in curves),
        findings=findings,
        groups=[g.as_dict() for g in groups],
        sessions=dict(sorted(sessions.items())),
        problems=problems,
    )
