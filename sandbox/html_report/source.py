"""What a report path holds: a run folder, a suite folder (or its result.json) or an ablation.

A run is found by `sandbox.replay.runs.resolve_run` (a folder, an id under the runs
folder, or a unique suffix); a suite by its result.json; an ablation by composition.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sandbox.replay.runs import RunNotFoundError, resolve_run

__all__ = ["ReportInputError", "Source", "detect_source", "load_json_object"]

Kind = Literal["run", "suite", "ablation"]


class ReportInputError(ValueError):
    """The path names no run, suite or ablation, or a file in it is unreadable."""


@dataclass(frozen=True)
class Source:
    """A report's input: its kind and its folder (the file read for suites/ablations)."""

    kind: Kind
    folder: Path
    file: Path | None = None


def load_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from `path`.

    Raises:
        ReportInputError: naming the file, with the line and column of a syntax error.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ReportInputError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{path}:{exc.lineno}:{exc.colno}: {what} is not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path}: {what} must be a JSON object, not {type(data).__name__}")
    return data


def detect_source(path: str, runs_dir: Path) -> Source:
    """Decide what `path` is.

    Raises:
        ReportInputError: when it is none of a run, a suite or an ablation.
    """
    p = Path(path)
    if p.is_file() and p.name in ("result.json", "composition.json"):
        p = p.parent
    if p.is_dir() and (p / "result.json").is_file():
        return Source("suite", p, p / "result.json")
    if p.is_dir() and (p / "composition.json").is_file():
        return Source("ablation", p, p / "composition.json")
    try:
        return Source("run", resolve_run(path, runs_dir))
    except RunNotFoundError as exc:
        if p.exists():
            raise ReportInputError(
                f"{p}: not a run (run.json or events.jsonl), a suite (result.json) "
                "or an ablation (composition.json)"
            ) from None
        raise ReportInputError(str(exc)) from None
