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
    "interval_is_range",
    "nan_mean",
    "percentile_ci",
    "proportion",
    "seeds_needed",
    "t_seeds_needed",
    "trials_to_clear",
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


def interval_is_range(n: int, alpha: float) -> bool:
    """Whether a percentile-bootstrap interval over `n` seeds is just their min..max.

    The resample that repeats the smallest seed's value n times has probability n**-n
    (and so has the largest's); when that is at least alpha/2 the interval's ends are
    the smallest and largest seed's values, so it says nothing a 1-alpha interval
    should (2 and 3 seeds at alpha 0.05).
    """
    return n >= 1 and float(n) ** (-n) >= alpha / 2


def seeds_needed(d: np.ndarray, shift: float, alpha: float, power: float) -> int | None:
    """About how many paired seeds a one-sided t-test needs to detect `shift` (> 0).

    Normal approximation n = ((z_(1-alpha) + z_power) * sd / shift)^2, with the observed
    standard deviation of the paired differences; None when it cannot be estimated.
    """
    from scipy import stats as st

    if d.size < 2 or shift <= 0:
        return None
    sd = float(d.std(ddof=1))
    if sd == 0:
        return int(d.size)
    za, zb = float(st.norm.ppf(1 - alpha)), float(st.norm.ppf(power))
    return max(2, math.ceil(((za + zb) * sd / shift) ** 2) + 1)


def t_seeds_needed(d: np.ndarray, alpha: float, power: float, limit: int = 1000) -> int | None:
    """Paired seeds a one-sided t-test needs to find the mean of `d` (> 0) at `alpha`.

    The smallest n with sqrt(n) * mean / sd >= t(1-alpha, n-1) + t(power, n-1), with the
    observed mean and standard deviation of the differences `d`. Unlike the normal
    approximation it counts the t-test's few degrees of freedom, which is what stops two
    or three seeds from reaching a small (Holm-corrected) alpha. 2 when the differences
    do not vary; None when `d` has fewer than two values or a mean <= 0, or the answer
    exceeds `limit`.
    """
    from scipy import stats as st

    if d.size < 2 or float(d.mean()) <= 0:
        return None
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 2
    effect = float(d.mean()) / sd
    for n in range(2, limit + 1):
        df = n - 1
        if math.sqrt(n) * effect >= float(st.t.ppf(1 - alpha, df) + st.t.ppf(power, df)):
            return n
    return None


def trials_to_clear(
    rate: float, bound: float, at_least: bool, z: float = 1.96, limit: int = 100_000
) -> int | None:
    """Trials after which a rate of `rate` would have its Wilson interval clear `bound`.

    Clearing means the interval lies wholly on the side of `bound` the rate is on
    (above it when `at_least`, below otherwise). None when the rate sits on the bound,
    on the wrong side of it, or needs more than `limit` trials.
    """
    if (rate <= bound) if at_least else (rate >= bound):
        return None
    lo_n, hi_n = 1, limit
    if not _clears(rate, hi_n, bound, at_least, z):
        return None
    while lo_n < hi_n:  # the interval narrows as n grows: bisect the first n that clears
        mid = (lo_n + hi_n) // 2
        if _clears(rate, mid, bound, at_least, z):
            hi_n = mid
        else:
            lo_n = mid + 1
    return lo_n


def _clears(rate: float, n: int, bound: float, at_least: bool, z: float) -> bool:
    lo, hi = wilson(round(rate * n), n, z)
    return lo > bound if at_least else hi < bound
