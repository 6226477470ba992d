"""YAML loading that keeps line numbers, so every spec error names file, line and field.

PyYAML's composer gives us nodes with start marks; we build plain Python data from
them while recording, for every path of keys and indices, the line it started on.
When pydantic rejects the data, its error `loc` is looked up in that map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["SpecError", "SpecIssue", "load_model", "load_yaml_with_lines"]

M = TypeVar("M", bound=BaseModel)
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.message}"


class SpecError(Exception):
    """Raised for any invalid spec file; carries every issue found, not just the first."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _construct(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag else key_node.value
            if key in out:
                raise SpecError(
                    [
                        SpecIssue(
                            "",
                            key_node.start_mark.line + 1,
                            ".".join(str(p) for p in (*path, key)),
                            f"duplicate key {key!r}",
                        )
                    ]
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines)
            # the key's own line is more useful than the value's for "unknown field"
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, (*path, i), lines) for i, n in enumerate(node.value)]
    # scalar: let the safe constructor resolve the tag (int, float, bool, null, str)
    return yaml.safe_load(yaml.serialize(node))


def load_yaml_with_lines(path: Path) -> tuple[Any, dict[PathKey, int]]:
    """Parse one YAML file, returning the data and a map from key path to line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue(str(path), None, "", f"cannot read: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue(str(path), line, "", f"invalid YAML: {problem}")]) from None
    lines: dict[PathKey, int] = {}
    if node is None:
        return {}, lines
    try:
        data = _construct(node, (), lines)
    except SpecError as err:
        raise SpecError(
            [SpecIssue(str(path), i.line, i.field, i.message) for i in err.issues]
        ) from None
    return data, lines


def _nearest_line(loc: PathKey, lines: dict[PathKey, int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:cut]))
        if line is not None:
            return line
    return None


def _clean_loc(loc: tuple[Any, ...]) -> Iterator[str | int]:
    # pydantic adds discriminator tags (e.g. 'set_attribute') and function names into
    # `loc` for unions; they are not keys in the file, so keep only real path parts.
    for part in loc:
        if isinstance(part, int):
            yield part
        elif isinstance(part, str) and not part.startswith("function-"):
            yield part


def issues_from_validation(
    exc: ValidationError, file: str, data: Any, lines: dict[PathKey, int]
) -> list[SpecIssue]:
    """Turn a pydantic error into file/line/field issues."""
    issues = []
    for err in exc.errors():
        raw = tuple(_clean_loc(err["loc"]))
        # drop union-member tags that are not keys present in the data
        loc: list[str | int] = []
        cursor: Any = data
        for part in raw:
            if isinstance(cursor, dict) and part in cursor:
                loc.append(part)
                cursor = cursor[part]
            elif isinstance(cursor, list) and isinstance(part, int) and part < len(cursor):
                loc.append(part)
                cursor = cursor[part]
            elif err["type"] in ("missing", "extra_forbidden") and part == raw[-1]:
                loc.append(part)
            # else: a tag pydantic inserted; skip it
        field = ".".join(str(p) for p in loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r}" if loc else "unknown field"
        issues.append(SpecIssue(file, _nearest_line(tuple(loc), lines), field, msg))
    return issues


def load_model(path: Path | str, model: type[M], **context: Any) -> M:
    """Load and validate one YAML spec file into a pydantic model.

    Raises:
        SpecError: with file, line and field for every problem found.
    """
    p = Path(path)
    data, lines = load_yaml_with_lines(p)
    if not isinstance(data, dict):
        raise SpecError([SpecIssue(str(p), 1, "", "expected a mapping at the top level")])
    try:
        return model.model_validate(data, context={"file": p, **context})
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc, str(p), data, lines)) from None
