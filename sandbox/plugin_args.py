"""Argument models of pluggable components: built, read and reported on.

A component declares the arguments a spec may give it as a pydantic model, either a
class attribute ``Args`` or a model derived from the factory's signature
(:func:`model_from_signature`). This module holds that derivation, the ``Annotated``
markers a factory's parameters may carry (:data:`INTERNAL`, :class:`ComponentName`,
:class:`ComponentSpec`) and the helpers that turn pydantic's errors into spec errors.
:class:`sandbox.registry.Registry` uses them and re-exports the public names.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "INTERNAL",
    "ComponentName",
    "ComponentSpec",
    "Loc",
    "clean_loc",
    "error_details",
    "internal_names",
    "model_arg_names",
    "model_from_signature",
    "plain_message",
    "prefixed_errors",
]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class _Internal:
    """Marker type of :data:`INTERNAL`."""


INTERNAL = _Internal()
"""``Annotated[..., INTERNAL]`` on a parameter: code may pass it, specs may not."""


@dataclass(frozen=True)
class ComponentName:
    """``Annotated`` marker: the argument names a component of another registry.

    Attributes:
        registry: Name of that registry (``"judges"``).
        args: The sibling argument holding that component's own arguments, if any.
    """

    registry: str
    args: str | None = None


@dataclass(frozen=True)
class ComponentSpec:
    """``Annotated`` marker: a mapping value is ``{name: ..., args: {...}}`` of a registry.

    Attributes:
        registry: Name of the registry the component comes from (``"backends"``).
    """

    registry: str


def _is_static_protocol(tp: Any) -> bool:
    """A Protocol that `isinstance` cannot check (not ``runtime_checkable``)."""
    return bool(getattr(tp, "_is_protocol", False)) and not getattr(
        tp, "_is_runtime_protocol", False
    )


def _usable(tp: Any) -> Any:
    """`tp` if pydantic can validate with it, else ``Any`` (no check beats a wrong one)."""
    stack = [tp]
    while stack:
        t = stack.pop()
        if _is_static_protocol(t):
            return Any
        stack.extend(a for a in typing.get_args(t) if not isinstance(a, str))
    try:
        TypeAdapter(tp, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # schema generation failed: unknown or unsupported annotation
        return Any
    return tp


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target: Any = getattr(factory, "__init__", factory) if isinstance(factory, type) else factory
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        pass
    # resolve one annotation at a time; the ones that cannot be resolved stay unchecked
    out: dict[str, Any] = {}
    ns = dict(getattr(target, "__globals__", {}))
    for key, ann in getattr(target, "__annotations__", {}).items():
        if isinstance(ann, str):
            try:
                ann = eval(ann, ns)  # same as typing.get_type_hints, per name
            except Exception:
                continue
        out[key] = ann
    return out


def _is_internal(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Annotated and any(
        isinstance(m, _Internal) for m in annotation.__metadata__
    )


def model_from_signature(
    factory: Callable[..., Any], *, exclude: tuple[str, ...] = (), name: str | None = None
) -> type[BaseModel]:
    """A pydantic model of the keyword arguments `factory` accepts.

    Type hints become field types (``Any`` where pydantic cannot check one), defaults stay
    defaults, parameters without a default are required. Unknown arguments are refused
    unless the factory takes ``**kwargs``. Positional-only and ``*args`` parameters, those
    in `exclude` and those annotated with :data:`INTERNAL` are left out.

    Args:
        factory: A class (its ``__init__`` is read) or a function.
        exclude: Parameters the caller supplies itself, never a spec.
        name: Name of the model class.
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # no introspectable signature: accept anything
        return create_model(name or "Args", __config__=ConfigDict(extra="allow"))
    hints = _hints(factory)
    extra: Literal["allow", "forbid"] = "forbid"
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            extra = "allow"
            continue
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) or p.name in exclude:
            continue
        ann = hints.get(p.name, Any)
        if _is_internal(ann):
            continue
        if typing.get_origin(ann) is typing.Annotated:
            base, *meta = typing.get_args(ann)
            ann = typing.Annotated[(_usable(base), *meta)] if meta else _usable(base)
        else:
            ann = _usable(ann)
        default = ... if p.default is p.empty else p.default
        if hasattr(BaseModel, p.name):  # e.g. `copy`, `json`: a field under an alias
            fields[f"{p.name}_arg"] = (ann, Field(default, alias=p.name))
        else:
            fields[p.name] = (ann, default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True, protected_namespaces=())
    model_name = name or f"{getattr(factory, '__name__', 'Factory')}Args"
    try:
        model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
    except Exception:  # a signature pydantic cannot model: accept anything
        return create_model(model_name, __config__=ConfigDict(extra="allow"))
    return model


def model_arg_names(model: type[BaseModel]) -> list[str]:
    """The argument names a model accepts (aliases where fields have them)."""
    return sorted(f.alias or k for k, f in model.model_fields.items())


def internal_names(factory: Callable[..., Any], registry_internal: frozenset[str]) -> set[str]:
    """Arguments of `factory` a spec may not give: the registry's and INTERNAL ones."""
    names = set(registry_internal)
    for key, ann in _hints(factory).items():
        if _is_internal(ann):
            names.add(key)
    return names


def clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """`loc` without the union-member tags pydantic inserts (keys absent from `data`)."""
    out: list[str | int] = []
    cursor = data
    for i, part in enumerate(loc):
        if isinstance(cursor, Mapping) and part in cursor:
            cursor = cursor[part]
        elif isinstance(cursor, list | tuple) and isinstance(part, int) and part < len(cursor):
            cursor = cursor[part]
        elif i == len(loc) - 1 and isinstance(part, str | int) and not out:
            pass  # a missing top-level argument: keep its name
        elif i == len(loc) - 1 and isinstance(cursor, Mapping):
            pass  # a missing key inside a mapping
        else:
            continue
        out.append(part)
    return tuple(out)


def plain_message(msg: str) -> str:
    """A pydantic message without its "Value error, " prefix."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def prefixed_errors(loc: Loc, exc: ValidationError) -> list[InitErrorDetails]:
    """The errors of `exc`, each located under `loc`."""
    out: list[InitErrorDetails] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        out.append(
            {
                "type": PydanticCustomError(
                    str(err["type"]), "{msg}", {"msg": str(ctx.get("msg", err["msg"]))}
                ),
                "loc": (*loc, *err["loc"]),
                "input": err.get("input"),
            }
        )
    return out


def error_details(kind: str, loc: Loc, msg: str, value: Any) -> InitErrorDetails:
    """One error entry for :meth:`pydantic.ValidationError.from_exception_data`."""
    return {"type": PydanticCustomError(kind, "{msg}", {"msg": msg}), "loc": loc, "input": value}
