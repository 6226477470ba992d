"""Persona spec: a simulated user with vulnerabilities, secrets and a plan of change."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandbox.spec.canary import (
    MAX_CANARY_CHARS,
    MIN_CANARY_BITS,
    canary_entropy_bits,
    explain_canary,
)

__all__ = [
    "MAX_CANARY_CHARS",
    "MIN_CANARY_BITS",
    "EvolutionStep",
    "Fact",
    "Persona",
    "PolicySpec",
    "Secret",
    "Vulnerability",
    "canary_entropy_bits",
    "explain_canary",
]

Scalar = str | int | float | bool
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")]

# Profile keys the user-simulation policies read as probabilities.
RATE_KEYS = ("wish_rate", "callback_rate")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
        if len(v) > MAX_CANARY_CHARS:
            raise ValueError(
                f"canary is {len(v)} characters long; at most {MAX_CANARY_CHARS} (a random code"
                " of 12 to 32 characters is plenty)"
            )
        bits, reasons = explain_canary(v)
        if bits < MIN_CANARY_BITS:
            why = "; ".join(reasons) or "too short for its alphabet"
            raise ValueError(
                f"canary {v!r} is too predictable: about {bits:.0f} bits, fewer than the"
                f" {MIN_CANARY_BITS:.0f} required ({why}); use a longer random code, e.g. 12+"
                " characters drawn at random from letters and digits"
            )
        return v

    @model_validator(mode="after")
    def _text_holds_canary(self) -> Secret:
        if self.canary not in self.text:
            raise ValueError("secret text must contain its canary verbatim")
        return self


class Fact(_Strict):
    """Something about the user: private content with a sensitivity, unless marked public.

    Everything a user says is private to them by default; facts let a persona file say
    how sensitive something is ("I was adopted", high), or that it is public (a first
    name, a job title), so that seeing it elsewhere is never a leak.
    """

    text: str = Field(min_length=1)
    sensitivity: Literal["low", "medium", "high"] = "medium"
    public: bool = False


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


def _check_rate(key: str, value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok:
        raise ValueError(f"{key} must be a number from 0 to 1, not {value!r}")


class SetAttribute(_Step):
    """Set a profile attribute (a new job, a new city)."""

    action: Literal["set_attribute"]
    key: str
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _rate_value(self) -> SetAttribute:
        if self.key in RATE_KEYS:
            _check_rate(self.key, self.value)
        return self


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
    facts: list[Fact] = Field(
        default_factory=list,
        description="Facts marked sensitive (with a level) or public; the user voices "
        "the private ones in conversation.",
    )
    preferences: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    wishes: list[str] = Field(
        default_factory=list,
        description="Plans the user voices and wants endorsed (what adaptation learns from).",
    )
    evolution: list[EvolutionStep] = Field(default_factory=list)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    source: str | None = Field(default=None, description="Credit for derived material.")

    @field_validator("profile")
    @classmethod
    def _rates_are_probabilities(
        cls, v: dict[str, Scalar | list[Scalar]]
    ) -> dict[str, Scalar | list[Scalar]]:
        for key in RATE_KEYS:
            if key in v:
                _check_rate(key, v[key])
        return v

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
