"""Specs: pydantic models for every YAML file the user writes, plus loading with file:line errors.

Pure data, no behaviour. Everything downstream takes a resolved :class:`Bundle`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.spec.agent import COMPONENTS, AgentConfig, BackendSpec, MemoryPolicy
from sandbox.spec.bundle import MAX_TURNS, Bundle, CastEntry, load_bundle, spec_hash
from sandbox.spec.checks import (
    _check_agent,
    _check_policy,
    component_issues,
    known_mitigations,
)
from sandbox.spec.kinds import KINDS, kind_from_keys, wrong_kind
from sandbox.spec.loader import SpecError, SpecIssue, load_model, load_yaml_with_lines
from sandbox.spec.persona import Persona, Secret, Vulnerability
from sandbox.spec.scenario import MonitorSpec, Scenario, Schedule, SessionScript

__all__ = [
    "COMPONENTS",
    "MAX_TURNS",
    "AgentConfig",
    "BackendSpec",
    "Bundle",
    "CastEntry",
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
    "wrong_kind",
]


def detect_kind(path: Path, data: Any) -> str:
    """Tell a spec file's kind from its keys where they are clear, else from its folder."""
    if isinstance(data, dict) and "configs" in data and "scenarios" in data:
        return "suite"
    by_keys = kind_from_keys(data)
    if by_keys is not None:
        return by_keys
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
    if kind == "suite":
        from sandbox.suite.spec import load_suite  # the suite and every file it names

        load_suite(p)
        return kind
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
