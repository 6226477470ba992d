"""Forgetting: a hard delete leaves nothing retrievable; a soft forget only flags the item."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.memory import ChromaMemoryStore, Embedder, InstrumentedStore
from sandbox.record.events import Event, MemoryDelete, MemoryWrite, Retrieval

Make = Callable[..., ChromaMemoryStore]
ALICE, BOB = ("memories", "alice"), ("memories", "bob")
SECRET = "My PIN for the Quokkabank card is 7713"


def folder_holds(folder: Path, needle: str) -> list[str]:
    """Files under a store folder whose bytes contain the needle (case-insensitive)."""
    found = []
    for f in folder.rglob("*"):
        if f.is_file() and needle.lower().encode() in f.read_bytes().lower():
            found.append(f.name)
    return found


@pytest.mark.parametrize("isolation", ["per_user", "shared"])
def test_hard_delete_leaves_nothing_retrievable(
    make_store: Make, tmp_path: Path, embedder: Embedder, isolation: str
) -> None:
    path = tmp_path / "db"
    store = make_store(isolation, path=path)
    store.put(ALICE, "pin", {"text": SECRET, "kind": "secret"})
    store.put(ALICE, "hobby", {"text": "I play badminton on Fridays"})
    store.put(BOB, "job", {"text": "I drive a bus"})
    assert folder_holds(path, "Quokkabank")  # the check below can fail
    assert embedder.cached(SECRET)
    store.delete(ALICE, "pin")
    assert not embedder.cached(SECRET)  # (searching for it below caches it as a query)

    def nothing_left(s: ChromaMemoryStore) -> None:
        assert s.get(ALICE, "pin") is None
        for ns in (ALICE, BOB, ("memories",), ()):
            assert "pin" not in [h.key for h in s.search(ns, query=SECRET, limit=50)]
            assert "pin" not in [h.key for h in s.search(ns, limit=50)]
            assert "pin" not in [h.key for h in s.search(ns, filter={"kind": "secret"})]
        assert s.list_namespaces() == [ALICE, BOB]

    nothing_left(store)
    assert store.stats()["scrubbed"] >= 1
    store.close()
    assert folder_holds(path, "Quokkabank") == []
    again = make_store(isolation, path=path)
    nothing_left(again)
    rest = [h.key for h in again.search(ALICE)]
    assert rest == (["hobby"] if isolation == "per_user" else ["hobby", "job"])


def test_deleting_the_last_item_drops_the_namespace(make_store: Make) -> None:
    store = make_store()
    store.put(ALICE, "k", {"text": SECRET})
    store.delete(ALICE, "k")
    assert store.list_namespaces() == []
    assert store.search(("memories",), query=SECRET) == []
    store.put(ALICE, "k", {"text": "a new memory under the old key"})
    assert [h.value["text"] for h in store.search(ALICE)] == ["a new memory under the old key"]


@pytest.mark.parametrize("isolation", ["per_user", "shared"])
def test_soft_forget_keeps_the_item_searchable(make_store: Make, isolation: str) -> None:
    events: list[Event] = []
    store = InstrumentedStore(make_store(isolation), events.append)
    store.put(ALICE, "pin", {"text": SECRET})
    store.put(ALICE, "pin", {"text": SECRET, "forgotten": True, "forget_reason": "user asked"})
    hits = store.search(ALICE, query="what is my card PIN?", limit=1)
    assert [h.key for h in hits] == ["pin"] and hits[0].value["forgotten"] is True
    kinds = [type(e) for e in events]
    assert kinds == [MemoryWrite, MemoryDelete, Retrieval]
    soft = events[1]
    assert isinstance(soft, MemoryDelete)
    assert (soft.mode, soft.ids, soft.reason) == ("soft", ["pin"], "user asked")
    retrieval = events[2]
    assert isinstance(retrieval, Retrieval) and retrieval.hits[0].forgotten is True
    # Forgetting again is not a second soft delete: the item was already flagged.
    store.put(ALICE, "pin", {"text": SECRET, "forgotten": True})
    assert isinstance(events[-1], MemoryWrite)
    store.delete(ALICE, "pin")
    assert isinstance(events[-1], MemoryDelete) and events[-1].mode == "hard"
    assert store.search(ALICE, query=SECRET) == []


def test_stale_copies_in_index_files_are_zeroed(tmp_path: Path) -> None:
    """HNSW files are written from preallocated memory; a deleted text can sit in it."""
    from sandbox.memory._chroma import scrub_index_files

    seg = tmp_path / "segment"
    seg.mkdir()
    planted = b"\x00\x01" * 8 + SECRET.encode() + b"\x02" * 8 + SECRET.encode()[:6]
    (seg / "data_level0.bin").write_bytes(planted)
    (seg / "other.sqlite3").write_bytes(SECRET.encode())  # only index files are touched
    assert scrub_index_files(tmp_path, [SECRET, "ab"]) == 1
    data = (seg / "data_level0.bin").read_bytes()
    assert SECRET.encode() not in data and len(data) == len(planted)
    assert data.startswith(b"\x00\x01" * 8) and data.endswith(SECRET.encode()[:6])
    assert folder_holds(tmp_path, SECRET) == ["other.sqlite3"]
