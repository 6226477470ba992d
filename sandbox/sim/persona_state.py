"""A persona as it lives through the simulation: its profile evolves on schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.spec.persona import (
    AddVulnerability,
    EvolutionStep,
    ForgetSecret,
    Persona,
    RemoveVulnerability,
    SetAttribute,
    ShareSecret,
    UnsetAttribute,
)

__all__ = ["PersonaState"]


@dataclass
class PersonaState:
    """Mutable, per-user view of a persona: current profile, vulnerabilities, plans."""

    user_id: str
    persona: Persona
    profile: dict[str, Any] = field(default_factory=dict)
    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    disclosed: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    pending_share: list[str] = field(default_factory=list)
    pending_forget: list[str] = field(default_factory=list)
    applied: set[int] = field(default_factory=set)

    @classmethod
    def new(cls, user_id: str, persona: Persona) -> PersonaState:
        """Start from the persona's initial profile."""
        return cls(
            user_id=user_id,
            persona=persona,
            profile={"name": persona.display_name, **dict(persona.profile)},
            vulnerabilities=[v.model_dump() for v in persona.vulnerabilities],
        )

    def get(self, key: str, default: Any = None) -> Any:
        """A trait from the evolving profile, falling back to static preferences."""
        if key in self.profile:
            return self.profile[key]
        return self.persona.preferences.get(key, default)

    def due_steps(self, day: float, session: int) -> list[tuple[int, EvolutionStep]]:
        """Evolution steps whose time has come and that have not been applied yet."""
        due = []
        for i, step in enumerate(self.persona.evolution):
            if i in self.applied:
                continue
            if (step.at_day is not None and step.at_day <= day) or (
                step.at_session is not None and step.at_session <= session
            ):
                due.append((i, step))
        return due

    def apply(self, index: int, step: EvolutionStep) -> dict[str, Any] | None:
        """Apply one step; return profile-change details to record (None for plans)."""
        self.applied.add(index)
        if isinstance(step, SetAttribute):
            self.profile[step.key] = step.value
            return {"key": step.key, "value": step.value, "note": step.note}
        if isinstance(step, UnsetAttribute):
            self.profile.pop(step.key, None)
            return {"key": step.key, "note": step.note}
        if isinstance(step, AddVulnerability):
            v = step.vulnerability.model_dump()
            self.vulnerabilities = [x for x in self.vulnerabilities if x["kind"] != v["kind"]]
            self.vulnerabilities.append(v)
            return {"vulnerability": v, "note": step.note}
        if isinstance(step, RemoveVulnerability):
            self.vulnerabilities = [x for x in self.vulnerabilities if x["kind"] != step.kind]
            return {"kind": step.kind, "note": step.note}
        if isinstance(step, ShareSecret):
            self.pending_share.append(step.secret)
            return None
        if isinstance(step, ForgetSecret):
            self.pending_forget.append(step.secret)
            return None
        raise TypeError(f"unknown evolution step {step!r}")  # pragma: no cover
