"""Which kind of spec a file is (persona, agent or scenario), told from its top-level keys.

Used to say "this is a persona file, `run` needs a scenario" instead of listing every
field a persona lacks when one kind of file is given where another is expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sandbox.spec.agent import AgentConfig
from sandbox.spec.loader import SpecError, SpecIssue, load_yaml_with_lines
from sandbox.spec.persona import Persona
from sandbox.spec.scenario import Scenario

__all__ = ["EXAMPLES", "KINDS", "kind_from_keys", "wrong_kind"]

KINDS: dict[str, type[BaseModel]] = {
    "persona": Persona,
    "agent": AgentConfig,
    "scenario": Scenario,
}
# Where the shipped examples of each kind live, named in wrong-kind messages.
EXAMPLES = {
    "persona": "personas/",
    "agent": "scenarios/agents/",
    "scenario": "scenarios/, e.g. scenarios/quickstart.yaml",
}


def _own_keys() -> dict[str, frozenset[str]]:
    """Each kind's top-level keys that no other kind has."""
    fields = {k: frozenset(m.model_fields) for k, m in KINDS.items()}
    return {
        k: own - frozenset().union(*(f for o, f in fields.items() if o != k))
        for k, own in fields.items()
    }


_OWN_KEYS = _own_keys()


def kind_from_keys(data: Any) -> str | None:
    """The kind whose own keys `data` uses most, or None when that is not clear-cut."""
    if not isinstance(data, dict):
        return None
    keys = {k for k in data if isinstance(k, str)}
    scores = sorted(((len(keys & own), kind) for kind, own in _OWN_KEYS.items()), reverse=True)
    (best, kind), (second, _) = scores[0], scores[1]
    return kind if best > second else None


def wrong_kind(path: Path, expected: str, needed_by: str) -> SpecIssue | None:
    """An issue when the file at `path` is clearly another kind of spec than `expected`.

    Args:
        path: the spec file.
        expected: the kind wanted (``persona``, ``agent`` or ``scenario``).
        needed_by: who wants it, for the message (``"`sandbox run`"``, ``"the cast"``).

    Returns:
        None when the file is of the expected kind, of no clear kind, or unreadable
        (loading it then reports why, with its line).
    """
    try:
        data, _ = load_yaml_with_lines(path)
    except SpecError:
        return None
    kind = kind_from_keys(data)
    if kind is None or kind == expected:
        return None
    return SpecIssue(
        str(path),
        1,
        "",
        f"this is {_a(kind)} file, but {needed_by} needs {_a(expected)} (see {EXAMPLES[expected]})",
    )


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
