"""What part of a run to show: users, sessions, monitors, findings only; which findings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.replay.style import severity_rank

__all__ = ["FindingCriteria", "ReplayFilter", "SessionRange", "parse_session_range"]

_RANGE = re.compile(r"^\s*(-?\d+)?\s*(\.\.)?\s*(-?\d+)?\s*$")


@dataclass(frozen=True)
class SessionRange:
    """Inclusive session numbers as recorded (0-based); None is an open end."""

    lo: int | None = None
    hi: int | None = None

    def __contains__(self, session: object) -> bool:
        if not isinstance(session, int) or isinstance(session, bool):
            return False
        return (self.lo is None or session >= self.lo) and (self.hi is None or session <= self.hi)

    def __str__(self) -> str:
        if self.lo is not None and self.lo == self.hi:
            return str(self.lo)
        return f"{'' if self.lo is None else self.lo}..{'' if self.hi is None else self.hi}"


def parse_session_range(text: str) -> SessionRange:
    """Parse ``3``, ``3..7``, ``3..`` or ``..7``.

    Raises:
        ValueError: on anything else, or when the range is empty (``7..3``).
    """
    m = _RANGE.match(text)
    if not m or (m.group(1) is None and m.group(3) is None):
        raise ValueError(f"not a session range: {text!r} (use 3, 3..7, 3.. or ..7)")
    lo = int(m.group(1)) if m.group(1) is not None else None
    hi = int(m.group(3)) if m.group(3) is not None else None
    if m.group(2) is None:
        if lo is None or hi is not None:
            raise ValueError(f"not a session range: {text!r} (use 3, 3..7, 3.. or ..7)")
        hi = lo
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"empty session range: {text!r}")
    return SessionRange(lo, hi)


@dataclass(frozen=True)
class FindingCriteria:
    """Which findings to keep; empty criteria keep all.

    ``monitors`` entries are ``name`` or ``name/category``; ``min_severity`` keeps that
    severity and worse (``high`` keeps critical and high).
    """

    monitors: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()
    min_severity: str | None = None

    @property
    def active(self) -> bool:
        """Whether any criterion is set."""
        return bool(self.monitors or self.categories or self.owners or self.min_severity)

    def ok(self, finding: dict[str, Any]) -> bool:
        """Whether `finding` passes every criterion."""
        mon = finding.get("monitor")
        cat = finding.get("category")
        if self.monitors and not (mon in self.monitors or f"{mon}/{cat}" in self.monitors):
            return False
        if self.categories and cat not in self.categories:
            return False
        if self.owners and finding.get("owner") not in self.owners:
            return False
        if self.min_severity is not None:
            return severity_rank(finding.get("severity")) <= severity_rank(self.min_severity)
        return True


@dataclass
class ReplayFilter:
    """Selection applied to event blocks; an empty filter shows everything."""

    users: set[str] = field(default_factory=set)
    sessions: SessionRange | None = None
    monitors: set[str] = field(default_factory=set)
    findings_only: bool = False
    criteria: FindingCriteria = field(default_factory=lambda: FindingCriteria())

    @property
    def narrows(self) -> bool:
        """Whether anything is filtered out at all."""
        return bool(self.users or self.sessions or self.findings_only)

    def finding_ok(self, finding: dict[str, Any]) -> bool:
        """Whether a finding passes `--monitor` and the severity, category, owner criteria.

        `--monitor` entries are ``name`` or ``name/category``.
        """
        mon = finding.get("monitor")
        if self.monitors and not (
            mon in self.monitors or f"{mon}/{finding.get('category')}" in self.monitors
        ):
            return False
        return self.criteria.ok(finding)

    def where_ok(self, user: object, session: object) -> bool:
        """Whether a (user, session) place passes the user and session filters."""
        if self.users and user not in self.users:
            return False
        return self.sessions is None or session in self.sessions
