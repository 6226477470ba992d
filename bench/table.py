"""`make bench`'s table: nested results as sections, so names fit in 80 columns uncut.

Each nested group becomes a section row (its path, dots shown as ``›``), and its
leaves follow under it by their own short name, indented. A long section path or value
wraps onto further lines inside its cell; names are never cut.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table

INDENT = "  "


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return " ".join(f"{k}={_value(x)}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    return str(v)


def rows(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(label, value, is_section) in order: a section row before each nested group."""
    out: list[tuple[str, str, bool]] = []

    def walk(path: list[str], obj: dict[str, Any]) -> None:
        leaves = [(k, v) for k, v in obj.items() if not isinstance(v, dict)]
        groups = [(k, v) for k, v in obj.items() if isinstance(v, dict)]
        if path and leaves:
            out.append((" › ".join(path), "", True))
        for k, v in leaves:
            out.append((f"{INDENT}{k}" if path else k, _value(v), False))
        for k, v in groups:
            walk([*path, k], v)

    walk([], results)
    return out


def build(results: dict[str, Any], width: int, title: str = "make bench") -> Table:
    """Measure names keep their full width (up to all but 16 columns); values wrap."""
    got = rows(results)
    name_w = min(max((len(r[0]) for r in got if not r[2]), default=8), width - 16)
    # three borders and one space of padding on each inner side
    value_w = max(min(max((len(r[1]) for r in got), default=5), width - 5 - name_w), 5)
    t = Table(title=title, expand=False, pad_edge=False)
    t.add_column("measure", overflow="fold", width=name_w)
    t.add_column("value", justify="right", overflow="fold", width=value_w)
    for label, value, section in got:
        if section:
            t.add_row(f"[bold]{label}[/]", "", end_section=False)
        else:
            t.add_row(label, value)
    return t


def render(results: dict[str, Any], width: int, title: str = "make bench") -> str:
    """The table as plain text at a given terminal width (for tests and logs)."""
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(
        build(results, width, title)
    )
    return buf.getvalue()
