"""Item values on disk: LangGraph's own serialiser (msgpack with typed extensions).

``InMemoryStore`` keeps values as Python objects, so a ``datetime``, a ``set``, a
``UUID`` or a ``Decimal`` comes back as itself. Plain JSON would raise on the first and
turn the others into strings or lists; LangGraph's ``JsonPlusSerializer`` (the one its
checkpointers use) keeps them. msgpack has one array type, so tuples are boxed before
encoding and unboxed after decoding to come back as tuples.

Deserialisation is limited to LangGraph's safe types plus the tuple box: an arbitrary
class (a pydantic model, say) comes back as its fields, never as a constructed object.
Values written by earlier versions of the store (plain JSON) still load.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

__all__ = ["FORMAT", "TupleBox", "decode_value", "encode_value"]

FORMAT = "jsonplus-msgpack-b64"


@dataclass
class TupleBox:
    """A tuple on its way through msgpack, which would otherwise make it a list."""

    items: list[Any]


_SERDE = JsonPlusSerializer(allowed_msgpack_modules=[(__name__, "TupleBox")])


def _box(obj: Any) -> Any:
    if isinstance(obj, tuple) and not hasattr(obj, "_asdict"):  # a namedtuple has its own ext
        return TupleBox([_box(x) for x in obj])
    if isinstance(obj, list):
        return [_box(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _box(v) for k, v in obj.items()}
    return obj


def _unbox(obj: Any) -> Any:
    if isinstance(obj, TupleBox):
        return tuple(_unbox(x) for x in obj.items)
    if isinstance(obj, list):
        return [_unbox(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _unbox(v) for k, v in obj.items()}
    return obj


def encode_value(value: Mapping[str, Any]) -> str:
    """A value as text for Chroma metadata (base64 of LangGraph's msgpack)."""
    kind, blob = _SERDE.dumps_typed(_box(dict(value)))
    if kind != "msgpack":  # pragma: no cover - a dict always goes through msgpack
        raise TypeError(f"unexpected serialisation {kind!r}")
    return base64.b64encode(blob).decode("ascii")


def decode_value(text: str, fmt: str | None) -> dict[str, Any]:
    """Inverse of :func:`encode_value`; ``fmt`` ``None`` reads the old JSON format."""
    if fmt is None:
        return dict(json.loads(text))
    if fmt != FORMAT:
        raise ValueError(f"unknown value format {fmt!r}")
    out = _unbox(_SERDE.loads_typed(("msgpack", base64.b64decode(text))))
    return dict(out)
