"""Scenario spec: cast, simulated schedule, session scripts, agent, monitors, seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CastMember", "Gap", "MonitorSpec", "Scenario", "Schedule", "SessionScript"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        return self


class Schedule(_Strict):
    """When users talk: sessions per user, gaps between them, turns per session."""

    sessions_per_user: int = Field(default=4, ge=1, le=10_000)
    turns_per_session: int = Field(default=3, ge=1, le=200)
    gap: Gap = Field(default_factory=Gap)
    start_jitter_days: float = Field(default=0.5, ge=0)
    minutes_per_turn: float = Field(default=2.0, gt=0)


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

    def resolve(self, base: Path, ref: str) -> Path:
        """Resolve a file reference relative to the scenario file's folder."""
        p = Path(ref)
        return p if p.is_absolute() else (base / p)
