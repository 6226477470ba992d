"""Ablation designs: which subsets ("cells") of the named components are run.

A cell is a frozenset of the named components switched on; components of the agent
config that were not named stay as configured in every cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

__all__ = ["DESIGNS", "Cell", "cell_key", "cell_name", "design_cells", "effective_components"]

Cell = frozenset[str]
DESIGNS: tuple[str, ...] = ("full", "pairs", "ofat")


def cell_key(cell: Cell, order: Sequence[str]) -> tuple[int, tuple[int, ...]]:
    """Sort key: smaller cells first, then by the components' order."""
    return (len(cell), tuple(sorted(order.index(c) for c in cell)))


def design_cells(components: Sequence[str], design: str = "full") -> list[Cell]:
    """The cells of a design over `components`, smallest first.

    * ``full``: all 2^k subsets (the only design where every interaction is estimable).
    * ``pairs``: none, each component alone, each pair, and all together - tests every
      pairwise composition with k^2/2 cells instead of 2^k.
    * ``ofat`` (one at a time): none, each alone, all together, and all but each one -
      main effects from both ends; composition is only testable for k = 2.
    """
    comps = list(components)
    if len(set(comps)) != len(comps) or not comps:
        raise ValueError("components must be a non-empty list of distinct names")
    k = len(comps)
    if design == "full":
        cells = {frozenset(c) for r in range(k + 1) for c in itertools.combinations(comps, r)}
    elif design == "pairs":
        cells = {frozenset(c) for r in (0, 1, 2) for c in itertools.combinations(comps, r)}
        cells.add(frozenset(comps))
    elif design == "ofat":
        cells = {frozenset(), frozenset(comps)}
        cells |= {frozenset([c]) for c in comps}
        cells |= {frozenset(comps) - {c} for c in comps}
    else:
        raise ValueError(f"unknown design {design!r}; known: {', '.join(DESIGNS)}")
    return sorted(cells, key=lambda c: cell_key(c, comps))


def cell_name(cell: Cell, components: Sequence[str]) -> str:
    """A folder-safe, readable name: ``none`` or the components joined by ``+``."""
    return "+".join(c for c in components if c in cell) or "none"


def effective_components(
    cell: Cell, named: Sequence[str], configured: Sequence[str], order: Sequence[str] = ()
) -> list[str]:
    """Components switched on in a cell: the named ones in the cell, others as configured."""
    on = [c for c in configured if c not in named] + [c for c in named if c in cell]
    rank = {c: i for i, c in enumerate(order)}
    return sorted(dict.fromkeys(on), key=lambda c: rank.get(c, len(rank)))
