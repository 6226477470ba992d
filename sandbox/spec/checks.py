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
