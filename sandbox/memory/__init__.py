"""Long-term memory for agents: a ChromaDB-backed LangGraph store and its event wrapper.

Isolation (per-user collections or a shared pool) and forgetting (hard delete or an
advisory ``forgotten`` flag) are properties of the store, so leaks and retention come
from real retrieval mechanics.
"""

from sandbox.memory._server import ChromaServer, MemoryBackendError
from sandbox.memory.embeddings import DIM, Embedder, PackagedMiniLM, get_embedder
from sandbox.memory.factory import open_memory
from sandbox.memory.instrumented import EventContext, InstrumentedStore, hit_of, item_text
from sandbox.memory.store import ChromaMemoryStore, Isolation, item_id, owner_of

__all__ = [
    "DIM",
    "ChromaMemoryStore",
    "ChromaServer",
    "Embedder",
    "EventContext",
    "InstrumentedStore",
    "Isolation",
    "MemoryBackendError",
    "PackagedMiniLM",
    "get_embedder",
    "hit_of",
    "item_id",
    "item_text",
    "open_memory",
    "owner_of",
]
