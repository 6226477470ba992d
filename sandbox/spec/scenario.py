"""Scenario spec: cast, simulated schedule, session scripts, agent, monitors, seed."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_CAST",
    "MAX_DAYS",
    "CastMember",
    "Gap",
    "MonitorSpec",
    "Scenario",
    "Schedule",
    "SessionScript",
    "check_template",
]

# Most entries a cast may list (each may still have up to 1000 copies).
MAX_CAST = 1000
# Longest a gap, a start jitter or a whole schedule may span, in simulated days.
MAX_DAYS = 36_500.0
# An exponential gap is drawn without bound; this many means is treated as its reach.
_EXP_REACH = 40.0
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_template(text: str) -> None:
    """Refuse a script line that the simulator could not fill with profile values.

    Only ``{key}`` placeholders (a profile key, or ``name``) and ``{{``/``}}`` are allowed:
    no positional ``{0}``, attribute or index access, conversions or format specs.

    Raises:
        ValueError: saying what is wrong with the template.
    """
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{text[:60]!r}: {exc} (write {{{{ or }}}} for a literal brace)") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not _FIELD_NAME.match(name) or spec or conversion:
            raise ValueError(
                f"{text[:60]!r}: only {{key}} placeholders are allowed (a profile key or name),"
                " with no index, attribute, conversion or format"
            )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CastMember(_Strict):
    """A persona file (relative to the scenario file) and how many copies to run."""

    persona: str
    copies: int = Field(default=1, ge=1, le=1000)


class Gap(_Strict):
    """Distribution of simulated days between a user's sessions."""

    dist: Literal["fixed", "uniform", "exponential"] = "fixed"
    days: float = Field(default=1.0, gt=0, description="fixed value, or mean (exponential)")
    low: float = Field(default=0.5, ge=0)
    high: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> Gap:
        if self.dist == "uniform" and self.low >= self.high:
            raise ValueError("uniform gap needs low < high")
        if max(self.days, self.low, self.high) > MAX_DAYS:
            raise ValueError(f"gap days must be at most {MAX_DAYS:g}")
        return self

    def reach(self) -> float:
        """The longest gap this distribution is expected to draw, in days."""
        if self.dist == "fixed":
            return self.days
        if self.dist == "uniform":
            return self.high
        return self.days * _EXP_REACH


class Schedule(_Strict):
    """When users talk: sessions per user, gaps between them, turns per session."""

    sessions_per_user: int = Field(default=4, ge=1, le=10_000)
    turns_per_session: int = Field(default=3, ge=1, le=200)
    gap: Gap = Field(default_factory=Gap)
    start_jitter_days: float = Field(default=0.5, ge=0)
    minutes_per_turn: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _span(self) -> Schedule:
        if self.start_jitter_days > MAX_DAYS:
            raise ValueError(f"start_jitter_days must be at most {MAX_DAYS:g}")
        if self.minutes_per_turn > 24 * 60:
            raise ValueError("minutes_per_turn must be at most 1440 (one day)")
        if self.span_days() > MAX_DAYS:
            raise ValueError(
                f"the schedule spans about {self.span_days():.3g} simulated days; at most"
                f" {MAX_DAYS:g} (fewer sessions or shorter gaps)"
            )
        return self

    def span_days(self) -> float:
        """About how many simulated days one user's schedule may take, at most."""
        per_session = self.turns_per_session * self.minutes_per_turn / (24 * 60)
        return self.start_jitter_days + self.sessions_per_user * (per_session + self.gap.reach())


class SessionScript(_Strict):
    """What users say in matching sessions: topics, scripted lines and probes.

    A script applies to sessions `sessions` (all when empty) and to users whose persona
    id is in `personas` (all when empty). Lines may use `{name}` and profile keys.
    """

    sessions: list[int] = Field(default_factory=list)
    personas: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    lines: list[str] = Field(default_factory=list)
    probes: list[str] = Field(default_factory=list)

    @field_validator("topics", "lines")
    @classmethod
    def _templates(cls, v: list[str]) -> list[str]:
        for text in v:
            check_template(text)
        return v


class MonitorSpec(_Strict):
    """A monitor to run during the simulation, by registered name."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    """One experiment: who, when, against which agent, watched by which monitors."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    start_date: str = Field(default="2026-01-05", pattern=r"^\d{4}-\d{2}-\d{2}$")
    cast: list[CastMember] = Field(min_length=1)
    schedule: Schedule = Field(default_factory=Schedule)
    scripts: list[SessionScript] = Field(default_factory=list)
    agent: str = Field(description="Agent config file, relative to the scenario file.")
    monitors: list[MonitorSpec] = Field(default_factory=list)
    control: bool = Field(
        default=False, description="Also answer every turn with a non-personalized control."
    )
    on_agent_error: Literal["continue", "stop"] = "continue"

    @field_validator("start_date")
    @classmethod
    def _real_date(cls, v: str) -> str:
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a real date (YYYY-MM-DD)") from None
        return v

    @field_validator("cast")
    @classmethod
    def _cast_size(cls, v: list[CastMember]) -> list[CastMember]:
        if len(v) > MAX_CAST:
            raise ValueError(f"{len(v)} cast entries; at most {MAX_CAST} (use copies)")
        return v

    @model_validator(mode="after")
    def _ends_before_year_9999(self) -> Scenario:
        start = dt.date.fromisoformat(self.start_date)
        room = (dt.date(9999, 1, 1) - start).days
        if self.schedule.span_days() >= room:
            raise ValueError("the schedule runs past the year 9999; start earlier or shorten it")
        return self

    def resolve(self, base: Path, ref: str) -> Path:
        """Resolve a file reference relative to the scenario file's folder."""
        p = Path(ref)
        return p if p.is_absolute() else (base / p)
