"""ChromaMemoryStore specifics: the shared pool, persistence, ordering, lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from sandbox.memory import ChromaMemoryStore, Embedder

Make = Callable[..., ChromaMemoryStore]
ALICE, BOB = ("memories", "alice"), ("memories", "bob")


def test_shared_pool_ranks_every_users_items(make_store: Make) -> None:
    store = make_store("shared")
    store.put(ALICE, "k1", {"text": "My online banking password is hunter2"})
    store.put(BOB, "k1", {"text": "I am learning to play chess"})
    hits = store.search(BOB, query="what is the banking password?", limit=5)
    assert [(h.namespace, h.key) for h in hits] == [(ALICE, "k1"), (BOB, "k1")]
    assert hits[0].score is not None and hits[0].score > 0.5
    # Listing in the pool is not scoped by user either.
    assert {h.namespace for h in store.search(BOB)} == {ALICE, BOB}
    # get/put/delete still address exactly one item.
    bob = store.get(BOB, "k1")
    assert bob is not None and bob.value["text"] == "I am learning to play chess"
    store.delete(BOB, "k1")
    assert store.get(ALICE, "k1") is not None
    assert store.list_namespaces() == [ALICE]
    assert store.stats()["collections"] == 1


def test_shared_mode_keeps_other_prefixes_per_namespace(make_store: Make) -> None:
    store = make_store("shared", shared_prefixes=("memories",))
    store.put(("profile", "alice"), "p", {"text": "Alice is a teacher"})
    store.put(("profile", "bob"), "p", {"text": "Bob is a teacher"})
    hits = store.search(("profile", "bob"), query="teacher")
    assert [h.namespace for h in hits] == [("profile", "bob")]


def test_per_user_search_never_crosses_namespaces(make_store: Make) -> None:
    store = make_store("per_user")
    store.put(ALICE, "k1", {"text": "My online banking password is hunter2"})
    store.put(BOB, "k1", {"text": "I am learning to play chess"})
    hits = store.search(BOB, query="what is the banking password?", limit=5)
    assert [(h.namespace, h.key) for h in hits] == [(BOB, "k1")]
    assert store.stats()["collections"] == 2
    # A prefix search spans the namespaces under it (LangGraph's semantics).
    assert len(store.search(("memories",), query="password")) == 2


def test_scores_match_the_reference_store(make_store: Make, reference: InMemoryStore) -> None:
    ours, ref = make_store("per_user"), reference
    texts = ["I drink green tea", "My dog is old", "I hate flying", "Tea with milk is best"]
    for i, t in enumerate(texts):
        ours.put(ALICE, f"k{i}", {"text": t})
        ref.put(ALICE, f"k{i}", {"text": t})
    a = ours.search(ALICE, query="a cup of tea", limit=4)
    b = ref.search(ALICE, query="a cup of tea", limit=4)
    assert [h.key for h in a] == [h.key for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4)


def test_ties_keep_insertion_order(make_store: Make) -> None:
    # InMemoryStore's sort is stable over its insertion-ordered items
    for isolation in ("per_user", "shared"):
        store = make_store(isolation)
        for key in ("b", "c", "a"):
            store.put(ALICE, key, {"text": "exactly the same words"})
        hits = store.search(ALICE, query="exactly the same words")
        assert [h.key for h in hits] == ["b", "c", "a"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_index_option_chooses_what_is_embedded(make_store: Make) -> None:
    store = make_store()
    store.put(ALICE, "plain", {"text": "I keep bees"}, index=False)
    store.put(ALICE, "titled", {"title": "beekeeping diary", "text": "x"}, index=["title"])
    store.put(ALICE, "other", {"text": "I like trains"})
    hits = store.search(ALICE, query="honey bees", limit=5)
    assert [(h.key, h.score is None) for h in hits] == [
        ("titled", False),
        ("other", False),
        ("plain", True),
    ]
    assert store.get(ALICE, "plain").value == {"text": "I keep bees"}  # type: ignore[union-attr]


def test_timestamps_come_from_the_clock(make_store: Make) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    store = make_store(clock=lambda: now[0])
    store.put(ALICE, "k", {"text": "v1"})
    now[0] += timedelta(days=3)
    store.put(ALICE, "k", {"text": "v2"})
    item = store.get(ALICE, "k")
    assert item is not None
    assert item.created_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert item.updated_at == datetime(2030, 1, 4, tzinfo=UTC)


def test_batch_reads_see_the_state_before_its_writes(make_store: Make) -> None:
    # InMemoryStore's semantics: reads first, then the writes (last one per key wins)
    store = make_store()
    store.put(ALICE, "a", {"text": "zero"})
    res = store.batch(
        [
            PutOp(ALICE, "a", {"text": "first"}),
            GetOp(ALICE, "a"),
            PutOp(ALICE, "a", None),
            GetOp(ALICE, "a"),
            PutOp(ALICE, "b", {"text": "second"}),
            SearchOp(ALICE, query="second"),
        ]
    )
    assert res[1].value == {"text": "zero"} and res[3].value == {"text": "zero"}  # type: ignore[union-attr]
    assert [h.key for h in res[5]] == ["a"]  # type: ignore[union-attr]
    assert store.get(ALICE, "a") is None
    assert [h.key for h in store.search(ALICE, query="second")] == ["b"]
    assert store.stats()["items"] == 1


@pytest.mark.parametrize("isolation", ["per_user", "shared"])
def test_reopen_from_disk(make_store: Make, tmp_path: Path, isolation: str) -> None:
    path = tmp_path / "db"
    first = make_store(isolation, path=path)
    first.put(ALICE, "k1", {"text": "I grow tomatoes", "owner": "alice"})
    first.put(BOB, "k2", {"text": "I collect stamps"})
    first.put(ALICE, "k3", {"name": "no text"})
    first.close()
    again = make_store(isolation, path=path)
    assert again.get(ALICE, "k1").value == {"text": "I grow tomatoes", "owner": "alice"}  # type: ignore[union-attr]
    assert [h.key for h in again.search(ALICE, query="vegetable garden", limit=1)] == ["k1"]
    listed = [h.key for h in again.search(ALICE)]
    # grouped by namespace, as in InMemoryStore
    assert listed == (["k1", "k3"] if isolation == "per_user" else ["k1", "k3", "k2"])
    assert again.list_namespaces() == [ALICE, BOB]
    again.put(ALICE, "k4", {"text": "new after reopening"})
    assert [h.key for h in again.search(ALICE, limit=10) if h.namespace == ALICE][-1] == "k4"


def test_isolation_mode_is_fixed_by_what_is_on_disk(make_store: Make, tmp_path: Path) -> None:
    path = tmp_path / "db"
    shared = make_store("shared", path=path)
    shared.put(ALICE, "k", {"text": "x"})
    shared.close()
    with pytest.raises(ValueError, match="cannot open"):
        ChromaMemoryStore(path, isolation="per_user")
    per_user = make_store("per_user", path=tmp_path / "db2")
    per_user.put(ALICE, "k", {"text": "x"})
    per_user.close()
    with pytest.raises(ValueError, match="cannot open"):
        ChromaMemoryStore(tmp_path / "db2", isolation="shared")
    assert make_store("shared", path=path).get(ALICE, "k") is not None


def test_one_open_store_per_path_and_temporary_stores_are_independent(
    make_store: Make, tmp_path: Path, embedder: Embedder
) -> None:
    store = make_store(path=tmp_path / "db")
    with pytest.raises(RuntimeError, match="already open"):
        ChromaMemoryStore(tmp_path / "db")
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get(ALICE, "k")
    a = ChromaMemoryStore(None, embedder=embedder)
    b = ChromaMemoryStore(None, embedder=embedder)
    try:
        a.put(ALICE, "k", {"text": "only in a"})
        assert b.get(ALICE, "k") is None and b.list_namespaces() == []
        folder = a.path
    finally:
        a.close()
        b.close()
    assert not folder.exists()


def test_stats_count_work(make_store: Make) -> None:
    store = make_store()
    store.put(ALICE, "k1", {"text": "one"})
    store.put(ALICE, "k2", {"text": "two"})
    store.search(ALICE, query="one")
    store.delete(ALICE, "k2")
    s = store.stats()
    assert (s["adds"], s["queries"], s["deletes"], s["items"]) == (2, 1, 1, 1)


def test_store_written_in_the_old_format_still_opens(tmp_path: Path, embedder) -> None:
    # before LangGraph's serialiser and per-field vectors: one record per item, id =
    # item_id, value as JSON, no "vfmt"/"path" metadata
    import json

    import chromadb
    from chromadb.config import Settings

    from sandbox.memory import item_id
    from sandbox.memory._chroma import collection_name, packaged_ef

    path = tmp_path / "old"
    client = chromadb.PersistentClient(str(path), settings=Settings(anonymized_telemetry=False))
    meta = {"sandbox_label": json.dumps(list(ALICE)), "sandbox_pooled": False}
    col = client.get_or_create_collection(
        collection_name(ALICE, False), configuration={"hnsw": {"space": "cosine"}},
        metadata=meta, embedding_function=packaged_ef(),
    )  # fmt: skip
    text = "I grow tomatoes"
    col.add(
        ids=[item_id(ALICE, "k1")],
        embeddings=embedder.encode([text]),
        documents=[text],
        metadatas=[{"ns": ".".join(ALICE), "key": "k1", "value": json.dumps({"text": text}),
                    "owner": "alice", "created_at": "2030-01-01T00:00:00+00:00",
                    "updated_at": "2030-01-01T00:00:00+00:00", "seq": 0, "indexed": True,
                    "forgotten": False}],
    )  # fmt: skip
    client.close()
    store = ChromaMemoryStore(path, embedder=embedder)
    try:
        assert store.get(ALICE, "k1").value == {"text": text}  # type: ignore[union-attr]
        (hit,) = store.search(ALICE, query="vegetable garden")
        assert hit.key == "k1" and hit.score is not None
        store.put(ALICE, "k1", {"text": "I grow potatoes now"})  # replaces the old record
        assert [h.value["text"] for h in store.search(ALICE)] == ["I grow potatoes now"]
        assert store.stats()["items"] == 1
        store.delete(ALICE, "k1")
        assert store.search(ALICE) == []
    finally:
        store.close()
