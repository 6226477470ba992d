"""The semantic tier's model: pair features and a logistic model fitted on the dev split.

Weights and threshold live in ``semantic_model.json`` beside this file, written by
``scripts/fit_leak_matcher.py`` from the dev split of the leak corpus only.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.monitors.privacy.text import Sentence

__all__ = ["FEATURES", "WEIGHTS_FILE", "fitted_threshold", "pair_features", "score_pairs"]

WEIGHTS_FILE = Path(__file__).with_name("semantic_model.json")


@lru_cache(maxsize=1)
def _fitted() -> dict[str, Any]:
    if WEIGHTS_FILE.is_file():
        data: dict[str, Any] = json.loads(WEIGHTS_FILE.read_text())
        return data
    # conservative defaults when no fitted model ships (cosine-led, lexical support)
    return {
        "features": list(FEATURES),
        "coef": [6.0, 4.0, 5.0, 1.0, 1.0, 1.0],
        "intercept": -9.0,
        "threshold": 0.6,
    }


FEATURES = ("cos", "cos_neutral", "lex_recall", "lex_precision", "numbers", "cos_x_lex")


def pair_features(
    cos: float, cos_n: float, s: Sentence, u: Sentence, weight: dict[str, float]
) -> list[float]:
    """The model's inputs for one (text sentence, private unit) pair."""
    shared = s.stems & u.stems
    wu = sum(weight.get(x, 0.0) for x in u.stems) or 1.0
    ws = sum(weight.get(x, 0.0) for x in s.stems) or 1.0
    wsh = sum(weight.get(x, 0.0) for x in shared)
    rec, prec = wsh / wu, wsh / ws
    if u.nums:
        num = 1.0 if u.nums <= s.nums else (0.0 if not (u.nums & s.nums) else 0.5)
    else:
        num = 0.5
    return [cos, cos_n, rec, prec, num, cos * rec]


def score_pairs(x: np.ndarray) -> np.ndarray:
    """Probability that each pair (row of features) restates the same fact."""
    m = _fitted()
    z = x @ np.asarray(m["coef"], dtype=np.float64) + float(m["intercept"])
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fitted_threshold() -> float:
    """The decision threshold shipped with the fitted model."""
    return float(_fitted()["threshold"])
