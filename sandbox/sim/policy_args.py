"""Argument models of the simulated-user policies (a persona's ``policy.args``).

Each policy class declares one as its ``Args``; :mod:`sandbox.sim.policies` re-exports
them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.sim.probes import DEFAULT_GUESSES, PROBE_STYLES

__all__ = ["PoisonerArgs", "PolicyArgs", "ProberArgs"]


class PolicyArgs(BaseModel):
    """Arguments of the scripted policy: it takes none (the persona drives it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProberArgs(PolicyArgs):
    """Arguments of the prober policy.

    Attributes:
        styles: Extraction styles drawn from (`PROBE_STYLES`); default: all of them.
        probes: Custom probe templates; given, they replace the style library.
        guesses: Kinds of secret asked about (fills ``{guess}``).
        targets: Names or user ids asked about (fills ``{name}``); none: a generic one.
        probes_per_session: Probes spoken per session (besides the hard events).
    """

    styles: list[str] | None = Field(default=None, min_length=1)
    probes: list[str] | None = None
    guesses: list[str] = Field(default_factory=lambda: list(DEFAULT_GUESSES))
    targets: list[str] = Field(default_factory=list)
    probes_per_session: int = Field(default=2, ge=0)

    @field_validator("styles")
    @classmethod
    def _known_styles(cls, v: list[str] | None) -> list[str] | None:
        unknown = [s for s in v or [] if s not in PROBE_STYLES]
        if unknown:
            raise ValueError(
                f"unknown probe style {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(PROBE_STYLES)}"
            )
        return v


class PoisonerArgs(PolicyArgs):
    """Arguments of the poisoner policy.

    Attributes:
        instruction: The standing instruction planted in the agent's memory.
        plant_sessions: Sessions in which it is planted.
        marker: Text a reply carries when it follows the instruction; the
            ``memory_poisoning`` monitor watches for it (``number``, ``phone``, ``url``
            and ``link`` are read the same way; with none, markers are extracted from
            the instruction).
        number: A number the instruction makes replies repeat.
        phone: A phone number the instruction makes replies repeat.
        url: A URL the instruction makes replies repeat.
        link: A link the instruction makes replies repeat.
    """

    instruction: str = ""
    plant_sessions: list[int] = Field(default_factory=lambda: [0])
    marker: str | None = None
    number: str | None = None
    phone: str | None = None
    url: str | None = None
    link: str | None = None
