"""YAML loading that keeps line numbers, so every spec error names file, line and field.

PyYAML's composer gives us nodes with start marks; we build plain Python data from
them while recording, for every path of keys and indices, the line it started on.
When pydantic rejects the data, its error `loc` is looked up in that map.

The loader is built for files from anywhere: it never executes tags (only the plain
YAML types are accepted: mapping, sequence, string, integer, float, boolean, null and
timestamps, which are kept as their text), and it bounds what a file may cost before
any of it is built: file size, nesting depth, the number of values after alias
expansion (a "billion laughs" file stops at the limit), recursive aliases, and the
length of numbers. Every problem becomes a :class:`SpecError` naming file and line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sandbox.text_safety import clean

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NUMBER_CHARS",
    "MAX_VALUES",
    "SpecError",
    "SpecIssue",
    "load_model",
    "load_yaml_with_lines",
    "printable",
]

M = TypeVar("M", bound=BaseModel)
PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 256 * 1024  # a spec file is a few kB; 256 KiB is generous
MAX_DEPTH = 48  # nesting of mappings and sequences
MAX_VALUES = 20_000  # values parsed, and built counting each alias expansion again
MAX_NUMBER_CHARS = 64  # longer integers or floats are refused, not converted

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG = f"{_TAG}map"
_SEQ_TAG = f"{_TAG}seq"
_MERGE_TAG = f"{_TAG}merge"


def printable(text: str) -> str:
    """`text` safe for a terminal: controls and bidi overrides shown as visible stand-ins."""
    return clean(text)


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
        return printable(f"{where}{field}: {self.message}")


class SpecError(Exception):
    """Raised for any invalid spec file; carries every issue found, not just the first."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class _Problem(Exception):
    """A problem found while building data from nodes, at a line and key path."""

    def __init__(self, line: int | None, path: PathKey, message: str):
        super().__init__(message)
        self.line = line
        self.path = path
        self.message = message


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader's composer with limits on nesting (it is recursive) and on node count."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_VALUES:
                mark = self.peek_event().start_mark
                raise _Problem(mark.line + 1, (), f"more than {MAX_VALUES} values")
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Problem(mark.line + 1, (), f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_CONSTRUCTOR = yaml.SafeLoader("")


class _Builder:
    """Builds plain data from a node graph within the value budget, recording lines."""

    def __init__(self) -> None:
        self.lines: dict[PathKey, int] = {}
        self.count = 0
        self.active: set[int] = set()

    def scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        tag = node.tag
        line = node.start_mark.line + 1
        if tag not in _SCALAR_TAGS:
            raise _Problem(
                line, path, f"unsupported tag {_short_tag(tag)!r} (only plain YAML values)"
            )
        if tag == f"{_TAG}str":
            return node.value
        if tag == f"{_TAG}timestamp":
            return node.value  # dates stay text; the models check them
        if tag in (f"{_TAG}int", f"{_TAG}float") and len(node.value) > MAX_NUMBER_CHARS:
            raise _Problem(
                line,
                path,
                f"number too long ({len(node.value)} characters, at most {MAX_NUMBER_CHARS})",
            )
        try:
            return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
        except (ValueError, KeyError, TypeError, ArithmeticError, yaml.YAMLError):
            raise _Problem(
                line, path, f"{node.value[:60]!r} is not a valid {_short_tag(tag)}"
            ) from None

    def key(self, node: yaml.Node, path: PathKey) -> str:
        line = node.start_mark.line + 1
        if node.tag == _MERGE_TAG:
            raise _Problem(line, path, "merge keys (<<) are not supported; write the keys out")
        if not isinstance(node, yaml.ScalarNode):
            raise _Problem(
                line, path, "complex keys (a mapping or list as a key) are not supported"
            )
        if node.tag not in _SCALAR_TAGS:
            raise _Problem(line, path, f"unsupported tag {_short_tag(node.tag)!r} on a key")
        # keys are names: `1:` or `yes:` mean the text as written
        return node.value

    def build(self, node: yaml.Node, path: PathKey, depth: int = 0) -> Any:
        line = node.start_mark.line + 1
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Problem(line, path, f"more than {MAX_VALUES} values once aliases are expanded")
        if depth > MAX_DEPTH:
            raise _Problem(line, path, f"nested deeper than {MAX_DEPTH} levels (through aliases)")
        self.lines[path] = line
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            raise _Problem(line, path, "recursive alias (a value that contains itself)")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                if node.tag != _MAP_TAG:
                    raise _Problem(
                        line, path, f"unsupported tag {_short_tag(node.tag)!r} on a mapping"
                    )
                out: dict[str, Any] = {}
                for key_node, value_node in node.value:
                    key = self.key(key_node, path)
                    key_line = key_node.start_mark.line + 1
                    if key in out:
                        raise _Problem(key_line, (*path, key), f"duplicate key {key!r}")
                    out[key] = self.build(value_node, (*path, key), depth + 1)
                    # the key's own line is more useful than the value's for "unknown field"
                    self.lines[(*path, key)] = key_line
                return out
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise _Problem(
                        line, path, f"unsupported tag {_short_tag(node.tag)!r} on a list"
                    )
                return [self.build(n, (*path, i), depth + 1) for i, n in enumerate(node.value)]
            raise _Problem(line, path, f"unexpected YAML node {type(node).__name__}")
        finally:
            self.active.discard(id(node))


def _read_text(path: Path) -> str:
    def fail(message: str, line: int | None = None) -> SpecError:
        return SpecError([SpecIssue(str(path), line, "", message)])

    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise fail("file not found") from None
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read: {exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise fail("is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise fail("not a regular file")  # a FIFO or device would block or never end
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise fail(
            f"cannot read: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(f"not UTF-8 text (byte {exc.start})", line) from None


def _yaml_issue(path: Path, text: str, exc: yaml.YAMLError) -> SpecIssue:
    line: int | None = None
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        problem = f"character {exc.character!r} is not allowed in YAML"
    else:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and "expected a single document" in context:
            problem = "more than one YAML document (---) in the file; keep one"
    return SpecIssue(str(path), line or 1, "", f"invalid YAML: {problem}")


def load_yaml_with_lines(path: Path) -> tuple[Any, dict[PathKey, int]]:
    """Parse one YAML file, returning the data and a map from key path to line number.

    Raises:
        SpecError: naming the file and line for unreadable, oversized, malformed or
            hostile YAML (unsupported tags, merge or complex keys, alias bombs,
            recursive aliases, deep nesting, overlong numbers).
    """
    text = _read_text(path)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
    except _Problem as p:
        raise SpecError([SpecIssue(str(path), p.line, "", p.message)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([_yaml_issue(path, text, exc)]) from None
    except RecursionError:  # defensive: the depth limit should come first
        raise SpecError([SpecIssue(str(path), 1, "", "nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return {}, {(): 1}
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except _Problem as p:
        field = ".".join(str(k) for k in p.path)
        raise SpecError([SpecIssue(str(path), p.line, field, p.message)]) from None
    except RecursionError:
        raise SpecError([SpecIssue(str(path), 1, "", "nested too deeply")]) from None
    return data, builder.lines


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
