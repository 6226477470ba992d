"""A LangGraph ``BaseStore`` on ChromaDB, where isolation is a property of the layout.

With ``per_user`` isolation every namespace tuple gets its own Chroma collection, so a
search in ``("memories", "alice")`` cannot reach ``("memories", "bob")``: the other user's
vectors are not in the index that is queried. With ``shared`` isolation every namespace
under a shared prefix lives in one pooled collection, and a search ranks all users' items
by similarity. That is the common real-world design and its leak is real
nearest-neighbour retrieval, not a flag.

It behaves like LangGraph's ``InMemoryStore`` (``tests/memory/test_store_parity.py``
runs the same cases on both): an ``index`` configuration (``dims``, ``embed``,
``fields``, the whole value when ``fields`` is absent), one vector per indexed field
with the best match scoring an item, per-call ``index=``, values kept by LangGraph's
own serialiser, reads in a batch that see the state before the batch's writes, listings
grouped by namespace, and async methods that run off the event loop. Embeddings are
computed (by default with the packaged MiniLM model) and passed to Chroma precomputed. A
small in-memory catalog (ids, order, creation times) mirrors what is on disk, so gets of
missing keys, namespace listings and paging need no database round trip; it is rebuilt
on open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
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
    ensure_embeddings,
    validate_op_namespace,
)

from sandbox.memory._chroma import (
    CHUNK,
    Entry,
    Scope,
    collection_name,
    fetch_metas,
    item_of,
    packaged_ef,
    placeholder,
    rank_similar,
    release,
    scrub_index_files,
    scrub_log,
    vacuum,
)
from sandbox.memory._items import (
    Paths,
    index_texts,
    item_fields,
    item_id,
    item_metadata,
    list_namespaces,
    matches_filter,
    owner_of,
    record_id,
    tokenized,
)
from sandbox.memory._serde import decode_value, encode_value
from sandbox.memory._server import ChromaServer, ServerConnection, connect, server_errors
from sandbox.memory.embeddings import DIM, Embedder, get_embedder, loaded_embedder

__all__ = ["TEXT_FIELD", "ChromaMemoryStore", "Isolation", "item_id", "owner_of"]

Isolation = Literal["per_user", "shared"]

# What is embedded when the store is given no index configuration: the sandbox's own
# agents write ``{"text": ...}``. (LangGraph's InMemoryStore embeds nothing without a
# configuration; given one without ``fields``, both stores embed the whole value.)
TEXT_FIELD = ["text"]


class _Vectors:
    """Documents and queries to vectors: the packaged embedder, or LangGraph's ``embed``."""

    def __init__(self, embedder: Embedder | None, embed: Any) -> None:
        self._embedder = embedder
        self._custom = ensure_embeddings(embed) if embed is not None else None
        # LangGraph wraps an async embed function with no sync twin; run it to completion
        self._async_only = self._custom is not None and (
            getattr(self._custom, "afunc", None) is not None
            and getattr(self._custom, "func", None) is None
        )

    @property
    def packaged(self) -> Embedder | None:
        if self._custom is not None:
            return None
        return self._embedder or loaded_embedder()

    def _model(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def documents(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        if self._custom is None:
            return list(self._model().encode(texts))
        if self._async_only:
            got = asyncio.run(self._custom.aembed_documents(texts))
        else:
            got = self._custom.embed_documents(texts)
        return [np.asarray(v, dtype=np.float32) for v in got]

    def queries(self, texts: list[str]) -> list[np.ndarray]:
        if self._custom is None or self._async_only:
            return self.documents(texts)
        return [np.asarray(self._custom.embed_query(t), dtype=np.float32) for t in texts]


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
        index: LangGraph's index configuration: ``dims``, ``embed`` (a LangChain
            ``Embeddings``, a function of a list of texts, or ``None`` for the packaged
            model) and ``fields`` (JSON paths; ``["$"]``, the whole value, when absent).
            Without one, ``value["text"]`` is embedded (:data:`TEXT_FIELD`).
        server: A Chroma server to keep the memory on instead of a local database. The
            store gets a database of its own there, named in ``path``'s
            ``chroma-http.json`` (``path`` None: a fresh one, dropped on ``close()``), so
            stores sharing a server never see each other. Nothing is scrubbed or
            vacuumed there: a hard delete is Chroma's own delete.

    As in ``InMemoryStore``: reads in one ``batch`` see the state before the batch,
    its writes are applied after its reads (the last write to a key wins), and each
    indexed field has its own vector, an item scoring its best one. Hard delete
    (``PutOp`` with ``value=None``) removes the item from Chroma and its text from the
    embedding cache; ``value["forgotten"] = True`` is advisory only: the item stays
    stored and searchable. Only one open store may use a given path at a time.
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
        index: Mapping[str, Any] | None = None,
        server: ChromaServer | None = None,
    ):
        if isolation not in ("per_user", "shared"):
            raise ValueError(f"isolation must be 'per_user' or 'shared', got {isolation!r}")
        self.isolation: Isolation = isolation
        self.shared_prefixes = tuple(shared_prefixes)
        config: dict[str, Any] = dict(index) if index is not None else {"fields": TEXT_FIELD}
        fields = list(config.get("fields") or ["$"])
        self.dims = int(config.get("dims") or DIM)
        self.index_config: dict[str, Any] = {**config, "dims": self.dims, "fields": fields}
        self._paths: Paths = tokenized(fields)
        self._vectors = _Vectors(embedder, config.get("embed"))
        self._placeholder = placeholder(self.dims)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self.server = server
        self._vacuum_on_close = False
        # Texts of hard-deleted items, kept only until close, to scrub stale copies
        # out of the index files once Chroma has written them for the last time.
        self._erased: set[str] = set()
        # Only a local database in a kept folder has files to scrub and vacuum.
        self._scrub = server is None and path is not None
        self._conn: ServerConnection | None = None
        self._finalizer: weakref.finalize[..., Any]
        if server is None:
            tmpdir = None if path is not None else tempfile.mkdtemp(prefix="sandbox-memory-")
            self.path: Path | None = Path(path if path is not None else tmpdir)  # type: ignore[arg-type]
            self.path.mkdir(parents=True, exist_ok=True)
            self._key = self._claim(str(self.path.resolve()))
            try:
                self._client = chromadb.PersistentClient(
                    path=str(self.path), settings=Settings(anonymized_telemetry=False)
                )
            except BaseException:
                self._open.pop(self._key, None)
                raise
            self._finalizer = weakref.finalize(self, release, self._client, tmpdir)
        else:
            self.path = Path(path) if path is not None else None
            key = self._claim(str(self.path.resolve())) if self.path is not None else None
            try:
                self._conn = connect(server, self.path)
            except BaseException:
                if key is not None:
                    self._open.pop(key, None)
                raise
            self._key = key or self._claim(self._conn.key)
            self._client = self._conn.client
            self._finalizer = weakref.finalize(self, self._conn.release)
        self._closed = False
        self._scopes: dict[tuple[tuple[str, ...], bool], Scope] = {}
        self._dirty: dict[tuple[tuple[str, ...], bool], Scope] = {}
        self._ns_counts: Counter[tuple[str, ...]] = Counter()
        # Namespaces in the order they first held an item: listings are grouped by it.
        self._ns_rank: dict[tuple[str, ...], int] = {}
        self._seq = 0
        self._stats: Counter[str] = Counter()
        try:
            with self._errors():
                self._load()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------

    def _claim(self, key: str) -> str:
        """Reserve `key` (a folder or server database) for this store; refuse a second."""
        if key in self._open:  # two catalogs over one database would drift apart
            raise RuntimeError(f"a memory store is already open on {key}")
        self._open[key] = self
        return key

    def _errors(self) -> contextlib.AbstractContextManager[None]:
        """A lost server connection surfaces as `MemoryBackendError`, naming the server."""
        return server_errors(self.server) if self.server else contextlib.nullcontext()

    @property
    def location(self) -> str:
        """Where the memory lives: its folder, or the server URL and database."""
        if self._conn is not None:
            return self._conn.key
        return str(self.path)

    def _load(self) -> None:
        """Rebuild the catalog from the collections on disk."""
        first: dict[tuple[str, ...], int] = {}
        for col in self._client.list_collections():
            meta = col.metadata or {}
            if "sandbox_label" not in meta:
                continue
            label = tuple(json.loads(meta["sandbox_label"]))
            pooled = bool(meta["sandbox_pooled"])
            if pooled != (self._route(label)[1]):
                raise ValueError(
                    f"{self.location} holds {'pooled' if pooled else 'per-namespace'} memory for "
                    f"{label}, which isolation={self.isolation!r} cannot open"
                )
            handle = self._client.get_collection(col.name, embedding_function=packaged_ef())
            scope = Scope(label, pooled, handle)
            got = handle.get(include=["metadatas"])
            records: dict[str, list[str]] = {}
            for rid, md in zip(got["ids"], got["metadatas"] or [], strict=True):
                iid = item_of(md)
                records.setdefault(iid, []).append(rid)
                if iid in scope.entries:
                    continue
                ns = tuple(str(md["ns"]).split("."))
                seq = int(str(md["seq"]))
                scope.entries[iid] = Entry(ns, str(md["key"]), seq, str(md["created_at"]),
                                           (), bool(md["indexed"]))  # fmt: skip
                self._ns_counts[ns] += 1
                first[ns] = min(first.get(ns, seq), seq)
                self._seq = max(self._seq, seq + 1)
            for iid, rids in records.items():
                scope.entries[iid].records = tuple(rids)
            self._scopes[(label, pooled)] = scope
        for ns in sorted(first, key=first.__getitem__):
            self._ns_rank[ns] = len(self._ns_rank)

    def close(self) -> None:
        """Release the database (and remove it if it was temporary); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer()
            try:
                if self._vacuum_on_close and self.path is not None:
                    vacuum(self.path)
                if self._erased and self.path is not None:
                    self._stats["scrubbed"] += scrub_index_files(self.path, self._erased)
                    self._erased.clear()
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
        """Run the reads on the state before the batch, then apply its writes.

        Results line up with the ops (``None`` for writes). Of several writes to one key
        the last wins.
        """
        ops = list(ops)
        with self._lock, self._errors():
            if self._closed:
                raise RuntimeError("memory store is closed")
            for op in ops:
                validate_op_namespace(op)
                if isinstance(op, PutOp) and not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                if not isinstance(op, PutOp | GetOp | SearchOp | ListNamespacesOp):
                    raise TypeError(f"unknown store operation: {type(op).__name__}")
            puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
            for op in ops:
                if isinstance(op, PutOp):
                    puts[(tuple(op.namespace), str(op.key))] = op
            texts = {k: self._texts(op) for k, op in puts.items()}
            queries = list(
                dict.fromkeys(op.query for op in ops if isinstance(op, SearchOp) and op.query)
            )
            docs = list(dict.fromkeys(t for found in texts.values() for _, t in found))
            qvecs = dict(zip(queries, self._vectors.queries(queries), strict=True))
            dvecs = dict(zip(docs, self._vectors.documents(docs), strict=True))
            results: list[Result] = []
            for op in ops:
                if isinstance(op, GetOp):
                    results.append(self._get(op))
                elif isinstance(op, SearchOp):
                    results.append(self._search(op, qvecs))
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op))
                else:
                    results.append(None)
            try:
                for key, op in puts.items():
                    self._put(op, texts[key], dvecs)
            finally:
                self._flush()
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` in a worker thread, so the event loop keeps running meanwhile."""
        ops = list(ops)
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, ops)

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

    def _texts(self, op: PutOp) -> list[tuple[str, str]]:
        """(path label, text) pairs embedded for a put: config fields or per-call index."""
        if op.value is None or op.index is False:
            return []
        paths = self._paths if op.index is None else tokenized(op.index)
        return index_texts(op.value, paths)

    def _put(
        self,
        op: PutOp,
        texts: list[tuple[str, str]],
        vectors: dict[str, np.ndarray],
    ) -> None:
        ns, key = tuple(op.namespace), str(op.key)
        scope = self._scope(ns, create=op.value is not None)
        iid = item_id(ns, key)
        old = scope.entries.get(iid) if scope else None
        if op.value is None:
            if scope is None or old is None:
                return
            scope.drop(iid)
            self._ns_counts[ns] -= 1
            if self._ns_counts[ns] <= 0:
                del self._ns_counts[ns]
            for rid in old.records:
                scope.pending[rid] = None
            self._dirty[(scope.label, scope.pooled)] = scope
            self._stats["deletes"] += 1
            return
        assert scope is not None
        value = dict(op.value)
        blob = encode_value(value)
        now = self._clock().isoformat()
        if old is None:
            seq, created = self._seq, now
            self._seq += 1
            self._ns_counts[ns] += 1
            self._ns_rank.setdefault(ns, len(self._ns_rank))
        else:
            seq, created = old.seq, old.created_at
        records = [(record_id(iid, p), vectors[t], t, p) for p, t in texts] or [
            (record_id(iid, ""), self._placeholder, "", "")
        ]
        scope.add(iid, Entry(ns, key, seq, created, tuple(r[0] for r in records), bool(texts)))
        for rid in old.records if old else ():
            scope.pending[rid] = None
        for rid, vec, text, path in records:
            metadata = item_metadata(ns, key, value, blob, created, now, seq, path)
            scope.pending[rid] = (vec, text, metadata)
        self._dirty[(scope.label, scope.pooled)] = scope

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for scope in dirty.values():
            pending, scope.pending = scope.pending, {}
            gone = [i for i, rec in pending.items() if rec is None]
            live = [(i, rec) for i, rec in pending.items() if rec is not None]
            if gone:
                got = scope.collection.get(ids=gone, include=["documents"])
                kept = {rec[1] for _, rec in live}
                embedder = self._vectors.packaged
                if embedder is not None:
                    embedder.forget([d for d in got["documents"] or [] if d and d not in kept])
                scope.collection.delete(ids=gone)
                if self._scrub and self.path is not None:
                    self._stats["scrubbed"] += scrub_log(self.path, gone, self._placeholder)
                    self._vacuum_on_close = True
                    self._erased.update(d for d in got["documents"] or [] if d and d not in kept)
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
        entry = scope.entries.get(iid) if scope is not None else None
        if scope is None or entry is None:
            return None
        meta = self._fetch(scope, [entry.records[0]])[entry.records[0]]
        return Item(**item_fields(meta))

    def _order(self, entry: Entry) -> tuple[int, int]:
        """Listing order: grouped by namespace (first filled first), then insertion."""
        return self._ns_rank.get(entry.namespace, len(self._ns_rank)), entry.seq

    def _search(self, op: SearchOp, queries: dict[str, np.ndarray]) -> list[SearchItem]:
        """Best-scored items first (with a query), then unscored ones in listing order.

        As in ``InMemoryStore``: ``offset`` skips ranked items only; when fewer ranked
        items than ``limit`` remain, unscored (unindexed) items fill the page.
        """
        self._stats["searches"] += 1
        scopes = self._scopes_under(tuple(op.namespace_prefix))
        offset, limit = max(op.offset, 0), max(op.limit, 0)
        where = op.filter

        def keep(meta: Mapping[str, Any]) -> bool:
            return not where or matches_filter(
                decode_value(str(meta["value"]), meta.get("vfmt")), where
            )

        if not op.query:
            rows = self._listing(scopes)
            if not where:
                return self._items(rows[offset : offset + limit])
            found = [it for it in self._items(rows) if
                     matches_filter(it.value, where)]  # fmt: skip
            return found[offset : offset + limit]
        ranked, n = rank_similar(scopes, queries[op.query], offset + limit, keep if where else None)
        self._stats["queries"] += n
        order = {item_of(m): self._order_of(m) for _, m in ranked}
        # Scores of equal vectors can differ in the last bits (index vs. brute-force paths).
        ranked.sort(key=lambda r: (-round(r[0], 6), order[item_of(r[1])]))
        out = [SearchItem(**item_fields(m), score=sc) for sc, m in ranked[offset : offset + limit]]
        if len(out) < limit:
            plain = [(s, e) for s, e in self._listing(scopes) if not e.indexed]
            items = self._items(plain)
            if where:
                items = [it for it in items if matches_filter(it.value, where)]
            out.extend(items[: limit - len(out)])
        return out

    def _listing(self, scopes: list[Scope]) -> list[tuple[Scope, Entry]]:
        """Every item of `scopes` in listing order.

        A sort of them all, so made only on demand: a ranked search that fills its page
        never needs it.
        """
        rows = sorted(
            ((self._order(e), s, e) for s in scopes for e in s.entries.values()),
            key=lambda r: r[0],
        )
        return [(s, e) for _, s, e in rows]

    def _order_of(self, meta: Mapping[str, Any]) -> tuple[int, int]:
        ns = tuple(str(meta["ns"]).split("."))
        return self._ns_rank.get(ns, len(self._ns_rank)), int(str(meta["seq"]))

    def _items(self, rows: list[tuple[Scope, Entry]]) -> list[SearchItem]:
        """Fetch items in the given order, one Chroma read per collection."""
        metas: dict[str, dict[str, Any]] = {}
        for scope in {id(s): s for s, _ in rows}.values():
            metas.update(self._fetch(scope, [e.records[0] for s, e in rows if s is scope]))
        return [SearchItem(**item_fields(metas[e.records[0]])) for _, e in rows]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        return list_namespaces(self._ns_counts, op)
