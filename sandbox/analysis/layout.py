"""Fitting wide tables to the terminal: headers broken between words, column groups.

Metric names such as ``leak_surfaced_per_1k`` are headers that rich would cut
(``leak_s…``) in a narrow column. Here a header is broken after its separators
(``_ . - /`` and spaces) instead, so the narrowest a column can be is its longest word
or value, and the columns that do not fit beside each other go to a further table
that repeats the leading (row label) columns. Nothing is cut inside a word or number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.text import Text

__all__ = ["column_groups", "header", "header_width", "table_width"]

_BREAK = re.compile(r"(?<=[_./\- ])")


def _pieces(name: str) -> list[str]:
    return [p for p in _BREAK.split(name) if p]


def header_width(name: str) -> int:
    """The narrowest a header can be broken to: its longest piece between separators."""
    return max((len(p.rstrip()) for p in _pieces(name)), default=0)


def header(name: str, width: int) -> Text:
    """`name` on lines of at most `width` characters, broken only after a separator."""
    width = max(width, header_width(name))
    lines: list[str] = []
    line = ""
    for piece in _pieces(name):
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    if line or not lines:
        lines.append(line.rstrip())
    return Text("\n".join(lines))


def table_width(widths: Sequence[int]) -> int:
    """Cells of a rich table with the default box and padding: each column adds 3."""
    return sum(widths) + 3 * len(widths) + 1


def column_groups(lead: Sequence[int], widths: Sequence[int], total: int) -> list[list[int]]:
    """Split columns (indices into `widths`) into tables no wider than `total`.

    Every table repeats the `lead` columns. Order is kept; a column too wide to share a
    table gets one of its own.
    """
    groups: list[list[int]] = []
    cur: list[int] = []
    for i, w in enumerate(widths):
        trial = [*lead, *(widths[j] for j in cur), w]
        if cur and table_width(trial) > total:
            groups.append(cur)
            cur = []
        cur.append(i)
    if cur or not groups:
        groups.append(cur)
    return groups
