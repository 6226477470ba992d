"""Drift statistics: is there a sustained rise in a per-session series, when, how big.

A personalized agent drifts when it adapts to a user: what it says to them gets riskier
over sessions. The question for one user's series x_1..x_n (one value per session, e.g.
mean relational risk) is whether it shifted upward at some session, and if so where.

Methods (pure numpy/scipy, no model):

``cusum`` (default): offline one-sided CUSUM change-point test. For every split point
    tau the statistic is the standardized upward mean shift
    ``t(tau) = (mean(x[tau:]) - mean(x[:tau])) / (s * sqrt(1/tau + 1/(n-tau)))`` with
    ``s`` the pooled within-segment standard deviation; this is the CUSUM of deviations
    from the overall mean scaled to a likelihood-ratio statistic for one mean shift in
    Gaussian noise (Hinkley 1970; Csorgo & Horvath 1997). ``T = max_tau t(tau)``; onset
    is the maximizing tau (the maximum-likelihood change point) and size the difference
    of segment means. The p-value is a permutation p-value: under "no change" the
    sessions are exchangeable, so shuffling the series gives T's null distribution
    exactly, whatever the noise distribution. The false-alarm rate is therefore at most
    ``alpha`` by construction (checked by simulation in tests/drift).
``page``: online Page CUSUM, ``S_t = max(0, S_{t-1} + z_t - k)`` on the series
    standardized by a warm-up baseline; the alarm threshold ``h`` is set by simulation
    on clean (no-change) Gaussian series of the same length so that the chance of any
    alarm is ``alpha``. Onset is the session after the last reset before the alarm.
``mann_kendall``: Mann-Kendall trend test (one-sided, tie-corrected normal
    approximation) for gradual drift; size is Sen's slope times the series length, and
    the onset comes from the CUSUM change-point estimate.

Across users, p-values are adjusted with Benjamini-Hochberg (false discovery rate) or
Holm (family-wise error) in `adjust`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = [
    "METHODS",
    "DriftResult",
    "adjust",
    "changepoint_statistic",
    "describe",
    "detect",
    "mann_kendall",
    "page_cusum",
    "page_threshold",
]

Method = Literal["cusum", "page", "mann_kendall"]
METHODS: tuple[str, ...] = ("cusum", "page", "mann_kendall")
_DESCRIPTIONS = {
    "cusum": "offline one-sided CUSUM change-point test, permutation p-value",
    "page": "online Page CUSUM, threshold set by simulation on no-change series",
    "mann_kendall": "one-sided Mann-Kendall trend test, Sen's slope",
}


def describe(method: str) -> str:
    """One line naming the method, for summaries."""
    return _DESCRIPTIONS.get(method, method)


@dataclass(frozen=True)
class DriftResult:
    """Outcome of a drift test on one series.

    Attributes:
        flagged: p_value <= alpha and size >= min_size.
        onset: index (into the series given) of the first drifted value; None if none.
        size: mean after onset minus mean before (``cusum``/``page``), or Sen's slope
            times the series length (``mann_kendall``).
        p_value: one-sided p-value of "no upward change"; None when too short to test.
        method: which test ran.
        statistic: the test statistic.
        n: number of (non-missing) values tested.
        reason: why the series could not be tested, if it could not.
    """

    flagged: bool
    onset: int | None
    size: float | None
    p_value: float | None
    method: str
    statistic: float | None = None
    n: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for summaries."""
        return asdict(self)


def _segment_stats(x: np.ndarray, min_segment: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardized upward shift t(tau) for each row of x (B, n) and each split tau.

    Returns (t, diff, taus) with t and diff of shape (B, len(taus)).
    """
    n = x.shape[1]
    taus = np.arange(min_segment, n - min_segment + 1)
    c1 = np.cumsum(x, axis=1)
    c2 = np.cumsum(x * x, axis=1)
    tot1, tot2 = c1[:, -1:], c2[:, -1:]
    a1, a2 = c1[:, taus - 1], c2[:, taus - 1]
    na, nb = taus.astype(float), (n - taus).astype(float)
    mean_a, mean_b = a1 / na, (tot1 - a1) / nb
    ss = (a2 - na * mean_a**2) + ((tot2 - a2) - nb * mean_b**2)
    scale = np.maximum(np.ptp(x, axis=1, keepdims=True), 1.0)
    var = np.maximum(ss / (n - 2), (1e-6 * scale) ** 2)
    diff = mean_b - mean_a
    t = diff / np.sqrt(var * (1.0 / na + 1.0 / nb))
    return t, diff, taus


def changepoint_statistic(
    x: Sequence[float] | np.ndarray, min_segment: int = 2
) -> tuple[float, int, float]:
    """One-sided CUSUM change-point statistic of a series.

    Returns:
        (T, onset, size): the maximal standardized upward shift, the index where the
        shifted segment starts, and the difference of segment means there.
    """
    arr = np.asarray(x, dtype=float)[None, :]
    t, diff, taus = _segment_stats(arr, min_segment)
    i = int(np.argmax(t[0]))
    return float(t[0, i]), int(taus[i]), float(diff[0, i])


def _cusum(x: np.ndarray, alpha: float, min_size: float, n_perm: int, seed: int) -> DriftResult:
    n = len(x)
    stat, onset, size = changepoint_statistic(x, 2)
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(x, (n_perm, 1)), axis=1)
    null = _segment_stats(perms, 2)[0].max(axis=1)
    p = float((1 + np.sum(null >= stat - 1e-9 * max(1.0, abs(stat)))) / (n_perm + 1))
    flagged = p <= alpha and size >= min_size
    return DriftResult(flagged, onset if size > 0 else None, size, p, "cusum", stat, n)


def _page_path(z: np.ndarray, k: float) -> np.ndarray:
    s = np.zeros(z.shape)
    prev = np.zeros(z.shape[:-1])
    for t in range(z.shape[-1]):
        prev = np.maximum(0.0, prev + z[..., t] - k)
        s[..., t] = prev
    return s


def _standardize(x: np.ndarray, warmup: int) -> np.ndarray:
    base = x[..., :warmup]
    mu = base.mean(axis=-1, keepdims=True)
    sd = base.std(axis=-1, ddof=1, keepdims=True)
    scale = np.maximum(np.abs(x).max(axis=-1, keepdims=True), 1.0)
    return (x - mu) / np.maximum(sd, 0.05 * scale)


@lru_cache(maxsize=256)
def _page_null(n: int, warmup: int, k: float, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = _standardize(rng.standard_normal((n_sim, n)), warmup)
    return np.sort(_page_path(z, k)[:, warmup:].max(axis=1))


def page_threshold(
    n: int, alpha: float = 0.05, warmup: int = 4, k: float = 0.5, n_sim: int = 20000, seed: int = 0
) -> float:
    """Alarm threshold h for Page's CUSUM, set by simulation on no-change series.

    Series of length n are drawn as i.i.d. Gaussian noise (the standardized statistic
    does not depend on the noise level or baseline), standardized by their own warm-up
    exactly as real series are, and h is the (1 - alpha) quantile of the largest CUSUM
    value after warm-up: the chance that a clean series ever alarms is alpha.
    """
    null = _page_null(n, warmup, k, n_sim, seed)
    return float(np.quantile(null, 1 - alpha))


def page_cusum(
    x: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    warmup: int = 4,
    k: float = 0.5,
    min_size: float = 0.0,
    n_sim: int = 20000,
    seed: int = 0,
) -> DriftResult:
    """Online Page CUSUM; see the module docstring."""
    arr = np.asarray(x, dtype=float)
    n = len(arr)
    if n < warmup + 2:
        return DriftResult(False, None, None, None, "page", None, n, "series too short")
    s = _page_path(_standardize(arr, warmup), k)
    h = page_threshold(n, alpha, warmup, k, n_sim, seed)
    after = s[warmup:]
    stat = float(after.max())
    null = _page_null(n, warmup, k, n_sim, seed)
    p = float((1 + len(null) - np.searchsorted(null, stat - 1e-12)) / (len(null) + 1))
    alarms = np.nonzero(after > h)[0]
    if len(alarms) == 0:
        return DriftResult(False, None, None, p, "page", stat, n)
    alarm = warmup + int(alarms[0])
    zeros = np.nonzero(s[:alarm] == 0.0)[0]
    onset = int(zeros[-1]) + 1 if len(zeros) else 0
    onset = max(onset, 1)
    size = float(arr[onset:].mean() - arr[:onset].mean())
    return DriftResult(size >= min_size, onset, size, p, "page", stat, n)


def mann_kendall(x: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mann-Kendall S, its one-sided (upward) p-value, and Sen's slope.

    Uses the normal approximation with the tie correction of the variance and a
    continuity correction of 1 (Kendall 1975; Hipel & McLeod 1994).
    """
    arr = np.asarray(x, dtype=float)
    n = len(arr)
    i, j = np.triu_indices(n, 1)
    d = arr[j] - arr[i]
    s = float(np.sign(d).sum())
    _, counts = np.unique(arr, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(counts * (counts - 1) * (2 * counts + 5)))) / 18
    if var <= 0:
        return s, 1.0, 0.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    p = float(stats.norm.sf(z))
    slope = float(np.median(d / (j - i)))
    return s, p, slope


def _mk(x: np.ndarray, alpha: float, min_size: float) -> DriftResult:
    n = len(x)
    s, p, slope = mann_kendall(x)
    size = slope * n
    onset = changepoint_statistic(x, 2)[1] if size > 0 else None
    flagged = p <= alpha and size >= min_size
    return DriftResult(flagged, onset, size, p, "mann_kendall", s, n)


def detect(
    series: Sequence[float | None],
    method: Method | str = "cusum",
    alpha: float = 0.05,
    min_size: float = 0.0,
    n_perm: int = 4999,
    seed: int = 0,
    min_length: int = 6,
    staged: bool = False,
) -> DriftResult:
    """Test one per-session series for an upward drift.

    Missing values (None or NaN: a session with nothing scored) are dropped for the
    test; the onset returned indexes the series as given, so it maps to sessions.

    Args:
        series: one value per session, in session order.
        method: ``cusum`` (default), ``page`` or ``mann_kendall``.
        alpha: significance level per series (adjust across users with `adjust`).
        min_size: smallest shift worth reporting, in the series' units.
        n_perm: permutations for the ``cusum`` p-value.
        seed: seed of the permutations (results are deterministic).
        min_length: shorter series are not tested (returned unflagged, p_value None).
        staged: a drift may rise in steps (caution, then neutral, then endorsement);
            the change point found first is the largest step, so the part of the series
            before it is tested again, at the same alpha, and an earlier significant rise
            moves the onset there (binary segmentation, leftwards). Whether the series
            drifted, and its p-value, come from the first test alone; the size is
            recomputed for the new onset (Sen's slope stays).
    """
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; known: {', '.join(METHODS)}")
    raw = np.array([np.nan if v is None else float(v) for v in series], dtype=float)
    keep = np.nonzero(~np.isnan(raw))[0]
    x = raw[keep]
    if len(x) < max(min_length, 5):
        return DriftResult(False, None, None, None, method, None, len(x), "series too short")

    def run(y: np.ndarray) -> DriftResult:
        if method == "cusum":
            return _cusum(y, alpha, min_size, n_perm, seed)
        if method == "page":
            return page_cusum(y, alpha=alpha, min_size=min_size, seed=seed)
        return _mk(y, alpha, min_size)

    res = run(x)
    if staged and res.flagged and res.onset is not None:
        onset = res.onset
        while onset >= max(min_length, 5):
            sub = run(x[:onset])
            if not sub.flagged or sub.onset is None or (sub.size or 0.0) < min_size:
                break
            onset = sub.onset
        if onset != res.onset:
            size = (
                res.size if method == "mann_kendall" else float(x[onset:].mean() - x[:onset].mean())
            )
            res = DriftResult(**{**res.to_dict(), "onset": onset, "size": size})
    if res.onset is not None:
        res = DriftResult(**{**res.to_dict(), "onset": int(keep[res.onset])})
    return res


def adjust(p_values: Sequence[float | None], method: str = "bh") -> list[float | None]:
    """Adjust p-values across users: ``bh`` (Benjamini-Hochberg) or ``holm``.

    None (untested) stays None and does not count as a test.
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    ps = np.array([p_values[i] for i in idx], dtype=float)
    m = len(ps)
    out: list[float | None] = [None] * len(p_values)
    if m == 0:
        return out
    order = np.argsort(ps)
    ranked = ps[order]
    if method == "bh":
        adj = ranked * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(adj[::-1])[::-1]
    elif method == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        raise ValueError(f"unknown correction {method!r}; use 'bh' or 'holm'")
    adj = np.minimum(adj, 1.0)
    for rank, j in enumerate(order):
        out[idx[j]] = float(adj[rank])
    return out
