"""Findings for triage: read, filter and group a run's findings.

A run can hold hundreds of findings that are the same problem seen again (one owner's
secret surfacing for one recipient, session after session). ``sandbox findings`` groups
them by identity (monitor, category, owner, recipient, item) with a count, the worst
severity, the first and last session and an example id to pass to
``sandbox replay --explain``.

The same criteria (`FindingCriteria`) filter ``sandbox replay``; `RunIndex` knows which
users, sessions, monitors and categories a run has, so a misspelt filter value is an
error that lists the known ones rather than an empty screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.record.reader import ReadReport
from sandbox.replay.filters import FindingCriteria, SessionRange
from sandbox.replay.reading import event_ok, scan_lines
from sandbox.replay.style import SEVERITIES, severity_rank

__all__ = [
    "SORT_KEYS",
    "FilterValueError",
    "FindingCriteria",
    "FindingGroup",
    "RunIndex",
    "group_findings",
    "item_of",
    "iter_findings",
    "scan_run",
    "sort_groups",
]

SORT_KEYS = ("severity", "count", "first", "last", "monitor", "owner", "user")
# evidence keys naming what a finding is about, most specific first
_ITEM_KEYS = ("fact", "secret", "marker", "entity", "metric", "vulnerability")


class FilterValueError(ValueError):
    """A filter value the run does not know; `option` names the command-line option."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def item_of(finding: dict[str, Any]) -> str:
    """What a finding is about: a fact, secret, marker, entity kind or metric."""
    ev = finding.get("evidence")
    if isinstance(ev, dict):
        for key in _ITEM_KEYS:
            value = ev.get(key)
            if isinstance(value, str) and value:
                return value if key == "fact" else f"{key}:{value}"
        kinds = ev.get("kinds")  # relational harm: the vulnerabilities a reply harmed
        if isinstance(kinds, list) and kinds:
            return "vuln:" + ",".join(str(k) for k in kinds)
        ids = ev.get("memory_ids")
        if isinstance(ids, list) and ids:
            return f"memory:{ids[0]}"
    return "-"


def iter_findings(
    run_dir: Path, report: ReadReport | None = None, *, missing_ok: bool = True
) -> Iterator[dict[str, Any]]:
    """The run's finding events, in order, parsing only lines that can be findings.

    A finding with missing or wrongly typed fields is skipped and noted in `report`. A
    run without events.jsonl has no findings (with `missing_ok`).

    Raises:
        RunRecordError: naming events.jsonl when it cannot be read (or is missing and
            not `missing_ok`).
    """
    for lineno, raw in scan_lines(run_dir, missing_ok=missing_ok):
        if b'"finding"' not in raw:
            continue
        e = event_ok(raw, lineno, "finding", report)
        if e is not None:
            yield e


@dataclass
class RunIndex:
    """What a run holds, for checking filter values: users, sessions, monitors, ..."""

    users: set[str] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)
    monitors: set[str] = field(default_factory=set)
    categories: dict[str, set[str]] = field(default_factory=dict)  # monitor -> categories
    owners: set[str] = field(default_factory=set)
    findings: list[dict[str, Any]] = field(default_factory=list)
    report: ReadReport = field(default_factory=ReadReport)  # findings skipped as corrupt

    @property
    def all_categories(self) -> set[str]:
        """Every category some finding has."""
        return {c for cats in self.categories.values() for c in cats}

    def check(
        self, crit: FindingCriteria, users: Iterable[str] = (), sessions: object = None
    ) -> None:
        """Raise `FilterValueError` for a value this run does not have.

        Args:
            crit: the finding criteria (monitors, categories, owners, severity).
            users: `--user` values.
            sessions: a `SessionRange` for `--session`, or None.
        """
        for u in users:
            if u not in self.users:
                raise FilterValueError(
                    "--user", f"no user {u!r} in this run ({_known(self.users)})"
                )
        known = self.sessions
        if isinstance(sessions, SessionRange) and known and not any(s in sessions for s in known):
            raise FilterValueError(
                "--session",
                f"no session {sessions} recorded (sessions {min(known)}..{max(known)})",
            )
        for m in crit.monitors:
            name, _, cat = m.partition("/")
            if name not in self.monitors:
                raise FilterValueError(
                    "--monitor", f"no monitor {name!r} in this run ({_known(self.monitors)})"
                )
            if cat and cat not in self.categories.get(name, set()):
                raise FilterValueError(
                    "--monitor",
                    f"monitor {name!r} has no findings of category {cat!r} "
                    f"({_known(self.categories.get(name, set()), 'categories with findings')})",
                )
        for c in crit.categories:
            if c not in self.all_categories:
                raise FilterValueError(
                    "--category",
                    f"no findings of category {c!r} in this run "
                    f"({_known(self.all_categories, 'categories with findings')})",
                )
        for o in crit.owners:
            if o not in self.owners | self.users:
                raise FilterValueError(
                    "--owner", f"no owner {o!r} in this run ({_known(self.owners | self.users)})"
                )


def _known(values: Iterable[str], what: str = "known") -> str:
    vals = sorted(values)
    if not vals:
        return f"{what}: none"
    shown = ", ".join(vals[:20]) + (f", … {len(vals) - 20} more" if len(vals) > 20 else "")
    return f"{what}: {shown}"


def scan_run(run_dir: Path) -> RunIndex:
    """One pass over events.jsonl that parses only run_start, session_start and findings.

    Findings with missing or wrongly typed fields are left out and noted in `report`.

    Raises:
        RunRecordError: naming events.jsonl when it is missing or cannot be read.
    """
    idx = RunIndex()
    for lineno, raw in scan_lines(run_dir):
        if b'"finding"' in raw:
            kind = "finding"
        elif b'"session_start"' in raw:
            kind = "session_start"
        elif b'"run_start"' in raw:
            kind = "run_start"
        else:
            continue
        # findings must be well-formed; run and session starts are only read defensively
        e = event_ok(raw, lineno, kind, idx.report, checked=kind == "finding")
        if e is None:
            continue
        if kind == "run_start":
            monitors = e.get("monitors")
            for m in monitors if isinstance(monitors, list) else []:
                name = m.get("name") if isinstance(m, dict) else m
                if isinstance(name, str):
                    idx.monitors.add(name)
            cast = e.get("cast")
            for c in cast if isinstance(cast, list) else []:
                if isinstance(c, dict) and isinstance(c.get("user"), str):
                    idx.users.add(c["user"])
        elif kind == "session_start":
            if isinstance(e.get("user"), str):
                idx.users.add(e["user"])
            if isinstance(e.get("session"), int):
                idx.sessions.add(e["session"])
        else:
            idx.findings.append(e)
            mon = str(e.get("monitor", "?"))
            idx.monitors.add(mon)
            idx.categories.setdefault(mon, set()).add(str(e.get("category", "?")))
            if isinstance(e.get("owner"), str):
                idx.owners.add(e["owner"])
    return idx


def parse_severity(value: str | None) -> str | None:
    """A severity name (case-insensitive), or raise `FilterValueError` listing them."""
    if value is None:
        return None
    v = value.strip().lower()
    aliases = {"crit": "critical", "med": "medium"}
    v = aliases.get(v, v)
    if v not in SEVERITIES:
        raise FilterValueError(
            "--severity", f"no severity {value!r} (known: {', '.join(SEVERITIES)})"
        )
    return v


@dataclass
class FindingGroup:
    """Findings with one identity: monitor, category, owner, recipient, item."""

    monitor: str
    category: str
    owner: str | None
    user: str | None
    item: str
    count: int = 0
    worst: str = "info"
    first_session: int | None = None
    last_session: int | None = None
    first_t_sim: float | None = None
    example: str | None = None
    example_message: str = ""
    ids: list[str] = field(default_factory=list)
    by_severity: dict[str, int] = field(default_factory=dict)

    def add(self, f: dict[str, Any]) -> None:
        """Count one more finding of this identity."""
        self.count += 1
        sev = str(f.get("severity", "medium"))
        self.by_severity[sev] = self.by_severity.get(sev, 0) + 1
        fid = f.get("id")
        if isinstance(fid, str):
            self.ids.append(fid)
        worse = self.example is None or severity_rank(sev) < severity_rank(self.worst)
        if worse:
            self.worst = sev
            self.example = fid if isinstance(fid, str) else self.example
            self.example_message = str(f.get("message", ""))
        s = f.get("session")
        if isinstance(s, int) and not isinstance(s, bool):
            self.first_session = s if self.first_session is None else min(self.first_session, s)
            self.last_session = s if self.last_session is None else max(self.last_session, s)
        t = f.get("t_sim")
        if isinstance(t, int | float) and not isinstance(t, bool):
            self.first_t_sim = t if self.first_t_sim is None else min(self.first_t_sim, t)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "monitor": self.monitor,
            "category": self.category,
            "owner": self.owner,
            "user": self.user,
            "item": self.item,
            "count": self.count,
            "worst_severity": self.worst,
            "by_severity": self.by_severity,
            "first_session": self.first_session,
            "last_session": self.last_session,
            "first_t_sim": self.first_t_sim,
            "example": self.example,
            "example_message": self.example_message,
            "ids": self.ids,
        }


def group_findings(
    findings: Iterable[dict[str, Any]],
    crit: FindingCriteria | None = None,
    users: Iterable[str] = (),
    sessions: SessionRange | None = None,
) -> list[FindingGroup]:
    """Group the findings that pass the filters, in order of first appearance."""
    crit = crit or FindingCriteria()
    want_users = set(users)
    groups: dict[tuple[Any, ...], FindingGroup] = {}
    for f in findings:
        if not crit.ok(f):
            continue
        if want_users and f.get("user") not in want_users:
            continue
        if sessions is not None and f.get("session") not in sessions:
            continue
        owner = f.get("owner") if isinstance(f.get("owner"), str) else None
        user = f.get("user") if isinstance(f.get("user"), str) else None
        key = (str(f.get("monitor", "?")), str(f.get("category", "?")), owner, user, item_of(f))
        g = groups.get(key)
        if g is None:
            g = groups[key] = FindingGroup(*key)
        g.add(f)
    return list(groups.values())


def sort_groups(groups: list[FindingGroup], key: str = "severity") -> list[FindingGroup]:
    """Order groups: ``severity`` (worst, then most frequent), ``count``, ``first``, ..."""
    big = 1 << 30

    def sess(v: int | None) -> int:
        return big if v is None else v

    keys: dict[str, Any] = {
        "severity": lambda g: (severity_rank(g.worst), -g.count, sess(g.first_session)),
        "count": lambda g: (-g.count, severity_rank(g.worst), sess(g.first_session)),
        "first": lambda g: (sess(g.first_session), g.first_t_sim or 0.0, severity_rank(g.worst)),
        "last": lambda g: (-sess(g.last_session), severity_rank(g.worst), -g.count),
        "monitor": lambda g: (g.monitor, g.category, severity_rank(g.worst), -g.count),
        "owner": lambda g: (g.owner or "", severity_rank(g.worst), -g.count),
        "user": lambda g: (g.user or "", severity_rank(g.worst), -g.count),
    }
    if key not in keys:
        raise FilterValueError("--sort", f"no sort key {key!r} (known: {', '.join(SORT_KEYS)})")
    return sorted(groups, key=keys[key])
