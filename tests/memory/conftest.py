"""Shared fixtures: one embedder per session, stores in tmp_path, the conformance backends.

``chroma_server`` is a real ChromaDB server (``chroma run`` on 127.0.0.1, a free port, a
temporary folder, telemetry off), started once per session when a test asks for it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from sandbox.memory import (
    ChromaMemoryStore,
    ChromaServer,
    Embedder,
    InstrumentedStore,
    get_embedder,
)
from sandbox.record.events import Event

BACKENDS = [
    "inmemory",
    "chroma-per_user",
    "chroma-shared",
    "instrumented-chroma",
    "chroma-http-per_user",
    "chroma-http-shared",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """``chroma run`` on 127.0.0.1 and a free port, data in a temporary folder."""
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    exe = Path(sys.executable).parent / "chroma"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "db")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chroma run not listening on {port}") from None
                time.sleep(0.1)
        yield ChromaServer("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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
    if kind.startswith("chroma-http-"):
        server = request.getfixturevalue("chroma_server")
        return make_store(kind.removeprefix("chroma-http-"), server=server)
    if kind == "chroma-per_user":
        return make_store("per_user")
    if kind == "chroma-shared":
        return make_store("shared")
    events: list[Event] = []
    wrapped = InstrumentedStore(make_store("per_user"), events.append)
    wrapped.events = events  # type: ignore[attr-defined]
    return wrapped
