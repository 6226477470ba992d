"""One registry type for everything pluggable: monitors, backends, user policies, judges.

Components register with a decorator under a name; third-party packages can add more
through the entry-point group ``persona_sandbox.<registry name>``. Heavy optional
dependencies are imported inside the factories, so importing the registry stays cheap.

Every component declares the arguments a spec may give it as a pydantic model: either a
class attribute ``Args`` (a ``BaseModel`` subclass) or, by default, a model derived
from the factory's signature (type hints become field types, defaults stay defaults,
unknown arguments are refused unless the factory takes ``**kwargs``). Arguments the
sandbox supplies itself (a policy's ``state``, ``rng`` and ``scripts``) and parameters
annotated with :data:`INTERNAL` (objects only code can pass, such as a pre-built judge)
are not part of the model. :meth:`Registry.validate_args` checks a spec's arguments
against the model, including components named inside them (a judge's backend spec, the
relational monitor's judge), and :meth:`Registry.create` builds from checked arguments.
The argument models themselves are built in :mod:`sandbox.plugin_args`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from sandbox.plugin_args import (
    INTERNAL,
    ComponentName,
    ComponentSpec,
    Loc,
    clean_loc,
    error_details,
    internal_names,
    model_arg_names,
    model_from_signature,
    plain_message,
    prefixed_errors,
)

__all__ = [
    "INTERNAL",
    "ComponentName",
    "ComponentSpec",
    "Registry",
    "backends",
    "judges",
    "model_from_signature",
    "monitors",
    "policies",
    "registry_named",
]

T = TypeVar("T")

_REGISTRIES: dict[str, Registry[Any]] = {}


def registry_named(name: str) -> Registry[Any]:
    """The registry called `name` (``monitors``, ``backends``, ``policies``, ``judges``...).

    Raises:
        KeyError: if there is no such registry.
    """
    return _REGISTRIES[name]


class Registry(Generic[T]):
    """Named factories of one kind of component.

    Args:
        name: Registry name; plugins register through ``persona_sandbox.<name>``.
        builtin_modules: Modules imported on first use (they register built-ins).
        internal: Arguments the sandbox passes itself; never part of a spec.
        kind: Singular noun used in messages (default: `name` less a final ``s``).
    """

    def __init__(
        self,
        name: str,
        builtin_modules: tuple[str, ...] = (),
        internal: tuple[str, ...] = (),
        kind: str | None = None,
    ):
        self.name = name
        self.kind = kind or (name[:-1] if name.endswith("s") else name)
        self.internal = frozenset(internal)
        self._factories: dict[str, Callable[..., T]] = {}
        self._models: dict[Any, tuple[type[BaseModel], set[str]]] = {}
        self._builtin_modules = builtin_modules
        self._loaded = False
        _REGISTRIES[name] = self

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a factory (a class or a function) under `name`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and self._factories[name] is not factory:
                raise ValueError(f"{self.name} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for mod in self._builtin_modules:
            importlib.import_module(mod)
        for ep in entry_points(group=f"persona_sandbox.{self.name}"):
            if ep.name not in self._factories:
                self._factories[ep.name] = ep.load()

    def names(self) -> list[str]:
        """All registered names, built-in and plugin."""
        self._load()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under `name`.

        Raises:
            KeyError: with the list of known names.
        """
        self._load()
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def _model(self, name: str) -> tuple[type[BaseModel], set[str]]:
        factory = self.get(name)
        key: Any = factory
        try:
            hash(key)
        except TypeError:  # an unhashable callable: key by identity
            key = id(factory)
        hit = self._models.get(key)
        if hit is None:
            explicit = getattr(factory, "Args", None)
            internal = internal_names(factory, self.internal)
            if isinstance(explicit, type) and issubclass(explicit, BaseModel):
                model = explicit
            else:
                model = model_from_signature(
                    factory, exclude=tuple(internal), name=f"{self.kind}:{name}"
                )
            hit = self._models[key] = (model, internal)
        return hit

    def args_model(self, name: str) -> type[BaseModel]:
        """The pydantic model of the arguments a spec may give component `name`.

        The factory's ``Args`` class attribute when it has one, else a model derived
        from its signature (see :func:`model_from_signature`).

        Raises:
            KeyError: if `name` is not registered.
        """
        return self._model(name)[0]

    def arg_names(self, name: str) -> list[str]:
        """Names of the arguments component `name` accepts from a spec."""
        return model_arg_names(self.args_model(name))

    def validate_args(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check a spec's arguments for component `name`; return them validated.

        The result holds the arguments that were given (coerced to their declared types;
        defaults are left to the factory) plus any extras a ``**kwargs`` factory takes.
        Components named inside the arguments (:class:`ComponentName`,
        :class:`ComponentSpec`) are checked too, with their locations nested.

        Raises:
            KeyError: if `name` is not registered.
            pydantic.ValidationError: one entry per problem; unknown arguments name the
                known ones.
        """
        model, _ = self._model(name)
        errors: list[InitErrorDetails] = []
        out: dict[str, Any] = {}
        try:
            obj = model.model_validate(dict(args))
        except ValidationError as exc:
            errors.extend(self._rewrite(name, model, exc, args))
        else:
            fields = type(obj).model_fields
            out = {fields[k].alias or k: getattr(obj, k) for k in obj.model_fields_set}
            out.update(obj.model_extra or {})
        errors.extend(_nested_errors(model, args))
        if errors:
            raise ValidationError.from_exception_data(f"{self.kind} {name!r}", errors)
        return out

    def _rewrite(
        self, name: str, model: type[BaseModel], exc: ValidationError, args: Mapping[str, Any]
    ) -> list[InitErrorDetails]:
        known = model_arg_names(model)
        known_text = ", ".join(known) or "none"
        merged: dict[Loc, list[dict[str, Any]]] = {}
        for err in exc.errors():
            merged.setdefault(clean_loc(err["loc"], args), []).append(dict(err))
        out: list[InitErrorDetails] = []
        for loc, errs in merged.items():
            first = errs[0]
            if first["type"] == "extra_forbidden" and len(loc) == 1:
                arg = str(loc[0])
                close = difflib.get_close_matches(arg, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                msg = (
                    f"unknown argument {arg!r} for {self.kind} {name!r}{hint}; known: {known_text}"
                )
                kind = "unknown_argument"
            else:
                # one problem per place: members of a union each report; keep them together
                msgs = list(dict.fromkeys(plain_message(str(e["msg"])) for e in errs))
                detail = " or ".join(msgs)
                if first["type"] != "missing":
                    detail += f" (got {first['input']!r})"
                msg = f"{detail}; {self.kind} {name!r} arguments: {known_text}"
                kind = str(first["type"])
            out.append(
                {
                    "type": PydanticCustomError(kind, "{msg}", {"msg": msg}),
                    "loc": loc,
                    "input": first.get("input"),
                }
            )
        return out

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the component `name` with keyword arguments from a spec.

        Arguments the registry or the factory mark internal pass through unchecked;
        the rest go through :meth:`validate_args` first.

        Raises:
            KeyError: if `name` is not registered.
            pydantic.ValidationError: if the arguments do not fit the component.
        """
        factory = self.get(name)
        _, internal = self._model(name)
        passed = {k: kwargs.pop(k) for k in list(kwargs) if k in internal}
        return factory(**passed, **self.validate_args(name, kwargs))


def _check_component(
    registry: str, name: Any, args: Any, name_loc: Loc, args_loc: Loc
) -> list[InitErrorDetails]:
    reg = registry_named(registry)
    if not isinstance(name, str):
        return []  # the field's own type check reports it
    if name not in reg.names():
        known = ", ".join(reg.names()) or "none"
        return [
            error_details(
                "unknown_component", name_loc, f"unknown {reg.kind} {name!r}; known: {known}", name
            )
        ]
    if args is None:
        return []
    if not isinstance(args, Mapping):
        return [
            error_details("dict_type", args_loc, "Input should be a mapping of arguments", args)
        ]
    try:
        reg.validate_args(name, args)
    except ValidationError as exc:
        return prefixed_errors(args_loc, exc)
    return []


def _nested_errors(model: type[BaseModel], args: Mapping[str, Any]) -> list[InitErrorDetails]:
    """Errors of components named inside `args` (see :class:`ComponentName`)."""
    out: list[InitErrorDetails] = []
    for key, info in model.model_fields.items():
        field_name = info.alias or key
        for meta in info.metadata:
            if isinstance(meta, ComponentName):
                if field_name not in args and (meta.args is None or meta.args not in args):
                    continue
                name = args.get(field_name, info.default)
                sub = args.get(meta.args) if meta.args else None
                out.extend(
                    _check_component(
                        meta.registry, name, sub, (field_name,), (meta.args or field_name,)
                    )
                )
            elif isinstance(meta, ComponentSpec):
                spec = args.get(field_name)
                if not isinstance(spec, Mapping):
                    continue  # absent, None, or an object passed by code
                unknown = [k for k in spec if k not in ("name", "args")]
                for k in unknown:
                    out.append(
                        error_details(
                            "unknown_argument",
                            (field_name, k),
                            f"unknown key {k!r}; a component spec has: name, args",
                            spec[k],
                        )
                    )
                if "name" not in spec:
                    reg = registry_named(meta.registry)
                    msg = f"Field required: the {reg.kind} name; known: {', '.join(reg.names())}"
                    out.append(error_details("missing", (field_name, "name"), msg, spec))
                    continue
                out.extend(
                    _check_component(
                        meta.registry,
                        spec["name"],
                        spec.get("args"),
                        (field_name, "name"),
                        (field_name, "args"),
                    )
                )
    return out


monitors: Registry[Any] = Registry("monitors", ("sandbox.monitors.builtin",))
backends: Registry[Any] = Registry("backends", ("sandbox.agent.backends",))
policies: Registry[Any] = Registry(
    "policies",
    ("sandbox.sim.policies", "sandbox.sim.llm_policy"),
    internal=("state", "rng", "scripts"),
    kind="policy",
)
judges: Registry[Any] = Registry(
    "judges", ("sandbox.monitors.judges", "sandbox.monitors.judges.llm")
)
