"""ChromaDB's view of the packaged embedding model (see :mod:`sandbox.embeddings`)."""

from __future__ import annotations

from typing import Any

from chromadb import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from sandbox.embeddings import DIM, Embedder, get_embedder, loaded_embedder

__all__ = ["DIM", "Embedder", "PackagedMiniLM", "get_embedder", "loaded_embedder"]


@register_embedding_function
class PackagedMiniLM(EmbeddingFunction[Documents]):
    """ChromaDB embedding function backed by the packaged model.

    Never Chroma's default one, which would try to download an ONNX model.
    """

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for ChromaDB."""
        return [v for v in get_embedder().encode(list(input))]

    @staticmethod
    def name() -> str:
        """Registered name, stored in persisted collections."""
        return "packaged-minilm"

    def get_config(self) -> dict[str, Any]:
        """No configuration: the model is fixed by the installed package."""
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PackagedMiniLM:
        """Rebuild when a persisted collection is reopened."""
        return PackagedMiniLM()
