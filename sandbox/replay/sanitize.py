"""Terminal-safe text for the replay views; the one sanitiser lives in `sandbox.text_safety`."""

from __future__ import annotations

from sandbox.text_safety import (
    _UNSAFE,
    _UNSAFE_OR_BREAK,
    CONTROL_STYLE,
    ELLIPSIS_STYLE,
    Highlight,
    clean,
    markup_safe,
    one_line,
    safe_text,
    visible,
)

__all__ = [
    "CONTROL_STYLE",
    "ELLIPSIS_STYLE",
    "_UNSAFE",
    "_UNSAFE_OR_BREAK",
    "Highlight",
    "clean",
    "markup_safe",
    "one_line",
    "safe_text",
    "visible",
]
