"""Persona spec: a simulated user with vulnerabilities, secrets and a plan of change."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "EvolutionStep",
    "Persona",
    "PolicySpec",
    "Secret",
    "Vulnerability",
    "canary_entropy_bits",
]

Scalar = str | int | float | bool
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")]

# A canary must be long and varied enough that it cannot show up in text by chance:
# at least this many bits of character-level entropy (length x Shannon entropy).
MIN_CANARY_BITS = 40.0


def canary_entropy_bits(canary: str) -> float:
    """Estimate the information in a canary from its own character distribution."""
    chars = [c for c in canary.lower() if c.isalnum()]
    if not chars:
        return 0.0
    counts = Counter(chars)
    n = len(chars)
    h = -sum((k / n) * math.log2(k / n) for k in counts.values())
    return h * n


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vulnerability(_Strict):
    """What is harmful *to this user*.

    `kind` names a known category (e.g. `gambling`, `eating_disorder`, `minor`) that judges
    may have a library for; `statement` is free text by or about the user ("I've been
    sober for 3 months") that judges must handle even for unknown kinds.
    """

    kind: str = Field(min_length=1)
    severity: float = Field(ge=0.0, le=1.0, default=0.5)
    statement: str | None = None


class Secret(_Strict):
    """A private fact. Its text contains the canary, a string that cannot occur by chance."""

    id: Slug
    text: str = Field(min_length=1, description="What the user says; must contain the canary.")
    canary: str = Field(min_length=8)
    topic: str = Field(min_length=1, description="Short phrase the user uses to refer to it.")
    sensitivity: Literal["low", "medium", "high"] = "medium"

    @field_validator("canary")
    @classmethod
    def _high_entropy(cls, v: str) -> str:
        bits = canary_entropy_bits(v)
        if bits < MIN_CANARY_BITS:
            raise ValueError(
                f"canary {v!r} is too predictable ({bits:.0f} bits < {MIN_CANARY_BITS:.0f});"
                " use a longer mix of letters and digits"
            )
        if not (re.search(r"[A-Za-z]", v) and re.search(r"\d", v)):
            raise ValueError("canary must mix letters and digits")
        return v

    @model_validator(mode="after")
    def _text_holds_canary(self) -> Secret:
        if self.canary not in self.text:
            raise ValueError("secret text must contain its canary verbatim")
        return self


class PolicySpec(_Strict):
    """Which user-simulation policy plays this persona, with its arguments."""

    name: str = "scripted"
    args: dict[str, Any] = Field(default_factory=dict)


class _Step(_Strict):
    at_day: float | None = Field(default=None, ge=0)
    at_session: int | None = Field(default=None, ge=0)
    note: str = ""

    @model_validator(mode="after")
    def _exactly_one_time(self) -> _Step:
        if (self.at_day is None) == (self.at_session is None):
            raise ValueError("give exactly one of at_day or at_session")
        return self


class SetAttribute(_Step):
    """Set a profile attribute (a new job, a new city)."""

    action: Literal["set_attribute"]
    key: str
    value: Scalar | list[Scalar]


class UnsetAttribute(_Step):
    """Remove a profile attribute."""

    action: Literal["unset_attribute"]
    key: str


class AddVulnerability(_Step):
    """A new vulnerability appears (a relapse, a bereavement)."""

    action: Literal["add_vulnerability"]
    vulnerability: Vulnerability


class RemoveVulnerability(_Step):
    """A vulnerability no longer applies."""

    action: Literal["remove_vulnerability"]
    kind: str


class ShareSecret(_Step):
    """The user tells the agent a secret in this session."""

    action: Literal["share_secret"]
    secret: str


class ForgetSecret(_Step):
    """The user asks the agent to forget a secret."""

    action: Literal["forget_secret"]
    secret: str


EvolutionStep = Annotated[
    SetAttribute
    | UnsetAttribute
    | AddVulnerability
    | RemoveVulnerability
    | ShareSecret
    | ForgetSecret,
    Field(discriminator="action"),
]


class Persona(_Strict):
    """A simulated user: who they are, what hurts them, what they keep private."""

    id: Slug
    display_name: str = Field(min_length=1)
    profile: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    preferences: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    wishes: list[str] = Field(
        default_factory=list,
        description="Plans the user voices and wants endorsed (what adaptation learns from).",
    )
    evolution: list[EvolutionStep] = Field(default_factory=list)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    source: str | None = Field(default=None, description="Credit for derived material.")

    @model_validator(mode="after")
    def _refs_resolve(self) -> Persona:
        ids = [s.id for s in self.secrets]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate secret ids: {sorted(dupes)}")
        for step in self.evolution:
            if isinstance(step, ShareSecret | ForgetSecret) and step.secret not in ids:
                raise ValueError(f"evolution step refers to unknown secret {step.secret!r}")
        return self
