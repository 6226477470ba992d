"""Find runs and describe them cheaply (for ``sandbox list``).

Counts come from run.json (written at close) when present; otherwise from one fast pass
over events.jsonl that parses only session_start and finding lines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.record.reader import RunRecordError, list_runs, read_header
from sandbox.replay.reading import event_ok, scan_lines

__all__ = [
    "RunInfo",
    "RunNotFoundError",
    "findings_by_monitor",
    "resolve_run",
    "run_info",
    "scan_counts",
    "scenario_name",
]


class RunNotFoundError(LookupError):
    """RUN names no run folder; the message lists what is there."""


def _is_run(p: Path) -> bool:
    return (p / "run.json").is_file() or (p / "events.jsonl").is_file()


def resolve_run(run: str, runs_dir: Path) -> Path:
    """A run folder from a path, an id (folder path) under `runs_dir`, or a unique suffix.

    Raises:
        RunNotFoundError: with the closest candidates when nothing or several match.
    """
    for cand in (Path(run), runs_dir / run):
        if cand.is_file() and cand.name in ("events.jsonl", "run.json"):
            cand = cand.parent
        if cand.is_dir() and _is_run(cand):
            return cand
    runs = list_runs(runs_dir)
    matches = [p for p in runs if p.name == run or str(p).endswith("/" + run.strip("/"))]
    if not matches:
        for p in runs:
            try:
                if read_header(p).get("run_id") == run:
                    matches.append(p)
            except (OSError, ValueError):
                continue
    if not matches:
        matches = [p for p in runs if p.name.startswith(run)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(_rel(p, runs_dir) for p in matches[:8])
        raise RunNotFoundError(f"{run!r} matches several runs: {names}")
    hint = ", ".join(_rel(p, runs_dir) for p in runs[-5:]) or "none"
    raise RunNotFoundError(f"no run {run!r} under {runs_dir} (latest: {hint})")


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def scan_counts(run_dir: Path) -> tuple[set[str], int, int, bool]:
    """(users, sessions, findings, torn tail) from one pass that skips most lines.

    A missing or unreadable events.jsonl counts nothing (the caller shows the damage).
    """
    users: set[str] = set()
    sessions = findings = 0
    torn = False
    try:
        for lineno, raw in scan_lines(run_dir, missing_ok=True):
            torn = not raw.endswith(b"\n")
            if b'"session_start"' in raw:
                e = event_ok(raw, lineno, "session_start", checked=False)
                if e is not None:
                    sessions += 1
                    if isinstance(e.get("user"), str):
                        users.add(e["user"])
            elif b'"finding"' in raw and event_ok(raw, lineno, "finding") is not None:
                findings += 1
    except RunRecordError:
        return users, sessions, findings, torn
    return users, sessions, findings, torn


def findings_by_monitor(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-monitor finding counts from the events (for runs with no summary.json yet).

    Empty when events.jsonl is missing or unreadable.
    """
    out: dict[str, dict[str, Any]] = {}
    try:
        lines = _finding_lines(run_dir)
    except RunRecordError:
        return out
    for e in lines:
        m = out.setdefault(
            str(e.get("monitor", "?")),
            {"findings": 0, "by_severity": {}, "by_category": {}, "first_finding": None},
        )
        m["findings"] += 1
        for key, field_name in (("by_severity", "severity"), ("by_category", "category")):
            v = str(e.get(field_name, "?"))
            m[key][v] = m[key].get(v, 0) + 1
        if m["first_finding"] is None:
            m["first_finding"] = {k: e.get(k) for k in ("t_sim", "user", "session")}
    return out


def _finding_lines(run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for lineno, raw in scan_lines(run_dir, missing_ok=True):
        if b'"finding"' in raw:
            e = event_ok(raw, lineno, "finding")
            if e is not None:
                out.append(e)
    return out


@dataclass
class RunInfo:
    """One row of ``sandbox list``."""

    id: str
    path: str
    run_id: str | None
    scenario: str | None
    status: str
    users: int | None
    sessions: int | None
    findings: int | None
    events: int | None
    created: str | None
    torn: bool = False
    problem: str | None = None  # why the run shows as damaged: the unreadable file and why

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return asdict(self)


def scenario_name(header: dict[str, Any]) -> str | None:
    """The scenario's name, wherever this header version keeps it."""
    raw = header.get("spec")
    spec: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for value in (header.get("scenario"), header.get("scenario_name"), spec.get("scenario")):
        if isinstance(value, dict):
            value = value.get("name")
        if value is not None:
            return str(value)
    return None


def run_info(run_dir: Path, root: Path) -> RunInfo:
    """Describe one run without reading more of it than needed.

    A run whose run.json is missing or unreadable has status ``damaged`` and says why
    in `problem`; its counts come from the events.
    """
    problem = None
    try:
        header = read_header(run_dir)
    except (OSError, ValueError) as exc:
        header = {"status": "damaged"}
        problem = str(exc)
    events = run_dir / "events.jsonl"
    if not events.is_file():
        lost = f"{events}: {'is a folder' if events.is_dir() else 'missing'}"
        problem = f"{problem}; {lost}" if problem else lost
    counts = header.get("event_counts") if isinstance(header.get("event_counts"), dict) else None
    users_field = header.get("users")
    users: int | None = None
    if isinstance(users_field, list):
        users = len(users_field)
    elif isinstance(users_field, int):
        users = users_field
    sessions = counts.get("session_start", 0) if counts else None
    findings = counts.get("finding", 0) if counts else None
    torn = False
    if users is None or counts is None:
        seen, n_sessions, n_findings, torn = scan_counts(run_dir)
        users = len(seen) if users is None else users
        sessions, findings = n_sessions, n_findings
    created = header.get("created") or header.get("created_at")
    if created is None:
        for name in ("run.json", "events.jsonl"):
            try:
                mtime = (run_dir / name).stat().st_mtime
            except OSError:
                continue
            created = datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
            break
    return RunInfo(
        id=_rel(run_dir, root),
        path=str(run_dir),
        run_id=str(header["run_id"]) if header.get("run_id") is not None else None,
        scenario=scenario_name(header),
        status=str(header.get("status", "unknown")),
        users=users,
        sessions=sessions,
        findings=findings,
        events=header.get("events") if isinstance(header.get("events"), int) else None,
        created=str(created) if created is not None else None,
        torn=torn,
        problem=problem,
    )
