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
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import SearchItem

from sandbox.memory._items import item_fields, matches_filter
from sandbox.memory.embeddings import DIM, PackagedMiniLM

__all__ = [
    "CHUNK",
    "PLACEHOLDER",
    "Entry",
    "Scope",
    "collection_name",
    "fetch_metas",
    "packaged_ef",
    "rank_similar",
    "release",
    "scrub_log",
    "vacuum",
]

CHUNK = 5000  # below Chroma's maximum batch size (5461)
# Items that are stored but not indexed still need a vector in Chroma; they all get this
# one and are dropped from similarity results.
PLACEHOLDER = np.eye(1, DIM, dtype=np.float32)[0]

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
    indexed: bool


@dataclass
class Scope:
    """One Chroma collection: a single namespace, or a pool of every namespace under a prefix."""

    label: tuple[str, ...]
    pooled: bool
    collection: Any
    entries: dict[str, Entry] = field(default_factory=dict)
    unindexed: int = 0
    # id -> (vector, document, metadata) to upsert, or None to delete; flushed before reads.
    pending: dict[str, tuple[np.ndarray, str, dict[str, Any]] | None] = field(default_factory=dict)


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
    where: dict[str, Any] | None,
) -> tuple[list[SearchItem], int]:
    """Cosine-ranked indexed items of `scopes`, best first, and the queries it took.

    Ties are broken by namespace and key.
    """
    ranked: list[tuple[float, tuple[str, ...], str, dict[str, Any]]] = []
    queries = 0
    for scope in scopes:
        total = len(scope.entries)
        if total == scope.unindexed:
            continue
        n = total if where else min(total, stop + scope.unindexed)
        if n <= 0:
            continue
        res = scope.collection.query(
            query_embeddings=[query], n_results=n, include=["metadatas", "distances"]
        )
        queries += 1
        for meta, dist in zip(res["metadatas"][0], res["distances"][0], strict=True):
            if not meta["indexed"]:
                continue
            if where and not matches_filter(json.loads(meta["value"]), where):
                continue
            score = float(min(1.0, max(-1.0, 1.0 - dist)))
            ranked.append((score, tuple(str(meta["ns"]).split(".")), str(meta["key"]), meta))
    # Scores of equal vectors can differ in the last bits (index vs. brute-force paths).
    ranked.sort(key=lambda r: (-round(r[0], 6), r[1], r[2]))
    return [SearchItem(**item_fields(m), score=score) for score, _, _, m in ranked], queries


def fetch_metas(scope: Scope, ids: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
    """Stored metadata of items by id, read in chunks; also how many reads it took."""
    out: dict[str, dict[str, Any]] = {}
    reads = 0
    for start in range(0, len(ids), CHUNK):
        got = scope.collection.get(ids=ids[start : start + CHUNK], include=["metadatas"])
        reads += 1
        out.update(zip(got["ids"], got["metadatas"] or [], strict=True))
    return out, reads
