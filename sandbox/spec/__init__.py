"""Specs: pydantic models for every YAML file the user writes, plus loading with file:line errors.

Pure data, no behaviour. Everything downstream takes a resolved :class:`Bundle`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from sandbox.spec.agent import COMPONENTS, AgentConfig, BackendSpec, MemoryPolicy
from sandbox.spec.loader import (
    SpecError,
    SpecIssue,
    _nearest_line,
    load_model,
    load_yaml_with_lines,
)
from sandbox.spec.persona import Persona, Secret, Vulnerability
from sandbox.spec.scenario import MonitorSpec, Scenario, Schedule, SessionScript

if TYPE_CHECKING:
    from sandbox.registry import Registry

__all__ = [
    "COMPONENTS",
    "MAX_TURNS",
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
    "component_issues",
    "known_mitigations",
    "load_bundle",
    "spec_hash",
    "validate_file",
]

# The most turns one run may simulate (users x sessions x turns per session).
MAX_TURNS = 1_000_000

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
                loaded[key] = load_model(pp, Persona)
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
            agent = load_model(ap, AgentConfig)
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


def _not_a_file(path: Path, what: str) -> str | None:
    """Why `path` cannot be read as a spec file, or None when it is a file."""
    try:
        if path.is_file():
            return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot read {what} file {str(path)[:200]!r}: {why}"
    return f"{what} file not found: {path}"


def _file_lines(path: Path) -> dict[Any, int]:
    try:
        return load_yaml_with_lines(path)[1]
    except SpecError:
        return {}


def _arg_issues(
    registry: Registry[Any],
    name: str,
    args: dict[str, Any],
    file: Path,
    lines: dict[Any, int],
    prefix: tuple[str | int, ...],
) -> list[SpecIssue]:
    """Problems with a component's arguments, at `prefix` (the path of its ``args``)."""
    try:
        registry.validate_args(name, args)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = (*prefix, *err["loc"])
            out.append(
                SpecIssue(
                    str(file),
                    _nearest_line(loc, lines),
                    ".".join(str(p) for p in loc),
                    str(err["msg"]),
                )
            )
        return out
    return []


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
            continue
        issues.extend(_arg_issues(monitors, m.name, m.args, sp, lines, ("monitors", i, "args")))


def known_mitigations() -> tuple[str, ...]:
    """Mitigation names an agent config may list (those the reference agent implements)."""
    from sandbox.agent.graph import MITIGATIONS

    return tuple(MITIGATIONS)


def _check_agent(agent: AgentConfig, ap: Path, issues: list[SpecIssue]) -> None:
    """Backend name and arguments, and mitigation names, of an agent config."""
    from sandbox.registry import backends

    alines = _file_lines(ap)
    name = agent.backend.name
    if name not in backends.names():
        issues.append(
            SpecIssue(
                str(ap),
                alines.get(("backend", "name")) or alines.get(("backend",)),
                "backend.name",
                f"unknown backend {name!r}; known: {', '.join(backends.names())}",
            )
        )
    else:
        issues.extend(
            _arg_issues(backends, name, agent.backend.args, ap, alines, ("backend", "args"))
        )
    known = known_mitigations()
    for k, mitigation in enumerate(agent.mitigations):
        if mitigation not in known:
            issues.append(
                SpecIssue(
                    str(ap),
                    _nearest_line(("mitigations", k), alines),
                    f"mitigations.{k}",
                    f"unknown mitigation {mitigation!r}; known: {', '.join(known)}",
                )
            )


def _check_policy(persona: Persona, pp: Path, issues: list[SpecIssue]) -> None:
    """Policy name and arguments of a persona."""
    from sandbox.registry import policies

    plines = _file_lines(pp)
    name = persona.policy.name
    if name not in policies.names():
        issues.append(
            SpecIssue(
                str(pp),
                plines.get(("policy", "name")) or plines.get(("policy",)),
                "policy.name",
                f"unknown policy {name!r}; known: {', '.join(policies.names())}",
            )
        )
        return
    issues.extend(_arg_issues(policies, name, persona.policy.args, pp, plines, ("policy", "args")))


def _check_names(
    agent: AgentConfig | None,
    ap: Path,
    personas: dict[str, Persona],
    persona_paths: dict[str, Path],
    issues: list[SpecIssue],
) -> None:
    if agent is not None:
        _check_agent(agent, ap, issues)
    for pid, persona in personas.items():
        _check_policy(persona, persona_paths[pid], issues)


def component_issues(bundle: Bundle, *, monitors: bool = True) -> list[SpecIssue]:
    """Problems with the components a bundle names: names, arguments, mitigations.

    `load_bundle` already refuses such bundles; this re-checks one built or changed in
    code (the runner calls it before writing anything). With `monitors` False the
    scenario's monitor list is not checked (the caller brings its own monitors).
    """
    issues: list[SpecIssue] = []
    if monitors:
        sp = bundle.scenario_path
        _check_monitors(bundle.scenario, sp, _file_lines(sp), issues)
    _check_names(bundle.agent, bundle.agent_path, bundle.personas, bundle.persona_paths, issues)
    return issues


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

    Component names and arguments are checked too: a persona's policy, an agent's
    backend and mitigations, a scenario's monitors (and everything it references).

    Raises:
        SpecError: naming file, line and field.
    """
    p = Path(path)
    data, _ = load_yaml_with_lines(p)
    kind = detect_kind(p, data)
    if kind == "scenario":
        load_bundle(p)
        return kind
    model = load_model(p, KINDS[kind])
    issues: list[SpecIssue] = []
    if isinstance(model, Persona):
        _check_policy(model, p, issues)
    elif isinstance(model, AgentConfig):
        _check_agent(model, p, issues)
    if issues:
        raise SpecError(issues)
    return kind
