"""Item-level helpers shared by the memory stores: ids, owners, indexed text, filters.

Filters follow LangGraph's ``InMemoryStore`` semantics (exact match, nested dicts, and
the ``$eq/$ne/$gt/$gte/$lt/$lte`` operators) so the same search gives the same items on
every backend of the conformance suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from langgraph.store.base import (
    ListNamespacesOp,
    MatchCondition,
    get_text_at_path,
    tokenize_path,
)

from sandbox.memory._serde import FORMAT, decode_value

__all__ = [
    "Paths",
    "does_match",
    "index_texts",
    "item_fields",
    "item_id",
    "item_metadata",
    "list_namespaces",
    "matches_filter",
    "owner_of",
    "record_id",
    "tokenized",
]


def owner_of(namespace: tuple[str, ...], value: Mapping[str, Any]) -> str | None:
    """Whose data an item is: ``value["owner"]``, else the second namespace label."""
    owner = value.get("owner")
    if owner:
        return str(owner)
    return namespace[1] if len(namespace) > 1 else None


def item_id(namespace: tuple[str, ...], key: str) -> str:
    """The Chroma id of an item: unambiguous even when labels or keys contain slashes."""
    return json.dumps([*namespace, key], ensure_ascii=False, separators=(",", ":"))


def record_id(iid: str, path: str) -> str:
    """The Chroma id of one of an item's vectors (``path`` ``""``: the unindexed record)."""
    return f"{iid}#{path}"


def item_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``Item`` keyword arguments from the Chroma metadata of a stored item."""
    return {
        "namespace": tuple(str(meta["ns"]).split(".")),
        "key": str(meta["key"]),
        "value": decode_value(str(meta["value"]), meta.get("vfmt")),
        "created_at": datetime.fromisoformat(str(meta["created_at"])),
        "updated_at": datetime.fromisoformat(str(meta["updated_at"])),
    }


Paths = list[tuple[str, str | list[str]]]


def tokenized(fields: Iterable[str]) -> Paths:
    """LangGraph's field paths, tokenized once (``"$"`` is the whole value)."""
    return [(p, p if p == "$" else tokenize_path(p)) for p in fields]


def index_texts(value: Mapping[str, Any], paths: Paths) -> list[tuple[str, str]]:
    """The texts embedded for an item, one per field (path label, text).

    As in LangGraph's ``InMemoryStore``: each configured path gives its own vector; a
    path that matches several texts (``"tags[*]"``) gives one per text, labelled
    ``path.i``; ``"$"`` is the whole value as JSON. Empty means stored but not indexed.
    """
    out: list[tuple[str, str]] = []
    for path, tokens in paths:
        texts = get_text_at_path(dict(value), tokens)
        if len(texts) > 1:
            out.extend((f"{path}.{i}", t) for i, t in enumerate(texts))
        elif texts:
            out.append((path, texts[0]))
    return out


def matches_filter(value: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """Whether an item value satisfies a LangGraph search filter."""
    return all(_compare(value.get(k), v) for k, v in where.items())


def _compare(item: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(item, str(k), v) for k, v in wanted.items())
        return isinstance(item, Mapping) and all(
            _compare(item.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(item, list | tuple)
            and len(item) == len(wanted)
            and all(_compare(a, b) for a, b in zip(item, wanted, strict=True))
        )
    return bool(item == wanted)


def _operator(item: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return bool(item == arg)
    if op == "$ne":
        return bool(item != arg)
    if item is None:
        return False
    if op == "$gt":
        return float(item) > float(arg)
    if op == "$gte":
        return float(item) >= float(arg)
    if op == "$lt":
        return float(item) < float(arg)
    if op == "$lte":
        return float(item) <= float(arg)
    raise ValueError(f"unsupported filter operator: {op}")


def does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """Whether a namespace satisfies a prefix/suffix condition (``"*"`` matches any label)."""
    path = condition.path
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


def list_namespaces(
    counts: Iterable[tuple[str, ...]], op: ListNamespacesOp
) -> list[tuple[str, ...]]:
    """LangGraph's namespace listing over the namespaces that hold items."""
    found: Iterable[tuple[str, ...]] = counts
    if op.match_conditions:
        found = [ns for ns in found if all(does_match(c, ns) for c in op.match_conditions)]
    if op.max_depth is not None:
        found = {ns[: op.max_depth] for ns in found}
    return sorted(found)[op.offset : op.offset + op.limit]


def item_metadata(
    ns: tuple[str, ...],
    key: str,
    value: Mapping[str, Any],
    blob: str,
    created_at: str,
    updated_at: str,
    seq: int,
    path: str,
) -> dict[str, Any]:
    """What Chroma stores beside one of an item's vectors (``path`` ``""``: none).

    Every key, every time: Chroma's upsert merges metadata rather than replacing it.
    """
    return {
        "ns": ".".join(ns),
        "key": key,
        "value": blob,
        "vfmt": FORMAT,
        "path": path,
        "indexed": bool(path),
        "owner": owner_of(ns, value) or "",
        "created_at": created_at,
        "updated_at": updated_at,
        "seq": seq,
        "forgotten": bool(value.get("forgotten", False)),
    }
