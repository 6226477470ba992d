"""Shared look of the replay: severity colours, per-user colours, simulated clock text."""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta
from typing import Any

from rich.text import Text

from sandbox.replay.sanitize import clean

__all__ = [
    "SEVERITIES",
    "SimClock",
    "as_int",
    "lead",
    "severity_badge",
    "severity_rank",
    "severity_style",
    "user_style",
]

SEVERITIES = ("critical", "high", "medium", "low", "info")
_SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "blue",
}
_EVIDENCE_STYLE = {
    "critical": "bold reverse red",
    "high": "bold reverse red",
    "medium": "bold reverse yellow",
    "low": "bold reverse cyan",
    "info": "bold reverse blue",
}
_USER_COLOURS = ("cyan", "magenta", "bright_blue", "green", "bright_magenta", "bright_cyan")


def lead(text: str, style: str = "") -> Text:
    """A Text starting with `text` in `style`, whose later appends do not inherit it.

    (``Text(s, style)`` makes `style` the base of the whole Text, so everything appended
    later would be dimmed or coloured too.)
    """
    out = Text()
    out.append(text, style)
    return out


def severity_style(severity: object, *, evidence: bool = False) -> str:
    """Style for a severity; unknown severities look like medium."""
    table = _EVIDENCE_STYLE if evidence else _SEVERITY_STYLE
    return table.get(str(severity), table["medium"])


def severity_rank(severity: object) -> int:
    """0 for critical .. 4 for info; unknown sorts with medium."""
    s = str(severity)
    return SEVERITIES.index(s) if s in SEVERITIES else 2


def severity_badge(severity: object) -> Text:
    """A short upper-case severity label in its colour."""
    return Text(clean(severity).upper()[:8], style=severity_style(severity))


def user_style(user: object) -> str:
    """A stable colour per user, so interleaved conversations stay apart."""
    h = zlib.crc32(str(user).encode("utf-8", "replace"))
    return f"bold {_USER_COLOURS[h % len(_USER_COLOURS)]}"


def as_int(value: Any) -> int | None:
    """`value` as an int when it is one (JSON may hold floats or junk)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _parse_when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        try:
            d = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return datetime(d.year, d.month, d.day)


class SimClock:
    """Turns simulated days (`t_sim`) into dates, given the run's start date."""

    def __init__(self, start_date: object = None):
        self.start = _parse_when(start_date)

    def at(self, t_sim: object) -> datetime | None:
        """The simulated moment, or None when the start date or t_sim is unknown."""
        if self.start is None or not isinstance(t_sim, int | float) or isinstance(t_sim, bool):
            return None
        try:
            return self.start + timedelta(days=float(t_sim))
        except (OverflowError, ValueError):
            return None

    def time(self, t_sim: object) -> str:
        """HH:MM of a simulated moment (``d12.40`` when no start date is known)."""
        when = self.at(t_sim)
        if when is not None:
            return when.strftime("%H:%M")
        if isinstance(t_sim, int | float) and not isinstance(t_sim, bool):
            return f"d{t_sim:.2f}"
        return ""

    def short(self, t_sim: object) -> str:
        """``01-06 07:13``: month, day and time, for tables."""
        when = self.at(t_sim)
        return when.strftime("%m-%d %H:%M") if when is not None else self.time(t_sim)

    def stamp(self, t_sim: object, iso: object = None) -> str:
        """Weekday, date and time, preferring a recorded ISO date (session_start.date)."""
        when = self.at(t_sim)
        recorded = _parse_when(iso)
        if recorded is not None and (when is None or recorded.date() != when.date()):
            has_time = isinstance(iso, str) and len(iso) > 10
            when = (
                recorded
                if has_time or when is None
                else recorded.replace(hour=when.hour, minute=when.minute)
            )
        if when is not None:
            return when.strftime("%a %Y-%m-%d %H:%M")
        return self.time(t_sim)
