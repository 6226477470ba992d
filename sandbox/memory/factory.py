"""The memory store an agent config asks for: local ChromaDB, or a ChromaDB server."""

from __future__ import annotations

from pathlib import Path

from sandbox.memory._server import ChromaServer
from sandbox.memory.store import ChromaMemoryStore
from sandbox.spec.agent import MemoryPolicy

__all__ = ["open_memory"]


def open_memory(policy: MemoryPolicy, folder: Path) -> ChromaMemoryStore:
    """The store of one run, with `folder` (the run's ``memory/``) as its home.

    ``chroma`` keeps the database in `folder`; ``chroma-http`` keeps it on the server,
    in a database of its own that `folder`'s ``chroma-http.json`` names.

    Raises:
        MemoryBackendError: the server cannot be reached.
    """
    server = None
    if policy.backend == "chroma-http":
        assert policy.host is not None  # the spec refuses chroma-http without a host
        server = ChromaServer(policy.host, policy.port)
    return ChromaMemoryStore(folder, isolation=policy.isolation, server=server)
