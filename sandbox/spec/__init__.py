"""Specs: pydantic models for every YAML file the user writes, plus loading with file:line errors.

Pure data, no behaviour. Everything downstream takes a resolved :class:`Bundle`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sandbox.spec.agent import COMPONENTS, AgentConfig, BackendSpec, MemoryPolicy
from sandbox.spec.loader import SpecError, SpecIssue, load_model, load_yaml_with_lines
from sandbox.spec.persona import Persona, Secret, Vulnerability
from sandbox.spec.scenario import MonitorSpec, Scenario, Schedule, SessionScript

__all__ = [
    "COMPONENTS",
    "AgentConfig",
    "BackendSpec",
    "Bundle",
    "MemoryPolicy",
    "MonitorSpec",
    "Persona",
    "Scenario",
    "Schedule",
    "Secret",
    "SessionScript",
    "SpecError",
    "SpecIssue",
    "Vulnerability",
    "load_bundle",
    "spec_hash",
    "validate_file",
]

KINDS: dict[str, type[BaseModel]] = {
    "persona": Persona,
    "agent": AgentConfig,
    "scenario": Scenario,
}


def spec_hash(model: BaseModel) -> str:
    """A stable short hash of a spec's content, recorded with every run."""
    blob = json.dumps(model.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class CastEntry:
    """One simulated user: a persona and which copy of it this is."""

    user_id: str
    persona: Persona
    copy: int


@dataclass(frozen=True)
class Bundle:
    """A scenario with every file it references loaded and validated."""

    scenario: Scenario
    scenario_path: Path
    agent: AgentConfig
    agent_path: Path
    personas: dict[str, Persona]
    persona_paths: dict[str, Path]
    cast: list[CastEntry] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """Everything a run needs to be understood later, as JSON-able data."""
        return {
            "scenario": self.scenario.model_dump(mode="json"),
            "scenario_hash": spec_hash(self.scenario),
            "agent": self.agent.model_dump(mode="json"),
            "agent_hash": spec_hash(self.agent),
            "personas": {k: p.model_dump(mode="json") for k, p in self.personas.items()},
            "persona_hashes": {k: spec_hash(p) for k, p in self.personas.items()},
            "cast": [
                {"user": c.user_id, "persona": c.persona.id, "copy": c.copy} for c in self.cast
            ],
        }


def load_bundle(
    scenario_path: Path | str,
    agent_override: Path | str | None = None,
    seed_override: int | None = None,
) -> Bundle:
    """Load a scenario and everything it references, collecting all errors first.

    Raises:
        SpecError: naming file, line and field of every problem; nothing has been written.
    """
    sp = Path(scenario_path)
    scenario = load_model(sp, Scenario)
    if seed_override is not None:
        scenario = scenario.model_copy(update={"seed": seed_override})
    _, lines = load_yaml_with_lines(sp)
    base = sp.parent
    issues: list[SpecIssue] = []

    personas: dict[str, Persona] = {}
    persona_paths: dict[str, Path] = {}
    cast: list[CastEntry] = []
    for i, member in enumerate(scenario.cast):
        pp = scenario.resolve(base, member.persona)
        if not pp.is_file():
            issues.append(
                SpecIssue(
                    str(sp),
                    lines.get(("cast", i, "persona")),
                    f"cast.{i}.persona",
                    f"persona file not found: {pp}",
                )
            )
            continue
        try:
            persona = load_model(pp, Persona)
        except SpecError as err:
            issues.extend(err.issues)
            continue
        if persona.id in personas and persona_paths[persona.id] != pp:
            issues.append(
                SpecIssue(
                    str(sp),
                    lines.get(("cast", i, "persona")),
                    f"cast.{i}.persona",
                    f"persona id {persona.id!r} is used by two files",
                )
            )
            continue
        personas[persona.id] = persona
        persona_paths[persona.id] = pp
        for c in range(member.copies):
            uid = persona.id if member.copies == 1 else f"{persona.id}-{c + 1}"
            cast.append(CastEntry(uid, persona, c))

    if agent_override is not None:
        ap = Path(agent_override)
        agent_line, agent_field, agent_file = None, "--agent", "command line"
    else:
        ap = scenario.resolve(base, scenario.agent)
        agent_line, agent_field, agent_file = lines.get(("agent",)), "agent", str(sp)
    agent: AgentConfig | None = None
    if not ap.is_file():
        issues.append(SpecIssue(agent_file, agent_line, agent_field, f"agent file not found: {ap}"))
    else:
        try:
            agent = load_model(ap, AgentConfig)
        except SpecError as err:
            issues.extend(err.issues)

    uids = [c.user_id for c in cast]
    if len(set(uids)) != len(uids):
        issues.append(SpecIssue(str(sp), lines.get(("cast",)), "cast", "duplicate user ids"))
    for j, script in enumerate(scenario.scripts):
        for k, pid in enumerate(script.personas):
            if personas and pid not in personas:
                issues.append(
                    SpecIssue(
                        str(sp),
                        lines.get(("scripts", j, "personas", k)),
                        f"scripts.{j}.personas.{k}",
                        f"no persona {pid!r} in the cast",
                    )
                )
    _check_monitors(scenario, sp, lines, issues)
    _check_names(agent, ap, personas, persona_paths, issues)
    if issues or agent is None:
        raise SpecError(issues)
    return Bundle(scenario, sp, agent, ap, personas, persona_paths, cast)


def _check_monitors(
    scenario: Scenario, sp: Path, lines: dict[Any, int], issues: list[SpecIssue]
) -> None:
    from sandbox.registry import monitors  # late: registry imports monitor modules

    known = monitors.names()
    for i, m in enumerate(scenario.monitors):
        if m.name not in known:
            issues.append(
                SpecIssue(
                    str(sp),
                    lines.get(("monitors", i, "name")),
                    f"monitors.{i}.name",
                    f"unknown monitor {m.name!r}; known: {', '.join(sorted(known))}",
                )
            )


def _check_names(
    agent: AgentConfig | None,
    ap: Path,
    personas: dict[str, Persona],
    persona_paths: dict[str, Path],
    issues: list[SpecIssue],
) -> None:
    from sandbox.registry import backends, policies

    if agent is not None and agent.backend.name not in backends.names():
        _, alines = load_yaml_with_lines(ap)
        issues.append(
            SpecIssue(
                str(ap),
                alines.get(("backend", "name")),
                "backend.name",
                f"unknown backend {agent.backend.name!r}; known: {', '.join(backends.names())}",
            )
        )
    for pid, persona in personas.items():
        if persona.policy.name not in policies.names():
            _, plines = load_yaml_with_lines(persona_paths[pid])
            issues.append(
                SpecIssue(
                    str(persona_paths[pid]),
                    plines.get(("policy", "name")),
                    "policy.name",
                    f"unknown policy {persona.policy.name!r}; known: "
                    + ", ".join(policies.names()),
                )
            )


def detect_kind(path: Path, data: Any) -> str:
    """Guess a spec file's kind from its folder, then from its keys."""
    parts = set(path.parts)
    if "personas" in parts:
        return "persona"
    if "agents" in parts:
        return "agent"
    if isinstance(data, dict):
        if "cast" in data:
            return "scenario"
        if "display_name" in data:
            return "persona"
        if "backend" in data or "components" in data:
            return "agent"
    return "scenario"


def validate_file(path: Path | str) -> str:
    """Validate one spec file of any kind; return its kind. Scenarios load their references.

    Raises:
        SpecError: naming file, line and field.
    """
    p = Path(path)
    data, _ = load_yaml_with_lines(p)
    kind = detect_kind(p, data)
    if kind == "scenario":
        load_bundle(p)
    else:
        load_model(p, KINDS[kind])
    return kind
