"""Component checks: the registered names and arguments a spec refers to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sandbox.spec.agent import AgentConfig
from sandbox.spec.loader import SpecError, SpecIssue, _nearest_line, load_yaml_with_lines
from sandbox.spec.persona import Persona
from sandbox.spec.scenario import Scenario

if TYPE_CHECKING:
    from sandbox.registry import Registry
    from sandbox.spec.bundle import Bundle

__all__ = ["component_issues", "known_mitigations"]


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


def _named_issues(
    registry: Registry[Any],
    field: str,
    name: str,
    args: dict[str, Any],
    path: Path,
    lines: dict[Any, int],
) -> list[SpecIssue]:
    """A registered component named at `field` (``{name, args}``): its name, then its args."""
    if name not in registry.names():
        line = lines.get((field, "name")) or lines.get((field,))
        known = ", ".join(registry.names())
        return [
            SpecIssue(str(path), line, f"{field}.name", f"unknown {field} {name!r}; known: {known}")
        ]
    return _arg_issues(registry, name, args, path, lines, (field, "args"))


def _check_agent(agent: AgentConfig, ap: Path, issues: list[SpecIssue]) -> None:
    """Backend name and arguments, and mitigation names, of an agent config."""
    from sandbox.registry import backends

    alines = _file_lines(ap)
    issues.extend(
        _named_issues(backends, "backend", agent.backend.name, agent.backend.args, ap, alines)
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
    issues.extend(
        _named_issues(policies, "policy", persona.policy.name, persona.policy.args, pp, plines)
    )


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
