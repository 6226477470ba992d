"""Reading labelled JSON Lines corpora with errors that name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_objects"]


def read_objects(path: Path, error: type[Exception]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON Lines file.

    Raises:
        error: (the caller's error type) for an unreadable file, text that is not UTF-8,
            a line that is not JSON, or a line that is not a JSON object.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{n}: not JSON: {exc.msg}") from None
        if not isinstance(obj, dict):
            raise error(f"{path}:{n}: expected a JSON object")
        out.append((n, obj))
    return out
