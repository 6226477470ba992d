"""A scenario with everything it references: loading, cross-file checks, the run snapshot."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from sandbox.spec.agent import AgentConfig
from sandbox.spec.checks import _check_monitors, _check_names
from sandbox.spec.kinds import wrong_kind
from sandbox.spec.loader import SpecError, SpecIssue, load_model, load_yaml_with_lines
from sandbox.spec.persona import Persona
from sandbox.spec.scenario import Scenario

__all__ = ["MAX_TURNS", "Bundle", "CastEntry", "load_bundle", "spec_hash"]

M = TypeVar("M", bound=BaseModel)

# The most turns one run may simulate (users x sessions x turns per session).
MAX_TURNS = 1_000_000


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
    not_a_scenario = wrong_kind(sp, "scenario", "a run")
    if not_a_scenario:
        raise SpecError([not_a_scenario])
    scenario = load_model(sp, Scenario)
    if seed_override is not None:
        scenario = scenario.model_copy(update={"seed": seed_override})
    _, lines = load_yaml_with_lines(sp)
    base = sp.parent
    issues: list[SpecIssue] = []

    personas: dict[str, Persona] = {}
    persona_paths: dict[str, Path] = {}
    cast: list[CastEntry] = []
    loaded: dict[Path, Persona | SpecError] = {}
    for i, member in enumerate(scenario.cast):
        pp = scenario.resolve(base, member.persona)
        missing = _not_a_file(pp, "persona")
        if missing:
            issues.append(
                SpecIssue(
                    str(sp),
                    lines.get(("cast", i, "persona")),
                    f"cast.{i}.persona",
                    missing,
                )
            )
            continue
        key = pp.resolve()
        if key not in loaded:  # a file listed many times is read once
            try:
                loaded[key] = _load_as(pp, Persona, "persona", "the cast")
            except SpecError as err:
                loaded[key] = err
                issues.extend(err.issues)
        persona_or_err = loaded[key]
        if isinstance(persona_or_err, SpecError):
            continue
        persona = persona_or_err
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
    missing = _not_a_file(ap, "agent")
    if missing:
        issues.append(SpecIssue(agent_file, agent_line, agent_field, missing))
    else:
        try:
            agent = _load_as(ap, AgentConfig, "agent", f"the {agent_field} setting")
        except SpecError as err:
            issues.extend(err.issues)

    total = len(cast) * scenario.schedule.sessions_per_user * scenario.schedule.turns_per_session
    if total > MAX_TURNS:
        issues.append(
            SpecIssue(
                str(sp),
                lines.get(("schedule",)) or lines.get(("cast",)) or 1,
                "schedule",
                f"{len(cast)} users x {scenario.schedule.sessions_per_user} sessions x"
                f" {scenario.schedule.turns_per_session} turns = {total} turns; a run may have"
                f" at most {MAX_TURNS} (split it into several scenarios or seeds)",
            )
        )
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


def _load_as(path: Path, model: type[M], kind: str, needed_by: str) -> M:
    """Load `path` as `model`, saying so plainly when it is another kind of spec."""
    other = wrong_kind(path, kind, needed_by)
    if other:
        raise SpecError([other])
    return load_model(path, model)


def _not_a_file(path: Path, what: str) -> str | None:
    """Why `path` cannot be read as a spec file, or None when it is a file."""
    try:
        if path.is_file():
            return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot read {what} file {str(path)[:200]!r}: {why}"
    return f"{what} file not found: {path}"
