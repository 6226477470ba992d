"""One behaviour for every BaseStore backend: LangGraph's reference store and ours.

Single-namespace tests use ("memories", user), which the shared store pools; with one
user in the pool it must behave exactly like the others. Cross-namespace tests use
prefixes outside the pool (the pooled behaviour is tested in test_store.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    SearchOp,
)

NS = ("memories", "alice")
FACTS = {
    "tea": "I drink green tea every morning",
    "hike": "Last summer I went hiking in the Alps",
    "bank": "My bank is Northwind Savings",
    "cat": "My cat is called Biscuit",
}


def fill(store: BaseStore, ns: tuple[str, ...] = NS) -> None:
    for n, (key, text) in enumerate(FACTS.items()):
        store.put(ns, key, {"text": text, "kind": "fact" if key != "tea" else "pref", "n": n})


def keys(items: list) -> list[str]:
    return [it.key for it in items]


def test_put_then_get_returns_the_value(store: BaseStore) -> None:
    value = {"text": "I like green tea", "kind": "pref", "n": 3, "tags": ["a", "b"], "x": None}
    store.put(NS, "k1", value)
    item = store.get(NS, "k1")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (NS, "k1", value)
    assert isinstance(item.created_at, datetime)
    assert item.updated_at >= item.created_at


def test_get_missing_is_none(store: BaseStore) -> None:
    store.put(NS, "k1", {"text": "hello"})
    assert store.get(NS, "nope") is None
    assert store.get(("memories", "bob"), "k1") is None


def test_update_replaces_value_without_duplicates(store: BaseStore) -> None:
    store.put(NS, "k1", {"text": "I live in Leeds"})
    store.put(NS, "k1", {"text": "I moved to York", "v": 2})
    item = store.get(NS, "k1")
    assert item is not None and item.value == {"text": "I moved to York", "v": 2}
    assert [it.value["text"] for it in store.search(NS)] == ["I moved to York"]
    hits = store.search(NS, query="Where do I live?")
    assert keys(hits) == ["k1"]
    assert hits[0].value["v"] == 2


def test_delete_removes_item(store: BaseStore) -> None:
    fill(store)
    store.delete(NS, "bank")
    assert store.get(NS, "bank") is None
    assert "bank" not in keys(store.search(NS, limit=50))
    assert "bank" not in keys(store.search(NS, query=FACTS["bank"], limit=50))
    store.delete(NS, "never-existed")  # idempotent
    assert sorted(keys(store.search(NS, limit=50))) == ["cat", "hike", "tea"]


def test_semantic_search_ranks_by_cosine(store: BaseStore) -> None:
    fill(store)
    query = "which hot drink do I like in the morning?"
    hits = store.search(NS, query=query, limit=10)
    assert len(hits) == 4
    assert hits[0].key == "tea"
    scores = [h.score for h in hits]
    assert all(s is not None and -1.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert keys(store.search(NS, query=query, limit=2)) == keys(hits[:2])
    assert keys(store.search(NS, query=query, limit=2, offset=1)) == keys(hits[1:3])
    assert store.search(NS, query=query, offset=10) == []


def test_listing_keeps_insertion_order_and_pages(store: BaseStore) -> None:
    for i in range(5):
        store.put(NS, f"k{i}", {"text": f"note number {i}"})
    store.put(NS, "k1", {"text": "note one, edited"})  # an update keeps its place
    listed = store.search(NS, limit=10)
    assert keys(listed) == ["k0", "k1", "k2", "k3", "k4"]
    assert all(it.score is None for it in listed)
    assert keys(store.search(NS, limit=2, offset=1)) == ["k1", "k2"]
    assert keys(store.search(NS, limit=2, offset=4)) == ["k4"]


def test_filters_on_value_fields(store: BaseStore) -> None:
    fill(store)
    store.put(NS, "n5", {"text": "I sleep badly", "kind": "fact", "n": 5})
    assert keys(store.search(NS, filter={"kind": "pref"})) == ["tea"]
    ranked = store.search(NS, query="my pet animal", filter={"kind": "fact"}, limit=10)
    assert ranked[0].key == "cat"
    assert "tea" not in keys(ranked) and len(ranked) == 4
    assert keys(store.search(NS, filter={"n": {"$gt": 2}})) == ["cat", "n5"]
    assert keys(store.search(NS, filter={"kind": "fact", "n": {"$lte": 1}})) == ["hike"]
    assert store.search(NS, filter={"kind": "nothing"}) == []


def test_items_without_text_are_stored_but_unranked(store: BaseStore) -> None:
    store.put(NS, "profile", {"name": "Alice", "age": 41})
    store.put(NS, "k1", {"text": "Alice plays the cello"})
    item = store.get(NS, "profile")
    assert item is not None and item.value["name"] == "Alice"
    assert keys(store.search(NS)) == ["profile", "k1"]
    hits = store.search(NS, query="music instrument", limit=5)
    assert keys(hits) == ["k1", "profile"]
    assert hits[0].score is not None and hits[1].score is None


def test_namespaces_and_prefix_search(store: BaseStore) -> None:
    store.put(("docs", "a"), "x", {"text": "quarterly budget report"})
    store.put(("docs", "b", "c"), "y", {"text": "holiday photo album"})
    store.put(("notes", "x"), "z", {"text": "budget for groceries"})
    assert store.list_namespaces() == [("docs", "a"), ("docs", "b", "c"), ("notes", "x")]
    assert store.list_namespaces(prefix=("docs",)) == [("docs", "a"), ("docs", "b", "c")]
    assert store.list_namespaces(suffix=("c",)) == [("docs", "b", "c")]
    assert store.list_namespaces(prefix=("*", "x")) == [("notes", "x")]
    assert store.list_namespaces(max_depth=1) == [("docs",), ("notes",)]
    assert store.list_namespaces(limit=1, offset=1) == [("docs", "b", "c")]
    hits = store.search(("docs",), query="money budget", limit=10)
    assert [(h.namespace, h.key) for h in hits] == [(("docs", "a"), "x"), (("docs", "b", "c"), "y")]
    assert sorted(keys(store.search(("docs",)))) == ["x", "y"]
    assert keys(store.search(("docs", "b"))) == ["y"]
    assert sorted(keys(store.search((), limit=10))) == ["x", "y", "z"]


def test_batch_results_line_up_with_ops(store: BaseStore) -> None:
    fill(store)
    results = store.batch(
        [
            GetOp(NS, "cat"),
            SearchOp(NS, query="mountains", limit=1),
            ListNamespacesOp(),
            GetOp(NS, "missing"),
        ]
    )
    assert results[0].key == "cat"  # type: ignore[union-attr]
    assert keys(results[1]) == ["hike"]  # type: ignore[arg-type]
    assert results[2] == [NS]
    assert results[3] is None


def test_async_api(store: BaseStore) -> None:
    async def scenario() -> None:
        await store.aput(NS, "k1", {"text": "My favourite colour is teal"})
        await store.aput(NS, "k2", {"text": "I work as a nurse"})
        item = await store.aget(NS, "k1")
        assert item is not None and item.value["text"] == "My favourite colour is teal"
        hits = await store.asearch(NS, query="what is my job?", limit=1)
        assert keys(hits) == ["k2"]
        await store.adelete(NS, "k2")
        assert await store.aget(NS, "k2") is None
        assert await store.alist_namespaces() == [NS]

    asyncio.run(scenario())


def test_invalid_namespaces_are_rejected(store: BaseStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("bad.label",), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        store.put(("memories", ""), "k", {"text": "x"})
