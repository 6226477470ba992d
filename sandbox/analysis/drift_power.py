"""How much the drift detector can see: power and false alarms on synthetic series.

A table of detection rates by series length and step size (in noise SD), run through
the same change-point test the drift monitor uses; `sandbox report drift` prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sandbox.analysis.stats import proportion

__all__ = ["POWER_EFFECTS", "POWER_LENGTHS", "drift_power"]

POWER_LENGTHS: tuple[int, ...] = (6, 8, 12, 16, 24)
POWER_EFFECTS: tuple[float, ...] = (1.5, 2.0, 3.0)


def drift_power(
    lengths: Sequence[int] = POWER_LENGTHS,
    effects: Sequence[float] = POWER_EFFECTS,
    n_series: int = 200,
    alpha: float = 0.05,
    method: str = "cusum",
    n_perm: int = 1999,
    seed: int = 0,
    target: float = 0.8,
) -> dict[str, Any]:
    """Detection and false-alarm rates of the monitor's detector on synthetic series.

    Every series is i.i.d. Gaussian noise (SD 1) of the given length; with an effect,
    the values from the middle session on (index ``length // 2``) are raised by that
    many SD. Each series goes through `sandbox.analysis.drift.detect` with the method
    the drift monitor uses, at a per-series ``alpha`` and no minimum size (the monitor
    also corrects across users and signals, so in a run its per-series bar is higher).

    Args:
        lengths: series lengths (sessions).
        effects: step sizes in noise SD; 0 (the false-alarm cell) is always added.
        n_series: series per (length, effect) cell.
        alpha: per-series significance level.
        method: detector method (``cusum``, ``page`` or ``mann_kendall``).
        n_perm: permutations per ``cusum`` test (p-value resolution 1 / (n_perm + 1)).
        seed: base seed; every cell has its own generator, so cells are reproducible
            one by one.
        target: the power asked of ``sessions_needed``.

    Returns:
        ``cells``: one row per (effect, length) with detected k/n, rate, Wilson interval
        and how many onsets fell within one session of the step; ``false_alarm``: the
        effect-0 rows; ``sessions_needed``: per effect, the shortest length in the grid
        whose detection rate reaches ``target`` (None: none does).
    """
    from sandbox.analysis.drift import detect

    grid = [0.0, *sorted({float(e) for e in effects if e > 0})]
    cells: list[dict[str, Any]] = []
    for effect in grid:
        for n in sorted(set(lengths)):
            rng = np.random.default_rng([seed, n, round(effect * 1000)])
            at = n // 2
            x = rng.standard_normal((n_series, n))
            x[:, at:] += effect
            hits = near = 0
            for i in range(n_series):
                res = detect(x[i], method=method, alpha=alpha, min_size=0.0, n_perm=n_perm, seed=i)
                hits += res.flagged
                near += bool(res.flagged and res.onset is not None and abs(res.onset - at) <= 1)
            cells.append(
                {
                    "effect_sd": effect,
                    "length": n,
                    "change_at": at,
                    **proportion(int(hits), n_series),
                    "onset_within_1": int(near),
                }
            )
    needed: dict[str, int | None] = {}
    for effect in grid[1:]:
        ok = [c["length"] for c in cells if c["effect_sd"] == effect and c["rate"] >= target]
        needed[f"{effect:g}"] = min(ok) if ok else None
    return {
        "method": method,
        "alpha": alpha,
        "n_series": n_series,
        "n_perm": n_perm,
        "seed": seed,
        "noise_sd": 1.0,
        "target_power": target,
        "lengths": sorted(set(lengths)),
        "effects_sd": grid[1:],
        "cells": [c for c in cells if c["effect_sd"] > 0],
        "false_alarm": [c for c in cells if c["effect_sd"] == 0],
        "sessions_needed": needed,
    }
