"""A ``BaseStore`` wrapper that reports every memory read and write as an event.

This is the seam where monitors observe memory: whatever store the agent uses (ours,
LangGraph's ``InMemoryStore``, a user's own), wrapping it here turns each get/search
into a ``Retrieval`` with every hit and its owner, each put into a ``MemoryWrite``, and
each deletion or forgetting into a ``MemoryDelete``. The simulation sets ``context``
before each turn so events carry who, when and where.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from sandbox.memory.store import owner_of
from sandbox.record.events import Event, Hit, MemoryDelete, MemoryWrite, Retrieval

__all__ = ["EventContext", "InstrumentedStore", "hit_of", "item_text"]

_Key = tuple[tuple[str, ...], str]


@dataclass
class EventContext:
    """Where the simulation is when memory is touched; copied into every event."""

    user: str | None = None
    session: int | None = None
    turn: int | None = None
    t_sim: float = 0.0


def item_text(value: Mapping[str, Any]) -> str:
    """The text an item exposes: ``value["text"]``, ``value["content"]``, or all as JSON.

    ``{"content": ...}`` is the shape LangMem's memory tools write.
    """
    for field in ("text", "content"):
        text = value.get(field)
        if isinstance(text, str):
            return text
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=str)


def hit_of(item: Item) -> Hit:
    """Describe a retrieved item for a ``Retrieval`` event."""
    return Hit(
        id=item.key,
        namespace=list(item.namespace),
        owner=owner_of(item.namespace, item.value),
        score=item.score if isinstance(item, SearchItem) else None,
        text=item_text(item.value),
        forgotten=bool(item.value.get("forgotten", False)),
    )


class InstrumentedStore(BaseStore):
    """Wraps any ``BaseStore`` and emits one event per read or write, in op order.

    Args:
        inner: The store doing the work; results pass through unchanged.
        emit: Called with each event (in ``abatch`` an awaitable result is awaited).
        context: Initial event context; replace or mutate ``self.context`` per turn.

    A put that sets ``forgotten=True`` on an existing item that was not forgotten is
    reported as a soft ``MemoryDelete`` rather than a write; to tell, the wrapper reads
    the previous value of such items in the same batch as the op (no event for that
    read). Namespace listings emit nothing: they reveal no memory content.
    """

    def __init__(
        self,
        inner: BaseStore,
        emit: Callable[[Event], Any],
        context: EventContext | None = None,
    ):
        self.inner = inner
        self.emit = emit
        self.context = context or EventContext()
        self.supports_ttl = inner.supports_ttl
        self.ttl_config = inner.ttl_config

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the ops on the inner store, then emit their events."""
        ops = list(ops)
        probes = _probes(ops)
        results = self.inner.batch([*probes, *ops])
        for event in self._events(ops, probes, results):
            self.emit(event)
        return results[len(probes) :]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of ``batch``."""
        ops = list(ops)
        probes = _probes(ops)
        results = await self.inner.abatch([*probes, *ops])
        for event in self._events(ops, probes, results):
            out = self.emit(event)
            if inspect.isawaitable(out):
                await out
        return results[len(probes) :]

    def close(self) -> None:
        """Close the inner store if it can be closed."""
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()

    def _events(self, ops: list[Op], probes: list[GetOp], results: list[Result]) -> list[Event]:
        ctx = self.context
        where: dict[str, Any] = {
            "user": ctx.user,
            "session": ctx.session,
            "turn": ctx.turn,
            "t_sim": ctx.t_sim,
        }
        known: dict[_Key, Mapping[str, Any] | None] = {}
        for probe, found in zip(probes, results, strict=False):
            known[(probe.namespace, probe.key)] = found.value if isinstance(found, Item) else None
        events: list[Event] = []
        for op, result in zip(ops, results[len(probes) :], strict=True):
            if isinstance(op, GetOp):
                hits = [hit_of(result)] if isinstance(result, Item) else []
                events.append(Retrieval(op="get", namespace=list(op.namespace), hits=hits, **where))
            elif isinstance(op, SearchOp):
                found = result if isinstance(result, list) else []
                events.append(
                    Retrieval(
                        op="search" if op.query else "list",
                        namespace=list(op.namespace_prefix),
                        query=op.query,
                        hits=[hit_of(it) for it in found if isinstance(it, Item)],
                        **where,
                    )
                )
            elif isinstance(op, PutOp):
                events.append(_put_event(op, known, where))
            elif not isinstance(op, ListNamespacesOp):
                raise TypeError(f"unknown store operation: {type(op).__name__}")
        return events


def _probes(ops: list[Op]) -> list[GetOp]:
    """Reads of the previous value of items a put is about to mark forgotten."""
    keys = dict.fromkeys(
        (tuple(op.namespace), str(op.key))
        for op in ops
        if isinstance(op, PutOp) and op.value is not None and op.value.get("forgotten")
    )
    return [GetOp(ns, key, refresh_ttl=False) for ns, key in keys]


def _put_event(
    op: PutOp, known: dict[_Key, Mapping[str, Any] | None], where: dict[str, Any]
) -> Event:
    ns, key = tuple(op.namespace), str(op.key)
    before = known.get((ns, key))
    known[(ns, key)] = op.value
    if op.value is None:
        return MemoryDelete(namespace=list(ns), ids=[key], mode="hard", **where)
    value = op.value
    if value.get("forgotten") and before is not None and not before.get("forgotten"):
        reason = str(value.get("forget_reason", ""))
        return MemoryDelete(namespace=list(ns), ids=[key], mode="soft", reason=reason, **where)
    return MemoryWrite(
        namespace=list(ns),
        id=key,
        owner=owner_of(ns, value),
        text=item_text(value),
        source=str(value.get("source", "episodic")),
        redacted=bool(value.get("redacted", False)),
        **where,
    )
