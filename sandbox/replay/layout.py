"""Deliberate layout for fixed-width terminals: wrap at chosen separators, flow items.

Shared by every view that lays a table out for the console's width rather than leave
rich to cut a word.
"""

from __future__ import annotations

from rich.text import Text

__all__ = ["flow", "wrap_at"]


def wrap_at(text: str, width: int, seps: str = "/+ ", fallback: str = "-_:,") -> list[str]:
    """Lines of at most `width` characters, broken after a separator where possible.

    Breaks come after one of `seps`; a piece still longer than a line is broken after
    one of `fallback`, and only a piece with neither is cut.
    """
    width = max(1, width)

    def pieces(s: str, chars: str) -> list[str]:
        out: list[str] = []
        cur = ""
        for ch in s:
            cur += ch
            if ch in chars:
                out.append(cur)
                cur = ""
        if cur:
            out.append(cur)
        return out

    parts: list[str] = []
    for piece in pieces(text, seps):
        parts.extend([piece] if len(piece) <= width or not fallback else pieces(piece, fallback))
    lines: list[str] = []
    line = ""
    for piece in parts:
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        while len(piece) > width:
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def flow(items: list[Text], width: int, sep: str = "  ", indent: int = 0) -> list[Text]:
    """Pack `items` into lines of at most `width` cells, breaking only between items.

    An item wider than a line gets a line of its own, cut with an ellipsis.
    """
    lines: list[Text] = []
    line = Text(" " * indent)
    used = indent
    room = max(8, width - indent)
    for item in items:
        item = item.copy()
        if item.cell_len > room:
            item.truncate(room, overflow="ellipsis")
        need = item.cell_len + (len(sep) if used > indent else 0)
        if used > indent and used + need > width:
            lines.append(line)
            line = Text(" " * indent)
            used = indent
            need = item.cell_len
        if used > indent:
            line.append(sep)
        line.append_text(item)
        used += need
    if used > indent or not lines:
        lines.append(line)
    return lines
