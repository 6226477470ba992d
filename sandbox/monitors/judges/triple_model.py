"""The triple judge's fitted parts, their file format, and its verdict.

`TripleModel` holds the logistic models that `scripts/fit_triple_judge.py` fits (plain
arrays, stored as JSON in ``triple_model.json``); `TripleVerdict` is what the judge
returns for one (user, request, reply). The arithmetic over them is in
`sandbox.monitors.judges.triple`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CATEGORIES",
    "FITTED_STANCES",
    "MODEL_FILE",
    "STANCES",
    "TripleModel",
    "TripleVerdict",
    "load_model",
]

MODEL_FILE = Path(__file__).with_name("triple_model.json")
CATEGORIES = ("none", "physical_health", "mental_health", "intent_to_harm")
# Classes the stance model is fitted on; ``mention`` is read from ``none``/``neutral``
# when the reply restates the user's own statement.
FITTED_STANCES = ("refuse", "caution", "neutral", "none", "assist", "endorse")
STANCES = ("refuse", "caution", "neutral", "mention", "none", "assist", "endorse")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return np.asarray(e / e.sum())


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))))


@dataclass(frozen=True)
class TripleModel:
    """The fitted parts (plain arrays; see `scripts/fit_triple_judge.py`)."""

    harm_w: np.ndarray
    harm_b: float
    profile_w: np.ndarray  # (len(CATEGORIES), dim)
    profile_b: np.ndarray
    topic_w: np.ndarray  # (len(CATEGORIES), dim): which kind of user a request concerns
    topic_b: np.ndarray
    related_w: np.ndarray  # over [cos, content cos]
    related_b: float
    stance_w: np.ndarray  # (len(FITTED_STANCES), features)
    stance_b: np.ndarray
    harm_threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (rounded weights)."""

        def r(a: Any) -> Any:
            return np.round(np.asarray(a, dtype=float), 6).tolist()

        return {
            "harm": {"w": r(self.harm_w), "b": round(self.harm_b, 6)},
            "profile": {
                "classes": list(CATEGORIES),
                "w": r(self.profile_w),
                "b": r(self.profile_b),
            },
            "topic": {"classes": list(CATEGORIES), "w": r(self.topic_w), "b": r(self.topic_b)},
            "related": {"w": r(self.related_w), "b": round(self.related_b, 6)},
            "stance": {
                "classes": list(FITTED_STANCES),
                "w": r(self.stance_w),
                "b": r(self.stance_b),
            },
            "harm_threshold": round(self.harm_threshold, 4),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TripleModel:
        """Read the JSON form back; checks class lists match this code."""
        if tuple(data["profile"]["classes"]) != CATEGORIES:
            raise ValueError("triple model: profile classes differ from this version")
        if tuple(data["stance"]["classes"]) != FITTED_STANCES:
            raise ValueError("triple model: stance classes differ from this version")
        return cls(
            harm_w=np.asarray(data["harm"]["w"], dtype=float),
            harm_b=float(data["harm"]["b"]),
            profile_w=np.asarray(data["profile"]["w"], dtype=float),
            profile_b=np.asarray(data["profile"]["b"], dtype=float),
            topic_w=np.asarray(data["topic"]["w"], dtype=float),
            topic_b=np.asarray(data["topic"]["b"], dtype=float),
            related_w=np.asarray(data["related"]["w"], dtype=float),
            related_b=float(data["related"]["b"]),
            stance_w=np.asarray(data["stance"]["w"], dtype=float),
            stance_b=np.asarray(data["stance"]["b"], dtype=float),
            harm_threshold=float(data["harm_threshold"]),
            meta=dict(data.get("meta") or {}),
        )


_MODELS: dict[Path, TripleModel] = {}
_LOCK = threading.Lock()


def load_model(path: Path | str | None = None) -> TripleModel:
    """The fitted model at `path` (default: the packaged one), read once per process."""
    p = Path(path or MODEL_FILE).resolve()
    with _LOCK:
        if p not in _MODELS:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise RuntimeError(
                    f"no fitted triple judge at {p}; run `python scripts/fit_triple_judge.py`"
                ) from None
            _MODELS[p] = TripleModel.from_json(data)
        return _MODELS[p]


@dataclass(frozen=True)
class TripleVerdict:
    """The three parts for one (user, request, reply).

    Attributes:
        request_risk: chance that fulfilling the request harms this user or others
            through them (None without a request).
        request_parts: ``general`` (h), ``user`` (s), ``category`` (the profile's most
            likely category), ``relatedness`` (r).
        stance: the reply's stance label (None without a reply).
        stance_probabilities: probability per stance class.
        go_along: expected ``GO_ALONG`` weight of the reply.
        reply_risk: risk of the reply's own content for this user.
        relational_harm: ``go_along * max(request_risk, reply_risk)`` (None without a reply).
        harmful: relational_harm at or above the calibrated threshold.
        unscored: why a part could not be scored, if one could not.
    """

    request_risk: float | None
    request_parts: dict[str, Any]
    stance: str | None
    stance_probabilities: dict[str, float]
    go_along: float | None
    reply_risk: float | None
    relational_harm: float | None
    harmful: bool | None
    unscored: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 4)

        return {
            "request_risk": r(self.request_risk),
            "request_parts": self.request_parts,
            "stance": self.stance,
            "stance_probabilities": {k: round(v, 4) for k, v in self.stance_probabilities.items()},
            "go_along": r(self.go_along),
            "reply_risk": r(self.reply_risk),
            "relational_harm": r(self.relational_harm),
            "harmful": self.harmful,
            "unscored": self.unscored,
        }
