"""The instrumented wrapper: one event per read or write, with owners, scores and context."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from langgraph.store.base import BaseStore, GetOp, ListNamespacesOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from sandbox.memory import ChromaMemoryStore, EventContext, InstrumentedStore
from sandbox.record.events import Event, MemoryDelete, MemoryWrite, Retrieval, parse_event

Make = Callable[..., ChromaMemoryStore]
ALICE, BOB = ("memories", "alice"), ("memories", "bob")


@pytest.fixture(params=["inmemory", "chroma"])
def inner(request: pytest.FixtureRequest, make_store: Make, reference: InMemoryStore) -> BaseStore:
    return reference if request.param == "inmemory" else make_store("per_user")


def wrap(inner: BaseStore) -> tuple[InstrumentedStore, list[Event]]:
    events: list[Event] = []
    ctx = EventContext(user="alice", session=2, turn=5, t_sim=3.5)
    return InstrumentedStore(inner, events.append, ctx), events


def test_writes_reads_and_deletes_become_events(inner: BaseStore) -> None:
    store, events = wrap(inner)
    store.put(ALICE, "k1", {"text": "I am allergic to peanuts", "source": "profile"})
    store.put(ALICE, "k2", {"text": "[REDACTED] lives in Leeds", "redacted": True, "owner": "al"})
    store.put(ALICE, "k3", {"name": "Alice"})
    hits = store.search(ALICE, query="food allergy", limit=2)
    got = store.get(ALICE, "k1")
    store.get(ALICE, "missing")
    store.search(ALICE, limit=1)
    store.list_namespaces()
    store.delete(ALICE, "k2")

    assert [e.kind for e in events] == ["memory_write"] * 3 + ["retrieval"] * 4 + ["memory_delete"]
    w1, w2, w3 = events[:3]
    assert isinstance(w1, MemoryWrite) and isinstance(w2, MemoryWrite)
    assert (w1.id, w1.owner, w1.source, w1.redacted) == ("k1", "alice", "profile", False)
    assert (w2.owner, w2.source, w2.redacted) == ("al", "episodic", True)
    assert isinstance(w3, MemoryWrite) and w3.text == '{"name": "Alice"}'
    search = events[3]
    assert isinstance(search, Retrieval)
    assert (search.op, search.namespace, search.query) == ("search", list(ALICE), "food allergy")
    assert [h.id for h in search.hits] == [h.key for h in hits]
    assert [h.score for h in search.hits] == [h.score for h in hits]
    assert search.hits[0].owner == "alice" and search.hits[0].text == "I am allergic to peanuts"
    get, miss, listing = events[4:7]
    assert isinstance(get, Retrieval) and get.op == "get" and get.hits[0].id == got.key  # type: ignore[union-attr]
    assert isinstance(miss, Retrieval) and miss.hits == []
    assert isinstance(listing, Retrieval) and listing.op == "list" and listing.hits[0].score is None
    delete = events[7]
    assert isinstance(delete, MemoryDelete)
    assert (delete.mode, delete.ids, delete.namespace) == ("hard", ["k2"], list(ALICE))
    for e in events:
        assert (e.user, e.session, e.turn, e.t_sim) == ("alice", 2, 5, 3.5)
        assert parse_event(e.model_dump()) == e  # records round-trip


def test_context_is_read_at_each_call(inner: BaseStore) -> None:
    store, events = wrap(inner)
    store.put(ALICE, "k", {"text": "x"})
    store.context.turn = 6
    store.context = EventContext(user="bob", session=3, turn=0, t_sim=4.0)
    store.get(ALICE, "k")
    assert (events[0].turn, events[1].user, events[1].session) == (5, "bob", 3)


def test_batch_events_follow_op_order(inner: BaseStore) -> None:
    store, events = wrap(inner)
    store.put(ALICE, "a", {"text": "first"})
    results = store.batch(
        [
            SearchOp(ALICE, query="first"),
            PutOp(ALICE, "b", {"text": "second"}),
            ListNamespacesOp(),
            GetOp(ALICE, "a"),
            PutOp(ALICE, "a", {"text": "first", "forgotten": True}),
            PutOp(ALICE, "b", None),
        ]
    )
    assert len(results) == 6 and results[2] == [ALICE]  # the probe read is not returned
    kinds = [(e.kind, getattr(e, "op", getattr(e, "mode", None))) for e in events[1:]]
    assert kinds == [
        ("retrieval", "search"),
        ("memory_write", None),
        ("retrieval", "get"),
        ("memory_delete", "soft"),
        ("memory_delete", "hard"),
    ]


def test_shared_pool_leak_is_visible_in_events(make_store: Make) -> None:
    store, events = wrap(make_store("shared"))
    store.put(BOB, "k", {"text": "Bob's divorce hearing is on Monday"})
    store.context.user = "alice"
    store.search(ALICE, query="when is the divorce hearing?")
    retrieval = events[-1]
    assert isinstance(retrieval, Retrieval) and retrieval.namespace == list(ALICE)
    assert [(h.owner, h.namespace) for h in retrieval.hits] == [("bob", list(BOB))]
    assert retrieval.hits[0].score is not None and retrieval.hits[0].score > 0.5


def test_async_calls_emit_and_await_async_sinks(inner: BaseStore) -> None:
    seen: list[Event] = []

    async def sink(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    store = InstrumentedStore(inner, sink, EventContext(user="alice"))

    async def scenario() -> None:
        await store.aput(ALICE, "k", {"text": "I like jazz"})
        await store.asearch(ALICE, query="music")
        await store.aput(ALICE, "k", {"text": "I like jazz", "forgotten": True})
        await store.adelete(ALICE, "k")

    asyncio.run(scenario())
    assert [e.kind for e in seen] == ["memory_write", "retrieval", "memory_delete", "memory_delete"]
    assert [getattr(e, "mode", None) for e in seen[2:]] == ["soft", "hard"]
    assert isinstance(seen[1], Retrieval) and seen[1].hits[0].owner == "alice"
