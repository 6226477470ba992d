"""Make untrusted text safe to put on a terminal: the one sanitiser every printer uses.

Spec files, file names, agent replies and simulated-user lines are attacker-controlled:
they can carry ANSI escapes (clear the screen, set the title, write the clipboard through
OSC 52), C1 controls that some terminals obey, bidi overrides that reorder what is shown, invisible
tag characters that smuggle instructions, lone surrogates that crash an encoder, and
megabyte-long lines. rich's `Text()` and `markup.escape()` leave all of these alone, so
every untrusted string goes through here first: spec fields, file names, run data and
transcripts alike, whichever command prints them. Nothing is dropped silently: each
unsafe character becomes a visible stand-in (ESC shows as ``␛``), so a reader can see
that a reply tried something.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.markup import escape
from rich.text import Text

__all__ = ["CONTROL_STYLE", "clean", "markup_safe", "one_line", "safe_text", "visible"]

CONTROL_STYLE = "reverse"
ELLIPSIS_STYLE = "dim italic"

# C0 (but \n and \t), DEL, C1, soft hyphen, Arabic letter mark, Mongolian vowel
# separator, zero-width space, LRM/RLM, line/paragraph separators, bidi embeddings,
# overrides and isolates, word joiner.. invisible operators, BOM, interlinear
# annotation, lone surrogates, and Unicode tag characters (ASCII smuggling).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_UNSAFE_OR_BREAK = re.compile(_UNSAFE.pattern[:-1] + "\n\t]")


def visible(ch: str) -> str:
    """The printable stand-in for one unsafe character."""
    code = ord(ch)
    if ch == "\n":
        return "⏎"
    if ch == "\t":
        return " "
    if code < 0x20:
        return chr(0x2400 + code)  # control pictures: ␀ .. ␟, ESC is ␛
    if code == 0x7F:
        return "␡"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: object, *, multiline: bool = False) -> str:
    """Replace every unsafe character of `text` with its visible stand-in.

    Args:
        text: anything; non-strings are converted with `str()` first.
        multiline: keep newlines and tabs (for bodies); otherwise they become ``⏎``/space.
    """
    s = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE if multiline else _UNSAFE_OR_BREAK
    if pattern.search(s) is None:
        return s
    return pattern.sub(lambda m: visible(m.group()), s)


def markup_safe(text: object) -> str:
    """`clean` for a string that will be read as rich markup: ``[bold]`` stays literal text.

    For places that build a markup string (a progress-bar description, a table cell given
    as ``str``); a `Text` or ``markup=False`` output only needs `clean`.
    """
    return escape(clean(text))


def _append_clean(out: Text, piece: str, style: str, multiline: bool) -> None:
    """Append `piece` to `out`, styling the stand-ins so they stand out."""
    pattern = _UNSAFE if multiline else _UNSAFE_OR_BREAK
    pos = 0
    for m in pattern.finditer(piece):
        if m.start() > pos:
            out.append(piece[pos : m.start()], style)
        out.append(visible(m.group()), f"{style} {CONTROL_STYLE}".strip())
        pos = m.end()
    if pos < len(piece):
        out.append(piece[pos:], style)


def one_line(text: object, max_chars: int = 160, style: str = "") -> Text:
    """A single-line, length-capped, sanitized Text (for hits, memory items, table cells)."""
    s = text if isinstance(text, str) else str(text)
    out = Text()
    if len(s) > max_chars:
        _append_clean(out, s[:max_chars], style, False)
        out.append(f"…(+{len(s) - max_chars} chars)", ELLIPSIS_STYLE)
    else:
        _append_clean(out, s, style, False)
    return out


Highlight = tuple[int, int, str]


def _normalize(highlights: Sequence[Highlight], n: int) -> list[Highlight]:
    """Clip spans to the text, drop empty ones, and resolve overlaps (first wins)."""
    spans = sorted((max(0, a), min(n, b), st) for a, b, st in highlights if min(n, b) > max(0, a))
    out: list[Highlight] = []
    for a, b, st in spans:
        if out and a < out[-1][1]:
            a = out[-1][1]
            if a >= b:
                continue
        out.append((a, b, st))
    return out


def _windows(a: int, b: int, spans: list[Highlight], max_line: int) -> list[tuple[int, int]]:
    """Which parts of the line [a, b) to show: the head, plus context around highlights."""
    if b - a <= max_line:
        return [(a, b)]
    keep = [(a, a + max_line)]
    for s, e, _ in [h for h in spans if h[0] < b and h[1] > a][:5]:
        keep.append((max(a, s - 40), min(b, e + 40)))
    keep.sort()
    merged: list[tuple[int, int]] = []
    for s, e in keep:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def safe_text(
    text: object,
    *,
    style: str = "",
    highlights: Sequence[Highlight] = (),
    max_line: int = 1000,
    max_lines: int = 200,
    marks: tuple[str, str] | None = None,
) -> Text:
    """Render untrusted multi-line text as a rich Text, with highlighted character spans.

    Offsets in `highlights` index the original string, so evidence spans recorded by
    monitors land on the right characters even when sanitizing changes lengths. Long
    lines keep their head and a window around each highlight; long texts keep their
    first `max_lines` lines and any line with a highlight. Every cut is marked with the
    number of characters or lines left out.

    Args:
        text: the untrusted string.
        style: base style of the text.
        highlights: (start, end, style) character spans into `text`.
        max_line: characters shown per line before eliding.
        max_lines: lines shown before eliding.
        marks: optional visible brackets around highlights, for output without colour.
    """
    s = text if isinstance(text, str) else str(text)
    spans = _normalize(highlights, len(s))
    out = Text(style=style)
    lines: list[tuple[int, int]] = []
    pos = 0
    for part in s.split("\n"):
        end = pos + len(part)
        lines.append((pos, end - 1 if part.endswith("\r") else end))
        pos = end + 1
    hot = {i for i, (a, b) in enumerate(lines) for h in spans if h[0] < max(b, a + 1) and h[1] > a}
    skipped = 0
    first = True
    for i, (a, b) in enumerate(lines):
        if i >= max_lines and i not in hot:
            skipped += 1
            continue
        if not first:
            out.append("\n")
        first = False
        if skipped:
            out.append(f"…(+{skipped} lines)…\n", ELLIPSIS_STYLE)
            skipped = 0
        prev_end = a
        for wa, wb in _windows(a, b, spans, max_line):
            if wa > prev_end:
                out.append(f"…(+{wa - prev_end} chars)…", ELLIPSIS_STYLE)
            _append_span(out, s, wa, wb, spans, style, marks)
            prev_end = wb
        if b > prev_end:
            out.append(f"…(+{b - prev_end} chars)", ELLIPSIS_STYLE)
    if skipped:
        out.append(f"\n…(+{skipped} lines)", ELLIPSIS_STYLE)
    return out


def _append_span(
    out: Text,
    s: str,
    a: int,
    b: int,
    spans: list[Highlight],
    style: str,
    marks: tuple[str, str] | None,
) -> None:
    """Append s[a:b], splitting at highlight boundaries."""
    pos = a
    for hs, he, hstyle in spans:
        if he <= pos or hs >= b:
            continue
        hs, he = max(hs, pos), min(he, b)
        if hs > pos:
            _append_clean(out, s[pos:hs], style, True)
        if marks:
            out.append(marks[0], hstyle)
        _append_clean(out, s[hs:he], f"{style} {hstyle}".strip(), True)
        if marks:
            out.append(marks[1], hstyle)
        pos = he
    if pos < b:
        _append_clean(out, s[pos:b], style, True)
