"""Chroma plumbing for the memory store: collection naming, catalog records, scrubbing.

Why scrubbing: Chroma's delete removes an item from every index, but its write-ahead log
(``embeddings_queue``) keeps the original add, with the document, metadata and vector,
until the vector index is next persisted (every ~1000 writes per collection). Freed
SQLite pages and full-text segments also keep old bytes. For a store whose point is
to test forgetting, "deleted" should mean the text is no longer anywhere in the file:
the log rows of deleted ids are blanked at delete time, and the file is vacuumed when
the store closes. Only the ``delete`` log rows stay, so replaying the log still ends
with the item absent. Vectors of deleted items may remain, marked deleted, inside an
HNSW index that was already persisted (no text is stored there).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.memory._items import item_id
from sandbox.memory.embeddings import PackagedMiniLM

__all__ = [
    "CHUNK",
    "Entry",
    "Scope",
    "collection_name",
    "fetch_metas",
    "item_of",
    "packaged_ef",
    "placeholder",
    "rank_similar",
    "release",
    "scrub_index_files",
    "scrub_log",
    "vacuum",
]

CHUNK = 5000  # below Chroma's maximum batch size (5461)


def placeholder(dims: int) -> np.ndarray:
    """The vector of every stored-but-unindexed record (dropped from similarity results)."""
    return np.eye(1, dims, dtype=np.float32)[0]


_DB = "chroma.sqlite3"
_DELETE = 3  # chroma's Operation.DELETE as stored in embeddings_queue.operation


def collection_name(label: tuple[str, ...], pooled: bool) -> str:
    """A valid, stable Chroma name for a namespace or pool: readable slug plus hash."""
    digest = hashlib.sha256(json.dumps(list(label)).encode()).hexdigest()[:16]
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "_", "-".join(label))[:40]
    return f"{'pool' if pooled else 'ns'}-{slug}-{digest}"


@dataclass
class Entry:
    """What the catalog remembers of one stored item."""

    namespace: tuple[str, ...]
    key: str
    seq: int
    created_at: str
    records: tuple[str, ...]  # Chroma ids of its vectors, or of its one unindexed record
    indexed: bool


@dataclass
class Scope:
    """One Chroma collection: a single namespace, or a pool of every namespace under a prefix."""

    label: tuple[str, ...]
    pooled: bool
    collection: Any
    entries: dict[str, Entry] = field(default_factory=dict)
    # id -> (vector, document, metadata) to upsert, or None to delete; flushed after writes.
    pending: dict[str, tuple[np.ndarray, str, dict[str, Any]] | None] = field(default_factory=dict)

    # (items, records, indexed items), kept up to date by add/drop so a search need not
    # walk the catalog; recounted when `entries` was filled directly (reopening a store)
    tally: tuple[int, int, int] | None = field(default=None, repr=False)

    def add(self, iid: str, entry: Entry) -> None:
        """Catalog an item (replacing any previous entry for it)."""
        self.drop(iid)
        self.entries[iid] = entry
        if self.tally is not None:
            n, r, x = self.tally
            self.tally = (n + 1, r + len(entry.records), x + int(entry.indexed))

    def drop(self, iid: str) -> Entry | None:
        """Remove an item from the catalog; returns what it was."""
        old = self.entries.pop(iid, None)
        if old is not None and self.tally is not None:
            n, r, x = self.tally
            self.tally = (n - 1, r - len(old.records), x - int(old.indexed))
        return old

    def counts(self) -> tuple[int, int, int]:
        """Records, unindexed records, and indexed items in the collection."""
        if self.tally is None or self.tally[0] != len(self.entries):
            records = sum(len(e.records) for e in self.entries.values())
            indexed = sum(e.indexed for e in self.entries.values())
            self.tally = (len(self.entries), records, indexed)
        _, records, indexed = self.tally
        return records, len(self.entries) - indexed, indexed


def packaged_ef() -> Any:
    """Our embedding function, attached to every collection.

    Chroma's default one would try to download a model; vectors are always passed in
    precomputed, so this only names the model in the persisted configuration.
    """
    return PackagedMiniLM()


def release(client: Any, tmpdir: str | None) -> None:
    """Close a client and remove its folder if it was temporary."""
    client.close()
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)


def scrub_log(folder: Path, ids: Iterable[str], placeholder: np.ndarray) -> int:
    """Blank the logged content of deleted ids; returns how many log rows were blanked.

    The vector is replaced (not nulled) because a log replay re-applies the add before
    the delete, and the add needs a well-formed vector.
    """
    ids = list(ids)
    if not ids:
        return 0
    blob = np.asarray(placeholder, dtype=np.float32).tobytes()
    with closing(sqlite3.connect(folder / _DB, timeout=30)) as con:
        con.execute("PRAGMA secure_delete = ON")
        changed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cur = con.execute(
                f"UPDATE embeddings_queue SET vector = ?, metadata = NULL "
                f"WHERE operation != ? AND id IN ({marks})",
                (blob, _DELETE, *chunk),
            )
            changed += cur.rowcount
        con.commit()
    return changed


def scrub_index_files(folder: Path, texts: Iterable[str]) -> int:
    """Zero any bytes of deleted texts found in the vector index files; returns how many.

    Chroma's HNSW files (``*.bin``) hold vectors and integer labels only, but they are
    written from preallocated memory, and the unused part can carry stale heap bytes,
    including a deleted text. Overwriting them cannot touch real index data: text bytes
    are never part of it. Run after the client has closed (the files are final then).
    """
    needles = sorted({t.encode("utf-8") for t in texts if t and len(t) >= 4}, key=len)
    if not needles:
        return 0
    hits = 0
    for f in folder.rglob("*.bin"):
        data = bytearray(f.read_bytes())
        changed = False
        for needle in reversed(needles):  # longest first
            start = data.find(needle)
            while start >= 0:
                data[start : start + len(needle)] = bytes(len(needle))
                hits += 1
                changed = True
                start = data.find(needle, start + len(needle))
        if changed:
            f.write_bytes(bytes(data))
    return hits


def vacuum(folder: Path) -> None:
    """Rebuild the SQLite file so freed pages and merged-away segments leave no copies."""
    with closing(sqlite3.connect(folder / _DB, timeout=30)) as con:
        con.execute("INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                    "VALUES('optimize')")  # fmt: skip
        con.commit()
        con.execute("VACUUM")


def rank_similar(
    scopes: list[Scope],
    query: np.ndarray,
    stop: int,
    keep: Callable[[dict[str, Any]], bool] | None,
) -> tuple[list[tuple[float, dict[str, Any]]], int]:
    """Indexed items of `scopes` with their best cosine over their vectors, and queries made.

    An item with several vectors (one per indexed field) scores its best match, as in
    LangGraph's ``InMemoryStore``. ``keep`` (a filter over metadata) means every record
    is read; otherwise just enough records to hold ``stop`` distinct items. Unsorted.
    """
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    queries = 0
    for scope in scopes:
        records, unindexed, indexed = scope.counts()
        if not indexed:
            continue
        dupes = records - unindexed - indexed
        n = records if keep else min(records, stop + unindexed + dupes)
        if n <= 0:
            continue
        res = scope.collection.query(
            query_embeddings=[query], n_results=n, include=["metadatas", "distances"]
        )
        queries += 1
        for meta, dist in zip(res["metadatas"][0], res["distances"][0], strict=True):
            if not meta["indexed"]:
                continue
            iid = item_of(meta)
            if keep is not None and iid not in best and not keep(meta):
                continue
            # Chroma computes float32 distances; a server sends them as shortest decimal
            # strings. Rounding to float32 gives both clients the very same number.
            score = float(min(1.0, max(-1.0, 1.0 - float(np.float32(dist)))))
            if iid not in best or score > best[iid][0]:
                best[iid] = (score, meta)
    return list(best.values()), queries


def item_of(meta: Mapping[str, Any]) -> str:
    """The catalog id of the item a record belongs to."""
    return item_id(tuple(str(meta["ns"]).split(".")), str(meta["key"]))


def fetch_metas(scope: Scope, ids: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Stored metadata of items by id, read in chunks; also how many reads it took."""
    out: dict[str, dict[str, Any]] = {}
    reads = 0
    for start in range(0, len(ids), CHUNK):
        got = scope.collection.get(ids=ids[start : start + CHUNK], include=["metadatas"])
        reads += 1
        out.update(zip(got["ids"], got["metadatas"] or [], strict=True))
    return out, reads
