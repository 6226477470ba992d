"""Which composed failures an ablation could not confirm for want of seeds, and how many it needs.

A combination that *looks* composed (its mean above every sub-combination's and its
interaction positive) but is not significant after Holm may be real and underpowered.
For each such one this says how many paired seeds the binding test would need: the
claim is an intersection-union test, so every one of its contrasts (the combination
against each part, and its interaction) must pass; the estimate per contrast is the
t-test power of :func:`sandbox.analysis.stats.t_seeds_needed` at alpha / m (m the number
of claims Holm corrects over, its first step) and 80% power.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from sandbox.analysis.composition import Cell, MetricTable, cell_name
from sandbox.analysis.stats import t_seeds_needed

__all__ = ["POWER", "underpowered_claims"]

POWER = 0.8
#: Beyond this the estimate is reported as "more than".
MAX_SEEDS = 1000


def _contrasts(cell: Cell, index: Mapping[Cell, int]) -> list[dict[int, float]] | None:
    """The claim's contrasts: the cell minus each proper subset, and its interaction."""
    subs = [frozenset(t) for r in range(len(cell)) for t in itertools.combinations(sorted(cell), r)]
    if any(t not in index for t in subs):
        return None
    ic = index[cell]
    out: list[dict[int, float]] = [{ic: 1.0, index[t]: -1.0} for t in subs]
    interaction = {index[t]: float((-1) ** (len(cell) - len(t))) for t in subs}
    interaction[ic] = 1.0
    out.append(interaction)
    return out


def underpowered_claims(
    table: MetricTable, analysis: Mapping[str, Any], alpha: float
) -> list[dict[str, Any]]:
    """Combinations that look composed but were not confirmed, with the seeds they need.

    Args:
        table: the ablation's values (cells x seeds per metric).
        analysis: its analysis as written to composition.json (composed failures, the
            number of claims tested).
        alpha: the family-wise level of the analysis.
    """
    confirmed = {(f["metric"], f["cell"]) for f in analysis.get("composed_failures", [])}
    for f in analysis.get("composed_failures", []):
        for sup in f.get("supersets", []):
            confirmed.add((f["metric"], "+".join(c for c in table.components if c in sup)))
    m = max(1, int(analysis.get("hypotheses_tested") or 1))
    index = {c: i for i, c in enumerate(table.cells)}
    out: list[dict[str, Any]] = []
    for metric in sorted(table.values):
        vals = table.values[metric]
        for cell in table.cells:
            name = cell_name(cell, table.components)
            if len(cell) < 2 or (metric, name) in confirmed:
                continue
            contrasts = _contrasts(cell, index)
            if contrasts is None:
                continue
            rows = [np.array([c.get(i, 0.0) for i in range(len(table.cells))]) for c in contrasts]
            common = np.all(np.isfinite(vals), axis=0)
            diffs = [w @ vals[:, common] for w in rows]
            if not all(d.size and float(d.mean()) > 0 for d in diffs):
                continue  # does not look composed: nothing to power
            n = int(common.sum())
            needs = [t_seeds_needed(d, alpha / m, POWER, MAX_SEEDS) for d in diffs]
            need = max((x for x in needs if x is not None), default=None)
            beyond = n >= 2 and any(x is None for x in needs)
            if not beyond and need is not None and need <= n:
                continue  # enough seeds: a real non-result, not a power problem
            if n < 2:
                note = f"underpowered: {n} seed(s), need at least 2 paired seeds"
            elif beyond:
                need = None
                note = f"underpowered: {n} seed(s), need more than {MAX_SEEDS}"
            else:
                note = f"underpowered: {n} seed(s), need about {need}"
            out.append(
                {
                    "metric": metric,
                    "cell": name,
                    "combination": [c for c in table.components if c in cell],
                    "seeds": n,
                    "need": need,
                    "note": note,
                }
            )
    return out
