"""Same cases, same index configuration: LangGraph's InMemoryStore and ChromaMemoryStore.

Each test builds its store through ``make(index)`` with a LangGraph index configuration
and must give the same answer on LangGraph's ``InMemoryStore`` (the reference) and on
``ChromaMemoryStore`` in both isolation modes. The InMemoryStore gets the packaged MiniLM
as an ``embed`` function; the Chroma stores get the configuration without ``embed`` and
use the packaged model themselves, so scores must agree across two embedding paths.

Intended differences are tests of their own at the end (``test_difference_*``): each
asserts both behaviours, so a change on either side shows up here.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore, GetOp, ListNamespacesOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from sandbox.memory import ChromaMemoryStore, Embedder

KINDS = ["inmemory", "chroma-per_user", "chroma-shared", "chroma-http-per_user"]
ALICE = ("memories", "alice")
BOB = ("memories", "bob")
Make = Callable[..., BaseStore]


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder) -> Iterator[Make]:
    kind = request.param
    made: list[ChromaMemoryStore] = []

    def embed(texts: list[str]) -> list[list[float]]:
        return embedder.encode(list(texts)).tolist()

    def build(index: dict[str, Any] | None = None, **over: Any) -> BaseStore:
        config = {"dims": 384, **(index or {})}
        if kind == "inmemory":
            return InMemoryStore(index={"embed": over.get("embed", embed), **config})  # type: ignore[typeddict-item]
        if "embed" in over:
            config["embed"] = over["embed"]
        http = kind.startswith("chroma-http-")
        store = ChromaMemoryStore(
            tmp_path / f"db{len(made)}",
            isolation=kind.rsplit("-", 1)[-1],  # type: ignore[arg-type]
            embedder=embedder,
            index=config,
            server=request.getfixturevalue("chroma_server") if http else None,
        )
        made.append(store)
        return store

    build.kind = kind  # type: ignore[attr-defined]
    yield build
    for store in made:
        store.close()


def keys(items: list) -> list[str]:
    return [it.key for it in items]


# -- index configuration ---------------------------------------------------------------


def test_whole_value_is_embedded_when_no_fields_are_given(make: Make) -> None:
    store = make()
    store.put(ALICE, "bees", {"content": "I keep two hives of honey bees"})
    store.put(ALICE, "cars", {"content": "My car is a red hatchback"})
    hits = store.search(ALICE, query="beekeeping and honey")
    assert keys(hits) == ["bees", "cars"]
    assert all(h.score is not None for h in hits)
    assert hits[0].score > hits[1].score + 0.1  # type: ignore[operator]


def test_scores_match_the_reference(make: Make, embedder: Embedder) -> None:
    store = make({"fields": ["text"]})
    texts = ["I drink green tea", "I cycle to work", "My sister lives in Oslo"]
    for i, t in enumerate(texts):
        store.put(ALICE, f"k{i}", {"text": t})
    hits = store.search(ALICE, query="a hot drink")
    q = embedder.encode(["a hot drink"])[0]
    want = sorted(((float(embedder.encode([t])[0] @ q), f"k{i}") for i, t in enumerate(texts)),
                  reverse=True)  # fmt: skip
    assert keys(hits) == [k for _, k in want]
    assert [h.score for h in hits] == pytest.approx([s for s, _ in want], abs=1e-4)


def test_each_field_has_its_own_vector_and_the_best_one_counts(
    make: Make, embedder: Embedder
) -> None:
    store = make({"fields": ["title", "body"]})
    store.put(ALICE, "diary", {"title": "beekeeping diary", "body": "Tuesday: rain all day"})
    store.put(ALICE, "trip", {"title": "train trip", "body": "the hives were calm"})
    store.put(ALICE, "misc", {"title": "shopping list", "body": "milk, eggs, bread"})
    hits = store.search(ALICE, query="beekeeping diary")
    assert keys(hits)[0] == "diary"
    # exactly the title's cosine, not that of title and body joined
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    q = embedder.encode(["the hives were calm"])[0]
    hits = store.search(ALICE, query="the hives were calm")
    assert keys(hits)[0] == "trip" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    best = max(float(embedder.encode([t])[0] @ q) for t in ("beekeeping diary",
                                                             "Tuesday: rain all day"))  # fmt: skip
    assert dict(zip(keys(hits), [h.score for h in hits], strict=True))["diary"] == pytest.approx(
        best, abs=1e-4
    )


def test_a_path_matching_several_texts_gives_a_vector_each(make: Make) -> None:
    store = make({"fields": ["tags[*]"]})
    store.put(ALICE, "a", {"tags": ["sailing", "violin lessons", "sourdough"]})
    store.put(ALICE, "b", {"tags": ["stamps"]})
    hits = store.search(ALICE, query="violin lessons")
    assert keys(hits) == ["a", "b"] and hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_per_call_index_overrides_the_configuration(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "plain", {"text": "I keep bees"}, index=False)
    store.put(ALICE, "titled", {"title": "beekeeping diary", "text": "x"}, index=["title"])
    store.put(ALICE, "other", {"text": "I like trains"})
    hits = store.search(ALICE, query="beekeeping diary", limit=5)
    assert [(h.key, h.score is None) for h in hits] == [
        ("titled", False),
        ("other", False),
        ("plain", True),
    ]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_an_item_without_the_field_is_stored_but_unscored(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "a", {"content": "I keep bees"})
    store.put(ALICE, "b", {"text": "I keep bees"})
    hits = store.search(ALICE, query="bees")
    assert [(h.key, h.score is None) for h in hits] == [("b", False), ("a", True)]


def test_update_reembeds_the_new_text(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "k", {"text": "I live in Leeds"})
    store.put(ALICE, "z", {"text": "I play chess on Sundays"})
    store.put(ALICE, "k", {"text": "I collect vintage stamps"})
    hits = store.search(ALICE, query="I collect vintage stamps")
    assert keys(hits)[0] == "k" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert store.get(ALICE, "k").value == {"text": "I collect vintage stamps"}  # type: ignore[union-attr]


def test_async_only_embed_function(make: Make, embedder: Embedder) -> None:
    async def aembed(texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(0)
        return embedder.encode(list(texts)).tolist()

    store = make({"fields": ["text"]}, embed=aembed)

    async def go() -> list:
        await store.aput(ALICE, "a", {"text": "I keep bees"})
        await store.aput(ALICE, "b", {"text": "I like trains"})
        return await store.asearch(ALICE, query="honey bees")

    hits = asyncio.run(go())
    assert keys(hits) == ["a", "b"] and hits[0].score is not None


# -- values ----------------------------------------------------------------------------


def test_values_round_trip_like_python_objects(make: Make) -> None:
    store = make({"fields": ["text"]})
    value = {
        "text": "a note",
        "when": datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),
        "day": date(2031, 5, 6),
        "pair": (1, "two"),
        "nested": {"inner": ("x", (2, 3)), "list": [1, (4, 5)]},
        "tags": {"a", "b"},
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "amount": Decimal("12.50"),
        "raw": b"\x00\x01",
        "none": None,
        "float": 0.1,
        "unicode": "café ☕",
    }
    store.put(ALICE, "k", value)
    got = store.get(ALICE, "k")
    assert got is not None and got.value == value
    assert isinstance(got.value["pair"], tuple)
    assert isinstance(got.value["nested"]["list"][1], tuple)
    assert isinstance(got.value["when"], datetime) and isinstance(got.value["amount"], Decimal)
    (hit,) = store.search(ALICE, query="a note")
    assert hit.value == value


def test_filters_see_typed_values(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "a", {"text": "one", "n": 1, "pair": (1, 2)})
    store.put(ALICE, "b", {"text": "two", "n": 5, "pair": (3, 4)})
    assert keys(store.search(ALICE, filter={"n": {"$gt": 2}})) == ["b"]
    assert keys(store.search(ALICE, filter={"pair": [1, 2]})) == ["a"]
    assert keys(store.search(ALICE, query="one", filter={"n": {"$lte": 1}})) == ["a"]


# -- batches ---------------------------------------------------------------------------


def test_reads_in_a_batch_see_the_state_before_it(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "a", {"text": "zero"})
    res = store.batch(
        [
            PutOp(ALICE, "a", {"text": "first"}),
            GetOp(ALICE, "a"),
            PutOp(ALICE, "b", {"text": "second"}),
            SearchOp(ALICE, query="second"),
            ListNamespacesOp(),
            PutOp(ALICE, "a", None),
            GetOp(ALICE, "b"),
        ]
    )
    assert res[0] is None and res[2] is None and res[5] is None
    assert res[1].value == {"text": "zero"}  # type: ignore[union-attr]
    assert keys(res[3]) == ["a"]  # type: ignore[arg-type]
    assert res[4] == [ALICE] and res[6] is None
    # then the writes: the last one to a key wins
    assert store.get(ALICE, "a") is None
    assert store.get(ALICE, "b").value == {"text": "second"}  # type: ignore[union-attr]


def test_last_write_to_a_key_in_a_batch_wins(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.batch(
        [
            PutOp(ALICE, "k", {"text": "v1"}),
            PutOp(ALICE, "j", {"text": "other"}),
            PutOp(ALICE, "k", {"text": "v2"}),
        ]
    )
    assert store.get(ALICE, "k").value == {"text": "v2"}  # type: ignore[union-attr]
    assert keys(store.search(ALICE)) == ["k", "j"]  # first-write position


# -- listing and paging ----------------------------------------------------------------


def test_listing_is_grouped_by_namespace(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(("docs", "x"), "a", {"text": "1"})
    store.put(("docs", "y"), "b", {"text": "2"})
    store.put(("docs", "x"), "c", {"text": "3"})
    store.put(("docs", "z"), "d", {"text": "4"})
    store.put(("docs", "y"), "e", {"text": "5"})
    assert keys(store.search(("docs",), limit=10)) == ["a", "c", "b", "e", "d"]
    assert keys(store.search(("docs",), limit=2, offset=1)) == ["c", "b"]
    store.put(("docs", "x"), "a", {"text": "1 again"})  # an update keeps its place
    assert keys(store.search(("docs",), limit=10)) == ["a", "c", "b", "e", "d"]
    store.delete(("docs", "x"), "a")
    store.put(("docs", "x"), "a", {"text": "new"})  # delete then put: last of its namespace
    assert keys(store.search(("docs",), limit=10)) == ["c", "a", "b", "e", "d"]


def test_query_paging_then_unscored_items_fill(make: Make) -> None:
    store = make({"fields": ["text"]})
    for i, t in enumerate(["green tea", "black coffee", "tap water"]):
        store.put(ALICE, f"s{i}", {"text": t})
    store.put(ALICE, "u1", {"note": "no text"})
    store.put(ALICE, "u2", {"note": "nor here"})
    full = store.search(ALICE, query="tea", limit=10)
    assert keys(full)[3:] == ["u1", "u2"] and [h.score is None for h in full][3:] == [True] * 2
    page = store.search(ALICE, query="tea", limit=2, offset=1)
    assert keys(page) == keys(full)[1:3]
    # offset skips ranked items only; unscored ones fill from the start
    tail = store.search(ALICE, query="tea", limit=3, offset=2)
    assert keys(tail) == [keys(full)[2], "u1", "u2"]


def test_namespaces_are_listed_sorted(make: Make) -> None:
    store = make({"fields": ["text"]})
    for ns in [("b", "1"), ("a", "2"), ("a", "1", "x")]:
        store.put(ns, "k", {"text": "t"})
    assert store.list_namespaces() == [("a", "1", "x"), ("a", "2"), ("b", "1")]
    assert store.list_namespaces(max_depth=1) == [("a",), ("b",)]
    assert store.list_namespaces(prefix=("a",), suffix=("x",)) == [("a", "1", "x")]


# -- async -----------------------------------------------------------------------------


def test_async_methods_do_not_block_the_loop(make: Make, embedder: Embedder) -> None:
    started = threading.Event()

    def slow_embed(texts: list[str]) -> list[list[float]]:
        started.set()
        time.sleep(0.3)
        return embedder.encode(list(texts)).tolist()

    store = make({"fields": ["text"]}, embed=slow_embed)

    async def go() -> tuple[int, list]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await store.aput(ALICE, "k", {"text": "I keep bees"})
        hits = await store.asearch(ALICE, query="bees")
        done.set()
        await task
        return ticks, hits

    ticks, hits = asyncio.run(go())
    assert started.is_set() and keys(hits) == ["k"]
    assert ticks >= 20  # ~0.6 s of embedding, the loop kept ticking every 10 ms


# -- intended differences --------------------------------------------------------------


def test_difference_created_at_survives_an_update(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "k", {"text": "v1"})
    first = store.get(ALICE, "k")
    time.sleep(0.01)
    store.put(ALICE, "k", {"text": "v2"})
    second = store.get(ALICE, "k")
    assert first is not None and second is not None
    if make.kind == "inmemory":  # type: ignore[attr-defined]
        assert second.created_at > first.created_at  # reset on every put
    else:
        assert second.created_at == first.created_at  # as LangGraph's PostgresStore
    assert second.updated_at > first.updated_at


def test_difference_emptied_namespaces_are_not_listed(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(("docs", "x"), "k", {"text": "t"})
    store.put(("docs", "y"), "k", {"text": "t"})
    store.delete(("docs", "x"), "k")
    listed = store.list_namespaces()
    if make.kind == "inmemory":  # type: ignore[attr-defined]
        assert listed == [("docs", "x"), ("docs", "y")]  # an empty dict stays behind
    else:
        assert listed == [("docs", "y")]


def test_difference_unindexing_an_item_drops_its_old_vectors(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(ALICE, "k", {"text": "I keep bees"})
    store.put(ALICE, "k", {"text": "I keep bees"}, index=False)
    (hit,) = store.search(ALICE, query="I keep bees")
    if make.kind == "inmemory":  # type: ignore[attr-defined]
        assert hit.score is not None  # InMemoryStore keeps the stale vector
    else:
        assert hit.score is None


def test_difference_shared_isolation_pools_user_namespaces(make: Make) -> None:
    store = make({"fields": ["text"]})
    store.put(BOB, "k", {"text": "Bob's divorce hearing is on Monday"})
    hits = store.search(ALICE, query="divorce hearing")
    if make.kind == "chroma-shared":  # type: ignore[attr-defined]
        assert [(h.namespace, h.key) for h in hits] == [(BOB, "k")]  # the pooled design
    else:
        assert hits == []


def test_difference_no_configuration(tmp_path: Path, embedder: Embedder) -> None:
    # InMemoryStore without an index has no vectors; ours embeds value["text"]
    ref = InMemoryStore()
    ours = ChromaMemoryStore(tmp_path / "db", embedder=embedder)
    try:
        for s in (ref, ours):
            s.put(ALICE, "k", {"text": "I keep bees"})
            s.put(ALICE, "j", {"content": "I keep bees"})
        assert [h.score for h in ref.search(ALICE, query="bees")] == [None, None]
        got = [(h.key, h.score is None) for h in ours.search(ALICE, query="bees")]
        assert got == [("k", False), ("j", True)]
    finally:
        ours.close()
