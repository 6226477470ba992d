"""The judge's reviewable knowledge: per-kind libraries, stance, free-text cases, calibration.

Everything the embedding judge knows about what harms whom lives in YAML under
``library/``: one file per vulnerability kind (harmful and protective descriptions,
lexical cues, labelled calibration replies, and the kind's calibrated threshold),
``_stance.yaml`` (does a reply go along with the user or hold back), ``_freetext.yaml``
(cases for statements of unknown kinds) and ``_calibration.yaml`` (fitted weights,
written by ``python -m sandbox.monitors.judges.calibrate``). Files are validated with
the spec loader, so a bad entry is reported with its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.spec.loader import load_model

__all__ = [
    "LIBRARY_DIR",
    "CalibrationFile",
    "Example",
    "FreeTextLibrary",
    "KindLibrary",
    "Libraries",
    "StanceLibrary",
    "load_libraries",
    "normalize_kind",
]

LIBRARY_DIR = Path(__file__).parent / "library"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regexes(v: list[str]) -> list[str]:
    for pattern in v:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return v


class Example(_Strict):
    """A labelled reply (with the message it answers) used only for calibration."""

    message: str = ""
    reply: str = Field(min_length=1)
    also: list[str] = Field(
        default_factory=list, description="Other kinds this reply is also harmful to."
    )


class KindCalibration(_Strict):
    """Replies labelled harmful / safe for someone with this kind of vulnerability."""

    harmful: list[Example] = Field(min_length=3)
    safe: list[Example] = Field(min_length=3)


class Cues(_Strict):
    """Regular expressions (case-insensitive) for harmful and protective vocabulary."""

    harmful: list[str] = Field(default_factory=list)
    protective: list[str] = Field(default_factory=list)

    _regex = field_validator("harmful", "protective")(_check_regexes)


class KindLibrary(_Strict):
    """What harms, and what protects, someone with one kind of vulnerability."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    aliases: list[str] = Field(default_factory=list)
    about: str = Field(min_length=1)
    statements: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    harmful: list[str] = Field(min_length=3)
    protective: list[str] = Field(min_length=2)
    cues: Cues = Field(default_factory=Cues)
    calibration: KindCalibration
    threshold: float


class StanceCues(_Strict):
    """Cues for going along (enabling) and holding back (refusal, caution)."""

    enabling: list[str] = Field(default_factory=list)
    refusal: list[str] = Field(default_factory=list)
    caution: list[str] = Field(default_factory=list)

    _regex = field_validator("enabling", "refusal", "caution")(_check_regexes)


class StanceCalibration(_Strict):
    """Replies labelled as going along with the user, holding back, or neither."""

    enabling: list[Example] = Field(min_length=3)
    protective: list[Example] = Field(min_length=3)
    neutral: list[Example] = Field(default_factory=list)


class StanceLibrary(_Strict):
    """Kind-independent stance: encourage/comply versus refuse/warn/redirect."""

    enabling: list[str] = Field(min_length=3)
    protective: list[str] = Field(min_length=3)
    neutral: list[str] = Field(min_length=2)
    cues: StanceCues
    calibration: StanceCalibration


class FreeTextCase(_Strict):
    """A statement of an unknown kind, with replies harmful and safe for that user."""

    statement: str = Field(min_length=1)
    harmful: list[Example] = Field(min_length=1)
    safe: list[Example] = Field(min_length=1)


class GenericRisk(_Strict):
    """Risky versus careful advice in general, for statements without a library."""

    harmful: list[str] = Field(min_length=3)
    protective: list[str] = Field(min_length=2)
    cues: Cues = Field(default_factory=Cues)


class FreeTextLibrary(_Strict):
    """Generic risk descriptions and calibration cases for the free-text path."""

    generic: GenericRisk
    cases: list[FreeTextCase] = Field(min_length=2)


class Linear(_Strict):
    """A fitted logistic model on standardized features.

    ``p = sigmoid(weights . ((x - mean) / scale) + bias)``; mean and scale are the
    calibration rows' feature means and standard deviations.
    """

    features: list[str]
    weights: list[float]
    bias: float = 0.0
    mean: list[float] = Field(default_factory=list)
    scale: list[float] = Field(default_factory=list)


class CalibrationFile(_Strict):
    """Fitted parameters and their cross-validated quality (written by calibrate)."""

    stance: Linear
    kind: Linear
    freetext: Linear
    transfer_threshold: float
    metrics: dict[str, float] = Field(default_factory=dict)
    fingerprint: str = ""


def normalize_kind(kind: str) -> str:
    """Canonical form of a kind name: lower case, words joined by underscores."""
    return re.sub(r"[^a-z0-9]+", "_", kind.strip().lower()).strip("_")


@dataclass(frozen=True)
class Libraries:
    """All libraries of one folder, with the alias table."""

    path: Path
    kinds: dict[str, KindLibrary]
    stance: StanceLibrary
    freetext: FreeTextLibrary
    calibration: CalibrationFile | None
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, kind: str) -> KindLibrary | None:
        """The library for a kind name or one of its aliases, if there is one."""
        name = self.aliases.get(normalize_kind(kind))
        return self.kinds.get(name) if name else None


@lru_cache(maxsize=8)
def _load(path: str, calibrated: bool) -> Libraries:
    folder = Path(path)
    kinds: dict[str, KindLibrary] = {}
    aliases: dict[str, str] = {}
    for f in sorted(folder.glob("*.yaml")):
        if f.name.startswith("_"):
            continue
        lib = load_model(f, KindLibrary)
        if lib.kind in kinds:
            raise ValueError(f"{f}: kind {lib.kind!r} is defined twice")
        kinds[lib.kind] = lib
        for name in [lib.kind, *lib.aliases]:
            key = normalize_kind(name)
            if aliases.get(key, lib.kind) != lib.kind:
                raise ValueError(f"{f}: alias {name!r} already names {aliases[key]!r}")
            aliases[key] = lib.kind
    cal_path = folder / "_calibration.yaml"
    return Libraries(
        path=folder,
        kinds=kinds,
        stance=load_model(folder / "_stance.yaml", StanceLibrary),
        freetext=load_model(folder / "_freetext.yaml", FreeTextLibrary),
        calibration=load_model(cal_path, CalibrationFile)
        if calibrated and cal_path.exists()
        else None,
        aliases=aliases,
    )


def load_libraries(
    path: Path | str | None = None, *, fresh: bool = False, calibrated: bool = True
) -> Libraries:
    """Load (once per process) the libraries in `path` (default: the packaged ones).

    Args:
        path: folder holding the YAML files.
        fresh: bypass the cache (the calibration script rewrites files).
        calibrated: also read _calibration.yaml (calibration itself does not need it).
    """
    key = str(Path(path or LIBRARY_DIR).resolve())
    if fresh:
        _load.cache_clear()
    return _load(key, calibrated)
