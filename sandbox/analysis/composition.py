"""Composition analysis: which combinations of personalization components cause failures.

An ablation runs one scenario under subsets ("cells") of named components, every cell
with the same seeds. From a table of failure metrics
(cells x seeds) computes:

* **Cell means** with percentile-bootstrap intervals over seeds. Seeds are resampled
  jointly across cells (they are paired: same users, same words), so differences and
  effects get paired intervals.
* **Effects** by the Möbius (treatment-coded, "Yates on the 0/1 lattice") decomposition
  of cell means, anchored at the all-off cell:
  ``effect(S) = sum_{T ⊆ S} (-1)^{|S|-|T|} mean(T)``. ``effect({})`` is the baseline,
  ``effect({a})`` the main effect of switching *a* on alone, ``effect({a,b})`` the
  pairwise interaction (what *a* and *b* together add beyond their separate effects),
  and so on; the effects of all subsets of a cell sum to its mean, so an additive table
  has every interaction exactly 0. Computed for every S whose sub-cells all ran. For a
  full factorial the classic Yates (±1 effect-coded) main effects and interactions,
  averaged over the other components, are reported as well.
* **Composed failures**: a combination C (|C| >= 2) whose metric is significantly worse
  than in *every* proper sub-combination (the all-off cell and each component alone
  included) *and* whose own interaction effect(C) is significantly positive, i.e. the
  failure is not the sum of the parts. The claim is an intersection-union test, so its
  p-value is the largest of its one-sided paired t-tests (see :mod:`stats`); p-values
  of all (metric, C) claims are Holm-corrected together. Only the smallest such C is
  listed for each failure (larger ones are kept as its ``supersets``); they are ranked
  by margin over the worst sub-combination relative to the metric's spread over cells.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.analysis.composition_design import (
    DESIGNS,
    Cell,
    cell_key,
    cell_name,
    design_cells,
    effective_components,
)
from sandbox.analysis.composition_metrics import METRIC_DOCS, extract_metrics, read_run_metrics
from sandbox.analysis.stats import bootstrap_means, contrast_test, holm, nan_mean, percentile_ci
from sandbox.record.writer import write_json_atomic

__all__ = [
    "COMPOSITION_FORMAT",
    "DESIGNS",
    "Cell",
    "CompositionAnalysis",
    "MetricTable",
    "analyze",
    "cell_name",
    "design_cells",
    "effective_components",
    "extract_metrics",
    "read_run_metrics",
    "write_composition",
]

COMPOSITION_FORMAT = "persona-sandbox-composition/1"


@dataclass
class MetricTable:
    """Metric values per cell and seed: ``values[metric]`` is (cells, seeds), NaN = absent."""

    components: tuple[str, ...]
    cells: tuple[Cell, ...]
    seeds: tuple[int, ...]
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_records(
        cls,
        components: Sequence[str],
        cells: Sequence[Cell],
        seeds: Sequence[int],
        records: Mapping[tuple[Cell, int], Mapping[str, float] | None],
    ) -> MetricTable:
        """Build from per-run metric dicts keyed by (cell, seed); missing runs are NaN."""
        names = sorted({m for r in records.values() if r for m in r})
        table = cls(tuple(components), tuple(cells), tuple(seeds))
        for m in names:
            arr = np.full((len(cells), len(seeds)), np.nan)
            for i, c in enumerate(cells):
                for j, s in enumerate(seeds):
                    v = (records.get((c, s)) or {}).get(m)
                    if v is not None:
                        arr[i, j] = v
            table.values[m] = arr
        return table


@dataclass(frozen=True)
class ComposedFailure:
    """A metric that is worse in a combination than in every part of it, beyond additivity."""

    metric: str
    combination: Cell
    mean: float
    ci: tuple[float, float]
    worst_sub: Cell
    worst_sub_mean: float
    margin: float
    relative_margin: float
    interaction: float
    interaction_ci: tuple[float, float]
    p_value: float
    p_adjusted: float
    supersets: tuple[Cell, ...] = ()


@dataclass
class CompositionAnalysis:
    """Everything composition.json holds about the metrics (see the module docstring)."""

    table: MetricTable
    alpha: float
    n_boot: int
    cell_stats: dict[str, list[dict[str, Any]]]
    effects: dict[str, list[dict[str, Any]]]
    factorial: dict[str, list[dict[str, Any]]]
    composed: list[ComposedFailure]
    tested: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; cells are written as lists in component order."""
        comps = self.table.components

        def names(c: Cell) -> list[str]:
            return [x for x in comps if x in c]

        return {
            "metrics": sorted(self.table.values),
            "metric_docs": {m: METRIC_DOCS[m] for m in self.table.values if m in METRIC_DOCS},
            "cell_stats": self.cell_stats,
            "effects": self.effects,
            "factorial_effects": self.factorial,
            "hypotheses_tested": self.tested,
            "composed_failures": [
                {
                    "rank": i + 1,
                    "metric": f.metric,
                    "combination": names(f.combination),
                    "cell": cell_name(f.combination, comps),
                    "mean": f.mean,
                    "ci": list(f.ci),
                    "worst_sub_combination": names(f.worst_sub),
                    "worst_sub_mean": f.worst_sub_mean,
                    "margin": f.margin,
                    "relative_margin": f.relative_margin,
                    "interaction": f.interaction,
                    "interaction_ci": list(f.interaction_ci),
                    "p_value": f.p_value,
                    "p_holm": f.p_adjusted,
                    "supersets": [names(s) for s in f.supersets],
                }
                for i, f in enumerate(self.composed)
            ],
            "method": {
                "cell_ci": "percentile bootstrap over seeds, seeds resampled jointly (paired)",
                "effects": "Möbius on the 0/1 lattice: effect(S) = sum_{T⊆S} "
                "(-1)^{|S|-|T|} mean(T); factorial_effects: Yates ±1 coding (full design)",
                "composed_failure": "mean(C) > mean(T) for every T ⊊ C and effect(C) > 0, "
                "one-sided paired t-tests, intersection-union p = max, Holm over all "
                "(metric, C) tested",
                "alpha": self.alpha,
                "ci_level": 1 - self.alpha,
                "n_boot": self.n_boot,
            },
        }


def _mobius_coef(s: Cell, index: Mapping[Cell, int]) -> dict[int, float] | None:
    coef: dict[int, float] = {}
    for r in range(len(s) + 1):
        for t in itertools.combinations(sorted(s), r):
            i = index.get(frozenset(t))
            if i is None:
                return None
            coef[i] = float((-1) ** (len(s) - r))
    return coef


def _ci(x: tuple[float, float]) -> list[float]:
    return [x[0], x[1]]


@dataclass(frozen=True)
class _Candidate:
    """One (metric, combination) claim before multiplicity correction."""

    metric: str
    cell: Cell
    p: float
    mean: float
    ci: tuple[float, float]
    worst: Cell
    worst_mean: float
    interaction: float
    interaction_ci: tuple[float, float]


class _MetricAnalysis:
    """Per-metric work: cell means, bootstrap replicates, effects and candidate tests."""

    def __init__(self, table: MetricTable, metric: str, alpha: float, n_boot: int, seed: int):
        self.table, self.metric, self.level = table, metric, 1 - alpha
        self.vals = table.values[metric]
        self.index = {c: i for i, c in enumerate(table.cells)}
        rng = np.random.default_rng([seed, zlib.crc32(metric.encode())])
        self.boot = bootstrap_means(self.vals, n_boot, rng)  # (n_boot, cells)
        self.means = nan_mean(self.vals, axis=1)

    def _names(self, c: Cell) -> list[str]:
        return [x for x in self.table.components if x in c]

    def contrast(self, coef: Mapping[int, float]) -> tuple[float, tuple[float, float]]:
        """Point estimate and bootstrap interval of a linear contrast of cell means."""
        idx, w = list(coef), np.array(list(coef.values()))
        return float(w @ self.means[idx]), percentile_ci(self.boot[:, idx] @ w, self.level)

    def cell_stats(self) -> list[dict[str, Any]]:
        """Mean, interval and number of seeds of every cell."""
        out = []
        for i, c in enumerate(self.table.cells):
            n = int(np.isfinite(self.vals[i]).sum())
            ci = _ci(percentile_ci(self.boot[:, i], self.level)) if n else None
            mean = float(self.means[i]) if n else None
            out.append(
                {"cell": cell_name(c, self.table.components), "mean": mean, "ci": ci, "n": n}
            )
        return out

    def effects(self) -> list[dict[str, Any]]:
        """Möbius effects of every cell whose sub-cells all ran."""
        out = []
        for s in self.table.cells:
            coef = _mobius_coef(s, self.index)
            if coef is not None:
                est, ci = self.contrast(coef)
                out.append(self._effect(s, est, ci))
        return out

    def factorial(self) -> list[dict[str, Any]]:
        """Yates (±1 coded) main effects and interactions; only for a full factorial."""
        cells, k = self.table.cells, len(self.table.components)
        if len(cells) != 2**k:
            return []
        out = []
        for s in cells:
            if s:
                sign = [np.prod([1.0 if x in c else -1.0 for x in s]) for c in cells]
                coef = {i: float(v) / 2 ** (k - 1) for i, v in enumerate(sign)}
                out.append(self._effect(s, *self.contrast(coef)))
        return out

    def _effect(self, s: Cell, est: float, ci: tuple[float, float]) -> dict[str, Any]:
        return {"combination": self._names(s), "order": len(s), "estimate": est, "ci": _ci(ci)}

    def candidates(self) -> list[_Candidate]:
        """Every combination of two or more whose sub-cells all ran, with its IUT p-value."""
        out = []
        for c in self.table.cells:
            coef = _mobius_coef(c, self.index)
            ic = self.index[c]
            if len(c) < 2 or coef is None or not np.isfinite(self.means[ic]):
                continue
            subs = [t for t in coef if t != ic]
            ps = [contrast_test(self.vals[[ic, t]], [1.0, -1.0]).p_value for t in subs]
            rows = list(coef)
            ps.append(contrast_test(self.vals[rows], [coef[r] for r in rows]).p_value)
            p = float("nan") if any(np.isnan(ps)) else max(ps)
            worst = max(subs, key=lambda t: (np.nan_to_num(self.means[t], nan=-np.inf), -t))
            est, ici = self.contrast(coef)
            ci = percentile_ci(self.boot[:, ic], self.level)
            out.append(
                _Candidate(
                    self.metric,
                    c,
                    p,
                    float(self.means[ic]),
                    ci,
                    self.table.cells[worst],
                    float(self.means[worst]),
                    est,
                    ici,
                )
            )
        return out


def analyze(
    table: MetricTable, *, alpha: float = 0.05, n_boot: int = 2000, rng_seed: int = 0
) -> CompositionAnalysis:
    """Cell statistics, factorial effects and composed failures for every metric.

    Deterministic: the bootstrap generator is seeded from `rng_seed` and the metric name,
    so a metric's intervals do not depend on which other metrics exist.
    """
    order = table.components
    cell_stats: dict[str, list[dict[str, Any]]] = {}
    effects: dict[str, list[dict[str, Any]]] = {}
    factorial: dict[str, list[dict[str, Any]]] = {}
    candidates: list[_Candidate] = []
    spread: dict[str, float] = {}
    for metric in sorted(table.values):
        ma = _MetricAnalysis(table, metric, alpha, n_boot, rng_seed)
        cell_stats[metric] = ma.cell_stats()
        effects[metric] = ma.effects()
        if f := ma.factorial():
            factorial[metric] = f
        candidates += ma.candidates()
        ms = [x["mean"] for x in cell_stats[metric] if x["mean"] is not None]
        spread[metric] = (max(ms) - min(ms)) if ms else 0.0
    adjusted = holm([c.p for c in candidates])
    tested = sum(1 for c in candidates if np.isfinite(c.p))
    significant = [
        (c, p) for c, p in zip(candidates, adjusted, strict=True) if np.isfinite(p) and p <= alpha
    ]
    composed: list[ComposedFailure] = []
    for c, p in significant:
        same = [o.cell for o, _ in significant if o.metric == c.metric]
        if any(o < c.cell for o in same):
            continue  # a smaller combination already produces this failure
        margin, sp = c.mean - c.worst_mean, spread[c.metric]
        supersets = sorted((o for o in same if o > c.cell), key=lambda o: cell_key(o, order))
        composed.append(
            ComposedFailure(
                c.metric,
                c.cell,
                c.mean,
                c.ci,
                c.worst,
                c.worst_mean,
                margin,
                margin / sp if sp > 0 else 0.0,
                c.interaction,
                c.interaction_ci,
                c.p,
                p,
                tuple(supersets),
            )
        )
    composed.sort(
        key=lambda f: (-f.relative_margin, f.p_adjusted, f.metric, cell_key(f.combination, order))
    )
    return CompositionAnalysis(
        table, alpha, n_boot, cell_stats, effects, factorial, composed, tested
    )


def write_composition(path: Path, header: Mapping[str, Any], analysis: CompositionAnalysis) -> None:
    """Write composition.json atomically: the ablation header plus the analysis."""
    data = {"format": COMPOSITION_FORMAT, **header, **analysis.to_dict()}
    write_json_atomic(Path(path), _finite(data))


def _finite(x: Any) -> Any:
    """Replace NaN/inf by None so the file is strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x
