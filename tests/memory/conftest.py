"""Shared fixtures: one embedder per session, stores in tmp_path, the conformance backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from sandbox.memory import ChromaMemoryStore, Embedder, InstrumentedStore, get_embedder
from sandbox.record.events import Event

BACKENDS = ["inmemory", "chroma-per_user", "chroma-shared", "instrumented-chroma"]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder()


def reference_store(embedder: Embedder) -> InMemoryStore:
    """LangGraph's own store, indexing value["text"] with the same model."""

    def embed(texts: list[str]) -> list[list[float]]:
        return embedder.encode(list(texts)).tolist()

    return InMemoryStore(index={"dims": 384, "embed": embed, "fields": ["text"]})


@pytest.fixture
def reference(embedder: Embedder) -> InMemoryStore:
    return reference_store(embedder)


@pytest.fixture
def make_store(tmp_path: Path, embedder: Embedder) -> Iterator[Callable[..., ChromaMemoryStore]]:
    made: list[ChromaMemoryStore] = []

    def make(isolation: str = "per_user", path: Path | None = None, **kw: Any) -> ChromaMemoryStore:
        folder = path if path is not None else tmp_path / f"store{len(made)}"
        store = ChromaMemoryStore(folder, isolation=isolation, embedder=embedder, **kw)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest,
    make_store: Callable[..., ChromaMemoryStore],
    embedder: Embedder,
) -> BaseStore:
    kind = request.param
    if kind == "inmemory":
        return reference_store(embedder)
    if kind == "chroma-per_user":
        return make_store("per_user")
    if kind == "chroma-shared":
        return make_store("shared")
    events: list[Event] = []
    wrapped = InstrumentedStore(make_store("per_user"), events.append)
    wrapped.events = events  # type: ignore[attr-defined]
    return wrapped
