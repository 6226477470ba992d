"""A LangGraph ``BaseStore`` on ChromaDB, where isolation is a property of the layout.

With ``per_user`` isolation every namespace tuple gets its own Chroma collection, so a
search in ``("memories", "alice")`` cannot reach ``("memories", "bob")``: the other user's
vectors are not in the index that is queried. With ``shared`` isolation every namespace
under a shared prefix lives in one pooled collection, and a search ranks all users' items
by similarity. That is the common real-world design and its leak is real
nearest-neighbour retrieval, not a flag.

Values are JSON dicts; ``value["text"]`` is what gets embedded. Embeddings are computed
with the packaged MiniLM model and passed to Chroma precomputed. A small in-memory
catalog (ids, order, creation times) mirrors what is on disk, so gets of missing keys,
namespace listings and paging need no database round trip; it is rebuilt on open.
"""

from __future__ import annotations

import json
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import chromadb
import numpy as np
from chromadb.config import Settings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)

from sandbox.memory._chroma import (
    CHUNK,
    PLACEHOLDER,
    Entry,
    Scope,
    collection_name,
    fetch_metas,
    packaged_ef,
    rank_similar,
    release,
    scrub_log,
    vacuum,
)
from sandbox.memory._items import (
    index_text,
    item_fields,
    item_id,
    item_metadata,
    list_namespaces,
    matches_filter,
    owner_of,
)
from sandbox.memory.embeddings import Embedder, get_embedder, loaded_embedder

__all__ = ["ChromaMemoryStore", "Isolation", "item_id", "owner_of"]

Isolation = Literal["per_user", "shared"]


class ChromaMemoryStore(BaseStore):
    """Namespaced long-term memory on ChromaDB, implementing LangGraph's ``BaseStore``.

    Args:
        path: Folder of the persistent Chroma database; ``None`` keeps it in a private
            temporary folder removed on ``close()`` (independent of every other store).
        isolation: ``"per_user"`` (one collection per namespace) or ``"shared"`` (one
            pooled collection per shared prefix; searches there see every user's items).
        shared_prefixes: First namespace labels that are pooled in ``shared`` mode.
        embedder: Sentence embedder; defaults to the process-wide packaged MiniLM.
        clock: Source of ``created_at``/``updated_at``; pass the simulated clock so a
            run never reads the wall clock. Defaults to UTC now.

    Writes within one ``batch`` are applied in order and reads see earlier writes.
    Hard delete (``PutOp`` with ``value=None``) removes the item from Chroma and its text
    from the embedding cache; ``value["forgotten"] = True`` is advisory only: the item
    stays stored and searchable. Only one open store may use a given path at a time.
    """

    _open: ClassVar[weakref.WeakValueDictionary[str, ChromaMemoryStore]] = (
        weakref.WeakValueDictionary()
    )

    def __init__(
        self,
        path: Path | None,
        isolation: Isolation = "per_user",
        shared_prefixes: tuple[str, ...] = ("memories",),
        embedder: Embedder | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ):
        if isolation not in ("per_user", "shared"):
            raise ValueError(f"isolation must be 'per_user' or 'shared', got {isolation!r}")
        self.isolation: Isolation = isolation
        self.shared_prefixes = tuple(shared_prefixes)
        self._embedder = embedder
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        tmpdir = None if path is not None else tempfile.mkdtemp(prefix="sandbox-memory-")
        self._temporary = tmpdir
        self._vacuum_on_close = False
        self.path = Path(path if path is not None else tmpdir)  # type: ignore[arg-type]
        self.path.mkdir(parents=True, exist_ok=True)
        self._key = str(self.path.resolve())
        if self._key in self._open:  # two catalogs over one database would drift apart
            raise RuntimeError(f"a memory store is already open on {self.path}")
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False)
        )
        self._open[self._key] = self
        self._finalizer = weakref.finalize(self, release, self._client, tmpdir)
        self._closed = False
        self._scopes: dict[tuple[tuple[str, ...], bool], Scope] = {}
        self._dirty: dict[tuple[tuple[str, ...], bool], Scope] = {}
        self._ns_counts: Counter[tuple[str, ...]] = Counter()
        self._seq = 0
        self._stats: Counter[str] = Counter()
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------

    def _load(self) -> None:
        """Rebuild the catalog from the collections on disk."""
        for col in self._client.list_collections():
            meta = col.metadata or {}
            if "sandbox_label" not in meta:
                continue
            label = tuple(json.loads(meta["sandbox_label"]))
            pooled = bool(meta["sandbox_pooled"])
            if pooled != (self._route(label)[1]):
                raise ValueError(
                    f"{self.path} holds {'pooled' if pooled else 'per-namespace'} memory for "
                    f"{label}, which isolation={self.isolation!r} cannot open"
                )
            handle = self._client.get_collection(col.name, embedding_function=packaged_ef())
            scope = Scope(label, pooled, handle)
            got = handle.get(include=["metadatas"])
            for iid, md in zip(got["ids"], got["metadatas"] or [], strict=True):
                ns = tuple(str(md["ns"]).split("."))
                entry = Entry(ns, str(md["key"]), int(str(md["seq"])), str(md["created_at"]),
                               bool(md["indexed"]))  # fmt: skip
                scope.entries[iid] = entry
                scope.unindexed += not entry.indexed
                self._ns_counts[ns] += 1
                self._seq = max(self._seq, entry.seq + 1)
            self._scopes[(label, pooled)] = scope

    def close(self) -> None:
        """Release the database (and remove it if it was temporary); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer()
            try:
                if self._vacuum_on_close:
                    vacuum(self.path)
            finally:
                self._open.pop(self._key, None)

    def __enter__(self) -> ChromaMemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, int]:
        """Counters of the work done (records added, Chroma queries, ...) for benchmarks."""
        with self._lock:
            return {
                **dict.fromkeys(("adds", "deletes", "scrubbed", "queries", "gets", "searches"), 0),
                **self._stats,
                "collections": len(self._scopes),
                "items": sum(len(s.entries) for s in self._scopes.values()),
            }

    # -- BaseStore ---------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ops in order; results line up with the ops."""
        ops = list(ops)
        with self._lock:
            if self._closed:
                raise RuntimeError("memory store is closed")
            for op in ops:
                validate_op_namespace(op)
                if isinstance(op, PutOp) and not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
            vectors = self._embed(ops)
            results: list[Result] = []
            try:
                for op in ops:
                    if isinstance(op, PutOp):
                        self._put(op, vectors)
                        results.append(None)
                        continue
                    self._flush()
                    if isinstance(op, GetOp):
                        results.append(self._get(op))
                    elif isinstance(op, SearchOp):
                        results.append(self._search(op, vectors))
                    elif isinstance(op, ListNamespacesOp):
                        results.append(self._list_namespaces(op))
                    else:
                        raise TypeError(f"unknown store operation: {type(op).__name__}")
            finally:
                self._flush()
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Same as ``batch``; Chroma and the model are synchronous, and ordering matters."""
        return self.batch(ops)

    # -- routing -----------------------------------------------------------------------

    def _route(self, namespace: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
        if self.isolation == "shared" and namespace[0] in self.shared_prefixes:
            return (namespace[0],), True
        return namespace, False

    def _scope(self, namespace: tuple[str, ...], create: bool) -> Scope | None:
        where = self._route(namespace)
        scope = self._scopes.get(where)
        if scope is None and create:
            label, pooled = where
            meta = {"sandbox_label": json.dumps(list(label)), "sandbox_pooled": pooled}
            handle = self._client.get_or_create_collection(
                collection_name(label, pooled),
                configuration={"hnsw": {"space": "cosine"}},
                metadata=meta,
                embedding_function=packaged_ef(),
            )
            scope = self._scopes[where] = Scope(label, pooled, handle)
        return scope

    def _scopes_under(self, prefix: tuple[str, ...]) -> list[Scope]:
        """Collections a search under ``prefix`` reads; a pool is read whole."""
        n = len(prefix)
        out = []
        for (label, pooled), scope in sorted(self._scopes.items()):
            if pooled and (not n or label[0] == prefix[0]):
                out.append(scope)  # the leak of shared mode: the whole pool is read
            elif not pooled and label[:n] == prefix:
                out.append(scope)
        return out

    # -- operations --------------------------------------------------------------------

    def _embed(self, ops: list[Op]) -> dict[str, np.ndarray]:
        texts: list[str] = []
        for op in ops:
            if isinstance(op, PutOp) and op.value is not None:
                texts.append(index_text(op.value, op.index))
            elif isinstance(op, SearchOp) and op.query:
                texts.append(op.query)
        unique = [t for t in dict.fromkeys(texts) if t]
        if not unique:
            return {}
        if self._embedder is None:
            self._embedder = get_embedder()
        return dict(zip(unique, self._embedder.encode(unique), strict=True))

    def _put(self, op: PutOp, vectors: dict[str, np.ndarray]) -> None:
        ns, key = tuple(op.namespace), str(op.key)
        scope = self._scope(ns, create=op.value is not None)
        iid = item_id(ns, key)
        old = scope.entries.get(iid) if scope else None
        if op.value is None:
            if scope is None or old is None:
                return
            del scope.entries[iid]
            scope.unindexed -= not old.indexed
            self._ns_counts[ns] -= 1
            if self._ns_counts[ns] <= 0:
                del self._ns_counts[ns]
            scope.pending[iid] = None
            self._dirty[(scope.label, scope.pooled)] = scope
            self._stats["deletes"] += 1
            return
        assert scope is not None
        value = dict(op.value)
        blob = json.dumps(value, ensure_ascii=False)
        text = index_text(value, op.index)
        now = self._clock().isoformat()
        if old is None:
            entry = Entry(ns, key, self._seq, now, bool(text))
            self._seq += 1
            self._ns_counts[ns] += 1
        else:
            entry = Entry(ns, key, old.seq, old.created_at, bool(text))
            scope.unindexed -= not old.indexed
        scope.entries[iid] = entry
        scope.unindexed += not entry.indexed
        metadata = item_metadata(
            ns, key, value, blob, entry.created_at, now, entry.seq, entry.indexed
        )
        scope.pending[iid] = (vectors[text] if text else PLACEHOLDER, text, metadata)
        self._dirty[(scope.label, scope.pooled)] = scope

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for scope in dirty.values():
            pending, scope.pending = scope.pending, {}
            gone = [i for i, rec in pending.items() if rec is None]
            live = [(i, rec) for i, rec in pending.items() if rec is not None]
            if gone:
                got = scope.collection.get(ids=gone, include=["documents"])
                embedder = self._embedder or loaded_embedder()
                if embedder is not None:
                    embedder.forget([d for d in got["documents"] or [] if d])
                scope.collection.delete(ids=gone)
                if self._temporary is None:
                    self._stats["scrubbed"] += scrub_log(self.path, gone, PLACEHOLDER)
                    self._vacuum_on_close = True
            for start in range(0, len(live), CHUNK):
                chunk = live[start : start + CHUNK]
                scope.collection.upsert(
                    ids=[i for i, _ in chunk],
                    embeddings=np.stack([rec[0] for _, rec in chunk]),
                    documents=[rec[1] for _, rec in chunk],
                    metadatas=[rec[2] for _, rec in chunk],
                )
                self._stats["adds"] += len(chunk)

    def _fetch(self, scope: Scope, ids: list[str]) -> dict[str, dict[str, Any]]:
        metas, reads = fetch_metas(scope, ids)
        self._stats["gets"] += reads
        return metas

    def _get(self, op: GetOp) -> Item | None:
        ns = tuple(op.namespace)
        scope = self._scope(ns, create=False)
        iid = item_id(ns, str(op.key))
        if scope is None or iid not in scope.entries:
            return None
        meta = self._fetch(scope, [iid])[iid]
        return Item(**item_fields(meta))

    def _search(self, op: SearchOp, vectors: dict[str, np.ndarray]) -> list[SearchItem]:
        """Ranked items first (with a query), then unscored ones in insertion order."""
        self._stats["searches"] += 1
        scopes = self._scopes_under(tuple(op.namespace_prefix))
        start = max(op.offset, 0)
        stop = start + max(op.limit, 0)
        ranked: list[SearchItem] = []
        if op.query:
            ranked = self._similar(scopes, vectors[op.query], stop, op.filter)
            if len(ranked) >= stop:
                return ranked[start:stop]
        rows = sorted(
            (e.seq, s, iid)
            for s in scopes
            for iid, e in s.entries.items()
            if not (op.query and e.indexed)
        )
        if not op.filter:
            done = len(ranked)
            return ranked[start:stop] + self._items(rows[max(start - done, 0) : stop - done])
        plain = [it for it in self._items(rows) if matches_filter(it.value, op.filter)]
        return (ranked + plain)[start:stop]

    def _items(self, rows: list[tuple[int, Scope, str]]) -> list[SearchItem]:
        """Fetch items in the given order, one Chroma read per collection."""
        metas: dict[str, dict[str, Any]] = {}
        for scope in {id(s): s for _, s, _ in rows}.values():
            metas.update(self._fetch(scope, [i for _, s, i in rows if s is scope]))
        return [SearchItem(**item_fields(metas[i])) for _, _, i in rows]

    def _similar(
        self,
        scopes: list[Scope],
        query: np.ndarray,
        stop: int,
        where: dict[str, Any] | None,
    ) -> list[SearchItem]:
        ranked, queries = rank_similar(scopes, query, stop, where)
        self._stats["queries"] += queries
        return ranked

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        return list_namespaces(self._ns_counts, op)
