"""Checking one event's shape: required fields present, known fields of the right JSON type.

Derived from the event models in `sandbox.record.events`, so a new field is checked as
soon as it is declared there. Readers use it to skip a corrupt line instead of failing on
it later (``iter_events(..., checked=True)``).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["check_event"]


def _allowed(annotation: Any) -> tuple[type, ...]:
    """The JSON value types a field annotation admits (object when unsure)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return (object,)
    if annotation is type(None) or annotation is None:
        return (type(None),)
    if origin in (typing.Union, types.UnionType):
        out: tuple[type, ...] = ()
        for arg in typing.get_args(annotation):
            out += _allowed(arg)
        return out
    if origin is typing.Literal:
        return tuple({type(a) for a in typing.get_args(annotation)})
    if origin is typing.Annotated:
        return _allowed(typing.get_args(annotation)[0])
    if annotation is float:
        return (int, float)
    if annotation in (str, int, bool):
        return (annotation,)
    if origin in (list, tuple) or annotation in (list, tuple):
        return (list,)
    if origin is dict or annotation is dict:
        return (dict,)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (dict,)
    return (object,)


def _event_shapes() -> dict[str, tuple[dict[str, tuple[type, ...]], frozenset[str]]]:
    from sandbox.record import events

    shapes = {}
    for cls in typing.get_args(typing.get_args(events.Event)[0]):
        kind = cls.model_fields["kind"].default
        fields = {name: _allowed(f.annotation) for name, f in cls.model_fields.items()}
        required = frozenset(n for n, f in cls.model_fields.items() if f.is_required())
        shapes[kind] = (fields, required)
    return shapes


_SHAPES: dict[str, tuple[dict[str, tuple[type, ...]], frozenset[str]]] | None = None


def check_event(obj: dict[str, Any]) -> str | None:
    """Why an event dict does not have its kind's shape, or None when it does.

    Checks that `kind` is a string, that required fields are present and that known
    fields have the JSON types the schema gives them (unknown kinds, from newer writers,
    and unknown fields are let through). Cheap: no model is built.
    """
    global _SHAPES
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return "no event kind"
    if _SHAPES is None:
        _SHAPES = _event_shapes()
    shape = _SHAPES.get(kind)
    if shape is None:
        return None
    fields, required = shape
    for name in required:
        if name not in obj:
            return f"{kind} event without {name!r}"
    for name, value in obj.items():
        allowed = fields.get(name)
        if allowed is None or object in allowed:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return f"{kind} event field {name!r} is {type(value).__name__}"
    return None
