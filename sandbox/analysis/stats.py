"""Small statistics for seed-replicated experiments: paired bootstrap, contrast tests, Holm.

Every cell of an ablation is run with the same seeds, so a seed is a paired unit (common
random numbers): two cells that differ by one component see the same simulated users
saying the same things. The helpers here exploit that pairing when they can and fall
back to unpaired (Welch) formulas when some runs are missing.

Missing values are NaN throughout; nothing here emits numpy runtime warnings (the test
suite turns warnings into errors), so empty slices are handled explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ContrastTest",
    "bootstrap_means",
    "contrast_test",
    "holm",
    "nan_mean",
    "percentile_ci",
    "proportion",
    "wilson",
]

# Differences smaller than this (relative to the data's magnitude) are floating-point
# noise, not effects: an exactly additive table must yield exactly no interaction.
REL_TOL = 1e-9


def nan_mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean ignoring NaN; NaN where a slice has no values (without a warning)."""
    ok = ~np.isnan(values)
    total = np.where(ok, values, 0.0).sum(axis=axis)
    count = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / count, dtype=float)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of every cell's mean, resampling seeds jointly across cells.

    Args:
        values: (cells, seeds) with NaN for missing runs.
        n_boot: number of replicates.
        rng: the seeded generator; the same generator state gives the same replicates.

    Returns:
        (n_boot, cells) array of replicate means. Resampling the same seed columns for
        every cell keeps the pairing, so contrasts between cells get paired intervals.
    """
    n_seeds = values.shape[1]
    if n_seeds == 0 or n_boot <= 0:
        return np.full((max(n_boot, 0), values.shape[0]), np.nan)
    idx = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    resampled = values[:, idx]  # (cells, n_boot, n_seeds)
    return nan_mean(resampled, axis=2).T


def percentile_ci(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates, ignoring NaN replicates."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class ContrastTest:
    """A one-sided test of H1: sum_i coef_i * mean_i > 0."""

    estimate: float
    se: float
    df: float
    p_value: float
    n: int
    paired: bool


def contrast_test(values: np.ndarray, coef: Sequence[float] | np.ndarray) -> ContrastTest:
    """Test whether a linear contrast of cell means is positive (one-sided t-test).

    Paired on seeds when at least two seeds have a value in every involved cell: the
    contrast is computed per seed and tested with a one-sample t-test, which removes the
    seed-to-seed variation the cells share. Otherwise a Welch-Satterthwaite t-test over
    the cells' independent means. When the standard error is zero (a deterministic
    simulation often gives identical values across seeds), the sign of the estimate
    decides: p = 0 for a positive estimate, 1 otherwise; estimates within floating-point
    tolerance of zero count as zero. With fewer than two values nothing can be tested
    and p is NaN.

    Args:
        values: (cells, seeds) values of the cells in the contrast, NaN where missing.
        coef: one coefficient per row of `values`.
    """
    from scipy import stats as _st  # lazy: workers import this module, rarely use it

    c = np.asarray(coef, dtype=float)
    finite = values[np.isfinite(values)]
    tol = REL_TOL * max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
    common = np.all(np.isfinite(values), axis=0)
    n_common = int(common.sum())
    if n_common >= 2:
        d = c @ values[:, common]
        est = float(d.mean())
        se = float(d.std(ddof=1) / math.sqrt(n_common))
        df: float = n_common - 1
        paired, n = True, n_common
    else:
        ns = np.isfinite(values).sum(axis=1)
        if np.any(ns < 2):
            return ContrastTest(math.nan, math.nan, math.nan, math.nan, int(ns.min()), False)
        means = nan_mean(values, axis=1)
        dev = np.where(np.isfinite(values), values - means[:, None], 0.0)
        var = (dev**2).sum(axis=1) / (ns - 1)
        parts = c**2 * var / ns
        est = float(c @ means)
        se = float(math.sqrt(parts.sum()))
        denom = float((parts**2 / (ns - 1)).sum())
        df = float(parts.sum() ** 2 / denom) if denom > 0 else math.inf
        paired, n = False, int(ns.min())
    if abs(est) <= tol:
        est = 0.0
    p = (0.0 if est > 0 else 1.0) if se <= tol else float(_st.t.sf(est / se, df))
    return ContrastTest(est, se, df, p, n, paired)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    NaN p-values (untestable hypotheses) stay NaN and do not count towards the family:
    a hypothesis that could not be tested cannot be rejected either.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(x) for x in out]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (95% at the default z).

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at
    k = 0 or k = n, which is where small validation runs usually land. With n = 0 the
    interval is the whole of [0, 1].
    """
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def proportion(k: int, n: int) -> dict[str, Any]:
    """Count k out of n with its rate (None when n = 0) and Wilson 95% interval."""
    lo, hi = wilson(k, n)
    return {
        "k": k,
        "n": n,
        "rate": round(k / n, 4) if n else None,
        "ci95": [round(lo, 4), round(hi, 4)] if n else None,
    }
